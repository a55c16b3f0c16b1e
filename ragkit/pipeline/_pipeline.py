"""``ragkit.Pipeline``: a recipe you can run from Python."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from ragkit.pipeline._events import IngestProgress, IngestReport
from ragkit.pipeline._ingest import ingest
from ragkit.pipeline._recipe import DEFAULT_RECIPE, Recipe, load_recipe

__all__ = ["Pipeline"]


class Pipeline:
    """An ingest recipe, ready to run.

    Example::

        report = Pipeline.load("docs").run("docs/")

    Args:
        recipe: The recipe; the default (``general``) settings when None.
    """

    def __init__(self, recipe: Recipe | None = None) -> None:
        self.recipe = recipe if recipe is not None else load_recipe(DEFAULT_RECIPE)

    def __repr__(self) -> str:
        return f"Pipeline({self.recipe.name!r}, model={self.recipe.embedding.model!r})"

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str]) -> Pipeline:
        """Load a ready-made recipe by name (``docs``) or a recipe file.

        Raises:
            ConfigError: No such recipe, or it is invalid.
        """
        return cls(load_recipe(name_or_path))

    def with_embedding(self, **changes: object) -> Pipeline:
        """A copy with embedding settings changed (``model=``, ``hosts=``, ...)."""
        embedding = dataclasses.replace(self.recipe.embedding, **changes)  # type: ignore[arg-type]
        return Pipeline(self.recipe.replace(embedding=embedding))

    def run(
        self,
        *paths: str | os.PathLike[str],
        index: str | os.PathLike[str] = ".ragkit",
        host: str | None = None,
        rebuild: bool = False,
        dry_run: bool = False,
        wait: float = 0.0,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Index ``paths`` into ``index``; see :func:`ragkit.pipeline.ingest`.

        Returns:
            What the run did.
        """
        return ingest(
            [Path(p) for p in paths],
            self.recipe,
            index=index,
            host=host,
            rebuild=rebuild,
            dry_run=dry_run,
            wait=wait,
            progress=progress,
        )
