"""The grounding check: is each sentence of an answer supported by the passages it cites?

A sentence is supported when every number and name it states occurs in its passages and its
embedding is close enough (``min_similarity``, calibrated on COVID-QA dev questions; see
``benchmarks/calibrate_answers.py``) to a sentence of one of them. A sentence that cites nothing
is checked against every passage the model was given, and the passage that supports it best is
cited for it (``Citation.inferred``). Markers that point at no passage are removed and reported.
The check also picks each citation's quote: the passage sentence closest to the answer
sentences citing it, and the page that holds that sentence.

Example::

    checker = GroundingChecker(embedder)
    result = checker.check("Full-time staff get 12 days [1].", passages)
    result.grounded          # False: "12" does not occur in passage [1]
    result.sentences[0].missing   # ["12"]
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.addressing import addresses, passage_addresses
from rag.embedders.base import Embedder
from rag.questions import QuestionProfile, profile_question
from rag.text import (
    CITATION_MARKER,
    content_words,
    marker_numbers,
    names_in,
    numbers_in,
    occurs_in,
    sentence_spans,
    strip_markers,
)
from rag.types import Citation, Passage, SentenceSupport

#: a sentence that says the documents do not answer: no claim to check.
REFUSAL = re.compile(
    r"\b(do(?:es)? not|don't|doesn't|cannot|can't|could not|unable to|no)\b[^.]{0,60}?"
    r"\b(cover|contain|mention|say|provide|include|information|answer|specif|state|address)",
    re.IGNORECASE,
)


#: share of a sentence's content words found in its passage above which it counts as copied.
COPIED = 0.9


class EmbeddingCache:
    """Embeds each distinct text once: a bounded, thread-safe LRU shared by the requests of an
    assistant (the sentences of popular passages are embedded once, not on every answer)."""

    def __init__(self, embedder: Embedder, *, max_items: int = 50_000) -> None:
        self.embedder = embedder
        self.max_items = max_items
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, one row each."""
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                hit = self._vectors.get(text)
                if hit is not None:
                    self._vectors.move_to_end(text)
                    found[text] = hit
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if todo:
            computed = self.embedder.embed_batch(todo)
            with self._lock:
                for text, vector in zip(todo, computed, strict=True):
                    found[text] = self._vectors[text] = np.asarray(vector, dtype=np.float32)
                while len(self._vectors) > self.max_items:
                    self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts])


@dataclass
class PassageSentence:
    """A sentence of a passage: its number (1-based passage index) and span in the chunk."""

    n: int
    start: int
    end: int
    text: str


def passage_sentences(passages: Sequence[Passage]) -> list[PassageSentence]:
    """Every sentence (or table row) of every passage, in order."""
    out: list[PassageSentence] = []
    for n, passage in enumerate(passages, 1):
        text = passage.chunk.text
        for start, end in sentence_spans(text):
            out.append(PassageSentence(n, start, end, text[start:end]))
    return out


@dataclass
class Grounding:
    """The result of a check: the cleaned answer, per-sentence support and the citations."""

    text: str
    sentences: list[SentenceSupport]
    citations: list[Citation]
    removed: list[int] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        """True when the answer has sentences and every one is supported and addresses the
        question."""
        return bool(self.sentences) and all(s.supported and s.addresses for s in self.sentences)


@dataclass
class _Claim:
    text: str
    cited: list[int]


def clean_markers(text: str, n_passages: int) -> tuple[str, list[int]]:
    """``text`` with markers pointing at no passage removed, and the numbers removed."""
    removed: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = marker_numbers(match.group(1))
        valid = [n for n in numbers if 1 <= n <= n_passages]
        removed.extend(n for n in numbers if n not in valid)
        return f"[{', '.join(map(str, valid))}]" if valid else ""

    cleaned = CITATION_MARKER.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return cleaned, list(dict.fromkeys(removed))


def claims_of(text: str) -> list[_Claim]:
    """The sentences of an answer with the passage numbers each cites.

    A marker standing alone after a sentence ("... 28 days. [1]") belongs to that sentence.
    """
    claims: list[_Claim] = []
    leading = re.compile(r"^(?:\s*" + CITATION_MARKER.pattern + r")+")
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        lead = leading.match(sentence)
        if lead and claims:  # "... 28 days. [1] Next sentence": [1] closes the sentence before
            numbers = [
                n
                for m in CITATION_MARKER.finditer(lead.group(0))
                for n in marker_numbers(m.group(1))
            ]
            claims[-1].cited = list(dict.fromkeys([*claims[-1].cited, *numbers]))
            sentence = sentence[lead.end() :]
        cited = [n for m in CITATION_MARKER.finditer(sentence) for n in marker_numbers(m.group(1))]
        bare = strip_markers(sentence)
        if not re.search(r"\w", bare):
            if claims:
                claims[-1].cited = list(dict.fromkeys([*claims[-1].cited, *cited]))
            continue
        claims.append(_Claim(bare, list(dict.fromkeys(cited))))
    return claims


