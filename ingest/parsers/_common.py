"""What every parser shares: size and zip-bomb checks, decoding, text clean-up, section paths."""

from __future__ import annotations

import codecs
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ingest.elements import Element
from rag.errors import ParseError, RagsteadError

#: largest text-like file (txt, md, html, csv, eml) a parser reads: it is read into memory whole.
MAX_FILE_BYTES = 100_000_000
#: largest PDF, Office file or mbox: these are read a page, a part or a message at a time.
MAX_BINARY_BYTES = 500_000_000
#: a zip-based Office file may unpack to this much at most...
MAX_UNZIPPED_BYTES = 500_000_000
#: ...and, once it unpacks to more than ``ZIP_RATIO_FLOOR`` bytes, compress at most this well.
MAX_ZIP_RATIO = 200
ZIP_RATIO_FLOOR = 10_000_000
#: a zip-based Office file may hold this many parts at most.
MAX_ZIP_MEMBERS = 10_000
#: bytes read or inflated at a time while checking a zip container.
_ZIP_BLOCK = 1 << 20
#: a zip local file header: signature, versions, flags, method, time, date, CRC, sizes, then
#: the lengths of the file name and extra field (the last two values).
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _megabytes(size: int) -> str:
    if size < 1_000_000:
        return f"{size:,} bytes"
    return f"{size / 1_000_000:.1f} MB" if size < 10_000_000 else f"{size / 1_000_000:.0f} MB"


def check_size(path: Path, max_bytes: int) -> int:
    """Return the file's size; raise ParseError when it is empty or larger than ``max_bytes``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if size == 0:
        raise ParseError("empty file", hint="the file has no content; nothing to index")
    if size > max_bytes:
        raise ParseError(
            f"file is {_megabytes(size)}, over the {_megabytes(max_bytes)} limit",
            hint="split the file, or raise the parser's max_bytes limit",
        )
    return size


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a whole file after :func:`check_size`; OS errors become ParseError."""
    check_size(path, max_bytes)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read {path.name}: {exc.strerror or exc}") from exc


def check_zip(path: Path, what: str) -> None:
    """Refuse a corrupt zip container, or one that unpacks to too much (a zip bomb).

    The sizes in the headers are only claims: every member is inflated here, a block at a time
    and nothing kept, and the archive is refused as soon as one member inflates to more than
    its header says or the total passes the limits. At most ``MAX_ZIP_MEMBERS`` members.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise ParseError(
                    f"refusing a {what} file with {len(infos):,} parts (limit"
                    f" {MAX_ZIP_MEMBERS:,}): a real document has far fewer",
                    hint="inspect the file; it is probably not a real document",
                )
            _check_ratio(infos)
            with path.open("rb") as raw:
                for info in infos:
                    _inflate_member(raw, info, what)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
        raise ParseError(
            f"not a valid {what} file (corrupt or truncated zip container: {exc})",
            hint=f"open and re-save it in an application that reads {what}",
        ) from exc


def _check_ratio(infos: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse an archive whose declared sizes already pass the limits."""
    unpacked = sum(info.file_size for info in infos)
    packed = max(1, sum(info.compress_size for info in infos))
    if unpacked > MAX_UNZIPPED_BYTES or (
        unpacked > ZIP_RATIO_FLOOR and unpacked / packed > MAX_ZIP_RATIO
    ):
        raise ParseError(
            f"refusing a likely zip bomb: {_megabytes(packed)} unpacks to {_megabytes(unpacked)}"
            f" (limits: {_megabytes(MAX_UNZIPPED_BYTES)}, ratio {MAX_ZIP_RATIO})",
            hint="inspect the file; a real document does not compress this much",
        )


