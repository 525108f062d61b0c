"""Extractive answers: the passage sentences that best answer the question, cited, no model.

Each sentence (or table row) of the retrieved passages is scored by its embedding similarity
to the question, the share of the question's content words it contains, and the rank of its
passage; the best one is the answer, with the next best added when it scores nearly as well.
Every word of the answer is a word of the documents, so it cannot invent a number.

Example::

    answerer = ExtractiveAnswerer(embedder)
    text = answerer.answer("How many days of annual leave?", passages)
    # "Full-time employees receive 28 days of annual leave per year [1]."
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.embedders.base import Embedder
from rag.grounding import EmbeddingCache, PassageSentence, passage_sentences
from rag.text import content_words
from rag.types import Passage


@dataclass
class ExtractiveParams:
    """Weights of the sentence score and how many sentences an answer may take.

    Tuned on half of the COVID-QA dev questions (``benchmarks/calibrate_answers.py``).
    """

    similarity_weight: float = 1.0
    overlap_weight: float = 0.5
    #: bonus for sentences of better-ranked passages: ``rank_weight / passage number``.
    rank_weight: float = 0.1
    #: bonus for sentences of the document most of the retrieved passages come from.
    document_weight: float = 0.0
    #: a second sentence is added when it scores at least this share of the best one.
    second_ratio: float = 0.95
    max_sentences: int = 2
    #: sentences shorter than this many words are joined with their neighbour.
    min_words: int = 5


@dataclass
class Candidate:
    """A sentence that could answer, with what its score is made of."""

    sentence: PassageSentence
    similarity: float
    overlap: float
    document_share: float

    def score(self, p: ExtractiveParams) -> float:
        """The weighted score under ``p``."""
        return (
            p.similarity_weight * self.similarity
            + p.overlap_weight * self.overlap
            + p.rank_weight / self.sentence.n
            + p.document_weight * self.document_share
        )


def _stem(word: str) -> str:
    return re.sub(r"(ies|es|s|ing|ed)$", "", word) if len(word) > 4 else word


def candidates(
    question: str, passages: Sequence[Passage], cache: EmbeddingCache, min_words: int = 5
) -> list[Candidate]:
    """Every sentence of the passages with its similarity, word overlap and document share."""
    sentences = _candidates(passage_sentences(passages), min_words)
    if not sentences:
        return []
    q_vec = cache.vectors([question])[0]
    sims = cache.vectors([c.text for c in sentences]) @ q_vec
    q_words = {_stem(w) for w in content_words(question)}
    docs = [p.chunk.doc_id for p in passages]
    out = []
    for sim, sentence in zip(sims, sentences, strict=True):
        words = {_stem(w) for w in content_words(sentence.text)}
        overlap = len(q_words & words) / len(q_words) if q_words else 0.0
        share = docs.count(docs[sentence.n - 1]) / len(docs)
        out.append(Candidate(sentence, float(sim), overlap, share))
    return out


def choose(found: Sequence[Candidate], p: ExtractiveParams) -> list[PassageSentence]:
    """The answer sentences under ``p``, in passage order."""
    if not found:
        return []
    ranked = sorted(found, key=lambda c: c.score(p), reverse=True)
    best = ranked[0].score(p)
    chosen = [ranked[0].sentence]
    for cand in ranked[1 : p.max_sentences]:
        if best > 0 and cand.score(p) >= p.second_ratio * best:
            chosen.append(cand.sentence)
    return sorted(chosen, key=lambda s: (s.n, s.start))


def render(chosen: Sequence[PassageSentence]) -> str:
    """Sentences joined, each with its ``[n]`` marker."""
    return " ".join(_cited(c.text, c.n) for c in chosen)


class ExtractiveAnswerer:
    """Picks answer sentences from passages (see the module doc)."""

    def __init__(self, embedder: Embedder, params: ExtractiveParams | None = None) -> None:
        self.embedder = embedder
        self.params = params or ExtractiveParams()

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        *,
        cache: EmbeddingCache | None = None,
    ) -> str:
        """The answer text with ``[n]`` markers; "" when the passages have no sentences."""
        cache = cache or EmbeddingCache(self.embedder)
        found = candidates(question, passages, cache, self.params.min_words)
        return render(choose(found, self.params))


def _candidates(sentences: list[PassageSentence], min_words: int) -> list[PassageSentence]:
    """Sentences of each passage, short ones merged into the next sentence of the same passage."""
    out: list[PassageSentence] = []
    pending: PassageSentence | None = None
    for s in sentences:
        if pending is not None and pending.n == s.n:
            s = PassageSentence(s.n, pending.start, s.end, f"{pending.text} {s.text}")
        elif pending is not None:
            out.append(pending)
        pending = None
        if len(s.text.split()) < min_words or s.text.rstrip().endswith("?"):
            # short fragments and questions (FAQ "Q:" lines) go with the sentence after them
            pending = s
            continue
        out.append(s)
    if pending is not None:
        out.append(pending)
    return out


def _cited(sentence: str, n: int) -> str:
    """'Text.' -> 'Text [n].'; rows and lines without final punctuation get ' [n]'."""
    text = sentence.strip()
    match = re.search(r"([.!?:;]+[\"')\]]*)$", text)
    if match:
        return f"{text[: match.start()]} [{n}]{match.group(1)}"
    return f"{text} [{n}]"
