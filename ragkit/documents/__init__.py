"""Finding files, loading them with their locations, and cutting them into chunks.

::

    find_files(roots)  ->  SourceFile | Skipped      lazy, sorted, globs, symlink-safe
    load(file)         ->  Document                  or LoadError(reason): skip it
    chunk_document(doc)->  Chunk, Chunk, ...         pure and lazy

New formats plug in with :func:`register_loader`.
"""

from __future__ import annotations

from ragkit.documents._base import (
    Loader,
    LoaderOptions,
    LoadError,
    decode_text,
    normalize_newlines,
)
from ragkit.documents._chunker import (
    ChunkingOptions,
    chunk_document,
    chunk_id,
    estimate_tokens,
)
from ragkit.documents._glob import GlobSet, glob_to_regex
from ragkit.documents._loaders import (
    LoaderInfo,
    load,
    loader_for,
    loader_info,
    register_loader,
    supported_extensions,
)
from ragkit.documents._sources import (
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    Skipped,
    SourceFile,
    content_hash,
    find_files,
    needs_reload,
)

__all__ = [
    "ChunkingOptions",
    "DEFAULT_EXCLUDE",
    "DEFAULT_INCLUDE",
    "GlobSet",
    "LoadError",
    "Loader",
    "LoaderInfo",
    "LoaderOptions",
    "Skipped",
    "SourceFile",
    "chunk_document",
    "chunk_id",
    "content_hash",
    "decode_text",
    "estimate_tokens",
    "find_files",
    "glob_to_regex",
    "load",
    "loader_for",
    "loader_info",
    "needs_reload",
    "normalize_newlines",
    "register_loader",
    "supported_extensions",
]
