"""keep_alive validation and nanosecond helpers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ragkit.errors import ConfigError
from ragkit.ollama import check_keep_alive, seconds


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (0, 0),
        (-1, -1),
        (90, 90),
        (2.5, 2.5),
        (timedelta(minutes=5), 300),
        (timedelta(milliseconds=1500), 1.5),
        ("0", "0"),
        ("-0", "-0"),
        ("5m", "5m"),
        ("1h30m", "1h30m"),
        ("1.5h", "1.5h"),
        (".5s", ".5s"),
        ("-1m", "-1m"),
        ("+10s", "+10s"),
        ("300ms", "300ms"),
        ("10us", "10us"),
        ("10\u00b5s", "10\u00b5s"),
        ("10\u03bcs", "10\u03bcs"),
        ("2h45m10.5s", "2h45m10.5s"),
    ],
)
def test_accepted_values_go_on_the_wire_unchanged_or_as_seconds(
    value: Any, sent: Any
) -> None:
    result = check_keep_alive(value)
    assert result == sent
    assert type(result) is type(sent)


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        "300",
        "",
        "5 m",
        "5min",
        "m",
        "1h-30m",
        "forever",
        float("nan"),
        float("inf"),
        None,
        [],
        {"seconds": 5},
        b"5m",
    ],
)
def test_rejected_values_raise_config_error(value: Any) -> None:
    with pytest.raises(ConfigError):
        check_keep_alive(value)


def test_seconds_converts_nanoseconds_and_passes_none() -> None:
    assert seconds(2_500_000_000) == 2.5
    assert seconds(None) is None
    assert seconds(0) == 0.0
