"""Plain text (.txt, .text, .log, .rst): encoding detected, paragraphs split on blank lines."""

from __future__ import annotations

from pathlib import Path

from ingest.elements import ParsedDocument
from ingest.parsers._common import MAX_FILE_BYTES, ElementBuilder, read_text, split_paragraphs

#: a paragraph longer than this (a log without blank lines) is cut at line breaks.
MAX_PARAGRAPH_CHARS = 4000


def _pieces(paragraph: str) -> list[str]:
    if len(paragraph) <= MAX_PARAGRAPH_CHARS:
        return [paragraph]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in paragraph.split("\n"):
        if current and size + len(line) > MAX_PARAGRAPH_CHARS:
            pieces.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    pieces.append("\n".join(current))
    return pieces


def text_to_builder(text: str, builder: ElementBuilder) -> None:
    """Add the paragraphs of ``text`` to ``builder`` (also used for mail bodies)."""
    for paragraph in split_paragraphs(text):
        for piece in _pieces(paragraph):
            builder.add(piece)


def parse_text(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Parse a plain-text file into paragraph elements."""
    builder = ElementBuilder()
    text_to_builder(read_text(path, max_bytes), builder)
    return ParsedDocument(elements=builder.elements)
