"""Server mode across processes: two ``ragstead serve`` processes and one ``ragstead ingest``
against one PostgreSQL and one Chroma server; every API process sees every change.

Each process has a data directory of its own, as it would on its own host: the catalog, the
keyword index and the ingestion lock are in PostgreSQL, the vectors in Chroma. Real models,
real processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from api.auth.keys import KeyStore
from rag.settings import load_settings
from tests.contracts.conftest import chroma_server  # noqa: F401  (session fixture)
from tests.pg_server import fresh_database, postgres_url  # noqa: F401  (session fixture)
from tests.serving import free_port

RAGSTEAD = [sys.executable, "-m", "api.cli"]


@contextmanager
def serve(env: dict[str, str], data_dir: Path, log: Path) -> Iterator[str]:
    """A ``ragstead serve`` process on a free loopback port until the block ends."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*RAGSTEAD, "serve", "--port", str(port), "--data-dir", str(data_dir)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ragstead serve did not start: {log.read_text()}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def sources(url: str, key: str, question: str) -> set[str]:
    r = httpx.post(
        f"{url}/v1/retrieve",
        json={"question": question, "top_k": 3},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    return {p["source"] for p in r.json()["passages"]}


def test_two_api_processes_see_every_change_of_one_ingestion(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
    chroma_server: tuple[str, int],  # noqa: F811
) -> None:
    env = os.environ | {
        "RAGSTEAD_STORE__MODE": "server",
        "RAGSTEAD_STORE__POSTGRES_URL": fresh_database(postgres_url),
        "RAGSTEAD_STORE__CHROMA_HOST": chroma_server[0],
        "RAGSTEAD_STORE__CHROMA_PORT": str(chroma_server[1]),
        "RAGSTEAD_STORE__COLLECTION": f"procs-{uuid.uuid4().hex[:8]}",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave each year.\n")
    ingest = [*RAGSTEAD, "ingest", str(docs), "--data-dir", str(tmp_path / "worker")]
    subprocess.run(ingest, env=env, check=True, capture_output=True, timeout=300)
    hosts = [tmp_path / "api-a", tmp_path / "api-b"]
    keys = []
    for host in hosts:  # API keys are each host's own
        made = KeyStore(load_settings(data_dir=host).auth_path).create(
            "procs", scopes=["read", "write", "admin"]
        )
        assert made.key is not None
        keys.append(made.key)
    with ExitStack() as stack:
        urls = [
            stack.enter_context(serve(env, host, tmp_path / f"{host.name}.log")) for host in hosts
        ]
        for url, key in zip(urls, keys, strict=True):
            assert sources(url, key, "how many days of annual leave") == {str(docs / "leave.md")}
            listed = httpx.get(
                f"{url}/v1/documents", headers={"Authorization": f"Bearer {key}"}, timeout=60
            )
            assert [d["source"] for d in listed.json()["documents"]] == [str(docs / "leave.md")]
        (docs / "pay.md").write_text("# Pay\n\nSalaries are paid on the 25th of each month.\n")
        (docs / "leave.md").unlink()
        done = subprocess.run([*ingest, "--prune"], env=env, capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr
        for url, key in zip(urls, keys, strict=True):
            assert sources(url, key, "when are salaries paid") == {str(docs / "pay.md")}
            assert str(docs / "leave.md") not in sources(url, key, "annual leave days")
