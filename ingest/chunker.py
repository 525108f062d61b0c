"""Structure-aware chunking: split on the document's sections, then pack to a token budget.

Budgets are measured with the embedder's own tokenizer, on the text that is embedded (title and
section path included), so no chunk is ever truncated silently by the embedder: every piece is
counted once, pieces are packed by adding their counts, and each finished chunk is counted
again whole and split further in the rare case the sum was optimistic. A table is split only
between rows, with its header repeated in every piece; a spreadsheet's sheet name joins the
section path. Chunks smaller than ``min_tokens`` are merged with a neighbour, across a section
boundary if need be (the headings that differ then open their part of the text), though not
across a page or slide boundary, and never a table into another section.

Example::

    drafts = chunk_elements(elements, title="Handbook", count_tokens=embedder.count_tokens,
                            max_tokens=200, min_tokens=40)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ingest.elements import Element
from rag.types import page_at

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")

CountTokens = Callable[[str], int]

#: bumped whenever chunking changes, so that documents chunked by an older version are redone.
CHUNKER_VERSION = 2
#: smallest room (tokens) left for text after the title and section path.
_MIN_BUDGET = 16


@dataclass
class ChunkDraft:
    """A chunk before it gets ids: text, section path, pages and element kinds."""

    text: str
    section: str
    page: int | None = None
    page_end: int | None = None
    kinds: list[str] = field(default_factory=list)
    #: tokens of the embedded text (title and section path included, special tokens too).
    tokens: int = 0
    #: the section path as a tuple (``section`` is its label).
    path: tuple[str, ...] = ()
    #: (character offset in ``text``, page) where a later page begins inside this chunk.
    page_breaks: list[tuple[int, int]] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        """The page holding the character at ``offset`` of ``text``."""
        return page_at(self.page, self.page_breaks, offset)

    def part(self, start: int, end: int) -> ChunkDraft:
        """The draft for ``text[start:end]``, with its own pages and page breaks."""
        text = self.text[start:end]
        breaks = [(o - start, p) for o, p in self.page_breaks if start < o < end]
        first = self.page_at(start)
        last = breaks[-1][1] if breaks else first
        piece = ChunkDraft(text, self.section, first, last, list(self.kinds))
        piece.path = self.path
        piece.page_breaks = breaks
        return piece


def section_label(section: tuple[str, ...]) -> str:
    """Section path as 'Part > Chapter > Heading'."""
    return " > ".join(s for s in section if s)


def _head(title: str, section: str) -> str:
    return " > ".join(p for p in (title, section) if p)


def embedded_text(title: str, section: str, text: str) -> str:
    """The text the embedder reads for a chunk (the same as ``Chunk.embed_text``)."""
    head = _head(title, section)
    return f"{head}\n{text}" if head else text


def split_sentences(text: str) -> list[str]:
    """Sentences (or lines), keeping their text intact."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


class _Counter:
    """Token counts without the special tokens, so that counts of pieces add up."""

    def __init__(self, count: CountTokens) -> None:
        self.count = count
        self.specials = count("")

    def body(self, text: str) -> int:
        return max(self.count(text) - self.specials, 0)


@dataclass
class _Open:
    """A draft being packed: the draft, its body tokens (sum of parts) and its last table header."""

    draft: ChunkDraft
    used: int
    header: str | None = None


@dataclass
class _Piece:
    text: str
    tokens: int
    header: str | None = None  # a table piece starts with this header line


