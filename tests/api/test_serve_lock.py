"""One server per embedded data directory: a second `ragstead serve` on it stops at once and
names the process holding it; `--workers 2` is refused in embedded mode with what to do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.serve_lock import serve_lock
from rag.errors import ConfigurationError
from tests.conftest import ROOT
from tests.serving import free_port


def _serve(data: Path, model_cache: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "RAGSTEAD_DATA_DIR": str(data),
        "RAGSTEAD_MODEL_CACHE_DIR": str(model_cache),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_lock_is_exclusive_and_released_with_its_holder(tmp_path: Path) -> None:
    held = pytest.raises(ConfigurationError, match=rf"pid {os.getpid()}")
    with serve_lock(tmp_path), held, serve_lock(tmp_path):
        pass
    with serve_lock(tmp_path):  # free again once the first holder is done
        pass


def test_a_second_server_on_one_data_directory_is_refused(
    tmp_path: Path, model_cache: Path
) -> None:
    data = tmp_path / "data"
    port = free_port()
    first = _serve(data, model_cache, "--port", str(port))
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and first.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        second = _serve(data, model_cache, "--port", str(free_port()))
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        assert f"another Ragstead server (pid {first.pid})" in " ".join(err.split()), err
        assert "Traceback" not in err
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        first.terminate()
        first.wait(timeout=60)
    workers = _serve(data, model_cache, "--workers", "2", "--port", str(free_port()))
    _, err = workers.communicate(timeout=120)
    assert workers.returncode == 2 and "--workers 2 needs server mode" in " ".join(err.split())
