"""The index on disk: SQLite is the truth, FAISS and FTS5 search it.

::

    <index>/
        meta.sqlite     documents, chunks, the vector cache, FTS5 and its term
                        stats (the truth)
        vectors.faiss   FAISS index stamped with the generation it reflects
        manifest.json   embedding model, dimension, prefixes, chunking, index type
        lock            held by the one writer (fcntl.flock), holds its pid
"""

from __future__ import annotations

from ._ann import (
    AUTO_HNSW_THRESHOLD,
    COMPACT_FRACTION,
    HNSW_EF_SEARCH,
    SEARCH_COMPACT_FRACTION,
    use_one_search_thread,
)
from ._filter import ChunkFilter
from ._manifest import FORMAT_VERSION, INDEX_TYPES, Manifest
from ._metadata import check_metadata
from ._records import DocumentRecord, IndexStats, VectorIndexStatus
from ._store import Store

__all__ = [
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
