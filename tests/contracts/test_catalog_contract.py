"""The catalog contract, run on both databases it lives in: a SQLite file (embedded mode) and a
PostgreSQL schema (server mode, on a server started on loopback by ``postgres_url``).

The catalog owns the manifest and chunk texts, the manifest owns the ingestion journal, and the
ingestion lock keeps writers apart; ingestion, search and the API rely on every rule below in
either mode.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.manifest import Manifest
from rag.errors import BusyError, NotFoundError, StoreError
from rag.stores.catalog import Catalog, DocumentRecord
from rag.types import Chunk


def chunk(doc: str, i: int, text: str, source: str, **kw: object) -> Chunk:
    return Chunk(id=f"{doc}-{i}", doc_id=doc, text=text, source=source, chunk_index=i, **kw)  # type: ignore[arg-type]


def open_catalog(kind: str, where: str) -> Catalog:
    if kind == "sqlite":
        return Catalog(Path(where))
    from rag.stores.postgres import PostgresDatabase

    url, schema = where.split("#")
    return Catalog(PostgresDatabase(url, schema=schema))


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(kind, address): a catalog's address another process can open too."""
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "index.sqlite3")
    from tests.pg_server import fresh_database

    return "postgresql", fresh_database(request.getfixturevalue("postgres_url")) + "#docs"


@pytest.fixture
def catalog(where: tuple[str, str]) -> Catalog:
    return open_catalog(*where)


def add(catalog: Catalog, doc: str, source: str, texts: list[str], **kw: object) -> list[str]:
    record = DocumentRecord(doc, source, size=10, mtime=5.0, content_hash=f"h-{doc}", **kw)  # type: ignore[arg-type]
    chunks = [
        chunk(doc, i, t, source, page=i + 1, groups=record.groups, tags=("policy",))
        for i, t in enumerate(texts)
    ]
    return catalog.replace_document(record, chunks)


def test_a_document_is_stored_whole_and_read_back_field_for_field(catalog: Catalog) -> None:
    record = DocumentRecord(
        "d1", "/docs/leave.pdf", size=1234, mtime=17.5, content_hash="abc", title="Leave",
        doc_type="pdf", groups=("hr", "legal"), metadata={"profile": {"company": "Acme"}},
    )  # fmt: skip
    first = Chunk(
        id="d1-0", doc_id="d1", text="Staff get 28 days.", source="/docs/leave.pdf",
        title="Leave", section="Benefits > Leave", page=3, page_end=4, kinds="text,table",
        chunk_index=0, content_hash="c0", mtime=17.5, doc_type="pdf", groups=("hr", "legal"),
        tags=("policy", "q1"), page_breaks=((12, 4),),
    )  # fmt: skip
    assert catalog.replace_document(record, [first]) == []
    got = catalog.get_document("d1")
    assert (got.source, got.size, got.mtime, got.content_hash, got.title, got.doc_type) == (
        "/docs/leave.pdf", 1234, 17.5, "abc", "Leave", "pdf",
    )  # fmt: skip
    assert got.groups == ("hr", "legal") and got.n_chunks == 1 and got.status == "indexed"
    assert got.metadata == {"profile": {"company": "Acme"}} and got.indexed_at > 0
    assert catalog.chunks_of("d1") == [first]
    assert catalog.chunks_by_id(["d1-0", "nope"]) == {"d1-0": first}
    assert catalog.page_counts(["d1"]) == {"d1": 4}
    assert catalog.profiles(["d1", "nope"]) == {"d1": {"company": "Acme"}}
    assert catalog.find_by_source("/docs/leave.pdf") is not None
    assert catalog.find_by_source("/docs/other.pdf") is None


def test_replacing_swaps_the_chunks_and_returns_the_old_ids(catalog: Catalog) -> None:
    add(catalog, "d1", "/docs/a.md", ["one", "two", "three"])
    old = add(catalog, "d1", "/docs/a.md", ["uno"])
    assert sorted(old) == ["d1-0", "d1-1", "d1-2"]
    assert [c.text for c in catalog.chunks_of("d1")] == ["uno"]
    assert catalog.chunk_count() == 1 and catalog.all_chunk_ids() == {"d1-0"}
    assert catalog.lexical.search("uno", 5)[0][0] == "d1-0"
    assert catalog.lexical.search("three", 5) == []


