"""Model-name rules and wire helpers: JSON encoding, timestamps, keep_alive, options."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ragkit.testing._names import parse_name
from ragkit.testing._wire import (
    FOREVER,
    ApiError,
    check_options,
    check_think,
    dumps,
    local_time,
    parse_keep_alive,
    utc_now,
)


@pytest.mark.parametrize(
    ("text", "display", "full"),
    [
        ("llama3.2", "llama3.2:latest", "registry.ollama.ai/library/llama3.2:latest"),
        (" llama3.2:1b ", "llama3.2:1b", "registry.ollama.ai/library/llama3.2:1b"),
        ("me/model:v2", "me/model:v2", "registry.ollama.ai/me/model:v2"),
        (
            "localhost:5000/ns/m",
            "localhost:5000/ns/m:latest",
            "localhost:5000/ns/m:latest",
        ),
        (
            "https://example.com/ns/m:t",
            "example.com/ns/m:t",
            "example.com/ns/m:t",
        ),
        ("_private.model-x", "_private.model-x:latest", None),
    ],
)
def test_valid_names(text: str, display: str, full: str | None) -> None:
    name = parse_name(text)
    assert name is not None
    assert name.display == display
    if full is not None:
        assert name.full == full


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "m:",
        "/m",
        "a//m",
        "a/b/c/d",
        "m@sha256:abc",
        "-m",
        ".m",
        "m:-tag",
        "bad name",
        "m!",
        "ns.dot/m",
        "m:cloud:local",
        "x" * 81,
    ],
)
def test_invalid_names(text: str) -> None:
    assert parse_name(text) is None


def test_lookup_key_ignores_case() -> None:
    upper, lower = parse_name("Llama3.2:LATEST"), parse_name("llama3.2")
    assert upper is not None and lower is not None
    assert upper.key == lower.key
    assert upper.display == "Llama3.2:LATEST"


def test_dumps_is_compact_and_escapes_like_go() -> None:
    assert dumps({"a": [1, 2.5, None, True], "b": "é"}) == (
        '{"a":[1,2.5,null,true],"b":"é"}'
    )
    assert dumps("<&>") == '"\\u003c\\u0026\\u003e"'
    assert dumps(3.0) == "3"


def test_dumps_rejects_nan_and_unknown_types() -> None:
    with pytest.raises(ValueError):
        dumps(float("nan"))
    with pytest.raises(TypeError):
        dumps(object())


def test_timestamps() -> None:
    created = utc_now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z", created)
    moment = datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=timezone.utc)
    pacific = timezone(timedelta(hours=-8))
    shown = local_time(moment)
    parsed = datetime.fromisoformat(shown.replace("Z", "+00:00"))
    assert parsed == moment
    assert re.search(r"\.5(Z|[+-]\d\d:\d\d)$", shown)
    assert local_time(moment.astimezone(pacific)) == shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, timedelta(0)),
        (0.0, timedelta(0)),
        (90, timedelta(seconds=90)),
        (2.5, timedelta(seconds=2.5)),
        (-1, FOREVER),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("+10s", timedelta(seconds=10)),
        ("-1m", FOREVER),
    ],
)
def test_keep_alive_values(value: Any, expected: timedelta | None) -> None:
    assert parse_keep_alive(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("300", 'time: missing unit in duration "300"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("abc", 'time: invalid duration "abc"'),
        ("-", 'time: invalid duration "-"'),
        (True, "Unsupported type: 'bool'"),
        ({}, "Unsupported type: 'map[string]interface {}'"),
        ([], "Unsupported type: '[]interface {}'"),
    ],
)
def test_keep_alive_errors_are_400(value: Any, message: str) -> None:
    with pytest.raises(ApiError) as error:
        parse_keep_alive(value)
    assert (error.value.status, error.value.message) == (400, message)


def test_options_truncate_ints_and_ignore_unknown_keys() -> None:
    assert check_options(
        {"num_ctx": 2048.9, "temperature": 1, "unknown": "x", "stop": ["a"]}
    ) == {"num_ctx": 2048, "temperature": 1.0, "stop": ["a"]}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_ctx": "big"}, 'option "num_ctx" must be of type int'),
        ({"use_mmap": 1}, 'option "use_mmap" must be of type bool'),
        ({"stop": [1]}, 'option "stop" must be of type array of strings'),
        ({"seed": True}, 'option "seed" must be of type int'),
    ],
)
def test_option_type_errors_are_500(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as error:
        check_options(options)
    assert (error.value.status, error.value.message) == (500, message)


@pytest.mark.parametrize("value", [None, True, False, "low", "medium", "high", "max"])
def test_think_values_accepted(value: Any) -> None:
    assert check_think(value) == value


@pytest.mark.parametrize("value", ["x", 1, ["high"]])
def test_think_values_rejected(value: Any) -> None:
    with pytest.raises(ApiError) as error:
        check_think(value)
    assert error.value.status == 400
    assert error.value.message.startswith("invalid think value: ")
