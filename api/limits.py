"""Checks every request passes before any route reads it: the body's size and the Host header.

- ``BodyLimit``: a body over ``max_bytes`` gets 413 before it is parsed (by its declared
  ``Content-Length``, or counted as it arrives when it has none).
- ``TrustedHosts``: the ``Host`` header must name this server (localhost, a loopback address,
  the bound host or one the settings allow). A page elsewhere that has a browser resolve its own
  name to 127.0.0.1 (DNS rebinding) then cannot reach the API.

Both answer in the JSON error shape of ``api/errors.py``. Pure ASGI, so a refused body is never
read into memory.

Example::

    app.add_middleware(BodyLimit, max_bytes=1_048_576)
    app.add_middleware(TrustedHosts, hosts=trusted_hosts(settings.api))
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from api.errors import error_body
from rag.settings import ApiSettings

Scope = dict[str, Any]
Receive = Any
Send = Any

_WILDCARDS = {"0.0.0.0", "::", ""}


def trusted_hosts(api: ApiSettings) -> set[str]:
    """The Host names this server answers to: loopback, the bound host and the allowed ones."""
    hosts = {"localhost", "127.0.0.1", "::1"}
    if api.host not in _WILDCARDS:
        hosts.add(api.host.strip("[]").lower())
    hosts.update(h.strip().strip("[]").lower() for h in api.allowed_hosts if h.strip())
    return hosts


def host_name(header: str) -> str:
    """The host of a ``Host`` header, without its port: "[::1]:8000" -> "::1"."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


async def _refuse(send: Send, status: int, kind: str, message: str, hint: str) -> None:
    body = json.dumps(error_body(kind, message, hint)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class BodyLimit:
    """413 for a request body over ``max_bytes``, before the app reads any of it."""

    def __init__(self, app: Any, max_bytes: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: POST paths that take files, with their own (larger) limit; they need Content-Length.
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        limit = self.max_bytes
        if scope.get("method") == "POST" and scope.get("path") in self.uploads:
            limit = self.uploads[scope["path"]]
            if declared is None:  # streamed to disk by the route: its size must be known first
                await _refuse(
                    send,
                    411,
                    "LengthRequiredError",
                    "an upload needs a Content-Length header",
                    "send the files as one multipart body (curl -F, httpx files=)",
                )
                return
        if declared is not None:
            if not declared.strip().isdigit() or int(declared) > limit:
                await self._too_large(send, declared, limit)
                return
            await self.app(scope, receive, send)  # the server holds the body to its length
            return
        # No length (chunked): read it here, to the limit, and hand it on.
        messages: list[dict[str, Any]] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(send, None, self.max_bytes)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, declared: str | None, limit: int) -> None:
        size = f"{int(declared):,} bytes" if declared and declared.strip().isdigit() else "larger"
        await _refuse(
            send,
            413,
            "TooLargeError",
            f"the request body is {size}; the limit is {limit:,} bytes",
            "send less, or raise api.max_body_bytes (uploads: api.upload_max_request_bytes)",
        )


class TrustedHosts:
    """400 for a request whose ``Host`` header does not name this server ("*" allows any)."""

    def __init__(self, app: Any, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.hosts:
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"host") or ""
        if host_name(header) in self.hosts:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _refuse(
            send,
            400,
            "InvalidRequestError",
            f"the Host header {header[:100]!r} does not name this server",
            "use http://127.0.0.1 or localhost, or add the name clients use to"
            " RAGSTEAD_API__ALLOWED_HOSTS",
        )
