"""FakeOllama's small JSON Schema validator and instance builder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ragkit.testing._schema import flatten, instance_for, validate

# Each case: a schema, instances it accepts, instances it rejects.
KEYWORD_CASES: list[tuple[str, dict[str, Any], list[object], list[object]]] = [
    ("string", {"type": "string"}, ["", "x"], [1, None, ["x"], True]),
    ("integer", {"type": "integer"}, [0, -3, 2.0], [1.5, "1", True, None]),
    ("number", {"type": "number"}, [0, 1.5, -2], ["1", False, None]),
    ("boolean", {"type": "boolean"}, [True, False], [0, 1, "true", None]),
    ("null", {"type": "null"}, [None], [0, "", False]),
    ("object", {"type": "object"}, [{}, {"a": 1}], [[], "x", None]),
    ("array", {"type": "array"}, [[], [1, "a"]], [{}, "ab", None]),
    ("type list", {"type": ["string", "null"]}, ["a", None], [1, {}]),
    ("nullable", {"type": "string", "nullable": True}, ["a", None], [1]),
    ("enum", {"enum": ["a", 1, None]}, ["a", 1, 1.0, None], ["b", True, 2]),
    ("const", {"const": 1}, [1, 1.0], [True, "1", 2]),
    ("const object", {"const": {"a": [1]}}, [{"a": [1]}], [{"a": [True]}, {}]),
    (
        "required",
        {"type": "object", "required": ["a"]},
        [{"a": 1}, {"a": None, "b": 2}],
        [{}, {"b": 1}],
    ),
    (
        "properties",
        {"type": "object", "properties": {"a": {"type": "integer"}}},
        [{}, {"a": 1}, {"b": "x"}],
        [{"a": "1"}],
    ),
    (
        "additionalProperties false",
        {
            "type": "object",
            "properties": {"a": {}},
            "additionalProperties": False,
        },
        [{}, {"a": 1}],
        [{"b": 1}],
    ),
    (
        "additionalProperties schema",
        {"type": "object", "additionalProperties": {"type": "integer"}},
        [{}, {"x": 1}],
        [{"x": "1"}],
    ),
    (
        "items",
        {"type": "array", "items": {"type": "integer"}},
        [[], [1, 2]],
        [[1, "2"], [None]],
    ),
    (
        "tuple items",
        {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        [["a", 1], ["a"], ["a", 1, None]],
        [[1, "a"]],
    ),
    (
        "prefixItems",
        {
            "type": "array",
            "prefixItems": [{"type": "string"}],
            "items": {"type": "integer"},
        },
        [["a"], ["a", 1, 2]],
        [[1], ["a", "b"]],
    ),
    ("minItems", {"minItems": 2}, [[1, 2], [1, 2, 3], "not an array"], [[], [1]]),
    ("maxItems", {"maxItems": 1}, [[], [1]], [[1, 2]]),
    ("uniqueItems", {"uniqueItems": True}, [[1, 2], [1, True]], [[1, 1.0], ["a", "a"]]),
    ("minLength", {"minLength": 2}, ["ab", "äöü"], ["", "a"]),
    ("maxLength", {"maxLength": 2}, ["", "東京"], ["abc"]),
    ("pattern", {"pattern": "^[a-z]+$"}, ["abc"], ["ab1", ""]),
    ("minimum", {"minimum": 1}, [1, 2.5], [0, 0.99]),
    ("maximum", {"maximum": 1}, [1, -4], [1.01]),
    ("exclusiveMinimum", {"exclusiveMinimum": 1}, [1.5, 2], [1, 0]),
    ("exclusiveMaximum", {"exclusiveMaximum": 1}, [0.5, 0], [1, 2]),
    (
        "anyOf",
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        ["a", 1],
        [1.5, None],
    ),
    (
        "oneOf",
        {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]},
        [-1, 0.5],
        [1, -0.5],
    ),
    (
        "allOf",
        {"allOf": [{"type": "integer"}, {"minimum": 0}]},
        [0, 5],
        [-1, "5"],
    ),
    ("not", {"not": {"type": "string"}}, [1, None], ["a"]),
    (
        "$ref to $defs",
        {
            "$defs": {"pos": {"type": "integer", "minimum": 1}},
            "type": "array",
            "items": {"$ref": "#/$defs/pos"},
        },
        [[1, 2]],
        [[0], ["a"]],
    ),
    (
        "$ref to definitions",
        {
            "definitions": {"name": {"type": "string"}},
            "properties": {"n": {"$ref": "#/definitions/name"}},
        },
        [{"n": "x"}],
        [{"n": 1}],
    ),
    (
        "recursive $ref",
        {
            "type": "object",
            "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}},
            "additionalProperties": False,
        },
        [{}, {"kids": [{"kids": []}]}],
        [{"kids": [{"x": 1}]}],
    ),
    ("true schema", {}, [None, 1, "a", {"b": []}], []),
]


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        pytest.param(schema, value, id=f"{name}-{index}")
        for name, schema, good, _ in KEYWORD_CASES
        for index, value in enumerate(good)
    ],
)
def test_valid_instances_pass(schema: dict[str, Any], instance: object) -> None:
    assert validate(instance, schema) == []


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        pytest.param(schema, value, id=f"{name}-{index}")
        for name, schema, _, bad in KEYWORD_CASES
        for index, value in enumerate(bad)
    ],
)
def test_invalid_instances_fail(schema: dict[str, Any], instance: object) -> None:
    assert validate(instance, schema) != []


def test_errors_carry_the_path_of_the_bad_value() -> None:
    schema = {
        "type": "object",
        "properties": {
            "citations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"source": {"type": "integer"}},
                    "required": ["quote"],
                },
            },
            "a/b": {"type": "string"},
        },
        "required": ["answer"],
    }
    errors = validate({"citations": [{"source": "2"}], "a/b": 1}, schema)
    assert sorted(errors) == [
        "/: missing required property 'answer'",
        "/a~1b: expected string, got integer",
        "/citations/0/source: expected integer, got string",
        "/citations/0: missing required property 'quote'",
    ]


def test_every_violation_is_reported() -> None:
    schema = {"type": "string", "minLength": 5, "pattern": "^x"}
    assert len(validate("abc", schema)) == 2


def test_boolean_false_schema_rejects_everything() -> None:
    assert validate(1, False) == ["/: no value is allowed here"]
    assert validate(1, True) == []


def test_unresolvable_ref_raises() -> None:
    with pytest.raises(ValueError, match="points nowhere"):
        validate(1, {"$ref": "#/$defs/missing"})
    with pytest.raises(ValueError, match="only local"):
        validate(1, {"$ref": "https://example.com/schema.json"})


def test_ref_cycle_is_reported_not_looped() -> None:
    schema = {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}
    errors = validate(1, {**schema, "$ref": "#/$defs/a"})
    assert any("cycle" in error for error in errors)
    with pytest.raises(ValueError, match="cycle"):
        flatten({**schema, "$ref": "#/$defs/a"}, schema)


def test_invalid_pattern_is_an_error_not_a_crash() -> None:
    assert validate("x", {"pattern": "("}) == ["/: the schema's pattern '(' is invalid"]


# --- instance_for --------------------------------------------------------------

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "citations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "source": {"type": "integer", "minimum": 1},
                    "quote": {"type": "string"},
                },
                "required": ["source", "quote"],
            },
        },
    },
    "required": ["answer", "citations"],
}

BUILD_CASES: dict[str, Mapping[str, Any]] = {
    "answer schema": ANSWER_SCHEMA,
    "nested": {
        "type": "object",
        "properties": {
            "meta": {
                "type": "object",
                "properties": {
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "score": {"type": "number", "minimum": 0.5, "maximum": 1},
                    "ok": {"type": "boolean"},
                },
                "required": ["tags"],
                "additionalProperties": False,
            }
        },
        "required": ["meta", "extra"],
    },
    "enums and consts": {
        "type": "object",
        "properties": {
            "level": {"enum": ["low", "high"]},
            "kind": {"const": "fixed"},
            "unit": {"type": ["string", "null"], "enum": ["metric", "imperial"]},
        },
    },
    "refs": {
        "$defs": {
            "point": {
                "type": "object",
                "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
                "required": ["x", "y"],
            }
        },
        "type": "object",
        "properties": {
            "start": {"$ref": "#/$defs/point"},
            "path": {"type": "array", "items": {"$ref": "#/$defs/point"}},
        },
    },
    "recursive": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
        },
        "required": ["name", "children"],
    },
    "array bounds": {
        "type": "array",
        "items": {"type": "integer", "exclusiveMinimum": 3},
        "minItems": 3,
        "maxItems": 3,
    },
    "string bounds": {"type": "string", "minLength": 8, "maxLength": 10},
    "exclusive maximum": {"type": "integer", "exclusiveMaximum": -2},
    "number maximum": {"type": "number", "maximum": -1},
    "anyOf with null first": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
    "oneOf overlapping": {
        "oneOf": [{"type": "number"}, {"type": "integer"}, {"type": "string"}]
    },
    "allOf": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {"required": ["b"], "properties": {"b": {"type": "integer"}}},
        ]
    },
    "no type": {"properties": {"a": {"items": {"minimum": 2}}}},
    "tuple": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "null"}]},
    "empty schema": {},
}


@pytest.mark.parametrize("schema", BUILD_CASES.values(), ids=BUILD_CASES.keys())
def test_built_instances_validate(schema: Mapping[str, Any]) -> None:
    assert validate(instance_for(schema), schema) == []


def test_objects_get_every_listed_and_required_property() -> None:
    built = instance_for(BUILD_CASES["nested"])
    assert isinstance(built, dict)
    assert set(built) == {"meta", "extra"}
    assert set(built["meta"]) == {"tags", "score", "ok"}
    assert built["meta"]["score"] == 0.5


def test_enum_gives_its_first_value() -> None:
    built = instance_for(BUILD_CASES["enums and consts"])
    assert built == {"level": "low", "kind": "fixed", "unit": "metric"}


def test_filler_gets_the_path_and_schema_of_each_string() -> None:
    seen: list[tuple[str, object]] = []

    def filler(path: str, schema: Mapping[str, Any]) -> object:
        seen.append((path, schema.get("type")))
        return "ANSWER" if path == "/answer" else None

    built = instance_for(ANSWER_SCHEMA, filler=filler)
    assert built == {"answer": "ANSWER", "citations": [{"source": 1, "quote": "quote"}]}
    assert seen == [("/answer", "string"), ("/citations/0/quote", "string")]


def test_filler_output_that_does_not_fit_is_cut_or_replaced() -> None:
    schema = {
        "type": "object",
        "properties": {
            "short": {"type": "string", "maxLength": 4},
            "long": {"type": "string", "minLength": 20},
            "odd": {"type": "string"},
        },
    }

    def filler(path: str, _schema: Mapping[str, Any]) -> object:
        return 42 if path == "/odd" else "filled"

    built = instance_for(schema, filler=filler)
    assert built == {"short": "fill", "long": "longxxxxxxxxxxxxxxxx", "odd": "odd"}
    assert validate(built, schema) == []


def test_recursive_schema_builds_a_finite_instance() -> None:
    built = instance_for(BUILD_CASES["recursive"])
    assert isinstance(built, dict)
    assert built["name"] == "name"
    depth = 0
    node = built
    while node["children"]:
        node = node["children"][0]
        depth += 1
    assert depth < 10
