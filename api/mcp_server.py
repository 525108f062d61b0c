"""The MCP server: tools ``search``, ``ask`` and ``list_documents`` over the same services,
keys and access control as the REST API.

Mounted in the app at ``/mcp`` (streamable HTTP; every request needs the same bearer
credential as ``/v1``), and served over stdio by ``ragstead mcp`` for a local client, where it
acts as the local administrator like every other ``ragstead`` command.

Example::

    mount = McpMount(build_mcp(state), state)
    app.mount("/mcp", mount)   # and in the lifespan: async with mount.running(): ...
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from api.audit import audit_note, ids_of
from api.auth.principal import LOCAL, Principal, may_see
from api.deps import source_view
from api.errors import error_body
from api.state import AppState
from rag.errors import BusyError, RagsteadError, RetryLaterError
from rag.filters import Filters

INSTRUCTIONS = (
    "Ragstead answers questions from the company's own documents. Use `search` for the passages "
    "that answer a question (with source, page and quote), `ask` for a cited answer, and "
    "`list_documents` to see what is indexed. Only documents the caller may see are used."
)


def _principal(state: AppState, ctx: Context) -> Principal:
    request = ctx.request_context.request
    if request is None:  # stdio: a local process on the server
        return LOCAL
    principal = state.authenticator.verify(request.headers.get("authorization"))
    principal.require("read")
    request.state.principal = f"{principal.kind}:{principal.name}"
    return principal


def _note(ctx: Context, **fields: Any) -> None:
    request = ctx.request_context.request
    if request is not None:
        audit_note(request, **fields)


def build_mcp(state: AppState) -> MCPServer:
    """The MCP server whose tools call ``state``'s container for the calling principal."""
    mcp: MCPServer = MCPServer("ragstead", instructions=INSTRUCTIONS, version="0.1.0")

    @mcp.tool()
    def search(question: str, ctx: Context, top_k: int = 5, collection: str = "default") -> str:
        """The passages that best answer the question, best first, as JSON: source, page,
        quote (the sentence nearest the question) and text."""
        principal = _principal(state, ctx)
        passages = state.container_for(collection, principal).assistant.search(
            question, top_k=max(1, min(top_k, 50)), filters=principal.filters(None)
        )
        _note(ctx, question=question, chunks=ids_of(p.chunk_id for p in passages))
        passages = source_view(state, collection, principal).citations(passages)
        return json.dumps(
            [
                {"n": p.n, "source": p.source, "page": p.page, "quote": p.quote, "text": p.text}
                for p in passages
            ],
            ensure_ascii=False,
        )

    @mcp.tool()
    def ask(question: str, ctx: Context, mode: str = "auto", collection: str = "default") -> str:
        """A cited answer from the documents, as JSON: answer, citations (n, source, page,
        quote), grounded and covered."""
        principal = _principal(state, ctx)
        answer = state.container_for(collection, principal).assistant.ask(
            question, mode=mode, filters=principal.filters(Filters())
        )
        _note(ctx, question=question, chunks=ids_of(c.chunk_id for c in answer.citations))
        answer = source_view(state, collection, principal).answer(answer)
        return json.dumps(
            {
                "answer": answer.answer,
                "citations": [
                    {"n": c.n, "source": c.source, "page": c.page, "quote": c.quote}
                    for c in answer.citations
                ],
                "grounded": answer.grounded,
                "covered": answer.covered,
            },
            ensure_ascii=False,
        )

    @mcp.tool()
    def list_documents(
        ctx: Context, name: str | None = None, limit: int = 50, collection: str = "default"
    ) -> str:
        """The indexed documents the caller may see, as JSON: id, source, title, type, status."""
        principal = _principal(state, ctx)
        records = state.container_for(collection, principal).catalog.list_documents(
            groups=None if principal.is_admin else principal.groups,
            name=name,
            limit=max(1, min(limit, 500)),
        )
        shown = source_view(state, collection, principal).source
        return json.dumps(
            [
                {"id": r.doc_id, "source": shown(r.source), "title": r.title, "type": r.doc_type,
                 "status": r.status}
                for r in records
                if may_see(principal, r.groups)
            ],
            ensure_ascii=False,
        )  # fmt: skip

    return mcp


class McpMount:
    """The MCP app mounted at ``/mcp``: a fresh streamable-HTTP app (stateless, JSON replies)
    for each run of the server's lifespan, behind the credential check (401 in the JSON shape).

    Host checks are the app's own (``api.limits.TrustedHosts``), outside this one.
    """

    def __init__(self, mcp: MCPServer, state: AppState) -> None:
        self.mcp = mcp
        self.state = state
        self._app: ASGIApp | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP while the context is open (the app's lifespan)."""
        app = self.mcp.streamable_http_app(
            streamable_http_path="/",
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with self.mcp.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            try:
                client = scope.get("client")
                principal = self.state.authenticator.principal(
                    headers.get("authorization"), client=client[0] if client else None
                )
                principal.require("read")
                if self._app is None:
                    raise BusyError("the MCP server is starting or stopping", retry_after=5)
            except RagsteadError as exc:
                await _refuse(send, exc)
                return
        assert self._app is not None
        await self._app(scope, receive, send)


async def _refuse(send: Send, exc: RagsteadError) -> None:
    from api.errors import status_for

    body = json.dumps(error_body(type(exc).__name__, exc.message, exc.hint)).encode()
    status = status_for(exc)
    extra = [(b"www-authenticate", b'Bearer realm="ragstead"')] if status == 401 else []
    if isinstance(exc, RetryLaterError):
        extra.append((b"retry-after", str(exc.retry_after).encode()))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})
