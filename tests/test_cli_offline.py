"""The CLI in a subprocess, with every non-loopback connection refused and recorded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.serving import free_port

# Loaded by the child interpreter through PYTHONPATH: refuses and records any connection that
# is not to loopback or a local socket, at the lowest level Python code can reach.
GUARD = """
import os, socket
_log = os.environ["RAGSTEAD_EGRESS_LOG"]
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo

def _local(host):
    return host in ("localhost", "", None) or str(host).startswith("127.") or host == "::1"

def _record(what):
    with open(_log, "a") as fh:
        fh.write(what + "\\n")

def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _record(f"connect {address!r}")
        raise ConnectionRefusedError(f"egress blocked by test: {address!r}")

def connect(self, address):
    _check(self, address)
    return _real_connect(self, address)

def connect_ex(self, address):
    _check(self, address)
    return _real_connect_ex(self, address)

def getaddrinfo(host, *args, **kwargs):
    if not _local(host if not isinstance(host, bytes) else host.decode()):
        _record(f"resolve {host!r}")
        raise socket.gaierror(f"egress blocked by test: {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)

socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
"""


@pytest.fixture()
def guarded_env(tmp_path: Path, model_cache: Path) -> dict[str, str]:
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTEAD_")}
    for private in ("home", "tmp"):  # where a process might leave traces outside its data dir
        (tmp_path / private).mkdir()
    env.update(
        HOME=str(tmp_path / "home"),
        TMPDIR=str(tmp_path / "tmp"),
        PYTHONPATH=f"{guard_dir}{os.pathsep}{ROOT}",
        RAGSTEAD_EGRESS_LOG=str(tmp_path / "egress.log"),
        RAGSTEAD_DATA_DIR=str(tmp_path / "data"),
        RAGSTEAD_MODEL_CACHE_DIR=str(model_cache),
    )
    return env


def _ragstead(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from api.cli import main; main()", *args]
    if shutil.which("strace") and os.environ.get("RAGSTEAD_TEST_STRACE", "1") == "1":
        cmd = [
            "strace",
            "-f",
            "-qq",
            "--seccomp-bpf",  # stops the process only at connect(): far less overhead
            "-e",
            "trace=connect",
            "-o",
            env["RAGSTEAD_EGRESS_LOG"] + ".strace",
            *cmd,
        ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=ROOT)


def _strace_egress(env: dict[str, str]) -> list[str]:
    path = Path(env["RAGSTEAD_EGRESS_LOG"] + ".strace")
    if not path.exists():
        return []
    lines = [ln for ln in path.read_text().splitlines() if "AF_INET" in ln]
    return [
        ln
        for ln in lines
        if 'inet_addr("127.' not in ln and '"::1"' not in ln and "::ffff:127." not in ln
    ]


@pytest.mark.slow
def test_ingest_and_ask_never_leave_the_machine(guarded_env: dict[str, str]) -> None:
    ingest = _ragstead(guarded_env, "ingest", str(EXAMPLES), "--json")
    assert ingest.returncode == 0, ingest.stderr
    assert len(json.loads(ingest.stdout)["added"]) >= 6
    ask = _ragstead(guarded_env, "ask", "How much is Insight Pro per user and month?", "--json")
    assert ask.returncode == 0, ask.stderr
    body = json.loads(ask.stdout)
    assert Path(body["citations"][0]["source"]).name == "price-list.csv"
    assert set(body["citations"][0]) >= {"source", "page", "chunk_id", "score", "text"}
    written = _ragstead(guarded_env, "ask", "How much is Insight Pro?", "--mode", "generative")
    assert written.returncode == 0, written.stderr  # the embedded model writes, offline too
    log = Path(guarded_env["RAGSTEAD_EGRESS_LOG"])
    assert not log.exists() or log.read_text() == "", log.read_text()
    assert _strace_egress(guarded_env) == []


def test_cli_errors_are_clear(guarded_env: dict[str, str], tmp_path: Path) -> None:
    missing = _ragstead(guarded_env, "ingest", str(tmp_path / "missing.pdf"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr and "Traceback" not in missing.stderr
    empty = _ragstead(guarded_env, "ask", "  ")
    assert empty.returncode == 2 and "question is empty" in empty.stderr
    odd = tmp_path / "notes.xyz"
    odd.write_text("hello")
    unsupported = _ragstead(guarded_env, "ingest", str(odd))
    assert unsupported.returncode == 1 and "unsupported" in unsupported.stderr


def _page_assets(html: str) -> list[str]:
    import re

    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


@pytest.mark.slow
def test_the_server_never_leaves_the_machine(guarded_env: dict[str, str], tmp_path: Path) -> None:
    """`ragstead serve` (real models) under the same guard and strace, driven through every
    kind of route: answers, search, chat, the OpenAI endpoint, documents and their files, an
    upload and its job, collections, metrics, MCP, the web page and its assets, /docs. No
    connection leaves loopback, and no page names an asset elsewhere."""
    import asyncio
    import re
    import time

    import httpx

    from tests.api.test_mcp import session

    assert _ragstead(guarded_env, "ingest", str(EXAMPLES)).returncode == 0
    made = _ragstead(guarded_env, "keys", "create", "--name", "egress", "--scopes",
                     "read,write,admin", "--json")  # fmt: skip
    key = json.loads(made.stdout)["key"]
    port = free_port()
    cmd = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port)]
    strace = shutil.which("strace")
    if strace:
        cmd = [strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect", "-o",
               guarded_env["RAGSTEAD_EGRESS_LOG"] + ".strace", *cmd]  # fmt: skip
    server = subprocess.Popen(cmd, env=guarded_env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {key}"}
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        with httpx.Client(base_url=base, headers=auth, timeout=300) as c:
            question = {"question": "How many days of annual leave do full-time employees get?"}
            assert c.post("/v1/query", json=question).status_code == 200
            assert c.post("/v1/query", json={**question, "mode": "generative"}).status_code == 200
            assert c.post("/v1/query", json={**question, "stream": True}).status_code == 200
            assert c.post("/v1/retrieve", json=question).status_code == 200
            chat = {"messages": [{"role": "user", "content": question["question"]}]}
            assert c.post("/v1/chat", json=chat).status_code == 200
            assert (
                c.post("/v1/chat/completions", json={"model": "ragstead", **chat}).status_code
                == 200
            )
            docs = c.get("/v1/documents").json()["documents"]
            assert c.get(f"/v1/documents/{docs[0]['id']}").status_code == 200
            assert c.get(f"/v1/documents/{docs[0]['id']}/file").status_code == 200
            upload = c.post(
                "/v1/documents", files={"files": ("memo.md", b"# Memo\n\nThe lift is left.")}
            )
            assert upload.status_code == 202
            job = upload.json()["job_id"]
            while c.get(f"/v1/jobs/{job}").json()["status"] in ("queued", "running"):
                time.sleep(0.3)
            assert c.get("/v1/collections").status_code == 200
            assert c.get("/metrics").status_code == 200
            pages = {path: c.get(path) for path in ("/", "/docs", "/openapi.json")}
            assert all(r.status_code == 200 for r in pages.values())
            for html in (pages["/"].text, pages["/docs"].text):
                for asset in _page_assets(html):
                    assert not re.match(r"^(https?:)?//", asset), asset  # nothing from elsewhere
                    if asset.startswith("/"):
                        assert c.get(asset).status_code == 200, asset
        replies = asyncio.run(session(f"{base}/mcp/", key))
        assert replies["tools"] == {"search", "ask", "list_documents"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # strace and the server it traces
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    log = Path(guarded_env["RAGSTEAD_EGRESS_LOG"])
    assert not log.exists() or log.read_text() == "", log.read_text()
    assert _strace_egress(guarded_env) == []
    # nothing of the documents, the upload or the questions outside the data directory
    for private in ("HOME", "TMPDIR"):
        for path in Path(guarded_env[private]).rglob("*"):
            if path.is_file():
                text = path.read_bytes()
                assert b"annual leave" not in text and b"lift is on the left" not in text, path
