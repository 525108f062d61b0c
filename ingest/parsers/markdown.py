"""Markdown: ATX and setext headings, fenced code kept whole, pipe tables, front-matter title."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.elements import ParsedDocument
from ingest.parsers._common import MAX_FILE_BYTES, ElementBuilder, read_text

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_BREAK = re.compile(r"^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|~~|`)")
_FRONT_TITLE = re.compile(r"""^title:[ \t]*(["']?)(.*?)\1[ \t]*$""", re.IGNORECASE)


def _inline(text: str) -> str:
    """Strip inline markup: links and images keep their text, emphasis markers go."""
    return _EMPHASIS.sub("", _LINK.sub(r"\1", _IMAGE.sub(r"\1", text)))


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [_inline(cell.replace("\\|", "|")) for cell in re.split(r"(?<!\\)\|", line)]


def _front_matter(lines: list[str]) -> tuple[str | None, int]:
    """Return the front-matter title (if any) and the index of the first line after it."""
    if not lines or lines[0].strip() != "---":
        return None, 0
    for end in range(1, min(len(lines), 200)):
        if lines[end].strip() in ("---", "..."):
            title = None
            for line in lines[1:end]:
                match = _FRONT_TITLE.match(line.strip())
                if match and match.group(2):
                    title = match.group(2)
                    break
            return title, end + 1
    return None, 0


def markdown_to_builder(text: str, builder: ElementBuilder) -> str | None:
    """Add the elements of Markdown ``text`` to ``builder``; return the front-matter title."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title, i = _front_matter(lines)
    paragraph: list[str] = []
    kind = "text"

    def flush() -> None:
        nonlocal kind
        if paragraph:
            builder.add(_inline(" ".join(line.strip() for line in paragraph)), kind)
            paragraph.clear()
        kind = "text"

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(marker):
                end += 1
            builder.add("\n".join(lines[i + 1 : end]), "code")
            i = end + 1
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            builder.heading(_inline(atx.group(2) or ""), len(atx.group(1)))
        elif not line.strip():
            flush()
        elif paragraph and kind == "text" and _SETEXT.match(line):
            level = 1 if line.strip().startswith("=") else 2
            heading = " ".join(paragraph)
            paragraph.clear()
            builder.heading(_inline(heading), level)
        elif _BREAK.match(line):
            flush()
        elif "|" in line and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            flush()
            rows = [_cells(line)]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                i += 1
            builder.table(rows)
            continue
        elif _LIST_ITEM.match(line):
            flush()
            kind = "list"
            paragraph.append(_LIST_ITEM.sub("", line, count=1))
        else:
            paragraph.append(line)
        i += 1
    flush()
    return title


def parse_markdown(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Parse a Markdown file into headings, paragraphs, list items, code blocks and tables."""
    builder = ElementBuilder()
    title = markdown_to_builder(read_text(path, max_bytes), builder)
    return ParsedDocument(elements=builder.elements, title=title or builder.first_heading)
