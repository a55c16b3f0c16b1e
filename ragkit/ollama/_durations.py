"""``keep_alive`` values (checked before sending) and nanosecond durations."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from ragkit.errors import ConfigError

__all__ = ["KeepAlive", "check_keep_alive", "seconds"]

KeepAlive = str | int | float | timedelta
"""What ``keep_alive=`` accepts: a Go duration string, seconds, or a timedelta."""

# Go's time.ParseDuration: an optional sign, then one or more number+unit pairs;
# "0" alone needs no unit. Both micro signs (U+00B5, U+03BC) are accepted by Go.
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_UNIT = r"(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h)"
_GO_DURATION = re.compile(rf"[+-]?(?:0|(?:{_NUMBER}{_UNIT})+)")


def check_keep_alive(value: KeepAlive) -> str | int | float:
    """Validate a ``keep_alive`` value and return what goes on the wire.

    Numbers are seconds (negative: keep loaded forever) and are sent as numbers;
    a :class:`~datetime.timedelta` becomes its seconds; strings must use Go
    duration syntax (``"5m"``, ``"1h30m"``, ``"-1s"``, ``"0"``). A unitless string
    such as ``"300"`` is rejected because the server answers it with 400.

    Args:
        value: The caller's value.

    Returns:
        The value to put in the JSON body.

    Raises:
        ConfigError: The value is a bool, NaN or infinite, a malformed duration
            string, or of another type.

    Examples:
        >>> check_keep_alive(timedelta(minutes=5))
        300
        >>> check_keep_alive("1h30m")
        '1h30m'
    """
    # bool is an int subclass, but the server rejects JSON true/false.
    if isinstance(value, bool):
        raise ConfigError(f"keep_alive must be a duration, not {value!r}")
    if isinstance(value, timedelta):
        value = value.total_seconds()
        return int(value) if value.is_integer() else value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"keep_alive must be a finite number, not {value!r}")
        return value
    if isinstance(value, str):
        if _GO_DURATION.fullmatch(value) is None:
            raise ConfigError(
                f"keep_alive {value!r} is not a duration: use a number of seconds "
                '(300), or a number with a unit ("5m", "1h30m", "-1s")'
            )
        return value
    raise ConfigError(
        f"keep_alive must be a number, a duration string or a timedelta, "
        f"not {type(value).__name__}"
    )


def seconds(nanoseconds: int | None) -> float | None:
    """Convert a duration reported by the server (nanoseconds) to seconds.

    Args:
        nanoseconds: A duration field such as ``total_duration``; the server
            omits zero durations, so ``None`` is passed through.

    Returns:
        The duration in seconds, or ``None``.

    Examples:
        >>> seconds(1_500_000_000)
        1.5
    """
    return None if nanoseconds is None else nanoseconds / 1e9
