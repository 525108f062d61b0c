"""POST /v1/chat: answer the last message of a conversation (follow-ups rewritten first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AssistantDep
from api.routes.query import STREAM_DOC
from api.schemas import ChatRequest
from api.streaming import sse_response
from rag.types import Answer

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat", response_model=Answer, responses=STREAM_DOC)
def chat(body: ChatRequest, assistant: AssistantDep) -> Any:
    """Answer the conversation's last user message; ``question`` says what was retrieved."""
    messages = [{"role": m.role, "content": m.content} for m in body.messages]
    stream = assistant.chat(
        messages, top_k=body.top_k, mode=body.mode, filters=body.retrieval_filters()
    )
    if body.stream:
        return sse_response(stream)
    return stream.result().to_dict()
