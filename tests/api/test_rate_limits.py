"""Backpressure and browser access on the real app: per-key request rates, failed sign-ins per
address, uploads at once, and CORS (off unless origins are named)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.keys import KeyStore
from api.rate_limits import Buckets
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import ApiSettings, Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL
from tests.serving import serving


def _app(tmp_path: Path, **api: Any) -> tuple[Any, dict[str, str]]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nFull-time staff receive 28 days of annual leave.")
    container = Container(
        Settings(data_dir=tmp_path / "data", api=ApiSettings(**api)),
        embedder=HashingEmbedder(),
        generator=EchoGenerator(),
    )
    assert build_ingestor(container).ingest(docs).ok
    store = KeyStore(container.settings.auth_path)
    keys = {name: store.create(name, scopes=["read", "write"]).key for name in ("a", "b")}
    app = create_app(container, load_in_background=False)
    return app, {name: f"Bearer {key}" for name, key in keys.items()}


def test_buckets_refill_at_their_rate_and_hold_at_most_their_capacity() -> None:
    now = [0.0]
    buckets = Buckets(rate=2.0, capacity=3, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == 0.5  # empty: one token comes back in half a second
    assert buckets.take("other") == 0.0  # each name has its own bucket
    now[0] += 0.5
    assert buckets.take("k") == 0.0
    now[0] += 100
    assert [buckets.take("k") for _ in range(4)][-1] > 0  # refilled to 3, not to 200


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(
    tmp_path: Path,
) -> None:
    app, auth = _app(tmp_path, rate_limit_per_minute=6, rate_limit_burst=3)
    body = {"question": "How many days of annual leave?"}
    with TestClient(app, base_url=LOCAL) as client:
        codes = [
            client.post("/v1/retrieve", json=body, headers={"Authorization": auth["a"]})
            for _ in range(4)
        ]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        refused = codes[-1]
        assert refused.json()["error"]["type"] == "RateLimitedError"
        assert 1 <= int(refused.headers["Retry-After"]) <= 10
        other = client.post("/v1/retrieve", json=body, headers={"Authorization": auth["b"]})
        assert other.status_code == 200


def test_an_address_with_many_failed_sign_ins_is_refused_before_its_key_is_checked(
    tmp_path: Path,
) -> None:
    app, auth = _app(tmp_path, auth_failures_per_minute=5)
    with TestClient(app, base_url=LOCAL) as client:
        bad = {"Authorization": "Bearer rsk_not-a-real-key"}
        codes = [client.get("/v1/documents", headers=bad).status_code for _ in range(5)]
        assert codes == [401] * 5
        locked = client.get("/v1/documents", headers={"Authorization": auth["a"]})
        assert locked.status_code == 429 and "Retry-After" in locked.headers
        assert locked.json()["error"]["message"] == "too many failed sign-ins from this address"
        mcp = client.post("/mcp/", json={}, headers={"Authorization": auth["a"]})
        assert mcp.status_code == 429 and "retry-after" in mcp.headers


def test_uploads_past_the_bound_at_once_get_503_and_the_first_still_lands(
    tmp_path: Path,
) -> None:
    app, auth = _app(tmp_path, max_concurrent_uploads=1)
    boundary = "ragstead-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
        "Content-Type: text/plain\r\n\r\nThe canteen opens at seven.\r\n"
    ).encode()
    tail = f"--{boundary}--\r\n".encode()
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield head
        release.wait(timeout=30)  # the first upload is still arriving while the second is sent
        yield tail

    content_type = f"multipart/form-data; boundary={boundary}"
    first: dict[str, httpx.Response] = {}
    with serving(app) as base:

        def send_first() -> None:
            with httpx.Client(base_url=base, timeout=60) as c:
                first["r"] = c.post(
                    "/v1/documents",
                    content=slow_body(),
                    headers={
                        "Authorization": auth["a"],
                        "Content-Type": content_type,
                        "Content-Length": str(len(head) + len(tail)),
                    },
                )

        sender = threading.Thread(target=send_first)
        sender.start()
        try:
            with httpx.Client(base_url=base, timeout=30) as c:
                second = None
                for _ in range(200):  # until the first upload has been admitted
                    second = c.post(
                        "/v1/documents",
                        files={"files": ("b.txt", b"The lift is on the left.", "text/plain")},
                        headers={"Authorization": auth["b"]},
                    )
                    if second.status_code == 503:
                        break
                    threading.Event().wait(0.05)
                assert second is not None and second.status_code == 503, second.text
                assert second.json()["error"]["type"] == "BusyError"
                assert second.headers["Retry-After"] == "5"
        finally:
            release.set()
            sender.join(timeout=60)
    assert first["r"].status_code == 202, first["r"].text


def test_cors_is_off_by_default_and_allows_only_the_named_origins(tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://intranet.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    (tmp_path / "off").mkdir()
    app, _ = _app(tmp_path / "off")
    with TestClient(app, base_url=LOCAL) as client:
        r = client.options("/v1/query", headers=preflight)
        assert "access-control-allow-origin" not in r.headers
    (tmp_path / "on").mkdir()
    app, _ = _app(tmp_path / "on", cors_origins=["https://intranet.example.com"])
    with TestClient(app, base_url=LOCAL) as client:
        r = client.options("/v1/query", headers=preflight)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://intranet.example.com"
        evil = client.options("/v1/query", headers={**preflight, "Origin": "https://evil.test"})
        assert "access-control-allow-origin" not in evil.headers


def test_an_upload_during_a_cli_ingestion_waits_for_it_and_then_lands(tmp_path: Path) -> None:
    """The CLI holds the ingestion lock (as `ragstead sync` does while it runs): the upload's
    job waits instead of failing, and is indexed once the lock is free."""
    app, auth = _app(tmp_path)
    container = app.state.ragstead.container
    catalog = build_ingestor(container).catalog
    with TestClient(app, base_url=LOCAL) as client:
        headers = {"Authorization": auth["a"]}
        with catalog.ingest_lock():
            r = client.post(
                "/v1/documents",
                files={"files": ("memo.md", b"# Memo\n\nThe lift is on the left.", "text/plain")},
                headers=headers,
            )
            assert r.status_code == 202
            job = r.json()["job_id"]
            for _ in range(100):  # until the runner has taken it up and met the lock
                if client.get(f"/v1/jobs/{job}", headers=headers).json()["status"] != "queued":
                    break
                threading.Event().wait(0.05)
            assert client.get(f"/v1/jobs/{job}", headers=headers).json()["status"] == "running"
        for _ in range(600):
            status = client.get(f"/v1/jobs/{job}", headers=headers).json()["status"]
            if status not in ("queued", "running"):
                break
            threading.Event().wait(0.05)
        assert status == "succeeded"
        question = {"question": "Where is the lift?"}
        found = client.post("/v1/retrieve", json=question, headers=headers)
        assert any("lift" in p["text"] for p in found.json()["passages"])
