"""Pruned BM25 ranking equals scoring every chunk; the term stats behind it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from store_helpers import add_document

from ragkit.store import Manifest, Store
from ragkit.store import _bm25 as bm25
from ragkit.store._fts import any_of, query_terms

# Few words, Zipf-distributed, in chunks of very different lengths: queries
# match many chunks, words repeat within chunks and share stems ("index",
# "indexes", "indexing"), so bounds, ties and pruning all get exercised.
VOCABULARY = (
    "index indexes indexing vector vectors query search chunk model embed "
    "store token rank score prune bound faiss sqlite python ollama answer "
    "cite source page line heading table graph node edge batch"
).split()


def corpus(
    seed: int, documents: int = 40
) -> list[tuple[str, list[str], tuple[str, ...]]]:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(VOCABULARY) + 1) ** 1.1
    weights /= weights.sum()
    out = []
    for d in range(documents):
        texts = []
        for _ in range(int(rng.integers(3, 12))):
            length = int(rng.choice([1, 2, 3, 8, 20, 60]))
            texts.append(" ".join(rng.choice(VOCABULARY, size=length, p=weights)))
        heading: tuple[str, ...] = (str(rng.choice(VOCABULARY)),) if d % 3 == 0 else ()
        out.append((f"doc{d:03d}.md", texts, heading))
    return out


def fill(store: Store, seed: int, documents: int = 40) -> None:
    for path, texts, heading in corpus(seed, documents):
        add_document(store, path, texts, heading_path=heading)


def queries(seed: int, count: int) -> Iterator[str]:
    rng = np.random.default_rng(seed)
    words = [*VOCABULARY, "zyzzyva", "Indexed", "VECTOR"]
    for _ in range(count):
        yield " ".join(rng.choice(words, size=int(rng.integers(2, 9))))


def every_chunk_ranked(
    path: Path, query: str, k: int, ids: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """The reference: FTS5 scores every matching chunk (the store's old query)."""
    sql = (
        "SELECT rowid, bm25(chunks_fts, 1.0, 0.5) AS s FROM chunks_fts "
        "WHERE chunks_fts MATCH ?"
    )
    params: list[object] = [any_of(query_terms(query))]
    if ids is not None:
        sql += f" AND rowid IN ({', '.join(str(int(i)) for i in ids)})"
    sql += " ORDER BY s, rowid LIMIT ?"
    params.append(k)
    with sqlite3.connect(path / "meta.sqlite") as db:
        return [(r, -s) for r, s in db.execute(sql, params)]


@pytest.fixture
def prune_always(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Prune even the small test corpus; return the FTS5 queries the search ran."""
    monkeypatch.setattr(bm25, "PRUNE_FROM_ROWS", 0)
    ran: list[str] = []
    ranked = bm25._ranked

    def spy(
        db: sqlite3.Connection, match: str, k: int, allowed: str | None
    ) -> list[tuple[int, float]]:
        ran.append(match)
        return ranked(db, match, k, allowed)

    monkeypatch.setattr(bm25, "_ranked", spy)
    return ran


@pytest.mark.parametrize("filter_in_sql", [True, False])
def test_pruned_ranking_is_the_full_ranking(
    store: Store,
    index_dir: Path,
    prune_always: list[str],
    monkeypatch: pytest.MonkeyPatch,
    filter_in_sql: bool,
) -> None:
    # A filter is applied in SQL, or to a deeper unfiltered ranking when it
    # allows many chunks: both must give the filtered ranking.
    monkeypatch.setattr(bm25, "SQL_FILTER_MAX_IDS", 10**9 if filter_in_sql else 0)
    fill(store, seed=1)
    rng = np.random.default_rng(5)
    everything = np.asarray(sorted(c for c, _ in store.search_lexical("index", 10_000)))
    for number, query in enumerate(queries(seed=2, count=150)):
        k = [1, 3, 10, 40][number % 4]
        ids = None
        if number % 5 == 0:
            ids = np.sort(
                rng.choice(everything, size=len(everything) // 2, replace=False)
            )
        # Exact equality: same chunks, same order, bit-identical scores.
        assert store.search_lexical(query, k, ids=ids) == every_chunk_ranked(
            index_dir, query, k, ids
        ), query
    singles = [m for m in prune_always if m.startswith('"') and " NOT (" in m]
    pruned_runs = [m for m in prune_always if " AND (" in m]
    # Both halves of the method ran: the two-or-more ranking for most
    # queries, and one-word chunks read for some words but skipped for others.
    assert len(pruned_runs) > 80
    assert 0 < len(singles) < sum(len(query_terms(q)) for q in queries(2, 150))


def test_pruned_ranking_survives_replacements_and_deletes(
    store: Store, index_dir: Path, prune_always: list[str]
) -> None:
    fill(store, seed=3)
    # Replace half the documents with other text, delete a quarter: counts
    # must follow exactly, bounds may only be loose.
    for path, texts, heading in corpus(seed=4)[:20]:
        add_document(
            store, path, texts[::-1] + ["index index index"], heading_path=heading
        )
    store.delete_documents([f"doc{d:03d}.md" for d in range(20, 30)])
    for query in queries(seed=6, count=60):
        assert store.search_lexical(query, 10) == every_chunk_ranked(
            index_dir, query, 10
        ), query
    assert any(" AND (" in m for m in prune_always)


def term_stats(path: Path) -> dict[str, tuple[int, int, int]]:
    with sqlite3.connect(path / "meta.sqlite") as db:
        return {
            t: (c, f, n)
            for t, c, f, n in db.execute(
                "SELECT term, chunks, max_freq, min_length FROM term_stats"
            )
        }


def true_term_stats(path: Path) -> dict[str, tuple[int, int, int]]:
    """Counts and extremes recomputed from FTS5's own vocabulary of the index."""
    db = sqlite3.connect(path / "meta.sqlite")
    db.execute(
        "CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, chunks_fts, instance)"
    )
    lengths = dict(db.execute("SELECT doc, count(*) FROM temp.v GROUP BY doc"))
    out: dict[str, tuple[int, int, int]] = {}
    for term, doc, freq in db.execute(
        "SELECT term, doc, count(*) FROM temp.v GROUP BY term, doc"
    ):
        chunks, most, least = out.get(term, (0, 0, 1 << 62))
        out[term] = (chunks + 1, max(most, freq), min(least, lengths[doc]))
    db.close()
    return out


def test_term_stats_count_exactly_and_bound_truly(
    store: Store, index_dir: Path
) -> None:
    fill(store, seed=7)
    assert term_stats(index_dir) == true_term_stats(index_dir)
    for path, texts, heading in corpus(seed=8)[:15]:
        add_document(store, path, texts[:2], heading_path=heading)
    store.delete_documents([f"doc{d:03d}.md" for d in range(30, 40)])
    stored, truth = term_stats(index_dir), true_term_stats(index_dir)
    assert stored.keys() == truth.keys()  # a term no chunk holds is dropped
    for term, (chunks, most, least) in truth.items():
        assert stored[term][0] == chunks, term
        assert stored[term][1] >= most and stored[term][2] <= least, term


def test_memory_store_keeps_term_stats(manifest: Manifest) -> None:
    with Store.memory(manifest) as store:
        add_document(store, "a.md", ["index index vector", "vector"])
        add_document(store, "b.md", ["index"])
        store.delete_documents(["b.md"])
        with store._db.read() as db:
            rows = db.execute("SELECT * FROM term_stats ORDER BY term").fetchall()
    # The count forgets b.md; the bounds keep its one-token chunk (still true).
    assert rows == [("index", 1, 2, 1), ("vector", 2, 1, 1)]


def downgrade_to_schema_1(path: Path) -> None:
    """Make the index look as ragkit wrote it before term_stats existed."""
    with sqlite3.connect(path / "meta.sqlite", isolation_level=None) as db:
        db.execute("DROP TABLE term_stats")
        db.execute("DELETE FROM meta WHERE key = 'term_stats'")
        db.execute("PRAGMA user_version = 1")


def test_upgrading_an_index_fills_term_stats(
    manifest: Manifest, index_dir: Path
) -> None:
    with Store.create(index_dir, manifest) as store:
        fill(store, seed=9)
    expected = term_stats(index_dir)
    with Store.open(index_dir) as store:
        hits = store.search_lexical("index vector", 20)
    downgrade_to_schema_1(index_dir)
    # A reader takes the old schema as it is and ranks every chunk.
    with Store.open(index_dir) as store:
        assert store.search_lexical("index vector", 20) == hits
        with store._db.read() as db:
            assert not bm25.term_stats_usable(db)
    with Store.open(index_dir, writable=True):
        pass
    assert term_stats(index_dir) == expected
    with Store.open(index_dir) as store, store._db.read() as db:
        assert bm25.term_stats_usable(db)


def test_chunks_rewritten_behind_the_store_turn_pruning_off(
    store: Store, index_dir: Path, prune_always: list[str]
) -> None:
    fill(store, seed=10)
    target = store.search_lexical("graph", 1)[0][0]
    # Another program rewrites one chunk: its word counts break the bounds.
    with sqlite3.connect(index_dir / "meta.sqlite") as db:
        db.execute(
            "UPDATE chunks SET text = ? WHERE id = ?", (" ".join(["edge"] * 50), target)
        )
    prune_always.clear()
    hits = store.search_lexical("edge node", 5)
    assert hits == every_chunk_ranked(index_dir, "edge node", 5)
    assert target in [r for r, _ in hits]
    assert prune_always == [any_of(["edge", "node"])]  # ranked plainly


def test_a_large_filter_ranks_deeper_until_enough_chunks_pass(
    store: Store, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store, seed=11)
    monkeypatch.setattr(bm25, "SQL_FILTER_MAX_IDS", 0)
    depths: list[int] = []
    unfiltered = bm25._unfiltered

    def spy(
        db: sqlite3.Connection,
        terms: list[str],
        k: int,
        bounds: list[float] | None,
    ) -> list[tuple[int, float]]:
        depths.append(k)
        return unfiltered(db, terms, k, bounds)

    monkeypatch.setattr(bm25, "_unfiltered", spy)
    ranked = every_chunk_ranked(index_dir, "index vector", 10_000)
    with sqlite3.connect(index_dir / "meta.sqlite") as db:
        every_id = {r for (r,) in db.execute("SELECT id FROM chunks")}
    # Most chunks may pass, but none of the best 80% of the ranking: the
    # first depth tried holds none of them, so the search has to go deeper.
    barred = {r for r, _ in ranked[: len(ranked) * 4 // 5]}
    allowed = np.asarray(sorted(every_id - barred), dtype=np.int64)
    hits = store.search_lexical("index vector", 3, ids=allowed)
    assert hits == every_chunk_ranked(index_dir, "index vector", 3, allowed)
    assert len(hits) == 3 and len(depths) > 1 and depths == sorted(depths)


@pytest.mark.parametrize(
    ("blob", "values"),
    [
        (b"", []),
        (b"\x00\x7f", [0, 127]),
        (b"\x81\x00", [128]),
        (b"\xff\x7f", [16383]),
        (b"\x81\x80\x00", [16384]),
        (b"\xff" * 8 + b"\xff", [2**64 - 1]),
        (b"\x81", []),  # cut short
    ],
)
def test_varints(blob: bytes, values: list[int]) -> None:
    assert bm25._varints(blob) == values


def test_totals_are_fts5s_row_and_token_counts(store: Store) -> None:
    add_document(store, "a.md", ["one two three", "four five"], heading_path=("Six",))
    add_document(store, "b.md", ["seven"])
    with store._db.read() as db:
        totals = bm25._totals(db)
    # 3 chunks; 3 + 2 + 1 text tokens and one heading token ("six") on two chunks.
    assert totals == bm25._Totals(rows=3, tokens=8)
