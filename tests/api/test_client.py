"""The Python client, sync and async, against the real app served by uvicorn on 127.0.0.1:
keys, uploads with waiting, documents, queries, streaming, chat, collections."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.auth.keys import KeyStore
from api.client import AsyncRagsteadClient, RagsteadAPIError, RagsteadClient
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.serving import serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    container = Container(
        Settings(data_dir=tmp_path_factory.mktemp("client-data")),
        embedder=HashingEmbedder(),
        generator=EchoGenerator(),
    )
    admin = KeyStore(container.settings.auth_path).create("admin", scopes=["admin"]).key
    with serving(create_app(container, load_in_background=False)) as url:
        yield url, str(admin)


def test_the_sync_client_end_to_end(server: tuple[str, str], tmp_path: Path) -> None:
    url, admin_key = server
    leave = tmp_path / "leave.md"
    leave.write_text("# Leave\n\nFull-time staff receive 28 days of annual leave.")
    with RagsteadClient(url, api_key=admin_key) as admin:
        made = admin.create_key("hr-bot", groups=["hr"], scopes=["read", "write"])
        assert made["key"].startswith("rsk_") and made["status"] == "active"
    with RagsteadClient(url, api_key=made["key"]) as client:
        job = client.upload([leave], groups=["hr"], metadata={"site": "leeds"}, wait=True)
        assert job["status"] == "succeeded", job
        doc_id = job["files"][0]["doc_id"]
        [doc] = [d for d in client.documents() if d["id"] == doc_id]
        assert doc["groups"] == ["hr"] and doc["labels"] == {"site": "leeds"}
        assert client.download(doc_id).startswith(b"# Leave")
        assert "28 days" in client.query("How many days of annual leave?")["answer"]
        pieces = list(client.stream_query("How many days of annual leave?", mode="generative"))
        assert len(pieces) > 1 and "28 days" in client.last_answer["answer"]
        chat = client.chat([{"role": "user", "content": "How many days of annual leave?"}])
        assert chat["citations"]
        assert client.retrieve("annual leave", top_k=1)[0]["doc_id"] == doc_id
        assert client.relabel(doc_id, labels={"site": "york"})["labels"] == {"site": "york"}
        assert [c["name"] for c in client.collections()] == ["default"]
        with pytest.raises(RagsteadAPIError) as denied:
            client.create_key("sneaky", scopes=["admin"])
        assert denied.value.status == 403
        client.delete_document(doc_id)
        with pytest.raises(RagsteadAPIError) as gone:
            client.document(doc_id)
        assert gone.value.status == 404 and gone.value.kind == "NotFoundError"


def test_the_async_client(server: tuple[str, str], tmp_path: Path) -> None:
    url, admin_key = server
    note = tmp_path / "canteen.md"
    note.write_text("# Canteen\n\nThe canteen serves lunch from noon.")

    async def run() -> tuple[str, list[str], int]:
        async with AsyncRagsteadClient(url, api_key=admin_key) as client:
            job = await client.upload([note], wait=True)
            question = "When does the canteen serve lunch?"
            pieces = [p async for p in client.stream_query(question, mode="generative")]
            docs = await client.documents(name="canteen")
            await client.delete_document(job["files"][0]["doc_id"])
            return job["status"], pieces, len(docs)

    status, pieces, found = asyncio.run(run())
    assert status == "succeeded" and found == 1 and "noon" in "".join(pieces)
