"""The OpenAI chat API over Ragstead: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Any client that speaks the OpenAI chat API (SDKs, chat front-ends) gets answers from the indexed
documents. The model name picks the answer mode: ``ragstead`` (the configured default),
``ragstead-generative`` or ``ragstead-extractive``. The last user message is the question;
earlier turns are the conversation (a follow-up is rewritten before retrieval); client system
messages are ignored. The reply's content ends with the numbered sources, and a note when a
sentence is not supported by them, so even a plain chat window shows where the answer came from;
the full citations and grounding are in the extra ``ragstead`` field. Streaming sends
``chat.completion.chunk`` events and ``data: [DONE]``.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.audit import answer_sources, audit_note, note_sources
from api.deps import AssistantDep, ReaderDep, StateDep, assistant_in, source_view
from api.errors import error_payload
from api.source_view import SourceView
from api.streaming import SSE_HEADERS, prefetch
from rag.assistant import AnswerStream
from rag.errors import InvalidRequestError
from rag.settings import COLLECTION_NAME
from rag.types import Answer

router = APIRouter(prefix="/v1", tags=["openai"])
MODELS = {
    "ragstead": None,
    "ragstead-generative": "generative",
    "ragstead-extractive": "extractive",
}


class OpenAIMessage(BaseModel):
    """A chat message; content as text or as a list of text parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class OpenAIChatRequest(BaseModel):
    """The parts of an OpenAI chat completion request that Ragstead uses (others are ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field("ragstead", examples=list(MODELS))
    messages: list[OpenAIMessage] = Field(..., min_length=1)
    stream: bool = False
    collection: str = Field("default", pattern=COLLECTION_NAME, description="Ragstead's own")


def sources_footer(answer: Answer) -> str:
    """The numbered sources (and unsupported sentences) as text appended to the reply."""
    if not answer.citations:
        return ""
    lines = ["", "", "Sources:"]
    for c in answer.citations:
        page = f", page {c.page}" if c.page is not None else ""
        lines.append(f"[{c.n}] {Path(c.source.split('#', 1)[0]).name}{page}")
    unsupported = [s.text for s in answer.sentences if not s.supported]
    if unsupported:
        lines += ["", "Not supported by the sources: " + " ".join(unsupported)]
    return "\n".join(lines)


def _extension(answer: Answer) -> dict[str, Any]:
    data = answer.to_dict()
    return {k: data[k] for k in ("citations", "grounded", "sentences", "covered", "question")}


def _chunk(cid: str, model: str, delta: dict[str, str], finish: str | None = None) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _stream(
    stream: AnswerStream, first: list[str], cid: str, model: str, view: SourceView
) -> Iterator[str]:
    try:
        yield _chunk(cid, model, {"role": "assistant", "content": ""})
        for piece in itertools.chain(first, stream):  # each piece as it is written
            yield _chunk(cid, model, {"content": piece})
        answer = stream.answer
        if answer is not None:
            answer = view.answer(answer)
            footer = sources_footer(answer)
            if footer:
                yield _chunk(cid, model, {"content": footer})
            last = json.loads(_chunk(cid, model, {}, "stop")[len("data: ") :])
            last["ragstead"] = _extension(answer)
            yield f"data: {json.dumps(last, ensure_ascii=False)}\n\n"
    except Exception as exc:  # headers are sent: the failure becomes an event
        yield f"data: {json.dumps(error_payload(exc))}\n\n"
    finally:
        stream.close()
    yield "data: [DONE]\n\n"


@router.post("/chat/completions")
def chat_completions(
    body: OpenAIChatRequest,
    request: Request,
    assistant: AssistantDep,
    principal: ReaderDep,
    state: StateDep,
) -> Any:
    """Answer the conversation's last user message from the indexed documents."""
    assistant = assistant_in(body.collection, assistant, state, principal)
    audit_note(request, collection=body.collection)
    if body.model not in MODELS:
        raise InvalidRequestError(
            f"unknown model {body.model!r}", hint=f"use one of {', '.join(MODELS)}"
        )
    messages = [
        {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
        for m in body.messages
        if m.role != "tool"
    ]
    stream = assistant.chat(messages, mode=MODELS[body.model], filters=principal.filters(None))
    request.state.answer_stream = stream  # its timings and tokens go to /metrics
    note_sources(request, messages[-1]["content"] if messages else "", answer_sources(stream))
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    view = source_view(state, body.collection, principal)
    if body.stream:
        first = prefetch(stream)
        return StreamingResponse(
            _stream(stream, first, cid, body.model, view),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    answer = view.answer(stream.result())
    prompt = answer.usage.get("prompt_tokens", 0)
    completion = answer.usage.get("completion_tokens", 0)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer + sources_footer(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "ragstead": _extension(answer),
    }


@router.get("/models")
def models(principal: ReaderDep) -> dict[str, Any]:
    """The model names this endpoint answers to (one per answer mode)."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "ragstead"} for name in MODELS
        ],
    }
