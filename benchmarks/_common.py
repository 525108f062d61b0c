"""Shared pieces of the benchmarks: the data path, the results folder, the corpus index,
JSON output."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.corpus import CorpusIndex

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def require(path: Path, what: str) -> Path:
    """``path`` if it exists; otherwise print why and exit 2."""
    if not path.exists():
        print(
            f"{what} not found at {path}; pass --data pointing at the evaluation data "
            "(see shared/data/README.md)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return path


def open_index(corpus: Path, index_dir: Path | None) -> CorpusIndex:
    """The corpus index ``ragstead eval`` uses too (built on the first run, then reused)."""
    from ingest.corpus import open_corpus_index
    from rag.settings import load_settings

    index = open_corpus_index(
        load_settings(),
        corpus,
        index_dir=index_dir,
        progress=lambda run: print(f"  {run.written} chunks written", file=sys.stderr),
    )
    print(index.run.summary(), file=sys.stderr)
    return index


def write(name: str, payload: dict[str, Any]) -> Path:
    """Write a JSON report to benchmarks/results/NAME.json and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"machine": f"{platform.machine()} {platform.processor()}".strip(), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def table(rows: dict[str, dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table of figures by method."""
    head = f"{'method':28s}" + "".join(f"{c:>12s}" for c in columns)
    lines = [head]
    for name, row in rows.items():
        lines.append(f"{name:28s}" + "".join(f"{row.get(c, ''):>12}" for c in columns))
    return "\n".join(lines)


def cpu_facts() -> dict[str, Any]:
    """The CPU model, core count, whether it has bfloat16 instructions and which int8 ones
    (read from /proc/cpuinfo, never assumed) and the load average now: stated with every
    figure."""
    import os

    from rag.cpu_features import INT8_KERNEL_FLAGS, cpu_flags

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine()):
                model = value.strip()
    except OSError:
        pass
    names = cpu_flags()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in names,
        "amx_bf16": "amx_bf16" in names,
        "int8_kernels": sorted(INT8_KERNEL_FLAGS & names),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def api_key(data_dir: Path, name: str = "bench") -> str:
    """A new read key for the server over ``data_dir`` (authentication is on by default)."""
    from api.auth.keys import KeyStore
    from rag.settings import load_settings

    return KeyStore(load_settings(data_dir=data_dir).auth_path).create(name).key or ""


def wait_ready(base_url: str, timeout_s: float = 300.0) -> None:
    """Return once ``base_url``'s /healthz answers 200 (RuntimeError after ``timeout_s``)."""
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base_url} did not become ready in {timeout_s:.0f} s")


def exit_on_sigterm() -> None:
    """Make SIGTERM (``timeout``, ``kill``) raise SystemExit, so ``finally`` blocks stop the
    servers a benchmark started instead of leaving them running."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def serve(data_dir: Path, port: int, settings: dict[str, str] | None = None) -> Any:
    """`ragstead serve` of this checkout on 127.0.0.1:``port`` over ``data_dir``, in a session
    of its own (SIGKILL its group to kill it with its workers); a ``subprocess.Popen``.
    ``settings``: more environment variables (``RAGSTEAD_...``) for the server."""
    import os
    import subprocess

    env = {**os.environ, **(settings or {}), "RAGSTEAD_DATA_DIR": str(data_dir)}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
