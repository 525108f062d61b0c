"""The Python client of the REST API (httpx; no server dependencies): ``RagsteadClient`` and
``AsyncRagsteadClient`` with the same methods.

Example::

    from api.client import RagsteadClient

    with RagsteadClient("http://127.0.0.1:8000", api_key=KEY) as client:
        job = client.upload(["handbook.pdf"], groups=["hr"], wait=True)
        answer = client.query("How many days of annual leave?")
        for piece in client.stream_query("And for part-time staff?"):
            print(piece, end="")
        print(answer["answer"], answer["citations"][0]["source"])
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

FINISHED = ("succeeded", "partial", "failed")


class RagsteadAPIError(Exception):
    """The server answered with an error; ``status`` and the server's ``type``/``hint`` kept."""

    def __init__(self, status: int, kind: str, message: str, hint: str | None) -> None:
        super().__init__(f"{status} {kind}: {message}" + (f" ({hint})" if hint else ""))
        self.status = status
        self.kind = kind
        self.message = message
        self.hint = hint


@dataclass
class _Call:
    """One request and how to read its answer (shared by the sync and async clients)."""

    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    read: Callable[[Any], Any] = lambda body: body


def _error(response: httpx.Response) -> RagsteadAPIError:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        error = {"type": "HTTPError", "message": response.text[:500], "hint": None}
    return RagsteadAPIError(
        response.status_code, error.get("type", ""), error.get("message", ""), error.get("hint")
    )


