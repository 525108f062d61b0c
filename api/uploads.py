"""Uploaded files: checked and stored under server-made folders, never the client's path.

A file's name is reduced to a safe base name (letters, digits, ``. _ -`` and spaces; no folder,
no leading dot) inside a folder named by the server (``uploads/<job id>/``); its content must
agree with its extension (a PDF starts with ``%PDF-``, DOCX/XLSX/PPTX are zip archives with
``[Content_Types].xml``, text formats hold no NUL bytes), and its size is within
``api.upload_max_file_bytes``. The unpacked size of zip formats is checked by the parsers
(``ingest.parsers._common``) when the job runs.

Example::

    name = safe_name("../../etc/passwd.pdf")      # "passwd.pdf"
    check_content(path, ".pdf")                   # InvalidRequestError if it is not a PDF
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

from ingest.parsers import SUPPORTED_SUFFIXES
from rag.errors import InvalidRequestError

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_ZIP_FORMATS = {".docx", ".xlsx", ".xlsm", ".pptx"}
_TEXT_FORMATS = SUPPORTED_SUFFIXES - _ZIP_FORMATS - {".pdf"}


def safe_name(filename: str) -> str:
    """The base name of a client's file name, made safe to store (extension kept, lower case)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).strip(" ._-")[:100] or "document"
    suffix = _UNSAFE.sub("", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def check_suffix(name: str) -> str:
    """The file's extension; InvalidRequestError when no parser reads it."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InvalidRequestError(
            f"{name}: unsupported file type {suffix or '(none)'}",
            hint=f"upload one of {', '.join(sorted(SUPPORTED_SUFFIXES))}",
        )
    return suffix


def check_content(path: Path, name: str) -> None:
    """InvalidRequestError when the stored file's bytes do not match its extension."""
    suffix = check_suffix(name)
    with path.open("rb") as f:
        head = f.read(8192)
    if not head:
        raise InvalidRequestError(f"{name}: the file is empty")
    if suffix == ".pdf":
        ok = b"%PDF-" in head[:1024]
    elif suffix in _ZIP_FORMATS:
        ok = head.startswith(b"PK\x03\x04") and _has_content_types(path)
    else:
        ok = (
            suffix in _TEXT_FORMATS
            and b"\x00" not in head
            and not head.startswith((b"%PDF-", b"PK\x03\x04"))
        )
    if not ok:
        raise InvalidRequestError(
            f"{name}: the content is not a {suffix[1:].upper()} file",
            hint="check the file, or give it the extension of what it is",
        )


def _has_content_types(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "[Content_Types].xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
