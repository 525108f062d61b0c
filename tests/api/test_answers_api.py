"""Answers through the real app: grounding fields, SSE streaming, chat, busy queue, model server.

The example documents are indexed with the real embedder (session fixture); the generator is
the deterministic EchoGenerator where the model's wording adds nothing to the check, and an
OpenAI-compatible server on 127.0.0.1 where the HTTP path is what is tested.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.container import Container
from rag.errors import GenerationError
from rag.generators import OpenAICompatibleGenerator
from rag.generators.admission import GenerationQueue
from rag.generators.base import Generator, Message
from rag.testing import EchoGenerator
from tests.conftest import LOCAL
from tests.rag.test_generators import FakeModelServer, error, sse
from tests.serving import serving

LEAVE = "How many days of annual leave do full-time employees get?"


def container_with(example: Container, generator: Generator) -> Container:
    """A container over the indexed examples whose generator is ``generator``."""
    return Container(
        example.settings,
        embedder=example.embedder,
        vector_store=example.vector_store,
        generator=generator,
    )


def events(body: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of a server-sent-events body."""
    out = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


@pytest.fixture(scope="module")
def client(example_container: Container, admin_headers: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(container_with(example_container, EchoGenerator()), load_in_background=False)
    with TestClient(app, headers=admin_headers, base_url=LOCAL) as c:
        yield c


def test_query_returns_grounding_and_quoted_citations(client: TestClient) -> None:
    r = client.post("/v1/query", json={"question": LEAVE, "mode": "extractive"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grounded"] is True and body["covered"] is True and body["mode"] == "extractive"
    [citation] = body["citations"]
    assert Path(citation["source"]).name == "leave-policy.md"
    assert "28 days" in citation["quote"] and citation["quote"] in citation["text"]
    assert body["sentences"][0]["supported"] and body["sentences"][0]["citations"] == [1]


def test_streamed_answer_is_tokens_then_the_final_answer(client: TestClient) -> None:
    r = client.post("/v1/query", json={"question": LEAVE, "mode": "generative", "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    got = events(r.text)
    kinds = [kind for kind, _ in got]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"token"} and len(kinds) > 3
    final = got[-1][1]
    assert "".join(d["text"] for _, d in got[:-1]).strip() == final["answer"]
    assert final["grounded"] is True and final["citations"][0]["n"] == 1
    assert final["model"] == "echo" and final["timings"]["ttft_ms"] > 0


def test_not_covered_question_streams_the_refusal(client: TestClient) -> None:
    r = client.post(
        "/v1/query",
        json={"question": "Who won the 1954 football world cup?", "stream": True},
    )
    got = events(r.text)
    assert [k for k, _ in got] == ["token", "answer"]
    assert got[-1][1]["covered"] is False and got[-1][1]["citations"] == []


class FailsMidway(EchoGenerator):
    """Writes two pieces, then the model fails."""

    def stream(
        self, messages: Sequence[Message], *, max_new_tokens: int = 256, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        yield "Full-time"
        yield " employees"
        raise GenerationError("the model crashed", hint="see the server log")


class QueuedEcho(EchoGenerator):
    """The echo generator behind a real generation queue with no waiting room."""

    def __init__(self) -> None:
        self.queue = GenerationQueue(max_waiting=0)

    def stream(
        self, messages: Sequence[Message], *, max_new_tokens: int = 256, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        slot = self.queue.admit()  # BusyError now, before any token

        def run() -> Iterator[str]:
            with slot:
                yield from EchoGenerator.stream(self, messages, max_new_tokens=max_new_tokens)

        return run()


def test_failure_after_the_first_token_is_an_error_event(
    example_container: Container, admin_headers: dict[str, str]
) -> None:
    app = create_app(container_with(example_container, FailsMidway()), load_in_background=False)
    with TestClient(app, headers=admin_headers, base_url=LOCAL) as c:
        r = c.post("/v1/query", json={"question": LEAVE, "mode": "generative", "stream": True})
    got = events(r.text)
    assert [k for k, _ in got] == ["token", "token", "error"]
    assert got[-1][1]["status"] == 502 and got[-1][1]["error"]["message"] == "the model crashed"


def test_full_queue_is_503_with_retry_after(
    example_container: Container, admin_headers: dict[str, str]
) -> None:
    generator = QueuedEcho()
    app = create_app(container_with(example_container, generator), load_in_background=False)
    held = generator.queue.admit()  # another request is generating
    try:
        with TestClient(app, headers=admin_headers, base_url=LOCAL) as c:
            for stream in (False, True):
                r = c.post(
                    "/v1/query", json={"question": LEAVE, "mode": "generative", "stream": stream}
                )
                assert r.status_code == 503, r.text
                assert int(r.headers["Retry-After"]) >= 1
                assert r.json()["error"]["type"] == "BusyError"
            # extractive answers need no generator and are still served
            ok = c.post("/v1/query", json={"question": LEAVE, "mode": "extractive"})
            assert ok.status_code == 200
    finally:
        held.release()


def test_chat_rewrites_the_follow_up(client: TestClient) -> None:
    messages = [
        {"role": "user", "content": "How many vacation days do full-time employees get?"},
        {"role": "assistant", "content": "Full-time employees receive 28 days [1]."},
        {"role": "user", "content": "and for part-time staff?"},
    ]
    r = client.post("/v1/chat", json={"messages": messages, "mode": "extractive"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["question"] == "How many vacation days do part-time staff get?"
    assert Path(body["citations"][0]["source"]).name == "leave-policy.md"
    assert "part-time" in body["answer"].lower() or "pro-rata" in body["answer"].lower()
    streamed = client.post(
        "/v1/chat", json={"messages": messages, "mode": "extractive", "stream": True}
    )
    got = events(streamed.text)
    assert got[-1][0] == "answer" and got[-1][1]["question"] == body["question"]
    bad = client.post("/v1/chat", json={"messages": [{"role": "assistant", "content": "hi"}]})
    assert bad.status_code == 400 and "last message" in bad.json()["error"]["message"]


def test_answers_from_a_model_server_on_the_premises(
    example_container: Container, admin_headers: dict[str, str]
) -> None:
    server = FakeModelServer()
    try:
        server.script = [
            sse("Full-time employees receive ", "28 days of annual leave [1]", "[42]."),
            error(500, "warming up"),
            error(500, "warming up"),
            error(500, "warming up"),
        ]
        generator = OpenAICompatibleGenerator(
            server.base_url, "served-model", backoff_s=0.01, max_retries=2
        )
        app = create_app(container_with(example_container, generator), load_in_background=False)
        with TestClient(app, headers=admin_headers, base_url=LOCAL) as c:
            r = c.post("/v1/query", json={"question": LEAVE, "mode": "generative", "stream": True})
            got = events(r.text)
            assert [k for k, _ in got][-1] == "answer" and len(got) == 4
            final = got[-1][1]
            assert final["removed_citations"] == [42] and "[42]" not in final["answer"]
            assert final["grounded"] is True and final["model"] == "openai:served-model"
            assert Path(final["citations"][0]["source"]).name == "leave-policy.md"
            sent = server.requests[0]["body"]
            assert sent["stream"] is True and "[1]" in sent["messages"][-1]["content"]
            failed = c.post("/v1/query", json={"question": LEAVE, "mode": "generative"})
            assert failed.status_code == 502 and "warming up" in failed.json()["error"]["message"]
    finally:
        server.close()


def test_openai_chat_completions_speaks_the_protocol(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert {m["id"] for m in models["data"]} == {
        "ragstead", "ragstead-generative", "ragstead-extractive"
    }  # fmt: skip
    messages = [{"role": "user", "content": [{"type": "text", "text": LEAVE}]}]
    r = client.post(
        "/v1/chat/completions", json={"model": "ragstead-extractive", "messages": messages}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    content = body["choices"][0]["message"]["content"]
    assert body["object"] == "chat.completion" and body["choices"][0]["finish_reason"] == "stop"
    assert "28 days" in content and "Sources:\n[1] leave-policy.md" in content
    assert body["ragstead"]["grounded"] is True
    unknown = client.post("/v1/chat/completions", json={"model": "gpt-4", "messages": messages})
    assert unknown.status_code == 400 and "ragstead" in unknown.json()["error"]["hint"]


def test_an_openai_client_reads_the_stream_over_http(
    example_container: Container, admin_headers: dict[str, str]
) -> None:
    """Ragstead's own OpenAI-compatible client (the one that talks to vLLM) against a real
    uvicorn server on 127.0.0.1 serving the app."""
    app = create_app(container_with(example_container, EchoGenerator()), load_in_background=False)
    with serving(app) as url:
        key = admin_headers["Authorization"].removeprefix("Bearer ")
        reader = OpenAICompatibleGenerator(
            f"{url}/v1", "ragstead-generative", api_key=key, timeout_s=60
        )
        pieces = list(reader.stream([{"role": "user", "content": LEAVE}]))
        text = "".join(pieces)
        assert len(pieces) > 3  # token by token, then the sources
        assert "28 days" in text and text.endswith("[1] leave-policy.md")


class GatedEcho(EchoGenerator):
    """Writes its first word, then waits (at most 20 s) until the client has read it."""

    def __init__(self) -> None:
        self.client_has_first = threading.Event()

    def stream(
        self, messages: Sequence[Message], *, max_new_tokens: int = 256, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        pieces = iter(EchoGenerator.stream(self, messages, max_new_tokens=max_new_tokens))
        yield next(pieces)
        if not self.client_has_first.wait(20):
            yield " LATE"  # the first word never reached the client on its own
        yield from pieces


def test_the_official_openai_client_streams_tokens_as_they_are_written(
    example_container: Container, admin_headers: dict[str, str]
) -> None:
    import openai

    generator = GatedEcho()
    app = create_app(container_with(example_container, generator), load_in_background=False)
    with serving(app) as url:
        client = openai.OpenAI(
            base_url=f"{url}/v1",
            api_key=admin_headers["Authorization"].removeprefix("Bearer "),
        )
        assert {m.id for m in client.models.list()} >= {"ragstead", "ragstead-generative"}
        text = ""
        for chunk in client.chat.completions.create(
            model="ragstead-generative",
            messages=[{"role": "user", "content": LEAVE}],
            stream=True,
        ):
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                text += delta
                generator.client_has_first.set()
        assert "LATE" not in text and "28 days" in text
        whole = client.chat.completions.create(
            model="ragstead-extractive", messages=[{"role": "user", "content": LEAVE}]
        )
        assert "28 days" in (whole.choices[0].message.content or "")
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong").models.list()
