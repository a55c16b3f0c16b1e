"""Creating, opening, checking and closing an index; the write lock."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from store_helpers import DIM, add_document

from ragkit.errors import (
    ConfigError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    StoreError,
)
from ragkit.store import FORMAT_VERSION, Manifest, Store


def test_create_writes_the_layout(index_dir: Path, manifest: Manifest) -> None:
    with Store.create(index_dir, manifest) as store:
        assert store.writable
        add_document(store, "a.txt", ["hello"])
        store.sync()
    names = {p.name for p in index_dir.iterdir()}
    assert {"meta.sqlite", "vectors.faiss", "manifest.json", "lock"} <= names
    assert not any(name.endswith((".pkl", ".pickle")) for name in names)
    data = json.loads((index_dir / "manifest.json").read_text())
    assert data["embed_model"] == "nomic-embed-text"
    assert data["dimension"] == DIM
    assert data["metric"] == "cosine"
    assert data["format_version"] == FORMAT_VERSION


def test_sqlite_uses_wal_and_foreign_keys(store: Store, index_dir: Path) -> None:
    db = sqlite3.connect(index_dir / "meta.sqlite")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
    finally:
        db.close()


def test_open_reads_back_the_manifest(index_dir: Path) -> None:
    manifest = Manifest(
        embed_model="mxbai-embed-large",
        dimension=DIM,
        model_digest="sha256:abc",
        document_prefix="doc: ",
        query_prefix="query: ",
        chunking={"size": 400, "overlap": 50},
        pipeline="docs",
        index_type="flat",
    )
    Store.create(index_dir, manifest).close()
    with Store.open(index_dir) as store:
        assert store.manifest == manifest
        assert store.manifest.chunking["size"] == 400
        assert not store.writable


def test_create_refuses_an_existing_index_unless_overwriting(
    index_dir: Path, manifest: Manifest
) -> None:
    with Store.create(index_dir, manifest) as store:
        add_document(store, "a.txt", ["one", "two"])
    with pytest.raises(StoreError, match="already exists"):
        Store.create(index_dir, manifest)
    with Store.create(index_dir, manifest, overwrite=True) as store:
        assert store.stats().chunks == 0
        assert store.document("a.txt") is None


def test_open_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="run `ragkit index <folder>` first"):
        Store.open(tmp_path / "nowhere")


def test_open_without_manifest(index_dir: Path, manifest: Manifest) -> None:
    Store.create(index_dir, manifest).close()
    (index_dir / "manifest.json").unlink()
    with pytest.raises(StoreError, match="no manifest.json"):
        Store.open(index_dir)


def test_open_newer_format_says_upgrade(index_dir: Path, manifest: Manifest) -> None:
    Store.create(index_dir, manifest).close()
    path = index_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="upgrade ragkit") as info:
        Store.open(index_dir)
    assert not isinstance(info.value, IndexMismatchError)


def test_open_older_format_says_rebuild(index_dir: Path, manifest: Manifest) -> None:
    Store.create(index_dir, manifest).close()
    path = index_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["format_version"] = 0
    path.write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Store.open(index_dir)


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"format_version": 1}', '{"format_version": 1, "x": 2}'],
)
def test_open_unreadable_manifest(
    index_dir: Path, manifest: Manifest, text: str
) -> None:
    Store.create(index_dir, manifest).close()
    (index_dir / "manifest.json").write_text(text)
    with pytest.raises(StoreError, match="manifest.json"):
        Store.open(index_dir)


def test_manifest_with_wrong_field_type(index_dir: Path, manifest: Manifest) -> None:
    Store.create(index_dir, manifest).close()
    path = index_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["dimension"] = "sixteen"
    path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="dimension"):
        Store.open(index_dir)


def test_open_newer_schema(index_dir: Path, manifest: Manifest) -> None:
    Store.create(index_dir, manifest).close()
    db = sqlite3.connect(index_dir / "meta.sqlite")
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this ragkit"):
        Store.open(index_dir)


def test_open_garbage_database(index_dir: Path, manifest: Manifest) -> None:
    Store.create(index_dir, manifest).close()
    for name in ("meta.sqlite-wal", "meta.sqlite-shm"):
        (index_dir / name).unlink(missing_ok=True)
    (index_dir / "meta.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="meta.sqlite"):
        Store.open(index_dir)


def test_manifest_json_round_trip(manifest: Manifest) -> None:
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert hash(manifest) == hash(Manifest.from_json(manifest.to_json()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embed_model": "", "dimension": 4}, "model"),
        ({"embed_model": "m", "dimension": 0}, "dimension"),
        ({"embed_model": "m", "dimension": True}, "dimension"),
        ({"embed_model": "m", "dimension": 4, "metric": "l2"}, "metric"),
        ({"embed_model": "m", "dimension": 4, "index_type": "ivf"}, "index type"),
        ({"embed_model": "m", "dimension": 4, "chunking": {"x": object()}}, "JSON"),
    ],
)
def test_manifest_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Manifest(**kwargs)  # type: ignore[arg-type]


def test_check_compatible(store: Store) -> None:
    store.check_compatible(embed_model="nomic-embed-text", dimension=DIM)
    store.check_compatible(embed_model="nomic-embed-text:latest")
    store.check_compatible()
    with pytest.raises(IndexMismatchError) as info:
        store.check_compatible(embed_model="mxbai-embed-large", dimension=1024)
    message = str(info.value)
    assert "nomic-embed-text" in message and "mxbai-embed-large" in message
    assert "--rebuild" in message and "--index" in message
    with pytest.raises(IndexMismatchError, match="dimension 8"):
        store.check_compatible(dimension=8)


def test_set_manifest(store: Store, index_dir: Path, manifest: Manifest) -> None:
    changed = Manifest(
        embed_model=manifest.embed_model,
        dimension=DIM,
        chunking={"size": 10},
        model_digest="sha256:1",
    )
    store.set_manifest(changed)
    assert store.manifest == changed
    with Store.open(index_dir) as reader:
        assert reader.manifest == changed
    add_document(store, "a.txt", ["x"])
    with pytest.raises(IndexMismatchError):
        store.set_manifest(Manifest(embed_model="other", dimension=DIM))


def test_set_manifest_allows_another_model_while_empty(store: Store) -> None:
    other = Manifest(embed_model="other", dimension=DIM + 1)
    store.set_manifest(other)
    assert store.manifest.embed_model == "other"


def test_closed_store_refuses_everything(store: Store) -> None:
    add_document(store, "a.txt", ["x"])
    store.close()
    store.close()
    assert store.closed
    calls = [
        lambda: store.stats(),
        lambda: store.chunks([1]),
        lambda: store.search_vectors([0.0] * DIM, 3),
        lambda: store.search_lexical("x", 3),
        lambda: store.documents(),
        lambda: store.put_vectors({}),
        lambda: store.delete_documents(["a.txt"]),
        lambda: store.sync(),
    ]
    for call in calls:
        with pytest.raises(StoreError, match="index is closed"):
            call()


def test_read_only_store_refuses_writes(store: Store, index_dir: Path) -> None:
    with Store.open(index_dir) as reader:
        with pytest.raises(StoreError, match="read-only"):
            reader.delete_documents(["a.txt"])
        with pytest.raises(StoreError, match="read-only"):
            reader.put_vectors({})


def test_unknown_index_type_override(store: Store, index_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown index type"):
        Store.open(index_dir, index_type="ivf")


def test_second_writer_is_refused(store: Store, index_dir: Path) -> None:
    with pytest.raises(IndexLockedError) as info:
        Store.open(index_dir, writable=True, wait=0)
    assert "already open for writing in this process" in str(info.value)
    # Readers are never locked out.
    with Store.open(index_dir) as reader:
        assert reader.stats().documents == 0


def test_second_writer_waits_for_the_first(store: Store, index_dir: Path) -> None:
    opened = threading.Event()
    result: list[Store] = []

    def second() -> None:
        opened.set()
        result.append(Store.open(index_dir, writable=True, wait=30))

    thread = threading.Thread(target=second)
    thread.start()
    opened.wait()
    store.close()
    thread.join()
    with result[0] as writer:
        assert writer.writable


_HOLD_LOCK = """
import sys
from ragkit.store import Store
store = Store.open(sys.argv[1], writable=True)
print("locked", flush=True)
sys.stdin.readline()
store.close()
"""


def test_lock_names_the_other_process(index_dir: Path, manifest: Manifest) -> None:
    Store.create(index_dir, manifest).close()
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(index_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        try:
            assert proc.stdout.readline().strip() == "locked"
            with pytest.raises(IndexLockedError) as info:
                Store.open(index_dir, writable=True, wait=0)
            assert f"another ragkit process (pid {proc.pid})" in str(info.value)
        finally:
            proc.stdin.write("\n")
            proc.stdin.close()
            proc.wait()
    # The lock went with the process; the pid is gone from the file.
    with Store.open(index_dir, writable=True, wait=0) as writer:
        assert writer.writable
    assert (index_dir / "lock").read_text() == ""


def test_lock_file_holds_the_pid(store: Store, index_dir: Path) -> None:
    assert (index_dir / "lock").read_text().strip() == str(os.getpid())


def test_memory_store(manifest: Manifest) -> None:
    with Store.memory(manifest) as store:
        assert store.path is None and store.writable
        add_document(store, "a.txt", ["alpha", "beta"])
        stats = store.stats()
        assert stats.path is None and stats.chunks == 2 and stats.file_sizes == {}
        assert store.search_vectors([1.0] * DIM, 1)
    with pytest.raises(StoreError, match="closed"):
        store.stats()


def test_unopenable_lock_file(index_dir: Path, manifest: Manifest) -> None:
    Store.create(index_dir, manifest).close()
    (index_dir / "lock").unlink()
    (index_dir / "lock").mkdir()
    with pytest.raises(StoreError, match="cannot open the lock file"):
        Store.open(index_dir, writable=True)


def test_create_where_a_folder_cannot_be(tmp_path: Path, manifest: Manifest) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create the index folder"):
        Store.create(tmp_path / "file" / "index", manifest)


def test_a_database_without_tables_reads_as_no_index(
    index_dir: Path, manifest: Manifest
) -> None:
    # A run killed between creating meta.sqlite and committing its tables.
    Store.create(index_dir, manifest).close()
    (index_dir / "meta.sqlite").unlink()
    sqlite3.connect(index_dir / "meta.sqlite").close()
    with pytest.raises(IndexNotFoundError, match="no index at"):
        Store.open(index_dir)
    with Store.open(index_dir, writable=True) as store:
        assert store.stats().chunks == 0
    with Store.open(index_dir) as reader:
        assert reader.generation() == 0
