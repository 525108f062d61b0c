"""E-mail: .eml (stdlib ``email``) with attachments parsed as children, and .mbox archives."""

from __future__ import annotations

import email
import mailbox
import re
import tempfile
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path

from ingest.elements import ParsedDocument
from ingest.parsers._common import (
    MAX_BINARY_BYTES,
    MAX_FILE_BYTES,
    ElementBuilder,
    check_size,
    clean_line,
    library_errors,
    read_bytes,
)
from ingest.parsers.html import html_to_builder
from ingest.parsers.text import text_to_builder
from rag.errors import IngestError, ParseError

#: how deep messages attached to messages are followed.
MAX_NESTING = 3
_HEADERS = ("subject", "from", "to", "cc", "date")
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


def _safe_name(name: str, fallback: str) -> str:
    """A file name without path separators or odd characters, keeping its suffix."""
    name = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return name[:120] or fallback


def _add_body(message: EmailMessage, builder: ElementBuilder) -> None:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return
    content = body.get_content()
    if not isinstance(content, str):
        return
    if body.get_content_subtype() == "html":
        html_to_builder(content, builder)
    else:
        text_to_builder(content, builder)


def _attachment_bytes(part: EmailMessage) -> bytes | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_content()
        return inner.as_bytes() if isinstance(inner, Message) else None
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else None


def _parse_attachments(message: EmailMessage, document: ParsedDocument, depth: int) -> None:
    from ingest.parsers import parse

    with tempfile.TemporaryDirectory(prefix="ragstead-mail-") as tmp:
        for number, part in enumerate(message.iter_attachments(), start=1):
            fallback = (
                f"attachment-{number}.eml"
                if part.get_content_type() == "message/rfc822"
                else f"attachment-{number}"
            )
            name = _safe_name(part.get_filename() or "", fallback)
            data = _attachment_bytes(part)
            if not data:
                document.warnings.append(f"attachment {name} is empty")
                continue
            path = Path(tmp) / f"{number}-{name}"
            path.write_bytes(data)
            try:
                if path.suffix.lower() == ".eml":
                    if depth >= MAX_NESTING:
                        document.warnings.append(f"attachment {name}: messages nested too deep")
                        continue
                    child = parse_eml(path, _depth=depth + 1)
                else:
                    child = parse(path)
            except IngestError as exc:
                document.warnings.append(f"attachment {name} skipped: {exc}")
                continue
            document.children.append((name, child))


def message_document(message: EmailMessage, *, depth: int = 0) -> ParsedDocument:
    """Turn a parsed message into a document: headers as metadata, body, attachments as children."""
    builder = ElementBuilder()
    metadata: dict[str, str] = {}
    for header in _HEADERS:
        value = message.get(header)
        if value is not None and clean_line(str(value)):
            metadata[header] = clean_line(str(value))
    _add_body(message, builder)
    document = ParsedDocument(
        elements=builder.elements, title=metadata.get("subject"), metadata=metadata
    )
    _parse_attachments(message, document, depth)
    return document


def _message(data: bytes) -> EmailMessage:
    with library_errors("e-mail message"):
        message = email.message_from_bytes(data, policy=policy.default)
    if not isinstance(message, EmailMessage) or not (message.keys() or message.get_payload()):
        raise ParseError("not an e-mail message (no headers found)")
    return message


def parse_eml(path: Path, *, max_bytes: int = MAX_FILE_BYTES, _depth: int = 0) -> ParsedDocument:
    """Parse an .eml message: subject/from/to/date metadata, body, attachments as children."""
    message = _message(read_bytes(path, max_bytes))
    with library_errors("e-mail message"):
        return message_document(message, depth=_depth)


def parse_mbox(path: Path, *, max_bytes: int = MAX_BINARY_BYTES) -> ParsedDocument:
    """Parse an mbox archive: every message becomes a child document "<n>-<subject>.eml"."""
    check_size(path, max_bytes)
    document = ParsedDocument(elements=[])
    with library_errors("mbox archive"):
        box = mailbox.mbox(str(path), create=False)
        try:
            for number, key in enumerate(box.iterkeys(), start=1):
                try:
                    with library_errors("e-mail message"):
                        child = message_document(_message(box.get_bytes(key)))
                except IngestError as exc:
                    document.warnings.append(f"message {number} skipped: {exc}")
                    continue
                subject = _safe_name(child.title or "", "no subject")
                document.children.append((f"{number}-{subject}.eml", child))
        finally:
            box.close()
    if not document.children and not document.warnings:
        raise ParseError(
            "no messages found in the mbox file", hint="an mbox starts with a 'From ' line"
        )
    document.metadata["messages"] = str(len(document.children))
    return document
