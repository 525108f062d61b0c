"""Hostile requests through the real app: oversized bodies and chat histories, a foreign Host
header, text that is not valid Unicode; and a /docs page that loads nothing from outside.

The index is real (Chroma and SQLite in tmp_path); the hashing embedder and the echo generator
stand in for the models, whose output adds nothing to these checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.service import build_ingestor
from rag.container import Container
from rag.conversation import MAX_CONVERSATION_CHARS, MAX_MESSAGE_CHARS
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL, admin_headers_for
from tests.ingest.test_sync import hashing_container

QUESTION = "How many spaces does the visitor car park have?"


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Container:
    tmp = tmp_path_factory.mktemp("hostile")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "parking.md").write_text("# Parking\n\nThe visitor car park has 12 spaces.\n")
    hashing = hashing_container(tmp)
    container = Container(hashing.settings, embedder=hashing.embedder, generator=EchoGenerator())
    build_ingestor(container).ingest(docs)
    return container


@pytest.fixture(scope="module")
def headers(container: Container) -> dict[str, str]:
    return admin_headers_for(container, "hostile-admin")


@pytest.fixture(scope="module")
def client(container: Container, headers: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(container, load_in_background=False)
    with TestClient(app, base_url=LOCAL, headers=headers) as c:
        yield c


def _sharing(settings: Settings, container: Container) -> Container:
    """A container with other settings over the same models and stores."""
    return Container(
        settings,
        embedder=container.embedder,
        vector_store=container.vector_store,
        generator=container.generator,
    )


def _error(r: Any, status: int) -> dict[str, str]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error: dict[str, str] = r.json()["error"]
    assert set(error) == {"type", "message", "hint"}
    return error


# -- a lone surrogate ----------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/v1/query", "/v1/retrieve"])
def test_a_lone_surrogate_in_the_question_is_a_400_in_the_json_shape(
    client: TestClient, route: str
) -> None:
    raw = b'{"question": "car park \\ud800 spaces"}'  # valid JSON, not encodable text
    r = client.post(route, content=raw, headers={"content-type": "application/json"})
    error = _error(r, 400)
    assert error["type"] == "InvalidRequestError" and "surrogate" in error["message"]


def test_a_lone_surrogate_elsewhere_is_a_400_too(client: TestClient) -> None:
    raw = b'{"question": "car park", "filters": {"source": "\\udc00*.md"}}'
    r = client.post("/v1/retrieve", content=raw, headers={"content-type": "application/json"})
    assert _error(r, 400)["type"] == "InvalidRequestError"


@pytest.mark.parametrize("route", ["/v1/chat", "/v1/chat/completions"])
def test_a_lone_surrogate_in_a_chat_is_a_400(client: TestClient, route: str) -> None:
    raw = (
        b'{"messages": [{"role": "user", "content": "car park \\ud800?"},'
        b' {"role": "assistant", "content": "12."},'
        b' {"role": "user", "content": "and the staff car park \\udfff?"}]}'
    )
    r = client.post(route, content=raw, headers={"content-type": "application/json"})
    assert _error(r, 400)["type"] == "InvalidRequestError"


def test_the_frameworks_own_errors_use_the_json_shape(client: TestClient) -> None:
    assert _error(client.get("/v1/nowhere"), 404)["type"] == "NotFoundError"
    assert _error(client.get("/v1/query"), 405)["type"] == "MethodNotAllowedError"


# -- request size --------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_parsed(
    client: TestClient, container: Container
) -> None:
    limit = container.settings.api.max_body_bytes
    big = b'{"question": "' + b"a" * (limit + 10) + b'"}'
    r = client.post("/v1/query", content=big, headers={"content-type": "application/json"})
    error = _error(r, 413)
    assert error["type"] == "TooLargeError" and f"{limit:,}" in error["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"question": "'
        for _ in range(limit // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    r = client.post("/v1/retrieve", content=chunks(), headers={"content-type": "application/json"})
    assert _error(r, 413)["type"] == "TooLargeError"
    assert client.post("/v1/retrieve", json={"question": QUESTION}).status_code == 200


def test_the_body_limit_is_a_setting(container: Container, headers: dict[str, str]) -> None:
    settings = container.settings.model_copy(deep=True)
    settings.api.max_body_bytes = 2048
    small = _sharing(settings, container)
    app = create_app(small, load_in_background=False)
    with TestClient(app, base_url=LOCAL, headers=headers) as c:
        r = c.post("/v1/retrieve", json={"question": "x" * 3000})
        assert _error(r, 413)["type"] == "TooLargeError"
        assert c.post("/v1/retrieve", json={"question": QUESTION}).status_code == 200


def test_an_oversized_chat_message_or_history_is_a_413(client: TestClient) -> None:
    long = {"role": "user", "content": "parking " * (MAX_MESSAGE_CHARS // 8 + 1)}
    tail = [{"role": "assistant", "content": "12."}, {"role": "user", "content": "and staff?"}]
    error = _error(client.post("/v1/chat", json={"messages": [long, *tail]}), 413)
    assert "message 0" in error["message"] and f"{MAX_MESSAGE_CHARS:,}" in error["message"]

    turn = {"role": "user", "content": "visitor car park spaces " * 1000}
    many = [turn] * (MAX_CONVERSATION_CHARS // len(turn["content"]) + 1)
    error = _error(client.post("/v1/chat", json={"messages": [*many, *tail]}), 413)
    assert "conversation" in error["message"]


class CountingEmbedder(HashingEmbedder):
    """Counts the texts it embeds (what the follow-up rewriter costs)."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.texts = 0

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return super().embed_batch(texts)


