"""Request ids, structured logs and safe headers: every log line of a request carries its id.

- ``RequestContext`` (ASGI middleware) takes the caller's ``X-Request-ID`` when it is a short
  token (letters, digits, ``. _ -``; at most 64) or makes one, returns it in the response's
  ``X-Request-ID`` header, and writes one ``request`` line when the response is sent: method,
  route, status, milliseconds and who asked (ids, never the question's text). It also feeds
  ``api.metrics``.
- ``JsonLogFormatter`` writes each record as one JSON object with ``request_id``;
  ``configure_logging("json")`` installs it for the whole process (``ragstead serve``).

Example::

    configure_logging("json")
    app.add_middleware(RequestContext, metrics=metrics)
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from api.metrics import Metrics

log = logging.getLogger("ragstead.requests")

#: the id of the request being handled (None outside a request).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ragstead_request_id", default=None
)
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: on every response, errors included: no content sniffing, no referrer, no framing.
_SAFE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def route_of(scope: dict[str, Any]) -> str:
    """The route's template (``/v1/documents/{doc_id}``), so ids do not explode label sets."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    raw = str(scope.get("path", ""))
    for prefix in ("/mcp", "/docs", "/static", "/app"):
        if raw.startswith(prefix):
            return prefix
    return "other"


class RequestContext:
    """Request id in, request id out, one log line and the metrics of every HTTP request."""

    def __init__(self, app: Any, metrics: Metrics | None = None, tracer: Any = None) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer  # OpenTelemetry (api.tracing), None when tracing is off

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _GOOD_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = [500]

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                names = {k.lower() for k, _ in headers}
                extra = [
                    (k, v) for k, v in _SAFE_HEADERS if k not in names
                ]  # the page sets its own
                message = {
                    **message,
                    "headers": [*headers, *extra, (b"x-request-id", rid.encode())],
                }
            await send(message)

        span = None
        if self.tracer is not None:
            span = self.tracer.start_span(f"{scope.get('method', '')} request")
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route, method = route_of(scope), str(scope.get("method", ""))
            if span is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.response.status_code", status[0])
                span.set_attribute("ragstead.request_id", rid)
                span.end()
            state = scope.get("state") or {}
            if self.metrics is not None:
                self.metrics.observe_request(route, method, status[0], seconds)
                stream = state.get("answer_stream")
                if stream is not None and getattr(stream, "answer", None) is not None:
                    self.metrics.observe_answer(stream.answer)
            log.info(
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status[0],
                    "ms": round(seconds * 1000, 1),
                    "principal": state.get("principal"),
                },
            )
            request_id.reset(token)


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        entry.update(
            {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k not in entry}
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(style: str = "json", level: int = logging.INFO) -> None:
    """Log every logger of the process (uvicorn's included) to stderr, as JSON or text."""
    handler = logging.StreamHandler(sys.stderr)
    if style == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
