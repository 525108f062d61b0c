"""The FastAPI application: thin routes over the container's services."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import rag.offline  # noqa: F401
from api.audit import AuditLog, AuditMiddleware
from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import BodyLimit, TrustedHosts, trusted_hosts
from api.mcp_server import McpMount, build_mcp
from api.metrics import Metrics
from api.request_log import RequestContext
from api.routes import (
    chat,
    collections,
    documents,
    health,
    keys,
    metrics,
    openai_compat,
    query,
    retrieve,
    sources,
    uploads,
)
from api.state import AppState
from api.tracing import build_tracer
from api.web import PageHeaders, install_web
from rag.container import Container
from rag.settings import Settings, load_settings


def create_app(
    container: Container | None = None,
    *,
    settings: Settings | None = None,
    load_in_background: bool = True,
    span_exporter: Any = None,
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
        state.scheduler.start()
        try:
            async with mcp.running():
                yield
        finally:
            state.scheduler.stop()
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
    app.state.metrics = Metrics(
        lambda: {
            "jobs_queued": state.runner.queue_depth(),
            "uploads": state.uploads_in_flight,
            "ready": int(state.ready.is_set()),
            "files": dict(state.runner.files_done),
        }
    )
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
    if api.cors_origins:  # off unless origins are named: no other site's page may call the API
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(TrustedHosts, hosts=trusted_hosts(api))  # checked first
    tracer = build_tracer(container.settings, span_exporter)  # None unless a collector is named
    app.add_middleware(RequestContext, metrics=app.state.metrics, tracer=tracer)
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
    app.include_router(sources.router)
    app.include_router(metrics.router)
    app.mount("/mcp", mcp)
    install_web(app)
    return app
