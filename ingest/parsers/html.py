"""HTML: BeautifulSoup with lxml; page chrome dropped, h1-h6 build the section path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from ingest.elements import ParsedDocument
from ingest.parsers._common import (
    MAX_FILE_BYTES,
    ElementBuilder,
    clean_line,
    library_errors,
    read_bytes,
)

#: page chrome and non-content: dropped with everything inside (a <header> inside an <article>,
#: <main> or <section> stays: it is that part's own header).
DROPPED_TAGS = frozenset(
    {
        "nav",
        "footer",
        "header",
        "aside",
        "script",
        "style",
        "noscript",
        "form",
        "template",
        "svg",
        "iframe",
        "button",
        "select",
        "head",
    }
)
_SECTIONING = ["article", "main", "section"]
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
#: tags that start a new element; anything else is inline and joins the text around it.
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "body",
        "caption",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "hr",
        "html",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "ul",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    }
)
_BLOCK_NAMES = sorted(_BLOCKS)
_WHITESPACE = re.compile(r"\s+")
#: a class, id or aria-label word (matched whole) that marks page chrome outside dropped tags.
_BOILERPLATE = re.compile(
    r"breadcrumbs?([-_].*)?|crumbs|cookies?[-_]?(banner|consent|notice|bar)|skip[-_]?(link|nav"
    r"|to[-_]?content)s?|navbar([-_].*)?|site[-_]?(header|footer|nav|menu)|social[-_]?(share|"
    r"links|media|icons)|share[-_]?(buttons|links|bar)|newsletter([-_].*)?|pagination|back[-_]?"
    r"to[-_]?top|ad[-_]?banner|advert([-_].*)?",
    re.IGNORECASE,
)
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
#: a short line of two or more parts joined by a breadcrumb separator: "Home › IT › Security".
_BREADCRUMB = re.compile(r"^[^.!?›»]{1,60}(\s[›»]\s[^.!?›»]{1,60}){1,8}$")
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)


def _holding_blocks(root: Tag) -> set[int]:
    """Ids of the tags under ``root`` that have a block tag below them, in one linear pass.

    Asking ``tag.find(blocks)`` of every tag costs the size of its subtree each time: quadratic
    on deeply nested markup.
    """
    holding: set[int] = set()
    for tag in root.find_all(_BLOCK_NAMES):
        parent = tag.parent
        while parent is not None and id(parent) not in holding:
            holding.add(id(parent))
            if parent is root:
                break
            parent = parent.parent
    return holding


class _Walker:
    """Walks the tree in document order, turning block tags into elements.

    Iterative, with an explicit stack: nesting depth costs memory, never the recursion limit.
    """

    def __init__(self, builder: ElementBuilder) -> None:
        self.builder = builder

    def walk(self, root: Tag, kind: str = "text") -> None:
        holding = _holding_blocks(root)
        # one frame per open block: its remaining children, its kind, its pending inline text
        stack: list[tuple[Iterator[Any], str, list[str]]] = [(iter(root.children), kind, [])]
        while stack:
            children, kind, inline = stack[-1]
            child = next(children, None)
            if child is None:
                self.builder.add("".join(inline), kind)
                stack.pop()
                continue
            if isinstance(child, NavigableString):
                if not isinstance(child, _SKIPPED_STRINGS):
                    inline.append(_WHITESPACE.sub(" ", str(child)))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name == "br":
                inline.append("\n")
                continue
            special = name in _HEADINGS or name in ("table", "pre")
            if not special and name not in _BLOCKS and id(child) not in holding:
                inline.append(_text(child))  # inline: joins the text around it
                continue
            self.builder.add("".join(inline), kind)
            inline.clear()
            if name in _HEADINGS:
                self.builder.heading(_text(child), _HEADINGS[name])
            elif name == "table":
                self.table(child)
            elif name == "pre":
                self.builder.add(child.get_text(), "code")
            else:
                stack.append((iter(child.children), "list" if name == "li" else kind, []))

    def table(self, table: Tag) -> None:
        rows: list[list[str]] = []
        for row in _own_rows(table):
            cells = row.find_all(["td", "th"], recursive=False)
            rows.append([_text(cell) for cell in cells])
        self.builder.table(rows)


def _own_rows(table: Tag) -> Iterator[Tag]:
    """The rows of ``table`` in order, not those of tables nested in its cells (their text is
    in the enclosing cell)."""
    stack: list[Iterator[Any]] = [iter(table.children)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
        elif isinstance(node, Tag) and node.name != "table":
            if node.name == "tr":
                yield node
            stack.append(iter(node.children))


def _text(tag: Tag) -> str:
    """The text of a tag as a browser lays it out: whitespace collapsed, ``<br>`` a line break."""
    parts: list[str] = []
    for node in tag.descendants:
        if isinstance(node, Tag):
            if node.name == "br":
                parts.append("\n")
        elif isinstance(node, NavigableString) and not isinstance(node, _SKIPPED_STRINGS):
            parts.append(_WHITESPACE.sub(" ", str(node)))
    return "".join(parts)


def _is_boilerplate(tag: Tag, holding: set[int]) -> bool:
    """Page chrome marked by its role, class, id or aria-label, or a bare breadcrumb trail."""
    if tag.name in ("html", "body", "main", "article"):
        return False
    if str(tag.get("role") or "").lower() in _CHROME_ROLES:
        return True
    classes: Any = tag.get("class") or []
    words = [str(c) for c in (classes if isinstance(classes, list) else [classes])]
    for attribute in ("id", "aria-label"):
        words += str(tag.get(attribute) or "").split()
    if any(_BOILERPLATE.fullmatch(word) for word in words):
        return True
    if tag.name in _BLOCKS and id(tag) not in holding:
        return bool(_BREADCRUMB.match(clean_line(tag.get_text(" "))))
    return False


def _drop_boilerplate(root: Tag) -> None:
    """Remove breadcrumbs, cookie banners, share bars and other chrome outside the dropped tags."""
    holding = _holding_blocks(root)  # tags are checked before anything below them is removed
    gone: set[int] = set()
    for tag in root.find_all(True):
        if id(tag) not in gone and _is_boilerplate(tag, holding):
            _decompose(tag, gone)


def _decompose(tag: Tag, gone: set[int]) -> None:
    """Remove ``tag``, noting the ids of everything in it in ``gone``.

    (``Tag.decomposed`` of a live tag searches its subtree for a child tag of that name.)
    """
    gone.update(id(node) for node in tag.descendants)
    tag.decompose()


def _in_sectioning(tag: Tag, memo: dict[int, bool]) -> bool:
    """Whether an <article>, <main> or <section> encloses ``tag`` (ancestors are memoised)."""
    path: list[Tag] = []
    parent = tag.parent
    found = False
    while parent is not None:
        if id(parent) in memo:
            found = memo[id(parent)]
            break
        if parent.name in _SECTIONING:
            found = True
            break
        path.append(parent)
        parent = parent.parent
    for seen in path:
        memo[id(seen)] = found
    return found


def html_to_builder(markup: str | bytes, builder: ElementBuilder) -> str | None:
    """Add the elements of an HTML document to ``builder``; return its <title> text."""
    with library_errors("HTML"):
        soup = BeautifulSoup(markup, "lxml")
    title_tag = soup.find("title")
    title = clean_line(title_tag.get_text()) if title_tag else ""
    root = soup.body or soup
    _drop_boilerplate(root)
    sectioned: dict[int, bool] = {}
    gone: set[int] = set()
    for dropped in root.find_all(list(DROPPED_TAGS)):
        if id(dropped) in gone:
            continue
        if dropped.name == "header" and _in_sectioning(dropped, sectioned):
            continue  # an article's own header holds its title, not page chrome
        _decompose(dropped, gone)
    _Walker(builder).walk(root)
    return title or None


def parse_html(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Parse an HTML file into headings, paragraphs, list items, code and tables."""
    builder = ElementBuilder()
    title = html_to_builder(read_bytes(path, max_bytes), builder)
    return ParsedDocument(elements=builder.elements, title=title or builder.first_heading)