def test_the_follow_up_rewriter_reads_only_the_end_of_earlier_turns() -> None:
    """A long earlier question under the message limit costs a bounded number of embeddings
    (it used to embed every 1-4 word phrase of it: 60 KB took 47 s)."""
    from rag.conversation import RuleRewriter

    embedder = CountingEmbedder()
    rewriter = RuleRewriter(embedder)
    words = " ".join(f"Policy{i} rules" for i in range(3000))
    earlier = f"{words} how many days of annual leave do full-time employees get?"
    history = [{"role": "user", "content": earlier}, {"role": "assistant", "content": "28."}]
    rewritten = rewriter.rewrite("and part-time staff?", history * 3)
    assert "part-time staff" in rewritten and len(rewritten) < 1000
    assert 0 < embedder.texts < 1000  # about 4 phrases a word of 600 characters, not 20,000


# -- Host header ---------------------------------------------------------------------------------


def test_a_foreign_host_header_is_refused(client: TestClient) -> None:
    r = client.post("/v1/retrieve", json={"question": QUESTION}, headers={"host": "evil.example"})
    error = _error(r, 400)
    assert "Host" in error["message"] and "ALLOWED_HOSTS" in (error["hint"] or "")
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        ok = client.post("/v1/retrieve", json={"question": QUESTION}, headers={"host": host})
        assert ok.status_code == 200, (host, ok.text)


def test_allowed_hosts_is_a_setting(container: Container) -> None:
    settings = container.settings.model_copy(deep=True)
    settings.api.allowed_hosts = ["ragstead.intranet"]
    named = _sharing(settings, container)
    app = create_app(named, load_in_background=False)
    with TestClient(app, base_url="http://ragstead.intranet:8000") as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"host": "evil.example"}).status_code == 400


# -- the docs page -------------------------------------------------------------------------------


def test_docs_load_nothing_from_outside_and_redoc_is_gone(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    outside = re.findall(r"https?://[^\s\"'<>)]+", page.text)
    assert outside == [], outside
    assets = re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        fetched = client.get(asset)
        assert fetched.status_code == 200 and len(fetched.content) > 100, asset
    assert "validatorUrl" in page.text  # the online validator is switched off
    assert client.get("/redoc").status_code == 404
    assert "/v1/query" in client.get("/openapi.json").json()["paths"]