def _split_long_word(word: str, budget: int, counter: _Counter) -> list[tuple[str, int]]:
    """A 'word' longer than the budget (a URL, base64...) cut into slices that fit."""
    out: list[tuple[str, int]] = []
    step = max(1, len(word) * budget // (counter.body(word) + 1))
    start = 0
    while start < len(word):
        size = step
        while True:
            part = word[start : start + size]
            n = counter.body(part)
            if n <= budget or size == 1:
                break
            size = max(1, size // 2)
        out.append((part, n))
        start += size
    return out


def _split_words(text: str, budget: int, counter: _Counter) -> list[tuple[str, int]]:
    """Pack words into pieces of at most ``budget`` tokens (each word counted once)."""
    pieces: list[tuple[str, int]] = []
    words: list[str] = []
    used = 0
    for word in text.split():
        n = counter.body(word)
        parts = _split_long_word(word, budget, counter) if n > budget else [(word, n)]
        for part, m in parts:
            if words and used + m > budget:
                pieces.append((" ".join(words), used))
                words, used = [], 0
            words.append(part)
            used += m
    if words:
        pieces.append((" ".join(words), used))
    return pieces


def _split_table(el: Element, budget: int, counter: _Counter) -> list[_Piece]:
    header = el.header or None
    rows = [r for r in el.text.split("\n") if r.strip()]
    if header and rows and rows[0] == header:
        rows = rows[1:]
    head_n = counter.body(header) if header else 0
    pieces: list[_Piece] = []
    current: list[str] = []
    used = head_n

    def flush() -> None:
        nonlocal current, used
        if current:
            text = "\n".join([header, *current] if header else current)
            pieces.append(_Piece(text, used, header))
        current, used = [], head_n

    for row in rows:
        n = counter.body(row)
        if head_n + n > budget:  # one row alone is too long: cut it by words, header on each
            flush()
            for part, m in _split_words(row, max(budget - head_n, _MIN_BUDGET), counter):
                text = f"{header}\n{part}" if header else part
                pieces.append(_Piece(text, head_n + m, header))
            continue
        if current and used + n > budget:
            flush()
        current.append(row)
        used += n
    flush()
    return pieces


def _split_element(el: Element, budget: int, counter: _Counter) -> list[_Piece]:
    """Pieces of one element, each within ``budget`` tokens (by the sum of its parts)."""
    header = el.header if el.kind == "table" else None
    n = counter.body(el.text)
    if n <= budget:
        return [_Piece(el.text, n, header)]
    if el.kind == "table":
        return _split_table(el, budget, counter)
    pieces: list[_Piece] = []
    sentences: list[str] = []
    used = 0
    for sentence in split_sentences(el.text):
        m = counter.body(sentence)
        if m > budget:
            if sentences:
                pieces.append(_Piece(" ".join(sentences), used))
                sentences, used = [], 0
            pieces.extend(_Piece(t, k) for t, k in _split_words(sentence, budget, counter))
            continue
        if sentences and used + m > budget:
            pieces.append(_Piece(" ".join(sentences), used))
            sentences, used = [], 0
        sentences.append(sentence)
        used += m
    if sentences:
        pieces.append(_Piece(" ".join(sentences), used))
    return pieces


def _element_path(el: Element, title: str) -> tuple[str, ...]:
    """The section path of an element; a sheet name (unless it repeats the title) goes last."""
    if el.sheet and el.sheet != title:
        return (*el.section, el.sheet)
    return el.section


def _groups(elements: Iterable[Element], title: str) -> Iterator[list[Element]]:
    """Consecutive elements of the same section (headings open a new group, but are not text)."""
    group: list[Element] = []
    for el in elements:
        if group and _element_path(el, title) != _element_path(group[-1], title):
            yield group
            group = []
        if el.kind in ("title", "heading"):
            continue
        group.append(el)
    if group:
        yield group


class _Packer:
    """Packs the pieces of a document into drafts, section by section."""

    def __init__(self, title: str, counter: _Counter, max_tokens: int, min_tokens: int) -> None:
        self.title = title
        self.counter = counter
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self.drafts: list[_Open] = []
        self._budgets: dict[tuple[str, ...], int] = {}
        self._labels: dict[tuple[str, ...], str] = {}

    def label(self, path: tuple[str, ...]) -> str:
        """The section label, shortened (outer headings first) if it would crowd out the text."""
        if path not in self._labels:
            self._labels[path] = self._fit_label(path)
        return self._labels[path]

    def _fit_label(self, path: tuple[str, ...]) -> str:
        limit = self.max_tokens // 3
        parts = list(path)
        while (
            len(parts) > 1
            and self.counter.body(_head(self.title, section_label(tuple(parts)))) > limit
        ):
            parts.pop(0)
        label = section_label(tuple(parts))
        if parts and self.counter.body(_head(self.title, label)) > limit:
            words = label.split()
            while len(words) > 1 and self.counter.body(_head(self.title, " ".join(words))) > limit:
                words = words[: max(1, len(words) * 3 // 4)]
            label = " ".join(words) + " …"
        return label

    def budget(self, path: tuple[str, ...]) -> int:
        """Tokens left for the text of a chunk in this section."""
        if path not in self._budgets:
            head = _head(self.title, self.label(path))
            room = (
                self.max_tokens
                - self.counter.specials
                - (self.counter.body(head) + 1 if head else 0)
            )
            self._budgets[path] = max(room, _MIN_BUDGET)
        return self._budgets[path]

    def add_group(self, group: list[Element]) -> None:
        path = _element_path(group[0], self.title)
        budget = self.budget(path)
        current: _Open | None = None
        for el in group:
            for piece in _split_element(el, budget, self.counter):
                if current is not None and self._fits(current, piece, el, budget):
                    self._append(current, piece, el)
                    continue
                draft = ChunkDraft(piece.text, self.label(path), el.page, el.page, [el.kind])
                draft.path = path
                current = _Open(draft, piece.tokens, piece.header)
                self.drafts.append(current)

    def _fits(self, current: _Open, piece: _Piece, el: Element, budget: int) -> bool:
        extra = piece.tokens + 1
        if piece.header is not None and current.header == piece.header:
            extra -= self.counter.body(piece.header)
        if current.used + extra > budget:
            return False
        return el.page in (current.draft.page_end, None) or current.used < self.min_tokens

    def _append(self, current: _Open, piece: _Piece, el: Element) -> None:
        draft = current.draft
        text = piece.text
        tokens = piece.tokens + 1
        if piece.header is not None and current.header == piece.header:
            text = text.split("\n", 1)[1] if "\n" in text else ""
            tokens -= self.counter.body(piece.header)
        if text:
            if el.page is not None and draft.page_end is not None and el.page != draft.page_end:
                draft.page_breaks.append((len(draft.text) + 1, el.page))
            draft.text += "\n" + text
            current.used += tokens
        current.header = piece.header
        if el.page is not None:
            draft.page_end = el.page
            if draft.page is None:
                draft.page = el.page
        if el.kind not in draft.kinds:
            draft.kinds.append(el.kind)

    def merge_small(self) -> None:
        """Merge drafts under ``min_tokens`` into a neighbour, across sections if need be."""
        out: list[_Open] = []
        for current in self.drafts:
            if out and min(out[-1].used, current.used) < self.min_tokens:
                merged = self._merged(out[-1], current)
                if merged is not None:
                    out[-1] = merged
                    continue
            out.append(current)
        self.drafts = out

    def _merged(self, first: _Open, second: _Open) -> _Open | None:
        a, b = first.draft, second.draft
        if a.path != b.path:  # across sections: only on one page, and never a table's tail
            if a.page_end != b.page or a.kinds == ["table"] or b.kinds == ["table"]:
                return None
        elif a.page_end is not None and b.page is not None and not 0 <= b.page - a.page_end <= 1:
            return None
        common: list[str] = []
        for x, y in zip(a.path, b.path, strict=False):
            if x != y:
                break
            common.append(x)
        path = tuple(common)
        parts: list[str] = []
        breaks: list[tuple[int, int]] = []
        used = first.used + second.used + 1
        offset = 0
        for draft in (a, b):
            if draft is b and b.page is not None and a.page_end not in (None, b.page):
                breaks.append((offset, b.page))
            extra = draft.path[len(path) :]
            if extra:
                heading = "\n".join(extra)
                parts.append(heading)
                offset += len(heading) + 1
                used += self.counter.body(heading) + 1
            breaks.extend((offset + o, p) for o, p in draft.page_breaks)
            parts.append(draft.text)
            offset += len(draft.text) + 1
        if used > self.budget(path):
            return None
        merged = ChunkDraft(
            "\n".join(parts),
            self.label(path),
            a.page if a.page is not None else b.page,
            b.page_end if b.page_end is not None else a.page_end,
            list(dict.fromkeys([*a.kinds, *b.kinds])),
        )
        merged.path = path
        merged.page_breaks = breaks
        return _Open(merged, used)

    def verified(self) -> list[ChunkDraft]:
        """Count every chunk whole; split any the sum of its parts underestimated."""
        out: list[ChunkDraft] = []
        for current in self.drafts:
            out.extend(self._verify(current.draft))
        return out

    def _verify(self, draft: ChunkDraft) -> list[ChunkDraft]:
        draft.tokens = self.counter.count(embedded_text(self.title, draft.section, draft.text))
        if draft.tokens <= self.max_tokens:
            return [draft]
        text = draft.text
        cut = _half_cut(text)
        out: list[ChunkDraft] = []
        for start, end in ((0, cut), (cut, len(text))):
            # Whitespace at the cut is dropped; offsets keep each half's page breaks.
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if start < end:
                out.extend(self._verify(draft.part(start, end)))
        return out


def _half_cut(text: str) -> int:
    """Where to halve an over-long chunk: the middle line break, else word break, else char."""
    lines = [i for i, ch in enumerate(text) if ch == "\n"]
    if lines:
        return lines[len(lines) // 2]
    spaces = [i for i, ch in enumerate(text) if ch.isspace()]
    if spaces:
        return spaces[len(spaces) // 2]
    return len(text) // 2


def chunk_elements(
    elements: Iterable[Element],
    *,
    title: str,
    count_tokens: CountTokens,
    max_tokens: int,
    min_tokens: int = 0,
) -> list[ChunkDraft]:
    """Chunks of a document: sections first, then packed to ``max_tokens`` embedded tokens."""
    packer = _Packer(title, _Counter(count_tokens), max_tokens, min_tokens)
    for group in _groups(elements, title):
        packer.add_group(group)
    if min_tokens > 0:
        packer.merge_small()
    return first_of_each(packer.verified())


def first_of_each(drafts: Iterable[ChunkDraft]) -> list[ChunkDraft]:
    """The drafts without repeats of an earlier one (same section, same words): a repeated
    chunk adds nothing to search, and hundreds of identical vectors (a file of one repeated
    line) trap the vector index's graph search among themselves, hiding every other document."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for draft in drafts:
        key = (draft.section, " ".join(draft.text.split()))
        if key not in seen:
            seen.add(key)
            kept.append(draft)
    return kept
