"""Writing documents, chunks and vectors, and reading them back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from store_helpers import DIM, add_document, make_chunks, text_hash, vector_for

from ragkit.errors import ConfigError, IndexMismatchError, StoreError
from ragkit.store import DocumentRecord, Store
from ragkit.types import Chunk


def test_chunks_round_trip_every_field(any_store: Store) -> None:
    chunk = Chunk(
        id="guide.md#0",
        document="guide.md",
        text="Install ragkit with pip. Café ☕",
        start=10,
        end=41,
        line_start=3,
        line_end=5,
        page=7,
        heading_path=("Guide", "Install"),
        metadata={
            "team": "infra",
            "year": 2024,
            "score": 0.5,
            "draft": False,
            "tags": ["a", "b"],
        },
    )
    other = Chunk(
        id="guide.md#1",
        document="guide.md",
        text="Second.",
        start=42,
        end=49,
        line_start=6,
        line_end=6,
    )
    hashes = [text_hash(chunk.text), text_hash(other.text)]
    any_store.put_vectors({h: vector_for(h) for h in hashes})
    record = DocumentRecord(
        path="guide.md",
        content_hash="abc",
        size=49,
        mtime_ns=1_700_000_000_000,
        kind="markdown",
        title="The guide",
        metadata={"team": "infra"},
        chunking_fingerprint="fp1",
    )
    rowids = any_store.replace_document(record, [chunk, other], hashes)
    assert len(rowids) == 2

    got = any_store.chunks(rowids)
    assert got == [chunk, other]
    assert dict(got[0].metadata) == dict(chunk.metadata)
    assert got[0].heading_path == ("Guide", "Install")
    assert got[1].page is None and dict(got[1].metadata) == {}
    assert any_store.chunks(list(reversed(rowids))) == [other, chunk]
    assert any_store.chunk_by_id("guide.md#1") == other
    assert any_store.chunk_by_id("nope") is None

    stored = any_store.document("guide.md")
    assert stored is not None
    assert stored == DocumentRecord(
        path="guide.md",
        content_hash="abc",
        size=49,
        mtime_ns=1_700_000_000_000,
        kind="markdown",
        title="The guide",
        chunk_count=2,
        chunking_fingerprint="fp1",
        indexed_at=stored.indexed_at,
    )
    assert stored.indexed_at.endswith("+00:00")
    assert dict(stored.metadata) == {"team": "infra"}
    assert any_store.document("missing.md") is None
    assert [d.path for d in any_store.documents()] == ["guide.md"]


def test_chunk_map_skips_rowids_that_are_gone(any_store: Store) -> None:
    first = add_document(any_store, "a.txt", ["one", "two"])
    assert list(any_store.chunk_map([first[1], 999_999, first[0]])) == [
        first[1],
        first[0],
    ]
    assert [c.text for c in any_store.chunks([999_999, first[0]])] == ["one"]


def test_neighbours(any_store: Store) -> None:
    rowids = add_document(any_store, "a.txt", ["c0", "c1", "c2", "c3", "c4"])
    add_document(any_store, "b.txt", ["other"])
    assert [c.text for c in any_store.neighbours(rowids[2])] == ["c1", "c2", "c3"]
    assert [c.text for c in any_store.neighbours(rowids[0], before=2, after=2)] == [
        "c0",
        "c1",
        "c2",
    ]
    assert [c.text for c in any_store.neighbours(rowids[4], before=0, after=3)] == [
        "c4"
    ]
    assert any_store.neighbours(123_456) == []


def test_replace_document_swaps_chunks_and_fts_rows(any_store: Store) -> None:
    old = add_document(any_store, "a.txt", ["apples grow", "on trees"])
    assert any_store.search_lexical("apples", 5)
    new = add_document(any_store, "a.txt", ["bananas grow", "in bunches", "too"])
    assert set(old).isdisjoint(new)
    assert any_store.search_lexical("apples", 5) == []
    assert [r for r, _ in any_store.search_lexical("bananas", 5)] == [new[0]]
    assert any_store.chunks(old) == []
    record = any_store.document("a.txt")
    assert record is not None and record.chunk_count == 3
    # The old texts' vectors stay cached until pruned.
    assert any_store.has_vectors([text_hash("apples grow")]) == {
        text_hash("apples grow")
    }
    assert any_store.prune_vectors() == 2
    assert any_store.has_vectors([text_hash("apples grow")]) == set()
    assert any_store.has_vectors([text_hash("too")]) == {text_hash("too")}


def test_delete_documents(any_store: Store) -> None:
    add_document(any_store, "a.txt", ["alpha words"])
    add_document(any_store, "b.txt", ["beta words"])
    assert any_store.delete_documents(["a.txt", "missing.txt", "a.txt"]) == 1
    assert any_store.delete_documents(["missing.txt"]) == 0
    assert [d.path for d in any_store.documents()] == ["b.txt"]
    assert [
        any_store.chunks([r])[0].document
        for r, _ in any_store.search_lexical("words", 5)
    ] == ["b.txt"]
    assert any_store.stats().vectors == 2
    assert any_store.prune_vectors() == 1
    assert any_store.stats().vectors == 1


def test_generation_counts_chunk_changes_only(any_store: Store) -> None:
    assert any_store.generation() == 0
    any_store.put_vectors({"h": vector_for("h")})
    assert any_store.generation() == 0
    add_document(any_store, "a.txt", ["x"])
    assert any_store.generation() == 1
    add_document(any_store, "a.txt", ["y"])
    assert any_store.generation() == 2
    any_store.delete_documents(["nothing"])
    assert any_store.generation() == 2
    any_store.delete_documents(["a.txt"])
    assert any_store.generation() == 3
    any_store.prune_vectors()
    stats = any_store.stats()
    assert stats.generation == 3 and stats.updated_at is not None


def test_put_vectors_keeps_the_first_vector_and_counts_new(any_store: Store) -> None:
    first = np.arange(DIM, dtype=np.float32)
    assert any_store.put_vectors([("h1", first), ("h2", first * 2)]) == 2
    assert any_store.put_vectors({"h1": first * 3, "h3": first}) == 1
    cached = any_store.cached_vectors(["h1", "h2", "h3", "missing"])
    assert set(cached) == {"h1", "h2", "h3"}
    np.testing.assert_array_equal(cached["h1"], first)
    assert cached["h1"].dtype == np.float32
    assert any_store.has_vectors(["h1", "missing"]) == {"h1"}


def test_cached_vectors_batches_large_requests(any_store: Store) -> None:
    items = {f"h{i}": np.full(DIM, i, dtype=np.float32) for i in range(1203)}
    any_store.put_vectors(items)
    cached = any_store.cached_vectors(list(items) + ["absent"])
    assert len(cached) == 1203
    assert cached["h1202"][0] == 1202
    assert len(any_store.has_vectors(items)) == 1203


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        (("h", np.zeros(DIM + 1)), IndexMismatchError, "dimension"),
        (("h", np.zeros((2, DIM))), IndexMismatchError, "dimension"),
        (("h", np.full(DIM, np.nan)), StoreError, "NaN"),
        (("", np.zeros(DIM)), StoreError, "non-empty"),
    ],
)
def test_put_vectors_rejects_bad_vectors(
    any_store: Store, item: tuple[str, np.ndarray], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        any_store.put_vectors([item])
    assert any_store.stats().vectors == 0


def test_replace_document_needs_cached_vectors(any_store: Store) -> None:
    chunks = make_chunks("a.txt", ["one", "two"])
    any_store.put_vectors({"h1": vector_for("1")})
    record = DocumentRecord(path="a.txt", content_hash="c")
    with pytest.raises(StoreError, match="1 chunk vector.*not cached.*h2"):
        any_store.replace_document(record, chunks, ["h1", "h2"])
    assert any_store.document("a.txt") is None
    assert any_store.generation() == 0


def test_failed_replace_keeps_the_old_version(any_store: Store) -> None:
    old = add_document(any_store, "a.txt", ["kept text"])
    record = DocumentRecord(path="a.txt", content_hash="c2")
    with pytest.raises(StoreError):
        any_store.replace_document(record, make_chunks("a.txt", ["new"]), ["absent"])
    assert [c.text for c in any_store.chunks(old)] == ["kept text"]
    assert [r for r, _ in any_store.search_lexical("kept", 3)] == old


def test_replace_document_argument_errors(any_store: Store) -> None:
    any_store.put_vectors({"h": vector_for("h")})
    record = DocumentRecord(path="a.txt", content_hash="c")
    with pytest.raises(StoreError, match="1 chunks but 2 text hashes"):
        any_store.replace_document(record, make_chunks("a.txt", ["x"]), ["h", "h"])
    with pytest.raises(StoreError, match="belongs to 'b.txt'"):
        any_store.replace_document(record, make_chunks("b.txt", ["x"]), ["h"])
    twins = make_chunks("a.txt", ["x"]) * 2
    with pytest.raises(StoreError, match="same id"):
        any_store.replace_document(record, twins, ["h", "h"])


def test_chunk_ids_may_not_collide_across_documents(any_store: Store) -> None:
    add_document(any_store, "a.txt", ["x"])
    stolen = [
        Chunk(
            id="a.txt#0",
            document="b.txt",
            text="x",
            start=0,
            end=1,
            line_start=1,
            line_end=1,
        )
    ]
    with pytest.raises(StoreError, match="already used by 'a.txt'"):
        any_store.replace_document(
            DocumentRecord(path="b.txt", content_hash="c"), stolen, [text_hash("x")]
        )


def test_document_without_chunks(any_store: Store) -> None:
    assert add_document(any_store, "empty.txt", []) == []
    record = any_store.document("empty.txt")
    assert record is not None and record.chunk_count == 0


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"when": object()}, "has a object"),
        ({"tags": ["a", 1]}, "has a list"),
        ({"nested": {"a": 1}}, "has a dict"),
        ({"none": None}, "has a NoneType"),
        ({"x": float("nan")}, "finite"),
        ({"": 1}, "non-empty"),
        ({'say "hi"': 1}, "may not contain"),
        ({"$or": 1}, "start with"),
        ({1: "x"}, "non-empty strings"),
    ],
)
def test_metadata_validation(
    any_store: Store, metadata: dict[object, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        add_document(any_store, "a.txt", ["x"], metadata=metadata)  # type: ignore[arg-type]
    assert any_store.document("a.txt") is None


def test_document_metadata_must_be_a_mapping(any_store: Store) -> None:
    any_store.put_vectors({"h": vector_for("h")})
    record = DocumentRecord(path="a.txt", content_hash="c", metadata=["x"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be a mapping"):
        any_store.replace_document(record, [], [])


def test_fts_follows_cascading_deletes(store: Store, index_dir: Path) -> None:
    add_document(store, "a.txt", ["zebra crossing"])
    db = sqlite3.connect(index_dir / "meta.sqlite")
    try:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM documents")
        db.commit()
        rows = db.execute(
            "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'zebra'"
        ).fetchone()
        assert rows[0] == 0
        db.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')")
    finally:
        db.close()


def test_stats(store: Store, index_dir: Path) -> None:
    add_document(store, "a.txt", ["one", "two", "one"])
    add_document(store, "b.txt", ["three"])
    store.sync()
    stats = store.stats()
    assert (stats.documents, stats.chunks, stats.vectors) == (2, 4, 3)
    assert stats.dimension == DIM and stats.embed_model == "nomic-embed-text"
    assert stats.index_type == "flat"
    assert stats.path == str(index_dir)
    assert (
        stats.file_sizes["vectors.faiss"]
        == (index_dir / "vectors.faiss").stat().st_size
    )
    assert {"meta.sqlite", "manifest.json"} <= set(stats.file_sizes)
    assert stats.total_bytes == sum(stats.file_sizes.values()) > 0


def test_replace_documents_writes_vectors_and_documents_in_one_commit(
    any_store: Store,
) -> None:
    first = make_chunks("a.md", ["Alpha one.", "Alpha two."])
    second = make_chunks("b.md", ["Beta one."])
    vectors = {text_hash(c.text): vector_for(c.text) for c in [*first, *second]}
    before = any_store.generation()

    rowids = any_store.replace_documents(
        [
            (DocumentRecord("a.md", "h-a"), first, [text_hash(c.text) for c in first]),
            (
                DocumentRecord("b.md", "h-b"),
                second,
                [text_hash(c.text) for c in second],
            ),
        ],
        vectors=vectors,
    )

    assert [len(r) for r in rowids] == [2, 1]
    assert any_store.generation() == before + 1
    assert [c.text for c in any_store.chunks(rowids[0] + rowids[1])] == [
        "Alpha one.",
        "Alpha two.",
        "Beta one.",
    ]
    assert any_store.search_lexical("beta", 5)[0][0] == rowids[1][0]
    best = any_store.search_vectors(vector_for("Alpha two."), 1)
    assert best[0][0] == rowids[0][1]


def test_replace_documents_writes_nothing_when_one_document_is_bad(
    any_store: Store,
) -> None:
    good = make_chunks("a.md", ["Alpha one."])
    bad = make_chunks("b.md", ["Beta one."])
    vectors = {text_hash(good[0].text): vector_for(good[0].text)}

    with pytest.raises(StoreError, match="b.md"):
        any_store.replace_documents(
            [
                (DocumentRecord("a.md", "h-a"), good, [text_hash(good[0].text)]),
                (DocumentRecord("b.md", "h-b"), bad, ["not-cached"]),
            ],
            vectors=vectors,
        )

    assert any_store.document("a.md") is None
    assert any_store.cached_vectors([text_hash(good[0].text)]) == {}
    assert any_store.stats().chunks == 0
