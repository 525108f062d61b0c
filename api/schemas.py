"""Request and response bodies of the REST API."""

from __future__ import annotations

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


class QueryRequest(BaseModel):
    """A question over the indexed documents."""

    question: str = Field(
        ..., description="the question", examples=["How many days of annual leave?"]
    )
    top_k: int = Field(5, ge=1, le=100, description="passages to retrieve")
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


class CitationOut(BaseModel):
    """One numbered source."""

    n: int
    source: str
    page: int | None
    chunk_id: str
    score: float
    text: str
    title: str = ""
    section: str = ""


class QueryResponse(BaseModel):
    """The answer, its sources and timings in milliseconds."""

    answer: str
    citations: list[CitationOut]
    timings: dict[str, float]
    model: str = ""
    mode: str = "generative"


class Health(BaseModel):
    """Readiness."""

    status: str
    documents: int | None = None
    chunks: int | None = None
    detail: str | None = None
