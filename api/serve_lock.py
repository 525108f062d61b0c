"""One server per embedded data directory.

The embedded stores (SQLite files and Chroma's local files) belong to one host and, for
Chroma's local mode, to one process: two servers writing one data directory would corrupt its
vector index. ``ragstead serve`` holds an exclusive lock on ``DATA_DIR/serve.lock`` while it
runs; a second server on the same directory stops at once and says which process holds it.
The lock is the operating system's (``flock``): a killed server releases it with its process.
CLI ingestion is unaffected (it has its own lock, and the server sees its writes).

Example::

    with serve_lock(data_dir):
        uvicorn.run(app, ...)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from rag.errors import ConfigurationError

NAME = "serve.lock"


@contextlib.contextmanager
def serve_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's server lock while the block runs (ConfigurationError when
    another server holds it)."""
    path = Path(data_dir) / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigurationError(
                f"another Ragstead server (pid {holder}) is using the data directory {data_dir}",
                hint="stop it, or give this one its own --data-dir; several servers can share"
                " one index in server mode (store.chroma_host set)",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock
