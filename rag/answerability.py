"""Answerability: do the retrieved passages answer this question, or only talk about its topic?

One cosine cannot tell "What is the dress code?" (passages about codes of conduct and
repositories score well) from a question the documents answer. The judge reads the scored
candidate sentences of the extractive answerer (``rag.extractive.candidates``) and combines,
for the best one:

- its embedding similarity to the question;
- ``coverage``: the weighted share of the question's key terms (names double) found in the
  sentence, its neighbours and its passage's title and section: "dogs" in "the policy on bringing
  dogs to the office" occurs in no passage;
- ``type``: whether it holds the kind of thing the question asks for (a number for "how much",
  a date or a condition for "when", a person or role for "who");
- the support margin: how far it stands above the best sentence of any other document;
- the best question-passage cosine (``relevance``), which must also clear ``min_relevance``.

``covered`` is true when the weighted sum clears ``threshold``. The weights and the threshold
are calibrated by ``benchmarks/answerability.py`` on one half of the labelled questions and
reported on the other half.

Example::

    judge = AnswerabilityJudge()
    verdict = judge.judge(profile, found, relevance=0.52)
    verdict.covered, verdict.reason
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.questions import QuestionProfile, matched_terms
from rag.types import Passage

if TYPE_CHECKING:
    from rag.extractive import Candidate


@dataclass
class AnswerabilityParams:
    """Weights of the answerability score and the threshold ``covered`` needs.

    Calibrated by ``benchmarks/answerability.py`` (README, "Answer figures").
    """

    #: best question-passage cosine under which nothing is covered, whatever the rest says.
    min_relevance: float = 0.29
    similarity_weight: float = 1.0
    coverage_weight: float = 0.25
    #: calibrated to 0: the answer type helps choose the sentence (``rag.extractive``), not
    #: decide "covered" (a sentence with some number is found for most "how much" questions).
    type_weight: float = 0.0
    #: how far the best sentence stands above the best one of any other document.
    margin_weight: float = 0.5
    relevance_weight: float = 0.0
    threshold: float = 0.615
    #: refuse when a name the question mentions ("Insight Ultimate", "Leeds") occurs in no
    #: retrieved passage. Off: on COVID-QA it refuses questions whose names the articles spell
    #: otherwise ("interleukin-1Beta" for "IL-1β"); on company documents it catches more.
    refuse_absent_names: bool = False


@dataclass
class Features:
    """What the verdict is made of (for calibration and for the response)."""

    relevance: float
    similarity: float
    coverage: float
    type_strength: float
    margin: float

    def score(self, p: AnswerabilityParams) -> float:
        """The weighted score under ``p``."""
        return (
            p.similarity_weight * self.similarity
            + p.coverage_weight * self.coverage
            + p.type_weight * self.type_strength
            + p.margin_weight * self.margin
            + p.relevance_weight * self.relevance
        )


@dataclass
class Answerability:
    """The verdict: covered or not, why, and the features behind it."""

    covered: bool
    score: float
    kind: str
    features: Features
    #: key terms of the question found around the best sentence, and those missing.
    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the CLI and the API."""
        f = self.features
        return {
            "covered": self.covered,
            "score": round(self.score, 4),
            "kind": self.kind,
            "relevance": round(f.relevance, 4),
            "similarity": round(f.similarity, 4),
            "coverage": round(f.coverage, 4),
            "type_strength": f.type_strength,
            "margin": round(f.margin, 4),
            "matched_terms": self.matched,
            "missing_terms": self.missing,
            "reason": self.reason,
        }


@dataclass
class Evidence:
    """What one candidate sentence offers: similarity, key-term coverage, answer-type strength
    (0.5 for an untyped question) and the index of its document among the passages'."""

    similarity: float
    coverage: float
    type_strength: float
    document: int

    def score(self, p: AnswerabilityParams) -> float:
        """How well this sentence alone answers, under ``p``."""
        return (
            p.similarity_weight * self.similarity
            + p.coverage_weight * self.coverage
            + p.type_weight * self.type_strength
        )


def evidence_of(found: Sequence[Candidate], doc_ids: Sequence[str]) -> list[Evidence]:
    """The evidence of each candidate sentence."""
    index = {d: i for i, d in enumerate(dict.fromkeys(doc_ids))}
    return [
        Evidence(
            c.similarity,
            c.coverage,
            c.type_strength if c.typed else 0.5,
            index[doc_ids[c.sentence.n - 1]],
        )
        for c in found
    ]


def features_of(
    evidence: Sequence[Evidence], relevance: float, p: AnswerabilityParams
) -> tuple[Features, int | None]:
    """The features of the best-answering sentence under ``p``, and its index."""
    if not evidence:
        return Features(relevance, 0.0, 0.0, 0.0, 0.0), None
    scores = [e.score(p) for e in evidence]
    best = max(range(len(evidence)), key=scores.__getitem__)
    e = evidence[best]
    others = [s for s, o in zip(scores, evidence, strict=True) if o.document != e.document]
    margin = scores[best] - max(others) if others else 0.0
    return Features(relevance, e.similarity, e.coverage, e.type_strength, margin), best


def absent_names(profile: QuestionProfile, passages: Sequence[Passage]) -> list[str]:
    """The question's names (and figures) that occur in none of the passages."""
    named = [t for t, w in profile.terms.items() if w >= 2]
    if not named:
        return []
    text = "\n".join(f"{p.chunk.title} {p.chunk.section} {p.chunk.text}" for p in passages)
    found = set(matched_terms(profile, text))
    return [t for t in named if t not in found]


class AnswerabilityJudge:
    """Decides whether passages answer a question (see the module doc)."""

    def __init__(self, params: AnswerabilityParams | None = None) -> None:
        self.params = params or AnswerabilityParams()

    def judge(
        self,
        profile: QuestionProfile,
        found: Sequence[Candidate],
        doc_ids: Sequence[str],
        relevance: float,
        absent: Sequence[str] = (),
    ) -> Answerability:
        """The verdict for ``profile`` given the scored candidate sentences of its passages and
        the names the passages do not mention (``absent_names``)."""
        p = self.params
        features, index = features_of(evidence_of(found, doc_ids), relevance, p)
        best = found[index] if index is not None else None
        score = features.score(p)
        matched = list(best.matched) if best is not None else []
        missing = [t for t in profile.terms if t not in matched]
        if best is None or relevance < p.min_relevance:
            reason = "no passage is close to the question"
            covered = False
        elif absent and p.refuse_absent_names:
            covered = False
            reason = f"no passage mentions {', '.join(absent)}"
        elif score < p.threshold:
            covered = False
            parts = []
            if missing:
                parts.append(f"not found in the passages: {', '.join(missing)}")
            if best.typed and best.type_strength == 0:
                parts.append(f"no passage sentence gives the {profile.kind} asked for")
            reason = "; ".join(parts) or "no passage sentence answers the question closely"
        else:
            covered, reason = True, ""
        return Answerability(covered, score, profile.kind, features, matched, missing, reason)
