"""Security headers for the web page and its assets (pure ASGI, added to those paths only).

The Content-Security-Policy allows only this server's own origin: no inline script or style,
no other host for scripts, styles, images, fonts or requests, no framing by other pages.
``blob:`` is allowed for frames and objects only, for originals fetched with the bearer header.
"""

from __future__ import annotations

from typing import Any

from api.web.page import ASSETS

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self' blob:",
        "object-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def is_page_path(path: str) -> bool:
    """True for the page (``/``) and its assets."""
    return path == "/" or path == ASSETS or path.startswith(ASSETS + "/")


class PageHeaders:
    """Adds ``PAGE_HEADERS`` to every response for the page and its assets."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not is_page_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in self.headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
