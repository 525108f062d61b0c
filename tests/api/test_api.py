"""The real FastAPI app through its test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import get_assistant
from rag.assistant import AnswerConfig, Assistant
from rag.container import Container
from rag.testing import EchoGenerator
from tests.conftest import LOCAL


@pytest.fixture(scope="module")
def client(example_container: Container, admin_headers: dict[str, str]) -> TestClient:
    app = create_app(example_container, load_in_background=False)
    with TestClient(app, headers=admin_headers, base_url=LOCAL) as c:
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


def test_retrieve_quotes_each_passage_and_cites_the_quoted_page(client: TestClient) -> None:
    r = client.post(
        "/v1/retrieve",
        json={"question": "How long is the probation period for new employees?", "top_k": 3},
    )
    assert r.status_code == 200, r.text
    passages = r.json()["passages"]
    assert [p["n"] for p in passages] == [1, 2, 3]
    first = passages[0]
    assert Path(first["source"]).name == "onboarding-guide.pdf"
    assert "probation" in first["quote"].lower() and first["quote"] in first["text"]
    assert first["page"] == 3 and first["page_end"] >= first["page"]
    assert first["doc_id"] and first["chunk_id"] and first["dense_rank"] is not None


def test_retrieve_defaults_to_the_configured_top_k(client: TestClient) -> None:
    r = client.post("/v1/retrieve", json={"question": "annual leave"})
    assert r.status_code == 200
    assert len(r.json()["passages"]) == client.app.state.ragstead.container.settings.retrieval.top_k


def test_routes_take_their_services_from_dependencies(
    example_container: Container, admin_headers: dict[str, str]
) -> None:
    """A test (or an embedding app) swaps a service at the front door: here the assistant."""
    echo = Assistant(example_container.retriever, EchoGenerator(), config=AnswerConfig())
    app = create_app(example_container, load_in_background=False)
    app.dependency_overrides[get_assistant] = lambda: echo
    with TestClient(app, headers=admin_headers, base_url=LOCAL) as c:
        r = c.post("/v1/query", json={"question": "How many days of annual leave?"})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "echo" and r.json()["mode"] == "generative"
