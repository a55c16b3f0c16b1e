"""Records the store hands out: documents as indexed, and index statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ragkit.types import MetadataValue

__all__ = ["DocumentRecord", "IndexStats", "VectorIndexStatus"]


def _no_metadata() -> Mapping[str, MetadataValue]:
    return MappingProxyType({})


def _no_sizes() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """A document as the index knows it: enough to tell whether it changed.

    Attributes:
        path: The document's path relative to the indexed root (or an app's id).
        content_hash: Hash of the file's bytes (or the text's), as the caller
            computed it.
        size: Size in bytes when it was indexed.
        mtime_ns: Modification time in nanoseconds when it was indexed.
        kind: The loader that read it (``"markdown"``, ``"pdf"``, ...).
        title: The document's own title, when it has one.
        metadata: User metadata for the whole document.
        chunk_count: How many chunks it has; set by the store on write.
        chunking_fingerprint: Fingerprint of the chunking settings used, so a
            change of settings re-chunks it.
        indexed_at: When it was written (ISO 8601, UTC); set by the store.
    """

    path: str
    content_hash: str
    size: int = 0
    mtime_ns: int = 0
    kind: str = "text"
    title: str | None = None
    metadata: Mapping[str, MetadataValue] = field(
        default_factory=_no_metadata, compare=False
    )
    chunk_count: int = 0
    chunking_fingerprint: str = ""
    indexed_at: str = ""


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What ``ragkit info`` shows about an index.

    Attributes:
        path: The index directory, or None for an in-memory index.
        documents: Number of documents.
        chunks: Number of chunks (each has one vector in the FAISS index).
        vectors: Number of distinct cached vectors (identical texts share one).
        dimension: Vector dimension.
        embed_model: The embedding model that made the vectors.
        index_type: The FAISS index type in use (or that the next search builds).
        generation: Counter of committed changes to the chunks.
        updated_at: When the chunks last changed (ISO 8601, UTC), if ever.
        file_sizes: Bytes on disk of each file of the index.
    """

    path: str | None
    documents: int
    chunks: int
    vectors: int
    dimension: int
    embed_model: str
    index_type: str
    generation: int
    updated_at: str | None
    file_sizes: Mapping[str, int] = field(default_factory=_no_sizes, compare=False)

    @property
    def total_bytes(self) -> int:
        """Bytes on disk of the whole index."""
        return sum(self.file_sizes.values())


@dataclass(frozen=True, slots=True)
class VectorIndexStatus:
    """How the FAISS index compares with SQLite (what ``ragkit doctor`` shows).

    Attributes:
        kind: The index type it holds, or None when there is none to use
            (missing, unreadable or damaged file; never built in memory).
        built_generation: The SQLite generation it reflects, or None.
        current_generation: The database's generation now.
        stale: The next :meth:`Store.sync` or search has work to do: the
            index is behind the database, or cannot be used as it is.
        tombstones: Entries whose chunks SQLite no longer has. An HNSW graph
            keeps them, skipped by every search, until it is compacted;
            other types drop them when brought up to date.
        size: Entries the index holds, tombstones included.
        pending: Chunks SQLite has that the index does not hold yet.
        rebuild: Bringing it up to date takes a full build: there is no
            usable index, it is of another type or dimension, it does not
            match the database, or tombstones call for a compaction.
        reason: Why a rebuild is needed; empty when it is not.
    """

    kind: str | None
    built_generation: int | None
    current_generation: int
    stale: bool
    tombstones: int
    size: int
    pending: int = 0
    rebuild: bool = False
    reason: str = ""

    @property
    def live(self) -> int:
        """Entries a search can return once the index is up to date."""
        return self.size - self.tombstones + self.pending
