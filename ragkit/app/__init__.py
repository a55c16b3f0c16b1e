"""The library for apps: ``Index`` (add, delete, search, ask, chat) and ``embed``.

::

    import ragkit

    with ragkit.Index.create("wiki.ragkit", exist_ok=True) as index:
        index.add(["Backups run nightly at 02:00 UTC."], metadata={"team": "ops"})
        answer = index.ask("When do backups run?", where={"team": "ops"})
        print(answer.text, [c.path for c in answer.verified_citations])

    vectors = ragkit.embed(["one text", "another text"])
"""

from __future__ import annotations

from ragkit.app._documents import (
    AddReport,
    MetadataArg,
    PreparedDocument,
    default_id,
    prepare_documents,
)
from ragkit.app._embed import EmbedKind, aembed, embed
from ragkit.app._index import Index, PipelineArg, ProgressCallback

__all__ = [
    "AddReport",
    "EmbedKind",
    "Index",
    "MetadataArg",
    "PipelineArg",
    "PreparedDocument",
    "ProgressCallback",
    "aembed",
    "default_id",
    "embed",
    "prepare_documents",
]
