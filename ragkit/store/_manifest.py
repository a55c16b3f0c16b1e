"""The index manifest: what produced the vectors, stored as ``manifest.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from ragkit.errors import ConfigError, IndexMismatchError, StoreError

__all__ = ["FORMAT_VERSION", "INDEX_TYPES", "Manifest"]

FORMAT_VERSION = 1
"""The on-disk format this version of ragkit reads and writes."""

INDEX_TYPES = ("auto", "flat", "hnsw", "hnsw-sq8", "sq8")
"""FAISS index types an index may ask for; ``auto`` picks by chunk count."""

_METRICS = ("cosine",)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _no_chunking() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Manifest:
    """What produced an index's vectors; an index refuses anything else.

    Attributes:
        embed_model: The embedding model's name as given to ``/api/embed``.
        dimension: Length of every vector in the index.
        model_digest: The model's digest from ``/api/tags``, when known.
        metric: Similarity the index ranks by; only ``"cosine"`` exists.
        document_prefix: Text put before each chunk before it is embedded.
        query_prefix: Text put before each query before it is embedded.
        chunking: The chunking settings (a JSON object); a change re-chunks.
        pipeline: The name of the recipe that built the index, if any.
        index_type: One of :data:`INDEX_TYPES`.
        created_at: When the index was created (ISO 8601, UTC).
        format_version: The on-disk format (:data:`FORMAT_VERSION`).
    """

    embed_model: str
    dimension: int
    model_digest: str | None = None
    metric: str = "cosine"
    document_prefix: str = ""
    query_prefix: str = ""
    chunking: Mapping[str, Any] = field(default_factory=_no_chunking, hash=False)
    pipeline: str | None = None
    index_type: str = "auto"
    created_at: str = field(default_factory=_utc_now)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.embed_model, str) or not self.embed_model:
            raise ConfigError("the manifest needs the embedding model's name")
        if (
            isinstance(self.dimension, bool)
            or not isinstance(self.dimension, int)
            or self.dimension <= 0
        ):
            raise ConfigError(
                f"vector dimension must be a positive integer, not {self.dimension!r}"
            )
        if self.metric not in _METRICS:
            raise ConfigError(
                f"unknown metric {self.metric!r}; ragkit indexes use 'cosine'"
            )
        if self.index_type not in INDEX_TYPES:
            raise ConfigError(
                f"unknown index type {self.index_type!r}; "
                f"use one of {', '.join(INDEX_TYPES)}"
            )
        if not isinstance(self.chunking, Mapping):
            raise ConfigError("chunking settings must be a mapping")
        try:
            chunking = json.loads(json.dumps(dict(self.chunking), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"chunking settings must be plain JSON: {exc}") from exc
        object.__setattr__(self, "chunking", MappingProxyType(chunking))

    def to_json(self) -> str:
        """Return the manifest as the text of ``manifest.json``."""
        data = {
            "format_version": self.format_version,
            "embed_model": self.embed_model,
            "model_digest": self.model_digest,
            "dimension": self.dimension,
            "metric": self.metric,
            "document_prefix": self.document_prefix,
            "query_prefix": self.query_prefix,
            "chunking": dict(self.chunking),
            "pipeline": self.pipeline,
            "index_type": self.index_type,
            "created_at": self.created_at,
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse the text of ``manifest.json``.

        Args:
            text: The file's contents.

        Returns:
            The manifest.

        Raises:
            StoreError: The text is not a manifest, or a newer ragkit wrote it.
            IndexMismatchError: An older, no longer supported format wrote it.
        """
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StoreError(f"manifest.json is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise StoreError("manifest.json does not hold a JSON object")
        version = data.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise StoreError("manifest.json has no format_version")
        if version > FORMAT_VERSION:
            raise StoreError(
                f"the index uses format {version}, newer than this ragkit "
                f"understands ({FORMAT_VERSION}); upgrade ragkit to read it"
            )
        if version < FORMAT_VERSION:
            raise IndexMismatchError(
                f"the index uses the old format {version} (this ragkit writes "
                f"{FORMAT_VERSION}); rebuild it with `ragkit index <folder> --rebuild`"
            )
        try:
            return cls(
                embed_model=_get(data, "embed_model", str),
                dimension=_get(data, "dimension", int),
                model_digest=_get(data, "model_digest", str, optional=True),
                metric=_get(data, "metric", str),
                document_prefix=_get(data, "document_prefix", str),
                query_prefix=_get(data, "query_prefix", str),
                chunking=_get(data, "chunking", dict),
                pipeline=_get(data, "pipeline", str, optional=True),
                index_type=_get(data, "index_type", str),
                created_at=_get(data, "created_at", str),
                format_version=version,
            )
        except ConfigError as exc:
            raise StoreError(f"manifest.json is invalid: {exc}") from exc


def _get(data: dict[str, Any], key: str, kind: type, *, optional: bool = False) -> Any:
    if key not in data:
        raise StoreError(f"manifest.json has no {key!r}")
    value = data[key]
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StoreError(f"manifest.json has a {type(value).__name__} for {key!r}")
    return value
