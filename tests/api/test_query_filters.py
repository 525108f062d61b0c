"""POST /v1/query with filters and access groups, on the real app over a small real index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.keys import KeyStore
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator
from tests.conftest import LOCAL
from tests.retrieval_corpus import DOCS, put


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # the answer text is not under test: the echo generator writes it
    data_dir = tmp_path_factory.mktemp("api-filters")
    container = Container(Settings(data_dir=data_dir), generator=EchoGenerator())
    for spec in DOCS:
        put(container, spec)
    key = KeyStore(container.settings.auth_path).create("admin", scopes=["admin"]).key
    app = create_app(container, load_in_background=False)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}, base_url=LOCAL) as c:
        yield c


def sources(body: dict[str, object]) -> set[str]:
    return {Path(c["source"]).name for c in body["citations"]}  # type: ignore[index,union-attr]


def retrieved(client: TestClient, **request: object) -> set[str]:
    r = client.post("/v1/retrieve", json={"question": "parking", "top_k": 10, **request})
    assert r.status_code == 200, r.text
    return {Path(p["source"]).name for p in r.json()["passages"]}


def test_filters_limit_the_cited_sources(client: TestClient) -> None:
    assert retrieved(client, filters={"doc_types": ["pdf"]}) == {"leave.pdf", "board.pdf"}
    r = client.post(
        "/v1/query",
        json={"question": "parking", "top_k": 10, "filters": {"doc_types": ["pdf"]}},
    )
    assert r.status_code == 200, r.text
    assert sources(r.json()) and sources(r.json()) <= {"leave.pdf", "board.pdf"}


def test_groups_restrict_what_a_caller_sees(client: TestClient) -> None:
    everyone = retrieved(client)
    nobody = retrieved(client, groups=[])
    hr = retrieved(client, groups=["hr"])
    assert {"leave.pdf", "board.pdf", "expenses.docx"} <= everyone
    assert nobody == {"parking.md", "canteen.md", "manual.md"}
    assert hr == nobody | {"leave.pdf"}
    answer = client.post("/v1/query", json={"question": "parking", "top_k": 10, "groups": []})
    assert sources(answer.json()) <= nobody


def test_section_date_and_tag_filters_combine(client: TestClient) -> None:
    r = client.post(
        "/v1/query",
        json={
            "question": "parking",
            "top_k": 10,
            "filters": {"after": "2024-01-01", "tags": ["policy"], "source": "*.pdf"},
        },
    )
    assert sources(r.json()) == {"board.pdf"}


def test_bad_filters_are_client_errors(client: TestClient) -> None:
    unknown = client.post("/v1/query", json={"question": "x", "filters": {"colour": "red"}})
    assert unknown.status_code == 422
    bad_date = client.post("/v1/query", json={"question": "x", "filters": {"after": "soon"}})
    assert bad_date.status_code == 400
    assert "date" in bad_date.json()["error"]["message"]
