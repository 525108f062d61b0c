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
from contextlib import contextmanager
from pathlib import Path

from rag.errors import StoreError


class SqliteDatabase:
    """A WAL-mode SQLite file: a connection per thread, nested writes join one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()

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
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._local.depth = 0
