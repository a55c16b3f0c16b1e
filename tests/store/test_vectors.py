"""The FAISS side: the stamped file, rebuilds, index types, recall, filtered k."""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest
from store_helpers import DIM, add_document

from ragkit.errors import ConfigError, IndexMismatchError
from ragkit.store import ChunkFilter, Manifest, Store, use_one_search_thread
from ragkit.store._ann import AnnIndex, read_stamp


def _stamp(index_dir: Path) -> tuple[int, str] | None:
    return read_stamp(index_dir / "vectors.faiss")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_search_returns_cosine_best_first(any_store: Store) -> None:
    axes = np.eye(DIM, dtype=np.float32)
    rowids = add_document(
        any_store,
        "a.txt",
        ["x", "y", "xy"],
        vectors=[axes[0] * 5, axes[1], axes[0] + axes[1]],
    )
    hits = any_store.search_vectors(axes[0] * 0.1, 3)
    assert [r for r, _ in hits] == [rowids[0], rowids[2], rowids[1]]
    assert hits[0][1] == pytest.approx(1.0)
    assert hits[1][1] == pytest.approx(2**-0.5)
    assert hits[2][1] == pytest.approx(0.0, abs=1e-6)
    assert len(any_store.search_vectors(axes[0], 10)) == 3


def test_search_argument_errors(any_store: Store) -> None:
    add_document(any_store, "a.txt", ["x"])
    with pytest.raises(IndexMismatchError, match="dimension 16"):
        any_store.search_vectors(np.ones(DIM + 1), 3)
    with pytest.raises(ConfigError, match="k must be"):
        any_store.search_vectors(np.ones(DIM), 0)
    with pytest.raises(ConfigError, match="NaN"):
        any_store.search_vectors(np.full(DIM, np.nan), 1)


def test_empty_index_searches_to_nothing(any_store: Store) -> None:
    assert any_store.search_vectors(np.ones(DIM), 5) == []
    assert any_store.search_vectors(np.ones(DIM), 5, ids=np.array([], np.int64)) == []


def test_sync_writes_a_stamped_file(store: Store, index_dir: Path) -> None:
    add_document(store, "a.txt", ["one", "two"])
    assert not (index_dir / "vectors.faiss").exists()
    store.sync()
    assert _stamp(index_dir) == (1, "flat")
    add_document(store, "b.txt", ["three"])
    assert _stamp(index_dir) == (1, "flat")
    store.sync()
    assert _stamp(index_dir) == (2, "flat")
    # No temporary files are left behind.
    assert not [p for p in index_dir.iterdir() if p.name.endswith(".tmp")]


