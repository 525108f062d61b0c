"""The ``Assistant``: retrieve passages, have the generator answer, cite the sources."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rag.errors import InvalidRequestError
from rag.filters import Filters
from rag.generators.base import Generator, complete
from rag.prompting import PromptTemplate, build_messages
from rag.retriever import Retriever
from rag.types import Answer, Citation, Passage

MAX_QUESTION_CHARS = 4000
NO_PASSAGES_ANSWER = "The indexed documents do not cover this question."


def validate_question(question: str) -> str:
    """The question stripped; InvalidRequestError if empty or too long."""
    text = (question or "").strip()
    if not text:
        raise InvalidRequestError("the question is empty", hint="ask a question in words")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidRequestError(
            f"the question is {len(text)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return text


def citations_for(passages: Sequence[Passage]) -> list[Citation]:
    """Numbered citations, one per passage given to the model."""
    return [
        Citation(
            n=i,
            source=p.chunk.source,
            page=p.chunk.page,
            chunk_id=p.chunk.id,
            score=p.score,
            text=p.chunk.text,
            title=p.chunk.title,
            section=p.chunk.section,
        )
        for i, p in enumerate(passages, 1)
    ]


class Assistant:
    """Answers questions over the indexed documents."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        *,
        max_new_tokens: int = 160,
        template: PromptTemplate | None = None,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.max_new_tokens = max_new_tokens
        self.template = template or PromptTemplate()

    def ask(self, question: str, *, top_k: int = 5, filters: Filters | None = None) -> Answer:
        """Answer ``question`` from the ``top_k`` best passages (among those ``filters``
        allows), with citations and timings."""
        question = validate_question(question)
        if not 1 <= top_k <= 100:
            raise InvalidRequestError(f"top_k must be between 1 and 100, not {top_k}")
        t0 = time.perf_counter()
        passages = self.retriever.retrieve(question, top_k=top_k, filters=filters)
        t1 = time.perf_counter()
        timings = {"retrieve_ms": (t1 - t0) * 1000}
        if not passages:
            timings["total_ms"] = timings["retrieve_ms"]
            return Answer(NO_PASSAGES_ANSWER, [], timings, model=self.generator.name)
        budget = self.generator.context_window - self.max_new_tokens
        messages, kept = build_messages(
            question,
            passages,
            count_tokens=self.generator.count_tokens,
            budget=budget,
            template=self.template,
        )
        t2 = time.perf_counter()
        text = complete(self.generator, messages, max_new_tokens=self.max_new_tokens).strip()
        t3 = time.perf_counter()
        timings.update(
            {
                "prompt_ms": (t2 - t1) * 1000,
                "generate_ms": (t3 - t2) * 1000,
                "total_ms": (t3 - t0) * 1000,
            }
        )
        return Answer(text, citations_for(kept), timings, model=self.generator.name)
