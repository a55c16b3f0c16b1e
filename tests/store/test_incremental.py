"""Incremental FAISS updates: tombstones in HNSW, catching up an older file, status."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from store_helpers import add_document

import ragkit.store._ann as ann_module
from ragkit.errors import StoreError
from ragkit.store import (
    COMPACT_FRACTION,
    HNSW_EF_SEARCH,
    SEARCH_COMPACT_FRACTION,
    ChunkFilter,
    Manifest,
    Store,
    VectorIndexStatus,
)
from ragkit.store._ann import AnnIndex, read_stamp

DIM = 16
PER_DOC = 10


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 20, 1), DIM))
    picked = centres[rng.integers(0, len(centres), n)]
    return (picked + 0.4 * rng.standard_normal((n, DIM))).astype(np.float32)


def _add_docs(store: Store, first: int, count: int, *, seed: int = 1) -> list[int]:
    """Documents doc{first}..doc{first+count-1}, PER_DOC chunks each."""
    vectors = _vectors(count * PER_DOC, seed + first)
    rowids: list[int] = []
    for i in range(count):
        doc = first + i
        texts = [f"doc{doc} chunk {j} seed {seed}" for j in range(PER_DOC)]
        block = vectors[i * PER_DOC : (i + 1) * PER_DOC]
        rowids += add_document(
            store,
            f"doc{doc}.txt",
            texts,
            vectors=list(block),
            metadata={"half": "low" if doc % 2 == 0 else "high"},
        )
    return rowids


def _docs(first: int, count: int) -> list[str]:
    return [f"doc{d}.txt" for d in range(first, first + count)]


def _spy_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    builds: list[int] = []
    real = Store._build

    def counting(self: Store) -> AnnIndex:
        ann = real(self)
        builds.append(ann.generation)
        return ann

    monkeypatch.setattr(Store, "_build", counting)
    return builds


def _live_rowids(store: Store) -> set[int]:
    hits = store.search_vectors(np.ones(DIM), 10_000)
    return {r for r, _ in hits}


def _all_chunk_rowids(index_dir: Path) -> set[int]:
    db = sqlite3.connect(index_dir / "meta.sqlite")
    try:
        return {r[0] for r in db.execute("SELECT id FROM chunks")}
    finally:
        db.close()


def _hnsw_manifest() -> Manifest:
    return Manifest(embed_model="m", dimension=DIM)


@pytest.fixture(scope="module")
def hnsw_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("base") / "ix"
    with Store.create(path, _hnsw_manifest(), hnsw_threshold=100) as store:
        _add_docs(store, 0, 40)
        store.sync()
    assert read_stamp(path / "vectors.faiss") == (40, "hnsw")
    return path


@pytest.fixture
def hnsw_dir(hnsw_base: Path, tmp_path: Path) -> Path:
    """An index of 40 documents (400 chunks), HNSW by a small auto threshold."""
    return Path(shutil.copytree(hnsw_base, tmp_path / "ix"))


def _open(path: Path, *, writable: bool = False) -> Store:
    return Store.open(path, writable=writable, hnsw_threshold=100)


# -- tombstones instead of rebuilds --------------------------------------------


def test_delete_in_a_loaded_hnsw_index_keeps_the_graph(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _open(hnsw_dir, writable=True) as store:
        store.search_vectors(np.ones(DIM), 1)
        builds = _spy_builds(monkeypatch)
        gone = {c.id for c in store.chunks(range(1, 21))}
        assert store.delete_documents(_docs(0, 2)) == 2
        assert store._ann is not None and store._ann.tombstones == 20
        found = _live_rowids(store)
        assert found == set(range(21, 401))
        assert not {c.id for c in store.chunks(found)} & gone
        store.sync()
        status = store.vector_index_status()
    assert builds == []
    assert status == VectorIndexStatus(
        kind="hnsw",
        built_generation=41,
        current_generation=41,
        stale=False,
        tombstones=20,
        size=400,
    )
    assert status.live == 380


def test_replace_in_an_hnsw_index_adds_in_place_and_tombstones_the_old(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _open(hnsw_dir, writable=True) as store:
        store.search_vectors(np.ones(DIM), 1)
        builds = _spy_builds(monkeypatch)
        new = _add_docs(store, 5, 1, seed=7)
        target = _vectors(PER_DOC, 7 + 5)[3]
        hits = store.search_vectors(target, 3)
        assert hits[0][0] == new[3]
        assert set(range(51, 61)).isdisjoint(_live_rowids(store))
        assert store._ann is not None
        assert (store._ann.ntotal, store._ann.tombstones) == (410, 10)
    assert builds == []


def test_searches_never_return_a_deleted_chunk_and_still_return_k(
    hnsw_dir: Path,
) -> None:
    with _open(hnsw_dir, writable=True) as store:
        store.search_vectors(np.ones(DIM), 1)
        # Every other document but the last few: 18% of the graph, no compaction.
        deleted = [f"doc{d}.txt" for d in range(0, 36, 5)]
        stale_ids = store.select_ids(ChunkFilter(where={"half": "low"}))
        store.delete_documents(deleted)
        assert store._ann is not None and store._ann.tombstones == 80
        dead = set(range(1, 401)) - _all_chunk_rowids(hnsw_dir)
        assert len(dead) == 80
        fresh_ids = store.select_ids(ChunkFilter(where={"half": "low"}))
        assert stale_ids is not None and fresh_ids is not None
        for seed in range(20):
            query = _vectors(1, 100 + seed)[0]
            plain = store.search_vectors(query, 10)
            assert len(plain) == 10 and not {r for r, _ in plain} & dead
            # An allow-list read before the delete still names dead chunks.
            for ids in (stale_ids, fresh_ids):
                hits = store.search_vectors(query, 10, ids=ids)
                found = {r for r, _ in hits}
                assert len(hits) == 10
                assert found <= set(fresh_ids.tolist())
                scores = [s for _, s in hits]
                assert scores == sorted(scores, reverse=True)


def test_a_graph_search_is_widened_with_tombstones(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real = AnnIndex._run

    def spy(index: object, q: np.ndarray, k: int, params: object) -> object:
        seen.append(int(getattr(params, "efSearch", 0)))
        return real(index, q, k, params)

    monkeypatch.setattr(AnnIndex, "_run", staticmethod(spy))
    with _open(hnsw_dir, writable=True) as store:
        store.search_vectors(np.ones(DIM), 5)
        store.delete_documents(_docs(0, 10))
        store.search_vectors(np.ones(DIM), 5)
    # 100 of 400 nodes are dead: 128 / (1 - 0.25) places in the candidate list.
    assert seen == [HNSW_EF_SEARCH, int(HNSW_EF_SEARCH / 0.75)]


def test_too_few_live_nodes_reached_falls_back_to_an_exact_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors = _vectors(300, 3)
    ann = AnnIndex.new("hnsw", DIM, 0)
    ann.add(np.arange(1, 301, dtype=np.int64), vectors)
    ann.delete(np.arange(1, 271, dtype=np.int64))
    monkeypatch.setattr(ann_module, "_MAX_FILTERED_EF", 1)
    calls: list[int] = []
    real = AnnIndex._exact

    def spy(self: AnnIndex, q: np.ndarray, k: int, allowed: np.ndarray) -> object:
        calls.append(len(allowed))
        return real(self, q, k, allowed)

    monkeypatch.setattr(AnnIndex, "_exact", spy)
    hits = ann.search(vectors[0], 10)
    assert calls == [30]
    unit = vectors[270:] / np.linalg.norm(vectors[270:], axis=1)[:, None]
    query = vectors[0] / np.linalg.norm(vectors[0])
    truth = (np.argsort(-(unit @ query))[:10] + 271).tolist()
    assert [r for r, _ in hits] == truth


def test_delete_ignores_rowids_the_index_does_not_hold() -> None:
    ann = AnnIndex.new("hnsw", DIM, 0)
    ann.delete(np.array([3], dtype=np.int64))
    assert ann.tombstones == 0 and ann.search(np.ones(DIM), 3) == []
    ann.add(np.arange(1, 6, dtype=np.int64), _vectors(5, 4))
    ann.delete(np.array([2, 2, 9, 10**12], dtype=np.int64))
    assert ann.tombstoned().tolist() == [2]
    assert (ann.ntotal, ann.live) == (5, 4)
    flat = AnnIndex.new("flat", DIM, 0)
    flat.add(np.arange(1, 6, dtype=np.int64), _vectors(5, 4))
    flat.delete(np.array([2, 9], dtype=np.int64))
    assert (flat.ntotal, flat.tombstones) == (4, 0)
    everything = ann.search(np.ones(DIM), 10)
    assert sorted(r for r, _ in everything) == [1, 3, 4, 5]
    ann.delete(np.array([1, 3, 4, 5], dtype=np.int64))
    assert ann.live == 0 and ann.search(np.ones(DIM), 3) == []


# -- compaction ----------------------------------------------------------------


def test_sync_compacts_past_the_threshold_and_not_before(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = _spy_builds(monkeypatch)
    with _open(hnsw_dir, writable=True) as store:
        store.search_vectors(np.ones(DIM), 1)
        store.delete_documents(_docs(0, 8))  # 80 of 400: exactly 20%
        store.sync()
        assert builds == []
        assert store.vector_index_status().tombstones == 80
        store.delete_documents(_docs(8, 1))  # 90 of 400
        status = store.vector_index_status()
        assert status.stale and status.rebuild
        assert status.reason == "90 of its 400 entries are tombstones, 22%"
        # A search goes on with the tombstones; sync() compacts.
        assert len(store.search_vectors(np.ones(DIM), 10)) == 10
        assert builds == []
        store.sync()
        assert builds == [42]
        status = store.vector_index_status()
    assert (status.size, status.tombstones, status.stale) == (310, 0, False)
    assert COMPACT_FRACTION == 0.2


def test_a_search_compacts_only_past_the_search_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds = _spy_builds(monkeypatch)
    with Store.memory(_hnsw_manifest(), hnsw_threshold=100) as store:
        _add_docs(store, 0, 40)
        store.search_vectors(np.ones(DIM), 1)
        assert builds == [40]
        store.delete_documents(_docs(0, 20))  # half the graph
        assert len(store.search_vectors(np.ones(DIM), 10)) == 10
        assert builds == [40]
        store.delete_documents(_docs(20, 1))
        assert len(store.search_vectors(np.ones(DIM), 10)) == 10
        assert builds == [40, 42]
        assert store._ann is not None and store._ann.tombstones == 0
    assert SEARCH_COMPACT_FRACTION == 0.5


def test_a_search_does_not_wait_for_a_compaction_in_another_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Store.memory(_hnsw_manifest(), hnsw_threshold=100) as store:
        _add_docs(store, 0, 40)
        store.search_vectors(np.ones(DIM), 1)
        store.delete_documents(_docs(0, 24))
        builds = _spy_builds(monkeypatch)
        # Another thread holds the build mutex (as a running compaction does):
        # this search uses the graph with its tombstones.
        with store._build_mutex:
            hits = store.search_vectors(np.ones(DIM), 10)
        assert len(hits) == 10 and min(r for r, _ in hits) > 240
        assert builds == []


def test_a_write_does_not_wait_for_a_compaction_and_is_caught_up_later(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _open(hnsw_dir, writable=True) as store:
        store.search_vectors(np.ones(DIM), 1)
        builds = _spy_builds(monkeypatch)
        with store._build_mutex:
            store.delete_documents(_docs(0, 1))
            new = _add_docs(store, 40, 1)
        assert store._ann is not None and store._ann.generation == 40
        found = _live_rowids(store)
        assert store._ann.generation == 42
    assert found == set(range(11, 401)) | set(new)
    assert builds == []


# -- a file from an older generation -------------------------------------------


def test_an_older_file_is_brought_up_to_date_from_sqlite(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An ingest run that never searches: nothing is loaded while it writes.
    with _open(hnsw_dir, writable=True) as writer:
        writer.delete_documents(_docs(0, 1))
        new = _add_docs(writer, 3, 1, seed=9)  # replaces doc3
        added = _add_docs(writer, 40, 2)
        writer.prune_vectors()
    builds = _spy_builds(monkeypatch)
    with _open(hnsw_dir) as reader:
        status = reader.vector_index_status()
        assert status == VectorIndexStatus(
            kind="hnsw",
            built_generation=40,
            current_generation=44,
            stale=True,
            tombstones=20,
            size=400,
            pending=30,
        )
        found = _live_rowids(reader)
        assert read_stamp(hnsw_dir / "vectors.faiss") == (40, "hnsw")
        reader.sync()
        assert read_stamp(hnsw_dir / "vectors.faiss") == (44, "hnsw")
        fresh = reader.vector_index_status()
    assert found == _all_chunk_rowids(hnsw_dir)
    assert found == (set(range(11, 401)) - set(range(31, 41))) | {*new, *added}
    assert builds == []
    assert (fresh.stale, fresh.tombstones, fresh.size, fresh.pending) == (
        False,
        20,
        430,
        0,
    )


def test_sync_at_the_end_of_a_run_brings_the_file_up_to_date_without_a_build(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = _spy_builds(monkeypatch)
    with _open(hnsw_dir, writable=True) as writer:
        _add_docs(writer, 7, 1, seed=5)
        writer.prune_vectors()
        writer.sync()
    assert builds == []
    assert read_stamp(hnsw_dir / "vectors.faiss") == (41, "hnsw")


def test_restarting_keeps_the_tombstones_and_the_results(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = _vectors(12, 77)
    with _open(hnsw_dir, writable=True) as writer:
        writer.search_vectors(np.ones(DIM), 1)
        writer.delete_documents(_docs(10, 5))
        writer.sync()
        before = [writer.search_vectors(q, 10) for q in queries]
        before_plain = _live_rowids(writer)
    builds = _spy_builds(monkeypatch)
    for _ in range(2):
        with _open(hnsw_dir) as reader:
            assert reader.vector_index_status().tombstones == 50
            after = [reader.search_vectors(q, 10) for q in queries]
            assert _live_rowids(reader) == before_plain
            assert reader._ann is not None and reader._ann.tombstones == 50
        assert [[r for r, _ in hits] for hits in after] == [
            [r for r, _ in hits] for hits in before
        ]
    assert builds == []
    assert before_plain.isdisjoint(range(101, 151))


def test_a_reader_catches_up_with_another_writer_in_place(
    hnsw_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _open(hnsw_dir) as reader, _open(hnsw_dir, writable=True) as writer:
        reader.search_vectors(np.ones(DIM), 1)
        loaded = reader._ann
        builds = _spy_builds(monkeypatch)
        writer.delete_documents(_docs(0, 3))
        new = _add_docs(writer, 50, 1)
        assert _live_rowids(reader) == set(range(31, 401)) | set(new)
        assert reader._ann is loaded
    assert builds == []


# -- files that are not trusted ------------------------------------------------


def _with_sqlite(index_dir: Path, *statements: str) -> None:
    db = sqlite3.connect(index_dir / "meta.sqlite")
    try:
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            # A database restored from an older copy gave rowids again.
            (
                "UPDATE vectors SET vector = (SELECT vector FROM vectors v2 "
                "WHERE v2.text_hash != vectors.text_hash LIMIT 1) "
                "WHERE text_hash = (SELECT text_hash FROM chunks WHERE id = 400)",
            ),
            "its vectors differ from the database's",
        ),
        (
            ("UPDATE meta SET value = 3 WHERE key = 'generation'",),
            "it is stamped with generation 40, newer than the database's 3",
        ),
        (
            (
                "INSERT INTO chunks (id, chunk_id, document_id, ordinal, text, "
                'start, "end", line_start, line_end, text_hash) SELECT 0, '
                "'extra', document_id, 99, text, 0, 1, 1, 1, text_hash "
                "FROM chunks WHERE id = 5",
                "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
            ),
            "it lacks 1 chunk(s) older than its newest",
        ),
    ],
    ids=["vectors-differ", "newer-stamp", "older-chunk-missing"],
)
def test_a_file_that_does_not_fit_the_database_is_rebuilt(
    hnsw_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    change: tuple[str, ...],
    reason: str,
) -> None:
    _with_sqlite(hnsw_dir, *change)
    builds = _spy_builds(monkeypatch)
    with caplog.at_level(logging.INFO), _open(hnsw_dir) as reader:
        status = reader.vector_index_status()
        assert status.stale and status.rebuild and status.reason == reason
        assert _live_rowids(reader) == _all_chunk_rowids(hnsw_dir)
        assert not reader.vector_index_status().stale
    assert len(builds) == 1
    assert f"{reason}; rebuilding it" in caplog.text


def test_a_file_of_another_dimension_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = Manifest(embed_model="m", dimension=8, index_type="flat")
    with Store.create(tmp_path / "small", small) as store:
        add_document(store, "a.txt", ["one"])
        store.sync()
    with Store.create(tmp_path / "ix", Manifest(embed_model="m", dimension=DIM)) as s:
        add_document(s, "a.txt", ["one"])
    (tmp_path / "ix" / "vectors.faiss").write_bytes(
        (tmp_path / "small" / "vectors.faiss").read_bytes()
    )
    builds = _spy_builds(monkeypatch)
    with Store.open(tmp_path / "ix") as reader:
        assert (
            reader.vector_index_status().reason
            == "it holds 8-d vectors, the index 16-d"
        )
        assert len(reader.search_vectors(np.ones(DIM), 5)) == 1
    assert builds == [1]


def test_an_untrained_quantiser_file_is_rebuilt_for_additions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = Manifest(embed_model="m", dimension=DIM, index_type="sq8")
    with Store.create(tmp_path / "ix", manifest) as store:
        store.sync()
    assert read_stamp(tmp_path / "ix" / "vectors.faiss") == (0, "sq8")
    with Store.open(tmp_path / "ix", writable=True) as writer:
        rowids = _add_docs(writer, 0, 2)
    builds = _spy_builds(monkeypatch)
    with Store.open(tmp_path / "ix") as reader:
        assert reader.vector_index_status().reason == "it is an untrained quantiser"
        assert _live_rowids(reader) == set(rowids)
    assert builds == [2]


@pytest.mark.parametrize("kind", ["flat", "sq8", "hnsw-sq8"])
def test_other_types_are_caught_up_too(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = Manifest(embed_model="m", dimension=DIM, index_type=kind)
    with Store.create(tmp_path / "ix", manifest) as store:
        _add_docs(store, 0, 10)
        store.sync()
    with Store.open(tmp_path / "ix", writable=True) as writer:
        writer.delete_documents(_docs(0, 2))
        new = _add_docs(writer, 20, 1)
    builds = _spy_builds(monkeypatch)
    with Store.open(tmp_path / "ix") as reader:
        status = reader.vector_index_status()
        assert (status.tombstones, status.pending, status.rebuild) == (20, 10, False)
        assert _live_rowids(reader) == set(range(21, 101)) | set(new)
        reader.sync()
        after = reader.vector_index_status()
    # Types that can remove vectors hold no tombstones once caught up.
    expected = 20 if kind == "hnsw-sq8" else 0
    assert (after.tombstones, after.size) == (expected, 90 + expected)
    assert builds == []


# -- status --------------------------------------------------------------------


def test_status_of_a_missing_and_a_damaged_file(store: Store, index_dir: Path) -> None:
    add_document(store, "a.txt", ["one", "two"])
    missing = store.vector_index_status()
    assert missing == VectorIndexStatus(
        kind=None,
        built_generation=None,
        current_generation=1,
        stale=True,
        tombstones=0,
        size=0,
        pending=2,
        rebuild=True,
        reason="vectors.faiss is missing",
    )
    assert missing.live == 2
    store.sync()
    path = index_dir / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:-10])
    damaged = store.vector_index_status()
    assert damaged.stale and damaged.rebuild and damaged.kind is None
    assert damaged.reason == (
        "vectors.faiss is unusable: payload is truncated or damaged"
    )
    path.unlink()
    path.mkdir()
    unreadable = store.vector_index_status()
    assert unreadable.reason.startswith("vectors.faiss is unusable: cannot read it")


def test_status_builds_and_writes_nothing(
    store: Store, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_document(store, "a.txt", ["one"])
    store.sync()
    add_document(store, "b.txt", ["two"])
    builds = _spy_builds(monkeypatch)
    status = store.vector_index_status()
    assert (status.kind, status.built_generation, status.stale) == ("flat", 1, True)
    assert (status.pending, status.rebuild) == (1, False)
    assert builds == []
    assert read_stamp(index_dir / "vectors.faiss") == (1, "flat")


def test_status_in_memory_describes_the_loaded_index(manifest: Manifest) -> None:
    with Store.memory(manifest) as store:
        add_document(store, "a.txt", ["one", "two"])
        first = store.vector_index_status()
        assert (first.kind, first.stale, first.reason) == (None, True, "not built yet")
        store.search_vectors(np.ones(DIM), 1)
        assert not store.vector_index_status().stale
        add_document(store, "a.txt", ["three"])
        status = store.vector_index_status()
    # The flat index was updated in place by the write.
    assert (status.kind, status.built_generation, status.size) == ("flat", 2, 1)
    assert not status.stale


def test_status_refuses_a_closed_store(store: Store) -> None:
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.vector_index_status()


# -- concurrency ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["same store", "another store"])
def test_readers_during_deletes_never_see_a_deleted_chunk(
    hnsw_dir: Path, where: str
) -> None:
    """A search that starts after a delete returned never returns its chunks."""
    queries = _vectors(16, 5)
    deleted: set[int] = set()
    deleted_lock = threading.Lock()
    done = threading.Event()
    errors: list[BaseException] = []
    with _open(hnsw_dir, writable=True) as writer, _open(hnsw_dir) as other:
        reader = writer if where == "same store" else other
        reader.search_vectors(np.ones(DIM), 1)
        writer.search_vectors(np.ones(DIM), 1)

        def read(seed: int) -> None:
            rounds = 0
            try:
                while not done.is_set() or rounds < 3:
                    with deleted_lock:
                        gone = set(deleted)
                    query = queries[(seed + rounds) % len(queries)]
                    hits = reader.search_vectors(query, 10)
                    rounds += 1
                    found = {r for r, _ in hits}
                    assert not found & gone, sorted(found & gone)
                    assert len(hits) == 10
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=read, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        try:
            for doc in range(12):
                rowids = set(range(doc * PER_DOC + 1, (doc + 1) * PER_DOC + 1))
                writer.delete_documents([f"doc{doc}.txt"])
                with deleted_lock:
                    deleted |= rowids
        finally:
            done.set()
            for thread in threads:
                thread.join()
        assert errors == [], errors
        assert _live_rowids(reader) == set(range(121, 401))
