"""Ranking metrics, as BEIR and TREC compute them (linear gains, log2 discounts).

Each takes a ranking (ids, best first) and the judged relevance of ids for one query; the
runner averages them over queries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first ``k`` ids (gain = judged score)."""
    dcg = sum(
        relevance.get(doc, 0) / math.log2(rank + 1)
        for rank, doc in enumerate(ranking[:k], 1)
        if relevance.get(doc, 0) > 0
    )
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, 1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Share of the relevant ids found in the first ``k``."""
    relevant = {d for d, g in relevance.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the first ``k`` (0 if none)."""
    for rank, doc in enumerate(ranking[:k], 1):
        if relevance.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def normalise_space(text: str) -> str:
    """Text with runs of whitespace collapsed to one space (for answer-span matching)."""
    return " ".join(text.split())


def contains_answer(passages: Sequence[str], answers: Sequence[str], k: int) -> bool:
    """True when one of the first ``k`` passage texts contains one of the answers verbatim.

    Whitespace is normalised on both sides; case and punctuation must match.
    """
    wanted = [normalise_space(a) for a in answers if a.strip()]
    return any(a in normalise_space(p) for p in passages[:k] for a in wanted)
