"""Lexical search through FTS5: ranking, stemming, filters and query sanitising."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from store_helpers import add_document

import ragkit.store._filter
import ragkit.store._fts
from ragkit.errors import ConfigError
from ragkit.store import Store
from ragkit.store._fts import MAX_TERMS, any_of, query_terms


@pytest.fixture
def text_store(any_store: Store) -> Store:
    add_document(
        any_store,
        "guide.md",
        [
            "Indexing a folder builds the index with FAISS.",
            "The embedding model turns text into vectors.",
            "Café au lait and crème brûlée are French.",
            "Use AND, OR and NOT (in capitals) in boolean queries: a-b* ^x",
        ],
        heading_path=("Guide",),
    )
    add_document(any_store, "other.md", ["Vectors vectors vectors everywhere."])
    return any_store


def texts(store: Store, hits: list[tuple[int, float]]) -> list[str]:
    return [c.text for c in store.chunks([r for r, _ in hits])]


def test_ranking_is_higher_is_better(text_store: Store) -> None:
    hits = text_store.search_lexical("vectors", 5)
    assert texts(text_store, hits)[0] == "Vectors vectors vectors everywhere."
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert len(text_store.search_lexical("vectors", 1)) == 1


def test_porter_stemming_matches_word_forms(text_store: Store) -> None:
    hits = text_store.search_lexical("indexes", 5)
    assert texts(text_store, hits) == ["Indexing a folder builds the index with FAISS."]
    assert text_store.search_lexical("embedded models", 5)


def test_diacritics_and_case_fold(text_store: Store) -> None:
    assert texts(text_store, text_store.search_lexical("CAFE creme", 5)) == [
        "Café au lait and crème brûlée are French."
    ]
    assert texts(text_store, text_store.search_lexical("brûlée", 5)) == [
        "Café au lait and crème brûlée are French."
    ]


def test_heading_path_is_searchable(text_store: Store) -> None:
    assert len(text_store.search_lexical("guide", 10)) == 4


@pytest.mark.parametrize(
    "query",
    [
        "AND OR NOT",
        '"unbalanced boolean',
        "a-b* ^x",
        "(capitals",
        "boolean) AND (",
        "text: NEAR(a b)",
        "col:boolean",
        "{text}: boolean",
        "'single' \"boolean\" `back`",
        "\x00boolean\x1b[31m",
    ],
)
def test_fts_syntax_is_searched_as_words(text_store: Store, query: str) -> None:
    hits = text_store.search_lexical(query, 5)
    assert hits, query


@pytest.mark.parametrize("query", ["", "   ", "?!.,;", "***", "-- ()", '""'])
def test_queries_without_words_return_nothing(text_store: Store, query: str) -> None:
    assert text_store.search_lexical(query, 5) == []


def test_unknown_words_return_nothing(text_store: Store) -> None:
    assert text_store.search_lexical("zyzzyva", 5) == []


def test_lexical_search_honours_ids(text_store: Store) -> None:
    all_hits = text_store.search_lexical("vectors", 5)
    assert len(all_hits) == 2
    keep = np.array([all_hits[1][0]], dtype=np.int64)
    assert [r for r, _ in text_store.search_lexical("vectors", 5, ids=keep)] == [
        all_hits[1][0]
    ]
    assert text_store.search_lexical("vectors", 5, ids=np.array([], np.int64)) == []


def test_k_must_be_positive(text_store: Store) -> None:
    with pytest.raises(ConfigError):
        text_store.search_lexical("vectors", 0)


def fts_query(text: str) -> str:
    return any_of(query_terms(text))


def test_fts_query_quotes_every_term() -> None:
    assert fts_query('say "hi" AND bye*') == '"say" OR "hi" OR "AND" OR "bye"'
    assert fts_query("Straße straße STRASSE") == '"Straße" OR "STRASSE"'
    assert fts_query("snake_case") == '"snake" OR "case"'
    assert fts_query("東京 タワー") == '"東京" OR "タワー"'
    long = " ".join(f"w{i}" for i in range(MAX_TERMS * 2))
    assert fts_query(long).count(" OR ") == MAX_TERMS - 1


def test_unicode_query(any_store: Store) -> None:
    add_document(any_store, "jp.md", ["東京 タワー は 高い"])
    assert any_store.search_lexical("タワー", 3)


@pytest.mark.parametrize("module", [ragkit.store._fts, ragkit.store._filter])
def test_doctests(module: object) -> None:
    failures, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried > 0 and failures == 0
