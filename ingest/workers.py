"""Parse and chunk files in worker processes: a time limit per file, a crash costs one file.

A worker reads a file, hashes it, parses it and cuts it into chunk drafts with the embedder's
tokenizer (a picklable counter, no model loaded), and sends back a :class:`FileResult`; the
main process only embeds and writes. Workers run at a lower CPU priority (``nice``) so that on
a small machine they fill the gaps the embedder leaves instead of slowing it down.

Each worker has its own pipe, so a worker that hangs past ``timeout_s`` or dies (a crash in a
native parser) is killed and replaced, and only its file fails. Results come back in completion
order through a bounded queue: when the embedder falls behind, the workers wait, and memory
stays bounded however many files there are.

Example::

    pool = ParsePool(ChunkOptions(counter, max_tokens=200, min_tokens=40), workers=1)
    for result in pool.run([FileTask("/docs/a.pdf")]):
        print(result.path, len(result.documents), result.error)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ingest.chunker import ChunkDraft, CountTokens, chunk_elements
from ingest.elements import ParsedDocument
from rag.doc_profile import build_profile, first_page_text
from rag.errors import IngestError

#: longest title kept (characters): a title is repeated in every chunk's embedded text.
MAX_TITLE_CHARS = 150
#: what a worker sends once it has started and can take files.
_READY = "ready"


@dataclass(frozen=True)
class ChunkOptions:
    """How workers cut documents: the embedder's token counter (picklable) and the budget."""

    count_tokens: CountTokens
    max_tokens: int
    min_tokens: int


@dataclass
class FileTask:
    """One file to read; ``known_hash`` skips the parse when the bytes still hash to it."""

    path: str
    known_hash: str | None = None


@dataclass
class DocumentDrafts:
    """One parsed document (the file itself, or an attachment inside it) as chunk drafts."""

    #: "" for the file itself; "att.pdf" or "fwd.eml#att.pdf" for attachments.
    name: str
    title: str
    doc_type: str
    metadata: dict[str, str]
    warnings: list[str]
    drafts: list[ChunkDraft]
    #: periods and names of title, file name and first page (``rag.doc_profile``).
    profile: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class FileResult:
    """What a worker made of one file."""

    path: str
    size: int = 0
    mtime: float = 0.0
    content_hash: str = ""
    #: the bytes hash to ``FileTask.known_hash``: nothing was parsed.
    unchanged: bool = False
    documents: list[DocumentDrafts] = field(default_factory=list)
    error: str | None = None
    pages: int = 0
    seconds: float = 0.0


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def document_title(title: str | None, fallback: str) -> str:
    """A document's title: the parsed one, else ``fallback``, at most MAX_TITLE_CHARS long."""
    title = " ".join((title or "").split()) or fallback
    if len(title) > MAX_TITLE_CHARS:
        title = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + " …"
    return title


def _pages(parsed: ParsedDocument) -> int:
    value = parsed.metadata.get("pages") or parsed.metadata.get("slides") or "0"
    return int(value) if value.isdigit() else 0


def draft_documents(
    parsed: ParsedDocument, name: str, fallback_title: str, options: ChunkOptions
) -> Iterator[DocumentDrafts]:
    """The document and, after it, every attachment inside it (depth first), as drafts."""
    title = document_title(parsed.title, fallback_title)
    doc_type = Path(name or fallback_title).suffix.lower().lstrip(".")
    drafts = chunk_elements(
        parsed.elements,
        title=title,
        count_tokens=options.count_tokens,
        max_tokens=options.max_tokens,
        min_tokens=options.min_tokens,
    )
    profile = build_profile(title, name or fallback_title, first_page_text(parsed.elements))
    yield DocumentDrafts(
        name, title, doc_type, dict(parsed.metadata), parsed.warnings, drafts, profile
    )
    for child_name, child in parsed.children:
        full = f"{name}#{child_name}" if name else child_name
        yield from draft_documents(child, full, Path(child_name).stem or child_name, options)


