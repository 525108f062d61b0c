"""``ragstead mcp``: the MCP server over stdio, for a local MCP client (an IDE, a desktop app)."""

from __future__ import annotations

from api.cli.common import DataDir, container_for, fail
from rag.errors import RagsteadError


def mcp(data_dir: DataDir = None) -> None:
    """Serve the MCP tools (search, ask, list_documents) on stdin/stdout, as the local admin."""
    from api.mcp_server import build_mcp
    from api.state import AppState

    try:
        container = container_for(data_dir)
    except RagsteadError as exc:
        fail(exc)
    state = AppState.build(container)
    build_mcp(state).run("stdio")
