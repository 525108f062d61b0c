"""The real FastAPI app through its test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.container import Container
from tests.conftest import LOCAL


@pytest.fixture(scope="module")
def client(example_container: Container) -> TestClient:
    with TestClient(create_app(example_container, load_in_background=False), base_url=LOCAL) as c:
        yield c


def test_healthz_reports_ready_with_counts(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["documents"] >= 6 and body["chunks"] > 0


@pytest.mark.slow
def test_query_returns_answer_and_cited_source(client: TestClient) -> None:
    r = client.post(
        "/v1/query", json={"question": "What is the minimum password length?", "top_k": 3}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"answer", "citations", "timings"}
    first = body["citations"][0]
    assert Path(first["source"]).name == "it-security.html"
    assert set(first) >= {"source", "page", "chunk_id", "score", "text"}
    assert len(body["citations"]) <= 3


def test_empty_question_is_a_400_with_a_reason(client: TestClient) -> None:
    r = client.post("/v1/query", json={"question": "  "})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "InvalidRequestError"
    assert "empty" in r.json()["error"]["message"]


def test_bad_top_k_is_a_422_with_the_field(client: TestClient) -> None:
    r = client.post("/v1/query", json={"question": "leave?", "top_k": 0})
    assert r.status_code == 422
    assert "top_k" in r.json()["error"]["message"]


def test_openapi_is_served(client: TestClient) -> None:
    assert "/v1/query" in client.get("/openapi.json").json()["paths"]


def test_healthz_is_503_until_models_load(example_container: Container) -> None:
    app = create_app(example_container, load_in_background=True)
    app.state.ragstead.load_models = lambda: None  # loading never finishes
    with TestClient(app, base_url=LOCAL) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "loading"
