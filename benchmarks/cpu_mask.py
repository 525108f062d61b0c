"""Run a benchmark as if its CPU lacked bfloat16 (``no-bf16``) or everything past AVX2
(``avx2``), to measure on this machine the code paths those CPUs take: ``cpu_mask.c``, built
here with the system's C compiler, hides the instructions from CPUID (the kernel's CPUID
faulting) and from /proc/cpuinfo, for the process and every child it starts.

    python benchmarks/cpu_mask.py avx2 benchmarks/ingest_vs_langchain.py --limit 300
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

MASKS = ("no-bf16", "avx2")
SOURCE = Path(__file__).with_name("cpu_mask.c")


def cpuid_faulting() -> bool:
    """True where the kernel can make CPUID fault (needed to hide instructions from it)."""
    try:
        return "cpuid_fault" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def library(cache_dir: Path) -> Path:
    """The compiled shim, built once per version of its source."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    built = cache_dir / f"cpu_mask-{digest}.so"
    if built.exists():
        return built
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("--cpu-mask needs a C compiler (cc or gcc) to build benchmarks/cpu_mask.c")
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = built.with_suffix(".tmp")
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(partial), str(SOURCE), "-ldl"], check=True
    )
    partial.replace(built)
    return built


def masked_env(mask: str, cache_dir: Path) -> dict[str, str]:
    """The environment that runs a process (and its children) under ``mask``."""
    if mask not in MASKS:
        raise SystemExit(f"unknown CPU mask {mask!r}: one of {', '.join(MASKS)}")
    if not cpuid_faulting():
        raise SystemExit("this CPU or kernel has no CPUID faulting (cpuid_fault in /proc/cpuinfo)")
    preload = " ".join(filter(None, [str(library(cache_dir)), os.environ.get("LD_PRELOAD")]))
    return {**os.environ, "LD_PRELOAD": preload, "CPU_MASK": mask}


def reexec_masked(mask: str | None, cache_dir: Path) -> None:
    """Run this process again under ``mask`` (no-op without one, or once it is applied)."""
    if not mask or os.environ.get("CPU_MASK") == mask:
        return
    env = masked_env(mask, cache_dir)
    print(f"re-running under the CPU mask {mask!r} (benchmarks/cpu_mask.c)", flush=True)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> int:
    """``cpu_mask.py MASK SCRIPT [ARGS...]``: run a Python script under a mask."""
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    mask, *command = sys.argv[1:]
    env = masked_env(mask, Path.home() / ".cache" / "ragstead-bench")
    return subprocess.run([sys.executable, *command], env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