def test_a_renamed_id_for_the_same_source_replaces_the_old_row(catalog: Catalog) -> None:
    add(catalog, "old", "/docs/a.md", ["text"])
    add(catalog, "new", "/docs/a.md", ["text"])
    assert [d.doc_id for d in catalog.documents()] == ["new"]


def test_delete_removes_the_document_its_chunks_and_its_keywords(catalog: Catalog) -> None:
    add(catalog, "d1", "/docs/a.md", ["annual leave"])
    add(catalog, "d2", "/docs/b.md", ["pension"])
    assert catalog.delete_document("d1") == ["d1-0"]
    assert catalog.all_chunk_ids() == {"d2-0"}
    assert catalog.lexical.indexed_ids() == {"d2-0"}
    with pytest.raises(NotFoundError):
        catalog.delete_document("d1")
    with pytest.raises(NotFoundError):
        catalog.get_document("d1")


def test_a_failure_inside_a_swap_leaves_the_previous_version_whole(catalog: Catalog) -> None:
    add(catalog, "d1", "/docs/a.md", ["annual leave"])
    with pytest.raises(RuntimeError), catalog.atomic():
        add(catalog, "d1", "/docs/a.md", ["changed text"])
        add(catalog, "d2", "/docs/b.md", ["attachment"])
        raise RuntimeError("crash mid-swap")
    assert [c.text for c in catalog.chunks_of("d1")] == ["annual leave"]
    assert [d.doc_id for d in catalog.documents()] == ["d1"]
    assert catalog.lexical.indexed_ids() == {"d1-0"}


def test_a_failed_file_keeps_its_indexed_version(catalog: Catalog) -> None:
    add(catalog, "d1", "/docs/a.md", ["kept"])
    catalog.mark_failed(DocumentRecord("d1", "/docs/a.md", size=99, mtime=9.0), "cannot parse")
    catalog.mark_failed(DocumentRecord("d2", "/docs/bad.pdf", doc_type="pdf"), "encrypted")
    d1, d2 = catalog.get_document("d1"), catalog.get_document("d2")
    assert (d1.status, d1.error, d1.size) == ("failed", "cannot parse", 99)
    assert [c.text for c in catalog.chunks_of("d1")] == ["kept"]
    assert (d2.status, d2.error, d2.n_chunks) == ("failed", "encrypted", 0)
    catalog.touch("d1", 100, 10.0)
    assert (catalog.get_document("d1").size, catalog.get_document("d1").mtime) == (100, 10.0)


def test_listing_pages_by_source_and_filters(catalog: Catalog) -> None:
    add(catalog, "a", "/docs/hr/a_1%.md", ["x"])
    add(catalog, "b", "/docs/hr/b.pdf", ["x"], groups=("hr",), doc_type="pdf")
    add(catalog, "c", "/docs/fin/c.pdf", ["x"], groups=("finance",), doc_type="pdf")
    catalog.mark_failed(DocumentRecord("f", "/docs/z.txt"), "bad")
    assert [d.doc_id for d in catalog.list_documents(limit=2)] == ["c", "a"]
    assert [d.doc_id for d in catalog.list_documents(after="/docs/hr/a_1%.md")] == ["b", "f"]
    assert [d.doc_id for d in catalog.list_documents(groups=frozenset({"hr"}))] == ["a", "b", "f"]
    assert [d.doc_id for d in catalog.list_documents(groups=frozenset())] == ["a", "f"]
    assert [d.doc_id for d in catalog.list_documents(status="failed")] == ["f"]
    assert [d.doc_id for d in catalog.list_documents(doc_type=".PDF")] == ["c", "b"]
    assert [d.doc_id for d in catalog.list_documents(name="_1%")] == ["a"]  # taken literally
    assert [d.doc_id for d in catalog.list_documents(name="a_")] == ["a"]
    assert catalog.list_documents(name="1_%") == []


