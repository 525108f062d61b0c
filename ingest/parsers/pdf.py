"""PDF through pypdfium2's text layer: paragraphs, conservative headings and tables, by page.

pdfium gives the page text line by line with single spaces between words, so the layout is read
back from character boxes: a gap much wider than a space splits a line into table cells, and the
vertical gaps and font changes between lines separate paragraphs. Lines repeated at the top or
bottom of most pages (running headers, "Page 3 of 9") are dropped. A page without a text layer is
OCRed with the ``tesseract`` command when it is installed, and reported as a warning either way.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import shutil
import statistics
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.elements import ParsedDocument
from ingest.parsers._common import (
    MAX_BINARY_BYTES,
    ElementBuilder,
    check_size,
    clean_line,
    library_errors,
    split_paragraphs,
)
from rag.errors import ParseError

#: a gap between two words wider than this many font sizes separates two table cells.
CELL_GAP = 1.2
_PLACEHOLDER_TITLES = frozenset({"untitled", "unknown", "title", "document", "anonymous", "none"})
_FORCE_BOLD = 1 << 18  # PDF font descriptor flag
#: seconds tesseract may spend on one page.
OCR_TIMEOUT_S = 120

_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
    # pdfium joins a word hyphenated across lines and marks the hyphen U+FFFE (older builds: 0x02)
    | {"\ufffe": "", "\x02": "-"}
)
_BULLET = re.compile(r"^[•●▪■◦○‣∙·\-–*]\s+")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+\S")
_KEYWORD = re.compile(
    r"^(part|chapter|article|appendix|annex|schedule|item|section|note)\s+([0-9]+|[ivxlc]+|[a-z])\b",
    re.IGNORECASE,
)
_KEYWORD_LEVELS = {"part": 1, "chapter": 1, "article": 1, "note": 3}
_PAGE_NUMBER = re.compile(r"^(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?$", re.IGNORECASE)


@dataclass
class _Line:
    """One text line of a page: its cells, geometry (PDF units, y grows upwards) and font."""

    cells: list[str]
    x0: float = 0.0
    x1: float = 0.0
    bottom: float = 0.0
    size: float = 0.0
    bold: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.cells)


class _Chars:
    """Character boxes and fonts of one text page, looked up by index into its extracted text."""

    def __init__(self, textpage: Any, text: str) -> None:
        self.textpage = textpage
        self.aligned = len(text) == textpage.count_chars()
        self.rect = pdfium_c.FS_RECTF()
        self.name = ctypes.create_string_buffer(128)
        self.flags = ctypes.c_int()

    def _index(self, index: int) -> int:
        if self.aligned:
            return index
        return int(pdfium_c.FPDFText_GetCharIndexFromTextIndex(self.textpage, index))

    def box(self, index: int) -> tuple[float, float, float, float] | None:
        """The loose box (left, bottom, right, top) of a character, or None."""
        index = self._index(index)
        if index < 0 or not pdfium_c.FPDFText_GetLooseCharBox(self.textpage, index, self.rect):
            return None
        rect = self.rect
        return rect.left, rect.bottom, rect.right, rect.top

    def generated(self, index: int) -> bool:
        """Whether pdfium inserted this character (a space for a gap) rather than the PDF."""
        index = self._index(index)
        return index >= 0 and pdfium_c.FPDFText_IsGenerated(self.textpage, index) == 1

    def font(self, index: int) -> tuple[float, bool]:
        """Font size and boldness of a character."""
        index = self._index(index)
        size = float(pdfium_c.FPDFText_GetFontSize(self.textpage, index))
        if not pdfium_c.FPDFText_GetFontInfo(
            self.textpage, index, self.name, 128, ctypes.byref(self.flags)
        ):
            return size, False
        name = self.name.value.lower()
        bold = any(w in name for w in (b"bold", b"black", b"heavy"))
        return size, bold or bool(self.flags.value & _FORCE_BOLD)


def _page_lines(textpage: Any) -> list[_Line]:
    """Split a page's text into lines, and each line into cells at gaps much wider than a space."""
    text: str = textpage.get_text_range()
    chars = _Chars(textpage, text)
    lines: list[_Line] = []
    for match in re.finditer(r"[^\r\n]+", text):
        segment = match.group()
        if not segment.strip():
            continue
        start = match.start() + (len(segment) - len(segment.lstrip()))
        end = match.start() + len(segment.rstrip())
        first, last = chars.box(start), chars.box(end - 1)
        if first is None or last is None:  # no geometry: keep the text, guess no layout
            lines.append(_Line([segment.strip().translate(_LIGATURES)], bottom=-len(lines)))
            continue
        size, bold = chars.font(start)
        gap = CELL_GAP * max(size, first[3] - first[1], 1.0)
        cells: list[str] = []
        cell_start = start
        for space in re.finditer(r" +", text[start:end]):
            if space.end() - space.start() == 1 and not chars.generated(start + space.start()):
                continue  # a space written in the PDF is a word space; pdfium marks gaps it saw
            left, right = chars.box(start + space.start() - 1), chars.box(start + space.end())
            if left and right and right[0] - left[2] > gap:
                cells.append(text[cell_start : start + space.start()].translate(_LIGATURES))
                cell_start = start + space.end()
        cells.append(text[cell_start:end].translate(_LIGATURES))
        lines.append(_Line(cells, first[0], last[2], min(first[1], last[1]), size, bold))
    return lines


