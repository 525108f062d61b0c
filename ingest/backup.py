"""``ragstead backup`` and ``restore``: a consistent copy of a live data directory.

The copy is taken under the ingestion lock, so nothing writes to the catalog or the vectors
meanwhile (searches go on); every SQLite file (the catalogs, Chroma's own, keys, jobs) is
copied with SQLite's backup API, other files (Chroma's vector segments, uploads) as they are.
Converted model caches are left out: they are rebuilt. Restore copies a backup into a data
directory that holds no index, or over one with ``force``.

Example::

    backup(Path(".ragstead"), Path("/backups/ragstead-2026-12-02"))
    restore(Path("/backups/ragstead-2026-12-02"), Path("/srv/ragstead"))
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

from rag.errors import ConfigurationError, InvalidRequestError
from rag.stores.locks import IngestLock

MARKER = "ragstead-backup.json"
_SKIP_DIRS = {"models"}
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal")


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _copy_tree(source: Path, target: Path) -> int:
    """Copy ``source`` into ``target`` (SQLite files through the backup API); files copied."""
    copied = 0
    for folder, dirs, files in os.walk(source):
        here = Path(folder)
        if here == source:
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        out = target / here.relative_to(source)
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            path = here / name
            if path.is_symlink() or name.endswith(_SKIP_SUFFIXES) or name == "ingest.lock":
                continue
            if _is_sqlite(path):
                with sqlite3.connect(path) as src, sqlite3.connect(out / name) as dst:
                    src.backup(dst)
                src.close()
                dst.close()
            else:
                shutil.copy2(path, out / name)
            copied += 1
    return copied


def backup(data_dir: Path, dest: Path) -> dict[str, object]:
    """A consistent copy of ``data_dir`` in the new folder ``dest``."""
    if not (data_dir / "index.sqlite3").exists():
        raise ConfigurationError(f"{data_dir} holds no Ragstead index", hint="check --data-dir")
    if dest.exists() and any(dest.iterdir()):
        raise InvalidRequestError(f"{dest} is not empty", hint="back up into a new folder")
    started = time.time()
    with IngestLock(data_dir / "ingest.lock", wait=True):
        files = _copy_tree(data_dir, dest)
    info = {"created": started, "source": str(data_dir.resolve()), "files": files}
    (dest / MARKER).write_text(json.dumps(info))
    return info


def restore(source: Path, data_dir: Path, *, force: bool = False) -> dict[str, object]:
    """Bring a backup back into ``data_dir``."""
    if not (source / MARKER).is_file():
        raise InvalidRequestError(f"{source} is not a Ragstead backup", hint=f"it has no {MARKER}")
    if (data_dir / "index.sqlite3").exists() and not force:
        raise InvalidRequestError(
            f"{data_dir} already holds an index", hint="restore into a new folder, or pass --force"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    with IngestLock(data_dir / "ingest.lock", wait=True):
        if force:
            for child in data_dir.iterdir():
                if child.name in _SKIP_DIRS or child.name == "ingest.lock":
                    continue
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        files = _copy_tree(source, data_dir)
    (data_dir / MARKER).unlink(missing_ok=True)
    return {"files": files, "from": str(source)}
