"""Many reader threads while one writer writes: no errors, no half documents."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from store_helpers import DIM, add_document

from ragkit.store import ChunkFilter, Manifest, Store
from ragkit.types import Chunk

DOCUMENTS = 4
VERSIONS = 12


def _texts(doc: int, version: int) -> list[str]:
    # Versions differ in chunk count, so a mixed read would show.
    return [f"doc{doc} v{version} part {j}" for j in range(2 + (version % 3))]


def _check_chunk(chunk: Chunk) -> int:
    doc, version, _, _ = chunk.text.split()
    assert chunk.document == f"{doc}.txt"
    assert chunk.metadata["version"] == int(version[1:])
    assert chunk.heading_path == ("Top", doc)
    assert chunk.line_start >= 1 and chunk.end > chunk.start
    return int(version[1:])


def _write(store: Store, done: threading.Event) -> None:
    try:
        for version in range(1, VERSIONS + 1):
            for doc in range(DOCUMENTS):
                add_document(
                    store,
                    f"doc{doc}.txt",
                    _texts(doc, version),
                    metadata={"version": version},
                    heading_path=("Top", f"doc{doc}"),
                )
            if version % 4 == 0:
                store.delete_documents([f"doc{DOCUMENTS - 1}.txt"])
        store.prune_vectors()
    finally:
        done.set()


def _read(store: Store, done: threading.Event, seed: int) -> int:
    rng = np.random.default_rng(seed)
    rounds = 0
    while not done.is_set() or rounds < 3:
        rounds += 1
        hits = store.search_vectors(rng.standard_normal(DIM), 5)
        for rowid, chunk in store.chunk_map(r for r, _ in hits).items():
            _check_chunk(chunk)
            window = store.neighbours(rowid, before=10, after=10)
            if window:
                # One snapshot: every chunk of the document is of one version,
                # and there are exactly as many as that version has.
                versions = {_check_chunk(c) for c in window}
                assert len(versions) == 1
                doc = int(window[0].document[3])
                assert len(window) == len(_texts(doc, versions.pop()))
        for rowid, _ in store.search_lexical("part doc1", 5):
            for chunk in store.chunks([rowid]):
                _check_chunk(chunk)
        ids = store.select_ids(ChunkFilter(where={"version": {"$gte": 1}}))
        assert ids is not None
        for record in store.documents():
            assert record.chunk_count in (2, 3, 4)
    return rounds


def _run(writer: Store, readers: list[Store]) -> None:
    done = threading.Event()
    errors: list[BaseException] = []

    def guarded(fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)
                done.set()

        return run

    threads = [threading.Thread(target=guarded(lambda: _write(writer, done)))]
    for i, reader in enumerate(readers * 2):
        threads.append(
            threading.Thread(target=guarded(lambda r=reader, s=i: _read(r, done, s)))
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], errors
    final = {d.path: d.chunk_count for d in writer.documents()}
    assert final == {
        f"doc{d}.txt": len(_texts(d, VERSIONS)) for d in range(DOCUMENTS - 1)
    }


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_readers_in_threads_while_writing_on_disk(
    tmp_path: Path, index_type: str
) -> None:
    manifest = Manifest(embed_model="m", dimension=DIM, index_type=index_type)
    with Store.create(tmp_path / "ix", manifest) as writer:
        add_document(writer, "seed.txt", ["seed"])
        with Store.open(tmp_path / "ix") as reader:
            writer.delete_documents(["seed.txt"])
            _run(writer, [writer, reader])


def test_readers_in_threads_while_writing_in_memory(manifest: Manifest) -> None:
    with Store.memory(manifest) as store:
        _run(store, [store])


def test_close_while_readers_run(store: Store) -> None:
    add_document(store, "a.txt", ["one", "two"])
    started = threading.Barrier(3)
    outcomes: list[str] = []

    def read() -> None:
        started.wait()
        try:
            while True:
                store.search_vectors(np.ones(DIM), 2)
                store.chunks([1, 2])
        except Exception as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    started.wait()
    store.close()
    for thread in threads:
        thread.join()
    assert outcomes == ["StoreError: index is closed"] * 2
