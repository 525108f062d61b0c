"""A full disk and an unwritable data directory, through the CLI (real models): a clear error,
no traceback, nothing half-written, and the same command succeeds once there is room. We run
as root, where permissions do not stop writes: the full disk is RLIMIT_FSIZE (writes past it
fail with EFBIG, as on a full disk), the unwritable directory one whose parent is a file."""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
from pathlib import Path

from ingest.doctor import Doctor
from rag.container import Container
from rag.settings import Settings
from tests.conftest import ROOT


def _ingest(
    docs: Path,
    data: Path,
    model_cache: Path,
    *,
    max_file_bytes: int | None = None,
    command: tuple[str, ...] = ("ingest",),
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        assert max_file_bytes is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    env = {
        **os.environ,
        "RAGSTEAD_DATA_DIR": str(data),
        "RAGSTEAD_MODEL_CACHE_DIR": str(model_cache),
        "PYTHONPATH": str(ROOT),
    }
    args = [*command, str(docs)] if command == ("ingest",) else list(command)
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=limit if max_file_bytes else None,
    )


def test_a_full_disk_is_a_clear_error_and_the_next_run_completes(
    tmp_path: Path, model_cache: Path
) -> None:
    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    for i in range(3):
        (docs / f"note{i}.md").write_text(f"# Note {i}\n\nThe canteen opens at {i + 7}.")
    assert _ingest(docs, data, model_cache).returncode == 0
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    rng = random.Random(1)
    paragraphs = (" ".join(rng.choice(words) for _ in range(40)) + "." for _ in range(3000))
    (docs / "big.md").write_text("# Big\n\n" + "\n\n".join(paragraphs))
    largest = max(f.stat().st_size for f in data.rglob("*") if f.is_file())

    full = _ingest(docs, data, model_cache, max_file_bytes=largest + 50_000)
    assert full.returncode != 0
    assert "Traceback" not in full.stderr and "error:" in full.stderr, full.stderr
    assert "disk may be full" in full.stderr.replace("\n", " ")
    container = Container(Settings(data_dir=data, model_cache_dir=model_cache))
    sources = {Path(d.source).name for d in container.catalog.documents()}
    assert "big.md" not in sources  # nothing of the failed document is visible
    report = Doctor(container).check()
    assert not report.missing_vectors and not report.lexical_mismatch

    again = _ingest(docs, data, model_cache)
    assert again.returncode == 0, again.stderr
    container = Container(Settings(data_dir=data, model_cache_dir=model_cache))
    assert Doctor(container).check().consistent
    assert "big.md" in {Path(d.source).name for d in container.catalog.documents()}


def test_an_unwritable_data_directory_is_a_clear_error(tmp_path: Path, model_cache: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.md").write_text("# Note\n\nThe canteen opens at seven.")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (("ingest",), ("serve", "--port", "9"), ("ask", "When?"), ("doctor",)):
        result = _ingest(docs, blocker / "data", model_cache, command=command)
        assert result.returncode != 0, command
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert "cannot create the data directory" in result.stderr, (command, result.stderr)
    assert not (blocker / "data").exists() and blocker.read_text() == "not a folder"
