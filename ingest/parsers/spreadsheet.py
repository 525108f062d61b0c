"""Spreadsheets: .xlsx/.xlsm (openpyxl, streamed) and .csv/.tsv (csv module, sniffed dialect).

Rows become ``kind="table"`` elements of at most ``ROWS_PER_ELEMENT`` rows, each carrying its
table's header row, so memory stays bounded however long a sheet is. A single empty row is
skipped; ``NEW_TABLE_AFTER_EMPTY_ROWS`` empty rows in a row end a table, and the next non-empty
row is the header of the next one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from ingest.elements import ParsedDocument
from ingest.parsers._common import (
    MAX_BINARY_BYTES,
    MAX_FILE_BYTES,
    ElementBuilder,
    check_size,
    check_zip,
    clean_line,
    library_errors,
    read_text,
)

ROWS_PER_ELEMENT = 50
NEW_TABLE_AFTER_EMPTY_ROWS = 2
_SNIFF_BYTES = 64_000


def cell_text(value: object) -> str:
    """Render a cell value the way a person reads it (3.0 -> "3", midnight datetimes as dates)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class _TableStream:
    """Turns a stream of rows into table elements with their header, a bounded block at a time."""

    def __init__(self, builder: ElementBuilder, sheet: str) -> None:
        self.builder = builder
        self.sheet = sheet
        self.header: list[str] | None = None
        self.rows: list[list[str]] = []
        self.emitted = False
        self.empty_run = 0

    def add(self, values: Sequence[object]) -> None:
        cells = [clean_line(cell_text(value)) for value in values]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            self.empty_run += 1
            if self.empty_run == NEW_TABLE_AFTER_EMPTY_ROWS:
                self.close()
            return
        self.empty_run = 0
        if self.header is None:
            self.header = cells
        else:
            self.rows.append(cells)
            if len(self.rows) >= ROWS_PER_ELEMENT:
                self._emit()

    def _emit(self) -> None:
        if self.header is not None and (self.rows or not self.emitted):
            self.builder.table([self.header, *self.rows], sheet=self.sheet)
            self.emitted = True
        self.rows = []

    def close(self) -> None:
        """Emit what is left and forget the header: the next row starts a new table."""
        self._emit()
        self.header = None
        self.emitted = False


def _stream(rows: Iterable[Sequence[object]], builder: ElementBuilder, sheet: str) -> None:
    stream = _TableStream(builder, sheet)
    for row in rows:
        stream.add(row)
    stream.close()


def parse_xlsx(path: Path, *, max_bytes: int = MAX_BINARY_BYTES) -> ParsedDocument:
    """Parse an .xlsx/.xlsm workbook sheet by sheet; cached values, not formulas."""
    check_size(path, max_bytes)
    check_zip(path, "Excel workbook (.xlsx)")
    import openpyxl

    builder = ElementBuilder()
    with library_errors("Excel workbook (.xlsx)"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
        workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
        try:
            names = []
            for sheet in workbook.worksheets:
                names.append(sheet.title)
                _stream(sheet.iter_rows(values_only=True), builder, sheet.title)
            title = clean_line(workbook.properties.title or "")
        finally:
            workbook.close()
    metadata = {"sheets": ", ".join(names)}
    return ParsedDocument(elements=builder.elements, title=title or None, metadata=metadata)


def _dialect(sample: str, suffix: str) -> type[csv.Dialect] | str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return "excel-tab" if suffix == ".tsv" else "excel"


def parse_csv(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Parse a .csv/.tsv file (encoding detected, dialect sniffed) into table elements."""
    text = read_text(path, max_bytes)
    sample = text[:_SNIFF_BYTES]
    if len(text) > _SNIFF_BYTES:
        sample = sample.rsplit("\n", 1)[0]  # whole lines only: a cut line confuses the sniffer
    dialect = _dialect(sample, path.suffix.lower())
    builder = ElementBuilder()
    with library_errors("CSV file"):
        _stream(csv.reader(io.StringIO(text, newline=""), dialect), builder, path.stem)
    return ParsedDocument(elements=builder.elements)
