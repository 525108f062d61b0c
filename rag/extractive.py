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

from rag.grounding import EmbeddingCache, PassageSentence, TextEmbedder, passage_sentences
from rag.text import content_words
from rag.types import Passage


@dataclass
class ExtractiveParams:
    """Weights of the sentence score and how many sentences an answer may take.

    Tuned on COVID-QA dev questions (``benchmarks/calibrate_answers.py``).
    """

    similarity_weight: float = 1.0
    overlap_weight: float = 0.5
    rank_weight: float = 0.1
    #: a second sentence is added when it scores at least this share of the best one.
    second_ratio: float = 0.95
    max_sentences: int = 2
    #: sentences shorter than this many words are joined with their neighbour.
    min_words: int = 5


def _stem(word: str) -> str:
    return re.sub(r"(ies|es|s|ing|ed)$", "", word) if len(word) > 4 else word


class ExtractiveAnswerer:
    """Picks answer sentences from passages (see the module doc)."""

    def __init__(self, embedder: TextEmbedder, params: ExtractiveParams | None = None) -> None:
        self.embedder = embedder
        self.params = params or ExtractiveParams()

    def rank(
        self,
        question: str,
        passages: Sequence[Passage],
        *,
        cache: EmbeddingCache | None = None,
    ) -> list[tuple[float, PassageSentence]]:
        """Every candidate sentence with its score, best first."""
        cache = cache or EmbeddingCache(self.embedder)
        candidates = _candidates(passage_sentences(passages), self.params.min_words)
        if not candidates:
            return []
        q_vec = cache.vectors([question])[0]
        vectors = cache.vectors([c.text for c in candidates])
        sims = vectors @ q_vec
        q_words = {_stem(w) for w in content_words(question)}
        p = self.params
        scored = []
        for sim, cand in zip(sims, candidates, strict=True):
            words = {_stem(w) for w in content_words(cand.text)}
            overlap = len(q_words & words) / len(q_words) if q_words else 0.0
            score = (
                p.similarity_weight * float(sim)
                + p.overlap_weight * overlap
                + p.rank_weight / cand.n
            )
            scored.append((score, cand))
        scored.sort(key=lambda item: item[0], reverse=True)
        return scored

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        *,
        cache: EmbeddingCache | None = None,
    ) -> str:
        """The answer text with ``[n]`` markers; "" when the passages have no sentences."""
        ranked = self.rank(question, passages, cache=cache)
        if not ranked:
            return ""
        best_score, best = ranked[0]
        chosen = [best]
        for score, cand in ranked[1 : self.params.max_sentences]:
            if best_score > 0 and score >= self.params.second_ratio * best_score:
                chosen.append(cand)
        chosen.sort(key=lambda c: (c.n, c.start))
        return " ".join(_cited(c.text, c.n) for c in chosen)


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