def _inflate_member(raw: BinaryIO, info: zipfile.ZipInfo, what: str) -> None:
    """Inflate one member from the raw file, in bounded blocks, counting the bytes it gives.

    Its header's size bounds it: more output than declared means the headers lie (zipfile
    itself would inflate up to 2 GB in one call before noticing).
    """
    if info.flag_bits & 0x1:
        raise ParseError(
            f"the {what} file is encrypted", hint="remove the password and save it again"
        )
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ParseError(
            f"the {what} file uses a zip compression method Office files do not use"
            f" ({info.compress_type})",
            hint=f"open and re-save it in an application that reads {what}",
        )
    raw.seek(info.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header of {info.filename!r}")
    name_len, extra_len = _LOCAL_HEADER.unpack(header)[-2:]
    raw.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type else None
    left, produced = info.compress_size, 0
    while left > 0:
        block = raw.read(min(_ZIP_BLOCK, left))
        if not block:
            raise EOFError(f"{info.filename!r} is truncated")
        left -= len(block)
        while block:
            if inflater is None:
                out, block = block, b""
            else:
                out = inflater.decompress(block, _ZIP_BLOCK)
                block = inflater.unconsumed_tail
            produced += len(out)
            if produced > info.file_size:
                raise ParseError(
                    f"refusing a likely zip bomb: {info.filename!r} inflates to more than the"
                    f" {_megabytes(info.file_size)} its header declares",
                    hint="inspect the file; its zip headers do not match its content",
                )
            if inflater is not None and inflater.eof:
                break
        if inflater is not None and inflater.eof:
            break
    if produced != info.file_size:
        raise zipfile.BadZipFile(
            f"{info.filename!r} inflates to {produced:,} bytes, not the {info.file_size:,} its"
            " header declares"
        )


@contextmanager
def library_errors(what: str) -> Iterator[None]:
    """Turn any third-party exception raised inside the block into a ParseError."""
    try:
        yield
    except RagsteadError:
        raise
    except MemoryError as exc:
        raise ParseError(f"{what} is too large to parse in memory") from exc
    except Exception as exc:  # the libraries raise everything from KeyError to lxml errors
        reason = str(exc) or type(exc).__name__
        raise ParseError(
            f"corrupt or unreadable {what}: {reason}",
            hint=f"open and re-save it in an application that reads {what}",
        ) from exc


_WESTERN = ("cp1252", "latin_1", "iso8859_15")


def _looks_utf16(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode text of unknown encoding; return (text, encoding name).

    Order: a byte-order mark, strict UTF-8, BOM-less UTF-16, then charset-normalizer when it
    recognises a language (cp1252 wins a tie: short Western text often scores the same as
    cp1250); otherwise cp1252 (latin-1 for the five bytes cp1252 leaves undefined), which is
    what unlabelled Western office text almost always is.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace"), codec
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    utf16 = _looks_utf16(data)
    if utf16:
        return data.decode(utf16, errors="replace"), utf16
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if matches and matches[0].coherence >= 0.1 and matches[0].encoding != "ascii":
        best = matches[0]
        tied = [  # as plausible as the best guess: prefer the commonest Western code page
            m
            for m in matches
            if m.chaos <= best.chaos + 0.01 and m.coherence >= best.coherence - 0.01
        ]
        chosen = next((m for m in tied if m.encoding in _WESTERN), best)
        return str(chosen), chosen.encoding
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def read_text(path: Path, max_bytes: int) -> str:
    """Read and decode a text file (see :func:`decode_bytes`)."""
    return decode_bytes(read_bytes(path, max_bytes))[0]


def clean_line(text: str) -> str:
    """Normalise one line: NFC, no control characters, single spaces, stripped."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    return _SPACES.sub(" ", text.replace("\n", " ").replace("\r", " ")).strip()


def clean_text(text: str) -> str:
    """Normalise a block: each line cleaned, empty lines dropped, line breaks kept."""
    lines = (clean_line(line) for line in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def clean_code(text: str) -> str:
    """Normalise code: control characters out, trailing spaces off, indentation kept."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\t", "    "))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def table_rows(rows: Iterable[Sequence[str]]) -> list[list[str]]:
    """Clean every cell, drop trailing empty cells and rows left with nothing."""
    out: list[list[str]] = []
    for row in rows:
        cells = [clean_line(cell) for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        if any(cells):
            out.append(cells)
    return out


def split_paragraphs(text: str) -> list[str]:
    """Split text on blank lines into cleaned, non-empty paragraphs."""
    blocks = re.split(r"\n[ \t\u00a0]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return [block for block in (clean_text(b) for b in blocks) if block]


class ElementBuilder:
    """Collects elements in order and keeps the heading path (``section``) while it goes."""

    def __init__(self) -> None:
        self.elements: list[Element] = []
        self._path: list[tuple[int, str]] = []

    @property
    def section(self) -> tuple[str, ...]:
        """The heading path above the next element, outermost first."""
        return tuple(text for _, text in self._path)

    @property
    def first_heading(self) -> str | None:
        """The text of the first heading or title added, if any."""
        for element in self.elements:
            if element.kind in ("title", "heading"):
                return element.text
        return None

    def heading(
        self, text: str, level: int, *, kind: str = "heading", page: int | None = None
    ) -> None:
        """Add a heading of ``level`` (1 = outermost); it becomes part of the section path."""
        text = clean_line(text)
        if not text:
            return
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self.elements.append(Element(text=text, kind=kind, section=self.section, page=page))
        self._path.append((level, text))

    def add(
        self,
        text: str,
        kind: str = "text",
        *,
        page: int | None = None,
        sheet: str | None = None,
        header: str | None = None,
        section: tuple[str, ...] | None = None,
    ) -> None:
        """Add a cleaned element; one that is empty after cleaning is dropped."""
        text = clean_code(text) if kind == "code" else clean_text(text)
        if text:
            self.elements.append(
                Element(
                    text=text,
                    kind=kind,
                    section=self.section if section is None else section,
                    page=page,
                    sheet=sheet,
                    header=header,
                )
            )

    def table(
        self,
        rows: Iterable[Sequence[str]],
        *,
        page: int | None = None,
        sheet: str | None = None,
        section: tuple[str, ...] | None = None,
    ) -> None:
        """Add a table: ``header`` is the first row, ``text`` all rows (header first) as "a | b"."""
        cleaned = table_rows(rows)
        if not cleaned:
            return
        lines = [" | ".join(row) for row in cleaned]
        header = lines[0] if len(lines) > 1 else None
        self.add("\n".join(lines), "table", page=page, sheet=sheet, header=header, section=section)
