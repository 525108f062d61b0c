"""Handing freed memory back to the operating system.

glibc keeps the memory of freed large objects (a model's load, a long prompt's activations)
in its heap, so a server's RSS ratchets up with each new peak. ``release_freed_memory`` asks
glibc to return what is free (``malloc_trim``); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


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
