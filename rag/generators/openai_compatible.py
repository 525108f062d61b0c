"""``OpenAICompatibleGenerator``: a model server on the premises that speaks the OpenAI chat API.

vLLM, the llama.cpp server, Ollama and TGI all serve ``POST {base_url}/chat/completions`` with
``"stream": true`` as server-sent events: ``data: {json chunk}`` lines, then ``data: [DONE]``.
Connection failures, 429 and 5xx answers are retried with exponential backoff, but only before
the first token arrives (a half-delivered answer is never replayed).

Example::

    gen = OpenAICompatibleGenerator("http://gpu-box:8000/v1", "meta-llama/Llama-3.1-8B-Instruct")
    text = complete(gen, [{"role": "user", "content": "Say hi"}], max_new_tokens=8)
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from rag.errors import BusyError, ConfigurationError, GenerationError, GeneratorTimeoutError
from rag.generators.base import Message
from rag.generators.registry import register_generator
from rag.generators.stops import apply_stops

if TYPE_CHECKING:
    from rag.settings import Settings

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 30.0


class OpenAICompatibleGenerator:
    """Streams chat completions from an OpenAI-compatible server over HTTP (SSE)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        context_window: int = 8192,
        *,
        temperature: float | None = 0.0,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url {base_url!r} is not an http(s) URL",
                hint="e.g. http://127.0.0.1:8000/v1 for vLLM",
            )
        if not model:
            raise ConfigurationError("the model server needs a model name", hint="set model")
        if timeout_s <= 0 or max_retries < 0 or context_window < 1:
            raise ConfigurationError("timeout_s, max_retries and context_window must be positive")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.context_window = context_window
        self.temperature = temperature
        self.backoff_s = backoff_s
        self.name = f"openai:{model}"
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The chat completions endpoint."""
        return f"{self.base_url}/chat/completions"

    def load(self) -> None:
        """Nothing to load: the server holds the model."""

    def count_tokens(self, text: str) -> int:
        """An estimate: one token per four characters, rounded up."""
        return math.ceil(len(text) / 4)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 256,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the answer in pieces as the server sends them; stop sequences go to the server."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_new_tokens,
            "stream": True,
        }
        if stop:
            body["stop"] = list(stop)
        if self.temperature is not None:
            body["temperature"] = self.temperature
        # Stops are applied here too, in case a server ignores them.
        return apply_stops(self._pieces(body), stop)

    def close(self) -> None:
        """Close the HTTP connections."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- HTTP ------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                headers = {"Accept": "text/event-stream"}
                if self.api_key:
                    headers["Authorization"] = f"Bearer {self.api_key}"
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout_s),
                    headers=headers,
                    transport=self._transport,
                )
            return self._client

    def _pieces(self, body: dict[str, Any]) -> Iterator[str]:
        """Text pieces of one completion, retrying failures that happen before the first one."""
        attempt = 0
        while True:
            try:
                with self._http().stream("POST", self.url, json=body) as response:
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code in _RETRYABLE_STATUS and attempt < self.max_retries:
                            self._sleep_before_retry(attempt, response.headers.get("retry-after"))
                            attempt += 1
                            continue
                        raise self._status_error(response)
                    yield from _parse_sse(response, self.name)
                    return
            except httpx.TimeoutException as exc:
                raise GeneratorTimeoutError(
                    f"{self.name} at {self.base_url} did not answer within {self.timeout_s:g} s",
                    hint="the server may be overloaded; raise timeout_s or retry later",
                ) from exc
            except httpx.ConnectError as exc:
                if attempt < self.max_retries:
                    self._sleep_before_retry(attempt, None)
                    attempt += 1
                    continue
                raise GenerationError(
                    f"cannot reach the model server at {self.base_url}: {exc}",
                    hint="check that the server runs and that base_url is right",
                ) from exc
            except httpx.HTTPError as exc:
                raise GenerationError(f"{self.name} failed: {exc!r}") from exc

    def _sleep_before_retry(self, attempt: int, retry_after: str | None) -> None:
        delay = max(self.backoff_s * (2**attempt), _seconds(retry_after) or 0.0)
        time.sleep(min(delay, _MAX_BACKOFF_S, self.timeout_s))

    def _status_error(self, response: httpx.Response) -> Exception:
        status = response.status_code
        message = _server_message(response)
        text = f"{self.name} answered HTTP {status}: {message}"
        if status == 429:
            retry_after = _seconds(response.headers.get("retry-after")) or 5.0
            return BusyError(text, retry_after=max(1, math.ceil(retry_after)), hint="retry later")
        if status in (401, 403):
            return GenerationError(text, hint="check the generator's api_key")
        if status == 404:
            return GenerationError(
                text, hint="check base_url (usually ends in /v1) and the model name"
            )
        if status >= 500:
            return GenerationError(text, hint="the model server failed; see its log")
        return GenerationError(text, hint="the server rejected the request")


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After header given in seconds (the HTTP-date form is ignored)."""
    try:
        return float(retry_after) if retry_after is not None else None
    except ValueError:
        return None


def _server_message(response: httpx.Response) -> str:
    """The error text of an error response: OpenAI-style ``error.message`` when there is one."""
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                if isinstance(error.get(key), str):
                    return str(error[key])
        elif isinstance(error, str):
            return error
    return json.dumps(payload)[:500]


def _parse_sse(response: httpx.Response, name: str) -> Iterator[str]:
    """``choices[0].delta.content`` of each ``data:`` event, until ``data: [DONE]``."""
    finished = False
    for line in response.iter_lines():
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field != "data":
            continue  # event:, id:, retry: and unknown fields carry nothing we need
        value = value.removeprefix(" ")
        if value.strip() == "[DONE]":
            return
        content, finish = _chunk_content(value, name)
        if content:
            yield content
        finished = finished or finish
    if not finished:
        raise GenerationError(
            f"the stream from {name} ended before data: [DONE]",
            hint="the server closed the connection early or does not support streaming",
        )


def _chunk_content(data: str, name: str) -> tuple[str, bool]:
    """(text, finished) of one chunk; ``GenerationError`` when it is not a chat chunk."""
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise GenerationError(f"malformed event from {name}: {data[:200]!r}") from exc
    if not isinstance(payload, dict):
        raise GenerationError(f"malformed event from {name}: {data[:200]!r}")
    if "error" in payload:
        error = payload["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise GenerationError(f"{name} failed while streaming: {message}")
    choices = payload.get("choices")
    if not isinstance(choices, list):
        raise GenerationError(f"malformed event from {name} (no choices): {data[:200]!r}")
    if not choices:
        return "", False  # e.g. a final usage-only chunk
    choice = choices[0]
    if not isinstance(choice, dict):
        raise GenerationError(f"malformed event from {name}: {data[:200]!r}")
    delta = choice.get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    if not isinstance(delta, dict) or not isinstance(content, str | None):
        raise GenerationError(f"malformed event from {name}: {data[:200]!r}")
    return content or "", bool(choice.get("finish_reason"))


@register_generator("openai")
def _from_settings(settings: Settings) -> OpenAICompatibleGenerator:
    g = settings.generator
    if not g.base_url:
        raise ConfigurationError(
            "generator kind 'openai' needs base_url",
            hint="e.g. RAGSTEAD_GENERATOR__BASE_URL=http://127.0.0.1:8000/v1",
        )
    if not g.model:
        raise ConfigurationError(
            "generator kind 'openai' needs the model name the server serves",
            hint="e.g. RAGSTEAD_GENERATOR__MODEL=meta-llama/Llama-3.1-8B-Instruct",
        )
    return OpenAICompatibleGenerator(
        g.base_url,
        g.model,
        g.api_key,
        timeout_s=g.timeout_s,
        max_retries=g.max_retries,
        context_window=g.context_window or 8192,
        temperature=g.temperature,
    )
