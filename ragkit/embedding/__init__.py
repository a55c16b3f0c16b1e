"""The embedder: batched, concurrent, multi-host ``/api/embed`` with retries.

::

    with Embedder("nomic-embed-text", hosts=["gpu1:11434", "gpu2:11434"]) as embedder:
        for result in embedder.embed_stream((chunk.id, chunk.text) for chunk in chunks):
            ...  # EmbedResult (keys, vectors, host) or EmbedFailure (key, reason)
"""

from __future__ import annotations

from ragkit.embedding._embedder import Embedder, default_token_estimate
from ragkit.embedding._prefixes import ModelPrefixes, base_model_name, default_prefixes
from ragkit.embedding._types import (
    EmbedderConfig,
    EmbeddingModelInfo,
    EmbedFailure,
    EmbedResult,
    EmbedStats,
    HostStats,
)

__all__ = [
    "EmbedFailure",
    "EmbedResult",
    "EmbedStats",
    "Embedder",
    "EmbedderConfig",
    "EmbeddingModelInfo",
    "HostStats",
    "ModelPrefixes",
    "base_model_name",
    "default_prefixes",
    "default_token_estimate",
]
