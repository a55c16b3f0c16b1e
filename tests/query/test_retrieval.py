"""Retrieval: modes, filters, thresholds, MMR and neighbour merging."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from query_helpers import Doc

from ragkit.errors import ConfigError, QueryError
from ragkit.pipeline import text_hash
from ragkit.query import (
    STOP_WORDS,
    QueryEngine,
    Retriever,
    SearchSettings,
    lexical_query,
)
from ragkit.store import DocumentRecord, Manifest, Store
from ragkit.testing import FakeOllama
from ragkit.types import Chunk

KEYS = (
    "API keys are rotated every 90 days by the platform team.\n"
    "Old keys keep working for a grace period of seven days after rotation.\n"
    "Rotation emails about expiring keys go to the project owners.\n"
)


def line_cuts(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Offsets of line ranges (1-based, inclusive) of ``text``."""
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    return [(starts[a - 1], starts[b]) for a, b in spans]


@pytest.fixture
def corpus(make_index: Callable[[Sequence[Doc]], Path]) -> Path:
    return make_index(
        [
            Doc(
                "docs/keys.md",
                KEYS,
                cuts=line_cuts(KEYS, [(1, 2), (2, 3)]),
                heading=("Keys",),
                metadata={"team": "platform", "year": 2024},
            ),
            Doc(
                "docs/deploy.md",
                "Deploys are frozen on Fridays after 15:00 and in SEV1 incidents.\n",
                metadata={"team": "release", "year": 2023},
            ),
            Doc(
                "notes/backups.txt",
                "Backups are kept for 35 days in a second region.\n",
                kind="text",
                metadata={"team": "platform", "year": 2023},
            ),
            Doc(
                "policies/security.pdf",
                "Security exceptions are approved by the CISO in writing.\n",
                kind="pdf",
                page=3,
            ),
        ]
    )


def paths(hits: Sequence[object]) -> list[str]:
    return [h.chunk.document for h in hits]  # type: ignore[attr-defined]


# --- modes ----------------------------------------------------------------------


def test_modes_score_their_own_way(corpus: Path, fake_ollama: FakeOllama) -> None:
    query = "When are API keys rotated?"
    with QueryEngine.open(corpus, host=fake_ollama.url, merge_neighbours=False) as e:
        vector = e.search(query, mode="vector")
        lexical = e.search(query, mode="lexical")
        hybrid = e.search(query)
    assert paths(vector)[0] == paths(lexical)[0] == paths(hybrid)[0] == "docs/keys.md"
    assert all(h.lexical_score is None and h.score == h.vector_score for h in vector)
    assert all(h.vector_score is None and h.score == h.lexical_score for h in lexical)
    top = hybrid[0]
    assert top.vector_score is not None and top.lexical_score is not None
    assert top.score == pytest.approx(2 / 61)  # first in both rankings
    assert {h.chunk.id for h in hybrid} >= {h.chunk.id for h in lexical}


def test_lexical_mode_needs_no_embedding(corpus: Path, fake_ollama: FakeOllama) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url) as engine:
        fake_ollama.reset()
        hits = engine.search("SEV1 freeze Fridays", mode="lexical")
    assert paths(hits) == ["docs/deploy.md"]
    assert fake_ollama.requests == []


def test_hybrid_finds_what_only_words_find(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url, k=1) as engine:
        lexical = engine.search("CISO", mode="lexical")
        hybrid = engine.search("CISO", k=4)
    assert paths(lexical) == ["policies/security.pdf"]
    assert "policies/security.pdf" in paths(hybrid)


# --- filters --------------------------------------------------------------------


def test_path_glob_filter(corpus: Path, fake_ollama: FakeOllama) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url) as engine:
        hits = engine.search("keys backups deploys", paths=["notes/**"])
        either = engine.search("keys backups deploys", paths=["notes/*", "*.pdf"])
    assert paths(hits) == ["notes/backups.txt"]
    assert set(paths(either)) == {"notes/backups.txt", "policies/security.pdf"}


def test_kind_filter_takes_kinds_and_extensions(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url) as engine:
        by_ext = engine.search("days", kinds=["md"])
        by_kind = engine.search("days", kinds=["pdf"])
    assert set(paths(by_ext)) == {"docs/keys.md", "docs/deploy.md"}
    assert paths(by_kind) == ["policies/security.pdf"]
    assert by_kind[0].chunk.page == 3


