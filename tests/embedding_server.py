"""An OpenAI-compatible embedding server on 127.0.0.1 that serves a real in-process embedder.

``POST /v1/embeddings`` with ``{"model", "input": [texts]}`` answers ``{"data": [{"index",
"embedding"}], "model"}`` as text-embeddings-inference or vLLM do. Tests script failures
(``faults``: HTTP statuses answered to the next requests, or ``"slow"`` for an answer later
than the client waits) and read what was asked (``requests``, ``peak_in_flight``).

Example::

    server = EmbeddingServer(SentenceTransformerEmbedder(dtype="float32"))
    embedder = OpenAIEmbedder(server.base_url, "minilm")
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rag.embedders.base import Embedder


class EmbeddingServer:
    """A real HTTP server in a thread; ``close()`` stops it."""

    def __init__(
        self, embedder: Embedder, *, api_key: str | None = None, gate: int = 1, slow_s: float = 2.0
    ) -> None:
        self.embedder = embedder
        self.api_key = api_key
        self.faults: list[int | str] = []
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        #: each request waits (up to 5 s) until this many are in flight: overlap made visible
        self.gate = gate
        self.slow_s = slow_s
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._arrived = threading.Condition()
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        """Stop serving."""
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = json.loads(handler.rfile.read(length))
        with self._lock:
            self.requests.append({"path": handler.path, "body": body, "headers": handler.headers})
            fault = self.faults.pop(0) if self.faults else None
        if handler.path != "/v1/embeddings":
            return _reply(handler, 404, {"error": {"message": f"no route {handler.path}"}})
        if self.api_key and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _reply(handler, 401, {"error": {"message": "invalid api key"}})
        if fault == "slow":
            self._closing.wait(self.slow_s)
        elif isinstance(fault, int):
            headers = {"Retry-After": "0"} if fault == 429 else {}
            return _reply(handler, fault, {"error": {"message": f"scripted {fault}"}}, headers)
        with self._arrived:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._arrived.notify_all()
            self._arrived.wait_for(lambda: self.in_flight >= self.gate, timeout=5)
        try:
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            with self._model_lock:
                vectors = self.embedder.embed_batch(texts)
        finally:
            with self._arrived:
                self.in_flight -= 1
        data = [
            {"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
            for i, v in enumerate(vectors)
        ]
        data.reverse()  # order is given by "index", not by position (some servers reorder)
        _reply(handler, 200, {"object": "list", "data": data, "model": body.get("model")})


def _reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    raw = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(raw)
