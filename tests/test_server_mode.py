"""Server mode: processes that share one PostgreSQL and one Chroma server see each other's changes.

Two containers stand for two API processes and a third for an ingestion worker; they share the
data directory (the catalog stays in SQLite there), the PostgreSQL lexical index and the Chroma
server. The embedder is the hashing fake: this is about where things are stored.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from rag.container import Container
from rag.errors import ConfigurationError
from rag.settings import Settings
from rag.stores.pg_lexical_index import PostgresLexicalIndex
from rag.testing import HashingEmbedder
from tests.contracts.conftest import chroma_server  # noqa: F401  (session fixture)
from tests.pg_server import fresh_database, postgres_url  # noqa: F401  (session fixture)


def server_settings(data_dir: Path, pg: str, chroma: tuple[str, int]) -> Settings:
    store = {
        "mode": "server",
        "postgres_url": pg,
        "chroma_host": chroma[0],
        "chroma_port": chroma[1],
        "collection": f"sm-{uuid.uuid4().hex[:8]}",
    }
    return Settings(data_dir=data_dir, store=store)  # type: ignore[arg-type]


def test_server_mode_without_its_servers_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, store={"mode": "server"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"postgres_url and store\.chroma_host"):
        _ = Container(settings, embedder=HashingEmbedder()).catalog
    with pytest.raises(ConfigurationError, match=r"store\.postgres_url"):
        _ = Container(settings, embedder=HashingEmbedder()).vector_store


def test_every_process_sees_every_change(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
    chroma_server: tuple[str, int],  # noqa: F811
) -> None:
    settings = server_settings(tmp_path / "data", fresh_database(postgres_url), chroma_server)
    api_a, api_b, worker = (Container(settings, embedder=HashingEmbedder()) for _ in range(3))
    assert isinstance(api_a.lexical_index, PostgresLexicalIndex)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave each year.\n")
    ingestor = Ingestor(worker.embedder, worker.vector_store, worker.catalog, workers=1)
    ingestor.ingest(docs)
    for api in (api_a, api_b):
        for method in ("lexical", "dense", "hybrid"):
            hits = api.retriever.retrieve("annual leave days", 3, method=method)  # type: ignore[arg-type]
            assert [p.chunk.source for p in hits] == [str(docs / "leave.md")], method
    (docs / "leave.md").unlink()
    ingestor.ingest(docs, prune=True)
    for api in (api_a, api_b):
        assert api.retriever.retrieve("annual leave days", 3) == []
        assert api.lexical_index.count() == 0


def test_collections_keep_their_own_keyword_index(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
    chroma_server: tuple[str, int],  # noqa: F811
) -> None:
    settings = server_settings(tmp_path / "data", fresh_database(postgres_url), chroma_server)
    default = Container(settings, embedder=HashingEmbedder())
    hr = Container(settings.for_collection("hr"), embedder=HashingEmbedder())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pay.md").write_text("# Pay\n\nSalaries are paid on the 25th of each month.\n")
    Ingestor(hr.embedder, hr.vector_store, hr.catalog, workers=1).ingest(docs)
    assert hr.lexical_index.count() == 1
    assert default.lexical_index.count() == 0
    assert default.lexical_index.search("salaries paid", 5) == []
