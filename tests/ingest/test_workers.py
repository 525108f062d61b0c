"""Parse workers: real processes, a time limit per file, a crash costs one file only."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ingest.workers import ChunkOptions, FileTask, ParsePool, document_title, process_file
from rag.container import Container
from rag.embedders import TokenizerFileCounter
from tests.conftest import ROOT


def count_words(text: str) -> int:
    """Module level, so worker processes can unpickle it."""
    return len(text.split()) + 2


def count_or_crash(text: str) -> int:
    """Kills the worker process when it meets the word CRASH (a native parser crashing)."""
    if "CRASH" in text:
        os._exit(3)
    return len(text.split()) + 2


def count_slowly(text: str) -> int:
    """Writes this worker's pid where the test says, then takes a minute (a long parse)."""
    Path(os.environ["RAGSTEAD_TEST_WORKER_PID"]).write_text(str(os.getpid()))
    time.sleep(60)
    return len(text.split()) + 2


OPTIONS = ChunkOptions(count_words, max_tokens=64, min_tokens=0)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_process_file_hashes_parses_and_chunks(tmp_path: Path) -> None:
    path = _write(tmp_path, "note.md", "# Parking\n\nThe car park has 12 spaces.\n")
    result = process_file(FileTask(str(path)), OPTIONS)
    assert result.error is None and not result.unchanged
    assert len(result.content_hash) == 64 and result.size == path.stat().st_size
    [doc] = result.documents
    assert (doc.name, doc.title, doc.doc_type) == ("", "Parking", "md")
    assert [d.text for d in doc.drafts] == ["The car park has 12 spaces."]
    again = process_file(FileTask(str(path), known_hash=result.content_hash), OPTIONS)
    assert again.unchanged and again.documents == []


def test_errors_are_results_not_exceptions(tmp_path: Path) -> None:
    empty = _write(tmp_path, "empty.txt", "")
    result = process_file(FileTask(str(empty)), OPTIONS)
    assert result.error is not None and "empty file" in result.error
    missing = process_file(FileTask(str(tmp_path / "gone.txt")), OPTIONS)
    assert missing.error is not None and "cannot read" in missing.error


def test_pool_parses_every_file_in_worker_processes(tmp_path: Path) -> None:
    paths = [_write(tmp_path, f"f{i}.txt", f"File number {i} says hello.") for i in range(6)]
    paths.append(_write(tmp_path, "bad.pdf", "not a pdf"))
    pool = ParsePool(OPTIONS, workers=2, prefetch=2)
    results = {r.path: r for r in pool.run(FileTask(str(p)) for p in paths)}
    assert set(results) == {str(p) for p in paths}
    assert results[str(paths[0])].documents[0].drafts[0].text == "File number 0 says hello."
    assert "PDF" in (results[str(paths[-1])].error or "")


def test_a_file_that_hangs_is_stopped_and_the_run_goes_on(tmp_path: Path) -> None:
    fifo = tmp_path / "stuck.txt"
    os.mkfifo(fifo)  # opening it for reading blocks until a writer comes: it never does
    good = _write(tmp_path, "good.txt", "Still parsed after the stuck one.")
    pool = ParsePool(OPTIONS, workers=1, timeout_s=1.5)
    results = {r.path: r for r in pool.run([FileTask(str(fifo)), FileTask(str(good))])}
    assert "longer than 2 s" in (results[str(fifo)].error or "")
    assert results[str(good)].error is None
    assert results[str(good)].documents[0].drafts[0].text == "Still parsed after the stuck one."


def test_a_worker_crash_fails_only_its_file(tmp_path: Path) -> None:
    options = ChunkOptions(count_or_crash, max_tokens=64, min_tokens=0)
    crash = _write(tmp_path, "a.txt", "This text makes the worker CRASH.")
    good = _write(tmp_path, "b.txt", "This one is fine.")
    pool = ParsePool(options, workers=1, timeout_s=60)
    results = {r.path: r for r in pool.run([FileTask(str(crash)), FileTask(str(good))])}
    assert "crashed" in (results[str(crash)].error or "")
    assert results[str(good)].error is None


def test_leaving_the_loop_early_stops_the_workers(tmp_path: Path) -> None:
    paths = [_write(tmp_path, f"f{i}.txt", f"Text {i}.") for i in range(20)]
    # servers other tests started (a chroma run) are not this pool's
    before = {p.pid for p in psutil.Process().children()}
    pool = ParsePool(OPTIONS, workers=1, prefetch=1)
    results = pool.start(FileTask(str(p)) for p in paths)
    first = next(results)
    results.close()
    assert first.error is None and pool.backlog() == 0
    assert [
        p
        for p in psutil.Process().children()
        if p.pid not in before and p.is_running() and p.status() != "zombie"
    ] == []


def test_titles_are_kept_short() -> None:
    assert document_title(None, "report") == "report"
    assert document_title("  Annual   Report ", "x") == "Annual Report"
    long = document_title("word " * 100, "x")
    assert len(long) <= 152 and long.endswith(" …")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Annual leave is 28 days.",
        "Café crème – naïve façade; ÆRØ 5 € each, 東京 and emoji 🚀.\nSecond line\twith tab",
        "UNITED STATES SECURITIES AND EXCHANGE COMMISSION (In millions) | 2,468 $ | (123)",
        "x" * 3000,
    ],
)
def test_the_worker_token_counter_equals_the_embedder(
    example_container: Container, text: str
) -> None:
    embedder = example_container.embedder
    counter = embedder.token_counter()
    assert isinstance(counter, TokenizerFileCounter)
    revived = pickle.loads(pickle.dumps(counter))  # what a worker process receives
    assert revived(text) == embedder.count_tokens(text)


KILLED_PARENT = """
import sys
from pathlib import Path
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import IngestSettings, Settings
from rag.testing import HashingEmbedder
from tests.ingest.test_workers import count_slowly


class SlowCounting(HashingEmbedder):
    def token_counter(self):
        return count_slowly


settings = Settings(data_dir=Path(sys.argv[2]), ingest=IngestSettings(workers=1))
container = Container(settings, embedder=SlowCounting(dim=64))
build_ingestor(container).ingest(Path(sys.argv[1]))
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_workers_die_with_a_killed_ingest(tmp_path: Path) -> None:
    """SIGKILL on ``ingest`` while a worker parses: the worker goes too (it used to run on)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "note.md", "# Parking\n\nThe car park has 12 spaces.\n")
    script = _write(tmp_path, "child.py", KILLED_PARENT)
    marker = tmp_path / "worker.pid"
    child = subprocess.Popen(
        [sys.executable, str(script), str(docs), str(tmp_path / "data")],
        env={**os.environ, "PYTHONPATH": str(ROOT), "RAGSTEAD_TEST_WORKER_PID": str(marker)},
        start_new_session=True,
    )
    worker = 0
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() or not marker.read_text():
            assert child.poll() is None and time.monotonic() < deadline, "no worker started"
            time.sleep(0.1)
        worker = int(marker.read_text())
        assert psutil.Process(worker).ppid() == child.pid  # a worker of that run, parsing
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 10  # a bound, not a measurement
        while not _gone(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(worker), "the parse worker outlived the killed ingest"
    finally:
        if child.poll() is None:
            child.kill()
        if worker and not _gone(worker):
            os.kill(worker, signal.SIGKILL)