def _edges(lines: list[_Line]) -> list[_Line]:
    return lines[:2] + lines[-2:]


def _drop_page_chrome(pages: list[list[_Line]]) -> None:
    """Remove page numbers and lines repeated at the top or bottom of most pages."""

    def key(line: _Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower())

    counts = Counter(k for lines in pages for k in {key(line) for line in _edges(lines)})
    threshold = max(3, len(pages) // 2)
    for lines in pages:
        chrome = {
            id(line)
            for line in _edges(lines)
            if counts[key(line)] >= threshold or _PAGE_NUMBER.match(line.text)
        }
        lines[:] = [line for line in lines if id(line) not in chrome]


def heading_level(text: str, *, size: float, bold: bool, body_size: float) -> int | None:
    """Level of a one-line paragraph that looks like a heading, or None; deliberately conservative.

    A heading is short, has no closing punctuation and is set apart by its font (bold, or larger
    than the body text), or starts with "Part", "Chapter", "Item", "Section"... Levels:
    Part/Chapter/Article 1, Item/Section/Appendix 2, Note 3, then larger-than-body 3, ALL CAPS 4
    and bold 5, each plus the depth of a leading "1.2" numbering. The caller also checks that the
    line starts at the left margin or is centred, which keeps out bold table column headers.
    """
    letters = [c for c in text if c.isalpha()]
    if (
        len(text) > 90
        or len(text.split()) > 12
        or len(letters) < 3
        or text[-1] in ".,;:!?"
        or not (text[0].isupper() or text[0].isdigit())
    ):
        return None
    keyword = _KEYWORD.match(text)
    if keyword:
        return _KEYWORD_LEVELS.get(keyword.group(1).lower(), 2)
    larger = body_size > 0 and size >= 1.15 * body_size
    if not (bold or larger) or ": " in text:
        return None
    numbered = _NUMBERED.match(text)
    depth = numbered.group(1).count(".") + 1 if numbered else 0
    if larger:
        return 3 + depth
    if sum(c.isupper() for c in letters) >= 0.8 * len(letters):
        return 4 + depth
    return 5 + depth


def _join(lines: list[str]) -> str:
    """Join wrapped lines into a paragraph, undoing end-of-line hyphenation."""
    out = ""
    for line in lines:
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}" if out else line
    return out


def _table_runs(lines: list[_Line]) -> list[tuple[bool, list[_Line]]]:
    """Group lines into (is_table, lines) runs: two or more lines with cells make a table.

    A short one-cell line between table lines (a row label such as "Current assets:") stays in.
    """
    runs: list[tuple[bool, list[_Line]]] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and (
            len(lines[j].cells) > 1
            or (
                j > i
                and j + 1 < len(lines)
                and len(lines[j + 1].cells) > 1
                and len(lines[j].text) < 60
            )
        ):
            j += 1
        if sum(len(line.cells) > 1 for line in lines[i:j]) >= 2:
            runs.append((True, lines[i:j]))
            i = j
            continue
        if runs and not runs[-1][0]:
            runs[-1][1].append(lines[i])
        else:
            runs.append((False, [lines[i]]))
        i += 1
    return runs


