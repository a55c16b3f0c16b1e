"""What FakeOllama's endpoint handlers return: JSON, text, empty or streamed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "JSON_TYPE",
    "NDJSON_TYPE",
    "EmptyReply",
    "JsonReply",
    "Reply",
    "Request",
    "Stream",
    "StreamReply",
    "TextReply",
]

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"


@dataclass(frozen=True)
class Request:
    """One request as a handler sees it.

    Attributes:
        method: The HTTP method.
        path: The URL path (no query string).
        route: The route name the stats are counted under, e.g. ``/api/embed``.
        params: Values from the path, e.g. the blob digest.
        body: The raw body bytes.
        headers: The request headers (names lower-cased).
    """

    method: str
    path: str
    route: str
    params: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JsonReply:
    """One JSON object, no trailing newline."""

    body: Any
    status: int = 200
    content_type: str = JSON_TYPE


@dataclass(frozen=True)
class TextReply:
    """A plain-text reply such as ``404 page not found``."""

    text: str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class EmptyReply:
    """A reply without a body (copy, delete, blobs)."""

    status: int = 200


class Stream:
    """Streamed items plus a clean-up that runs exactly once, even if never iterated.

    A plain generator's ``finally`` does not run when it is closed before it
    started, and a model slot must always be given back.
    """

    def __init__(
        self, items: Iterator[Any], on_close: Callable[[], None] | None = None
    ) -> None:
        self._items = items
        self._on_close = on_close
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        return self._items

    def close(self) -> None:
        """Stop the items and run the clean-up."""
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()
        finally:
            if self._on_close is not None:
                self._on_close()


@dataclass(frozen=True)
class StreamReply:
    """A streamed reply: NDJSON lines, or SSE ``data:`` events for ``/v1``.

    Items are JSON values; for SSE the string ``"[DONE]"`` is sent as is.
    ``error_body`` turns an injected in-stream error message into the line sent.
    """

    stream: Stream
    framing: Literal["ndjson", "sse"] = "ndjson"
    error_body: Callable[[str], Any] = field(default=lambda message: {"error": message})


Reply = JsonReply | TextReply | EmptyReply | StreamReply
