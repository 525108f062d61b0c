"""Request bodies of the REST API (responses are the core's own shapes: ``rag.types``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rag.filters import Filters
from rag.settings import COLLECTION_NAME


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

    collection: str = Field(
        "default", pattern=COLLECTION_NAME, description="the collection to search"
    )
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


DocumentStatus = Literal["indexed", "failed"]
_LABEL = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_GROUP = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class DocumentOut(BaseModel):
    """One indexed document (``source`` is the path it was read from)."""

    id: str
    source: str
    title: str
    type: str
    groups: list[str]
    labels: dict[str, str] = {}
    status: str
    error: str | None = None
    pages: int | None = None
    chunks: int
    size: int = 0
    parent_id: str | None = None
    indexed_at: float = 0.0
    chunk_ids: list[str] | None = None
    attachments: list[str] | None = None


class DocumentList(BaseModel):
    """A page of documents; ``next`` is the cursor of the following page (null: the last)."""

    documents: list[DocumentOut]
    next: str | None = None


class DocumentPatch(BaseModel):
    """New access groups and/or labels (labels become filterable tags ``key:value``)."""

    model_config = ConfigDict(extra="forbid")

    groups: list[Annotated[str, StringConstraints(pattern=_GROUP)]] | None = Field(
        None, max_length=64, description="replaces the document's access groups"
    )
    labels: (
        dict[
            Annotated[str, StringConstraints(pattern=_LABEL)],
            Annotated[str, StringConstraints(max_length=200)],
        ]
        | None
    ) = Field(None, max_length=64, description="replaces the document's labels")


class JobAccepted(BaseModel):
    """An upload accepted: the job that ingests it."""

    job_id: str
    status: str


class JobFileOut(BaseModel):
    """One uploaded file's result."""

    name: str
    size: int
    status: str
    error: str | None = None
    doc_id: str | None = None


class JobOut(BaseModel):
    """An upload job: queued, running, succeeded, partial or failed."""

    job_id: str
    status: str
    files: list[JobFileOut]
    collection: str = "default"
    groups: list[str] = []
    labels: dict[str, str] = {}
    created: float
    started: float | None = None
    finished: float | None = None
    progress: dict[str, int] = {}
    error: str | None = None


class JobList(BaseModel):
    """Jobs, newest first."""

    jobs: list[JobOut]


class CollectionIn(BaseModel):
    """A new collection."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., pattern=COLLECTION_NAME, examples=["legal"])


class CollectionOut(BaseModel):
    """A collection and what it holds."""

    name: str
    documents: int
    chunks: int


class CollectionList(BaseModel):
    """The collections the caller may use."""

    collections: list[CollectionOut]


class KeyIn(BaseModel):
    """A new API key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    groups: list[Annotated[str, StringConstraints(pattern=_GROUP)]] = Field([], max_length=64)
    scopes: list[Literal["read", "write", "admin"]] = Field(["read"], min_length=1)
    collections: list[Annotated[str, StringConstraints(pattern=COLLECTION_NAME)]] | None = None
    expires: str | None = Field(None, pattern=r"^\d{1,6}[smhdw]$", examples=["90d"])


class KeyOut(BaseModel):
    """A key as listed; ``key`` only when just created."""

    name: str
    key_id: str
    groups: list[str]
    scopes: list[str]
    collections: list[str] | None
    created: float
    expires: float | None = None
    revoked: float | None = None
    status: str
    key: str | None = None


class KeyList(BaseModel):
    """Every key."""

    keys: list[KeyOut]
