"""POST /v1/retrieve: the passages for a question, without generating an answer."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AssistantDep, ContainerDep
from api.schemas import RetrieveRequest
from rag.types import SearchResult

router = APIRouter(prefix="/v1", tags=["retrieve"])


@router.post("/retrieve", response_model=SearchResult)
def retrieve(
    body: RetrieveRequest, assistant: AssistantDep, container: ContainerDep
) -> SearchResult:
    """Hybrid search: the ``top_k`` best passages, each with the sentence nearest the question
    quoted and the page that holds it."""
    top_k = body.top_k or container.settings.retrieval.top_k
    filters = body.retrieval_filters()
    return SearchResult(assistant.search(body.question, top_k=top_k, filters=filters))