def process_file(task: FileTask, options: ChunkOptions) -> FileResult:
    """Hash, parse and chunk one file; every failure becomes ``FileResult.error``."""
    from ingest.parsers import parse

    started = time.perf_counter()
    path = Path(task.path)
    result = FileResult(task.path)
    try:
        stat = path.stat()
        result.size, result.mtime = stat.st_size, stat.st_mtime
        result.content_hash = file_hash(path)
        if task.known_hash is not None and task.known_hash == result.content_hash:
            result.unchanged = True
            return result
        parsed = parse(path)
        result.pages = _pages(parsed)
        documents = list(draft_documents(parsed, "", path.stem, options))
        documents[0].doc_type = path.suffix.lower().lstrip(".")
        result.documents = documents
    except IngestError as exc:
        result.error = str(exc)
    except OSError as exc:
        result.error = f"cannot read the file: {exc.strerror or exc}"
    except Exception as exc:  # a parser bug costs this file, not the run
        result.error = f"could not parse {path.name}: {type(exc).__name__}: {exc}"
    finally:
        result.seconds = time.perf_counter() - started
    return result


#: how a worker process starts: the parent's import path, then the loop below.
_BOOT = (
    "import sys, json; sys.path[:0] = json.loads(sys.argv[1]);"
    " import ingest.workers as w; w.worker_loop()"
)


