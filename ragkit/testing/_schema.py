"""A small JSON Schema validator and instance builder for FakeOllama's ``format``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["flatten", "instance_for", "validate"]

Filler = Callable[[str, Mapping[str, Any]], object]
"""Given a string node's path and schema, return its value (or None for the default)."""

_MAX_DEPTH = 64
"""How deep validation follows nested schemas before giving up (cyclic $ref)."""

_EXAMPLE_DEPTH = 6
"""Below this depth, built instances hold only what the schema requires."""


def _type_of(value: object) -> str:
    """The JSON type name of a Python value (integers are also numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _has_type(value: object, name: str) -> bool:
    actual = _type_of(value)
    return actual == name or (name == "number" and actual == "integer")


def _json_equal(left: object, right: object) -> bool:
    """Equality as JSON sees it: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(
            _json_equal(left[key], right[key]) for key in left
        )
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(
            _json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    return type(left) is type(right) and left == right


def _child(path: str, key: str | int) -> str:
    text = str(key).replace("~", "~0").replace("/", "~1")
    return f"{path}/{text}"


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any] | bool:
    """Follow a local ``$ref`` (``#``, ``#/$defs/x``, ``#/definitions/x``, ...)."""
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    node: Any = root
    pointer = ref[1:]
    if pointer:
        for raw in pointer.lstrip("/").split("/"):
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise ValueError(f"$ref {ref!r} points nowhere")
    if not isinstance(node, (Mapping, bool)):
        raise ValueError(f"$ref {ref!r} does not point to a schema")
    return node


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else list(declared or [])
    if schema.get("nullable") is True and names and "null" not in names:
        names.append("null")
    return names


def validate(instance: object, schema: Mapping[str, Any] | bool) -> list[str]:
    """Check an instance against a JSON Schema (the subset FakeOllama needs).

    Supported keywords: ``type`` (also lists, and ``nullable``), ``enum``,
    ``const``, ``properties``, ``required``, ``additionalProperties``,
    ``items`` (a schema or a list), ``prefixItems``, ``minItems``,
    ``maxItems``, ``uniqueItems``, ``minLength``, ``maxLength``, ``pattern``,
    ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``,
    ``anyOf``, ``oneOf``, ``allOf``, ``not`` and local ``$ref`` (to
    ``#/$defs/...``, ``#/definitions/...`` or ``#``). Other keywords are
    ignored, as annotations would be.

    Args:
        instance: A decoded JSON value.
        schema: The schema (a mapping, or ``True``/``False``).

    Returns:
        One message per violation, each starting with the path of the
        offending value (``/`` for the root, ``/citations/0/quote`` below
        it). An empty list means the instance is valid.

    Raises:
        ValueError: If a ``$ref`` cannot be resolved.
    """
    errors: list[str] = []
    root = schema if isinstance(schema, Mapping) else {}
    _check(instance, schema, root, "", errors, 0)
    return errors


