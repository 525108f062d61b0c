"""Word (.docx) with python-docx: heading styles build the section path, tables stay in order."""

from __future__ import annotations

import re
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.elements import ParsedDocument
from ingest.parsers._common import (
    MAX_BINARY_BYTES,
    ElementBuilder,
    check_size,
    check_zip,
    clean_line,
    library_errors,
)

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _is_list_item(paragraph: Paragraph, style: str) -> bool:
    if style.lower().startswith("list"):
        return True
    properties = paragraph._p.pPr
    return properties is not None and properties.numPr is not None


def _add_paragraph(paragraph: Paragraph, builder: ElementBuilder) -> None:
    text = paragraph.text
    style = _style_name(paragraph)
    heading = _HEADING_STYLE.match(style)
    if style.lower() == "title":
        builder.heading(text, 0, kind="title")
    elif heading:
        builder.heading(text, int(heading.group(1)))
    elif _is_list_item(paragraph, style):
        builder.add(text, "list")
    else:
        builder.add(text)


def _table_rows(table: Table) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:
                continue  # a horizontally merged cell is repeated once per grid column
            previous = cell._tc
            cells.append(cell.text)
        rows.append(cells)
    return rows


def parse_docx(path: Path, *, max_bytes: int = MAX_BINARY_BYTES) -> ParsedDocument:
    """Parse a .docx file into title, headings, paragraphs, list items and tables."""
    check_size(path, max_bytes)
    check_zip(path, "Word document (.docx)")
    builder = ElementBuilder()
    with library_errors("Word document (.docx)"):
        document = docx.Document(str(path))
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                _add_paragraph(block, builder)
            else:
                builder.table(_table_rows(block))
        properties = document.core_properties
        metadata = {
            key: clean_line(value)
            for key, value in (("author", properties.author), ("subject", properties.subject))
            if value and clean_line(value)
        }
        title = clean_line(properties.title or "") or builder.first_heading
    return ParsedDocument(elements=builder.elements, title=title, metadata=metadata)
