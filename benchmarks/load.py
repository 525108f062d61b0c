"""A bounded loopback load test: many clients on /v1/retrieve and a few on /v1/query against a
real `ragstead serve` over the example documents.

Each client is a thread with its own key (a user of its own: the per-key rate limit is part of
what is measured, and a 429 counts as deliberate backpressure, as a 503 does). Reports, per
route: requests, failures (anything but 200/429/503, connection errors included), p50/p95/p99
latency; the server's RSS sampled every second (start, peak, end). Nothing but 127.0.0.1 is a
target, and the run stops after ``--seconds``.

    .venv/bin/python benchmarks/load.py [--retrieve-clients 32] [--query-clients 4] [--seconds 60]

Writes benchmarks/results/load.json. ``tests/api/test_load_short.py`` runs ``drive`` for a
few seconds in ``make test``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages, not benchmarks/*.py

from benchmarks._common import serve, wait_ready  # noqa: E402
from benchmarks.serve_startup import QUESTIONS  # noqa: E402

BACKPRESSURE = {429, 503}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


def drive(
    base_url: str,
    keys: Sequence[str],
    *,
    retrieve_clients: int,
    query_clients: int,
    seconds: float,
    sample: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Run the clients for ``seconds`` (each key used by one client, round robin) and return
    the report; ``sample`` gives the server's RSS in MiB, read once a second."""
    if not base_url.startswith(("http://127.", "http://localhost")):
        raise ValueError(f"load tests target loopback only, not {base_url}")
    deadline = time.monotonic() + seconds
    results: dict[str, list[tuple[int, float]]] = {"/v1/retrieve": [], "/v1/query": []}
    lock = threading.Lock()

    def client(n: int, route: str) -> None:
        key = keys[n % len(keys)]
        body_of = (
            (lambda q: {"question": q, "top_k": 5})
            if route == "/v1/retrieve"
            else (lambda q: {"question": q, "mode": "extractive"})
        )
        with httpx.Client(
            base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            i = n
            while time.monotonic() < deadline:
                question = QUESTIONS[i % len(QUESTIONS)]
                i += 1
                started = time.perf_counter()
                try:
                    status = http.post(route, json=body_of(question)).status_code
                except httpx.HTTPError:
                    status = -1  # a refused or broken connection: a failure
                elapsed = time.perf_counter() - started
                with lock:
                    results[route].append((status, elapsed))
                if status in BACKPRESSURE:
                    time.sleep(0.2)

    rss: list[float] = []
    threads = [
        threading.Thread(target=client, args=(n, "/v1/retrieve"), daemon=True)
        for n in range(retrieve_clients)
    ] + [
        threading.Thread(target=client, args=(retrieve_clients + n, "/v1/query"), daemon=True)
        for n in range(query_clients)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if sample is not None:
            rss.append(sample())
        time.sleep(1.0)
        if time.monotonic() > deadline + 120:  # a hung client does not hang the run
            break
    wall = time.monotonic() - started
    report: dict[str, Any] = {"seconds": round(wall, 1), "routes": {}}
    for route, rows in results.items():
        ok = [t * 1000 for s, t in rows if s == 200]
        report["routes"][route] = {
            "requests": len(rows),
            "ok": len(ok),
            "backpressure": sum(s in BACKPRESSURE for s, _ in rows),
            "failures": sum(s not in BACKPRESSURE and s != 200 for s, _ in rows),
            "statuses": sorted({s for s, _ in rows}),
            "per_s": round(len(ok) / wall, 1) if wall else 0.0,
            "p50_ms": round(percentile(ok, 50), 1),
            "p95_ms": round(percentile(ok, 95), 1),
            "p99_ms": round(percentile(ok, 99), 1),
        }
    if rss:
        report["server_rss_mib"] = {
            "start": round(rss[0]),
            "peak": round(max(rss)),
            "end": round(rss[-1]),
            "median": round(statistics.median(rss)),
            # flat once warm: the growth over the second half of the run
            "second_half_growth": round(rss[-1] - rss[len(rss) // 2]),
            "last_20_samples_range": round(max(rss[-20:]) - min(rss[-20:])),
            "series": [round(x) for x in rss],
        }
    return report


def main(argv: list[str] | None = None) -> None:
    """Index the examples, serve them, drive the load, print and write the report."""
    import psutil

    from benchmarks._common import cpu_facts, write
    from benchmarks.serve_startup import free_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retrieve-clients", type=int, default=32)
    parser.add_argument("--query-clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 600 or args.retrieve_clients + args.query_clients > 256:
        parser.error("at most 600 s and 256 clients")
    facts = cpu_facts()
    with tempfile.TemporaryDirectory(prefix="ragstead-load-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "RAGSTEAD_DATA_DIR": str(data)}
        run = [sys.executable, "-m", "api.cli"]
        subprocess.run([*run, "ingest", "examples/docs"], env=env, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        from api.auth.keys import KeyStore
        from rag.settings import load_settings

        store = KeyStore(load_settings(data_dir=data).auth_path)
        clients = args.retrieve_clients + args.query_clients
        keys = [store.create(f"load-{n}").key for n in range(clients)]  # a user each
        port = free_port()
        server = serve(data, port)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base)
            proc = psutil.Process(server.pid)
            report = drive(
                base,
                keys,
                retrieve_clients=args.retrieve_clients,
                query_clients=args.query_clients,
                seconds=args.seconds,
                sample=lambda: proc.memory_info().rss / 2**20,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {**facts, "clients": vars(args), **report, "load_after": os.getloadavg()[0]}
    for route, row in report["routes"].items():
        print(
            f"{route:14s} {row['requests']:6d} requests  {row['per_s']:6.1f}/s  "
            f"p50 {row['p50_ms']:7.1f}  p95 {row['p95_ms']:7.1f}  p99 {row['p99_ms']:7.1f} ms  "
            f"429/503 {row['backpressure']}  failures {row['failures']}"
        )
    print(f"server RSS MiB: {report.get('server_rss_mib')}")
    print(f"{facts['cpu']}, {facts['cores']} cores, load before {facts['load_average']}")
    print(f"wrote {write('load', report)}")


if __name__ == "__main__":
    main()
