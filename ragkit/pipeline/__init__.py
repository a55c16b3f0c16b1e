"""Pipeline recipes and the ingest run that turns folders into an index.

::

    report = Pipeline.load("docs").run("docs/", index=".ragkit")
    print(report.added, report.chunks, report.seconds)

The steps of a run are public for code that holds an index open (such as
``ragkit.Index``): :func:`plan_index`, :func:`open_store`/:func:`adopt_plan`,
:func:`ingest_files`, :func:`preview_files`, and :class:`IngestSession`, which
chunks, embeds and writes documents that do not come from files.
"""

from __future__ import annotations

from ragkit.pipeline._events import (
    IngestProgress,
    IngestReport,
    ProblemChunk,
    SkippedFile,
)
from ragkit.pipeline._ingest import (
    IndexPlan,
    adopt_plan,
    ingest,
    ingest_files,
    open_store,
    plan_index,
    preview_files,
    recipe_embedder,
)
from ragkit.pipeline._pipeline import Pipeline
from ragkit.pipeline._recipe import (
    DEFAULT_RECIPE,
    EmbeddingSettings,
    Recipe,
    available_recipes,
    load_recipe,
)
from ragkit.pipeline._session import IngestSession, chunking_fingerprint, text_hash

__all__ = [
    "DEFAULT_RECIPE",
    "EmbeddingSettings",
    "IndexPlan",
    "IngestProgress",
    "IngestReport",
    "IngestSession",
    "Pipeline",
    "ProblemChunk",
    "Recipe",
    "SkippedFile",
    "adopt_plan",
    "available_recipes",
    "chunking_fingerprint",
    "ingest",
    "ingest_files",
    "load_recipe",
    "open_store",
    "plan_index",
    "preview_files",
    "recipe_embedder",
    "text_hash",
]
