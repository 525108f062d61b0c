"""POST /v1/query: answer a question with citations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.schemas import QueryRequest, QueryResponse
from api.state import AppState

router = APIRouter(prefix="/v1", tags=["query"])


@router.post("/query", response_model=QueryResponse)
def query(body: QueryRequest, request: Request) -> dict[str, Any]:
    """Retrieve passages for the question and answer it, citing source, page and chunk."""
    state: AppState = request.app.state.ragstead
    return state.container.assistant.ask(
        body.question, top_k=body.top_k, filters=body.retrieval_filters()
    ).to_dict()