#: how often a worker checks that its parent is still there (where prctl is not available).
_PARENT_CHECK_S = 0.5
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` dies, even in the middle of a parse.

    On Linux the kernel sends SIGKILL when the parent goes (``prctl(PR_SET_PDEATHSIG)``); a
    daemon thread that watches the parent's pid covers other systems and a parent that died
    before the call.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_loop() -> None:
    """A worker process (``python -c _BOOT PATHS TASK_FD RESULT_FD NICE PARENT``): parse until
    EOF, and die with the parent.

    Started as a plain subprocess rather than with ``multiprocessing``, so that the parent's
    ``__main__`` (a script without a ``__name__`` guard) is never run again in the worker.
    """
    die_with_parent(int(sys.argv[5]))
    tasks = Connection(int(sys.argv[2]), writable=False)
    results = Connection(int(sys.argv[3]), readable=False)
    nice = int(sys.argv[4])
    if nice:
        os.nice(nice)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    options: ChunkOptions | None = None
    broken = ""
    try:
        options = tasks.recv()
    except EOFError:
        return
    except Exception as exc:  # the token counter cannot be rebuilt here
        broken = f"the parse worker could not start: {type(exc).__name__}: {exc}"
    results.send(_READY)  # the time limit of the first file starts now, not at spawn
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if options is None:
            results.send(FileResult(task.path, error=broken))
        else:
            results.send(process_file(task, options))


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    tasks: Connection
    results: Connection
    task: FileTask | None = None
    started: float = 0.0
    ready: bool = False

    def close(self) -> None:
        """Close the pipes and reap the process (killing it if it does not stop)."""
        self.tasks.close()
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(2)
        self.results.close()


_DONE = object()


class ParsePool:
    """Worker processes that turn files into chunk drafts; ``workers=0`` parses in-process."""

    def __init__(
        self,
        options: ChunkOptions,
        *,
        workers: int = 1,
        timeout_s: float = 300.0,
        nice: int = 10,
        prefetch: int = 8,
    ) -> None:
        self.options = options
        self.workers = workers
        self.timeout_s = timeout_s
        self.nice = nice
        self.prefetch = max(1, prefetch)
        self._stop = threading.Event()
        self._out: queue.Queue[Any] | None = None

    def run(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        """Results of ``tasks`` in completion order (see :meth:`start`)."""
        yield from self.start(tasks)

    def backlog(self) -> int:
        """Parsed files waiting to be taken (0 when the consumer is ahead of the workers)."""
        return self._out.qsize() if self._out is not None else 0

    def start(self, tasks: Iterable[FileTask]) -> Generator[FileResult, None, None]:
        """Start the workers now; the results come in completion order from the generator.

        Closing the generator (or leaving a loop over it) stops and reaps the workers.
        """
        if self.workers <= 0:
            return (process_file(task, self.options) for task in tasks)
        out: queue.Queue[Any] = queue.Queue(maxsize=self.prefetch)
        self._out = out
        self._stop.clear()
        thread = threading.Thread(
            target=self._dispatch, args=(iter(tasks), out), name="parse-dispatch", daemon=True
        )
        thread.start()
        return self._results(out, thread)

    def _results(
        self, out: queue.Queue[Any], thread: threading.Thread
    ) -> Generator[FileResult, None, None]:
        try:
            while True:
                item = out.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            while thread.is_alive():  # unblock a dispatcher waiting on a full queue
                try:
                    out.get_nowait()
                except queue.Empty:
                    thread.join(0.05)
            self._out = None

    def _spawn(self) -> _Worker:
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        args = [
            json.dumps(sys.path),
            str(task_read),
            str(result_write),
            str(self.nice),
            str(os.getpid()),
        ]
        process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, *args],
            pass_fds=(task_read, result_write),
            stdin=subprocess.DEVNULL,
        )
        os.close(task_read)
        os.close(result_write)
        worker = _Worker(
            process,
            Connection(task_write, readable=False),
            Connection(result_read, writable=False),
        )
        worker.tasks.send(self.options)
        return worker

    def _put(self, out: queue.Queue[Any], item: Any) -> bool:
        while not self._stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _replace(self, workers: list[_Worker], worker: _Worker) -> None:
        worker.process.kill()
        worker.close()
        workers[workers.index(worker)] = self._spawn()

    def _dispatch(self, tasks: Iterator[FileTask], out: queue.Queue[Any]) -> None:
        workers: list[_Worker] = []
        try:
            workers = [self._spawn() for _ in range(self.workers)]
            exhausted = False
            while not self._stop.is_set():
                for worker in workers:
                    if worker.task is None and not exhausted:
                        task = next(tasks, None)
                        if task is None:
                            exhausted = True
                            break
                        worker.task, worker.started = task, time.monotonic()
                        with contextlib.suppress(OSError):  # a dead worker shows up below
                            worker.tasks.send(task)
                busy = [w for w in workers if w.task is not None]
                if not busy:
                    break
                started = [w.started for w in busy if w.ready]
                deadline = min(started) + self.timeout_s if started else time.monotonic() + 1
                timeout = max(0.0, min(1.0, deadline - time.monotonic()))
                ready = wait([w.results for w in busy], timeout)
                for worker in busy:
                    result = self._collect(worker, ready)
                    if result is None:
                        continue
                    if result.error is not None and worker.task is not None:
                        self._replace(workers, worker)  # it died or hangs
                    worker.task = None
                    if not self._put(out, result):
                        return
        except BaseException as exc:  # surfaced in the consumer
            self._put(out, exc)
            return
        finally:
            for worker in workers:
                if worker.task is not None:
                    worker.process.kill()
                worker.close()
        self._put(out, _DONE)

    def _collect(self, worker: _Worker, ready: list[Any]) -> FileResult | None:
        """The worker's result if it has one, a failure if it died or hangs, else None."""
        task = worker.task
        assert task is not None
        if worker.results in ready:
            try:
                result: FileResult | str = worker.results.recv()
            except (EOFError, OSError):  # the process died: its end of the pipe closed
                code = worker.process.poll()
                return FileResult(
                    task.path, error=f"the parser crashed on this file (worker exit code {code})"
                )
            if isinstance(result, str):  # started up: the clock of its task starts now
                worker.ready, worker.started = True, time.monotonic()
                return None
            worker.task = None
            return result
        if not worker.ready:
            return None
        if time.monotonic() - worker.started > self.timeout_s:
            return FileResult(
                task.path,
                error=f"parsing took longer than {self.timeout_s:.0f} s; stopped (the file is"
                " probably malformed; raise ingest.parse_timeout_s if it is just large)",
            )
        return None
