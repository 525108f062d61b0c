"""Seeing another process's vector writes: reopen a local Chroma client when its files changed.

A Chroma ``PersistentClient`` keeps its segments (the HNSW index above all) in memory once
loaded, and never reads what another process writes to the same directory afterwards: a server
running while ``ragstead ingest`` adds documents would find the new chunks by BM25 only, and
``get`` of a new id fails, until it restarts. :class:`Freshness` notices such writes cheaply
(SQLite's ``PRAGMA data_version`` on Chroma's own ``chroma.sqlite3``: a few microseconds, and
it changes exactly when another connection has committed) and has the client reopened before
the next operation. The process's own writes are noted as seen, so they cost no reopen.

A reopen waits until no operation is running on the old client (a gate: many operations at
once, or one reopen alone), so an in-flight query never meets a closed client.

Example::

    freshness = Freshness(chroma_dir / "chroma.sqlite3", reopen=store.reopen)
    with freshness.access():          # reopens first if another process wrote
        collection.query(...)
    with freshness.access(writes=True):
        collection.upsert(...)        # our own commit does not count as news
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class DataVersion:
    """Whether any other connection committed to a SQLite file since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def read(self) -> int | None:
        """The file's data version as this connection sees it (None when it cannot be read)."""
        with self._lock:
            try:
                if self._conn is None:
                    if not self.path.exists():
                        return None
                    self._conn = sqlite3.connect(
                        f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
                    )
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                return None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class Freshness:
    """Reopens a client (``reopen``) before an operation once another process has written."""

    def __init__(self, sqlite_path: Path, reopen: Callable[[], None]) -> None:
        self._version = DataVersion(sqlite_path)
        self._reopen = reopen
        self._seen = self._version.read()
        self._cond = threading.Condition()
        self._users = 0
        self._local = threading.local()
        self.reopened = 0

    @contextmanager
    def access(self, *, writes: bool = False) -> Iterator[None]:
        """Run one operation on a current client; ``writes``: the operation commits."""
        depth = getattr(self._local, "depth", 0)
        if depth == 0:  # an operation inside another runs on the client that one checked
            self._refresh()
        with self._cond:
            self._users += 1
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            with self._cond:
                if writes:
                    self._seen = self._version.read()
                self._users -= 1
                if self._users == 0:
                    self._cond.notify_all()

    def invalidate(self) -> None:
        """Reopen before the next operation, whatever the version says (a read that met
        another process's write half-way)."""
        with self._cond:
            self._seen = None

    def _refresh(self) -> None:
        with self._cond:
            if self._version.read() == self._seen:
                return
            self._cond.wait_for(lambda: self._users == 0)
            current = self._version.read()
            if current == self._seen:  # another thread reopened while this one waited
                return
            self._reopen()
            self._seen = current
            self.reopened += 1
