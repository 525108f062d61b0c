"""Fusion of ranked candidate lists: reciprocal rank fusion and a normalised score blend.

Both take ``[(id, score), ...]`` lists (best first, higher score better) and return fused
``{id: score}``. Measured on SciFact train judgements (see README, Retrieval): the blend of
min-max normalised scores beats RRF, because it keeps how far apart the candidates are.
"""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[str, float]]


def rrf(
    lists: Sequence[Ranked], k: int = 60, weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Reciprocal rank fusion: sum of ``w / (k + rank)`` over the lists an id appears in."""
    weights = weights or [1.0] * len(lists)
    fused: dict[str, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        for rank, (cid, _) in enumerate(ranked, 1):
            fused[cid] = fused.get(cid, 0.0) + w / (k + rank)
    return fused


def min_max(ranked: Ranked) -> dict[str, float]:
    """Scores rescaled to [0, 1] within the list (all 1.0 when they are equal)."""
    if not ranked:
        return {}
    scores = [s for _, s in ranked]
    lo, hi = min(scores), max(scores)
    span = hi - lo
    return {cid: (s - lo) / span if span > 0 else 1.0 for cid, s in ranked}


def blend(lists: Sequence[Ranked], weights: Sequence[float]) -> dict[str, float]:
    """Weighted sum of min-max normalised scores; an id missing from a list scores 0 there."""
    fused: dict[str, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        for cid, s in min_max(ranked).items():
            fused[cid] = fused.get(cid, 0.0) + w * s
    return fused
