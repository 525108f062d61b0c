"""The ingestion lock: one ingestion at a time writes an index, wherever its writers run.

- :class:`IngestLock`: ``flock`` on a file beside the SQLite catalog (one host);
- :class:`PostgresIngestLock`: a session-level PostgreSQL advisory lock keyed by the catalog's
  schema, held on a connection of its own, so ingestion workers on different hosts take turns
  and a crashed holder's lock goes with its connection.

Both are re-entrant within a process (a sync that uploads, a repair that re-embeds) and, with
``wait=False``, raise :class:`BusyError` at once when another process holds the lock.

Example::

    with catalog.ingest_lock():
        ...  # write chunks, vectors and the journal
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from rag.errors import BusyError, StoreError

if TYPE_CHECKING:
    from rag.stores.postgres import PostgresDatabase

_LOCK_CLASS = 7206142  # first half of the advisory lock key: "ragstead ingestion"


class _ProcessLock:
    """A lock held once per process per key, taken again by nested blocks in the process."""

    _held: ClassVar[dict[str, int]] = {}
    _guard: ClassVar[threading.RLock] = threading.RLock()

    def __init__(self, key: str, *, wait: bool) -> None:
        self.key = key
        self.wait = wait

    def _take(self) -> None:
        """Take the lock across processes (raise BusyError if held and not waiting)."""
        raise NotImplementedError

    def _drop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _ProcessLock:
        if not self._guard.acquire(blocking=self.wait):
            raise BusyError(
                "another ingestion is running in this process",
                hint="wait for it to finish, then try again",
                retry_after=30,
            )
        if self._held.get(self.key):
            self._held[self.key] += 1
            return self
        try:
            self._take()
        except BaseException:
            self._guard.release()
            raise
        self._held[self.key] = 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._held[self.key] -= 1
        if self._held[self.key] == 0:
            del self._held[self.key]
            self._drop()
        self._guard.release()


class IngestLock(_ProcessLock):
    """An exclusive lock on a data directory's ingestion (``flock`` on ``path``)."""

    def __init__(self, path: Path, *, wait: bool = False) -> None:
        super().__init__(str(path), wait=wait)
        self.path = path
        self._fd: int | None = None

    def _take(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            os.close(fd)
            holder = self.path.read_text().strip() or "another process"
            raise BusyError(
                f"another ingestion is running on this data directory (pid {holder})",
                hint="wait for it to finish, then run the command again",
                retry_after=30,
            ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def _drop(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PostgresIngestLock(_ProcessLock):
    """An exclusive lock on a PostgreSQL catalog's ingestion, shared by every host."""

    def __init__(self, database: PostgresDatabase, *, wait: bool = False) -> None:
        super().__init__(f"postgresql:{database.url}:{database.schema}", wait=wait)
        self.database = database
        self._conn: Any = None

    def _take(self) -> None:
        import psycopg

        key = self.database.lock_key()
        try:
            conn = psycopg.connect(
                self.database.url,
                autocommit=True,
                connect_timeout=10,
                application_name=f"ragstead ingest {socket.gethostname()} pid {os.getpid()}",
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot take the ingestion lock in {self.database.where}: {exc}"
            ) from exc
        try:
            if self.wait:
                conn.execute("SELECT pg_advisory_lock(%s, %s)", (_LOCK_CLASS, key))
                taken = True
            else:
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_CLASS, key)
                ).fetchone()
                taken = bool(row and row[0])
            holder = "" if taken else _holder(conn, key)
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(
                f"cannot take the ingestion lock in {self.database.where}: {exc}"
            ) from exc
        if not taken:
            conn.close()
            raise BusyError(
                f"another ingestion is running on this index ({holder or 'another process'})",
                hint="wait for it to finish, then run the command again",
                retry_after=30,
            )
        self._conn = conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()  # ends the session, and its advisory lock with it
            self._conn = None


def _holder(conn: Any, key: int) -> str:
    """The application name of the session holding the lock ("ragstead ingest HOST pid N")."""
    row = conn.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::oid"
        " AND l.objid = %s::oid AND l.objsubid = 2 LIMIT 1",
        (_LOCK_CLASS, key),
    ).fetchone()
    return str(row[0]) if row and row[0] else ""
