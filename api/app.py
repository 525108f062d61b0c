"""The FastAPI application: thin routes over the container's services."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import rag.offline  # noqa: F401
from api.audit import AuditLog, AuditMiddleware
from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import BodyLimit, TrustedHosts, trusted_hosts
from api.mcp_server import McpMount, build_mcp
from api.routes import (
    chat,
    collections,
    documents,
    health,
    keys,
    openai_compat,
    query,
    retrieve,
    uploads,
)
from api.state import AppState
from api.web import PageHeaders, install_web
from rag.container import Container
from rag.settings import Settings, load_settings


def create_app(
    container: Container | None = None,
    *,
    settings: Settings | None = None,
    load_in_background: bool = True,
) -> FastAPI:
    """The app; models load in a background thread and /healthz turns 200 when they are ready."""
    container = container or Container(settings or load_settings())
    state = AppState.build(container)
    mcp = McpMount(build_mcp(state), state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_in_background:
            threading.Thread(target=state.load_models, name="model-loader", daemon=True).start()
        else:
            state.load_models()
        state.runner.start()
        try:
            async with mcp.running():
                yield
        finally:
            state.runner.stop()

    app = FastAPI(
        title="Ragstead",
        version="0.1.0",
        description="Answers questions over your own documents, offline, with cited sources.",
        lifespan=lifespan,
        docs_url=None,  # served from local files by install_docs
        redoc_url=None,  # ReDoc needs a CDN script and web fonts
    )
    app.state.ragstead = state
    install_error_handlers(app)
    api = container.settings.api
    app.add_middleware(
        BodyLimit,
        max_bytes=api.max_body_bytes,
        uploads={"/v1/documents": api.upload_max_request_bytes},
    )
    if container.settings.audit.enabled:
        audit = AuditLog(container.settings.audit_path, container.settings.audit)
        app.add_middleware(AuditMiddleware, log=audit)
    app.add_middleware(PageHeaders)  # the web page's CSP and other security headers
    app.add_middleware(TrustedHosts, hosts=trusted_hosts(api))  # outermost: checked first
    install_docs(app)
    app.include_router(health.router)
    app.include_router(query.router)
    app.include_router(retrieve.router)
    app.include_router(chat.router)
    app.include_router(openai_compat.router)
    app.include_router(documents.router)
    app.include_router(uploads.router)
    app.include_router(collections.router)
    app.include_router(keys.router)
    app.mount("/mcp", mcp)
    install_web(app)
    return app
