"""Routes of the web page: ``/`` (index.html) and ``/web/...`` (its CSS and modules)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = "/web"


def install_web(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets under ``/web``."""
    app.mount(ASSETS, StaticFiles(directory=str(STATIC)), name="web")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")
