"""Request bodies of the REST API (responses are the core's own shapes: ``rag.types``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.filters import Filters


class FiltersIn(BaseModel):
    """Which chunks a search may use; every field optional, all of them must hold."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, description="glob on the source path", examples=["*.pdf"])
    doc_types: list[str] | None = Field(None, description="file types", examples=[["pdf"]])
    section: str | None = Field(None, description="section path; subsections match too")
    after: str | None = Field(None, description="document date from (ISO 8601)")
    before: str | None = Field(None, description="document date until (ISO 8601)")
    tags: list[str] | None = Field(None, description="labels the chunk must all carry")

    def to_filters(self, groups: list[str] | None) -> Filters:
        """The retrieval filters, with the caller's access groups."""
        return Filters.from_mapping(self.model_dump(exclude_none=True)).with_groups(groups)


class FilterFields(BaseModel):
    """Metadata filters and the caller's access groups, shared by every retrieving request."""

    filters: FiltersIn | None = Field(None, description="metadata filters")
    groups: list[str] | None = Field(
        None,
        description="the caller's access groups: [] sees only unrestricted documents; "
        "absent: no access check",
    )

    def retrieval_filters(self) -> Filters | None:
        """Filters for the retriever (None when the request sets none)."""
        if self.filters is None and self.groups is None:
            return None
        return (self.filters or FiltersIn()).to_filters(self.groups)


class QueryRequest(FilterFields):
    """A question over the indexed documents."""

    question: str = Field(
        ..., description="the question", examples=["How many days of annual leave?"]
    )
    top_k: int | None = Field(
        None, ge=1, le=100, description="passages to retrieve (default: answers.top_k)"
    )
    mode: Literal["auto", "generative", "extractive"] = Field(
        "auto", description="generative (the model writes), extractive (no model) or auto"
    )
    stream: bool = Field(False, description="answer as server-sent events (token..., answer)")


class ChatMessage(BaseModel):
    """One turn of a conversation."""

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(FilterFields):
    """A conversation; the last message is the user's question."""

    messages: list[ChatMessage] = Field(
        ...,
        min_length=1,
        examples=[
            [
                {"role": "user", "content": "How many days of annual leave do I get?"},
                {"role": "assistant", "content": "Full-time employees receive 28 days [1]."},
                {"role": "user", "content": "and part-time staff?"},
            ]
        ],
    )
    top_k: int | None = Field(None, ge=1, le=100, description="passages to retrieve")
    mode: Literal["auto", "generative", "extractive"] = "auto"
    stream: bool = False


class Health(BaseModel):
    """Readiness."""

    status: str
    documents: int | None = None
    chunks: int | None = None
    detail: str | None = None


class RetrieveRequest(FilterFields):
    """A search over the indexed documents, with no generation."""

    question: str = Field(..., description="the question or search text")
    top_k: int | None = Field(
        None, ge=1, le=100, description="passages to return (default: retrieval.top_k)"
    )
