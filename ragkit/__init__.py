"""ragkit: retrieval-augmented generation over Ollama.

Index folders of documents, ask questions about them, and get answers whose
citations are checked against the sources.
"""

from __future__ import annotations

from ragkit.errors import (
    CitationError,
    ConfigError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IngestError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    QueryError,
    RagkitError,
    ResponseError,
    StoreError,
)
from ragkit.types import Answer, Chunk, Citation, Document, Hit, Section

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "CitationError",
    "ConfigError",
    "Document",
    "Hit",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IngestError",
    "ModelNotFoundError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "QueryError",
    "RagkitError",
    "ResponseError",
    "Section",
    "StoreError",
    "__version__",
]
