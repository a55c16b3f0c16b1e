"""Wire details of the Ollama server: JSON encoding, timestamps, durations, decoding."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "FOREVER",
    "ApiError",
    "RawJSON",
    "check_fields",
    "check_options",
    "check_think",
    "decode_body",
    "dumps",
    "local_time",
    "parse_keep_alive",
    "utc_now",
]

# Go's time.Duration tops out at about 292 years; the server shows "forever" as that.
FOREVER = timedelta(days=365 * 290)

_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


class ApiError(Exception):
    """An error the fake server turns into an HTTP status and ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RawJSON:
    """Pre-encoded JSON text spliced verbatim into :func:`dumps` output."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _encode_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).translate(_ESCAPES)


def _encode_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"unsupported value: {value}")
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_encode_float(value))
    elif isinstance(value, RawJSON):
        out.append(value.text)
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_encode_string(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value: Any) -> str:
    """Encode like Go's ``encoding/json``: compact UTF-8, ``<``, ``>``, ``&`` escaped.

    >>> dumps({"a": "<b>", "n": 1.0})
    '{"a":"\\\\u003cb\\\\u003e","n":1}'
    """
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def utc_now() -> str:
    """``created_at``: UTC RFC 3339, fraction without trailing zeros."""
    return _rfc3339(datetime.now(timezone.utc))


def local_time(moment: datetime) -> str:
    """``modified_at``/``expires_at``: the server's local zone with its offset."""
    return _rfc3339(moment.astimezone())


def _rfc3339(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset()
    if offset is None or offset == timedelta(0):
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}:{mins:02d}"


_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)([^\d.]*)")


def _parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (``1h30m``, ``-1m``, ``0``)."""
    body = text
    sign = 1.0
    if body[:1] in "+-" and body:
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise ApiError(400, f'time: invalid duration "{text}"')
    total = 0.0
    position = 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            raise ApiError(400, f'time: invalid duration "{text}"')
        number, unit = match.groups()
        if not unit:
            raise ApiError(400, f'time: missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise ApiError(400, f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _UNITS[unit]
        position = match.end()
    return sign * total


def parse_keep_alive(value: Any) -> timedelta | None:
    """Read ``keep_alive`` as the real server does: seconds, negative is forever.

    Returns:
        ``None`` when not set, otherwise how long the model stays loaded
        (:data:`FOREVER` for negative values).

    Raises:
        ApiError: 400 for unitless strings, bad durations and other JSON types.
    """
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, dict | list):
        kind = {bool: "bool", dict: "map[string]interface {}", list: "[]interface {}"}
        raise ApiError(400, f"Unsupported type: '{kind[type(value)]}'")
    seconds = (
        float(value) if isinstance(value, int | float) else _parse_go_duration(value)
    )
    if seconds < 0:
        return FOREVER
    return timedelta(seconds=seconds)


def decode_body(raw: bytes) -> Any:
    """Decode a request body as JSON whatever the ``Content-Type`` says.

    Raises:
        ApiError: 400 ``missing request body`` for zero bytes, and a decoder
            message for anything that is not JSON.
    """
    if not raw:
        raise ApiError(400, "missing request body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid character in request body") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise ApiError(400, "unexpected EOF") from exc
        char = text[exc.pos]
        raise ApiError(
            400, f"invalid character {char!r} looking for beginning of value"
        ) from exc


_JSON_KIND = {
    bool: "bool",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}
_GO_TYPE = {
    "string": "string",
    "bool": "bool",
    "int": "int",
    "float": "float64",
    "object": "map[string]interface {}",
    "strings": "[]string",
    "ints": "[]int",
    "array": "[]interface {}",
}


def _matches(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "strings":
        return isinstance(value, list) and all(
            isinstance(item, str) or item is None for item in value
        )
    if kind == "ints":
        return isinstance(value, list) and all(_matches("int", i) for i in value)
    raise ValueError(kind)


def check_fields(body: Any, struct: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """Check a decoded body against the Go request struct it would fill.

    ``null`` leaves every field at its zero value, as Go's decoder does.

    Args:
        body: The decoded JSON body.
        struct: The Go struct name used in error messages, e.g. ``ChatRequest``.
        fields: Field name to kind (``string``, ``bool``, ``int``, ``float``,
            ``object``, ``array``, ``strings``, ``ints``); unlisted fields are
            not checked.

    Returns:
        The body as a dict (``{}`` for ``null``).

    Raises:
        ApiError: 400 with the decoder's message for a wrong type.
    """
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(
            400,
            f"json: cannot unmarshal {_JSON_KIND.get(type(body), 'value')} "
            f"into Go value of type api.{struct}",
        )
    for name, kind in fields.items():
        value = body.get(name)
        if value is None or _matches(kind, value):
            continue
        shown = _JSON_KIND.get(type(value), "value")
        if isinstance(value, float) and kind == "int":
            shown = f"number {value!r}"
        raise ApiError(
            400,
            f"json: cannot unmarshal {shown} into Go struct field "
            f"{struct}.{name} of type {_GO_TYPE[kind]}",
        )
    return body


_OPTION_KINDS = {
    "num_keep": "int",
    "seed": "int",
    "num_predict": "int",
    "top_k": "int",
    "top_p": "float",
    "min_p": "float",
    "typical_p": "float",
    "repeat_last_n": "int",
    "temperature": "float",
    "repeat_penalty": "float",
    "presence_penalty": "float",
    "frequency_penalty": "float",
    "stop": "array",
    "num_ctx": "int",
    "num_batch": "int",
    "num_gpu": "int",
    "main_gpu": "int",
    "use_mmap": "bool",
    "num_thread": "int",
    "draft_num_predict": "int",
}
_OPTION_TYPE_NAME = {"int": "int", "float": "float", "bool": "bool", "array": "array"}


def check_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``options`` as the server does when a request reaches the runner.

    Unknown keys are ignored and integer fields truncate floats.

    Returns:
        The known options with normalised values.

    Raises:
        ApiError: 500 ``option "<key>" must be of type <type>`` for a wrong type.
    """
    checked: dict[str, Any] = {}
    for key, value in (options or {}).items():
        kind = _OPTION_KINDS.get(key)
        if kind is None or value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "int" and number:
            checked[key] = int(value)
        elif kind == "float" and number:
            checked[key] = float(value)
        elif kind == "bool" and isinstance(value, bool):
            checked[key] = value
        elif kind == "array" and isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ApiError(500, f'option "{key}" must be of type array of strings')
            checked[key] = list(value)
        else:
            raise ApiError(
                500, f'option "{key}" must be of type {_OPTION_TYPE_NAME[kind]}'
            )
    return checked


THINK_LEVELS = ("high", "medium", "low", "max")


def check_think(value: Any) -> bool | str | None:
    """Validate ``think``: a bool or one of the levels.

    Raises:
        ApiError: 400 ``invalid think value`` for anything else.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value in THINK_LEVELS:
        return value
    shown = json.dumps(value) if isinstance(value, str) else dumps(value)
    raise ApiError(
        400,
        f"invalid think value: {shown} "
        '(must be "high", "medium", "low", "max", true, or false)',
    )
