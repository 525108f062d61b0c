"""What a parser hands to the chunker: a document as a list of typed elements.

Parsers know formats; the chunker knows token budgets. ``Element`` is the seam between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Element:
    """One structural piece of a document: a paragraph, heading, table row block, list item...

    ``kind`` is one of: "title", "heading", "text", "list", "table", "code", "notes".
    ``section`` is the heading path above the element (outermost first).
    ``page`` is 1-based (PDF page, PPTX slide number); ``None`` for formats without pages.
    ``sheet`` names the spreadsheet sheet for XLSX/CSV.
    For ``kind == "table"``, ``text`` holds whole rows, one per line, and ``header`` the header
    row, so the chunker can repeat it when it splits a table between rows.
    """

    text: str
    kind: str = "text"
    section: tuple[str, ...] = ()
    page: int | None = None
    sheet: str | None = None
    header: str | None = None


@dataclass
class ParsedDocument:
    """A parsed file: its elements plus document-level metadata (title, mail headers...)."""

    elements: list[Element]
    title: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    #: documents embedded in this one (mail attachments), parsed the same way.
    children: list[tuple[str, ParsedDocument]] = field(default_factory=list)
    #: problems that did not stop the parse (for example "page 3 has no text layer").
    warnings: list[str] = field(default_factory=list)