class GroundingChecker:
    """Scores each answer sentence for support by its cited passages (see the module doc)."""

    def __init__(self, embedder: Embedder, *, min_similarity: float = 0.63) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity

    def check(
        self,
        answer: str,
        passages: Sequence[Passage],
        *,
        cache: EmbeddingCache | None = None,
        question: str | None = None,
    ) -> Grounding:
        """Check ``answer`` (with ``[n]`` markers) against the numbered ``passages``; with the
        ``question``, also whether each sentence answers it (``rag.addressing``)."""
        cache = cache or EmbeddingCache(self.embedder)
        text, removed = clean_markers(answer, len(passages))
        claims = claims_of(text)
        if not claims or not passages:
            return Grounding(text, [], [], removed)
        sentences = passage_sentences(passages)
        sentence_vectors = cache.vectors([s.text for s in sentences])
        claim_vectors = cache.vectors([c.text for c in claims])
        sims = claim_vectors @ sentence_vectors.T if len(sentences) else None
        lowered = [p.chunk.text.lower() for p in passages]
        supports: list[SentenceSupport] = []
        best_quote: dict[int, tuple[tuple[bool, float], PassageSentence]] = {}
        inferred: set[int] = set()
        profile = profile_question(question) if question is not None else None
        for i, claim in enumerate(claims):
            if REFUSAL.search(claim.text):
                supports.append(
                    SentenceSupport(
                        claim.text,
                        claim.cited,
                        True,
                        0.0,
                        kind="refusal",
                        reason="says the documents do not cover it",
                    )
                )
                continue
            row = sims[i] if sims is not None else np.zeros(0)
            support, chosen = self._support(claim, row, sentences, lowered, len(passages))
            if profile is not None:
                _check_addresses(support, profile, chosen, passages)
            supports.append(support)
            if not claim.cited and support.citations:
                inferred.update(support.citations)
            for n in support.citations:
                quote = chosen.get(n)
                if quote is None:
                    continue
                # The sentence that carries the marker picks the quote (and so the page) over
                # uncited neighbours, such as a heading that happens to match a passage line.
                ranked = (n in claim.cited, quote[0])
                if n not in best_quote or ranked > best_quote[n][0]:
                    best_quote[n] = (ranked, quote[1])
        cited_explicitly = {n for c in claims for n in c.cited}
        citations = []
        for n in sorted(cited_explicitly | inferred):
            passage = passages[n - 1]
            best = best_quote.get(n)
            citations.append(
                cite(n, passage, best[1] if best else None, inferred=n not in cited_explicitly)
            )
        return Grounding(text, supports, citations, removed)

    def _support(
        self,
        claim: _Claim,
        sims: np.ndarray,
        sentences: list[PassageSentence],
        lowered: list[str],
        n_passages: int,
    ) -> tuple[SentenceSupport, dict[int, tuple[float, PassageSentence]]]:
        """Support of one claim, and the best sentence of each passage it is attributed to."""
        best: dict[int, tuple[float, PassageSentence]] = {}
        for j, sentence in enumerate(sentences):
            score = float(sims[j])
            if sentence.n not in best or score > best[sentence.n][0]:
                best[sentence.n] = (score, sentence)
        claim_numbers = numbers_in(claim.text)
        claim_names = names_in(claim.text)
        facts = [*claim_numbers, *claim_names]

        def missing_in(numbers: Sequence[int]) -> list[str]:
            text = "\n".join(lowered[n - 1] for n in numbers)
            text_numbers = set(numbers_in(text))
            return [x for x in claim_numbers if x not in text_numbers] + [
                x for x in claim_names if not occurs_in(x, text)
            ]

        if claim.cited:
            cited = [n for n in claim.cited if n in best]
            missing = missing_in(cited)
            score = max((best[n][0] for n in cited), default=0.0)
            chosen = {n: best[n] for n in cited}
        else:
            # the best passage that states every number and name of the claim, if any
            ranked = sorted(best, key=lambda n: best[n][0], reverse=True)
            complete = [n for n in ranked if not missing_in([n])]
            pick = complete[0] if complete else (ranked[0] if ranked else None)
            missing = missing_in([pick]) if pick is not None else facts
            score = best[pick][0] if pick is not None else 0.0
            # an unsupported claim gets no citation: no passage is where it came from
            found = (
                pick is not None
                and not missing
                and (
                    score >= self.min_similarity
                    or word_coverage(claim.text, [lowered[pick - 1]]) >= COPIED
                )
            )
            cited = [pick] if found and pick is not None else []
            chosen = {pick: best[pick]} if found and pick is not None else {}
        score = max(0.0, min(1.0, score))
        # a sentence that copies the passage (nearly all its words occur there) is supported
        # even where the embedding of a fragment is far from the whole sentence
        copied = (
            bool(cited) and word_coverage(claim.text, [lowered[n - 1] for n in cited]) >= COPIED
        )
        supported = not missing and (score >= self.min_similarity or copied)
        if not claim.cited and not cited:
            reason = "no passage supports this" + (
                f" ({', '.join(missing)} not found in the passages)" if missing else ""
            )
        elif missing:
            reason = f"{', '.join(missing)} not in passage {_refs(cited)}"
        elif score < self.min_similarity:
            reason = f"no sentence of passage {_refs(cited)} says this (similarity {score:.2f})"
        else:
            reason = "" if claim.cited else f"not cited; supported by passage {_refs(cited)}"
        support = SentenceSupport(claim.text, cited, supported, score, missing, "claim", reason)
        return support, chosen


