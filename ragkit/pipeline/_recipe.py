"""Pipeline recipes: the TOML files that say how a folder becomes an index."""

from __future__ import annotations

import dataclasses
import os
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from ragkit.documents import DEFAULT_INCLUDE, ChunkingOptions, LoaderOptions
from ragkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_RECIPE",
    "EmbeddingSettings",
    "Recipe",
    "available_recipes",
    "load_recipe",
]

DEFAULT_RECIPE = "general"
INDEX_TYPE_AUTO = "auto"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class EmbeddingSettings:
    """How chunks are embedded: the ``[embedding]`` table of a recipe.

    Attributes:
        model: The Ollama embedding model.
        hosts: Ollama servers to spread embedding over; empty means the
            default host (``--host``, else ``OLLAMA_HOST``).
        batch_size: Inputs per ``/api/embed`` request, at most.
        max_batch_tokens: Estimated tokens per request, at most.
        in_flight_per_host: Requests kept in flight on each host.
        document_prefix: Text put before every chunk; None means the
            model's known default (see ``ragkit.embedding``).
        query_prefix: Text put before every query; None means the default.
    """

    model: str = "nomic-embed-text"
    hosts: tuple[str, ...] = ()
    batch_size: int = 64
    max_batch_tokens: int = 8192
    in_flight_per_host: int = 2
    document_prefix: str | None = None
    query_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class Recipe:
    """A whole ingest: which files, and how to read, chunk, embed and index them.

    Attributes:
        name: The recipe's name (``general``, ``docs``, ...).
        description: One line for ``ragkit index --help`` and ``info``.
        include: Glob patterns (``**`` allowed) of files to index.
        exclude: Glob patterns of files to leave out, on top of the defaults.
        loader: How files are read.
        chunking: How documents are cut into chunks.
        embedding: How chunks are embedded.
        index_type: ``auto``, or a FAISS index type the store knows.
    """

    name: str = DEFAULT_RECIPE
    description: str = ""
    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = ()
    loader: LoaderOptions = field(default_factory=LoaderOptions)
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    index_type: str = INDEX_TYPE_AUTO

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, origin: str = "recipe") -> Recipe:
        """Build a recipe from parsed TOML, rejecting unknown keys and wrong types.

        Args:
            data: The parsed TOML document.
            origin: Where it came from, for error messages.

        Raises:
            ConfigError: A key is unknown or a value has the wrong type.
        """
        known = {
            "name",
            "description",
            "sources",
            "loader",
            "chunking",
            "embedding",
            "index",
        }
        _reject_unknown(data, known, origin, table="")
        sources = _table(data, "sources", origin)
        _reject_unknown(sources, {"include", "exclude"}, origin, table="sources")
        index = _table(data, "index", origin)
        _reject_unknown(index, {"type"}, origin, table="index")
        defaults = cls()
        return cls(
            name=_typed(data.get("name", defaults.name), str, origin, "name"),
            description=_typed(data.get("description", ""), str, origin, "description"),
            include=_strings(
                sources.get("include", defaults.include), origin, "sources.include"
            ),
            exclude=_strings(sources.get("exclude", ()), origin, "sources.exclude"),
            loader=_build(
                LoaderOptions, _table(data, "loader", origin), origin, "loader"
            ),
            chunking=_build(
                ChunkingOptions, _table(data, "chunking", origin), origin, "chunking"
            ),
            embedding=_build(
                EmbeddingSettings,
                _table(data, "embedding", origin),
                origin,
                "embedding",
            ),
            index_type=_typed(
                index.get("type", INDEX_TYPE_AUTO), str, origin, "index.type"
            ),
        )

    def replace(self, **changes: Any) -> Recipe:
        """A copy with some fields changed (``embedding=...`` etc.)."""
        return dataclasses.replace(self, **changes)

    def to_mapping(self) -> dict[str, Any]:
        """The recipe as plain JSON-able data, as stored in the index manifest."""
        return {
            "name": self.name,
            "description": self.description,
            "sources": {"include": list(self.include), "exclude": list(self.exclude)},
            "loader": _plain(self.loader),
            "chunking": _plain(self.chunking),
            "embedding": _plain(self.embedding),
            "index": {"type": self.index_type},
        }


