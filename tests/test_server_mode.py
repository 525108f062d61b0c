"""Server mode: processes that share one PostgreSQL and one Chroma server see each other's changes.

Two containers stand for two API processes and a third for an ingestion worker, each with a
data directory of its own (as on three hosts); the catalog, the lexical index and the ingestion
lock are in PostgreSQL, the vectors in the Chroma server. The embedder is the hashing fake: this
is about where things are stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ingest.doctor import Doctor
from ingest.pipeline import Ingestor
from rag.collections import CollectionSet
from rag.container import Container
from rag.errors import ConfigurationError, InvalidRequestError
from rag.settings import Settings
from rag.stores.pg_lexical_index import PostgresLexicalIndex
from rag.stores.postgres import PostgresDatabase
from rag.testing import HashingEmbedder
from tests.contracts.conftest import chroma_server  # noqa: F401  (session fixture)
from tests.pg_server import fresh_database, postgres_url  # noqa: F401  (session fixture)


def server_settings(
    data_dir: Path, pg: str, chroma: tuple[str, int], collection: str = ""
) -> Settings:
    store = {
        "mode": "server",
        "postgres_url": pg,
        "chroma_host": chroma[0],
        "chroma_port": chroma[1],
        "collection": collection or f"sm-{uuid.uuid4().hex[:8]}",
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
    pg, name = fresh_database(postgres_url), f"sm-{uuid.uuid4().hex[:8]}"
    api_a, api_b, worker = (
        Container(
            server_settings(tmp_path / host, pg, chroma_server, name), embedder=HashingEmbedder()
        )
        for host in ("host-a", "host-b", "host-c")
    )
    assert isinstance(api_a.lexical_index, PostgresLexicalIndex)
    assert isinstance(api_a.catalog.db, PostgresDatabase)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave each year.\n")
    ingestor = Ingestor(worker.embedder, worker.vector_store, worker.catalog, workers=1)
    ingestor.ingest(docs)
    for api in (api_a, api_b):
        for method in ("lexical", "dense", "hybrid"):
            hits = api.retriever.retrieve("annual leave days", 3, method=method)  # type: ignore[arg-type]
            assert [p.chunk.source for p in hits] == [str(docs / "leave.md")], method
        assert [d.source for d in api.catalog.documents()] == [str(docs / "leave.md")]
    (docs / "leave.md").unlink()
    ingestor.ingest(docs, prune=True)
    for api in (api_a, api_b):
        assert api.retriever.retrieve("annual leave days", 3) == []
        assert api.lexical_index.count() == 0 and api.catalog.documents() == []
    for host in ("host-a", "host-b", "host-c"):  # nothing of the index is kept on a host
        assert not list((tmp_path / host).rglob("index.sqlite3"))


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


def test_doctor_checks_and_repairs_a_server_mode_index(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
    chroma_server: tuple[str, int],  # noqa: F811
) -> None:
    settings = server_settings(tmp_path / "data", fresh_database(postgres_url), chroma_server)
    container = Container(settings, embedder=HashingEmbedder())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave each year.\n")
    (docs / "pay.md").write_text("# Pay\n\nSalaries are paid on the 25th of each month.\n")
    Ingestor(container.embedder, container.vector_store, container.catalog, workers=1).ingest(docs)
    doctor = Doctor(container)
    assert doctor.check().consistent
    lexical = container.lexical_index
    lexical.remove([container.catalog.documents()[0].doc_id])  # a keyword row lost
    assert doctor.check().lexical_mismatch
    after = doctor.repair()
    assert after.consistent and after.repaired["lexical_rebuilt"] == 1
    assert lexical.indexed_ids() == container.catalog.all_chunk_ids()


def test_backup_of_a_server_mode_data_directory_is_refused(tmp_path: Path) -> None:
    env = os.environ | {
        "RAGSTEAD_STORE__MODE": "server",
        "RAGSTEAD_STORE__POSTGRES_URL": "postgresql://127.0.0.1:1/none",
        "RAGSTEAD_STORE__CHROMA_HOST": "127.0.0.1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "backup", str(tmp_path / "copy"),
         "--data-dir", str(tmp_path / "data")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "server mode" in done.stderr and "pg_dump" in done.stderr
    assert not (tmp_path / "copy").exists()


def test_collections_are_shared_by_every_host(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
    chroma_server: tuple[str, int],  # noqa: F811
) -> None:
    pg, name = fresh_database(postgres_url), f"sm-{uuid.uuid4().hex[:8]}"
    host_a, host_b = (
        CollectionSet(Container(server_settings(tmp_path / h, pg, chroma_server, name),
                                embedder=HashingEmbedder()))
        for h in ("host-a", "host-b")
    )  # fmt: skip
    host_a.create("legal")
    assert host_b.names() == ["default", "legal"] and host_b.exists("legal")
    with pytest.raises(InvalidRequestError, match="exists"):
        host_b.create("legal")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "nda.md").write_text("# NDA\n\nThe notice period is ninety days.\n")
    legal = host_b.container("legal")
    Ingestor(legal.embedder, legal.vector_store, legal.catalog, workers=1).ingest(docs)
    assert host_a.container("legal").catalog.chunk_count() == 1
    assert host_a.container("default").catalog.chunk_count() == 0
    host_a.delete("legal")
    assert host_b.names() == ["default"] and not host_b.exists("legal")
    import psycopg

    with psycopg.connect(pg) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    assert f"{name}_legal" not in schemas and name in schemas


def test_postgres_database_takes_sqlite_style_sql(postgres_url: str) -> None:  # noqa: F811
    db = PostgresDatabase(fresh_database(postgres_url), schema="style")
    conn = db.connect()
    assert conn.execute("SELECT '100%'").fetchone()[0] == "100%"  # nothing to fill: as written
    row = conn.execute("SELECT '5%' || ? AS label, ? AS n", ("x", 7)).fetchone()
    assert (row[0], row["label"], row["n"]) == ("5%x", "5%x", 7)
    with db.transaction() as outer:
        outer.execute("CREATE TABLE t (v text)")
        with db.transaction() as inner:  # joins the outer transaction
            inner.executemany("INSERT INTO t VALUES (?)", [("a",), ("b",)])
    assert [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")] == ["a", "b"]
    with pytest.raises(RuntimeError), db.transaction() as conn2:
        conn2.execute("INSERT INTO t VALUES (?)", ("c",))
        raise RuntimeError("rolled back")
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    unopened = PostgresDatabase("postgresql://rag:s3cret@db.internal:5432/ragstead")
    assert unopened.where == "PostgreSQL postgresql://rag:***@db.internal:5432/ragstead"
