"""POST /v1/chat: answer the last message of a conversation (follow-ups rewritten first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.audit import answer_sources, note_sources
from api.deps import AssistantDep, ReaderDep, StateDep, source_view
from api.routes.query import STREAM_DOC
from api.schemas import ChatRequest
from api.streaming import sse_response
from rag.types import Answer

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat", response_model=Answer, responses=STREAM_DOC)
def chat(
    body: ChatRequest,
    request: Request,
    assistant: AssistantDep,
    principal: ReaderDep,
    state: StateDep,
) -> Any:
    """Answer the conversation's last user message; ``question`` says what was retrieved."""
    messages = [{"role": m.role, "content": m.content} for m in body.messages]
    stream = assistant.chat(
        messages,
        top_k=body.top_k,
        mode=body.mode,
        filters=principal.filters(body.retrieval_filters()),
    )
    request.state.answer_stream = stream  # its timings and tokens go to /metrics
    note_sources(request, body.messages[-1].content, answer_sources(stream))
    view = source_view(state, "default", principal)
    if body.stream:
        return sse_response(stream, view)
    return view.answer(stream.result()).to_dict()