def _body(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise _error(response)
    return None if response.status_code == 204 else response.json()


class _SseReader:
    """Server-sent events from a body read line by line: ``feed`` gives (event, data) when a
    line completes one."""

    def __init__(self) -> None:
        self.event, self.data = "message", ""

    def feed(self, line: str) -> tuple[str, Any] | None:
        if line.startswith("event:"):
            self.event = line[6:].strip()
        elif line.startswith("data:"):
            self.data += line[5:].strip()
        elif not line and self.data:
            done = (self.event, json.loads(self.data))
            self.event, self.data = "message", ""
            return done
        return None


def _piece(event: str, data: Any) -> str | None:
    """The text of a ``token`` event; raises for an ``error`` event."""
    if event == "token":
        return str(data["text"])
    if event == "error":
        error = data["error"]
        raise RagsteadAPIError(
            data.get("status", 500), error["type"], error["message"], error.get("hint")
        )
    return None


class _Calls:
    """What each client method sends."""

    @staticmethod
    def query(question: str, top_k: int | None, options: dict[str, Any]) -> _Call:
        return _Call(
            "POST", "/v1/query", {"json": {"question": question, "top_k": top_k, **options}}
        )

    @staticmethod
    def retrieve(question: str, top_k: int | None, options: dict[str, Any]) -> _Call:
        body = {"question": question, "top_k": top_k, **options}
        return _Call("POST", "/v1/retrieve", {"json": body}, lambda b: b["passages"])

    @staticmethod
    def chat(messages: Sequence[dict[str, str]], options: dict[str, Any]) -> _Call:
        return _Call("POST", "/v1/chat", {"json": {"messages": list(messages), **options}})

    @staticmethod
    def upload(
        files: Sequence[str | Path],
        groups: Sequence[str],
        metadata: dict[str, str] | None,
        collection: str,
    ) -> _Call:
        parts = [("files", (Path(f).name, Path(f).read_bytes())) for f in files]
        data = {"collection": collection, "groups": ",".join(groups)}
        if metadata:
            data["metadata"] = json.dumps(metadata)
        return _Call("POST", "/v1/documents", {"files": parts, "data": data})

    @staticmethod
    def job(job_id: str) -> _Call:
        return _Call("GET", f"/v1/jobs/{job_id}")

    @staticmethod
    def documents(collection: str, cursor: str | None, filters: dict[str, Any]) -> _Call:
        params = {"collection": collection, **filters, **({"cursor": cursor} if cursor else {})}
        return _Call("GET", "/v1/documents", {"params": params})

    @staticmethod
    def document(doc_id: str, collection: str, suffix: str = "") -> _Call:
        path = f"/v1/documents/{doc_id}{suffix}"
        return _Call("GET", path, {"params": {"collection": collection}})

    @staticmethod
    def relabel(doc_id: str, collection: str, changes: dict[str, Any]) -> _Call:
        return _Call(
            "PATCH",
            f"/v1/documents/{doc_id}",
            {"params": {"collection": collection}, "json": changes},
        )

    @staticmethod
    def delete_document(doc_id: str, collection: str) -> _Call:
        return _Call("DELETE", f"/v1/documents/{doc_id}", {"params": {"collection": collection}})

    @staticmethod
    def collections() -> _Call:
        return _Call("GET", "/v1/collections", read=lambda b: b["collections"])

    @staticmethod
    def create_key(name: str, options: dict[str, Any]) -> _Call:
        return _Call("POST", "/v1/keys", {"json": {"name": name, **options}})


class RagsteadClient:
    """Talks to a Ragstead server. ``transport`` lets tests pass an in-process app transport."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 300.0,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, headers=headers, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _run(self, call: _Call) -> Any:
        return call.read(_body(self._http.request(call.method, call.path, **call.kwargs)))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._run(_Call(method, path, kwargs))

    def health(self) -> dict[str, Any]:
        """GET /healthz (raises RagsteadAPIError with status 503 while the models load)."""
        return dict(self._run(_Call("GET", "/healthz")))

    def query(self, question: str, *, top_k: int | None = None, **options: Any) -> dict[str, Any]:
        """POST /v1/query: the answer, its citations, grounding and timings."""
        return dict(self._run(_Calls.query(question, top_k, options)))

    def stream_query(self, question: str, **options: Any) -> Iterator[str]:
        """POST /v1/query with streaming: the answer's pieces as they are written; the final
        answer (with citations) is in ``self.last_answer`` afterwards."""
        call = _Calls.query(question, options.pop("top_k", None), {**options, "stream": True})
        with self._http.stream(call.method, call.path, **call.kwargs) as response:
            if response.status_code >= 400:
                response.read()
                raise _error(response)
            reader = _SseReader()
            for line in response.iter_lines():
                if (found := reader.feed(line)) is None:
                    continue
                if found[0] == "answer":
                    self.last_answer: dict[str, Any] = found[1]
                elif (piece := _piece(*found)) is not None:
                    yield piece

    def retrieve(
        self, question: str, *, top_k: int | None = None, **options: Any
    ) -> list[dict[str, Any]]:
        """POST /v1/retrieve: passages, best first."""
        return list(self._run(_Calls.retrieve(question, top_k, options)))

    def chat(self, messages: Sequence[dict[str, str]], **options: Any) -> dict[str, Any]:
        """POST /v1/chat: the answer to the conversation's last user message."""
        return dict(self._run(_Calls.chat(messages, options)))

    def upload(
        self,
        files: Sequence[str | Path],
        *,
        groups: Sequence[str] = (),
        metadata: dict[str, str] | None = None,
        collection: str = "default",
        wait: bool = False,
        timeout: float = 3600.0,
    ) -> dict[str, Any]:
        """POST /v1/documents: the job (with ``wait``, once it has finished)."""
        accepted = self._run(_Calls.upload(files, groups, metadata, collection))
        job = self.job(accepted["job_id"])
        deadline = time.monotonic() + timeout
        while wait and job["status"] not in FINISHED and time.monotonic() < deadline:
            time.sleep(0.5)
            job = self.job(accepted["job_id"])
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        """GET /v1/jobs/{id}."""
        return dict(self._run(_Calls.job(job_id)))

    def documents(self, *, collection: str = "default", **filters: Any) -> Iterator[dict[str, Any]]:
        """Every document the key may see (pages fetched as needed)."""
        cursor = None
        while True:
            page = self._run(_Calls.documents(collection, cursor, filters))
            yield from page["documents"]
            cursor = page["next"]
            if cursor is None:
                return

    def document(self, doc_id: str, *, collection: str = "default") -> dict[str, Any]:
        """GET /v1/documents/{id}."""
        return dict(self._run(_Calls.document(doc_id, collection)))

    def download(self, doc_id: str, *, collection: str = "default") -> bytes:
        """GET /v1/documents/{id}/file: the original's bytes."""
        call = _Calls.document(doc_id, collection, "/file")
        response = self._http.request(call.method, call.path, **call.kwargs)
        if response.status_code >= 400:
            raise _error(response)
        return response.content

    def relabel(
        self, doc_id: str, *, collection: str = "default", **changes: Any
    ) -> dict[str, Any]:
        """PATCH /v1/documents/{id}: ``groups=[...]`` and/or ``labels={...}``."""
        return dict(self._run(_Calls.relabel(doc_id, collection, changes)))

    def delete_document(self, doc_id: str, *, collection: str = "default") -> None:
        """DELETE /v1/documents/{id}."""
        self._run(_Calls.delete_document(doc_id, collection))

    def collections(self) -> list[dict[str, Any]]:
        """GET /v1/collections."""
        return list(self._run(_Calls.collections()))

    def create_key(self, name: str, **options: Any) -> dict[str, Any]:
        """POST /v1/keys (admin): ``groups``, ``scopes``, ``collections``, ``expires``; the
        answer's ``key`` is the only time it is shown."""
        return dict(self._run(_Calls.create_key(name, options)))


class AsyncRagsteadClient:
    """``RagsteadClient`` for asyncio: the same methods, awaited."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 300.0,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, headers=headers, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def _run(self, call: _Call) -> Any:
        return call.read(_body(await self._http.request(call.method, call.path, **call.kwargs)))

    async def query(
        self, question: str, *, top_k: int | None = None, **options: Any
    ) -> dict[str, Any]:
        """POST /v1/query."""
        return dict(await self._run(_Calls.query(question, top_k, options)))

    async def stream_query(self, question: str, **options: Any) -> AsyncIterator[str]:
        """POST /v1/query with streaming: the answer's pieces as they are written."""
        call = _Calls.query(question, options.pop("top_k", None), {**options, "stream": True})
        async with self._http.stream(call.method, call.path, **call.kwargs) as response:
            if response.status_code >= 400:
                await response.aread()
                raise _error(response)
            reader = _SseReader()
            async for line in response.aiter_lines():
                found = reader.feed(line)
                if found is not None and (piece := _piece(*found)) is not None:
                    yield piece

    async def retrieve(
        self, question: str, *, top_k: int | None = None, **options: Any
    ) -> list[dict[str, Any]]:
        """POST /v1/retrieve."""
        return list(await self._run(_Calls.retrieve(question, top_k, options)))

    async def chat(self, messages: Sequence[dict[str, str]], **options: Any) -> dict[str, Any]:
        """POST /v1/chat."""
        return dict(await self._run(_Calls.chat(messages, options)))

    async def upload(
        self,
        files: Sequence[str | Path],
        *,
        groups: Sequence[str] = (),
        metadata: dict[str, str] | None = None,
        collection: str = "default",
        wait: bool = False,
        timeout: float = 3600.0,
    ) -> dict[str, Any]:
        """POST /v1/documents: the job (with ``wait``, once it has finished)."""
        accepted = await self._run(_Calls.upload(files, groups, metadata, collection))
        job = await self.job(accepted["job_id"])
        deadline = time.monotonic() + timeout
        while wait and job["status"] not in FINISHED and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            job = await self.job(accepted["job_id"])
        return job

    async def job(self, job_id: str) -> dict[str, Any]:
        """GET /v1/jobs/{id}."""
        return dict(await self._run(_Calls.job(job_id)))

    async def documents(
        self, *, collection: str = "default", **filters: Any
    ) -> list[dict[str, Any]]:
        """Every document the key may see."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await self._run(_Calls.documents(collection, cursor, filters))
            out += page["documents"]
            cursor = page["next"]
            if cursor is None:
                return out

    async def delete_document(self, doc_id: str, *, collection: str = "default") -> None:
        """DELETE /v1/documents/{id}."""
        await self._run(_Calls.delete_document(doc_id, collection))

    async def collections(self) -> list[dict[str, Any]]:
        """GET /v1/collections."""
        return list(await self._run(_Calls.collections()))
