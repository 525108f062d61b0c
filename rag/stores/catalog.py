"""The catalog: the document manifest (``documents``) and chunk texts (``chunks``).

It owns both tables and keeps the lexical index (``rag.stores.lexical_index``) in step, in
one database (``rag.stores.database``): a SQLite file in the data directory, or in server mode
a PostgreSQL schema that every host shares. Replacing a document's chunks, its lexical rows and
its manifest row is one transaction; a query sees a document's old chunks or its new ones, never
both or neither. The vector store holds embeddings by chunk id; the catalog says which ids are
live.

Example::

    catalog = Catalog(data_dir / "index.sqlite3")
    # server mode: Catalog(PostgresDatabase(url, schema="ragstead"))
    catalog.replace_document(DocumentRecord("d1", "/docs/a.md"), chunks)
    hits = catalog.lexical.search("annual leave", k=10)
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import NotFoundError, StoreError
from rag.stores.database import Database
from rag.stores.lexical_index import LexicalIndex, SqliteLexicalIndex
from rag.stores.sqlite import SqliteDatabase
from rag.types import Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'indexed',
    error TEXT,
    title TEXT NOT NULL DEFAULT '',
    doc_type TEXT NOT NULL DEFAULT '',
    groups TEXT NOT NULL DEFAULT '',
    parent_id TEXT,
    n_chunks INTEGER NOT NULL DEFAULT 0,
    indexed_at REAL NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    section TEXT NOT NULL DEFAULT '',
    page INTEGER,
    page_end INTEGER,
    kinds TEXT NOT NULL DEFAULT 'text',
    content_hash TEXT NOT NULL DEFAULT '',
    mtime REAL NOT NULL DEFAULT 0,
    doc_type TEXT NOT NULL DEFAULT '',
    groups TEXT NOT NULL DEFAULT '',
    page_breaks TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, chunk_index);
CREATE INDEX IF NOT EXISTS documents_parent ON documents(parent_id);
"""
# The same tables in PostgreSQL; sources compare byte by byte (COLLATE "C"), as in SQLite, so
# paging by source and the common folder of the smallest and largest source hold.
_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id text PRIMARY KEY,
    source text COLLATE "C" NOT NULL UNIQUE,
    size bigint NOT NULL DEFAULT 0,
    mtime double precision NOT NULL DEFAULT 0,
    content_hash text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'indexed',
    error text,
    title text NOT NULL DEFAULT '',
    doc_type text NOT NULL DEFAULT '',
    groups text NOT NULL DEFAULT '',
    parent_id text,
    n_chunks integer NOT NULL DEFAULT 0,
    indexed_at double precision NOT NULL DEFAULT 0,
    metadata text NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks (
    id text PRIMARY KEY,
    doc_id text NOT NULL,
    chunk_index integer NOT NULL,
    text text NOT NULL,
    source text COLLATE "C" NOT NULL,
    title text NOT NULL DEFAULT '',
    section text NOT NULL DEFAULT '',
    page integer,
    page_end integer,
    kinds text NOT NULL DEFAULT 'text',
    content_hash text NOT NULL DEFAULT '',
    mtime double precision NOT NULL DEFAULT 0,
    doc_type text NOT NULL DEFAULT '',
    groups text NOT NULL DEFAULT '',
    page_breaks text NOT NULL DEFAULT '',
    tags text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, chunk_index);
