"""One SQLite file shared by the catalog, the lexical index and ingestion's journal.

Each table has one owner module; they share this database object, so a document's swap (its
manifest row, chunk rows and lexical rows) is one transaction on one connection per thread.

Example::

    db = SqliteDatabase(data_dir / "index.sqlite3")
    with db.transaction() as conn:
        conn.execute("INSERT INTO ...")
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from rag.errors import StoreError
from rag.settings import make_folder
from rag.stores.locks import IngestLock
from rag.stores.sql_filters import groups_sql, source_sql


class SqliteDatabase:
    """A WAL-mode SQLite file: a connection per thread, nested writes join one transaction."""

    Error: type[Exception] = sqlite3.Error
    groups_sql = staticmethod(groups_sql)
    source_sql = staticmethod(source_sql)

    def __init__(self, path: Path) -> None:
        self.path = path
        make_folder(path.parent)
        self._local = threading.local()
        self._write_lock = threading.Lock()

    @property
    def where(self) -> str:
        """Where the tables are, for messages."""
        return str(self.path)

    def schema_script(self, script: str) -> None:
        """Create tables and indexes (``executescript`` commits: no transaction around it)."""
        try:
            self.connect().executescript(script)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the index at {self.path}: {exc}") from exc

    def ingest_lock(self, *, wait: bool = False) -> IngestLock:
        """One ingestion at a time on this file: ``flock`` on ``ingest.lock`` beside it."""
        return IngestLock(self.path.parent / "ingest.lock", wait=wait)

    def connect(self) -> sqlite3.Connection:
        """This thread's connection (rows as ``sqlite3.Row``)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the index at {self.path}: {exc}") from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a transaction opened inside another joins it."""
        conn = self.connect()
        if getattr(self._local, "depth", 0):
            yield conn
            return
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write to the index at {self.path}: {exc}") from exc
            self._local.depth = 1
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                _rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(
                        f"writing to the index at {self.path} failed: {exc}",
                        hint="the disk may be full or the data directory not writable: fix"
                        " that, then run the same command again (nothing was half-written)",
                    ) from exc
                raise
            finally:
                self._local.depth = 0


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction (SQLite may have rolled it back itself, on a full disk)."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
