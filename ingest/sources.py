"""Continuous sources: registered folders (a mounted file share is a folder) that the server
keeps in sync, on a schedule and on file-system events, through the same incremental sync as
`ragstead sync`.

- ``SourceStore`` owns the ``sources`` table (``Settings.sources_path``): path, collection,
  access groups, interval, and the last run's time, counts and error.
- ``SourceSyncer`` runs the sources that are due (``run_due(now)``: the scheduler's one step,
  which tests call with their own clock), and ``remove`` takes a source's documents away
  with it.
- ``SourceScheduler`` is the server's thread: every few seconds it runs what is due; a
  ``watchfiles`` thread marks a source due as soon as something changes under it.

A folder that vanished or cannot be read (an unmounted share) is a failure shown in
``sources list`` and ``GET /v1/sources``; its documents stay until it is back or removed,
never wiped because a mount went away.

Example::

    syncer = SourceSyncer.for_collections(collections)
    source = syncer.store.add(Path("/mnt/share/hr"), collection="default", groups=["hr"],
                              every_s=900)
    syncer.run_due(time.time())
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.collections import CollectionSet
from rag.container import Container
from rag.errors import InvalidRequestError, NotFoundError, RagsteadError
from rag.stores.sqlite import SqliteDatabase

log = logging.getLogger("ragstead.sources")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    collection TEXT NOT NULL,
    groups TEXT NOT NULL DEFAULT '[]',
    every_s INTEGER NOT NULL,
    added_at REAL NOT NULL,
    last_run_at REAL,
    last_ok_at REAL,
    last_error TEXT,
    last_counts TEXT NOT NULL DEFAULT '{}',
    runs INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0
)
"""
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_EVERY_S = 30


def parse_every(text: str) -> int:
    """Seconds of an interval such as ``15m``, ``1h``, ``90s`` or ``2d`` (at least 30 s)."""
    match = _EVERY.match(text.lower())
    if not match:
        raise InvalidRequestError(f"bad interval {text!r}", hint="e.g. 30s, 15m, 1h, 1d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds < MIN_EVERY_S:
        raise InvalidRequestError(f"interval {text!r} is under {MIN_EVERY_S} s")
    return seconds


@dataclass
class Source:
    """One registered folder and how its last sync went."""

    id: str
    path: str
    collection: str
    groups: list[str]
    every_s: int
    added_at: float
    last_run_at: float | None = None
    last_ok_at: float | None = None
    last_error: str | None = None
    last_counts: dict[str, int] = field(default_factory=dict)
    runs: int = 0
    failures: int = 0

    def due(self, now: float) -> bool:
        """True when its interval has passed since its last run (or it never ran)."""
        return self.last_run_at is None or now >= self.last_run_at + self.every_s

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


class SourceStore:
    """The ``sources`` table."""

    def __init__(self, path: Path) -> None:
        self.db = SqliteDatabase(path)
        with self.db.transaction() as conn:
            conn.execute(_SCHEMA)

    def add(self, path: Path, *, collection: str, groups: list[str], every_s: int) -> Source:
        """Register a folder (InvalidRequestError if it is not one, or already registered)."""
        folder = Path(path).expanduser()
        try:
            is_folder = folder.is_dir()
            folder = folder.resolve()
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte
            raise InvalidRequestError(f"not a usable folder path: {exc}") from exc
        if not is_folder:
            raise InvalidRequestError(f"not a folder: {folder}", hint="give an existing folder")
        if self.find(str(folder)) is not None:
            raise InvalidRequestError(f"{folder} is already a source", hint="sources list")
        source = Source(uuid.uuid4().hex[:12], str(folder), collection, sorted(groups), every_s,
                        time.time())  # fmt: skip
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO sources (id, path, collection, groups, every_s, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (source.id, source.path, collection, json.dumps(source.groups), every_s,
                 source.added_at),
            )  # fmt: skip
        return source

    def list(self) -> list[Source]:
        """Every source, by path."""
        rows = self.db.connect().execute("SELECT * FROM sources ORDER BY path").fetchall()
        return [_source(r) for r in rows]

    def find(self, id_or_path: str) -> Source | None:
        """The source with this id or (resolved) path, or None."""
        path = str(Path(id_or_path).expanduser().resolve()) if "/" in id_or_path else id_or_path
        row = (
            self.db.connect()
            .execute("SELECT * FROM sources WHERE id = ? OR path = ?", (id_or_path, path))
            .fetchone()
        )
        return _source(row) if row is not None else None

    def get(self, id_or_path: str) -> Source:
        """The source, or NotFoundError."""
        source = self.find(id_or_path)
        if source is None:
            raise NotFoundError(f"no source {id_or_path!r}", hint="`ragstead sources list`")
        return source

    def record(self, source: Source, *, error: str | None, counts: dict[str, int]) -> None:
        """Note a run's outcome."""
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sources SET last_run_at = ?, last_error = ?, last_counts = ?,"
                " runs = runs + 1, failures = failures + ?,"
                " last_ok_at = CASE WHEN ? IS NULL THEN ? ELSE last_ok_at END WHERE id = ?",
                (now, error, json.dumps(counts), int(error is not None), error, now, source.id),
            )

    def delete(self, source: Source) -> None:
        """Forget a source (its documents are removed by ``SourceSyncer.remove``)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sources WHERE id = ?", (source.id,))


def _source(row: Any) -> Source:
    data = dict(row)
    data["groups"] = json.loads(data["groups"])
    data["last_counts"] = json.loads(data["last_counts"])
    return Source(**data)


class SourceSyncer:
    """Runs sources through the incremental sync of their collection."""

    def __init__(self, store: SourceStore, container_of: Callable[[str], Container]) -> None:
        self.store = store
        self.container_of = container_of
        self._lock = threading.Lock()  # one source at a time

    @classmethod
    def for_collections(cls, collections: CollectionSet) -> SourceSyncer:
        """The syncer of a data directory's sources, syncing into its collections."""
        return cls(SourceStore(collections.base.settings.sources_path), collections.container)

    def run(self, source: Source) -> Source:
        """Sync one source now; its outcome is recorded (errors too, never raised)."""
        from ingest.service import build_ingestor

        with self._lock:
            error: str | None = None
            counts: dict[str, int] = {}
            try:
                folder = Path(source.path)
                if not folder.is_dir():  # an unmounted share: keep its documents
                    raise NotFoundError(
                        f"the folder {folder} is missing or not a folder",
                        hint="its documents are kept until it is back or the source removed",
                    )
                ingestor = build_ingestor(self.container_of(source.collection))
                report = ingestor.sync(folder, groups=source.groups or None)
                counts = {
                    "added": len(report.added),
                    "updated": len(report.updated),
                    "removed": len(report.removed),
                    "unchanged": len(report.unchanged),
                    "failed": len(report.failed),
                }
                if report.failed:
                    error = f"{len(report.failed)} file(s) failed, e.g. {report.failed[0][1]}"
            except RagsteadError as exc:
                error = str(exc)
            except OSError as exc:  # an unreadable share
                error = f"cannot read {source.path}: {exc.strerror or exc}"
            if error:
                log.warning("source %s: %s", source.id, error)
            self.store.record(source, error=error, counts=counts)
            return self.store.get(source.id)

    def run_due(self, now: float) -> list[Source]:
        """Run every source whose interval has passed; the sources run."""
        return [self.run(s) for s in self.store.list() if s.due(now)]

    def remove(self, id_or_path: str) -> tuple[Source, int]:
        """Forget a source and remove its documents; (the source, documents removed)."""
        from ingest.service import build_ingestor

        source = self.store.get(id_or_path)
        with self._lock:
            container = self.container_of(source.collection)
            ingestor = build_ingestor(container)
            prefix = source.path.rstrip("/") + "/"
            gone = [d for d in container.catalog.documents()
                    if d.parent_id is None and d.source.startswith(prefix)]  # fmt: skip
            for record in gone:
                ingestor.delete(record.doc_id)
            self.store.delete(source)
        return source, len(gone)


