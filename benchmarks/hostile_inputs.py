"""Hostile and broken input through the CLI, the upload route and the query routes.

The corpus comes from ``benchmarks/hostile_corpus.py``: broken PDFs, zip bombs (one whose
headers lie about its size), an archive of 12,000 members, 50,000-deep HTML, a 200 MB line,
invalid UTF-8, names with newlines and terminal escapes, a symlink out of the folder, upload
names that climb out of their folder, and malformed requests (bad JSON, wrong content types,
a 10 MB question, a lone surrogate, top_k of 0, -1 and 10^9, a 1,000-message history...).
Each case must get a clear answer: the CLI a failure line with a reason (exit status 1, no
traceback, no raw escape sequence), HTTP a 4xx in the JSON error shape or a job that fails
with a reason; the server stays up and the good document stays answerable; the symlink's
target is never indexed.

    .venv/bin/python benchmarks/hostile_inputs.py [--big-mb 200]

Writes benchmarks/results/hostile_inputs.json; ``tests/api/test_hostile_corpus.py`` runs the
same cases with a smaller large file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages, not benchmarks/*.py

from benchmarks.hostile_corpus import (  # noqa: E402
    GOOD_FACT,
    GOOD_QUESTION,
    bad_files,
    bad_requests,
    traversal_names,
)


def _error_shape(response: httpx.Response) -> bool:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and bool(error.get("type")) and bool(error.get("message"))


def run_cli(folder: Path, data_dir: Path, expected: dict[str, str]) -> list[dict[str, Any]]:
    """`ragstead ingest FOLDER --json`: each file's outcome against the expected one."""
    env = {**os.environ, "RAGSTEAD_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", str(folder), "--json"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    clean = "Traceback" not in output and "\x1b" not in output
    report = json.loads(proc.stdout)
    failed = {Path(f["path"]).name: f["reason"] for f in report["failed"]}
    skipped = {Path(f["path"]).name: f["reason"] for f in report["skipped"]}
    indexed = {Path(p).name for p in report["added"] + report["updated"]}
    results = []
    for name, outcome in expected.items():
        if name in failed:
            got, reason = "refused", failed[name]
        elif name in skipped:
            got, reason = "skipped", skipped[name]
        else:
            got, reason = ("indexed" if name in indexed else "not indexed"), ""
        ok = got == outcome or (outcome == "skipped" and got == "not indexed")
        results.append(
            {"via": "cli", "case": name, "expected": outcome, "got": got, "reason": reason,
             "handled": ok and clean and proc.returncode == 1}
        )  # fmt: skip
    return results


def _wait_job(client: httpx.Client, job_id: str, timeout_s: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "partial", "failed"):
            return job
        time.sleep(0.2)
    return {"status": "timeout", "files": []}


def run_uploads(
    client: httpx.Client, folder: Path, expected: dict[str, str]
) -> list[dict[str, Any]]:
    """Each file of the corpus uploaded alone, then names that climb out of their folder."""
    results = []
    for name, outcome in expected.items():
        path = folder / name
        if path.is_symlink():  # a client cannot upload a link: its target's bytes would go
            continue
        with path.open("rb") as handle:
            r = client.post("/v1/documents", files={"files": (name, handle)})
        if r.status_code == 202:
            job = _wait_job(client, r.json()["job_id"])
            got = "indexed" if job["status"] == "succeeded" else "refused"
            reason = "; ".join(f.get("error") or "" for f in job.get("files", []))
            ok = got == outcome and (got == "indexed" or bool(reason))
        else:
            got, reason = f"HTTP {r.status_code}", r.text[:200]
            ok = 400 <= r.status_code < 500 and _error_shape(r) and outcome == "refused"
        results.append({"via": "upload", "case": name, "expected": outcome, "got": got,
                        "reason": reason, "handled": ok})  # fmt: skip
    for name in traversal_names():
        r = client.post("/v1/documents", files={"files": (name, b"The lift is on the left.")})
        stored = ""
        if r.status_code == 202:
            job = _wait_job(client, r.json()["job_id"])
            stored = job["files"][0]["name"] if job.get("files") else ""
        safe = bool(stored) and not any(c in stored for c in "/\\") and stored[0] != "."
        refused = 400 <= r.status_code < 500 and _error_shape(r)
        got = stored or f"HTTP {r.status_code}"
        results.append(
            {"via": "upload", "case": f"name {name!r}", "expected": "a safe name", "got": got,
             "reason": "", "handled": (r.status_code == 202 and safe) or refused}
        )  # fmt: skip
    return results


def run_requests(client: httpx.Client) -> list[dict[str, Any]]:
    """Each malformed request: a 4xx in the JSON error shape, or a normal answer; never 5xx."""
    results = []
    for case in bad_requests():
        started = time.perf_counter()
        if case.content is not None:
            r = client.post(case.path, content=case.content, headers=case.headers)
        else:
            r = client.post(case.path, json=case.json)
        ok = r.status_code < 400 or (400 <= r.status_code < 500 and _error_shape(r))
        results.append(
            {"via": "request", "case": case.name, "got": f"HTTP {r.status_code}",
             "ms": round((time.perf_counter() - started) * 1000), "handled": ok}
        )  # fmt: skip
    return results


def still_answers(client: httpx.Client) -> dict[str, bool]:
    """The server is up, the good document answers, the symlink's target was never indexed."""
    health = client.get("/healthz").status_code == 200
    found = client.post("/v1/retrieve", json={"question": GOOD_QUESTION, "top_k": 5}).json()
    answered = any(GOOD_FACT in p["text"] for p in found.get("passages", []))
    secret = client.post("/v1/retrieve", json={"question": "vault code 7741", "top_k": 10}).json()
    leaked = any("7741" in p["text"] for p in secret.get("passages", []))
    return {"up": health, "good_document_answers": answered, "link_target_not_indexed": not leaked}


def main(argv: list[str] | None = None) -> None:
    """Run every case through the CLI, then through a running server; print and write JSON."""
    from benchmarks._common import cpu_facts, serve, wait_ready, write
    from benchmarks.crash_trials import admin_key
    from benchmarks.serve_startup import free_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mb", type=int, default=200, help="size of the one-line file")
    args = parser.parse_args(argv)
    facts = cpu_facts()
    with tempfile.TemporaryDirectory(prefix="ragstead-hostile-") as tmp:
        folder, data = Path(tmp) / "in", Path(tmp) / "data"
        expected = bad_files(folder, big_bytes=args.big_mb * 1_000_000)
        results = run_cli(folder, data, expected)
        port = free_port()
        server = serve(data, port)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base)
            auth = {"Authorization": f"Bearer {admin_key(data)}"}
            with httpx.Client(base_url=base, headers=auth, timeout=600) as client:
                results += run_uploads(client, folder, expected)
                results += run_requests(client)
                after = still_answers(client)
        finally:
            server.terminate()
            server.wait(timeout=60)
    handled = sum(r["handled"] for r in results)
    for r in results:
        flag = "ok " if r["handled"] else "BAD"
        reason = r.get("reason", "")[:70]
        print(f"{flag} {r['via']:8s} {r['case'][:40]!r:44s} {r['got']:>12s}  {reason}")
    print(f"{handled}/{len(results)} cases handled; after them: {after}")
    print(f"{facts['cpu']}, load before {facts['load_average']}")
    report = {**facts, "cases": results, "handled": handled, "after": after}
    print(f"wrote {write('hostile_inputs', report)}")
    if handled != len(results) or not all(after.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