def test_a_fresh_reader_loads_the_file_without_rebuilding(
    store: Store, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rowids = add_document(store, "a.txt", ["one", "two"])
    store.sync()
    with Store.open(index_dir) as reader:
        monkeypatch.setattr(Store, "_build", _no_rebuild)
        assert reader.search_vectors(np.ones(DIM), 2)[0][0] in rowids


def _no_rebuild(self: Store) -> AnnIndex:
    raise AssertionError("the stamped file should have been used")


def _spy_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    builds: list[int] = []
    real = Store._build

    def counting(self: Store) -> AnnIndex:
        ann = real(self)
        builds.append(ann.generation)
        return ann

    monkeypatch.setattr(Store, "_build", counting)
    return builds


def test_missing_file_is_rebuilt(
    store: Store, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rowids = add_document(store, "a.txt", ["one", "two"])
    store.sync()
    (index_dir / "vectors.faiss").unlink()
    builds = _spy_builds(monkeypatch)
    with Store.open(index_dir) as reader:
        assert {r for r, _ in reader.search_vectors(np.ones(DIM), 5)} == set(rowids)
    assert builds == [1]
    assert _stamp(index_dir) == (1, "flat")


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"garbage!" * 100,
        lambda data: data[: len(data) // 2],
        lambda data: data[:-20] + bytes(20),
        lambda data: data[:60] + bytes(4) + data[64:],
        lambda data: b"",
    ],
    ids=["garbage", "truncated", "corrupt-payload", "corrupt-faiss-header", "empty"],
)
def test_damaged_file_is_rebuilt(
    store: Store,
    index_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: object,
) -> None:
    rowids = add_document(store, "a.txt", ["one", "two"])
    store.sync()
    path = index_dir / "vectors.faiss"
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    builds = _spy_builds(monkeypatch)
    with caplog.at_level(logging.WARNING), Store.open(index_dir) as reader:
        assert {r for r, _ in reader.search_vectors(np.ones(DIM), 5)} == set(rowids)
    assert builds == [1]
    assert "rebuilding" in caplog.text
    assert _stamp(index_dir) == (1, "flat")


def test_file_stamped_with_a_wrong_kind_name_is_rebuilt(
    store: Store, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_document(store, "a.txt", ["one"])
    store.sync()
    path = index_dir / "vectors.faiss"
    data = bytearray(path.read_bytes())
    data[24:40] = b"ivf".ljust(16, b"\0")
    path.write_bytes(bytes(data))
    builds = _spy_builds(monkeypatch)
    with Store.open(index_dir) as reader:
        assert reader.search_vectors(np.ones(DIM), 1)
    assert builds == [1]


def test_stale_file_is_brought_up_to_date_after_sqlite_changes_behind_its_back(
    store: Store, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rowids = add_document(store, "a.txt", ["one", "two", "three"])
    store.sync()
    store.close()
    db = sqlite3.connect(index_dir / "meta.sqlite")
    db.execute("DELETE FROM chunks WHERE id = ?", (rowids[0],))
    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
    db.commit()
    db.close()
    builds = _spy_builds(monkeypatch)
    with Store.open(index_dir) as reader:
        found = {r for r, _ in reader.search_vectors(np.ones(DIM), 5)}
    assert found == set(rowids[1:])
    # The deletion is derived from SQLite: the chunk the file holds is gone.
    assert builds == []


def test_reader_sees_another_writers_changes(store: Store, index_dir: Path) -> None:
    first = add_document(store, "a.txt", ["one"])
    with Store.open(index_dir) as reader:
        assert [r for r, _ in reader.search_vectors(np.ones(DIM), 5)] == first
        second = add_document(store, "b.txt", ["two"])
        found = {r for r, _ in reader.search_vectors(np.ones(DIM), 5)}
        assert found == {*first, *second}


def test_writer_updates_a_loaded_flat_index_in_place(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = add_document(any_store, "a.txt", ["one", "two"])
    any_store.search_vectors(np.ones(DIM), 1)
    builds = _spy_builds(monkeypatch)
    second = add_document(any_store, "b.txt", ["three"])
    replaced = add_document(any_store, "a.txt", ["four"])
    any_store.delete_documents(["b.txt"])
    found = {r for r, _ in any_store.search_vectors(np.ones(DIM), 10)}
    assert found == set(replaced)
    assert not (set(first) | set(second)) & found
    assert builds == []


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 50, 1), dim))
    x = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.standard_normal((n, dim))
    return x.astype(np.float32)


def _bulk_store(manifest: Manifest, n: int, dim: int, **options: object) -> Store:
    """An in-memory store with n one-chunk documents of clustered vectors."""
    store = Store.memory(manifest, **options)  # type: ignore[arg-type]
    vectors = _clustered(n, dim, seed=1)
    for start in range(0, n, 500):
        texts = [f"chunk {i}" for i in range(start, min(start + 500, n))]
        add_document(
            store, f"doc{start}.txt", texts, vectors=list(vectors[start : start + 500])
        )
    return store


def test_auto_switches_from_flat_to_hnsw_at_the_threshold() -> None:
    manifest = Manifest(embed_model="m", dimension=8)
    with _bulk_store(manifest, 99, 8, hnsw_threshold=100) as store:
        store.search_vectors(np.ones(8), 1)
        assert store.stats().index_type == "flat"
        assert store._ann is not None and store._ann.kind == "flat"
        add_document(store, "more.txt", ["x"])
        assert store.stats().index_type == "hnsw"
        store.search_vectors(np.ones(8), 1)
        assert store._ann is not None and store._ann.kind == "hnsw"


@pytest.mark.parametrize("kind", ["flat", "hnsw", "sq8", "hnsw-sq8"])
def test_each_index_type_persists_and_reloads(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = Manifest(embed_model="m", dimension=8, index_type=kind)
    vectors = _clustered(300, 8, seed=2)
    with Store.create(tmp_path / "ix", manifest) as store:
        rowids = add_document(
            store, "a.txt", [f"t{i}" for i in range(300)], vectors=list(vectors)
        )
        store.sync()
        expected = store.search_vectors(vectors[7], 5)
    assert _stamp(tmp_path / "ix") == (1, kind)
    monkeypatch.setattr(Store, "_build", _no_rebuild)
    with Store.open(tmp_path / "ix") as reader:
        assert reader.stats().index_type == kind
        hits = reader.search_vectors(vectors[7], 5)
    assert hits[0][0] == rowids[7]
    assert [r for r, _ in hits] == [r for r, _ in expected]


def test_index_type_override_on_open_rebuilds(store: Store, index_dir: Path) -> None:
    add_document(store, "a.txt", ["one", "two"])
    store.sync()
    with Store.open(index_dir, index_type="hnsw") as reader:
        assert reader.stats().index_type == "hnsw"
        assert len(reader.search_vectors(np.ones(DIM), 2)) == 2
    assert _stamp(index_dir) == (1, "hnsw")


def test_hnsw_recall_at_10_on_5k_vectors() -> None:
    dim, n, k = 32, 5000, 10
    manifest = Manifest(embed_model="m", dimension=dim, index_type="hnsw")
    vectors = _clustered(n, dim, seed=1)
    unit = vectors / np.linalg.norm(vectors, axis=1)[:, None]
    queries = _clustered(200, dim, seed=3)
    with _bulk_store(manifest, n, dim) as store:
        assert store.stats().index_type == "hnsw"
        found = 0
        for q in queries:
            # Rowids are 1..n in insertion order (AUTOINCREMENT from 1).
            truth = set((np.argsort(-(unit @ _unit(q)))[:k] + 1).tolist())
            found += len(truth & {r for r, _ in store.search_vectors(q, k)})
    assert found / (k * len(queries)) >= 0.95


_FILTER_N = 4000
_FILTER_DIM = 16


@pytest.fixture(scope="module", params=["flat", "hnsw", "hnsw-sq8", "sq8"])
def filtered_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    manifest = Manifest(
        embed_model="m", dimension=_FILTER_DIM, index_type=request.param
    )
    with _bulk_store(manifest, _FILTER_N, _FILTER_DIM) as store:
        yield store


@pytest.mark.parametrize("allowed", [3, 12, 60, 3000])
def test_k_results_come_back_under_a_selective_filter(
    filtered_store: Store, allowed: int
) -> None:
    rng = np.random.default_rng(allowed)
    ids = np.sort(rng.choice(np.arange(1, _FILTER_N + 1), size=allowed, replace=False))
    query = _clustered(1, _FILTER_DIM, seed=9)[0]
    hits = filtered_store.search_vectors(query, 10, ids=ids)
    assert len(hits) == min(10, allowed)
    assert {r for r, _ in hits} <= set(ids.tolist())
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    # The best allowed chunk comes first.
    vectors = _clustered(_FILTER_N, _FILTER_DIM, seed=1)[ids - 1]
    sims = (vectors / np.linalg.norm(vectors, axis=1)[:, None]) @ _unit(query)
    assert hits[0][0] == int(ids[int(np.argmax(sims))])


def test_filter_larger_than_the_exact_limit_on_hnsw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ragkit.store._ann as ann_module

    monkeypatch.setattr(ann_module, "EXACT_FILTER_LIMIT", 10)
    dim = 16
    manifest = Manifest(embed_model="m", dimension=dim, index_type="hnsw")
    with _bulk_store(manifest, 2000, dim) as store:
        for allowed in (15, 200, 1500):
            ids = np.arange(1, 2001, 2000 // allowed, dtype=np.int64)[:allowed]
            hits = store.search_vectors(np.ones(dim), 10, ids=ids)
            assert len(hits) == 10
            assert {r for r, _ in hits} <= set(ids.tolist())


def test_hnsw_falls_back_to_exact_when_the_graph_finds_too_few(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ragkit.store._ann as ann_module

    monkeypatch.setattr(ann_module, "EXACT_FILTER_LIMIT", 5)
    monkeypatch.setattr(ann_module, "_MAX_FILTERED_EF", 12)
    exact_calls: list[int] = []
    real_exact = AnnIndex._exact

    def spy(self: AnnIndex, q: np.ndarray, k: int, allowed: np.ndarray) -> object:
        exact_calls.append(len(allowed))
        return real_exact(self, q, k, allowed)

    monkeypatch.setattr(AnnIndex, "_exact", spy)
    dim = 16
    manifest = Manifest(embed_model="m", dimension=dim, index_type="hnsw")
    with _bulk_store(manifest, 2000, dim) as store:
        ids = np.arange(7, 2001, 200, dtype=np.int64)
        hits = store.search_vectors(np.ones(dim), 10, ids=ids)
    assert sorted(r for r, _ in hits) == ids.tolist()
    assert exact_calls == [10]


def test_filter_from_select_ids(any_store: Store) -> None:
    add_document(any_store, "keep/a.txt", ["a1", "a2"])
    add_document(any_store, "drop/b.txt", ["b1", "b2", "b3"])
    ids = any_store.select_ids(ChunkFilter(paths=("keep/**",)))
    assert ids is not None
    hits = any_store.search_vectors(np.ones(DIM), 5, ids=ids)
    assert {c.document for c in any_store.chunks([r for r, _ in hits])} == {
        "keep/a.txt"
    }
    assert len(hits) == 2


def test_stamp_header_layout(store: Store, index_dir: Path) -> None:
    add_document(store, "a.txt", ["one"])
    store.sync()
    head = (index_dir / "vectors.faiss").read_bytes()[:52]
    magic, version, _, generation, dim, kind, length, _ = struct.unpack(
        "<8sHHQI16sQI", head
    )
    assert (magic, version, generation, dim) == (b"RAGKITFX", 1, 1, DIM)
    assert kind.rstrip(b"\0") == b"flat"
    assert length == (index_dir / "vectors.faiss").stat().st_size - 52


@pytest.mark.parametrize("kind", ["hnsw", "hnsw-sq8"])
def test_exact_scan_ignores_rowids_not_in_the_index(kind: str) -> None:
    vectors = _clustered(50, 8, seed=4)
    ann = AnnIndex.new(kind, 8, 0, sample=vectors)
    ann.add(np.arange(100, 150, dtype=np.int64), vectors)
    allowed = np.array([5, 120, 10**12, 149, 149], dtype=np.int64)
    hits = ann.search(vectors[20], 10, allowed)
    assert sorted(r for r, _ in hits) == [120, 149]
    assert hits[0] == (120, pytest.approx(1.0, abs=0.02))
    assert ann.search(vectors[0], 3, np.array([7, 8], dtype=np.int64)) == []


def test_one_search_thread_is_set_for_the_calling_thread_only() -> None:
    before = faiss.omp_get_max_threads()
    seen: list[int] = []

    def worker() -> None:
        use_one_search_thread()
        seen.append(faiss.omp_get_max_threads())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=30)
    assert seen == [1]
    assert faiss.omp_get_max_threads() == before
