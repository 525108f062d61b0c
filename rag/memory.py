"""Keeping a long-running process's memory at the size of its models.

glibc keeps the memory of freed large objects (a model's load, a long prompt's activations)
in its heap, so a server's RSS ratchets up with each new peak. ``release_freed_memory`` asks
glibc to return what is free (``malloc_trim``); elsewhere it does nothing.

oneDNN, which PyTorch's bfloat16 products on a CPU go through, caches a compiled kernel for
every matrix shape it meets, 1,024 by default. A generative answer meets new shapes with
every prompt length and every decoding position, so that cache grew a server by about 200 MiB
over 20 answers (``benchmarks/generative_served.py``: 1,652 MiB; 1,447 with a cap of 16 and
1,446 with this module's 32, at the same decoding speed). ``bound_kernel_caches`` caps it;
oneDNN reads the cap once, when it first builds a kernel, so it is set before any model runs
(``rag.offline``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import cache
from typing import Any

#: oneDNN kernels kept per process: enough for one prompt's shapes (a few per layer), not for
#: every prompt length and decoding position seen since start-up
KERNEL_CACHE_CAPACITY = 32


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> bool:
    """Return freed heap memory to the OS where the C library can (True if it tried)."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def bound_kernel_caches() -> None:
    """Cap oneDNN's kernel cache, unless the environment already sets it."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(KERNEL_CACHE_CAPACITY))
