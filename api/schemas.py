"""Request and response bodies of the REST API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class QueryRequest(BaseModel):
    """A question over the indexed documents."""

    question: str = Field(
        ..., description="the question", examples=["How many days of annual leave?"]
    )
    top_k: int = Field(5, ge=1, le=100, description="passages to retrieve")


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


class RetrieveRequest(BaseModel):
    """A search over the indexed documents, with no generation."""

    question: str = Field(..., description="the question or search text")
    top_k: int = Field(5, ge=1, le=100, description="passages to return")


class PassageOut(BaseModel):
    """One retrieved passage."""

    chunk_id: str
    doc_id: str
    source: str
    page: int | None
    title: str = ""
    section: str = ""
    text: str
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


class RetrieveResponse(BaseModel):
    """Passages, best first."""

    passages: list[PassageOut]