def _check(
    instance: object,
    schema: Mapping[str, Any] | bool,
    root: Mapping[str, Any],
    path: str,
    errors: list[str],
    depth: int,
) -> None:
    where = path or "/"
    if schema is True:
        return
    if schema is False:
        errors.append(f"{where}: no value is allowed here")
        return
    if depth > _MAX_DEPTH:
        errors.append(f"{where}: schema nests too deeply (a $ref cycle?)")
        return
    if "$ref" in schema:
        _check(instance, _resolve(schema["$ref"], root), root, path, errors, depth + 1)

    names = _types(schema)
    if names and not any(_has_type(instance, name) for name in names):
        expected = " or ".join(names)
        errors.append(f"{where}: expected {expected}, got {_type_of(instance)}")
        return
    if "const" in schema and not _json_equal(instance, schema["const"]):
        errors.append(f"{where}: must be {schema['const']!r}")
    if "enum" in schema and not any(_json_equal(instance, v) for v in schema["enum"]):
        errors.append(f"{where}: must be one of {list(schema['enum'])!r}")

    if isinstance(instance, Mapping):
        _check_object(instance, schema, root, path, errors, depth)
    elif isinstance(instance, (list, tuple)):
        _check_array(instance, schema, root, path, errors, depth)
    elif isinstance(instance, str):
        _check_string(instance, schema, where, errors)
    elif isinstance(instance, (int, float)) and not isinstance(instance, bool):
        _check_number(instance, schema, where, errors)

    for sub in schema.get("allOf", ()):
        _check(instance, sub, root, path, errors, depth + 1)
    if "anyOf" in schema:
        options = schema["anyOf"]
        if not any(_passes(instance, sub, root, path, depth) for sub in options):
            errors.append(f"{where}: matches none of the anyOf schemas")
    if "oneOf" in schema:
        matched = sum(
            _passes(instance, sub, root, path, depth) for sub in schema["oneOf"]
        )
        if matched != 1:
            errors.append(f"{where}: matches {matched} of the oneOf schemas, not 1")
    if "not" in schema and _passes(instance, schema["not"], root, path, depth):
        errors.append(f"{where}: must not match the 'not' schema")


def _passes(
    instance: object,
    schema: Mapping[str, Any] | bool,
    root: Mapping[str, Any],
    path: str,
    depth: int,
) -> bool:
    found: list[str] = []
    _check(instance, schema, root, path, found, depth + 1)
    return not found


def _check_object(
    instance: Mapping[Any, Any],
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    path: str,
    errors: list[str],
    depth: int,
) -> None:
    where = path or "/"
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in instance:
            errors.append(f"{where}: missing required property {name!r}")
    extra = schema.get("additionalProperties", True)
    for key, value in instance.items():
        if key in properties:
            _check(value, properties[key], root, _child(path, key), errors, depth + 1)
        elif extra is False:
            errors.append(f"{where}: property {key!r} is not allowed")
        elif isinstance(extra, Mapping):
            _check(value, extra, root, _child(path, key), errors, depth + 1)


def _check_array(
    instance: Sequence[Any],
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    path: str,
    errors: list[str],
    depth: int,
) -> None:
    where = path or "/"
    if "minItems" in schema and len(instance) < schema["minItems"]:
        errors.append(f"{where}: needs at least {schema['minItems']} items")
    if "maxItems" in schema and len(instance) > schema["maxItems"]:
        errors.append(f"{where}: allows at most {schema['maxItems']} items")
    if schema.get("uniqueItems") is True:
        for index, item in enumerate(instance):
            if any(_json_equal(item, earlier) for earlier in instance[:index]):
                errors.append(f"{_child(path, index)}: duplicates an earlier item")
    items = schema.get("items")
    prefix = schema.get("prefixItems")
    if isinstance(items, list):
        prefix, items = items, schema.get("additionalItems")
    first_free = 0
    if isinstance(prefix, list):
        for index, (item, sub) in enumerate(zip(instance, prefix, strict=False)):
            _check(item, sub, root, _child(path, index), errors, depth + 1)
        first_free = len(prefix)
    if isinstance(items, (Mapping, bool)):
        for index in range(first_free, len(instance)):
            sub_path = _child(path, index)
            _check(instance[index], items, root, sub_path, errors, depth + 1)


def _check_string(
    instance: str, schema: Mapping[str, Any], where: str, errors: list[str]
) -> None:
    if "minLength" in schema and len(instance) < schema["minLength"]:
        errors.append(f"{where}: shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(instance) > schema["maxLength"]:
        errors.append(f"{where}: longer than {schema['maxLength']} characters")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, instance) is not None
        except re.error:
            errors.append(f"{where}: the schema's pattern {pattern!r} is invalid")
            return
        if not matched:
            errors.append(f"{where}: does not match pattern {pattern!r}")


