"""A ``chroma run`` server for tests and benchmarks: started on 127.0.0.1, stopped after.

Example::

    with chroma_server_at(tmp / "chroma") as (host, port, pid):
        ...
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.serving import free_port


@contextmanager
def chroma_server_at(
    path: Path, *, start_timeout_s: float = 60.0
) -> Iterator[tuple[str, int, int]]:
    """Run ``chroma run`` on a free loopback port with its files under ``path``; yields
    (host, port, pid)."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    log_path = path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [chroma, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                try:
                    beat = httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
                    if beat.is_success:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not start: {log_path.read_text()}")
                time.sleep(0.2)
            yield "127.0.0.1", port, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
