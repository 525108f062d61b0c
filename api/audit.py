"""The audit log: one JSON line per API request, in the data directory, rotated.

Each line holds the time, the principal, the method and route, the status, and what the route
noted: the question (kept whole, as a SHA-256, or not at all: ``audit.questions``), the
document and chunk ids returned, and document changes. Routes note their part with
``audit_note(request, ...)``; the middleware writes the line when the response has been sent.

Example::

    audit_note(request, question=body.question, chunks=[c.chunk_id for c in citations])
"""

from __future__ import annotations

import hashlib
import json
import logging
import logging.handlers
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.assistant import AnswerStream
from rag.settings import AuditSettings
from rag.types import Citation


class AuditLog:
    """Appends JSON lines to ``audit.jsonl``, rotating at a size."""

    def __init__(self, path: Path, settings: AuditSettings) -> None:
        self.path = path
        self.settings = settings
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8"
        )
        self._lock = threading.Lock()
        path.touch(mode=0o600, exist_ok=True)

    def question(self, text: str) -> str | None:
        """The question as the settings keep it."""
        if self.settings.questions == "full":
            return text
        if self.settings.questions == "hash":
            return "sha256:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
        return None

    def write(self, entry: dict[str, Any]) -> None:
        """Append one entry."""
        record = logging.makeLogRecord({"msg": json.dumps(entry, ensure_ascii=False)})
        with self._lock:
            self._handler.emit(record)

    def close(self) -> None:
        """Close the file."""
        self._handler.close()


def audit_note(request: Request, **fields: Any) -> None:
    """Add fields to this request's audit line (a ``question`` is kept as the settings say)."""
    note: dict[str, Any] | None = getattr(request.state, "audit", None)
    if note is None:
        note = request.state.audit = {}
    note.update(fields)


def ids_of(values: Iterable[str]) -> list[str]:
    """Unique ids in order."""
    return list(dict.fromkeys(values))


def note_sources(request: Request, question: str, sources: Callable[[], list[Citation]]) -> None:
    """Note a question and, once the response is sent, the documents and chunks it returned
    (``sources`` is called then: a streamed answer is complete by that time)."""

    def returned() -> dict[str, list[str]]:
        cited = sources()
        return {
            "documents": ids_of(c.doc_id for c in cited),
            "chunks": ids_of(c.chunk_id for c in cited),
        }

    audit_note(request, question=question, returned=returned)


def answer_sources(stream: AnswerStream) -> Callable[[], list[Citation]]:
    """The citations of a (streamed) answer, empty while it is unfinished or failed."""
    return lambda: stream.answer.citations if stream.answer is not None else []


class AuditMiddleware:
    """Writes one audit line per request under ``/v1`` and ``/mcp`` once its response is sent."""

    def __init__(self, app: ASGIApp, log: AuditLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(("/v1", "/mcp")):
            await self.app(scope, receive, send)
            return
        started = time.time()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state = scope.get("state") or {}
            note = dict(state.get("audit") or {})
            question = note.pop("question", None)
            entry: dict[str, Any] = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
                + f".{int(started % 1 * 1000):03d}Z",
                "principal": state.get("principal"),
                "method": scope.get("method"),
                "route": scope.get("path"),
                "status": status,
                "ms": round((time.time() - started) * 1000, 1),
                "collection": note.pop("collection", "default"),
            }
            if question is not None:
                entry["question"] = self.log.question(str(question))
            returned = note.pop("returned", None)
            if callable(returned):
                try:
                    entry.update(returned())
                except Exception:  # the line is still written, without what failed
                    entry["returned"] = "unknown"
            entry.update(note)
            self.log.write(entry)
