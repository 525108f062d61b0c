"""POST /v1/query: answer a question with citations and a grounding check (or stream it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.audit import answer_sources, audit_note, note_sources
from api.deps import AssistantDep, ReaderDep, StateDep, assistant_in, source_view
from api.schemas import QueryRequest
from api.streaming import sse_response
from rag.types import Answer

router = APIRouter(prefix="/v1", tags=["query"])

STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON, or with stream=true server-sent events: token..., then answer",
        "content": {"text/event-stream": {}},
    }
}


@router.post("/query", response_model=Answer, responses=STREAM_DOC)
def query(
    body: QueryRequest,
    request: Request,
    assistant: AssistantDep,
    principal: ReaderDep,
    state: StateDep,
) -> Any:
    """Retrieve passages for the question and answer it, citing source, page and chunk."""
    assistant = assistant_in(body.collection, assistant, state, principal)
    audit_note(request, collection=body.collection)
    filters = principal.filters(body.retrieval_filters())
    stream = assistant.stream(body.question, top_k=body.top_k, mode=body.mode, filters=filters)
    request.state.answer_stream = stream  # its timings and tokens go to /metrics
    note_sources(request, body.question, answer_sources(stream))
    view = source_view(state, body.collection, principal)
    if body.stream:
        return sse_response(stream, view)
    return view.answer(stream.result()).to_dict()
