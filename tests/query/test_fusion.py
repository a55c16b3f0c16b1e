"""Reciprocal rank fusion, hybrid hit fusion, MMR and thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from ragkit.errors import ConfigError
from ragkit.query._fusion import (
    RRF_K,
    apply_threshold,
    fuse_hits,
    mmr,
    reciprocal_rank_fusion,
)
from ragkit.types import Chunk, Hit


def make_hit(name: str, score: float, **scores: float) -> Hit:
    chunk = Chunk(name, "doc.md", name, 0, len(name), 1, 1)
    return Hit(chunk=chunk, score=score, **scores)


# --- reciprocal rank fusion ---------------------------------------------------


def test_rrf_matches_a_hand_computed_example() -> None:
    # vector: a, b, c    lexical: c, a, d    with k = 60
    fused = dict(reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]]))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert fused[4] == pytest.approx(1 / 63)
    order = [item for item, _ in reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]])]
    assert order == [1, 3, 2, 4]


def test_rrf_default_constant_is_sixty() -> None:
    assert RRF_K == 60
    assert reciprocal_rank_fusion([[5]]) == [(5, pytest.approx(1 / 61))]


def test_rrf_weights_scale_each_list() -> None:
    fused = dict(reciprocal_rank_fusion([[1], [2]], k=0, weights=[2.0, 0.5]))
    assert fused == {1: 2.0, 2: 0.5}
    order = reciprocal_rank_fusion([[1, 2], [2, 1]], k=0, weights=[1.0, 3.0])
    assert [item for item, _ in order] == [2, 1]


def test_rrf_ties_break_by_best_rank_then_id() -> None:
    # 7 and 9 both score 1/1 + 1/3 and both reach rank 1 somewhere: by id.
    fused = reciprocal_rank_fusion([[9, 5, 7], [7, 5, 9]], k=0)
    assert [item for item, _ in fused] == [7, 9, 5]
    # A tie in score where one id reached a better rank.
    fused = reciprocal_rank_fusion([[4], [8, 6]], k=0, weights=[0.5, 1.0])
    assert fused == [(8, 1.0), (4, 0.5), (6, 0.5)]


def test_rrf_is_deterministic_under_input_order() -> None:
    a = reciprocal_rank_fusion([[3, 1, 2], [2, 3, 1]], k=0)
    b = reciprocal_rank_fusion([[2, 3, 1], [3, 1, 2]], k=0)
    assert [item for item, _ in a] == [item for item, _ in b] == [3, 2, 1]


def test_rrf_counts_a_repeated_id_once_at_its_best_rank() -> None:
    assert reciprocal_rank_fusion([[1, 1, 2]], k=0) == [(1, 1.0), (2, 1 / 3)]


def test_rrf_of_nothing_is_empty() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": -1}, "k must be 0 or more"),
        ({"weights": [1.0]}, "1 weights for 2 rankings"),
        ({"weights": [1.0, -0.5]}, "must not be negative"),
    ],
)
def test_rrf_rejects_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        reciprocal_rank_fusion([[1], [2]], **kwargs)


# --- hybrid hits --------------------------------------------------------------


def test_fuse_hits_merges_by_chunk_and_keeps_both_scores() -> None:
    vector = [make_hit("a", 0.9), make_hit("b", 0.8)]
    lexical = [make_hit("b", 12.0), make_hit("c", 7.0)]
    fused = fuse_hits(vector, lexical)
    assert [h.chunk.id for h in fused] == ["b", "a", "c"]
    b, a, c = fused
    assert b.score == pytest.approx(1 / 62 + 1 / 61)
    assert (b.vector_score, b.lexical_score) == (0.8, 12.0)
    assert (a.vector_score, a.lexical_score) == (0.9, None)
    assert (c.vector_score, c.lexical_score) == (None, 7.0)
    assert a.chunk is vector[0].chunk


def test_fuse_hits_prefers_explicit_component_scores() -> None:
    vector = [make_hit("a", 0.5, vector_score=0.7)]
    lexical = [make_hit("a", 0.5, lexical_score=3.0)]
    (hit,) = fuse_hits(vector, lexical)
    assert (hit.vector_score, hit.lexical_score) == (0.7, 3.0)


def test_fuse_hits_weights_favour_one_side() -> None:
    vector = [make_hit("a", 0.9)]
    lexical = [make_hit("b", 5.0)]
    fused = fuse_hits(vector, lexical, weights=(1.0, 2.0))
    assert [h.chunk.id for h in fused] == ["b", "a"]


def test_fuse_hits_with_one_side_empty_keeps_the_other_order() -> None:
    lexical = [make_hit("x", 3.0), make_hit("y", 2.0)]
    assert [h.chunk.id for h in fuse_hits([], lexical)] == ["x", "y"]


# --- MMR ----------------------------------------------------------------------


def test_mmr_picks_diverse_items_over_near_duplicates() -> None:
    query = np.array([1.0, 0.0, 0.0])
    candidates = np.array(
        [
            [0.9, 0.1, 0.0],  # relevant
            [0.9, 0.11, 0.0],  # a near duplicate of 0
            [0.7, 0.0, 0.7],  # less relevant, different
        ]
    )
    assert mmr(query, candidates, k=2, lambda_=0.5) == [0, 2]
    assert mmr(query, candidates, k=2, lambda_=1.0) == [0, 1]


def test_mmr_lambda_one_is_plain_cosine_ranking() -> None:
    rng = np.random.default_rng(3)
    query = rng.normal(size=16)
    candidates = rng.normal(size=(40, 16))
    cos = (
        candidates @ query / np.linalg.norm(candidates, axis=1) / np.linalg.norm(query)
    )
    expected = [int(i) for i in np.argsort(-cos, kind="stable")[:10]]
    assert mmr(query, candidates, k=10, lambda_=1.0) == expected


def test_mmr_ignores_vector_length() -> None:
    query = np.array([2.0, 0.0])
    candidates = np.array([[10.0, 10.0], [0.5, 0.01]])
    assert mmr(query, candidates, k=1) == [1]


def test_mmr_uses_given_relevance() -> None:
    candidates = np.eye(3)
    picked = mmr(np.zeros(3), candidates, k=3, lambda_=0.9, relevance=[0.1, 0.3, 0.2])
    assert picked == [1, 2, 0]


def test_mmr_returns_each_candidate_once_and_at_most_n() -> None:
    candidates = np.ones((4, 2))
    picked = mmr(np.ones(2), candidates, k=10)
    assert sorted(picked) == [0, 1, 2, 3]
    assert picked == [0, 1, 2, 3]


def test_mmr_edge_cases() -> None:
    assert mmr(np.ones(2), np.zeros((0, 2)), k=3) == []
    assert mmr(np.ones(2), np.ones((2, 2)), k=0) == []
    # A zero vector is similar to nothing and has no relevance.
    assert mmr(np.array([1.0, 0.0]), np.array([[0.0, 0.0], [1.0, 0.0]]), k=2) == [1, 0]


@pytest.mark.parametrize("lam", [-0.1, 1.5])
def test_mmr_rejects_lambda_outside_zero_one(lam: float) -> None:
    with pytest.raises(ConfigError, match="lambda must be between 0 and 1"):
        mmr(np.ones(2), np.ones((2, 2)), k=1, lambda_=lam)


def test_mmr_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="dimension 3, candidates 2"):
        mmr(np.ones(3), np.ones((2, 2)), k=1)
    with pytest.raises(ValueError, match="3 relevance scores for 2 candidates"):
        mmr(np.ones(2), np.ones((2, 2)), k=1, relevance=[1, 2, 3])
    with pytest.raises(ValueError, match=r"\(n, d\) matrix"):
        mmr(np.ones(2), np.ones(2), k=1)


# --- thresholds ---------------------------------------------------------------


def test_threshold_keeps_hits_at_or_above_in_order() -> None:
    hits = [make_hit("a", 0.9), make_hit("b", 0.2), make_hit("c", 0.5)]
    assert [h.chunk.id for h in apply_threshold(hits, 0.5)] == ["a", "c"]
    assert apply_threshold(hits, None) == hits
    assert apply_threshold(hits, 2.0) == []


def test_threshold_on_a_component_score_drops_hits_without_it() -> None:
    hits = [
        make_hit("a", 0.03, vector_score=0.8),
        make_hit("b", 0.02, lexical_score=9.0),
        make_hit("c", 0.01, vector_score=0.2, lexical_score=1.0),
    ]
    kept = apply_threshold(hits, 0.5, field="vector_score")
    assert [h.chunk.id for h in kept] == ["a"]
    kept = apply_threshold(hits, 1.0, field="lexical_score")
    assert [h.chunk.id for h in kept] == ["b", "c"]