def _check_addresses(
    support: SentenceSupport,
    profile: QuestionProfile,
    chosen: dict[int, tuple[float, PassageSentence]],
    passages: Sequence[Passage],
) -> None:
    """Set ``addresses``, ``off_question`` and the reason of a checked sentence."""
    cited = [passages[n - 1] for n in support.citations if 1 <= n <= len(passages)]
    context = [q.text for _, q in chosen.values()] + [
        f"{p.chunk.title} {p.chunk.section}" for p in cited
    ]
    ok, why = addresses(profile, support.text, context)
    support.off_question = [
        n
        for n, p in zip(support.citations, cited, strict=False)
        if not passage_addresses(profile, p)
    ]
    support.addresses = ok
    if not ok:
        note = f"off the question: {why}"
        if support.off_question:
            note += f"; passage {_refs(support.off_question)} does not address the question"
        support.reason = f"{support.reason}; {note}" if support.reason else note


def word_coverage(claim: str, passages_lower: Sequence[str]) -> float:
    """Share of the claim's content words that occur in the passages (0 without words)."""
    words = content_words(claim)
    if not words:
        return 0.0
    text = "\n".join(passages_lower)
    return sum(occurs_in(w, text) for w in words) / len(words)


def _refs(numbers: Sequence[int]) -> str:
    return ", ".join(f"[{n}]" for n in numbers) or "(none)"


def quoted_sources(
    question: str, passages: Sequence[Passage], cache: EmbeddingCache
) -> list[Citation]:
    """Passages as numbered sources, each quoting its sentence nearest the question (and
    citing that sentence's page)."""
    sentences = passage_sentences(passages)
    best: dict[int, tuple[float, PassageSentence]] = {}
    if sentences:
        sims = cache.vectors([s.text for s in sentences]) @ cache.vectors([question])[0]
        for sim, sentence in zip(sims, sentences, strict=True):
            if sentence.n not in best or sim > best[sentence.n][0]:
                best[sentence.n] = (float(sim), sentence)
    return [
        cite(n, p, best[n][1] if n in best else None, inferred=False)
        for n, p in enumerate(passages, 1)
    ]


def cite(n: int, passage: Passage, quote: PassageSentence | None, *, inferred: bool) -> Citation:
    chunk = passage.chunk
    page = chunk.page_at(quote.start) if quote is not None else chunk.page
    return Citation(
        n=n,
        source=chunk.source,
        page=page,
        chunk_id=chunk.id,
        score=passage.score,
        text=chunk.text,
        title=chunk.title,
        section=chunk.section,
        quote=quote.text if quote is not None else "",
        inferred=inferred,
        doc_id=chunk.doc_id,
        page_end=chunk.page_end,
        dense_rank=passage.dense_rank,
        lexical_rank=passage.lexical_rank,
    )
