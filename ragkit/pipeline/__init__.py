"""Pipeline recipes and the ingest run that turns folders into an index.

::

    report = Pipeline.load("docs").run("docs/", index=".ragkit")
    print(report.added, report.chunks, report.seconds)
"""

from __future__ import annotations

from ragkit.pipeline._events import (
    IngestProgress,
    IngestReport,
    ProblemChunk,
    SkippedFile,
)
from ragkit.pipeline._ingest import ingest, text_hash
from ragkit.pipeline._pipeline import Pipeline
from ragkit.pipeline._recipe import (
    DEFAULT_RECIPE,
    EmbeddingSettings,
    Recipe,
    available_recipes,
    load_recipe,
)

__all__ = [
    "DEFAULT_RECIPE",
    "EmbeddingSettings",
    "IngestProgress",
    "IngestReport",
    "Pipeline",
    "ProblemChunk",
    "Recipe",
    "SkippedFile",
    "available_recipes",
    "ingest",
    "load_recipe",
    "text_hash",
]