CREATE INDEX IF NOT EXISTS documents_parent ON documents(parent_id);
"""


@dataclass
class DocumentRecord:
    """One manifest row: a source file and what was indexed from it."""

    doc_id: str
    source: str
    size: int = 0
    mtime: float = 0.0
    content_hash: str = ""
    status: str = "indexed"
    error: str | None = None
    title: str = ""
    doc_type: str = ""
    groups: tuple[str, ...] = ()
    parent_id: str | None = None
    n_chunks: int = 0
    indexed_at: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


def chunk_from_row(row: Any) -> Chunk:
    """A ``chunks`` row (read by column name) as a ``Chunk``."""
    return Chunk(
        id=row["id"],
        doc_id=row["doc_id"],
        text=row["text"],
        source=row["source"],
        title=row["title"],
        section=row["section"],
        page=row["page"],
        page_end=row["page_end"],
        kinds=row["kinds"],
        chunk_index=row["chunk_index"],
        content_hash=row["content_hash"],
        mtime=row["mtime"],
        doc_type=row["doc_type"],
        groups=tuple(g for g in row["groups"].split(",") if g),
        page_breaks=_decode_page_breaks(row["page_breaks"]),
        tags=tuple(t for t in row["tags"].split(",") if t),
    )


def _encode_page_breaks(breaks: Sequence[tuple[int, int]]) -> str:
    """'offset:page,offset:page' (empty for chunks within one page)."""
    return ",".join(f"{offset}:{page}" for offset, page in breaks)


def _decode_page_breaks(text: str) -> tuple[tuple[int, int], ...]:
    pairs = (item.split(":") for item in (text or "").split(",") if ":" in item)
    return tuple((int(offset), int(page)) for offset, page in pairs)


def _doc_from_row(row: Any) -> DocumentRecord:
    return DocumentRecord(
        doc_id=row["doc_id"],
        source=row["source"],
        size=row["size"],
        mtime=row["mtime"],
        content_hash=row["content_hash"],
        status=row["status"],
        error=row["error"],
        title=row["title"],
        doc_type=row["doc_type"],
        groups=tuple(g for g in row["groups"].split(",") if g),
        parent_id=row["parent_id"],
        n_chunks=row["n_chunks"],
        indexed_at=row["indexed_at"],
        metadata=json.loads(row["metadata"] or "{}"),
    )


_SQL_BATCH = 500
_DOC_COLUMNS = (
    "doc_id, source, size, mtime, content_hash, status, error, title, doc_type, groups,"
    " parent_id, n_chunks, indexed_at, metadata"
)


_DOC_UPDATE = ", ".join(f"{c.strip()}=excluded.{c.strip()}" for c in _DOC_COLUMNS.split(",")[1:])


def _in_batches(ids: Sequence[str]) -> Iterator[tuple[list[str], str]]:
    """``ids`` in slices SQLite accepts, each with its ``?,?,...`` placeholders."""
    for start in range(0, len(ids), _SQL_BATCH):
        part = list(ids[start : start + _SQL_BATCH])
        yield part, ",".join("?" * len(part))


class Catalog:
    """Manifest and chunk texts in one database (a SQLite file, or a PostgreSQL schema), with
    the lexical index kept in step inside the same transactions."""

    def __init__(self, database: Path | Database, *, lexical: LexicalIndex | None = None) -> None:
        self.db: Database = SqliteDatabase(database) if isinstance(database, Path) else database
        if isinstance(self.db, SqliteDatabase):
            try:
                self._migrate(self.db.connect())
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the index at {self.db.path}: {exc}") from exc
            self.db.schema_script(_SCHEMA)
            self.lexical: LexicalIndex = lexical or SqliteLexicalIndex(self.db)
        else:
            self.db.schema_script(_PG_SCHEMA)
            if lexical is None:
                from rag.stores.pg_lexical_index import PostgresLexicalIndex
                from rag.stores.postgres import PostgresDatabase

                assert isinstance(self.db, PostgresDatabase)
                lexical = PostgresLexicalIndex(self.db)
            self.lexical = lexical

    @property
    def where(self) -> str:
        """Where the catalog is, for messages: a file, or a PostgreSQL schema."""
        return self.db.where

    def ingest_lock(self, *, wait: bool = False) -> AbstractContextManager[object]:
        """The lock that lets one ingestion at a time write this catalog: a file beside the
        SQLite file, or a PostgreSQL advisory lock that holds across hosts."""
        return self.db.ingest_lock(wait=wait)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Bring an index written by an earlier version up to this schema."""
        columns = {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}
        if columns:
            for column in ("tags", "page_breaks"):  # added after the first released schema
                if column not in columns:
                    conn.execute(f"ALTER TABLE chunks ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")

    def _connect(self) -> Any:
        return self.db.connect()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction around several writes (a mail and its attachments swap together)."""
        with self.db.transaction():
            yield

    # -- documents ---------------------------------------------------------------------------

    def get_document(self, doc_id: str) -> DocumentRecord:
        """The manifest row of ``doc_id``; NotFoundError if unknown."""
        row = (
            self._connect().execute("SELECT * FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        )
        if row is None:
            raise NotFoundError(f"no document with id {doc_id}", hint="see `ragstead docs list`")
        return _doc_from_row(row)

    def find_by_source(self, source: str) -> DocumentRecord | None:
        """The manifest row for a source path, if indexed."""
        row = (
            self._connect().execute("SELECT * FROM documents WHERE source=?", (source,)).fetchone()
        )
        return _doc_from_row(row) if row else None

    def children_of(self, doc_id: str) -> list[DocumentRecord]:
        """Documents embedded in ``doc_id`` (mail attachments), by source."""
        rows = (
            self._connect()
            .execute("SELECT * FROM documents WHERE parent_id=? ORDER BY source", (doc_id,))
            .fetchall()
        )
        return [_doc_from_row(r) for r in rows]

    def documents(self) -> list[DocumentRecord]:
        """All manifest rows, by source."""
        rows = self._connect().execute("SELECT * FROM documents ORDER BY source").fetchall()
        return [_doc_from_row(r) for r in rows]

    def source_root(self, *, outside: str = "") -> str:
        """The deepest folder holding every document's source (those under ``outside`` left
        out), "" when there are none: the smallest and largest source share it."""
        sql = "SELECT min(source), max(source) FROM documents"
        params: tuple[str, ...] = ()
        if outside:
            escaped = outside.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql += " WHERE source NOT LIKE ? ESCAPE '\\'"
            params = (f"{escaped}%",)
        low, high = self._connect().execute(sql, params).fetchone()
        if not low:
            return ""
        common = os.path.commonpath([low, high]) if low != high else os.path.dirname(low)
        return common.rstrip("/") + "/"

    def list_documents(
        self,
        *,
        groups: frozenset[str] | None = None,
        status: str | None = None,
        doc_type: str | None = None,
        name: str | None = None,
        after: str = "",
        limit: int = 50,
    ) -> list[DocumentRecord]:
        """Documents by source, after the source ``after``: those a caller in ``groups`` may
        see (None: all), with the status, type and name (a substring of the source) given."""
        where = ["source > ?"]
        params: list[Any] = [after]
        if groups is not None:
            sql, group_params = self.db.groups_sql(groups)
            where.append(sql)
            params.extend(group_params)
        if status:
            where.append("status = ?")
            params.append(status)
        if doc_type:
            where.append("doc_type = ?")
            params.append(doc_type.lower().lstrip("."))
        if name:
            escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("source LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        sql = f"SELECT * FROM documents WHERE {' AND '.join(where)} ORDER BY source LIMIT ?"
        rows = self._connect().execute(sql, (*params, limit)).fetchall()
        return [_doc_from_row(r) for r in rows]

    def page_counts(self, doc_ids: Sequence[str]) -> dict[str, int]:
        """The last page each document's chunks reach (documents without pages left out)."""
        conn = self._connect()
        return {
            r[0]: int(r[1])
            for part, marks in _in_batches(doc_ids)
            for r in conn.execute(
                "SELECT doc_id, MAX(COALESCE(page_end, page)) FROM chunks"
                f" WHERE doc_id IN ({marks}) GROUP BY doc_id",
                part,
            )
            if r[1] is not None
        }

    def profiles(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Each document's profile (``rag.doc_profile``; documents without one left out)."""
        conn = self._connect()
        out: dict[str, dict[str, Any]] = {}
        for part, marks in _in_batches(list(doc_ids)):
            rows = conn.execute(
                f"SELECT doc_id, metadata FROM documents WHERE doc_id IN ({marks})", part
            )
            for doc_id, metadata in rows:
                profile = json.loads(metadata or "{}").get("profile")
                if isinstance(profile, dict):
                    out[doc_id] = profile
        return out

    def replace_document(self, record: DocumentRecord, chunks: Sequence[Chunk]) -> list[str]:
        """Swap a document's chunks and manifest row in one transaction; returns old chunk ids."""
        record.n_chunks = len(chunks)
        record.indexed_at = time.time()
        with self.db.transaction() as conn:
            old = self._delete_chunks(conn, record.doc_id)
            conn.execute(
                "DELETE FROM documents WHERE source=? AND doc_id<>?", (record.source, record.doc_id)
            )
            conn.execute(
                f"INSERT INTO documents ({_DOC_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                f" ON CONFLICT(doc_id) DO UPDATE SET {_DOC_UPDATE}",
                (
                    record.doc_id,
                    record.source,
                    record.size,
                    record.mtime,
                    record.content_hash,
                    record.status,
                    record.error,
                    record.title,
                    record.doc_type,
                    ",".join(record.groups),
                    record.parent_id,
                    record.n_chunks,
                    record.indexed_at,
                    json.dumps(record.metadata),
                ),
            )
            conn.executemany(
                "INSERT INTO chunks (id, doc_id, chunk_index, text, source, title, section,"
                " page, page_end, kinds, content_hash, mtime, doc_type, groups, page_breaks,"
                " tags)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        c.id,
                        c.doc_id,
                        c.chunk_index,
                        c.text,
                        c.source,
                        c.title,
                        c.section,
                        c.page,
                        c.page_end,
                        c.kinds,
                        c.content_hash,
                        c.mtime,
                        c.doc_type,
                        ",".join(c.groups),
                        _encode_page_breaks(c.page_breaks),
                        ",".join(c.tags),
                    )
                    for c in chunks
                ],
            )
            self.lexical.add(chunks)
        return old

    def mark_failed(self, record: DocumentRecord, error: str) -> None:
        """Record a file that could not be ingested; an indexed earlier version stays indexed."""
        with self.db.transaction() as conn:
            conn.execute(
                f"INSERT INTO documents ({_DOC_COLUMNS})"
                " VALUES (?,?,?,?,?,'failed',?,?,?,?,NULL,0,?,?)"
                " ON CONFLICT(doc_id) DO UPDATE SET size=excluded.size, mtime=excluded.mtime,"
                " content_hash=excluded.content_hash, status='failed', error=excluded.error,"
                " indexed_at=excluded.indexed_at",
                (
                    record.doc_id,
                    record.source,
                    record.size,
                    record.mtime,
                    record.content_hash,
                    error,
                    record.title,
                    record.doc_type,
                    ",".join(record.groups),
                    time.time(),
                    json.dumps(record.metadata),
                ),
            )

    def touch(self, doc_id: str, size: int, mtime: float) -> None:
        """A file whose bytes did not change got a new mtime: record it, keep its chunks."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE documents SET size=?, mtime=? WHERE doc_id=?", (size, mtime, doc_id)
            )

    def delete_document(self, doc_id: str) -> list[str]:
        """Remove a document and its chunks; returns the chunk ids to delete from vectors."""
        with self.db.transaction() as conn:
            found = conn.execute("SELECT 1 FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
            if found is None:
                raise NotFoundError(
                    f"no document with id {doc_id}", hint="see `ragstead docs list`"
                )
            old = self._delete_chunks(conn, doc_id)
            conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
        return old

    def _delete_chunks(self, conn: Any, doc_id: str) -> list[str]:
        rows = conn.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,)).fetchall()
        if rows:
            self.lexical.remove([doc_id])
            conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        return [r["id"] for r in rows]

    # -- chunks ------------------------------------------------------------------------------

    def doc_ids_of(self, chunk_ids: Iterable[str]) -> dict[str, str]:
        """The document of each live chunk among ``chunk_ids`` (no chunk text is read)."""
        found: dict[str, str] = {}
        conn = self._connect()
        for part, marks in _in_batches(list(chunk_ids)):
            for cid, doc_id in conn.execute(
                f"SELECT id, doc_id FROM chunks WHERE id IN ({marks})", part
            ):
                found[cid] = doc_id
        return found

    def chunks_by_id(self, ids: Iterable[str]) -> dict[str, Chunk]:
        """Live chunks among ``ids`` (unknown ids are left out)."""
        found: dict[str, Chunk] = {}
        conn = self._connect()
        for part, marks in _in_batches(list(ids)):
            for row in conn.execute(f"SELECT * FROM chunks WHERE id IN ({marks})", part):
                found[row["id"]] = chunk_from_row(row)
        return found

    def chunk_ids(self, doc_ids: Sequence[str]) -> list[str]:
        """Live chunk ids of these documents."""
        conn = self._connect()
        return [
            r[0]
            for part, marks in _in_batches(doc_ids)
            for r in conn.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", part)
        ]

    def live(self, ids: Sequence[str]) -> list[str]:
        """The ids among ``ids`` that are live chunks."""
        conn = self._connect()
        return [
            r[0]
            for part, marks in _in_batches(ids)
            for r in conn.execute(f"SELECT id FROM chunks WHERE id IN ({marks})", part)
        ]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order."""
        rows = (
            self._connect()
            .execute("SELECT * FROM chunks WHERE doc_id=? ORDER BY chunk_index", (doc_id,))
            .fetchall()
        )
        return [chunk_from_row(r) for r in rows]

    def chunk_count(self) -> int:
        """Number of live chunks."""
        return int(self._connect().execute("SELECT count(*) FROM chunks").fetchone()[0])

    def all_chunk_ids(self) -> set[str]:
        """Every live chunk id."""
        return {r[0] for r in self._connect().execute("SELECT id FROM chunks")}

    def doc_ids_matching(self, source_glob: str) -> list[str]:
        """Ids of the documents whose source matches a glob (see ``rag.filters``)."""
        sql, params = self.db.source_sql(source_glob)
        rows = self._connect().execute(f"SELECT doc_id FROM documents WHERE {sql}", params)
        return [r[0] for r in rows]

    def neighbors(self, doc_id: str, chunk_index: int, n: int) -> list[Chunk]:
        """A document's chunks from ``chunk_index - n`` to ``chunk_index + n``, in order."""
        rows = (
            self._connect()
            .execute(
                "SELECT * FROM chunks WHERE doc_id=? AND chunk_index BETWEEN ? AND ?"
                " ORDER BY chunk_index",
                (doc_id, chunk_index - n, chunk_index + n),
            )
            .fetchall()
        )
        return [chunk_from_row(r) for r in rows]
