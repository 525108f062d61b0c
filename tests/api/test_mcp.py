"""MCP on the real app (a uvicorn server on 127.0.0.1): an official MCP client session calls
``search``, ``ask`` and ``list_documents`` behind the same keys and access groups."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from api.app import create_app
from api.auth.keys import KeyStore
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.serving import serving


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    root = tmp_path_factory.mktemp("mcp-docs")
    (root / "public").mkdir()
    (root / "hr").mkdir()
    (root / "public" / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave.")
    (root / "hr" / "bonus.md").write_text("# Bonus\n\nThe bonus pool is 4.2 million euros.")
    container = Container(
        Settings(data_dir=tmp_path_factory.mktemp("mcp-data")),
        embedder=HashingEmbedder(),
        generator=EchoGenerator(),
    )
    ingestor = build_ingestor(container)
    assert ingestor.ingest(root / "public").ok and ingestor.ingest(root / "hr", groups=["hr"]).ok
    store = KeyStore(container.settings.auth_path)
    keys = {
        "hr": store.create("hr", groups=["hr"]).key,
        "eng": store.create("eng", groups=["eng"]).key,
    }
    with serving(create_app(container, load_in_background=False)) as url:
        yield f"{url}/mcp/", {k: str(v) for k, v in keys.items()}


async def session(url: str, key: str) -> dict[str, object]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:  # type: ignore[arg-type]
        tools = {t.name for t in (await client.list_tools()).tools}
        out: dict[str, object] = {"tools": tools}
        for name, args in [
            ("search", {"question": "bonus pool annual leave", "top_k": 5}),
            ("ask", {"question": "How big is the bonus pool?", "mode": "generative"}),
            ("list_documents", {}),
        ]:
            result = await client.call_tool(name, args)
            assert not result.is_error, result
            out[name] = json.loads(result.content[0].text)  # type: ignore[union-attr]
        return out


def test_an_mcp_session_sees_what_the_key_may_see(served: tuple[str, dict[str, str]]) -> None:
    url, keys = served
    hr = asyncio.run(session(url, keys["hr"]))
    assert hr["tools"] == {"search", "ask", "list_documents"}
    assert "bonus.md" in {Path(p["source"]).name for p in hr["search"]}  # type: ignore[attr-defined]
    assert "4.2 million" in hr["ask"]["answer"]  # type: ignore[index]
    eng = asyncio.run(session(url, keys["eng"]))
    replies = json.dumps({k: v for k, v in eng.items() if k != "tools"})
    assert "4.2 million" not in replies and "bonus.md" not in replies
    assert [Path(d["source"]).name for d in eng["list_documents"]] == ["leave.md"]  # type: ignore[attr-defined]


def test_mcp_without_a_key_is_401(served: tuple[str, dict[str, str]]) -> None:
    url, _ = served
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "AuthenticationError"


def test_ragstead_mcp_serves_the_tools_over_stdio(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    import sys

    from mcp import StdioServerParameters

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave.")
    from typer.testing import CliRunner

    from api.cli import app

    data = tmp_path / "data"
    ingested = CliRunner().invoke(app, ["ingest", str(docs), "--data-dir", str(data)])
    assert ingested.exit_code == 0, ingested.output

    async def run() -> list[str]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "api.cli", "mcp", "--data-dir", str(data)]
        )
        async with Client(params) as client:
            result = await client.call_tool("list_documents", {})
            return [Path(d["source"]).name for d in json.loads(result.content[0].text)]  # type: ignore[union-attr]

    assert asyncio.run(run()) == ["leave.md"]
