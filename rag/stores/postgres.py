"""One PostgreSQL schema shared by the catalog, the lexical index and ingestion's journal.

Server mode's counterpart of ``rag.stores.sqlite.SqliteDatabase``, with the same two calls
(``connect`` and ``transaction``), so the catalog and the manifest run the same SQL on either:

- a connection per thread, opened on first use (again after the server dropped it), whose
  ``search_path`` starts with this collection's schema, so the tables keep their plain names
  (``documents``, ``chunks``) and every collection has its own;
- SQL written with SQLite's ``?`` placeholders runs unchanged (they become ``%s``), and rows
  answer both ``row[0]`` and ``row["doc_id"]`` as ``sqlite3.Row`` does;
- a transaction opened inside another joins it, so a document's swap (manifest row, chunk rows,
  keyword rows) commits or rolls back as one, as it does in the SQLite file.

Example::

    db = PostgresDatabase("postgresql://rag@db.internal/ragstead", schema="ragstead")
    with db.transaction() as conn:
        conn.execute("DELETE FROM chunks WHERE doc_id=?", ("d1",))
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from rag.errors import StoreError
from rag.stores.locks import PostgresIngestLock

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\?")
_SCHEMA_LOCK = 7206141  # the advisory lock that serialises schema creation across processes


def _translate(sql: str) -> str:
    """SQLite-style SQL in psycopg's style: ``%`` doubled, then ``?`` as ``%s`` (the SQL given
    holds no ``?`` inside a string literal)."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class Row(tuple):  # type: ignore[type-arg]
    """A result row read by position or by column name, as ``sqlite3.Row`` is."""

    _names: dict[str, int]

    def __new__(cls, names: dict[str, int], values: Sequence[Any]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)


def _row_factory(cursor: Any) -> Any:
    names = {col.name: i for i, col in enumerate(cursor.description or ())}
    return lambda values: Row(names, values)


class Connection:
    """A psycopg connection that takes SQLite-style SQL (``execute``, ``executemany``);
    ``raw`` is the psycopg connection itself."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if not params:  # no placeholders to fill: psycopg takes the text as it is
            return self.raw.execute(sql)
        return self.raw.execute(_translate(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self.raw.cursor() as cur:
                cur.executemany(_translate(sql), rows)


class PostgresDatabase:
    """A PostgreSQL database, and the schema this collection's tables live in."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise StoreError("server mode needs psycopg: pip install 'ragstead[server]'") from exc
        self._psycopg = psycopg
        self.Error: type[Exception] = psycopg.Error
        self.url = url
        self.schema = schema
        self._local = threading.local()
        if schema:
            from psycopg import sql

            create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            self.schema_script(create.as_string())

    @property
    def where(self) -> str:
        """Where the tables are, for messages (the URL without its password)."""
        safe = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", self.url)
        return f"PostgreSQL {safe}" + (f", schema {self.schema}" if self.schema else "")

    def _open(self) -> Any:
        try:
            raw = self._psycopg.connect(
                self.url, autocommit=True, connect_timeout=10, row_factory=_row_factory
            )
            if self.schema:
                from psycopg import sql

                raw.execute(
                    sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.schema))
                )
        except self._psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to {self.where}: {exc}",
                hint="check store.postgres_url and that the server is running",
            ) from exc
        return raw

    def connect(self) -> Connection:
        """This thread's connection (opened again if the server dropped it)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.raw.closed or conn.raw.broken:
            if not getattr(self._local, "depth", 0):
                conn = Connection(self._open())
                self._local.conn = conn
            else:
                raise StoreError(f"the connection to {self.where} was lost mid-transaction")
        return conn

    def raw(self) -> Any:
        """This thread's psycopg connection."""
        return self.connect().raw

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; a transaction opened inside another joins it. The ``finish`` of
        each ``transaction_state`` runs last inside it, once."""
        conn = self.connect()
        if getattr(self._local, "depth", 0):
            yield conn
            return
        self._local.depth = 1
        self._local.state = {}
        self._local.finish = []
        try:
            with conn.raw.transaction():
                yield conn
                for finish in self._local.finish:
                    finish()
        except self._psycopg.Error as exc:
            raise StoreError(
                f"writing to {self.where} failed: {exc}",
                hint="nothing was half-written: fix the cause, then run the same command again",
            ) from exc
        finally:
            self._local.depth = 0
            self._local.state = {}
            self._local.finish = []

    def transaction_state(self, key: str, make: Callable[[], T], finish: Callable[[T], None]) -> T:
        """A value kept for the rest of the open transaction under ``key`` (made by ``make`` on
        first use, handed to ``finish`` just before the commit; dropped on a rollback): a
        writer gathers there what it writes once per transaction rather than once per call."""
        if not getattr(self._local, "depth", 0):
            raise RuntimeError("transaction_state outside a transaction")
        state: dict[str, Any] = self._local.state
        if key not in state:
            value = state[key] = make()
            self._local.finish.append(lambda: finish(value))
        return state[key]  # type: ignore[no-any-return]

    def schema_script(self, script: str) -> None:
        """Create tables and indexes: one transaction, one process at a time."""
        try:
            with self.transaction() as conn:
                conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.raw.execute(script)
        except StoreError as exc:
            raise StoreError(f"cannot open the index in {self.where}: {exc}") from exc

    def ingest_lock(self, *, wait: bool = False) -> PostgresIngestLock:
        """One ingestion at a time on this schema, across every host (an advisory lock)."""
        return PostgresIngestLock(self, wait=wait)

    def lock_key(self) -> int:
        """A key for this schema's advisory locks (stable across processes and hosts)."""
        return zlib.crc32((self.schema or "public").encode()) & 0x7FFFFFFF

    def groups_sql(self, groups: frozenset[str], column: str = "groups") -> tuple[str, list[Any]]:
        """ "Unrestricted, or shared with one of ``groups``", in ``?`` style."""
        from rag.stores.pg_filters import pg_groups_sql

        sql, params = pg_groups_sql(groups, column)
        return sql.replace("%s", "?"), params

    def source_sql(self, pattern: str, column: str = "source") -> tuple[str, list[Any]]:
        """A source glob, in ``?`` style."""
        from rag.stores.pg_filters import pg_source_sql

        sql, params = pg_source_sql(pattern, column)
        return sql.replace("%s", "?"), params
