"""POST /v1/retrieve: the passages for a question, without generating an answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.audit import audit_note, note_sources
from api.deps import AssistantDep, ContainerDep, ReaderDep, StateDep, assistant_in, source_view
from api.schemas import RetrieveRequest
from rag.types import SearchResult

router = APIRouter(prefix="/v1", tags=["retrieve"])


@router.post("/retrieve", response_model=SearchResult)
def retrieve(
    body: RetrieveRequest,
    request: Request,
    assistant: AssistantDep,
    container: ContainerDep,
    principal: ReaderDep,
    state: StateDep,
) -> SearchResult:
    """Hybrid search: the ``top_k`` best passages, each with the sentence nearest the question
    quoted and the page that holds it."""
    assistant = assistant_in(body.collection, assistant, state, principal)
    audit_note(request, collection=body.collection)
    top_k = body.top_k or container.settings.retrieval.top_k
    filters = principal.filters(body.retrieval_filters())
    passages = assistant.search(body.question, top_k=top_k, filters=filters)
    note_sources(request, body.question, lambda: passages)
    return SearchResult(source_view(state, body.collection, principal).citations(passages))
