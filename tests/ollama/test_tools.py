"""Tool definitions from functions; messages and tools from dicts or objects."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import pytest

from ragkit.errors import ConfigError
from ragkit.ollama import (
    Message,
    Tool,
    ToolCall,
    ToolCallFunction,
    ToolFunction,
    tool_from_function,
)
from ragkit.ollama._tools import message_to_json, tool_to_json


class Units(enum.Enum):
    METRIC = "metric"
    IMPERIAL = "imperial"


def lookup_city(
    name: str,
    days: int = 1,
    units: Units | None = None,
    detail: Literal["low", "high"] = "low",
    tags: list[str] | None = None,
    weights: Sequence[float] = (),
    meta: dict[str, Any] | None = None,
    precise: bool = False,
    anything: Any = None,
) -> str:
    """Find a city and its forecast.

    Looks the city up in the gazetteer first.

    Args:
        name: The city name,
            in English.
        days (int): How many days
        units: Metric or imperial.
        detail: How much detail.

    Returns:
        A forecast.
    """
    return name


def test_tool_from_function_builds_the_schema() -> None:
    tool = tool_from_function(lookup_city)
    assert tool.type == "function"
    assert tool.function.name == "lookup_city"
    assert tool.function.description == "Find a city and its forecast."
    parameters = tool.function.parameters
    assert parameters is not None
    assert parameters["required"] == ["name"]
    props = parameters["properties"]
    assert list(props) == [
        "name",
        "days",
        "units",
        "detail",
        "tags",
        "weights",
        "meta",
        "precise",
        "anything",
    ]
    assert props["name"] == {
        "type": "string",
        "description": "The city name, in English.",
    }
    assert props["days"] == {"type": "integer", "description": "How many days"}
    assert props["units"] == {
        "anyOf": [{"type": "string", "enum": ["metric", "imperial"]}, {"type": "null"}],
        "description": "Metric or imperial.",
    }
    assert props["detail"] == {
        "type": "string",
        "enum": ["low", "high"],
        "description": "How much detail.",
    }
    assert props["tags"] == {
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]
    }
    assert props["weights"] == {"type": "array", "items": {"type": "number"}}
    assert props["meta"] == {"type": ["object", "null"]}
    assert props["precise"] == {"type": "boolean"}
    assert props["anything"] == {}


def test_optional_scalar_becomes_a_type_list() -> None:
    def f(x: Optional[int] = None) -> None:  # noqa: UP045 - the old spelling on purpose
        """Do f."""

    assert tool_from_function(f).function.parameters == {
        "type": "object",
        "properties": {"x": {"type": ["integer", "null"]}},
        "required": [],
    }


def test_function_without_docstring_or_hints() -> None:
    def g(a, b=2):  # type: ignore[no-untyped-def]
        return a

    tool = tool_from_function(g)
    assert tool.function.description is None
    assert tool.function.parameters == {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "required": ["a"],
    }


def test_varargs_are_rejected() -> None:
    def h(*args: int) -> None:
        """Nope."""

    with pytest.raises(ConfigError, match=r"\*args"):
        tool_from_function(h)


def test_unsupported_types_are_rejected() -> None:
    def k(path: Path) -> None:
        """Nope."""

    with pytest.raises(ConfigError, match="cannot be expressed"):
        tool_from_function(k)


def test_mixed_literal_values_list_every_type() -> None:
    def k(level: Literal["a", 1, None]) -> None:
        """Pick."""

    parameters = tool_from_function(k).function.parameters
    assert parameters is not None
    assert parameters["properties"]["level"] == {
        "type": ["string", "integer", "null"],
        "enum": ["a", 1, None],
    }


def test_enum_values_of_other_types_are_rejected() -> None:
    def k(level: Literal[b"a"]) -> None:
        """Nope."""

    with pytest.raises(ConfigError, match="enum values"):
        tool_from_function(k)


def test_unresolvable_hints_are_a_config_error() -> None:
    def k(x: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
        """Nope."""

    with pytest.raises(ConfigError, match="type hints"):
        tool_from_function(k)


def test_tool_to_json_accepts_dicts_objects_and_functions() -> None:
    as_dict = {"type": "function", "function": {"name": "d"}}
    assert tool_to_json(as_dict) == as_dict
    assert tool_to_json(Tool(function=ToolFunction(name="o"))) == {
        "type": "function",
        "function": {"name": "o"},
    }
    assert tool_to_json(lookup_city)["function"]["name"] == "lookup_city"
    with pytest.raises(ConfigError):
        tool_to_json(42)  # type: ignore[arg-type]


def test_message_to_json_from_dict_encodes_images_and_drops_none() -> None:
    message = {
        "role": "user",
        "content": "look",
        "images": [b"\x00"],
        "thinking": None,
        "custom": 1,
    }
    assert message_to_json(message) == {
        "role": "user",
        "content": "look",
        "images": ["AA=="],
        "custom": 1,
    }


def test_message_to_json_converts_tool_call_objects_inside_dicts() -> None:
    call = ToolCall(id="call_1", function=ToolCallFunction(name="f", index=0))
    raw = {"id": "call_2", "function": {"name": "g", "arguments": {}}}
    out = message_to_json(
        {"role": "assistant", "content": "", "tool_calls": [call, raw]}
    )
    assert out["tool_calls"] == [
        {"id": "call_1", "function": {"index": 0, "name": "f", "arguments": {}}},
        raw,
    ]


def test_message_to_json_rejects_other_values() -> None:
    assert message_to_json(Message("user", "hi")) == {"role": "user", "content": "hi"}
    with pytest.raises(ConfigError):
        message_to_json("hi")  # type: ignore[arg-type]
