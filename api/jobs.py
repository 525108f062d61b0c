"""Upload jobs: persisted in the data directory, run one at a time in the server.

A job is the files of one upload, stored under ``uploads/<job id>/``, ingested through the same
pipeline as ``ragstead ingest`` (worker processes, journalled writes, the ingestion lock). Its
row in ``jobs.sqlite3`` says ``queued``, ``running``, ``succeeded``, ``partial`` (some files
failed) or ``failed``, with progress and each file's result. A job that was running when the
server stopped is run again when it starts (ingestion skips what was already indexed).

Example::

    jobs = JobStore(data_dir / "jobs.sqlite3")
    job = jobs.create(owner="key:hr-bot", files=[...], groups=["hr"], labels={})
    runner = JobRunner(jobs, CollectionSet(container)); runner.start(); runner.submit(job.id)
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.families import doc_id_for
from rag.collections import CollectionSet
from rag.errors import BusyError, NotFoundError, RagsteadError
from rag.stores.sqlite import SqliteDatabase

log = logging.getLogger("ragstead.jobs")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    collection TEXT NOT NULL DEFAULT 'default',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, created);
"""
FINISHED = ("succeeded", "partial", "failed")


@dataclass
class JobFile:
    """One uploaded file and what became of it."""

    name: str
    path: str
    size: int
    status: str = "queued"
    error: str | None = None
    doc_id: str | None = None


@dataclass
class Job:
    """One upload's ingestion."""

    id: str
    owner: str
    status: str
    files: list[JobFile]
    collection: str = "default"
    groups: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    #: files parsed and chunks embedded so far.
    progress: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def public(self) -> dict[str, Any]:
        """The JSON a caller sees (no server paths)."""
        data = asdict(self)
        data["job_id"] = data.pop("id")
        data.pop("owner")
        for f in data["files"]:
            f.pop("path")
        return data


class JobStore:
    """Jobs in ``jobs.sqlite3``; this module owns that table."""

    def __init__(self, path: Path) -> None:
        self.db = SqliteDatabase(path)
        self.db.connect().executescript(_SCHEMA)

    def create(
        self,
        *,
        owner: str,
        files: list[JobFile],
        groups: list[str],
        labels: dict[str, str],
        job_id: str | None = None,
        collection: str = "default",
    ) -> Job:
        """A queued job."""
        job = Job(
            id=job_id or uuid.uuid4().hex,
            owner=owner,
            status="queued",
            files=files,
            groups=groups,
            labels=labels,
            collection=collection,
            created=time.time(),
            progress={"files": len(files), "files_done": 0, "chunks": 0},
        )
        self.save(job)
        return job

    def save(self, job: Job) -> None:
        """Write the job's current state."""
        body = json.dumps({k: v for k, v in asdict(job).items()})
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?,?,?,?)",
                (job.id, job.owner, job.status, job.collection, job.created, job.started,
                 job.finished, body),
            )  # fmt: skip

    @staticmethod
    def _from_body(body: str) -> Job:
        data = json.loads(body)
        data["files"] = [JobFile(**f) for f in data["files"]]
        return Job(**data)

    def get(self, job_id: str, owner: str | None = None) -> Job:
        """The job (only if ``owner`` made it, unless owner is None); NotFoundError otherwise."""
        row = self.db.connect().execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            raise NotFoundError(f"no job with id {job_id}", hint="GET /v1/jobs lists yours")
        return self._from_body(row["body"])

    def recent(self, owner: str | None = None, limit: int = 50) -> list[Job]:
        """Newest first: ``owner``'s jobs, or everyone's (None)."""
        if owner is None:
            rows = self.db.connect().execute(
                "SELECT body FROM jobs ORDER BY created DESC LIMIT ?", (limit,)
            )
        else:
            rows = self.db.connect().execute(
                "SELECT body FROM jobs WHERE owner=? ORDER BY created DESC LIMIT ?", (owner, limit)
            )
        return [self._from_body(r[0]) for r in rows]

    def unfinished(self) -> list[Job]:
        """Jobs queued or running (a restart runs them again), oldest first."""
        rows = self.db.connect().execute(
            "SELECT body FROM jobs WHERE status IN ('queued', 'running') ORDER BY created"
        )
        return [self._from_body(r[0]) for r in rows]


class JobRunner:
    """One background thread that runs queued jobs in order."""

    def __init__(self, jobs: JobStore, collections: CollectionSet, *, retry_s: float = 2.0) -> None:
        self.jobs = jobs
        self.collections = collections
        self.retry_s = retry_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        #: files the runner ingested and failed since the server started (for /metrics).
        self.files_done: dict[str, int] = {"succeeded": 0, "failed": 0}

    def queue_depth(self) -> int:
        """Jobs waiting or running."""
        return self._queue.unfinished_tasks

    def start(self) -> None:
        """Start the thread; jobs left queued or running by a previous server run first."""
        for job in self.jobs.unfinished():
            if job.status == "running":
                log.info("job %s was running when the server stopped: running it again", job.id)
            self._queue.put(job.id)
        self._thread = threading.Thread(target=self._loop, name="ragstead-jobs", daemon=True)
        self._thread.start()

    def submit(self, job_id: str) -> None:
        """Queue a saved job."""
        self._queue.put(job_id)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop after the job it runs (a running job resumes at the next
        start)."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def idle(self) -> bool:
        """True when no job is waiting (for tests and shutdown)."""
        return self._queue.unfinished_tasks == 0

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                if job_id is None:
                    return
                self._run(job_id)
            except Exception:  # a job's failure is recorded; the runner goes on
                log.exception("job %s failed unexpectedly", job_id)
            finally:
                self._queue.task_done()

    def _run(self, job_id: str) -> None:
        from ingest.service import build_ingestor

        job = self.jobs.get(job_id)
        if job.status in FINISHED:
            return
        job.status, job.started = "running", job.started or time.time()
        self.jobs.save(job)
        folder = Path(job.files[0].path).parent if job.files else None
        ingestor = build_ingestor(self.collections.container(job.collection))
        last_save = 0.0

        def progress(state: Any) -> None:
            nonlocal last_save
            job.progress.update(files_done=state.files_done, chunks=state.chunks)
            if time.monotonic() - last_save > 1.0:
                last_save = time.monotonic()
                self.jobs.save(job)

        while True:
            try:
                if folder is None or not folder.is_dir():
                    raise NotFoundError("the uploaded files are gone from the data directory")
                report = ingestor.ingest(folder, groups=job.groups, progress=progress)
                break
            except BusyError:  # a CLI ingestion holds the lock: wait for it
                time.sleep(self.retry_s)
            except RagsteadError as exc:
                job.status, job.error, job.finished = "failed", str(exc), time.time()
                for f in job.files:
                    f.status, f.error = "failed", str(exc)
                self.files_done["failed"] += len(job.files)
                self.jobs.save(job)
                return
        failed = dict(report.failed)
        for f in job.files:
            if f.path in failed:
                f.status, f.error = "failed", failed[f.path]
                continue
            f.status, f.doc_id = "succeeded", doc_id_for(f.path)
            if job.labels:
                try:
                    ingestor.relabel(f.doc_id, labels=job.labels)
                except RagsteadError as exc:
                    f.status, f.error = "failed", f"indexed, but its labels were not set: {exc}"
        ok = sum(f.status == "succeeded" for f in job.files)
        self.files_done["succeeded"] += ok
        self.files_done["failed"] += len(job.files) - ok
        job.status = "succeeded" if ok == len(job.files) else "partial" if ok else "failed"
        job.progress["files_done"] = len(job.files)
        job.finished = time.time()
        self.jobs.save(job)
