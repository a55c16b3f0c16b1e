"""Chunk filters (path globs, document kinds, metadata conditions) compiled to SQL."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from ragkit.errors import ConfigError

from ._metadata import check_key

__all__ = ["ChunkFilter", "compile_filter", "glob_to_regex", "regexp"]

OPERATORS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$contains",
    "$exists",
)
_COMPARISONS = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_INT64 = 2**63

Scalar = str | int | float | bool


def _no_conditions() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ChunkFilter:
    """Which chunks a search may return.

    The three parts combine with AND; the globs among themselves, and the
    kinds among themselves, combine with OR.

    Attributes:
        paths: Globs on the document path. ``*`` and ``?`` stay within one
            folder, ``**`` spans folders (``docs/**/*.md``); a glob without
            ``/`` matches the file name at any depth (``*.md``), one ending
            in ``/`` matches everything under that folder.
        kinds: Document kinds (``"pdf"``, ``"markdown"``) or file extensions
            (``"md"``, ``".txt"``, case-insensitive).
        where: Conditions on chunk metadata: ``{"team": "infra"}`` (equal),
            ``{"year": {"$gte": 2024, "$lt": 2026}}`` with the operators
            ``$eq $ne $gt $gte $lt $lte $in $nin $contains $exists``, keys
            combined with AND, and ``{"$or": [...]}`` / ``{"$and": [...]}``
            taking lists of such mappings. ``$contains`` tests membership of
            a list field; ``$ne`` and ``$nin`` also match chunks without the
            key. A value only equals a value of the same JSON type.

    Raises:
        ConfigError: A glob, kind, operator or value is not usable; raised
            when the filter is built, before any search.
    """

    paths: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    where: Mapping[str, object] = field(default_factory=_no_conditions, hash=False)

    def __post_init__(self) -> None:
        for name in ("paths", "kinds"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise ConfigError(f"filter {name} must be a list of strings")
            if not all(isinstance(v, str) and v.strip() for v in value):
                raise ConfigError(f"filter {name} must be non-empty strings")
            object.__setattr__(self, name, tuple(value))
        if not isinstance(self.where, Mapping):
            raise ConfigError("filter `where` must be a mapping of metadata keys")
        object.__setattr__(self, "where", MappingProxyType(dict(self.where)))
        compile_filter(self)

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every chunk through."""
        return not (self.paths or self.kinds or self.where)


def compile_filter(flt: ChunkFilter) -> tuple[str, list[object]]:
    """Compile a filter to an SQL condition over ``chunks c``.

    Path and kind tests run once per document in a subquery, not once per
    chunk; metadata tests read each chunk's JSON.

    Args:
        flt: The filter.

    Returns:
        The condition and its parameters; ``"1"`` when the filter is empty.

    Raises:
        ConfigError: The filter cannot be compiled.
    """
    doc_parts: list[str] = []
    params: list[object] = []
    if flt.paths:
        doc_parts.append(" OR ".join("d.path REGEXP ?" for _ in flt.paths))
        params.extend(glob_to_regex(p) for p in flt.paths)
    if flt.kinds:
        ors = []
        for kind in flt.kinds:
            ext = kind.strip().lower().lstrip(".")
            ors.append("lower(d.kind) = ? OR d.path REGEXP ?")
            params.extend([ext, rf"(?i)\.{re.escape(ext)}$"])
        doc_parts.append(" OR ".join(ors))
    parts: list[str] = []
    if doc_parts:
        documents = " AND ".join(f"({p})" for p in doc_parts)
        parts.append(
            f"c.document_id IN (SELECT d.id FROM documents d WHERE {documents})"
        )
    if flt.where:
        sql, where_params = _compile_where(flt.where)
        parts.append(sql)
        params.extend(where_params)
    if not parts:
        return "1", []
    return " AND ".join(f"({p})" for p in parts), params


def _compile_where(where: Mapping[str, object]) -> tuple[str, list[object]]:
    if not isinstance(where, Mapping) or not where:
        raise ConfigError("each metadata condition must be a non-empty mapping")
    parts: list[str] = []
    params: list[object] = []
    for key, cond in where.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list | tuple) or not cond:
                raise ConfigError(f"{key} takes a non-empty list of conditions")
            subs = [_compile_where(c) for c in cond]
            joiner = " AND " if key == "$and" else " OR "
            parts.append(joiner.join(f"({s})" for s, _ in subs))
            for _, sub_params in subs:
                params.extend(sub_params)
            continue
        check_key(key, where="filter")
        path = f'$."{key}"'
        ops = cond if isinstance(cond, Mapping) else {"$eq": cond}
        if not ops:
            raise ConfigError(f"filter on {key!r} has no operators")
        for op, value in ops.items():
            sql, op_params = _compile_op(key, path, op, value)
            parts.append(sql)
            params.extend(op_params)
    return " AND ".join(f"({p})" for p in parts), params