def test_metadata_filter(corpus: Path, fake_ollama: FakeOllama) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url) as engine:
        platform = engine.search("days", where={"team": "platform"})
        recent = engine.search("days", where={"team": "platform", "year": 2024})
        older = engine.search("days", where={"year": {"$lt": 2024}})
    assert set(paths(platform)) == {"docs/keys.md", "notes/backups.txt"}
    assert set(paths(recent)) == {"docs/keys.md"}
    assert set(paths(older)) == {"docs/deploy.md", "notes/backups.txt"}


def test_filter_that_matches_nothing_returns_nothing(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url) as engine:
        assert engine.search("keys", where={"team": "nobody"}) == []


# --- threshold ------------------------------------------------------------------


def test_threshold_on_cosine(corpus: Path, fake_ollama: FakeOllama) -> None:
    query = "When are API keys rotated?"
    with QueryEngine.open(corpus, host=fake_ollama.url, merge_neighbours=False) as e:
        everything = e.search(query, mode="vector")
        cut = everything[1].vector_score
        assert cut is not None
        kept = e.search(query, mode="vector", threshold=cut)
        hybrid = e.search(query, threshold=cut)
        none = e.search(query, threshold=1.01)
    assert kept == everything[:2]
    assert all(h.vector_score is not None and h.vector_score >= cut for h in hybrid)
    assert {h.chunk.id for h in hybrid} == {h.chunk.id for h in kept}
    assert none == []


def test_hybrid_threshold_scores_hits_only_words_found() -> None:
    manifest = Manifest(embed_model="test-embed", dimension=2)
    with Store.memory(manifest) as store:
        texts = [f"filler passage number {i}" for i in range(9)] + ["the CISO signs"]
        angles = np.linspace(0.0, 1.5, len(texts))  # the CISO passage is last
        vectors = {
            text_hash(t): [np.cos(a), np.sin(a)]
            for t, a in zip(texts, angles, strict=True)
        }
        store.put_vectors(vectors)
        for i, text in enumerate(texts):
            chunk = Chunk(f"c{i}", f"doc{i}.md", text, 0, len(text), 1, 1)
            store.replace_document(
                DocumentRecord(chunk.document, "h"), [chunk], [text_hash(text)]
            )
        retriever = Retriever(store)
        plain = retriever.search("CISO", [1.0, 0.0], SearchSettings(k=2))
        loose = retriever.search("CISO", [1.0, 0.0], SearchSettings(k=2, threshold=0))
        strict = retriever.search(
            "CISO", [1.0, 0.0], SearchSettings(k=2, threshold=0.5)
        )
    assert paths(plain) == ["doc0.md", "doc9.md"]
    assert plain[1].vector_score is None  # found by words alone
    assert paths(loose) == ["doc0.md", "doc9.md"]
    assert loose[1].vector_score == pytest.approx(np.cos(1.5), abs=1e-6)
    # Its cosine (0.07) is below the threshold; the next best by vector moves up.
    assert paths(strict) == ["doc0.md", "doc1.md"]


def test_threshold_on_bm25_in_lexical_mode(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url, merge_neighbours=False) as e:
        hits = e.search("keys rotation days", mode="lexical")
        best = hits[0].lexical_score
        assert best is not None
        assert e.search("keys rotation days", mode="lexical", threshold=best) == [
            hits[0]
        ]


# --- neighbours -----------------------------------------------------------------


