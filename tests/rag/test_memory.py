"""The process-wide memory switches: set before any model runs, and the operator's word kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rag.memory import KERNEL_CACHE_CAPACITY, release_freed_memory

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import os, rag.offline; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"


def _capacity(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_kernel_cache_is_capped_by_the_module_every_entry_point_loads_first() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    assert _capacity(env) == str(KERNEL_CACHE_CAPACITY)


def test_an_operators_own_kernel_cache_setting_is_kept() -> None:
    assert _capacity({**os.environ, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "512"}) == "512"


def test_freed_memory_goes_back_where_the_c_library_can() -> None:
    assert release_freed_memory() is sys.platform.startswith("linux")
