"""ragkit: retrieval-augmented generation over Ollama.

Index folders of documents, ask questions about them, and get answers whose
citations are checked against the sources. From an app::

    import ragkit

    with ragkit.Index.create("wiki.ragkit", exist_ok=True) as index:
        index.add(["Backups run nightly at 02:00 UTC."], metadata={"team": "ops"})
        answer = index.ask("When do backups run?", where={"team": "ops"})
"""

from __future__ import annotations

import logging

from ragkit.app import AddReport, Index, aembed, embed
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
from ragkit.pipeline import IngestProgress, IngestReport, Pipeline, Recipe
from ragkit.query import (
    AnswerDelta,
    AnswerEvent,
    AnswerRetry,
    ChatSession,
    QueryEngine,
)
from ragkit.store import IndexStats
from ragkit.types import Answer, Chunk, Citation, Document, Hit, Section

__version__ = "0.1.0"

# A library never prints: without this, Python's last-resort handler would
# write ragkit's warnings to stderr in an app that has not configured logging.
# Apps (and the CLI) that add handlers still get every record.
logging.getLogger("ragkit").addHandler(logging.NullHandler())

__all__ = [
    "AddReport",
    "Answer",
    "AnswerDelta",
    "AnswerEvent",
    "AnswerRetry",
    "ChatSession",
    "Chunk",
    "Citation",
    "CitationError",
    "ConfigError",
    "Document",
    "Hit",
    "Index",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexStats",
    "IngestError",
    "IngestProgress",
    "IngestReport",
    "ModelNotFoundError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "Pipeline",
    "QueryEngine",
    "QueryError",
    "RagkitError",
    "Recipe",
    "ResponseError",
    "Section",
    "StoreError",
    "__version__",
    "aembed",
    "embed",
]
