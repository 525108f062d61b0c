"""Ingestion's bookkeeping beside the catalog: failed files, the vector journal and the run lock.

The catalog's ``documents`` table is the manifest (path, size, mtime, content hash, status,
error, chunk count; the chunk ids are its ``chunks`` rows). This module records what only
ingestion needs, through the catalog and in its database:

- a failed file is a ``documents`` row with ``status='failed'`` and the reason in ``error``; a
  changed file that now fails keeps its previous chunks (the row says so) until it parses again;
- the journal (table ``ingest_pending``) lists every vector id that may be in the vector store
  without being live in the catalog: ids about to be written, ids about to be replaced. It is
  filled before the vector store is touched and emptied after, so after a crash at any point
  :meth:`Manifest.recover` deletes exactly the orphans, without scanning the vector store;
- ids that a re-index keeps (the same id for a chunk that may now hold other text) are
  overwritten in place and also listed in ``ingest_rewrite``: after a crash their vectors may
  belong to either version, so :meth:`Manifest.recover` marks their documents changed and the
  next run re-indexes them (a kept id is never deleted, so it never loses its vector);
- the catalog's ``ingest_lock()`` (``rag.stores.locks``) keeps two ingestion runs from writing
  to one index at once.

The tables live in the catalog's database, a SQLite file or a PostgreSQL schema (server mode),
and the SQL is the same on both.

Example::

    manifest = Manifest(catalog)
    with catalog.ingest_lock():
        manifest.recover(store)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rag.errors import StoreError
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.vector_store import VectorStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ingest_pending (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS ingest_rewrite (id TEXT PRIMARY KEY);
"""
_SQL_BATCH = 500


class Manifest:
    """Ingestion's side of the catalog: failed and touched files, and the vector journal.

    It writes the ``documents`` table only through the catalog, and owns ``ingest_pending``
    in the catalog's database (the same connection, so no second writer).
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db = catalog.db
        try:
            self.db.schema_script(_SCHEMA)
        except StoreError as exc:
            raise StoreError(f"cannot open the manifest in {catalog.where}: {exc}") from exc

    def _write(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        self._write_all([(sql, rows)])

    def _write_all(self, statements: Sequence[tuple[str, Iterable[Sequence[object]]]]) -> None:
        """Run each statement over its rows, all in one transaction."""
        try:
            with self.db.transaction() as conn:
                for sql, rows in statements:
                    conn.executemany(sql, rows)
        except self.db.Error as exc:
            raise StoreError(f"manifest write failed: {exc}") from exc

    # -- documents -------------------------------------------------------------------------

    def mark_failed(self, record: DocumentRecord, error: str) -> None:
        """Record a file that could not be ingested; an indexed earlier version stays indexed."""
        self.catalog.mark_failed(record, error)

    def touch(self, doc_id: str, size: int, mtime: float) -> None:
        """A file whose bytes did not change got a new mtime: record it, keep its chunks."""
        self.catalog.touch(doc_id, size, mtime)

    def chunk_ids(self, doc_ids: Sequence[str]) -> list[str]:
        """Live chunk ids of these documents."""
        return self.catalog.chunk_ids(doc_ids)

    # -- the vector journal ------------------------------------------------------------------

    def journal_add(self, ids: Iterable[str], *, rewritten: Iterable[str] = ()) -> None:
        """Note vector ids that may be in the store without being live (before writing them),
        and the live ids whose vectors are about to be overwritten in place."""
        self._write_all(
            [
                (
                    "INSERT INTO ingest_pending(id) VALUES (?) ON CONFLICT DO NOTHING",
                    [(i,) for i in ids],
                ),
                (
                    "INSERT INTO ingest_rewrite(id) VALUES (?) ON CONFLICT DO NOTHING",
                    [(i,) for i in rewritten],
                ),
            ]
        )

    def journal_remove(self, ids: Iterable[str], *, rewritten: Iterable[str] = ()) -> None:
        """The store agrees with the catalog on these ids again."""
        self._write_all(
            [
                ("DELETE FROM ingest_pending WHERE id=?", [(i,) for i in ids]),
                ("DELETE FROM ingest_rewrite WHERE id=?", [(i,) for i in rewritten]),
            ]
        )

    def journal_size(self) -> int:
        """Ids in the journal (0 after every clean run)."""
        return int(self.db.connect().execute("SELECT count(*) FROM ingest_pending").fetchone()[0])

    def recover(self, store: VectorStore) -> int:
        """Delete journalled vectors the catalog does not hold (left by a crash); returns them.

        Documents whose live chunks were being overwritten in place are marked changed (no
        hash, no mtime), so the next run parses and re-indexes them.
        """
        conn = self.db.connect()
        pending = [r[0] for r in conn.execute("SELECT id FROM ingest_pending")]
        rewritten = [r[0] for r in conn.execute("SELECT id FROM ingest_rewrite")]
        if not pending and not rewritten:
            return 0
        live = set(self.catalog.live(pending))
        orphans = [i for i in pending if i not in live]
        if orphans:
            store.delete(orphans)
        stale = self._documents_of(self.catalog.live(rewritten))
        self._write_all(
            [
                ("UPDATE documents SET mtime=-1, content_hash='' WHERE doc_id=?", stale),
                ("DELETE FROM ingest_pending WHERE id=?", [(i,) for i in pending]),
                ("DELETE FROM ingest_rewrite WHERE id=?", [(i,) for i in rewritten]),
            ]
        )
        return len(orphans)

    def _documents_of(self, chunk_ids: Sequence[str]) -> list[tuple[str]]:
        """The documents holding these chunks, and their parents (the files to re-parse)."""
        docs: set[str] = set()
        conn = self.db.connect()
        for start in range(0, len(chunk_ids), _SQL_BATCH):
            part = list(chunk_ids[start : start + _SQL_BATCH])
            marks = ",".join("?" * len(part))
            rows = conn.execute(
                "SELECT d.doc_id, d.parent_id FROM documents d JOIN chunks c"
                f" ON c.doc_id = d.doc_id WHERE c.id IN ({marks})",
                part,
            )
            for doc_id, parent_id in rows:
                docs.add(doc_id)
                while parent_id and parent_id not in docs:  # up to the file itself
                    docs.add(parent_id)
                    row = conn.execute(
                        "SELECT parent_id FROM documents WHERE doc_id=?", (parent_id,)
                    ).fetchone()
                    parent_id = row[0] if row else None
        return [(d,) for d in sorted(docs)]
