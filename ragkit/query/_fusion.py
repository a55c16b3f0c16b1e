"""Retrieval scoring: reciprocal rank fusion, maximal marginal relevance, thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from ragkit.errors import ConfigError
from ragkit.types import Hit

__all__ = [
    "RRF_K",
    "apply_threshold",
    "fuse_hits",
    "fuse_scores",
    "mmr",
    "reciprocal_rank_fusion",
]

RRF_K = 60
"""The rank constant of reciprocal rank fusion.

60 is the value of the original paper (Cormack, Clarke and Büttcher, SIGIR
2009), where it worked across collections without tuning: large enough that
the first few ranks of one list do not drown the others, small enough that
the top of each list still counts most.
"""

ScoreField = Literal["score", "vector_score", "lexical_score"]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]],
    *,
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[int, float]]:
    """Fuse rankings by summing ``weight / (k + rank)`` over the lists an id is in.

    Ranks are 1-based; an id repeated within one list counts at its best rank.
    Ties are broken by the best rank the id reached in any list, then by the
    id, so the order never depends on dictionary order.

    Args:
        rankings: Lists of ids, best first (for example vector and lexical hits).
        k: The rank constant (see :data:`RRF_K`).
        weights: One non-negative weight per ranking; all 1 by default.

    Returns:
        ``(id, fused score)`` pairs, best first.

    Raises:
        ConfigError: ``k`` is negative, or the weights do not match the
            rankings or are negative.

    >>> reciprocal_rank_fusion([[7, 3], [3]], k=0)
    [(3, 1.5), (7, 1.0)]
    """
    if k < 0:
        raise ConfigError(f"the rank fusion constant k must be 0 or more, not {k}")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ConfigError(
            f"rank fusion got {len(weights)} weights for {len(rankings)} rankings"
        )
    if any(w < 0 for w in weights):
        raise ConfigError(f"rank fusion weights must not be negative: {list(weights)}")
    scores: dict[int, float] = {}
    best_rank: dict[int, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[int] = set()
        for rank, item in enumerate(ranking, 1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best_rank[item] = min(rank, best_rank.get(item, rank))
    order = sorted(scores, key=lambda item: (-scores[item], best_rank[item], item))
    return [(item, scores[item]) for item in order]


def fuse_hits(
    vector: Sequence[Hit],
    lexical: Sequence[Hit],
    *,
    k: int = RRF_K,
    weights: tuple[float, float] = (1.0, 1.0),
) -> list[Hit]:
    """Fuse vector and lexical results into one ranking (hybrid search).

    Args:
        vector: Vector-search hits, best first.
        lexical: Lexical-search hits, best first.
        k: The rank constant (see :data:`RRF_K`).
        weights: Weights of the vector and the lexical ranking.

    Returns:
        One hit per chunk, best first, whose ``score`` is the fused score and
        whose ``vector_score`` and ``lexical_score`` keep the original scores
        from the list each came from.

    Raises:
        ConfigError: As for :func:`reciprocal_rank_fusion`.
    """
    chunks: dict[str, int] = {}
    by_index: list[Hit] = []

    def index_of(hit: Hit) -> int:
        if hit.chunk.id not in chunks:
            chunks[hit.chunk.id] = len(by_index)
            by_index.append(hit)
        return chunks[hit.chunk.id]

    vector_ranking = [(index_of(h), _first(h.vector_score, h.score)) for h in vector]
    lexical_ranking = [(index_of(h), _first(h.lexical_score, h.score)) for h in lexical]
    return [
        Hit(
            chunk=by_index[i].chunk,
            score=score,
            vector_score=vector_score,
            lexical_score=lexical_score,
        )
        for i, score, vector_score, lexical_score in fuse_scores(
            vector_ranking, lexical_ranking, k=k, weights=weights
        )
    ]


def fuse_scores(
    vector: Sequence[tuple[int, float]],
    lexical: Sequence[tuple[int, float]],
    *,
    k: int = RRF_K,
    weights: tuple[float, float] = (1.0, 1.0),
) -> list[tuple[int, float, float | None, float | None]]:
    """Fuse two ``(id, score)`` rankings, keeping each side's own score.

    Args:
        vector: Vector-search results, best first.
        lexical: Lexical-search results, best first.
        k: The rank constant (see :data:`RRF_K`).
        weights: Weights of the vector and the lexical ranking.

    Returns:
        ``(id, fused score, vector score, lexical score)``, best first; a side
        that did not find the id gives None; a repeated id keeps its first score.

    >>> fuse_scores([(7, 0.9)], [(7, 3.0), (2, 1.0)], k=0)
    [(7, 2.0, 0.9, 3.0), (2, 0.5, None, 1.0)]
    """
    vector_scores = _first_scores(vector)
    lexical_scores = _first_scores(lexical)
    fused = reciprocal_rank_fusion(
        [[i for i, _ in vector], [i for i, _ in lexical]], k=k, weights=weights
    )
    return [
        (i, score, vector_scores.get(i), lexical_scores.get(i)) for i, score in fused
    ]


def _first_scores(ranking: Sequence[tuple[int, float]]) -> dict[int, float]:
    scores: dict[int, float] = {}
    for i, score in ranking:
        scores.setdefault(i, score)
    return scores


def mmr(
    query: npt.ArrayLike,
    candidates: npt.ArrayLike,
    *,
    k: int,
    lambda_: float = 0.5,
    relevance: npt.ArrayLike | None = None,
) -> list[int]:
    """Pick ``k`` relevant candidates that are not alike (maximal marginal relevance).

    Each step takes the candidate with the highest
    ``lambda_ * relevance - (1 - lambda_) * max similarity to those taken``,
    where similarity is the cosine of the (normalised) vectors. Ties go to the
    lower index, so the result is deterministic.

    Args:
        query: The query vector, shape ``(d,)``.
        candidates: Candidate vectors, shape ``(n, d)``.
        k: How many to pick; fewer when there are fewer candidates.
        lambda_: 1 ranks by relevance alone, 0 by diversity alone.
        relevance: Relevance of each candidate, shape ``(n,)``, instead of its
            cosine with the query (for example fused hybrid scores).

    Returns:
        Indices into ``candidates``, in the order they were picked.

    Raises:
        ConfigError: ``lambda_`` is outside 0..1.
        ValueError: The shapes do not agree.
    """
    if not 0.0 <= lambda_ <= 1.0:
        raise ConfigError(f"the MMR lambda must be between 0 and 1, not {lambda_}")
    matrix = np.asarray(candidates, dtype=np.float64)
    if k <= 0 or matrix.size == 0:
        return []
    if matrix.ndim != 2:
        raise ValueError(
            f"candidates must be a (n, d) matrix, not shape {matrix.shape}"
        )
    vectors = _unit_rows(matrix)
    n = vectors.shape[0]
    if relevance is None:
        q = np.asarray(query, dtype=np.float64).reshape(-1)
        if q.shape[0] != vectors.shape[1]:
            raise ValueError(
                f"query has dimension {q.shape[0]}, candidates {vectors.shape[1]}"
            )
        rel = vectors @ _unit_rows(q[None, :])[0]
    else:
        rel = np.asarray(relevance, dtype=np.float64).reshape(-1)
        if rel.shape[0] != n:
            raise ValueError(f"{rel.shape[0]} relevance scores for {n} candidates")
    picked: list[int] = []
    closest = np.full(n, -np.inf)
    free = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        # Before anything is picked there is nothing to be alike to.
        penalty = np.where(np.isfinite(closest), closest, 0.0)
        gain = np.where(free, lambda_ * rel - (1.0 - lambda_) * penalty, -np.inf)
        best = int(np.argmax(gain))
        picked.append(best)
        free[best] = False
        closest = np.maximum(closest, vectors @ vectors[best])
    return picked


def apply_threshold(
    hits: Sequence[Hit], threshold: float | None, *, field: ScoreField = "score"
) -> list[Hit]:
    """Keep the hits whose score reaches a threshold.

    Args:
        hits: Hits in any order; the order is kept.
        threshold: The lowest score kept; None keeps every hit.
        field: Which score to compare. With ``vector_score`` (cosine, the
            scale a threshold means most on) or ``lexical_score``, a hit that
            was not scored that way is dropped.

    Returns:
        The hits at or above the threshold.
    """
    if threshold is None:
        return list(hits)
    kept = []
    for hit in hits:
        value = getattr(hit, field)
        if value is not None and value >= threshold:
            kept.append(hit)
    return kept


def _first(preferred: float | None, fallback: float) -> float:
    return fallback if preferred is None else preferred


def _unit_rows(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # A zero vector has no direction: it stays zero, similar to nothing.
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
