"""What this machine's CPU can do, read once: decisions such as bfloat16 are detected, never
assumed (the same image runs on CPUs with and without bfloat16 instructions)."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, as on macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_bf16() -> bool:
    """True where the CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX)."""
    flags = cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


#: the /proc/cpuinfo flags of the instructions onnxruntime's int8 matrix kernels use: AVX2
#: (its u8s8 kernels), and the VNNI and AMX extensions past it.
INT8_KERNEL_FLAGS = frozenset({"avx2", "avx_vnni", "avx512_vnni", "amx_int8"})


def cpu_has_int8_kernels() -> bool:
    """True where onnxruntime has fast int8 matrix kernels for this CPU
    (``INT8_KERNEL_FLAGS``). Elsewhere int8 may be no faster."""
    return bool(INT8_KERNEL_FLAGS & cpu_flags())
