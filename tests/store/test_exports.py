"""The public surface of ``ragkit.store`` is pinned."""

from __future__ import annotations

import ragkit.store


def test_store_all_is_pinned_sorted_and_importable() -> None:
    assert ragkit.store.__all__ == [
        "AUTO_HNSW_THRESHOLD",
        "COMPACT_FRACTION",
        "ChunkFilter",
        "DocumentRecord",
        "FORMAT_VERSION",
        "HNSW_EF_SEARCH",
        "INDEX_TYPES",
        "IndexStats",
        "Manifest",
        "SEARCH_COMPACT_FRACTION",
        "Store",
        "VectorIndexStatus",
        "check_metadata",
        "use_one_search_thread",
    ]
    assert ragkit.store.__all__ == sorted(ragkit.store.__all__)
    for name in ragkit.store.__all__:
        assert hasattr(ragkit.store, name), name
    assert ragkit.store.INDEX_TYPES == ("auto", "flat", "hnsw", "hnsw-sq8", "sq8")


def test_public_names_have_docstrings() -> None:
    names = (
        "ChunkFilter",
        "DocumentRecord",
        "IndexStats",
        "Manifest",
        "Store",
        "VectorIndexStatus",
    )
    for name in names:
        obj = getattr(ragkit.store, name)
        assert obj.__doc__ and obj.__module__.startswith("ragkit.store._")
    for name, member in vars(ragkit.store.Store).items():
        if not name.startswith("_") and callable(member):
            assert member.__doc__, name
