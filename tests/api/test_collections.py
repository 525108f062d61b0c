"""Collections: named, isolated indexes; keys limited to some; created and deleted by admins;
``--collection`` on the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth.keys import KeyStore
from api.cli import app
from ingest.service import build_ingestor
from rag.collections import CollectionSet
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.api.test_uploads import wait
from tests.conftest import LOCAL

runner = CliRunner()


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    root = tmp_path_factory.mktemp("coll-docs")
    for folder, text in [
        ("hr", "Staff receive 28 days of annual leave."),
        ("legal", "The notice period is 3 months."),
    ]:
        (root / folder).mkdir()
        (root / folder / f"{folder}.md").write_text(f"# {folder}\n\n{text}")
    base = Container(
        Settings(data_dir=tmp_path_factory.mktemp("coll-data")),
        embedder=HashingEmbedder(),
        generator=EchoGenerator(),
    )
    assert build_ingestor(base).ingest(root / "hr").ok
    collections = CollectionSet(base)
    collections.create("legal")
    assert build_ingestor(collections.container("legal")).ingest(root / "legal").ok
    store = KeyStore(base.settings.auth_path)
    keys = {
        "admin": store.create("admin", scopes=["admin"]).key,
        "lawyer": store.create("lawyer", collections=["legal"]).key,
        "staff": store.create("staff").key,
    }
    headers = {who: {"Authorization": f"Bearer {k}"} for who, k in keys.items()}
    with TestClient(create_app(base, load_in_background=False), base_url=LOCAL) as c:
        yield c, headers


def sources(r: object) -> set[str]:
    return {Path(p["source"]).name for p in r.json()["passages"]}  # type: ignore[attr-defined]


def test_searches_never_cross_collections(
    env: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = env
    question = {"question": "notice period annual leave", "top_k": 10}
    assert sources(client.post("/v1/retrieve", json=question, headers=h["staff"])) == {"hr.md"}
    legal = client.post(
        "/v1/retrieve", json={**question, "collection": "legal"}, headers=h["lawyer"]
    )
    assert sources(legal) == {"legal.md"}
    answer = client.post(
        "/v1/query",
        json={"question": "What is the notice period?", "collection": "legal"},
        headers=h["lawyer"],
    )
    assert "3 months" in answer.json()["answer"]
    listed = client.get("/v1/documents", params={"collection": "legal"}, headers=h["lawyer"]).json()
    assert [Path(d["source"]).name for d in listed["documents"]] == ["legal.md"]


def test_a_key_limited_to_collections_sees_no_other(
    env: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = env
    r = client.post("/v1/retrieve", json={"question": "leave"}, headers=h["lawyer"])
    assert r.status_code == 404 and r.json()["error"]["type"] == "NotFoundError"
    names = [
        c["name"] for c in client.get("/v1/collections", headers=h["lawyer"]).json()["collections"]
    ]
    assert names == ["legal"]
    everyone = client.get("/v1/collections", headers=h["admin"]).json()["collections"]
    assert {c["name"]: c["documents"] for c in everyone} == {"default": 1, "legal": 1}
    missing = client.post(
        "/v1/retrieve", json={"question": "x", "collection": "nope"}, headers=h["admin"]
    )
    assert missing.status_code == 404


def test_admins_create_and_delete_collections(
    env: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = env
    assert (
        client.post("/v1/collections", json={"name": "tmp"}, headers=h["staff"]).status_code == 403
    )
    assert (
        client.post("/v1/collections", json={"name": "../x"}, headers=h["admin"]).status_code == 422
    )
    made = client.post("/v1/collections", json={"name": "tmp"}, headers=h["admin"])
    assert made.status_code == 201 and made.json() == {"name": "tmp", "documents": 0, "chunks": 0}
    assert (
        client.post("/v1/collections", json={"name": "tmp"}, headers=h["admin"]).status_code == 400
    )
    files = [("files", ("tmp.md", b"# Tmp\n\nA temporary note about parking.", "text/markdown"))]
    job = client.post("/v1/documents", files=files, data={"collection": "tmp"}, headers=h["admin"])
    assert job.status_code == 202
    done = wait(client, job.json()["job_id"], h["admin"])
    assert done["status"] == "succeeded" and done["collection"] == "tmp"
    tmp = client.post(
        "/v1/retrieve", json={"question": "parking", "collection": "tmp"}, headers=h["admin"]
    )
    assert sources(tmp) == {"tmp.md"}
    assert client.delete("/v1/collections/default", headers=h["admin"]).status_code == 400
    assert client.delete("/v1/collections/tmp", headers=h["staff"]).status_code == 403
    assert client.delete("/v1/collections/tmp", headers=h["admin"]).status_code == 204
    gone = client.post(
        "/v1/retrieve", json={"question": "parking", "collection": "tmp"}, headers=h["admin"]
    )
    assert gone.status_code == 404


def test_cli_ingests_into_and_asks_a_collection(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "policy.md").write_text("# Policy\n\nThe notice period is 3 months.")
    base = ["--data-dir", str(tmp_path / "data"), "--collection", "legal"]
    assert runner.invoke(app, ["ingest", str(docs), *base]).exit_code == 0
    listed = runner.invoke(app, ["docs", "list", "--json", *base])
    assert listed.exit_code == 0 and "policy.md" in listed.stdout
    default = runner.invoke(app, ["docs", "list", "--json", "--data-dir", str(tmp_path / "data")])
    assert "policy.md" not in default.stdout
    missing = runner.invoke(
        app, ["docs", "list", "--data-dir", str(tmp_path / "data"), "--collection", "nope"]
    )
    assert missing.exit_code == 2 and "no collection" in missing.output
