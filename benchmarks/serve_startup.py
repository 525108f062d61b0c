"""Cold and warm start of `ragstead serve` until /healthz answers, `ask` latency, peak server RSS.

Cold: an empty model cache (the embedded SmolLM2 is converted from its GGUF). Warm: the cache
from the cold run. Prints the figures and writes benchmarks/results/serve_startup.json.

    .venv/bin/python benchmarks/serve_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUESTIONS = [
    "How many days of annual leave do full-time employees get?",
    "What is the minimum password length?",
    "How much is Insight Pro per user and month?",
    "Who approves expenses above 2,500 EUR?",
    "How long is the probation period?",
]


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ragstead CLI of this checkout."""
    cmd = [sys.executable, "-m", "api.cli", *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True)


def wait_until_idle(proc: subprocess.Popen[bytes], limit_s: float = 120.0) -> float:
    """Seconds until the server's process (its model loads behind ready) stays under 20 % of a
    core for two seconds in a row; at most ``limit_s``."""
    server = psutil.Process(proc.pid)
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < limit_s and quiet < 2:
        quiet = quiet + 1 if server.cpu_percent(interval=1.0) < 20.0 else 0
    return time.perf_counter() - started


def start_and_wait(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start the server; seconds until /healthz returns 200."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        if proc.poll() is not None:
            raise SystemExit("the server exited before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc, time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def peak_rss(proc: subprocess.Popen[bytes]) -> int:
    """Peak resident memory of the server process (VmHWM), bytes."""
    status = Path(f"/proc/{proc.pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return psutil.Process(proc.pid).memory_info().rss


def main() -> None:
    """Measure and report."""
    from benchmarks._common import api_key, cpu_facts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="queries per question")
    parser.add_argument("--starts", type=int, default=3, help="warm starts (median reported)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/serve_startup.json")
    args = parser.parse_args()
    facts = cpu_facts()
    work = Path(tempfile.mkdtemp(prefix="ragstead-bench-"))
    env = {**os.environ, "RAGSTEAD_DATA_DIR": str(work / "data"), "PYTHONPATH": str(ROOT)}
    try:
        cli("ingest", str(ROOT / "examples/docs"), env=env)
        key = api_key(work / "data")
        auth = {"Authorization": f"Bearer {key}"}
        port = free_port()
        proc, cold = start_and_wait(env, port)
        proc.terminate()
        proc.wait()
        warm_starts = []
        for _ in range(args.starts):
            proc, warm = start_and_wait(env, port)
            warm_starts.append(warm)
            proc.terminate()
            proc.wait()
        proc, warm = start_and_wait(env, port)
        warm_starts.append(warm)
        # the first answer right after ready meets what loads behind ready (the document
        # encoder for the passages' sentences, the generator): reported as it is
        t0 = time.perf_counter()
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/query",
            json={"question": QUESTIONS[0]},
            headers=auth,
            timeout=300,
        )
        r.raise_for_status()
        first_answer = time.perf_counter() - t0
        t0 = time.perf_counter()
        httpx.post(
            f"http://127.0.0.1:{port}/v1/retrieve",
            json={"question": QUESTIONS[1]},
            headers=auth,
            timeout=300,
        ).raise_for_status()
        first_search = time.perf_counter() - t0
        loaded_after = wait_until_idle(proc)  # the rest (the generator) has loaded behind
        latencies = []
        for _ in range(args.runs):
            for q in QUESTIONS:
                t0 = time.perf_counter()
                r = httpx.post(
                    f"http://127.0.0.1:{port}/v1/query",
                    json={"question": q},
                    headers=auth,
                    timeout=300,
                )
                r.raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)
        ask_served = []
        for q in QUESTIONS[:3]:  # `ragstead ask` as a whole process asks the running server
            t0 = time.perf_counter()
            cli("ask", q, env={**env, "RAGSTEAD_API_KEY": key})
            ask_served.append(time.perf_counter() - t0)
        rss = peak_rss(proc)
        proc.terminate()
        proc.wait()
        t0 = time.perf_counter()
        cli("ask", QUESTIONS[0], env=env)
        ask_cli = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "cold_start_s": round(cold, 2),
        "warm_start_s": round(statistics.median(warm_starts), 2),
        "warm_starts_s": [round(w, 2) for w in warm_starts],
        "first_search_after_ready_s": round(first_search, 2),
        "first_answer_after_ready_s": round(first_answer, 2),
        "idle_after_first_answer_s": round(loaded_after, 2),
        "query_p50_ms": round(statistics.median(latencies), 1),
        "query_p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        "queries": len(latencies),
        "ask_with_server_s": round(statistics.median(ask_served), 2),
        "ask_with_server_runs_s": [round(a, 2) for a in ask_served],
        "ask_cli_s": round(ask_cli, 2),
        "server_peak_rss_mib": round(rss / 2**20, 1),
        "cpu": facts["cpu"],
        "cpu_count": os.cpu_count(),
        "avx512_bf16": facts["avx512_bf16"],
        "load_average_before": facts["load_average"],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for key, value in report.items():
        print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
