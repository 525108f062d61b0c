"""``ragstead ask`` through a ``ragstead serve`` already running on the same data directory.

A whole ``ask`` process spends seconds importing PyTorch and loading models before it answers;
a running server has done that. ``serve`` notes its loopback URL and process id in
``DATA_DIR/server.json`` while it runs, and ``ask`` sends the question there when that server
answers ``/healthz`` (``--local`` answers in-process). Only loopback URLs are noted: the CLI
reaches no other host.

Example::

    with noted_server(data_dir, "127.0.0.1", 8000):
        uvicorn.run(app, host="127.0.0.1", port=8000)
    url = running_server(data_dir)          # "http://127.0.0.1:8000" or None
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import AuthenticationError, RagsteadError
from rag.types import Answer, Citation, SentenceSupport

RECORD = "server.json"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""}


@contextlib.contextmanager
def noted_server(data_dir: Path, host: str, port: int) -> Iterator[None]:
    """Note this process's server in ``data_dir`` while the block runs (loopback hosts only)."""
    if host not in _LOOPBACK:
        yield
        return
    name = "[::1]" if host in ("::1", "::") else "127.0.0.1"
    path = Path(data_dir) / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": f"http://{name}:{port}", "pid": os.getpid()}))
    os.replace(tmp, path)
    # uvicorn re-raises the SIGTERM that stopped it once it has shut down; exiting through
    # SystemExit instead lets the note be removed below (a note left by a killed server is
    # ignored anyway: its process is gone).
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def running_server(data_dir: Path) -> str | None:
    """The URL of a ready server noted in ``data_dir``, or None (none, gone, or not ready)."""
    try:
        record = json.loads((Path(data_dir) / RECORD).read_text())
        pid, url = int(record["pid"]), str(record["url"])
        os.kill(pid, 0)  # raises if that process is gone
    except (OSError, ValueError, KeyError, TypeError):
        return None
    import httpx

    try:
        return url if httpx.get(f"{url}/healthz", timeout=10.0).status_code == 200 else None
    except httpx.HTTPError:
        return None


def ask_server(url: str, body: dict[str, Any], timeout_s: float = 600.0) -> Answer:
    """``POST /v1/query`` to the server; its answer, or its error as a ``RagsteadError``."""
    import os

    import httpx

    key = os.environ.get("RAGSTEAD_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.post(f"{url}/v1/query", json=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise RagsteadError(
            f"the server at {url} did not answer: {exc}", hint="retry with --local"
        ) from exc
    if response.status_code == 401:
        raise AuthenticationError("the running server needs a key", hint="set RAGSTEAD_API_KEY")
    payload = response.json()
    if response.status_code != 200:
        error = payload.get("error", {}) if isinstance(payload, dict) else {}
        raise RagsteadError(
            str(error.get("message") or response.text[:300]), hint=error.get("hint")
        )
    return answer_from_dict(payload)


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """An ``Answer`` from its JSON form (``Answer.to_dict``)."""
    fields = dict(data)
    fields["citations"] = [Citation(**c) for c in fields.get("citations", [])]
    fields["sentences"] = [SentenceSupport(**s) for s in fields.get("sentences", [])]
    return Answer(**fields)
