"""Validation and JSON encoding of user metadata (str, numbers, bools, str lists)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ragkit.errors import ConfigError
from ragkit.types import MetadataValue

__all__ = ["check_key", "check_metadata", "decode_metadata", "encode_metadata"]


def check_key(key: object, *, where: str) -> str:
    """Return ``key`` if it can name a metadata field, else raise ConfigError.

    Keys go into SQLite JSON paths as ``$."key"``, which has no escape for a
    double quote; a leading ``$`` would read as a filter operator.
    """
    if not isinstance(key, str) or not key:
        raise ConfigError(f"{where}: metadata keys must be non-empty strings")
    if '"' in key or key.startswith("$"):
        raise ConfigError(
            f"{where}: metadata key {key!r} may not contain '\"' or start with '$'"
        )
    return key


def _check_value(key: str, value: object, *, where: str) -> MetadataValue:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: metadata {key!r} must be finite, not {value}")
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(
        f"{where}: metadata {key!r} has a {type(value).__name__}; allowed are "
        "str, int, float, bool and lists of str"
    )


def encode_metadata(metadata: Mapping[str, object], *, where: str) -> str:
    """Validate user metadata and return it as compact JSON.

    Args:
        metadata: The user's metadata.
        where: What it belongs to, for the error message.

    Returns:
        The JSON text stored in SQLite.

    Raises:
        ConfigError: A key or value is not allowed.
    """
    if not isinstance(metadata, Mapping):
        raise ConfigError(f"{where}: metadata must be a mapping")
    clean = {
        check_key(key, where=where): _check_value(key, value, where=where)
        for key, value in metadata.items()
    }
    return json.dumps(clean, ensure_ascii=False, separators=(",", ":"))


def check_metadata(metadata: Mapping[str, object], *, where: str) -> dict[str, Any]:
    """Check user metadata by the store's rules and return it as it will be stored.

    For callers that must reject bad metadata before doing any work (the app
    layer checks every item before anything is embedded).

    Args:
        metadata: The user's metadata.
        where: What it belongs to, for the error message.

    Returns:
        The metadata as stored and read back (tuples become lists).

    Raises:
        ConfigError: A key or value is not allowed.
    """
    result: dict[str, Any] = json.loads(encode_metadata(metadata, where=where))
    return result


def decode_metadata(text: str) -> Mapping[str, Any]:
    """Turn stored metadata JSON back into a read-only mapping."""
    return MappingProxyType(json.loads(text))
