"""The ``Assistant``: retrieve passages, answer from them, cite them, check the answer.

Two modes answer a question:

- ``generative``: the generator writes the answer from numbered passages packed into its context
  window (``rag.prompting``) and cites them as ``[n]``;
- ``extractive``: the best supporting sentences of the passages, cited, with no generator
  (``rag.extractive``).

Either way the answer then goes through the grounding check (``rag.grounding``): markers that
point at nothing are removed, every sentence is scored for support, uncited sentences get the
passage that supports them, and the response says ``grounded`` true or false. When no passage
is relevant enough (``min_relevance``, a cosine similarity of question and passage), the answer
says the documents do not cover the question and no model is called.

Example::

    assistant = Assistant(retriever, generator)
    answer = assistant.ask("How many days of annual leave?", mode="extractive")
    for piece in (stream := assistant.stream("How many days of annual leave?")):
        print(piece, end="")
    stream.answer.citations
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Self, cast

from rag.answerability import (
    Answerability,
    AnswerabilityJudge,
    AnswerabilityParams,
    absent_names,
)
from rag.conversation import QueryRewriter, split_conversation
from rag.embedders.base import Embedder
from rag.errors import InvalidRequestError
from rag.extractive import ExtractiveAnswerer, ExtractiveParams, candidates
from rag.filters import Filters
from rag.generators.base import Generator, Message
from rag.grounding import EmbeddingCache, GroundingChecker, quoted_sources
from rag.prompting import PromptTemplate, build_messages, prompt_tokens
from rag.questions import profile_question
from rag.retriever import Retriever
from rag.settings import AnswerSettings
from rag.text import drop_repeated_sentences, repeats, sentence_key, sentence_spans
from rag.types import Answer, Citation, Passage

MAX_QUESTION_CHARS = 4000
NO_PASSAGES_ANSWER = "The indexed documents do not cover this question."
MODES = ("generative", "extractive")


def validate_question(question: str) -> str:
    """The question stripped; InvalidRequestError if empty or too long."""
    text = (question or "").strip()
    if not text:
        raise InvalidRequestError("the question is empty", hint="ask a question in words")
    if not is_valid_text(text):
        raise InvalidRequestError(
            "the question is not valid Unicode text (it holds a lone surrogate, such as \\ud800)",
            hint="send the question as UTF-8 text",
        )
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidRequestError(
            f"the question is {len(text)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return text


def is_valid_text(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (JSON's ``"\\ud800"`` decodes to a string that
    cannot, and fails deep in a tokenizer or SQLite otherwise)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass
class AnswerConfig:
    """How the assistant answers: the ``answers`` settings section as a value, plus what other
    sections and the calibration decide."""

    #: the ``answers:`` section (top_k, min_relevance, min_support, stop, the prompt templates).
    answers: AnswerSettings = field(default_factory=AnswerSettings)
    #: "generative" or "extractive" (``answers.mode`` with ``auto`` resolved by the container).
    mode: str = "generative"
    #: from ``generator.max_new_tokens``.
    max_new_tokens: int = 160
    #: ``answers.max_prompt_tokens`` resolved by the container (None: the context window).
    max_prompt_tokens: int | None = None
    #: tokens of earlier conversation turns kept in a generative prompt (``chat.history_tokens``).
    history_tokens: int = 512
    extractive: ExtractiveParams = field(default_factory=ExtractiveParams)
    #: weights and threshold of the "covered" decision (``answers.min_relevance`` is its floor).
    answerability: AnswerabilityParams = field(default_factory=AnswerabilityParams)

    @property
    def top_k(self) -> int:
        """Passages an answer draws on when a request does not say."""
        return self.answers.top_k

    @property
    def min_relevance(self) -> float:
        """Question-passage cosine under which the documents "do not cover" the question."""
        return self.answers.min_relevance

    @property
    def min_support(self) -> float:
        """Similarity a sentence needs to a passage sentence to count as supported."""
        return self.answers.min_support

    @property
    def stop(self) -> tuple[str, ...]:
        """Extra stop sequences."""
        return tuple(self.answers.stop)

    @property
    def template(self) -> PromptTemplate:
        """The prompt's templates."""
        a = self.answers
        return PromptTemplate(a.system_prompt, a.passage_template, a.question_template)


def until_repeating(pieces: Iterator[str]) -> Iterator[str]:
    """Yield ``pieces`` until the text repeats a sentence it already wrote, then stop.

    Small models fall into loops ("1. The policy is ... 2. The policy is ..."), often with a
    word changed each time; a near-repeat (``rag.text.repeats``) stops it too, saving the rest
    of ``max_new_tokens``. The repeats are left out of the final answer text.
    """
    text = ""
    seen: list[str] = []
    checked = 0
    try:
        for piece in pieces:
            yield piece
            text += piece
            complete = sentence_spans(text)[:-1]
            for start, end in complete[checked:]:
                sentence = text[start:end]
                if sentence_key(sentence) and repeats(sentence, seen):
                    return
                seen.append(sentence)
            checked = len(complete)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


