"""PowerPoint (.pptx) with python-pptx: one page per slide, its title as the section."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pptx
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.shapes.base import BaseShape
from pptx.shapes.graphfrm import GraphicFrame
from pptx.shapes.group import GroupShape
from pptx.slide import Slide

from ingest.elements import ParsedDocument
from ingest.parsers._common import (
    MAX_BINARY_BYTES,
    ElementBuilder,
    check_size,
    check_zip,
    clean_line,
    library_errors,
)


def _flatten(shapes: Iterable[BaseShape]) -> Iterator[BaseShape]:
    """Shapes in reading order (top to bottom, left to right), groups opened up.

    The XML order of a slide's shapes is their z-order, which is not the order people read.
    """
    for shape in sorted(shapes, key=lambda s: (s.top or 0, s.left or 0)):
        if isinstance(shape, GroupShape):
            yield from _flatten(shape.shapes)
        else:
            yield shape


def _is_bulleted(shape: BaseShape) -> bool:
    """A body or content placeholder, whose paragraphs are bullet points."""
    if not shape.is_placeholder:
        return False
    return shape.placeholder_format.type in (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT)


def _add_slide(slide: Slide, number: int, builder: ElementBuilder) -> str:
    """Add one slide's elements; return its title ("" when it has none)."""
    title_shape = slide.shapes.title
    title = clean_line(title_shape.text_frame.text) if title_shape is not None else ""
    section = (title,) if title else ()
    builder.add(title, "heading", page=number, section=())
    for shape in _flatten(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if isinstance(shape, GraphicFrame) and shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            builder.table(rows, page=number, section=section)
        elif shape.has_text_frame:
            frame = shape.text_frame  # type: ignore[attr-defined]
            bullets = _is_bulleted(shape) or any(p.level > 0 for p in frame.paragraphs)
            text = "\n".join(paragraph.text for paragraph in frame.paragraphs)
            builder.add(text, "list" if bullets else "text", page=number, section=section)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None:
            builder.add(notes.text, "notes", page=number, section=section)
    return title


def parse_pptx(path: Path, *, max_bytes: int = MAX_BINARY_BYTES) -> ParsedDocument:
    """Parse a .pptx file: slide titles, text frames, tables and speaker notes, page = slide."""
    check_size(path, max_bytes)
    check_zip(path, "PowerPoint presentation (.pptx)")
    builder = ElementBuilder()
    with library_errors("PowerPoint presentation (.pptx)"):
        presentation = pptx.Presentation(str(path))
        titles = [
            _add_slide(slide, number, builder)
            for number, slide in enumerate(presentation.slides, start=1)
        ]
        title = clean_line(presentation.core_properties.title or "")
        metadata = {"slides": str(len(titles))}
    first_title = next((t for t in titles if t), None)
    return ParsedDocument(elements=builder.elements, title=title or first_title, metadata=metadata)