def test_neighbouring_chunks_merge_into_one_passage(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    query = "keys rotation grace period owners"
    with QueryEngine.open(corpus, host=fake_ollama.url) as engine:
        apart = engine.search(query, mode="lexical", k=2)
        merged = engine.search(query, mode="lexical", k=2)
    with QueryEngine.open(corpus, host=fake_ollama.url, merge_neighbours=False) as e:
        apart = e.search(query, mode="lexical", k=2)
    assert paths(apart) == ["docs/keys.md", "docs/keys.md"]
    [passage] = merged
    assert passage.chunk.text == KEYS
    assert passage.chunk.id == "docs/keys.md#0+docs/keys.md#1"
    assert (passage.chunk.line_start, passage.chunk.line_end) == (1, 3)
    assert passage.score == max(h.score for h in apart)


def test_citation_in_a_merged_passage_has_the_quote_lines(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url, mode="lexical", k=2) as e:
        answer = e.ask("Who gets the rotation emails about expiring keys?")
    [citation] = answer.verified_citations
    assert citation.chunk is not None and "+" in citation.chunk.id
    assert (citation.line_start, citation.line_end) == (3, 3)
    assert citation.quote.startswith("Rotation emails")


# --- MMR ------------------------------------------------------------------------

RUNBOOK = "Restart the ingest workers when the queue backs up and alerts fire.\n"


@pytest.fixture
def near_duplicates(make_index: Callable[[Sequence[Doc]], Path]) -> Path:
    return make_index(
        [
            Doc("a/runbook.md", RUNBOOK),
            Doc("b/runbook-copy.md", RUNBOOK.replace("fire", "fire.")),
            Doc("c/queues.md", "The ingest queue backs up when workers stall.\n"),
        ]
    )


def test_mmr_prefers_a_different_passage_to_a_near_copy(
    near_duplicates: Path, fake_ollama: FakeOllama
) -> None:
    query = "restart ingest workers queue alerts"
    with QueryEngine.open(near_duplicates, host=fake_ollama.url, k=2) as engine:
        plain = engine.search(query, mode="vector")
        fake_ollama.reset()
        diverse = engine.search(query, mode="vector", mmr=0.3)
        diverse_hybrid = engine.search(query, mmr=0.3)
        relevant = engine.search(query, mode="vector", mmr=1.0)
    assert set(paths(plain)) == {"a/runbook.md", "b/runbook-copy.md"}
    assert "c/queues.md" in paths(diverse)
    assert "c/queues.md" in paths(diverse_hybrid)
    assert relevant == plain
    # Candidate vectors come from the index's cache: only the queries were embedded.
    assert fake_ollama.counts("/api/embed") == 3


def test_mmr_embeds_passages_the_cache_lacks(fake_ollama: FakeOllama) -> None:
    manifest = Manifest(embed_model="test-embed", dimension=2)
    embedded: list[list[str]] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        embedded.append(list(texts))
        return np.array([[1.0, 0.0], [1.0, 0.01], [0.6, 0.8]][: len(texts)])

    with Store.memory(manifest) as store:
        chunks = [
            Chunk(f"c{i}", f"doc{i}.md", f"text {i}", 0, 6, 1, 1) for i in range(3)
        ]
        # Cached under keys the retriever does not know: it must embed them.
        store.put_vectors({"k0": [1.0, 0.0], "k1": [1.0, 0.01], "k2": [0.6, 0.8]})
        for i, chunk in enumerate(chunks):
            store.replace_document(
                DocumentRecord(chunk.document, "h"), [chunk], [f"k{i}"]
            )
        retriever = Retriever(store, embed_passages=embed)
        settings = SearchSettings(k=2, mode="vector", mmr=0.3)
        hits = retriever.search("text", [1.0, 0.0], settings)
        without = Retriever(store).search("text", [1.0, 0.0], settings)
    assert paths(hits) == ["doc0.md", "doc2.md"]
    assert embedded == [["text 0", "text 1", "text 2"]]
    # Without a way to get vectors, the ranking stays as it was.
    assert paths(without) == ["doc0.md", "doc1.md"]


# --- the retriever on its own ---------------------------------------------------


def test_retriever_needs_a_vector_outside_lexical_mode() -> None:
    manifest = Manifest(embed_model="test-embed", dimension=2)
    with Store.memory(manifest) as store:
        retriever = Retriever(store)
        with pytest.raises(ConfigError, match="needs the query's vector"):
            retriever.search("text", None, SearchSettings(mode="vector"))
        with pytest.raises(QueryError, match="index is empty"):
            retriever.search("text", None, SearchSettings(mode="lexical"))
        with pytest.raises(QueryError, match="query is empty"):
            retriever.search(" ", None, SearchSettings(mode="lexical"))


def test_identical_texts_from_two_files_count_once() -> None:
    manifest = Manifest(embed_model="test-embed", dimension=2)
    with Store.memory(manifest) as store:
        store.put_vectors({"same": [1.0, 0.0], "other": [0.0, 1.0]})
        for name, key, text in (
            ("a.md", "same", "shared text"),
            ("b.md", "same", "shared  text"),
            ("c.md", "other", "other text"),
        ):
            chunk = Chunk(name, name, text, 0, len(text), 1, 1)
            store.replace_document(DocumentRecord(name, "h"), [chunk], [key])
        hits = Retriever(store).search("text", [1.0, 0.0], SearchSettings(k=2))
    assert len(hits) == 2
    assert paths(hits)[0] in ("a.md", "b.md") and paths(hits)[1] == "c.md"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"k": 0}, "k must"),
        ({"k": True}, "k must"),
        ({"mode": "semantic"}, "unknown search mode"),
        ({"threshold": float("nan")}, "threshold"),
        ({"mmr": -0.1}, "MMR"),
        ({"paths": ("",)}, "paths"),
    ],
)
def test_search_settings_are_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SearchSettings(**changes)  # type: ignore[arg-type]