class _PageText:
    """Turns the running-text lines of one page into paragraphs, headings and list items."""

    def __init__(
        self, lines: list[_Line], body_size: float, builder: ElementBuilder, page: int
    ) -> None:
        self.lines = lines
        self.body_size = body_size
        self.builder = builder
        self.page = page
        self.left = min(line.x0 for line in lines)
        self.right = max(line.x1 for line in lines)
        self.width = self.right - self.left

    def level(self, line: _Line) -> int | None:
        text = clean_line(line.text)
        level = heading_level(text, size=line.size, bold=line.bold, body_size=self.body_size)
        if level is None or self.width <= 0:
            return level
        at_margin = line.x0 - self.left < 0.05 * self.width
        centred = abs((line.x0 + line.x1) / 2 - (self.left + self.right) / 2) < 0.05 * self.width
        return level if at_margin or centred else None

    def paragraphs(self, lines: list[_Line]) -> list[list[_Line]]:
        """Split lines at vertical gaps, font changes, short lines, bullets and headings."""
        pairs = list(itertools.pairwise(lines))
        steps = [a.bottom - b.bottom for a, b in pairs]
        normal = [step for step, (a, _) in zip(steps, pairs, strict=True) if 0 < step < 3 * a.size]
        spacing = statistics.median(normal) if normal else 0.0
        right = statistics.median(line.x1 for line in lines)
        width = right - min(line.x0 for line in lines)
        paragraphs: list[list[_Line]] = [[lines[0]]]
        for (prev, line), step in zip(pairs, steps, strict=True):
            new = (
                step <= 0
                or (spacing > 0 and step > 1.4 * spacing)
                or abs(prev.size - line.size) > 0.1 * max(prev.size, line.size)
                or (width > 0 and prev.x1 < right - 0.2 * width)
                or bool(_BULLET.match(line.text))
                or (len(paragraphs[-1]) == 1 and self.level(prev) is not None)
            )
            if new:
                paragraphs.append([line])
            else:
                paragraphs[-1].append(line)
        return paragraphs

    def add(self) -> None:
        """Add the page's elements to the builder."""
        for is_table, run in _table_runs(self.lines):
            if is_table:
                self.builder.table([line.cells for line in run], page=self.page)
                continue
            for paragraph in self.paragraphs(run):
                level = self.level(paragraph[0]) if len(paragraph) == 1 else None
                text = clean_line(_join([clean_line(line.text) for line in paragraph]))
                if level is not None:
                    self.builder.heading(text, level, page=self.page)
                elif _BULLET.match(text):
                    self.builder.add(_BULLET.sub("", text), "list", page=self.page)
                else:
                    self.builder.add(text, page=self.page)


def _body_size(pages: list[list[_Line]]) -> float:
    """The font size of most of the document's text."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _ocr(page: Any) -> str | None:
    """OCR one page with the tesseract command; None when it is not installed or fails."""
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "page.png"
        page.render(scale=300 / 72).to_pil().save(image)
        try:
            done = subprocess.run(
                [tesseract, str(image), "stdout"],
                capture_output=True,
                timeout=OCR_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else None


def _open(path: Path) -> Any:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise ParseError(
                "the PDF is encrypted (password protected)",
                hint="save an unprotected copy (e.g. qpdf --decrypt --password=PW IN OUT)",
            ) from exc
        raise ParseError(
            f"corrupt or unreadable PDF: {reason}",
            hint="check that the file is a complete PDF (re-download or re-export it)",
        ) from exc


def _metadata_title(pdf: Any) -> str | None:
    title = clean_line(pdf.get_metadata_dict().get("Title", ""))
    title = re.sub(r"^Microsoft (Word|PowerPoint|Excel) - ", "", title)
    if title.lower() in _PLACEHOLDER_TITLES or sum(c.isalpha() for c in title) < 3:
        return None  # generator defaults and accession numbers say nothing about the content
    return title


def parse_pdf(path: Path, *, max_bytes: int = MAX_BINARY_BYTES) -> ParsedDocument:
    """Parse a PDF's text layer into elements, each with its 1-based page number."""
    check_size(path, max_bytes)
    pdf = _open(path)
    builder = ElementBuilder()
    warnings: list[str] = []
    try:
        with library_errors("PDF"):
            if len(pdf) == 0:
                raise ParseError("the PDF has no pages")
            pages: list[list[_Line]] = []
            for index in range(len(pdf)):
                page = pdf[index]
                textpage = page.get_textpage()
                pages.append(_page_lines(textpage))
                textpage.close()
                page.close()
            has_text = [bool(lines) for lines in pages]
            _drop_page_chrome(pages)
            body_size = _body_size(pages)
            for number, lines in enumerate(pages, start=1):
                if has_text[number - 1]:
                    if lines:
                        _PageText(lines, body_size, builder, number).add()
                    continue
                text = _ocr(pdf[number - 1])
                if text is None:
                    warnings.append(f"page {number} has no text layer")
                    continue
                paragraphs = split_paragraphs(text.translate(_LIGATURES))
                found = "its text comes from OCR" if paragraphs else "OCR found no text on it"
                warnings.append(f"page {number} has no text layer; {found}")
                for paragraph in paragraphs:
                    builder.add(paragraph, page=number)
            title = _metadata_title(pdf) or builder.first_heading
    finally:
        pdf.close()
    return ParsedDocument(
        elements=builder.elements,
        title=title,
        metadata={"pages": str(len(pages))},
        warnings=warnings,
    )
