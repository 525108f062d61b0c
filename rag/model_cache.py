"""One process-wide cache of loaded models, keyed by what makes a load different.

Every model (embedder, query encoder, generator, reranker) loads at most once per process and
configuration, however many objects ask for it; two threads asking for the same key wait for
one load, and loads of different keys do not wait for each other.

Example::

    model = cached_model(("embedder", path, "cpu", "float32"), lambda: load(path))
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_MODELS: dict[Hashable, Any] = {}
_KEY_LOCKS: dict[Hashable, threading.Lock] = {}
_GUARD = threading.Lock()


def cached_model(key: Hashable, load: Callable[[], T]) -> T:
    """The model under ``key``, loaded with ``load()`` the first time it is asked for."""
    with _GUARD:
        if key in _MODELS:
            return _MODELS[key]  # type: ignore[no-any-return]
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _GUARD:
            if key in _MODELS:
                return _MODELS[key]  # type: ignore[no-any-return]
        model = load()
        with _GUARD:
            _MODELS[key] = model
        return model


def peek_model(key: Hashable) -> Any | None:
    """The model under ``key`` if it is loaded, else None (loads nothing)."""
    with _GUARD:
        return _MODELS.get(key)
