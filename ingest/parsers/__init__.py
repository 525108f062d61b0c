"""File parsers: one small module per format, one entry point, :func:`parse`.

``parse(path)`` picks the parser by the file's suffix (case-insensitive) and returns a
:class:`~ingest.elements.ParsedDocument`. Every failure is a Ragstead error:
``UnsupportedFormatError`` (with a hint saying what to convert the file to) or ``ParseError``
(empty, too large, corrupt, truncated, encrypted, a zip bomb). No third-party exception escapes.

Conventions every parser keeps:

- text is normalised: NFC, no control characters, runs of spaces collapsed, lines stripped;
  elements left empty are dropped. Code blocks keep their indentation.
- ``section`` is the heading path above an element; a heading's own section is the path above it.
- a ``kind="table"`` element holds its rows one per line, cells joined with " | ", header row
  first; ``header`` repeats that first line (``None`` for a one-row table), so a chunker that
  splits a table between rows can put the header at the top of every later piece.
- ``page`` is 1-based (PDF page, PPTX slide); ``sheet`` names the XLSX sheet (the file stem for
  CSV).

Why not unstructured (checked with unstructured 0.27.35 and spaCy 3.8.18):
``partition_html`` (like every partitioner that classifies text: md, text, email...) calls
``unstructured.nlp.tokenize.sent_tokenize``, which loads the spaCy model ``en_core_web_sm`` and,
when it is missing, downloads the wheel from GitHub at run time
(``_install_spacy_model`` in ``unstructured/nlp/tokenize.py``) and installs it into
site-packages. The official model is not on PyPI, so it cannot be installed as a pinned
dependency, and the unofficial re-upload is not an option. Under
``../shared/tools/no-egress.sh`` a one-page ``partition_html`` call with
``SCARF_NO_ANALYTICS=true DO_NOT_TRACK=true`` still made a DNS look-up (exit 3) and then raised
``RuntimeError: Failed to download spaCy model``; without those variables it made three
connection attempts (analytics ping included). Importing ``unstructured.partition.html`` also
takes about 5.6 s against 0.25 s for BeautifulSoup. So HTML, Markdown, text and mail are parsed
here with BeautifulSoup + lxml, a small line parser and the standard library; PDF uses pypdfium2
directly (unstructured's "fast" PDF strategy glues words together and is about 30x slower).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from ingest.elements import ParsedDocument
from ingest.parsers._common import MAX_BINARY_BYTES, MAX_FILE_BYTES, library_errors
from rag.errors import ParseError, UnsupportedFormatError

__all__ = [
    "MAX_BINARY_BYTES",
    "MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "is_supported",
    "parse",
    "parser_for",
]

#: suffix -> (module in this package, function). Modules load on first use.
_PARSERS: dict[str, tuple[str, str]] = {
    ".pdf": ("pdf", "parse_pdf"),
    ".docx": ("docx", "parse_docx"),
    ".pptx": ("pptx", "parse_pptx"),
    ".xlsx": ("spreadsheet", "parse_xlsx"),
    ".xlsm": ("spreadsheet", "parse_xlsx"),
    ".csv": ("spreadsheet", "parse_csv"),
    ".tsv": ("spreadsheet", "parse_csv"),
    ".html": ("html", "parse_html"),
    ".htm": ("html", "parse_html"),
    ".xhtml": ("html", "parse_html"),
    ".md": ("markdown", "parse_markdown"),
    ".markdown": ("markdown", "parse_markdown"),
    ".txt": ("text", "parse_text"),
    ".text": ("text", "parse_text"),
    ".log": ("text", "parse_text"),
    ".rst": ("text", "parse_text"),
    ".eml": ("mail", "parse_eml"),
    ".mbox": ("mail", "parse_mbox"),
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_PARSERS)

_OFFICE = "libreoffice --headless --convert-to {fmt} FILE"
_HINTS: dict[str, str] = {
    **dict.fromkeys(
        (".doc", ".dot", ".docm", ".rtf", ".odt", ".wpd", ".pages", ".wps"),
        f"convert it to .docx (e.g. {_OFFICE.format(fmt='docx')})",
    ),
    **dict.fromkeys(
        (".xls", ".xlsb", ".ods", ".numbers"),
        f"convert it to .xlsx (e.g. {_OFFICE.format(fmt='xlsx')})",
    ),
    **dict.fromkeys(
        (".ppt", ".pptm", ".pps", ".ppsx", ".odp", ".key"),
        f"convert it to .pptx (e.g. {_OFFICE.format(fmt='pptx')})",
    ),
    ".msg": "convert the Outlook message to .eml (e.g. msgconvert FILE, in Debian's "
    "libemail-outlook-message-perl)",
    **dict.fromkeys(
        (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp", ".heic"),
        "run OCR first and ingest the result (e.g. ocrmypdf, or img2pdf FILE | ocrmypdf - OUT.pdf)",
    ),
    **dict.fromkeys(
        (".zip", ".7z", ".rar", ".tar", ".gz", ".tgz", ".bz2", ".xz"),
        "extract the archive and ingest the files inside it",
    ),
    ".epub": "convert it to .html or .pdf (e.g. ebook-convert FILE OUT.html, from calibre)",
    ".xml": "convert it to .html, .md or .txt",
    ".json": "convert it to .md, .txt or .csv",
}


def is_supported(path: Path | str) -> bool:
    """Whether :func:`parse` has a parser for this file's suffix."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def _unsupported(suffix: str) -> UnsupportedFormatError:
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    if not suffix:
        return UnsupportedFormatError(
            "unsupported format (the file has no extension)",
            hint=f"rename it with the extension of its format; supported: {supported}",
        )
    hint = _HINTS.get(suffix, f"convert it to one of the supported formats: {supported}")
    return UnsupportedFormatError(f"unsupported format {suffix}", hint=hint)


def parser_for(path: Path | str) -> Callable[..., ParsedDocument]:
    """The parse function for this file's suffix; UnsupportedFormatError when there is none."""
    suffix = Path(path).suffix.lower()
    if suffix not in _PARSERS:
        raise _unsupported(suffix)
    module_name, function = _PARSERS[suffix]
    module = importlib.import_module(f"{__name__}.{module_name}")
    parser: Callable[..., ParsedDocument] = getattr(module, function)
    return parser


def parse(path: Path | str, *, max_bytes: int | None = None) -> ParsedDocument:
    """Parse one file into elements, choosing the parser by its suffix.

    ``max_bytes`` overrides the size limit (by default ``MAX_FILE_BYTES`` for text-like
    formats, ``MAX_BINARY_BYTES`` for PDF, Office files and mbox).
    """
    path = Path(path)
    parser = parser_for(path)
    if not path.is_file():
        raise ParseError(f"not a file: {path}", hint="check that the file exists and is readable")
    with library_errors(f"{path.suffix.lower()} file"):
        if max_bytes is None:
            return parser(path)
        return parser(path, max_bytes=max_bytes)