class SourceScheduler:
    """The server's thread: runs due sources every ``tick_s``, and at once on file events."""

    def __init__(self, syncer: SourceSyncer, *, tick_s: float = 5.0, watch: bool = True) -> None:
        self.syncer = syncer
        self.tick_s = tick_s
        self.watch = watch
        self._stop = threading.Event()
        self._changed: set[str] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the scheduler (and the file watcher where ``watchfiles`` can watch)."""
        self._stop.clear()
        targets = [self._loop] + ([self._watch_loop] if self.watch else [])
        for target in targets:
            thread = threading.Thread(target=target, name="ragstead-sources", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the source being synced, if any."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                now = time.time()
                changed, self._changed = self._changed, set()
                for source in self.syncer.store.list():
                    if self._stop.is_set():
                        break
                    if source.due(now) or source.path in changed:
                        self.syncer.run(source)
            except Exception:  # a broken store must not end the server's scheduler
                log.exception("the source scheduler failed; it goes on")
            self._stop.wait(self.tick_s)

    def _watched(self) -> Iterator[set[str]]:
        while not self._stop.is_set():
            yield {s.path for s in self.syncer.store.list() if Path(s.path).is_dir()}

    def _watch_loop(self) -> None:
        try:
            from watchfiles import watch
        except ImportError:  # the schedule alone keeps sources in sync
            return
        for paths in self._watched():
            if not paths:
                self._stop.wait(self.tick_s)
                continue
            try:
                for changes in watch(*paths, stop_event=self._stop, rust_timeout=2000,
                                     yield_on_timeout=True, raise_interrupt=False):  # fmt: skip
                    for _, changed in changes:
                        self._changed.update(p for p in paths if changed.startswith(p + "/"))
                    current = {s.path for s in self.syncer.store.list()}
                    if current != paths:  # a source was added or removed: watch anew
                        break
            except (OSError, RuntimeError) as exc:  # a vanished folder: the schedule goes on
                log.warning("watching sources failed: %s", exc)
                self._stop.wait(self.tick_s)
