"""Crash consistency: seeded trials that SIGKILL ingestion at a random moment, then run it
again and compare the stores.

Two kinds of trial, alternating:

- ``cli``: the corpus is changed (files added, rewritten and deleted, chosen by the seed), then
  `ragstead sync DOCS` runs and is killed (SIGKILL to its process group, parse workers
  included) after a random delay; `ragstead sync DOCS` then runs to the end.
- ``upload``: `ragstead serve` receives an upload of new files (202, a job) and the server is
  killed after a random delay; a new server runs the unfinished job again.

After each trial ``ingest.doctor.Doctor.check()`` must find the manifest, the chunk and
sentence vectors and the lexical index in exact agreement (no orphan, nothing missing, an
empty journal), the manifest must hold exactly the files of the corpus (and the uploads), and
a search for each document's own phrase must return it, once.

    .venv/bin/python benchmarks/crash_trials.py [--trials 20] [--seed 7] [--max-delay 12]

Writes benchmarks/results/crash_trials.json; ``tests/ingest/test_crash_trials.py`` runs two.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages, not benchmarks/*.py

from benchmarks._common import serve, wait_ready  # noqa: E402

WORDS = "ledger quartz harbour falcon meadow copper lantern orchid summit velvet".split()


def _doc_text(name: str, version: int) -> str:
    digest = hashlib.sha256(f"{name}:{version}".encode()).hexdigest()
    token = f"zq{int(digest[:12], 16) % 10**8:08d}"  # the document's own phrase
    paragraphs = [
        f"The {WORDS[(i + version) % len(WORDS)]} report of {name} section {i} records "
        f"item {i * 13 + version}. Reference {token}."
        for i in range(6)
    ]
    return f"# {name}\n\n" + "\n\n".join(f"## Part {i}\n\n{p}" for i, p in enumerate(paragraphs))


def change_corpus(docs: Path, rng: random.Random, n_new: int = 3) -> dict[str, int]:
    """Add, rewrite and delete files of ``docs`` (the seed decides which); what was done."""
    files = sorted(docs.glob("*.md"))
    changed = rng.sample(files, min(3, len(files)))
    for f in changed:
        f.write_text(_doc_text(f.stem, rng.randrange(1, 10**6)))
    removable = [f for f in files if f not in changed]
    removed = rng.sample(removable, min(2, len(removable)))
    for f in removed:
        f.unlink()
    start = max((int(f.stem[3:]) for f in files), default=-1) + 1
    for i in range(start, start + n_new):
        (docs / f"doc{i:04d}.md").write_text(_doc_text(f"doc{i:04d}", 0))
    return {"rewritten": len(changed), "deleted": len(removed), "added": n_new}


def _env(data: Path) -> dict[str, str]:
    return {**os.environ, "RAGSTEAD_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def _kill_after(proc: subprocess.Popen[Any], delay: float) -> bool:
    """SIGKILL ``proc``'s process group after ``delay`` s; False when it had already ended."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def cli_trial(docs: Path, data: Path, rng: random.Random, max_delay: float) -> dict[str, Any]:
    """Change the corpus, kill a sync part-way, sync again."""
    changes = change_corpus(docs, rng)
    delay = rng.uniform(0.5, max_delay)
    sync = subprocess.Popen(
        _cli("sync", str(docs)),
        env=_env(data),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    killed = _kill_after(sync, delay)
    subprocess.run(_cli("sync", str(docs)), env=_env(data), cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    return {"kind": "cli", "delay_s": round(delay, 2), "killed": killed, **changes}


def admin_key(data: Path) -> str:
    """A new admin key for ``data``."""
    import json

    made = subprocess.run(
        _cli("keys", "create", "--name", f"crash-{time.monotonic_ns()}", "--scopes", "admin",
             "--json"),
        env=_env(data), cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return str(json.loads(made.stdout)["key"])


def upload_trial(
    data: Path, rng: random.Random, max_delay: float, key: str, n: int
) -> dict[str, Any]:
    """Upload files to a server, kill it part-way through the job, let a new server finish."""
    from benchmarks.serve_startup import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {key}"}
    server = serve(data, port)
    try:
        wait_ready(base)
        names = [f"upload{n:03d}-{i}.md" for i in range(6)]
        files = [("files", (name, _doc_text(name[:-3], 0).encode(), "text/markdown"))
                 for name in names]  # fmt: skip
        accepted = httpx.post(f"{base}/v1/documents", files=files, headers=auth, timeout=60)
        accepted.raise_for_status()
        job = accepted.json()["job_id"]
        delay = rng.uniform(0.0, max_delay / 2)
        killed = _kill_after(server, delay)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    server = serve(data, port)
    try:
        wait_ready(base)
        deadline = time.monotonic() + 300
        status = ""
        while time.monotonic() < deadline:
            status = httpx.get(f"{base}/v1/jobs/{job}", headers=auth, timeout=10).json()["status"]
            if status in ("succeeded", "partial", "failed"):
                break
            time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"kind": "upload", "delay_s": round(delay, 2), "killed": killed, "job": status,
            "uploaded": names}  # fmt: skip


def verify(data: Path, docs: Path, uploaded: list[str]) -> dict[str, Any]:
    """The doctor's comparison, the manifest against the corpus, each document found once."""
    from ingest.doctor import Doctor
    from rag.container import Container
    from rag.settings import load_settings

    container = Container(load_settings(data_dir=data))
    report = Doctor(container).check()
    sources = [d.source for d in container.catalog.documents() if d.parent_id is None]
    corpus = {str(p.resolve()) for p in docs.glob("*.md")}
    in_docs = {s for s in sources if s.startswith(str(docs.resolve()))}
    uploads = sorted(Path(s).name for s in sources if s not in in_docs)
    duplicates = len(sources) - len(set(sources))
    wrong_hits = 0
    for path in sorted(corpus)[:5]:
        token = Path(path).read_text().split("Reference ")[1].split(".")[0]
        hits = container.retriever.search(token, 10)
        ids = [h.chunk.id for h in hits]
        found = {h.chunk.source for h in hits}
        if path not in found or len(ids) != len(set(ids)):
            wrong_hits += 1
    return {
        "consistent": report.consistent,
        "doctor": report.to_dict(),
        "manifest_matches_corpus": in_docs == corpus,
        "uploads_indexed": uploads == sorted(uploaded),
        "duplicate_sources": duplicates,
        "searches_wrong": wrong_hits,
    }


def passed(result: dict[str, Any]) -> bool:
    """Whether a trial left the stores exactly right."""
    ok = bool(result["consistent"]) and result["manifest_matches_corpus"]
    ok = ok and result["uploads_indexed"] and not result["duplicate_sources"]
    return ok and not result["searches_wrong"] and result.get("job", "succeeded") == "succeeded"


def run_trials(
    root: Path, trials: int, seed: int, max_delay: float, corpus_size: int = 24
) -> list[dict[str, Any]]:
    """``trials`` trials (cli and upload alternating) on one data directory under ``root``."""
    rng = random.Random(seed)
    docs, data = root / "docs", root / "data"
    docs.mkdir(parents=True)
    for i in range(corpus_size):
        (docs / f"doc{i:04d}.md").write_text(_doc_text(f"doc{i:04d}", 0))
    subprocess.run(_cli("sync", str(docs)), env=_env(data), cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    key = admin_key(data)
    uploaded: list[str] = []
    results = []
    for n in range(trials):
        started = time.monotonic()
        if n % 2 == 0:
            trial = cli_trial(docs, data, rng, max_delay)
        else:
            trial = upload_trial(data, rng, max_delay, key, n)
            uploaded += trial.pop("uploaded")
        trial |= verify(data, docs, uploaded)
        trial["seconds"] = round(time.monotonic() - started, 1)
        trial["passed"] = passed(trial)
        results.append(trial)
        print(
            f"trial {n + 1:2d} {trial['kind']:6s} killed after {trial['delay_s']:5.2f} s "
            f"({'mid-run' if trial['killed'] else 'after it ended'}): "
            f"{'consistent' if trial['passed'] else 'INCONSISTENT ' + str(trial['doctor'])}",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> None:
    """Run the trials, print a line each and a summary, write the JSON report."""
    from benchmarks._common import cpu_facts, write

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-delay", type=float, default=12.0, help="latest kill, seconds")
    args = parser.parse_args(argv)
    if not 1 <= args.trials <= 200:
        parser.error("between 1 and 200 trials")
    facts = cpu_facts()
    with tempfile.TemporaryDirectory(prefix="ragstead-crash-") as tmp:
        results = run_trials(Path(tmp), args.trials, args.seed, args.max_delay)
    killed = sum(r["killed"] for r in results)
    good = sum(r["passed"] for r in results)
    print(f"{good}/{len(results)} trials consistent ({killed} killed mid-run); {facts['cpu']}, "
          f"load before {facts['load_average']}")  # fmt: skip
    path = write("crash_trials", {**facts, "seed": args.seed, "trials": results,
                                  "consistent": good, "killed_mid_run": killed})  # fmt: skip
    print(f"wrote {path}")
    if good != len(results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
