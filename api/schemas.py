"""Request and response bodies of the REST API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class QueryRequest(BaseModel):
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


class ChatRequest(BaseModel):
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


class SentenceOut(BaseModel):
    """Grounding of one answer sentence."""

    text: str
    citations: list[int]
    supported: bool
    score: float
    missing: list[str] = []
    kind: str = "claim"
    reason: str = ""


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
    quote: str = ""
    inferred: bool = False


class QueryResponse(BaseModel):
    """The answer, its sources, its grounding and timings in milliseconds."""

    answer: str
    citations: list[CitationOut]
    timings: dict[str, float]
    model: str = ""
    mode: str = "generative"
    grounded: bool = True
    sentences: list[SentenceOut] = []
    removed_citations: list[int] = []
    covered: bool = True
    question: str = ""
    usage: dict[str, int] = {}


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
