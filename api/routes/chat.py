"""POST /v1/chat: answer the last message of a conversation (follow-ups rewritten first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.routes.query import STREAM_DOC
from api.schemas import ChatRequest, QueryResponse
from api.state import AppState
from api.streaming import sse_response

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat", response_model=QueryResponse, responses=STREAM_DOC)
def chat(body: ChatRequest, request: Request) -> Any:
    """Answer the conversation's last user message; ``question`` says what was retrieved."""
    state: AppState = request.app.state.ragstead
    messages = [{"role": m.role, "content": m.content} for m in body.messages]
    stream = state.container.assistant.chat(
        messages, top_k=body.top_k, mode=body.mode, filters=body.retrieval_filters()
    )
    if body.stream:
        return sse_response(stream)
    return stream.result().to_dict()
