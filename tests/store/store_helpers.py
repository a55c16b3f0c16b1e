"""Helpers for the store tests: deterministic vectors, chunks and documents."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from ragkit.store import DocumentRecord, Store
from ragkit.types import Chunk, MetadataValue

DIM = 16


def text_hash(text: str) -> str:
    """The hash a pipeline would cache the text's vector under."""
    return hashlib.sha256(text.encode()).hexdigest()


def vector_for(text: str, dim: int = DIM) -> np.ndarray:
    """A deterministic pseudo-embedding of ``text``."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def make_chunks(
    path: str,
    texts: Sequence[str],
    *,
    metadata: Mapping[str, MetadataValue] | None = None,
    page: int | None = None,
    heading_path: tuple[str, ...] = (),
) -> list[Chunk]:
    """Chunks of one document laid end to end, one line each."""
    chunks = []
    offset = 0
    for i, text in enumerate(texts):
        chunks.append(
            Chunk(
                id=f"{path}#{i}",
                document=path,
                text=text,
                start=offset,
                end=offset + len(text),
                line_start=i + 1,
                line_end=i + 1,
                page=page,
                heading_path=heading_path,
                metadata=dict(metadata or {}),
            )
        )
        offset += len(text) + 1
    return chunks


def add_document(
    store: Store,
    path: str,
    texts: Sequence[str],
    *,
    kind: str = "text",
    metadata: Mapping[str, MetadataValue] | None = None,
    vectors: Sequence[np.ndarray] | None = None,
    page: int | None = None,
    heading_path: tuple[str, ...] = (),
) -> list[int]:
    """Cache the vectors and write the document; returns the chunk rowids."""
    chunks = make_chunks(
        path, texts, metadata=metadata, page=page, heading_path=heading_path
    )
    hashes = [text_hash(t) for t in texts]
    dim = store.manifest.dimension
    vecs = vectors if vectors is not None else [vector_for(t, dim) for t in texts]
    store.put_vectors(list(zip(hashes, vecs, strict=True)))
    record = DocumentRecord(
        path=path,
        content_hash=text_hash("\n".join(texts)),
        size=sum(map(len, texts)),
        mtime_ns=123,
        kind=kind,
        metadata=dict(metadata or {}),
    )
    return store.replace_document(record, chunks, hashes)
