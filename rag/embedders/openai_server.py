"""``OpenAIEmbedder``: an embedding server on the premises that speaks the OpenAI embeddings API.

text-embeddings-inference, vLLM, Infinity and Ollama all serve ``POST {base_url}/embeddings``
with ``{"model": ..., "input": [texts]}`` and answer ``{"data": [{"index", "embedding"}]}``.
Texts go in batches of ``batch_size``, up to ``concurrency`` requests at a time (a GPU box
embeds millions of pages this way while this process parses and writes). Connection failures,
timeouts, 429 and 5xx answers are retried with exponential backoff (``Retry-After`` honoured);
what still fails raises ``EmbeddingError`` (or ``ConfigurationError`` for a wrong URL, model or
key). Vectors are L2-normalised here, whatever the server does.

Token counts for chunking come from the model's ``tokenizer.json`` where ``model_dir`` holds
one (exact), else from an estimate; set ``chunking.max_tokens`` within the server's window.

Example::

    embedder = OpenAIEmbedder("http://127.0.0.1:8080/v1", "sentence-transformers/all-MiniLM-L6-v2")
    vectors = embedder.embed_batch(["Annual leave is 28 days."])

Settings: ``embedder.kind: openai`` with ``base_url``, ``model``, ``api_key``, ``timeout_s``,
``max_retries``, ``concurrency``, ``batch_size`` and optionally ``model_dir``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from rag.embedders.base import Embedder
from rag.embedders.registry import register_embedder
from rag.embedders.sentence_transformer import TokenizerFileCounter
from rag.errors import ConfigurationError, EmbeddingError

if TYPE_CHECKING:
    from rag.settings import Settings

_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 30.0


class OpenAIEmbedder(Embedder):
    """Embeds texts through an OpenAI-compatible ``/embeddings`` endpoint over HTTP."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 4,
        batch_size: int = 64,
        backoff_s: float = 0.5,
        tokenizer: Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"embedder.base_url {base_url!r} is not an http(s) URL",
                hint="e.g. http://127.0.0.1:8080/v1 for text-embeddings-inference",
            )
        if not model:
            raise ConfigurationError(
                "the embedding server needs a model name", hint="set embedder.model"
            )
        if timeout_s <= 0 or max_retries < 0 or concurrency < 1 or batch_size < 1:
            raise ConfigurationError(
                "embedder.timeout_s, concurrency and batch_size must be positive,"
                " max_retries at least 0"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.backoff_s = backoff_s
        self.name = f"openai:{model}"
        self._counter = TokenizerFileCounter(tokenizer) if tokenizer is not None else None
        self._transport = transport
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._dim: int | None = None

    @property
    def url(self) -> str:
        """The embeddings endpoint."""
        return f"{self.base_url}/embeddings"

    # -- the seam ----------------------------------------------------------------------------

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (``batch_size`` per request, ``concurrency`` requests at a time)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1:
            parts = [self._request(batches[0])]
        else:
            parts = list(self._executor().map(self._request, batches))
        vectors = np.vstack(parts).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not np.all(norms > 0):
            raise EmbeddingError(f"{self.name} returned an all-zero vector")
        if self._dim is None:
            self._dim = int(vectors.shape[1])
        return vectors / norms

    @property
    def dim(self) -> int:
        """Vector dimension (asks the server once)."""
        if self._dim is None:
            self._dim = int(self._request(["dimension"]).shape[1])
        return self._dim

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text``: exact with the model's ``tokenizer.json``, else an estimate."""
        return self._counter(text) if self._counter is not None else super().count_tokens(text)

    def token_counter(self) -> Callable[[str], int] | None:
        """The picklable tokenizer counter where there is one."""
        return self._counter

    def load(self) -> None:
        """Check that the server answers (and learn the vector dimension)."""
        _ = self.dim

    def close(self) -> None:
        """Close the HTTP connections and the request threads."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None

    # -- HTTP --------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout_s),
                    headers=headers,
                    limits=httpx.Limits(max_connections=self.concurrency),
                    transport=self._transport,
                )
            return self._client

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.concurrency, thread_name_prefix="ragstead-embed"
                )
            return self._pool

    def _request(self, texts: list[str]) -> np.ndarray:
        """One batch, with retries; float32 (len(texts), dim) as the server sent it."""
        body = {"model": self.model, "input": texts, "encoding_format": "float"}
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after: str | None = None
            try:
                response = self._http().post(self.url, json=body)
            except httpx.TimeoutException:
                last = f"no answer within {self.timeout_s:g} s"
            except httpx.TransportError as exc:
                last = f"cannot connect: {exc}"
            else:
                if response.is_success:
                    return _vectors(response, len(texts), self.name)
                if response.status_code not in _RETRYABLE_STATUS:
                    raise self._status_error(response)
                last = f"HTTP {response.status_code}: {_server_message(response)}"
                retry_after = response.headers.get("retry-after")
            if attempt < self.max_retries:
                self._sleep_before_retry(attempt, retry_after)
        raise EmbeddingError(
            f"the embedding server {self.url} failed after {self.max_retries + 1} attempts: {last}",
            hint="check that it is running and reachable; raise embedder.timeout_s or"
            " embedder.max_retries for a busy server",
        )

    def _sleep_before_retry(self, attempt: int, retry_after: str | None) -> None:
        delay = max(self.backoff_s * (2**attempt), _seconds(retry_after) or 0.0)
        time.sleep(min(delay, _MAX_BACKOFF_S, self.timeout_s))

    def _status_error(self, response: httpx.Response) -> Exception:
        status = response.status_code
        text = f"the embedding server answered HTTP {status}: {_server_message(response)}"
        if status in (401, 403):
            return ConfigurationError(text, hint="check embedder.api_key")
        if status == 404:
            return ConfigurationError(
                text, hint="check embedder.base_url (usually ends in /v1) and embedder.model"
            )
        if status == 413:
            return EmbeddingError(text, hint="lower embedder.batch_size or chunking.max_tokens")
        return EmbeddingError(text, hint="the server rejected the request; see its log")


def _vectors(response: httpx.Response, n: int, name: str) -> np.ndarray:
    """The ``data[].embedding`` of an answer, in input order; ``EmbeddingError`` if malformed."""
    try:
        data = response.json()["data"]
        rows = sorted(data, key=lambda item: int(item.get("index", 0)))
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EmbeddingError(
            f"{name} sent an answer that is not an embeddings list: {response.text[:200]!r}",
            hint="the server must speak the OpenAI embeddings API (POST /v1/embeddings)",
        ) from exc
    if vectors.ndim != 2 or len(vectors) != n:
        raise EmbeddingError(f"{name} sent {len(vectors)} vectors for {n} texts")
    return vectors


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After header given in seconds (the HTTP-date form is ignored)."""
    try:
        return float(retry_after) if retry_after is not None else None
    except ValueError:
        return None


def _server_message(response: httpx.Response) -> str:
    """The error text of an error answer: OpenAI-style ``error.message`` where there is one."""
    try:
        payload: Any = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        for key in ("message", "detail", "error"):
            if isinstance(error.get(key), str):
                return str(error[key])
    return error if isinstance(error, str) else json.dumps(payload)[:300]


@register_embedder("openai")
def _from_settings(settings: Settings) -> OpenAIEmbedder:
    s = settings.embedder
    if not s.base_url:
        raise ConfigurationError(
            "embedder kind 'openai' needs base_url",
            hint="e.g. RAGSTEAD_EMBEDDER__BASE_URL=http://127.0.0.1:8080/v1",
        )
    if not s.model:
        raise ConfigurationError(
            "embedder kind 'openai' needs the model name the server serves",
            hint="e.g. RAGSTEAD_EMBEDDER__MODEL=sentence-transformers/all-MiniLM-L6-v2",
        )
    tokenizer = s.model_dir / "tokenizer.json" if s.model_dir else None
    if tokenizer is not None and not tokenizer.is_file():
        raise ConfigurationError(
            f"embedder.model_dir {s.model_dir} has no tokenizer.json",
            hint="point it at a directory with the served model's tokenizer.json, or unset it",
        )
    return OpenAIEmbedder(
        s.base_url,
        s.model,
        s.api_key,
        timeout_s=s.timeout_s,
        max_retries=s.max_retries,
        concurrency=s.concurrency,
        batch_size=s.batch_size,
        tokenizer=tokenizer,
    )
