"""The one place that maps Ragstead errors to HTTP status codes and JSON bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (
    AuthenticationError,
    BusyError,
    ConfigurationError,
    GenerationError,
    GeneratorTimeoutError,
    IngestError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RagsteadError,
    RateLimitedError,
    RetryLaterError,
    StoreError,
    TooLargeError,
)

log = logging.getLogger("ragstead.api")

_STATUS: list[tuple[type[RagsteadError], int]] = [
    (TooLargeError, 413),
    (InvalidRequestError, 400),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (IngestError, 422),
    (NotFoundError, 404),
    (BusyError, 503),
    (RateLimitedError, 429),
    (GeneratorTimeoutError, 504),
    (GenerationError, 502),
    (StoreError, 500),
    (ConfigurationError, 500),
]


def status_for(exc: RagsteadError) -> int:
    """HTTP status of an error: the most specific match wins."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(kind: str, message: str, hint: str | None) -> dict[str, object]:
    """The JSON error body every failure returns."""
    return {"error": {"type": kind, "message": message, "hint": hint}}


def error_payload(exc: Exception) -> dict[str, object]:
    """The error body plus its HTTP status, for errors that happen inside an event stream."""
    if isinstance(exc, RagsteadError):
        body = error_body(type(exc).__name__, exc.message, exc.hint)
        body["status"] = status_for(exc)
        return body
    log.exception("unexpected error while streaming", exc_info=exc)
    body = error_body("InternalError", "the answer failed unexpectedly", "see the server log")
    body["status"] = 500
    return body


async def _ragstead_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagsteadError)
    status = status_for(exc)
    if status >= 500:
        log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLaterError) else None
    if isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": 'Bearer realm="ragstead"'}
    return JSONResponse(
        error_body(type(exc).__name__, exc.message, exc.hint), status_code=status, headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()
    )
    return JSONResponse(
        error_body(
            "InvalidRequestError", problems or "invalid request", "see /docs for the schema"
        ),
        status_code=422,
    )


_HTTP_TYPES = {
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    401: "AuthenticationError",
    413: "TooLargeError",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """The framework's own errors (unknown route, wrong method) in the same JSON shape."""
    assert isinstance(exc, StarletteHTTPException)
    kind = _HTTP_TYPES.get(exc.status_code, "HTTPError")
    message = str(exc.detail) if exc.detail else kind
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.url.path}"
        hint: str | None = "see /docs for the routes"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
        hint = "see /docs for the methods each route takes"
    else:
        hint = None
    return JSONResponse(
        error_body(kind, message, hint), status_code=exc.status_code, headers=exc.headers
    )


async def _unicode_error(request: Request, exc: Exception) -> JSONResponse:
    """Text that cannot be encoded (a lone surrogate such as "\\ud800" in a JSON string, which
    only a caller sends: ingested text never holds one)."""
    if getattr(exc, "reason", "") != "surrogates not allowed":
        return await _unexpected_error(request, exc)
    log.info("%s on %s: %s", type(exc).__name__, request.url.path, exc)
    return JSONResponse(
        error_body(
            "InvalidRequestError",
            "the request holds text that is not valid Unicode (a lone surrogate such as \\ud800)",
            "send text as UTF-8",
        ),
        status_code=400,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: a 500 in the JSON shape, the traceback in the server log only."""
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("InternalError", "the request failed unexpectedly", "see the server log"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(RagsteadError, _ragstead_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UnicodeEncodeError, _unicode_error)
    app.add_exception_handler(Exception, _unexpected_error)