def _check_number(
    instance: float, schema: Mapping[str, Any], where: str, errors: list[str]
) -> None:
    if "minimum" in schema and instance < schema["minimum"]:
        errors.append(f"{where}: less than the minimum {schema['minimum']}")
    if "maximum" in schema and instance > schema["maximum"]:
        errors.append(f"{where}: greater than the maximum {schema['maximum']}")
    low = schema.get("exclusiveMinimum")
    if isinstance(low, (int, float)) and not isinstance(low, bool) and instance <= low:
        errors.append(f"{where}: must be greater than {low}")
    high = schema.get("exclusiveMaximum")
    if (
        isinstance(high, (int, float))
        and not isinstance(high, bool)
        and instance >= high
    ):
        errors.append(f"{where}: must be less than {high}")


def instance_for(
    schema: Mapping[str, Any] | bool,
    *,
    filler: Filler | None = None,
) -> object:
    """Build a value that validates against a schema, for schema-constrained output.

    Objects get every listed property and every required one; arrays get
    ``minItems`` items (one when that is 0, near the top of the document);
    ``const`` and ``enum`` give their (first) value; ``anyOf``/``oneOf`` use
    the first option that works; numbers respect ``minimum``/``maximum``;
    strings come from ``filler`` when it returns a string that fits the
    schema, else a short default.

    Args:
        schema: The JSON Schema.
        filler: Called as ``filler(path, schema)`` for each string value,
            with the JSON-pointer path of the value (``""`` for the root,
            ``"/answer"``, ``"/citations/0/quote"``); return the string, or
            None to keep the default.

    Returns:
        A decoded JSON value (dicts, lists, str, int, float, bool, None).

    Raises:
        ValueError: If a ``$ref`` cannot be resolved.
    """
    root = schema if isinstance(schema, Mapping) else {}
    return _build(schema, root, "", filler, 0)


