"""Documents over REST on the real app: list, show, the original file, relabel, delete, and
object-level access (what a caller may not see is 404, as what does not exist)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth.keys import KeyStore
from api.cli import app
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    root = tmp_path_factory.mktemp("docs-api")
    (root / "public").mkdir()
    (root / "hr").mkdir()
    for i in range(5):
        (root / "public" / f"note-{i}.md").write_text(
            f"# Note {i}\n\nThe canteen opens at {i + 7}."
        )
    (root / "hr" / "bonus.md").write_text("# Bonus\n\nThe bonus pool is 4.2 million euros.")
    data = tmp_path_factory.mktemp("docs-data")
    container = Container(
        Settings(data_dir=data), embedder=HashingEmbedder(), generator=EchoGenerator()
    )
    ingestor = build_ingestor(container)
    assert ingestor.ingest(root / "public").ok
    assert ingestor.ingest(root / "hr", groups=["hr"]).ok
    store = KeyStore(container.settings.auth_path)
    keys = {
        "hr": store.create("hr", groups=["hr"], scopes=["read", "write"]).key,
        "eng": store.create("eng", groups=["eng"], scopes=["read", "write"]).key,
        "reader": store.create("reader", groups=["hr"]).key,
        "admin": store.create("admin", scopes=["admin"]).key,
    }
    headers = {who: {"Authorization": f"Bearer {k}"} for who, k in keys.items()}
    with TestClient(create_app(container, load_in_background=False), base_url=LOCAL) as c:
        yield c, headers


def names(docs: list[dict[str, object]]) -> list[str]:
    return [Path(str(d["source"])).name for d in docs]


def test_listing_is_paged_and_filtered_by_the_callers_groups(
    setup: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = setup
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = client.get("/v1/documents", params=params, headers=h["eng"])
        assert r.status_code == 200, r.text
        body = r.json()
        seen += names(body["documents"])
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == [f"note-{i}.md" for i in range(5)]  # no bonus.md for eng
    hr = client.get("/v1/documents", params={"name": "bonus"}, headers=h["hr"]).json()
    [doc] = hr["documents"]
    assert doc["groups"] == ["hr"] and doc["status"] == "indexed" and doc["chunks"] >= 1
    assert set(doc) >= {"id", "source", "title", "type", "groups", "status", "pages", "chunks"}
    assert client.get("/v1/documents", params={"cursor": "%%%"}, headers=h["hr"]).status_code == 400


def test_object_level_checks_answer_404_like_a_missing_id(
    setup: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = setup
    [bonus] = client.get("/v1/documents", params={"name": "bonus"}, headers=h["hr"]).json()[
        "documents"
    ]
    doc = bonus["id"]
    for method, path, body in [
        ("GET", f"/v1/documents/{doc}", None),
        ("GET", f"/v1/documents/{doc}/file", None),
        ("PATCH", f"/v1/documents/{doc}", {"labels": {"x": "y"}}),
        ("DELETE", f"/v1/documents/{doc}", None),
    ]:
        hidden = client.request(method, path, json=body, headers=h["eng"])
        missing = client.request(method, path.replace(doc, "0" * 16), json=body, headers=h["eng"])
        assert hidden.status_code == missing.status_code == 404, (method, path)
        assert hidden.json()["error"]["type"] == missing.json()["error"]["type"] == "NotFoundError"
        assert "bonus" not in hidden.text
    shown = client.get(f"/v1/documents/{doc}", headers=h["hr"]).json()
    assert shown["chunk_ids"] and shown["attachments"] == []
    original = client.get(f"/v1/documents/{doc}/file", headers=h["hr"])
    assert original.status_code == 200 and b"4.2 million" in original.content
    assert original.headers["content-disposition"].startswith("inline")


def test_relabel_changes_who_sees_it_without_reembedding(
    setup: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = setup
    [note] = client.get("/v1/documents", params={"name": "note-3"}, headers=h["hr"]).json()[
        "documents"
    ]
    assert (
        client.patch(
            f"/v1/documents/{note['id']}", json={"groups": ["hr"]}, headers=h["reader"]
        ).status_code
        == 403
    )
    widen = client.patch(
        f"/v1/documents/{note['id']}", json={"groups": ["finance"]}, headers=h["hr"]
    )
    assert widen.status_code == 400  # only groups the editor has
    r = client.patch(
        f"/v1/documents/{note['id']}",
        json={"groups": ["hr"], "labels": {"site": "leeds"}},
        headers=h["hr"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["groups"] == ["hr"] and r.json()["labels"] == {"site": "leeds"}
    assert client.get(f"/v1/documents/{note['id']}", headers=h["eng"]).status_code == 404
    tagged = client.post(
        "/v1/retrieve",
        json={"question": "canteen opens", "top_k": 10, "filters": {"tags": ["site:leeds"]}},
        headers=h["hr"],
    ).json()["passages"]
    assert [Path(p["source"]).name for p in tagged] == ["note-3.md"]
    assert tagged[0]["dense_rank"] is not None  # its vector moved with it
    bad = client.patch(f"/v1/documents/{note['id']}", json={"groups": ["../x"]}, headers=h["admin"])
    assert bad.status_code == 422


def test_delete_needs_write_and_removes_it_from_search(
    setup: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = setup
    [note] = client.get("/v1/documents", params={"name": "note-1"}, headers=h["eng"]).json()[
        "documents"
    ]
    assert client.delete(f"/v1/documents/{note['id']}", headers=h["reader"]).status_code == 403
    assert client.delete(f"/v1/documents/{note['id']}", headers=h["eng"]).status_code == 204
    assert client.get(f"/v1/documents/{note['id']}", headers=h["admin"]).status_code == 404
    found = client.post(
        "/v1/retrieve", json={"question": "canteen opens at 8", "top_k": 10}, headers=h["admin"]
    )
    assert "note-1.md" not in names(found.json()["passages"])


def test_every_request_leaves_an_audit_line_without_the_question_text(
    setup: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = setup
    state = client.app.state.ragstead  # type: ignore[attr-defined]
    log = state.container.settings.audit_path
    question = "When does the canteen open on the second floor?"
    r = client.post("/v1/query", json={"question": question, "mode": "extractive"}, headers=h["hr"])
    assert r.status_code == 200
    client.post("/v1/retrieve", json={"question": "x"}, headers={"Authorization": "Bearer nope"})
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    asked = next(e for e in reversed(entries) if e["route"] == "/v1/query")
    assert asked["principal"] == "key:hr" and asked["status"] == 200
    assert asked["question"].startswith("sha256:") and question not in log.read_text()
    cited = {c["chunk_id"] for c in r.json()["citations"]}
    assert cited and set(asked["chunks"]) == cited and asked["documents"]
    refused = entries[-1]
    assert refused["status"] == 401 and refused["principal"] is None
    listed = runner.invoke(
        app, ["audit", "tail", "-n", "2", "--json", "--data-dir", str(log.parent)]
    )
    assert listed.exit_code == 0 and [
        json.loads(x)["status"] for x in listed.stdout.splitlines()
    ] == [200, 401]


def test_callers_without_admin_see_sources_relative_to_their_root_admins_whole_paths(
    setup: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, h = setup
    hr = client.get("/v1/documents", headers=h["hr"]).json()["documents"]
    shown = sorted(str(d["source"]) for d in hr)
    assert "hr/bonus.md" in shown and len(shown) > 1  # (an earlier test deleted a note)
    assert set(shown) <= {"hr/bonus.md"} | {f"public/note-{i}.md" for i in range(5)}
    admin = client.get("/v1/documents", headers=h["admin"]).json()["documents"]
    assert all(Path(str(d["source"])).is_absolute() for d in admin)
    root = str(Path(str(admin[0]["source"])).parent.parent)
    question = {"question": "How large is the bonus pool?", "top_k": 3}
    for route in ("/v1/retrieve", "/v1/query"):
        body = client.post(route, json=question, headers=h["hr"]).json()
        sources = [c["source"] for c in body.get("passages", body.get("citations", []))]
        assert "hr/bonus.md" in sources, (route, body)
        assert root not in json.dumps(body), route  # no server path anywhere in the reply
    stream = client.post("/v1/query", json={**question, "stream": True}, headers=h["hr"])
    assert "hr/bonus.md" in stream.text and root not in stream.text
    # a relative source glob still filters, and the listing's cursor hides the path it carries
    narrowed = client.post(
        "/v1/retrieve", json={**question, "filters": {"source": "hr/*"}}, headers=h["hr"]
    ).json()
    assert {p["source"] for p in narrowed["passages"]} == {"hr/bonus.md"}
    page = client.get("/v1/documents", params={"limit": 1}, headers=h["hr"]).json()
    assert root.encode() not in base64.urlsafe_b64decode(page["next"] + "==")
    tampered = page["next"][:-4] + ("AAAA" if not page["next"].endswith("AAAA") else "BBBB")
    r = client.get("/v1/documents", params={"cursor": tampered}, headers=h["hr"])
    assert r.status_code == 400 and r.json()["error"]["type"] == "InvalidRequestError"
