"""Two seeded crash trials of ``benchmarks/crash_trials.py`` (the benchmark runs 20): a CLI sync
killed with SIGKILL while it adds, rewrites and deletes files, and a server killed while it
runs an upload job; after the rerun the doctor finds the stores in exact agreement, the
manifest holds exactly the corpus and the uploads, and each document is found once."""

from __future__ import annotations

from pathlib import Path

from benchmarks.crash_trials import passed, run_trials


def test_killed_sync_and_killed_upload_job_leave_the_stores_in_agreement(tmp_path: Path) -> None:
    results = run_trials(tmp_path, trials=2, seed=3, max_delay=6.0, corpus_size=12)
    assert [r["kind"] for r in results] == ["cli", "upload"]
    for result in results:
        assert passed(result), result
        assert result["doctor"]["missing_vectors"] == [] and result["doctor"]["journal"] == 0
