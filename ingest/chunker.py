"""Structure-aware chunking: split on the document's sections, then pack to a token budget.

Budgets are measured with the embedder's own tokenizer, on the text that is embedded (title and
section path included), so no chunk is ever truncated silently by the embedder. A table is split
only between rows, with its header repeated in every piece.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ingest.elements import Element

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")

CountTokens = Callable[[str], int]


@dataclass
class ChunkDraft:
    """A chunk before it gets ids: text, section path, pages and element kinds."""

    text: str
    section: str
    page: int | None = None
    page_end: int | None = None
    kinds: list[str] = field(default_factory=list)


def section_label(section: tuple[str, ...]) -> str:
    """Section path as 'Part > Chapter > Heading'."""
    return " > ".join(s for s in section if s)


def _head(title: str, section: str) -> str:
    return " > ".join(p for p in (title, section) if p)


def split_sentences(text: str) -> list[str]:
    """Sentences (or lines), keeping their text intact."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _split_words(text: str, budget: int, count: CountTokens) -> Iterator[str]:
    words = text.split()
    piece: list[str] = []
    for word in words:
        if piece and count(" ".join([*piece, word])) > budget:
            yield " ".join(piece)
            piece = []
        piece.append(word)
    if piece:
        yield " ".join(piece)


def _split_element(el: Element, budget: int, count: CountTokens) -> list[str]:
    """Pieces of one element, each within ``budget`` tokens."""
    if count(el.text) <= budget:
        return [el.text]
    if el.kind == "table":
        header = el.header or ""
        rows = [r for r in el.text.split("\n") if r.strip()]
        if header and rows and rows[0] == header:
            rows = rows[1:]
        pieces: list[str] = []
        current: list[str] = [header] if header else []
        for row in rows:
            candidate = "\n".join([*current, row])
            if count(candidate) > budget and len(current) > (1 if header else 0):
                pieces.append("\n".join(current))
                current = [header] if header else []
                candidate = "\n".join([*current, row])
            if count(candidate) > budget:  # one row alone is too long: cut it by words
                room = budget - (count(header) if header else 0)
                for part in _split_words(row, max(room, 16), count):
                    pieces.append("\n".join([header, part]) if header else part)
                current = [header] if header else []
                continue
            current.append(row)
        if len(current) > (1 if header else 0):
            pieces.append("\n".join(current))
        return pieces
    pieces = []
    current_s: list[str] = []
    for sentence in split_sentences(el.text):
        candidate = " ".join([*current_s, sentence])
        if current_s and count(candidate) > budget:
            pieces.append(" ".join(current_s))
            current_s = []
            candidate = sentence
        if count(candidate) > budget:
            pieces.extend(_split_words(sentence, budget, count))
            continue
        current_s.append(sentence)
    if current_s:
        pieces.append(" ".join(current_s))
    return pieces


def _groups(elements: Iterable[Element]) -> Iterator[list[Element]]:
    """Consecutive elements of the same section (headings open a new group, but are not text)."""
    group: list[Element] = []
    for el in elements:
        if group and el.section != group[-1].section:
            yield group
            group = []
        if el.kind in ("title", "heading"):
            continue
        group.append(el)
    if group:
        yield group


def chunk_elements(
    elements: Iterable[Element],
    *,
    title: str,
    count_tokens: CountTokens,
    max_tokens: int,
    min_tokens: int = 0,
) -> list[ChunkDraft]:
    """Chunks of a document: sections first, then packed to ``max_tokens`` embedded tokens."""
    drafts: list[ChunkDraft] = []
    for group in _groups(elements):
        section = section_label(group[0].section)
        budget = max(max_tokens - count_tokens(_head(title, section)) - 2, 16)
        current: ChunkDraft | None = None
        current_tokens = 0
        for el in group:
            for piece in _split_element(el, budget, count_tokens):
                tokens = count_tokens(piece)
                if (
                    (current is not None
                    and current_tokens + tokens + 1 <= budget
                    and el.page
                    in (
                        current.page_end,
                        None,
                    ))
                    or (
                        current is not None
                        and current_tokens < min_tokens
                        and current_tokens + tokens + 1 <= budget
                    )
                ):
                    current.text += "\n" + piece
                    current_tokens = count_tokens(current.text)
                    current.page_end = el.page if el.page is not None else current.page_end
                    if el.kind not in current.kinds:
                        current.kinds.append(el.kind)
                    continue
                if current is not None:
                    drafts.append(current)
                current = ChunkDraft(piece, section, el.page, el.page, [el.kind])
                current_tokens = tokens
        if current is not None:
            drafts.append(current)
    return drafts