def test_sources_are_ordered_byte_by_byte_and_their_common_folder_found(catalog: Catalog) -> None:
    for doc, source in [("u", "/d/Zeta.md"), ("l", "/d/alpha.md"), ("s", "/d/sub-x/b.md"),
                        ("t", "/d/sub/a.md"), ("o", "/other/x.md")]:  # fmt: skip
        add(catalog, doc, source, ["x"])
    assert [d.source for d in catalog.documents()] == [
        "/d/Zeta.md", "/d/alpha.md", "/d/sub-x/b.md", "/d/sub/a.md", "/other/x.md",
    ]  # fmt: skip
    assert catalog.source_root() == "/"
    assert catalog.source_root(outside="/other/") == "/d/"


def test_globs_children_neighbours_and_live_ids(catalog: Catalog) -> None:
    add(catalog, "m", "/mail/m.eml", ["mail body"])
    add(catalog, "m1", "/mail/m.eml#att/b.pdf", ["b"], parent_id="m")
    add(catalog, "m2", "/mail/m.eml#att/a.pdf", ["a"], parent_id="m")
    add(catalog, "d", "/docs/long.md", [f"part {i}" for i in range(6)])
    assert [d.doc_id for d in catalog.children_of("m")] == ["m2", "m1"]
    assert sorted(catalog.doc_ids_matching("*.pdf")) == ["m1", "m2"]
    assert catalog.doc_ids_matching("long.md") == ["d"]  # a relative glob matches the end
    assert catalog.doc_ids_matching("/docs/l?ng.[a-m]d") == ["d"]
    assert catalog.doc_ids_matching("ong.md") == []
    assert [c.chunk_index for c in catalog.neighbors("d", 3, 1)] == [2, 3, 4]
    ids = [f"d-{i}" for i in range(6)] + ["gone"]
    assert sorted(catalog.live(ids)) == ids[:-1]
    assert catalog.doc_ids_of(["d-0", "m-0", "gone"]) == {"d-0": "d", "m-0": "m"}
    assert sorted(catalog.chunk_ids(["m", "m1"])) == ["m-0", "m1-0"]
    many = [f"x{i}" for i in range(1200)] + ["d-5"]  # more than one batch of placeholders
    assert catalog.live(many) == ["d-5"]


def test_the_journal_recovers_orphans_and_marks_rewritten_documents(catalog: Catalog) -> None:
    class Store:
        def __init__(self) -> None:
            self.deleted: list[str] = []

        def delete(self, ids: list[str]) -> None:
            self.deleted.extend(ids)

    add(catalog, "d1", "/docs/a.md", ["text"])
    manifest = Manifest(catalog)
    manifest.journal_add(["d1-0", "orphan-1", "orphan-1"], rewritten=["d1-0"])
    assert manifest.journal_size() == 2
    store = Store()
    assert manifest.recover(store) == 1  # type: ignore[arg-type]
    assert store.deleted == ["orphan-1"]
    assert manifest.journal_size() == 0
    d1 = catalog.get_document("d1")
    assert (d1.mtime, d1.content_hash) == (-1, "")  # re-parsed by the next run
    manifest.journal_add(["a", "b"])
    manifest.journal_remove(["a", "b"])
    assert manifest.journal_size() == 0


def test_a_second_catalog_on_the_same_address_sees_every_write(where: tuple[str, str]) -> None:
    one, two = open_catalog(*where), open_catalog(*where)
    add(one, "d1", "/docs/a.md", ["annual leave"])
    assert two.get_document("d1").n_chunks == 1
    assert two.lexical.search("annual leave", 3)[0][0] == "d1-0"
    two.delete_document("d1")
    assert one.documents() == []


def test_one_ingestion_at_a_time_across_processes(where: tuple[str, str]) -> None:
    catalog = open_catalog(*where)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from tests.contracts.test_catalog_contract import open_catalog
            with open_catalog({where[0]!r}, {where[1]!r}).ingest_lock():
                print("locked", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with (
            pytest.raises(BusyError, match="another ingestion is running") as busy,
            catalog.ingest_lock(),
        ):
            pass
        assert f"pid {holder.pid}" in str(busy.value)  # who holds it
    finally:
        holder.kill()
        holder.wait()
    with catalog.ingest_lock(), catalog.ingest_lock():  # free again, and re-entrant
        pass


def test_an_unreachable_postgresql_is_a_clear_error() -> None:
    from rag.stores.postgres import PostgresDatabase
    from tests.serving import free_port

    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none"
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as caught:
        Catalog(PostgresDatabase(url, schema="x"))
    assert "secret" not in str(caught.value)