@dataclass
class _Base:
    question: str
    mode: str
    verdict: Answerability


class AnswerStream(Iterator[str]):
    """The pieces of an answer as they are written; ``answer`` holds the result once read.

    ``close()`` stops a generation early and frees the generator's place in its queue.
    """

    def __init__(
        self,
        pieces: Iterator[str],
        finish: Callable[[str, dict[str, float]], Answer],
        timings: dict[str, float],
        started: float,
        passages: Sequence[Passage] = (),
    ) -> None:
        self._pieces = pieces
        self._finish = finish
        self._timings = timings
        self._started = started
        self._generating = time.perf_counter()
        self._parts: list[str] = []
        self._first_at: float | None = None
        self.answer: Answer | None = None
        #: the passages retrieved for the question (best first).
        self.passages: list[Passage] = list(passages)

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> str:
        if self.answer is not None:
            raise StopIteration
        try:
            piece = next(self._pieces)
        except StopIteration:
            self._complete()
            raise
        if self._first_at is None:
            self._first_at = time.perf_counter()
            self._timings["ttft_ms"] = (self._first_at - self._started) * 1000
        self._parts.append(piece)
        return piece

    def _complete(self) -> None:
        done = time.perf_counter()
        if self._first_at is None:
            self._first_at = done
            self._timings["ttft_ms"] = (done - self._started) * 1000
        self._timings["generate_ms"] = (done - self._generating) * 1000
        self._timings["decode_ms"] = (done - self._first_at) * 1000
        self.answer = self._finish("".join(self._parts), self._timings)
        self.answer.timings["total_ms"] = (time.perf_counter() - self._started) * 1000

    def result(self) -> Answer:
        """Read the rest of the answer and return it."""
        for _ in self:
            pass
        assert self.answer is not None
        return self.answer

    def close(self) -> None:
        """Stop generating (the answer stays None unless it was complete)."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


class Assistant:
    """Answers questions over the indexed documents (see the module doc)."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        *,
        embedder: Embedder | None = None,
        config: AnswerConfig | None = None,
        rewriter: QueryRewriter | None = None,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.embedder: Embedder = embedder or cast(Embedder, retriever.embedder)
        self.config = config or AnswerConfig()
        if self.config.mode not in MODES:
            raise InvalidRequestError(f"unknown answer mode {self.config.mode!r}")
        self.vectors = EmbeddingCache(self.embedder)
        self.grounding = GroundingChecker(self.embedder, min_similarity=self.config.min_support)
        self.judge = AnswerabilityJudge(
            dataclasses.replace(self.config.answerability, min_relevance=self.config.min_relevance)
        )
        self.extractor = ExtractiveAnswerer(self.embedder, self.config.extractive, self.judge)
        self.rewriter = rewriter

    # -- public API ----------------------------------------------------------------------------

    def search(
        self, question: str, *, top_k: int = 5, filters: Filters | None = None
    ) -> list[Citation]:
        """The ``top_k`` best passages as sources, each quoting its sentence nearest the
        question and citing that sentence's page (no answer is written)."""
        question = validate_question(question)
        passages = self.retriever.retrieve(question, top_k=top_k, filters=filters)
        return quoted_sources(question, passages, self.vectors)

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        mode: str | None = None,
        history: Sequence[Message] = (),
        filters: Filters | None = None,
    ) -> Answer:
        """Answer ``question`` from the ``top_k`` best passages ``filters`` allows, with
        citations and grounding."""
        return self.stream(
            question, top_k=top_k, mode=mode, history=history, filters=filters
        ).result()

    def chat(
        self,
        messages: Sequence[Message],
        *,
        top_k: int | None = None,
        mode: str | None = None,
        filters: Filters | None = None,
    ) -> AnswerStream:
        """Answer the last user message of a conversation; a follow-up is rewritten first."""
        history, question = split_conversation(messages)
        question = validate_question(question)
        t0 = time.perf_counter()
        standalone = question
        if history and self.rewriter is not None:
            standalone = validate_question(self.rewriter.rewrite(question, history))
        timings = {"rewrite_ms": (time.perf_counter() - t0) * 1000}
        return self._start(standalone, top_k, mode, history, timings, t0, filters)

    def resolve_mode(self, mode: str | None) -> str:
        """The mode a request gets: its own, or the configured one for None and "auto"."""
        if mode in (None, "", "auto"):
            return self.config.mode
        if mode not in MODES:
            raise InvalidRequestError(
                f"unknown answer mode {mode!r}", hint="use generative, extractive or auto"
            )
        return mode

    def stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        mode: str | None = None,
        history: Sequence[Message] = (),
        filters: Filters | None = None,
    ) -> AnswerStream:
        """Start answering: retrieval and prompt happen now, the answer arrives as it is read.

        Errors that happen before the first piece (an empty question, a full generator queue)
        are raised here.
        """
        return self._start(validate_question(question), top_k, mode, history, {}, None, filters)

    def _start(
        self,
        question: str,
        top_k: int | None,
        mode: str | None,
        history: Sequence[Message],
        timings: dict[str, float],
        started: float | None,
        filters: Filters | None = None,
    ) -> AnswerStream:
        mode = self.resolve_mode(mode)
        top_k = self.config.top_k if top_k is None else top_k
        if not 1 <= top_k <= 100:
            raise InvalidRequestError(f"top_k must be between 1 and 100, not {top_k}")
        t0 = time.perf_counter()
        passages = self.retriever.retrieve(question, top_k=top_k, filters=filters)
        cache = self.vectors
        relevance = self.relevance(question, passages, cache)
        t1 = time.perf_counter()
        timings["retrieve_ms"] = (t1 - t0) * 1000
        t0 = started if started is not None else t0
        profile = profile_question(question)
        found = candidates(question, passages, cache, self.config.extractive.min_words, profile)
        verdict = self.judge.judge(
            profile,
            found,
            [p.chunk.doc_id for p in passages],
            relevance,
            absent_names(profile, passages),
        )
        timings["answerability_ms"] = (time.perf_counter() - t1) * 1000
        base = _Base(question, mode, verdict)
        if not verdict.covered:

            def not_covered(text: str, times: dict[str, float]) -> Answer:
                return Answer(
                    text,
                    [],
                    dict(times),
                    covered=False,
                    question=base.question,
                    mode=base.mode,
                    answerability=verdict.to_dict(),
                )

            return AnswerStream(iter([NO_PASSAGES_ANSWER]), not_covered, timings, t0, passages)
        if mode == "extractive":
            text = self.extractor.answer(question, passages, cache=cache, found=found)
            timings["prompt_ms"] = (time.perf_counter() - t1) * 1000

            def extracted(text: str, times: dict[str, float]) -> Answer:
                return self._finish(text, passages, times, cache, base, model="", usage={})

            return AnswerStream(iter([text] if text else []), extracted, timings, t0, passages)
        messages, kept = build_messages(
            question,
            passages,
            count_tokens=self.generator.count_tokens,
            budget=self.prompt_budget,
            template=self.config.template,
            history=history,
            history_budget=self.config.history_tokens,
        )
        timings["prompt_ms"] = (time.perf_counter() - t1) * 1000
        n_prompt = prompt_tokens(messages, self.generator.count_tokens)
        pieces = until_repeating(
            self.generator.stream(
                messages, max_new_tokens=self.config.max_new_tokens, stop=self.config.stop
            )
        )

        def generated(text: str, times: dict[str, float]) -> Answer:
            usage = {
                "prompt_tokens": n_prompt,
                "completion_tokens": self.generator.count_tokens(text) if text else 0,
            }
            return self._finish(text, kept, times, cache, base, self.generator.name, usage)

        return AnswerStream(iter(pieces), generated, timings, t0, passages)

    @property
    def prompt_budget(self) -> int:
        """Tokens a generative prompt may take: the context window less the answer's room,
        capped at ``max_prompt_tokens``."""
        room = self.generator.context_window - self.config.max_new_tokens
        cap = self.config.max_prompt_tokens
        return room if cap is None else min(room, cap)

    def relevance(
        self, question: str, passages: Sequence[Passage], cache: EmbeddingCache | None = None
    ) -> float:
        """Best cosine similarity of the question and a passage (0 without passages)."""
        if not passages:
            return 0.0
        known = [p.dense_score for p in passages if p.dense_score is not None]
        missing = [p.chunk.embed_text() for p in passages if p.dense_score is None]
        if missing:
            vectors = (cache or self.vectors).vectors([question, *missing])
            known.extend(float(v) for v in vectors[1:] @ vectors[0])
        return max(known)

    # -- internals -----------------------------------------------------------------------------

    def _finish(
        self,
        raw: str,
        passages: Sequence[Passage],
        timings: dict[str, float],
        cache: EmbeddingCache,
        base: _Base,
        model: str,
        usage: dict[str, int],
    ) -> Answer:
        t = time.perf_counter()
        result = self.grounding.check(
            drop_repeated_sentences(raw.strip()), passages, cache=cache, question=base.question
        )
        timings = {**timings, "grounding_ms": (time.perf_counter() - t) * 1000}
        return Answer(
            result.text,
            result.citations,
            timings,
            model=model,
            grounded=result.grounded,
            sentences=result.sentences,
            removed_citations=result.removed,
            usage=usage,
            question=base.question,
            mode=base.mode,
            answerability=base.verdict.to_dict(),
        )
