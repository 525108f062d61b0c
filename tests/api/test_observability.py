"""Observability on the real app: request ids in and out, JSON log lines that carry them (and
never the question's text), and Prometheus metrics behind admin."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.keys import KeyStore
from api.request_log import JsonLogFormatter
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL

QUESTION = "How many days of annual leave do full-time staff receive?"


def _app(root: Path) -> tuple[Any, dict[str, dict[str, str]]]:
    docs = root / "docs"
    docs.mkdir(parents=True)
    (docs / "leave.md").write_text("# Leave\n\nFull-time staff receive 28 days of annual leave.")
    container = Container(
        Settings(data_dir=root / "data"), embedder=HashingEmbedder(), generator=EchoGenerator()
    )
    assert build_ingestor(container).ingest(docs).ok
    store = KeyStore(container.settings.auth_path)
    keys = {"admin": store.create("ops", scopes=["admin"]).key, "reader": store.create("r").key}
    headers = {who: {"Authorization": f"Bearer {key}"} for who, key in keys.items()}
    return create_app(container, load_in_background=False), headers


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    app, headers = _app(tmp_path)
    with TestClient(app, base_url=LOCAL) as client:
        yield client, headers


@pytest.fixture()
def log_lines() -> Iterator[io.StringIO]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("ragstead")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield sink
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_a_request_id_is_kept_or_made_and_returned_on_every_response(
    served: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = served
    kept = client.get("/healthz", headers={"X-Request-ID": "trace-42.a_b"})
    assert kept.headers["X-Request-ID"] == "trace-42.a_b"
    bad = client.get("/healthz", headers={"X-Request-ID": "no spaces\nor newlines" * 10})
    made = bad.headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    missing = client.get("/no-such-route")
    assert missing.headers["X-Request-ID"]  # the framework's 404 too
    assert missing.headers["X-Content-Type-Options"] == "nosniff"  # and the safe headers
    assert missing.headers["Referrer-Policy"] == "no-referrer"
    refused = client.get("/healthz", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and refused.headers["X-Request-ID"]
    assert client.post("/v1/retrieve", json={"question": QUESTION}, headers=h["reader"]).headers[
        "X-Request-ID"
    ]


def test_log_lines_are_json_with_the_request_id_and_without_the_question(
    served: tuple[TestClient, dict[str, dict[str, str]]], log_lines: io.StringIO
) -> None:
    client, h = served
    ok = client.post(
        "/v1/query",
        json={"question": QUESTION},
        headers={**h["reader"], "X-Request-ID": "req-ok"},
    )
    assert ok.status_code == 200
    denied = client.get(
        "/v1/documents",
        headers={"Authorization": "Bearer rsk_wrong", "X-Request-ID": "req-denied"},
    )
    assert denied.status_code == 401
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    requests = {e["request_id"]: e for e in lines if e["message"] == "request"}
    assert requests["req-ok"]["route"] == "/v1/query" and requests["req-ok"]["status"] == 200
    assert requests["req-ok"]["principal"] == "key:r"
    assert requests["req-denied"]["status"] == 401
    failures = [e for e in lines if e["logger"] == "ragstead.auth"]
    assert failures and all(e["request_id"] == "req-denied" for e in failures)
    assert "rsk_wrong" not in log_lines.getvalue()  # the key tried is never logged
    assert "annual leave" not in log_lines.getvalue()  # nor the question


def test_metrics_need_admin_and_count_requests_and_answers(
    served: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = served
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=h["reader"]).status_code == 403
    for _ in range(2):
        r = client.post("/v1/query", json={"question": QUESTION}, headers=h["reader"])
        assert r.status_code == 200
    client.get("/v1/documents/does-not-exist", headers=h["reader"])
    text = client.get("/metrics", headers=h["admin"]).text
    assert 'ragstead_http_requests_total{method="POST",route="/v1/query",status="200"} 2.0' in text
    # ids never become labels: the route's template does
    assert 'route="/v1/documents/{doc_id}",status="404"' in text
    assert 'ragstead_answer_seconds_count{step="retrieve"} 2.0' in text
    assert 'ragstead_answers_total{covered="true"}' in text
    assert "ragstead_jobs_queued 0.0" in text and "ragstead_model_ready 1.0" in text


def test_two_apps_in_one_process_keep_their_own_metrics(tmp_path: Path) -> None:
    (first, h1), (second, h2) = _app(tmp_path / "a"), _app(tmp_path / "b")
    with TestClient(first, base_url=LOCAL) as a, TestClient(second, base_url=LOCAL) as b:
        a.get("/v1/documents", headers=h1["reader"])
        line = 'ragstead_http_requests_total{method="GET",route="/v1/documents",status="200"}'
        assert line in a.get("/metrics", headers=h1["admin"]).text
        assert line not in b.get("/metrics", headers=h2["admin"]).text


def test_traces_are_off_by_default_and_a_span_per_request_when_an_exporter_is_given(
    tmp_path: Path,
) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from api.tracing import build_tracer
    from rag.errors import ConfigurationError
    from rag.settings import load_settings

    assert build_tracer(load_settings(data_dir=tmp_path)) is None  # nothing leaves by default
    with pytest.raises(ConfigurationError, match=r"observability\.otlp_endpoint"):
        load_settings(observability={"otlp_endpoint": "http://collector.example.com:4317"})
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nFull-time staff receive 28 days of annual leave.")
    container = Container(
        Settings(data_dir=tmp_path / "data"), embedder=HashingEmbedder(), generator=EchoGenerator()
    )
    assert build_ingestor(container).ingest(docs).ok
    key = KeyStore(container.settings.auth_path).create("r").key
    exporter = InMemorySpanExporter()
    app = create_app(container, load_in_background=False, span_exporter=exporter)
    with TestClient(app, base_url=LOCAL) as client:
        r = client.post(
            "/v1/query",
            json={"question": QUESTION},
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": "trace-me"},
        )
        assert r.status_code == 200
    spans = [s for s in exporter.get_finished_spans() if s.name == "POST /v1/query"]
    assert len(spans) == 1
    attributes = dict(spans[0].attributes or {})
    assert attributes["http.response.status_code"] == 200
    assert attributes["ragstead.request_id"] == "trace-me"
    assert "annual leave" not in str(attributes)