def available_recipes() -> dict[str, str]:
    """The ready-made recipes by name, with their descriptions."""
    found: dict[str, str] = {}
    for name, text in _bundled_recipes():
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        found[name] = str(data.get("description", ""))
    return found


def load_recipe(name_or_path: str | os.PathLike[str]) -> Recipe:
    """Load a recipe by name (``docs``) or from a TOML file.

    A value that names an existing file, or ends in ``.toml``, is read as a
    file; anything else is looked up among the ready-made recipes.

    Raises:
        ConfigError: No such recipe, unreadable file, or invalid TOML.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read recipe {path}: {exc.strerror or exc}"
            ) from exc
        return _parse(text, origin=str(path))
    bundled = dict(_bundled_recipes())
    if str(name_or_path) not in bundled:
        names = ", ".join(sorted(bundled)) or "none"
        raise ConfigError(
            f"no pipeline recipe named {str(name_or_path)!r}; ready-made ones: {names} "
            "(or give the path of a .toml file)"
        )
    return _parse(bundled[str(name_or_path)], origin=f"pipelines/{name_or_path}.toml")


def _parse(text: str, *, origin: str) -> Recipe:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: invalid TOML: {exc}") from exc
    return Recipe.from_mapping(data, origin=origin)


def _bundled_recipes() -> list[tuple[str, str]]:
    # Installed from a wheel the recipes are the package ``ragkit.pipelines``
    # (pyproject maps the top-level pipelines/ folder there); in a source
    # checkout installed in editable mode, they are that folder itself.
    try:
        folder: Any = resources.files("ragkit.pipelines")
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[2] / "pipelines"
    recipes = []
    if folder.is_dir():
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                recipes.append(
                    (entry.name[: -len(".toml")], entry.read_text(encoding="utf-8"))
                )
    return recipes


def _table(data: Mapping[str, Any], key: str, origin: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{origin}: [{key}] must be a table")
    return value


def _reject_unknown(
    data: Mapping[str, Any], known: set[str], origin: str, *, table: str
) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"[{table}] " if table else ""
        choices = ", ".join(sorted(known))
        raise ConfigError(
            f"{origin}: {where}unknown key {unknown[0]!r} (known: {choices})"
        )


def _build(cls: type[_T], table: Mapping[str, Any], origin: str, name: str) -> _T:
    """Build the dataclass ``cls`` from a TOML table, checking each value's type."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    _reject_unknown(table, set(fields), origin, table=name)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        values[key] = _coerce(value, hints[key], origin, f"{name}.{key}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: [{name}] {exc}") from exc


def _coerce(value: Any, hint: Any, origin: str, key: str) -> Any:
    """Check a TOML value against a field's type hint; TOML arrays become tuples."""
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        origin_type = typing.get_origin(option)
        if origin_type is tuple and isinstance(value, list):
            if all(isinstance(item, str) for item in value):
                return tuple(value)
        elif (
            option is float
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            return float(value)
        elif option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        elif option in (str, bool) and isinstance(value, option):
            return value
    raise ConfigError(f"{origin}: {key} has the wrong type ({type(value).__name__})")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _typed(value: Any, kind: type[_T], origin: str, key: str) -> _T:
    if not isinstance(value, kind):
        raise ConfigError(f"{origin}: {key} must be a {kind.__name__}")
    return value


def _strings(value: Any, origin: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) for v in value
    ):
        raise ConfigError(f"{origin}: {key} must be a list of strings")
    return tuple(value)


def _plain(options: Any) -> dict[str, Any]:
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dataclasses.asdict(options).items()
    }
