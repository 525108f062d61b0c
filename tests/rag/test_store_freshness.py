"""A running process sees the vectors another process writes (``ragstead ingest`` while
``serve`` runs): the local Chroma client is reopened once its files changed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from ingest.service import build_ingestor
from rag.stores.freshness import Freshness
from tests.conftest import ROOT
from tests.ingest.test_sync import hashing_container

INGEST = """
import sys
from pathlib import Path
from ingest.service import build_ingestor
from rag.stores.freshness import Freshness
from rag.container import Container
from rag.settings import IngestSettings, Settings
from rag.testing import HashingEmbedder

settings = Settings(data_dir=Path(sys.argv[2]), ingest=IngestSettings(workers=0))
container = Container(settings, embedder=HashingEmbedder(dim=64))
report = build_ingestor(container).ingest(Path(sys.argv[1]))
assert report.ok and (report.added or report.updated), report
"""


def _ingest_elsewhere(tmp_path: Path, path: Path) -> None:
    script = tmp_path / "ingest_child.py"
    script.write_text(INGEST)
    done = subprocess.run(
        [sys.executable, str(script), str(path), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_running_process_finds_chunks_another_process_wrote_by_their_vectors(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "parking.md").write_text("# Parking\n\nThe visitor car park has 12 spaces.\n")
    container = hashing_container(tmp_path)  # the "server": it stays open throughout
    build_ingestor(container).ingest(docs)
    retriever = container.retriever
    [hit] = retriever.retrieve("visitor car park spaces", top_k=1, method="dense")
    assert "12 spaces" in hit.chunk.text  # its Chroma segments are loaded now

    (docs / "canteen.md").write_text("# Canteen\n\nLunch is served from noon in hall C.\n")
    _ingest_elsewhere(tmp_path, docs)  # a second process adds a document
    passages = retriever.retrieve("lunch served noon hall", top_k=3)
    new = [p for p in passages if "hall C" in p.chunk.text]
    assert new and new[0].dense_rank is not None  # found by its vector, not by BM25 alone
    vectors = container.vector_store.get_vectors([new[0].chunk.id])
    assert list(vectors) == [new[0].chunk.id]

    (docs / "parking.md").write_text("# Parking\n\nThe visitor car park has 30 spaces.\n")
    _ingest_elsewhere(tmp_path, docs)  # ... and changes one
    [hit] = retriever.retrieve("visitor car park spaces", top_k=1, method="dense")
    assert "30 spaces" in hit.chunk.text


def test_its_own_writes_cost_no_reopen(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "parking.md").write_text("# Parking\n\nThe visitor car park has 12 spaces.\n")
    container = hashing_container(tmp_path)
    build_ingestor(container).ingest(docs)
    (docs / "canteen.md").write_text("# Canteen\n\nLunch is served from noon in hall C.\n")
    build_ingestor(container).ingest(docs)
    assert container.retriever.retrieve("lunch served noon hall", top_k=1, method="dense")
    freshness = container.vector_store._freshness
    assert freshness is not None and freshness.reopened == 0


def test_a_reopen_waits_for_operations_in_flight_and_happens_once(tmp_path: Path) -> None:
    """Another connection commits while one operation runs: the next operations reopen once,
    after the running one has finished with the old client."""
    path = tmp_path / "chroma.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    events: list[str] = []
    freshness = Freshness(path, reopen=lambda: events.append("reopen"))
    inside, release = threading.Event(), threading.Event()

    def long_operation() -> None:
        with freshness.access():
            inside.set()
            release.wait(10)
            events.append("old client done")

    def operation() -> None:
        with freshness.access():
            events.append("new client used")

    first = threading.Thread(target=long_operation)
    first.start()
    assert inside.wait(10)
    writer.execute("INSERT INTO t VALUES (1)")  # another process writes
    later = [threading.Thread(target=operation) for _ in range(3)]
    for thread in later:
        thread.start()
    release.set()
    for thread in [first, *later]:
        thread.join(10)
    assert events[:2] == ["old client done", "reopen"]
    assert events.count("reopen") == 1 and events.count("new client used") == 3
    with freshness.access(writes=True):
        writer.execute("INSERT INTO t VALUES (2)")  # as if this process wrote: no reopen
    with freshness.access():
        pass
    assert events.count("reopen") == 1