def test_lexical_queries_leave_out_stop_words() -> None:
    assert lexical_query("How often are the API keys rotated?") == (
        "often API keys rotated"
    )
    # Nothing but stop words: searched as typed rather than not at all.
    assert lexical_query("what is it") == "what is it"
    assert "the" in STOP_WORDS and "keys" not in STOP_WORDS


def test_stop_words_do_not_decide_the_lexical_ranking(
    corpus: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(corpus, host=fake_ollama.url, merge_neighbours=False) as e:
        wordy = e.search(
            "What are the days of the grace period for the keys?", mode="lexical"
        )
        plain = e.search("days grace period keys", mode="lexical")
    assert wordy == plain


def _many_copies_store(store: Store) -> None:
    """40 files holding one text (the best match), then 30 distinct ones."""
    texts = ["rotation of keys every ninety days"] * 40 + [
        f"rotation note {i} about keys and their schedule" for i in range(30)
    ]
    angles = np.linspace(0.0, 1.4, len(texts))
    store.put_vectors(
        {
            f"v{i}": [np.cos(a), np.sin(a)]
            for i, a in enumerate(angles)
            if i == 0 or i >= 40
        }
    )
    for i, text in enumerate(texts):
        key = "v0" if i < 40 else f"v{i}"
        chunk = Chunk(f"c{i}", f"doc{i:02d}.md", text, 0, len(text), 1, 1)
        store.replace_document(DocumentRecord(chunk.document, "h"), [chunk], [key])


@pytest.mark.parametrize("mode", ["hybrid", "vector", "lexical"])
def test_copies_filling_the_first_candidates_still_leave_k_distinct_hits(
    mode: str,
) -> None:
    # Chunks are read from SQLite a page at a time until k distinct hits are
    # found; the copies fill the first pages, so later pages must be read.
    manifest = Manifest(embed_model="test-embed", dimension=2)
    with Store.memory(manifest) as store:
        _many_copies_store(store)
        retriever = Retriever(store)
        settings = SearchSettings(k=8, mode=mode, merge_neighbours=False)  # type: ignore[arg-type]
        paged = retriever.search("rotation keys", [1.0, 0.0], settings)
        # A threshold nothing fails makes the retriever read every candidate.
        floor = -1.0 if mode != "lexical" else -1e9
        whole = retriever.search(
            "rotation keys", [1.0, 0.0], replace(settings, threshold=floor)
        )
    assert len(paged) == 8
    assert len({" ".join(h.chunk.text.split()) for h in paged}) == 8
    assert [h.chunk.id for h in paged] == [h.chunk.id for h in whole]
    assert [h.score for h in paged] == pytest.approx([h.score for h in whole])


def test_search_works_in_a_process_forked_after_searching(tmp_path: Path) -> None:
    # Vector searches run on a thread pool; a forked child inherits none of
    # its threads and must start its own rather than wait for them forever.
    manifest = Manifest(embed_model="test-embed", dimension=2)
    with Store.create(tmp_path / "idx", manifest) as store:
        _many_copies_store(store)
    with Store.open(tmp_path / "idx") as store:
        before = Retriever(store).search("keys", [1.0, 0.0], SearchSettings(k=3))
    assert len(before) == 3
    child = multiprocessing.get_context("fork").Process(
        target=_search_and_exit, args=(tmp_path / "idx",)
    )
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the forked child hung in its search")
    assert child.exitcode == 0


def _search_and_exit(path: Path) -> None:
    with Store.open(path) as store:
        hits = Retriever(store).search("keys", [1.0, 0.0], SearchSettings(k=3))
    raise SystemExit(0 if len(hits) == 3 else 1)