def flatten(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Fold a schema's ``$ref`` and ``allOf`` into one schema, to build values from.

    Properties and required names are unioned; for other keywords the
    schema's own value wins over referenced ones. This is not a faithful
    intersection of the schemas, but it is what building an example needs.

    Args:
        schema: A schema node.
        root: The document ``$ref`` pointers are resolved against.

    Returns:
        A new schema without ``$ref`` and ``allOf`` at its top.

    Raises:
        ValueError: If a ``$ref`` cannot be resolved, or ``$ref``/``allOf``
            refer to each other in a cycle.
    """
    return _flatten(schema, root, 0)


def _flatten(
    schema: Mapping[str, Any], root: Mapping[str, Any], depth: int
) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise ValueError("$ref and allOf refer to each other in a cycle")
    merged: dict[str, Any] = {}
    parts: list[Mapping[str, Any] | bool] = []
    if "$ref" in schema:
        parts.append(_resolve(schema["$ref"], root))
    parts.extend(schema.get("allOf", ()))
    for part in parts:
        if isinstance(part, Mapping):
            for key, value in _flatten(part, root, depth + 1).items():
                if key == "properties":
                    merged.setdefault("properties", {}).update(value)
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
    own = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
    for key, value in own.items():
        if key == "properties":
            merged["properties"] = {**merged.get("properties", {}), **value}
        elif key == "required":
            merged["required"] = [*merged.get("required", []), *value]
        else:
            merged[key] = value
    return merged


def _infer_type(schema: Mapping[str, Any]) -> str:
    names = [name for name in _types(schema) if name != "null"]
    if names:
        return names[0]
    if _types(schema):
        return "null"
    if {"properties", "required", "additionalProperties"} & schema.keys():
        return "object"
    if {"items", "prefixItems", "minItems", "maxItems"} & schema.keys():
        return "array"
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & schema.keys():
        return "number"
    return "string"


def _build(
    schema: Mapping[str, Any] | bool,
    root: Mapping[str, Any],
    path: str,
    filler: Filler | None,
    depth: int,
) -> object:
    if not isinstance(schema, Mapping):
        # True accepts anything and False nothing: null is as good as any value.
        return None
    if depth > _MAX_DEPTH:
        return None
    node = flatten(schema, root)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    for keyword in ("anyOf", "oneOf"):
        if keyword in node:
            return _build_choice(node, keyword, root, path, filler, depth)
    kind = _infer_type(node)
    if kind == "object":
        return _build_object(node, root, path, filler, depth)
    if kind == "array":
        return _build_array(node, root, path, filler, depth)
    if kind in ("integer", "number"):
        return _build_number(node, integer=kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _build_string(node, path, filler)


def _build_choice(
    node: Mapping[str, Any],
    keyword: str,
    root: Mapping[str, Any],
    path: str,
    filler: Filler | None,
    depth: int,
) -> object:
    rest = {k: v for k, v in node.items() if k != keyword}
    options = list(node[keyword])
    # Prefer options that are not just null: a null answer says nothing.
    options.sort(key=lambda sub: isinstance(sub, Mapping) and _types(sub) == ["null"])
    fallback: object = None
    for index, option in enumerate(options):
        combined = {**rest, "allOf": [option]} if rest else option
        candidate = _build(combined, root, path, filler, depth + 1)
        if index == 0:
            fallback = candidate
        if _passes(candidate, node, root, path, depth):
            return candidate
    return fallback


def _build_object(
    node: Mapping[str, Any],
    root: Mapping[str, Any],
    path: str,
    filler: Filler | None,
    depth: int,
) -> dict[str, object]:
    properties: Mapping[str, Any] = node.get("properties", {})
    required: list[str] = list(node.get("required", ()))
    names = list(properties) if depth < _EXAMPLE_DEPTH else []
    names += [name for name in required if name not in names]
    extra = node.get("additionalProperties", True)
    result: dict[str, object] = {}
    for name in names:
        sub = properties.get(name, extra if isinstance(extra, Mapping) else {})
        result[name] = _build(sub, root, _child(path, name), filler, depth + 1)
    return result


def _build_array(
    node: Mapping[str, Any],
    root: Mapping[str, Any],
    path: str,
    filler: Filler | None,
    depth: int,
) -> list[object]:
    items = node.get("items", {})
    prefix = node.get("prefixItems")
    if isinstance(items, list):
        prefix, items = items, node.get("additionalItems", {})
    prefix = list(prefix or [])
    wanted = int(node.get("minItems", 0))
    if wanted == 0 and depth < _EXAMPLE_DEPTH and items is not False:
        wanted = 1
    wanted = max(wanted, len(prefix)) if prefix and depth < _EXAMPLE_DEPTH else wanted
    if "maxItems" in node:
        wanted = min(wanted, int(node["maxItems"]))
    result: list[object] = []
    for index in range(wanted):
        sub = prefix[index] if index < len(prefix) else items
        result.append(_build(sub, root, _child(path, index), filler, depth + 1))
    return result


def _build_number(node: Mapping[str, Any], *, integer: bool) -> int | float:
    value: float = 0
    if isinstance(node.get("minimum"), (int, float)):
        value = node["minimum"]
    elif isinstance(node.get("exclusiveMinimum"), (int, float)):
        value = math.floor(node["exclusiveMinimum"]) + 1
    elif isinstance(node.get("maximum"), (int, float)):
        value = min(0, node["maximum"])
    elif isinstance(node.get("exclusiveMaximum"), (int, float)):
        bound = node["exclusiveMaximum"]
        value = 0 if bound > 0 else math.ceil(bound) - 1
    return math.ceil(value) if integer else value


def _build_string(node: Mapping[str, Any], path: str, filler: Filler | None) -> str:
    low = int(node.get("minLength", 0))
    high = node.get("maxLength")
    if filler is not None:
        offered = filler(path, node)
        if isinstance(offered, str):
            text = offered[: int(high)] if isinstance(high, int) else offered
            if len(text) >= low:
                return text
    name = path.rsplit("/", 1)[-1] if path else ""
    text = name if name and not name.isdigit() else "text"
    text = text.ljust(low, "x")
    return text[: int(high)] if isinstance(high, int) else text
