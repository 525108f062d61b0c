"""``RagsteadClient``: the Python client of the REST API (httpx; no server dependencies).

Example::

    from api.client import RagsteadClient

    with RagsteadClient("http://127.0.0.1:8000") as client:
        answer = client.query("How many days of annual leave?")
        print(answer["answer"], answer["citations"][0]["source"])
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx


class RagsteadAPIError(Exception):
    """The server answered with an error; ``status`` and the server's ``type``/``hint`` kept."""

    def __init__(self, status: int, kind: str, message: str, hint: str | None) -> None:
        super().__init__(f"{status} {kind}: {message}" + (f" ({hint})" if hint else ""))
        self.status = status
        self.kind = kind
        self.message = message
        self.hint = hint


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

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"type": "HTTPError", "message": response.text[:500], "hint": None}
            raise RagsteadAPIError(
                response.status_code,
                error.get("type", ""),
                error.get("message", ""),
                error.get("hint"),
            )
        return response.json()

    def health(self) -> dict[str, Any]:
        """GET /healthz (raises RagsteadAPIError with status 503 while the models load)."""
        result: dict[str, Any] = self._call("GET", "/healthz")
        return result

    def query(self, question: str, *, top_k: int = 5, **options: Any) -> dict[str, Any]:
        """POST /v1/query: the answer, its citations and timings."""
        result: dict[str, Any] = self._call(
            "POST", "/v1/query", json={"question": question, "top_k": top_k, **options}
        )
        return result

    def retrieve(self, question: str, *, top_k: int = 5, **options: Any) -> list[dict[str, Any]]:
        """POST /v1/retrieve: passages, best first."""
        body = {"question": question, "top_k": top_k, **options}
        result: list[dict[str, Any]] = self._call("POST", "/v1/retrieve", json=body)["passages"]
        return result
