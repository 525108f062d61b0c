"""Domain types shared by ingestion, retrieval, generation and the API."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


def page_at(
    first_page: int | None, page_breaks: Iterable[tuple[int, int]], offset: int
) -> int | None:
    """The page holding character ``offset`` of a text that starts on ``first_page`` and has
    ``page_breaks`` ((offset, page) where a later page begins, in order)."""
    page = first_page
    for start, later in page_breaks:
        if offset >= start:
            page = later
    return page


@dataclass
class Chunk:
    """A passage of a document as stored: text plus where it came from."""

    id: str
    doc_id: str
    text: str
    source: str
    title: str = ""
    section: str = ""
    page: int | None = None
    page_end: int | None = None
    kinds: str = "text"
    chunk_index: int = 0
    content_hash: str = ""
    mtime: float = 0.0
    doc_type: str = ""
    groups: tuple[str, ...] = ()
    #: free labels a filter can select on (e.g. "hr", "contract", "region:emea").
    tags: tuple[str, ...] = ()
    #: (character offset in ``text``, page) where a later page begins, for chunks that span pages.
    page_breaks: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The page that holds the character at ``offset`` of ``text`` (None without pages)."""
        return page_at(self.page, self.page_breaks, offset)

    def embed_text(self) -> str:
        """The text that is embedded and indexed: title and section give the body context."""
        head = " > ".join(p for p in (self.title, self.section) if p)
        return f"{head}\n{self.text}" if head else self.text

    def metadata(self) -> dict[str, Any]:
        """Metadata for the vector store: scalars, plus non-empty string lists for filters.

        ``groups`` and ``tags`` are lists matched with ``$contains`` (Chroma rejects empty
        lists, so they are left out when empty); ``restricted`` says whether ``groups`` limits
        who may see the chunk; ``sections`` holds every prefix of the section path, so a filter
        on a section also matches its subsections.
        """
        meta: dict[str, Any] = {
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "page": self.page if self.page is not None else -1,
            "page_end": self.page_end if self.page_end is not None else -1,
            "kinds": self.kinds,
            "chunk_index": self.chunk_index,
            "content_hash": self.content_hash,
            "mtime": self.mtime,
            "doc_type": self.doc_type,
            "restricted": bool(self.groups),
        }
        if self.groups:
            meta["groups"] = list(self.groups)
        if self.tags:
            meta["tags"] = list(self.tags)
        if self.section:
            parts = [p.strip() for p in self.section.split(" > ")]
            meta["sections"] = [" > ".join(parts[: i + 1]) for i in range(len(parts))]
        return meta


@dataclass
class Passage:
    """A retrieved chunk with its fused score and the ranks each retriever gave it."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    #: cosine similarity of the query and the chunk (None if dense search did not return it).
    dense_score: float | None = None
    #: how well the chunk's document matches the period and names the question gives
    #: (``rag.doc_profile.match``), where the question names any and documents differ on it.
    document_fit: float | None = None


@dataclass
class Citation:
    """One numbered source passage: cited by an answer, or returned by a search.

    The one shape of a passage shown to a caller (``/v1/query``, ``/v1/chat``,
    ``/v1/retrieve``, the OpenAI endpoint's ``ragstead`` field, the CLI).
    """

    n: int
    source: str
    #: the page holding ``quote`` (else the passage's first page).
    page: int | None
    chunk_id: str
    score: float
    text: str
    title: str = ""
    section: str = ""
    #: the sentence of the passage that answers the question or supports the answer.
    quote: str = ""
    #: True when the answer did not cite this passage and the grounding check attributed it.
    inferred: bool = False
    doc_id: str = ""
    #: the last page the passage (with its neighbouring chunks) reaches.
    page_end: int | None = None
    #: rank in the dense and the lexical list (None: that search did not return it).
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass
class SentenceSupport:
    """How well one sentence of an answer is supported by the passages it cites."""

    text: str
    #: passage numbers the sentence cites (or, when it cites none, the one found to support it).
    citations: list[int]
    supported: bool
    #: best embedding similarity of the sentence to a sentence of its passages (0..1).
    score: float
    #: numbers and names the sentence states that its passages do not contain.
    missing: list[str] = field(default_factory=list)
    #: "claim", or "refusal" for a sentence saying the documents do not cover the question.
    kind: str = "claim"
    reason: str = ""
    #: whether the sentence answers the question asked (its key terms, the kind of answer asked
    #: for); a supported sentence that does not leaves the answer not grounded.
    addresses: bool = True
    #: cited passages that do not address the question (a generated sentence citing them is
    #: flagged even where they support it).
    off_question: list[int] = field(default_factory=list)


@dataclass
class Answer:
    """The answer to a question: text, the sources it cites, and how long each step took."""

    answer: str
    citations: list[Citation]
    #: milliseconds per step (retrieve_ms, generate_ms, ttft_ms, ...).
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""
    mode: str = "generative"
    #: True when every claim of the answer is supported by the passages it cites.
    grounded: bool = True
    #: per-sentence support (see ``rag.grounding``).
    sentences: list[SentenceSupport] = field(default_factory=list)
    #: citation markers in the generated text that pointed at no passage (removed from it).
    removed_citations: list[int] = field(default_factory=list)
    #: False when no passage was relevant enough and the model was not asked.
    covered: bool = True
    #: the question retrieval used (a follow-up in a conversation, rewritten to stand alone).
    question: str = ""
    #: token counts: prompt_tokens and completion_tokens (0 where no model was called).
    usage: dict[str, int] = field(default_factory=dict)
    #: why the passages do (not) answer the question (``rag.answerability``).
    answerability: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the same shape the API serves; timings rounded to 0.01 ms)."""
        data = asdict(self)
        data["timings"] = {k: round(v, 2) for k, v in self.timings.items()}
        return data


@dataclass
class SearchResult:
    """The passages a search found, best first (``/v1/retrieve``)."""

    passages: list[Citation]
