"""POST /v1/retrieve: the passages for a question, without generating an answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.schemas import RetrieveRequest, RetrieveResponse
from api.state import AppState
from rag.assistant import validate_question

router = APIRouter(prefix="/v1", tags=["retrieve"])


@router.post("/retrieve", response_model=RetrieveResponse)
def retrieve(body: RetrieveRequest, request: Request) -> dict[str, Any]:
    """Hybrid search: the ``top_k`` best passages with scores and where they come from."""
    state: AppState = request.app.state.ragstead
    question = validate_question(body.question)
    passages = state.container.retriever.retrieve(
        question, top_k=body.top_k, filters=body.retrieval_filters()
    )
    return {
        "passages": [
            {
                "chunk_id": p.chunk.id,
                "doc_id": p.chunk.doc_id,
                "source": p.chunk.source,
                "page": p.chunk.page,
                "title": p.chunk.title,
                "section": p.chunk.section,
                "text": p.chunk.text,
                "score": p.score,
                "dense_rank": p.dense_rank,
                "lexical_rank": p.lexical_rank,
            }
            for p in passages
        ]
    }
