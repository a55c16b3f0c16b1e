"""Tool definitions from Python functions, and request-side message/tool conversion."""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Union

from ragkit.errors import ConfigError
from ragkit.ollama._images import encode_image
from ragkit.ollama._types import Message, Tool, ToolCall, ToolFunction

__all__ = [
    "MessageInput",
    "ToolInput",
    "message_to_json",
    "tool_from_function",
    "tool_to_json",
]

MessageInput = Message | Mapping[str, Any]
"""A chat message: a :class:`Message` or a plain dict in the wire shape."""

ToolInput = Tool | Mapping[str, Any] | Callable[..., Any]
"""A tool: a :class:`Tool`, a dict in the wire shape, or a plain function."""

_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
_ARRAYS = (list, tuple, set, frozenset, Sequence, typing.Sequence)
_OBJECTS = (dict, Mapping, typing.Mapping)

_SECTION = re.compile(r"^(\w[\w ]*):\s*$")
_ARG = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")


def tool_from_function(fn: Callable[..., Any]) -> Tool:
    """Build a tool definition from a function's signature and docstring.

    The type hints become a JSON schema (``str`` → string, ``int`` → integer,
    ``float`` → number, ``bool`` → boolean, ``list[X]`` → array, ``dict`` →
    object, ``Literal``/``Enum`` → ``enum``, ``X | None`` → ``[X, "null"]``);
    parameters without a default are ``required``. The first paragraph of a
    Google-style docstring is the description, and its ``Args:`` section gives
    each parameter's description.

    Args:
        fn: The function; ``*args``/``**kwargs`` parameters are not allowed.

    Returns:
        The tool, named after the function.

    Raises:
        ConfigError: The function takes ``*args``/``**kwargs`` or has a
            parameter type that JSON schema cannot express.

    Examples:
        >>> def get_weather(city: str, days: int = 1) -> str:
        ...     '''Get the forecast.
        ...
        ...     Args:
        ...         city: The city name.
        ...     '''
        ...     return "sunny"
        >>> tool_from_function(get_weather).function.parameters["required"]
        ['city']
    """
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError) as exc:
        raise ConfigError(f"cannot read the type hints of {fn!r}: {exc}") from exc
    summary, arg_docs = _parse_docstring(inspect.getdoc(fn))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigError(
                f"{fn.__name__}: *args/**kwargs cannot be described as tool parameters"
            )
        schema = _schema(hints.get(name, str), f"{fn.__name__}({name})")
        if name in arg_docs:
            schema["description"] = arg_docs[name]
        properties[name] = schema
        if param.default is param.empty:
            required.append(name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    parameters["required"] = required
    return Tool(
        function=ToolFunction(
            name=fn.__name__, description=summary or None, parameters=parameters
        )
    )


def _schema(hint: Any, where: str) -> dict[str, Any]:
    if hint is Any:
        return {}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [member.value for member in hint]
        return {**_enum_type(values, where), "enum": values}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return {**_enum_type(list(args), where), "enum": list(args)}
    if origin in (Union, types.UnionType):
        members = [_schema(arg, where) for arg in args]
        if all(set(member) == {"type"} for member in members):
            flat: list[str] = []
            for member in members:
                kinds = member["type"]
                flat.extend(kinds if isinstance(kinds, list) else [kinds])
            return {"type": flat}
        return {"anyOf": members}
    if hint in _ARRAYS or origin in _ARRAYS:
        schema: dict[str, Any] = {"type": "array"}
        if args and args[-1] is not Ellipsis:
            schema["items"] = _schema(args[0], where)
        return schema
    if hint in _OBJECTS or origin in _OBJECTS:
        return {"type": "object"}
    raise ConfigError(f"{where}: type {hint!r} cannot be expressed as a tool parameter")


def _enum_type(values: list[Any], where: str) -> dict[str, Any]:
    kinds: list[str] = []
    for value in values:
        kind = _SCALARS.get(type(value))
        if kind is None:
            raise ConfigError(f"{where}: enum values must be str, int, float or bool")
        if kind not in kinds:
            kinds.append(kind)
    return {"type": kinds[0] if len(kinds) == 1 else kinds}


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    if not doc:
        return "", {}
    lines = doc.splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()):
            break
        summary_lines.append(line.strip())
    args: dict[str, str] = {}
    in_args = False
    current: str | None = None
    arg_indent = 0
    for line in lines:
        stripped = line.strip()
        section = _SECTION.match(stripped)
        indent = len(line) - len(line.lstrip())
        if section and indent == 0:
            in_args = section.group(1).lower() in ("args", "arguments", "parameters")
            current = None
            arg_indent = 0
            continue
        if not in_args or not stripped:
            continue
        match = _ARG.match(stripped)
        if match and (current is None or indent <= arg_indent):
            current, arg_indent = match.group(1), indent
            args[current] = match.group(3).strip()
        elif current is not None:
            # A continuation line of the current argument's description.
            args[current] = f"{args[current]} {stripped}".strip()
    return " ".join(summary_lines), args


def tool_to_json(tool: ToolInput) -> dict[str, Any]:
    """Return the wire form of a tool given as a :class:`Tool`, dict or function.

    Args:
        tool: The tool.

    Returns:
        The tool definition as sent in ``tools``.

    Raises:
        ConfigError: The value is none of the accepted kinds, or a function's
            signature cannot be described.
    """
    if isinstance(tool, Tool):
        return tool.to_json()
    if isinstance(tool, Mapping):
        return dict(tool)
    if callable(tool):
        return tool_from_function(tool).to_json()
    raise ConfigError(f"a tool must be a Tool, a dict or a function, not {tool!r}")


def message_to_json(message: MessageInput) -> dict[str, Any]:
    """Return the wire form of a message given as a :class:`Message` or dict.

    Images given as bytes or paths are base64-encoded, tool calls given as
    :class:`ToolCall` objects are converted, and ``None`` values are left out.
    Unknown keys of a dict are sent as given.

    Args:
        message: The message.

    Returns:
        The message as sent in ``messages``.

    Raises:
        ConfigError: The value is neither a Message nor a mapping, or an image
            cannot be read.
    """
    if isinstance(message, Message):
        return message.to_json()
    if not isinstance(message, Mapping):
        raise ConfigError(f"a message must be a Message or a dict, not {message!r}")
    out = {key: value for key, value in message.items() if value is not None}
    if "images" in out:
        out["images"] = [encode_image(image) for image in out["images"]]
    if "tool_calls" in out:
        out["tool_calls"] = [
            call.to_json() if isinstance(call, ToolCall) else call
            for call in out["tool_calls"]
        ]
    return out