def _compile_op(
    key: str, path: str, op: object, value: object
) -> tuple[str, list[object]]:
    if op not in OPERATORS:
        raise ConfigError(
            f"unknown filter operator {op!r} for {key!r}; "
            f"use one of {', '.join(OPERATORS)}"
        )
    if op in ("$eq", "$ne"):
        sql, params = _equals(key, path, value)
        return (f"NOT ({sql})" if op == "$ne" else sql), params
    if op in _COMPARISONS:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(
                f"{op} on {key!r} needs a number or a string, "
                f"not {type(value).__name__}"
            )
        return _typed(path, value, _COMPARISONS[str(op)])
    if op in ("$in", "$nin"):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{op} on {key!r} needs a list of values")
        if not value:
            return ("0" if op == "$in" else "1"), []
        items = []
        for item in value:
            if isinstance(item, list | tuple):
                raise ConfigError(f"{op} on {key!r} takes scalar values, not lists")
            items.append(_equals(key, path, item))
        sql = " OR ".join(f"({s})" for s, _ in items)
        params = [p for _, item_params in items for p in item_params]
        return (f"NOT ({sql})" if op == "$nin" else sql), params
    if op == "$contains":
        if not isinstance(value, str):
            raise ConfigError(f"$contains on {key!r} needs a string")
        sql = (
            "IFNULL(json_type(c.metadata, ?) = 'array' AND EXISTS (SELECT 1 FROM "
            "json_each(c.metadata, ?) AS e WHERE e.type = 'text' AND e.value = ?), 0)"
        )
        return sql, [path, path, value]
    if not isinstance(value, bool):
        raise ConfigError(f"$exists on {key!r} needs true or false")
    null_test = "IS NOT NULL" if value else "IS NULL"
    return f"json_type(c.metadata, ?) {null_test}", [path]


def _equals(key: str, path: str, value: object) -> tuple[str, list[object]]:
    if isinstance(value, bool):
        return "IFNULL(json_type(c.metadata, ?) = ?, 0)", [path, str(value).lower()]
    if isinstance(value, str | int | float):
        return _typed(path, value, "=")
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        encoded = json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))
        sql = (
            "IFNULL(json_type(c.metadata, ?) = 'array' "
            "AND json_extract(c.metadata, ?) = json(?), 0)"
        )
        return sql, [path, path, encoded]
    raise ConfigError(
        f"filter on {key!r} compares with a {type(value).__name__}; use str, "
        "int, float, bool or a list of str"
    )


def _typed(path: str, value: Scalar, sql_op: str) -> tuple[str, list[object]]:
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        raise ConfigError(f"filter value {value} does not fit in 64 bits")
    types = "= 'text'" if isinstance(value, str) else "IN ('integer', 'real')"
    sql = (
        f"IFNULL(json_type(c.metadata, ?) {types} "
        f"AND json_extract(c.metadata, ?) {sql_op} ?, 0)"
    )
    return sql, [path, path, value]


def glob_to_regex(pattern: str) -> str:
    """Translate a path glob into an anchored regular expression.

    >>> import re
    >>> bool(re.match(glob_to_regex("docs/**/*.md"), "docs/a/b/c.md"))
    True
    >>> bool(re.match(glob_to_regex("docs/*.md"), "docs/a/c.md"))
    False
    >>> bool(re.match(glob_to_regex("*.md"), "deep/down/c.md"))
    True
    """
    glob = pattern.strip().replace("\\", "/")
    while glob.startswith("./"):
        glob = glob[2:]
    anchored = "/" in glob.rstrip("/")
    glob = glob.lstrip("/")
    if glob.endswith("/"):
        glob += "**"
    if not glob:
        raise ConfigError(f"path glob {pattern!r} is empty")
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**", i):
            if glob.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
            else:
                out.append(".*")
                i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and "]" in glob[i + 2 :]:
            end = glob.index("]", i + 2)
            body = glob[i + 1 : end].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return f"^{prefix}{''.join(out)}$"


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def regexp(pattern: str, value: str | None) -> bool:
    """SQLite's ``REGEXP`` operator, registered on every connection."""
    return value is not None and _compiled(pattern).search(value) is not None
