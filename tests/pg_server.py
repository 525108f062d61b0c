"""A PostgreSQL server for the tests: started on 127.0.0.1 in a temporary folder, stopped after.

``postgres_server()`` runs Debian's PostgreSQL (``/usr/lib/postgresql/*/bin``; as the
``postgres`` user when the tests run as root, in a folder of its own under the system's temporary
folder, since pytest's are private to root) and yields a maintenance URL;
``fresh_database(url)`` creates an empty database on it and returns its URL.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.serving import free_port


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs, newest version first (None if absent)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return Path(dirs[-1]) if dirs else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run PostgreSQL in a new temporary folder on a free loopback port; yields its URL."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    user = "postgres" if as_root else os.environ.get("USER", "postgres")
    path = Path(tempfile.mkdtemp(prefix="ragstead-pg-"))
    data = path / "data"
    if as_root:
        shutil.chown(path, "postgres")
    port = free_port()
    opts = f"-k {path} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        _run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust"])
        _run([*pg_ctl, "-o", opts, "-l", str(path / "server.log"), "-w", "start"])
        try:
            yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[-4:]} failed: {done.stdout}{done.stderr}")


def fresh_database(url: str) -> str:
    """Create an empty database on the server of ``url``; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for the session: its maintenance database's URL."""
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_server() as url:
        yield url
