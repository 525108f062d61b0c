"""The benchmarks' CPU mask hides instructions from CPUID and /proc/cpuinfo, so the figures
for CPUs without bfloat16 or AVX-512 measure the paths those CPUs take."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.cpu_mask import cpuid_faulting, masked_env

#: what a process sees: the flags /proc/cpuinfo lists, and onnxruntime's and the project's
#: reading of them (CPUID itself is read by the kernels; PyTorch's view is not loaded here).
PROBE = """
import json
from rag.cpu_features import cpu_flags, cpu_has_bf16, cpu_has_int8_kernels
flags = cpu_flags()
print(json.dumps({
    "avx512": sorted(f for f in flags if f.startswith("avx512")),
    "bf16": cpu_has_bf16(),
    "int8": cpu_has_int8_kernels(),
    "avx2": "avx2" in flags,
}))
"""


#: leaf 7's AVX-512F (sub-leaf 0, EBX bit 16) and AVX512-BF16 (sub-leaf 1, EAX bit 5) bits
#: as the CPUID instruction answers them.
CPUID_PROBE = r"""
#include <cpuid.h>
#include <stdio.h>
int main(void) {
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    unsigned avx512f = (b >> 16) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    printf("%u %u\n", avx512f, (a >> 5) & 1);
    return 0;
}
"""


def _cpuid_bits(tmp_path: Path, env: dict[str, str] | None) -> str:
    source, binary = tmp_path / "probe.c", tmp_path / "probe"
    if not binary.exists():
        source.write_text(CPUID_PROBE)
        subprocess.run(["cc", "-o", str(binary), str(source)], check=True)
    return subprocess.run(
        [str(binary)], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def _seen(env: dict[str, str] | None) -> dict[str, Any]:
    import json

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=root, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def test_the_avx2_mask_hides_everything_past_avx2(tmp_path: Path) -> None:
    if not cpuid_faulting():  # a kernel or CPU without it: the benchmark says so and stops
        with pytest.raises(SystemExit, match="CPUID faulting"):
            masked_env("avx2", tmp_path)
        return
    env = {**masked_env("avx2", tmp_path), "PYTHONPATH": str(Path(__file__).parents[1])}
    seen = _seen(env)
    assert seen["avx512"] == [] and seen["bf16"] is False
    assert seen["avx2"] is True and seen["int8"] is True  # AVX2's own int8 kernels stay
    assert _cpuid_bits(tmp_path, env) == "0 0"  # CPUID itself: no AVX-512F, no BF16
    no_bf16_env = {**masked_env("no-bf16", tmp_path), "PYTHONPATH": env["PYTHONPATH"]}
    no_bf16 = _seen(no_bf16_env)
    assert no_bf16["bf16"] is False and no_bf16["avx512"] == [
        f for f in _seen(None)["avx512"] if f != "avx512_bf16"
    ]
    assert _cpuid_bits(tmp_path, no_bf16_env).endswith(" 0")


def test_an_unknown_mask_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown CPU mask"):
        masked_env("avx10", tmp_path)
