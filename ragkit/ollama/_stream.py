"""Incremental NDJSON and SSE decoding, and the iterator objects streamed calls return.

The decoders are pure (bytes in, typed objects out) so the sync and async
clients share them. Both split on ``\\n`` at the byte level, which keeps the
work linear in the size of the stream and, unlike ``str.splitlines``, never
breaks a JSON line at U+0085 or U+2028 inside a string.
"""

from __future__ import annotations

import json
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from ragkit.errors import OllamaConnectionError, ResponseError

__all__ = [
    "AsyncStream",
    "Decoder",
    "LineSplitter",
    "NDJSONDecoder",
    "SSEDecoder",
    "Stream",
    "error_message",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Decoder(Protocol[T_co]):
    """Turns the bytes of a streamed body into typed items."""

    def feed(self, chunk: bytes) -> Iterator[T_co]:
        """Consume one chunk; yield the items it completed."""
        ...

    def close(self) -> Iterator[T_co]:
        """Consume the end of the body; raise if the stream was incomplete."""
        ...


class LineSplitter:
    """Split a byte stream into ``\\n``-terminated lines, keeping a partial tail."""

    def __init__(self) -> None:
        self._tail = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add a chunk and return the lines it completed (without ``\\n``)."""
        end = chunk.rfind(b"\n")
        if end < 0:
            self._tail += chunk
            return []
        if not self._tail and end == len(chunk) - 1:
            # The usual chunk: whole lines, nothing carried over; no copies.
            return chunk[:end].split(b"\n")
        self._tail += chunk[:end]
        lines = bytes(self._tail).split(b"\n")
        self._tail = bytearray(chunk[end + 1 :])
        return lines

    def close(self) -> list[bytes]:
        """Return the last line if the body did not end with ``\\n``."""
        tail, self._tail = bytes(self._tail), bytearray()
        return [tail] if tail else []


def error_message(value: Any) -> str | None:
    """Return the server's message from a JSON error body, or ``None``.

    Handles the native ``{"error": "..."}`` and the OpenAI-compatible
    ``{"error": {"message": "..."}}`` envelopes.
    """
    if not isinstance(value, Mapping) or "error" not in value:
        return None
    error = value["error"]
    if isinstance(error, Mapping):
        message = error.get("message")
        return str(message) if message is not None else json.dumps(error)
    return str(error)


def _short(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


class NDJSONDecoder(Generic[T]):
    """Decode an NDJSON stream from the native API.

    Blank lines are skipped. A line ``{"error": ...}`` raises
    :class:`ResponseError` with the stream's HTTP status (200 once streaming has
    started). A body that ends before a final object (``done: true``, or
    ``status: success`` for progress streams) raises
    :class:`OllamaConnectionError`: the server always sends one, so its absence
    means the connection was cut.

    Args:
        parse: Builds a typed item from one JSON object.
        is_final: Tells whether an object is the last one of a complete stream.
        status_code: The HTTP status of the streamed response.
        where: ``METHOD URL`` for error messages.
    """

    def __init__(
        self,
        parse: Callable[[Mapping[str, Any]], T],
        is_final: Callable[[Mapping[str, Any]], bool],
        *,
        status_code: int,
        where: str,
    ) -> None:
        self._parse = parse
        self._is_final = is_final
        self._status_code = status_code
        self._where = where
        self._lines = LineSplitter()
        self.finished = False

    def feed(self, chunk: bytes) -> Iterator[T]:
        """Consume one chunk; yield the items it completed.

        Items are produced one by one, so the items before an error line reach
        the caller before the error is raised.
        """
        for line in self._lines.feed(chunk):
            if line and not line.isspace():
                yield self._item(line)

    def close(self) -> Iterator[T]:
        """Consume the end of the body; raise if no final object arrived."""
        for line in self._lines.close():
            if line and not line.isspace():
                yield self._item(line)
        if not self.finished:
            raise OllamaConnectionError(
                f"the stream from {self._where} ended before its final message; "
                "the connection to Ollama was probably lost, try again"
            )

    def _item(self, line: bytes) -> T:
        try:
            data = json.loads(line)
        except ValueError:
            raise ResponseError(
                f"the server sent a line that is not JSON: {_short(line)!r}",
                self._status_code,
            ) from None
        # json.loads builds dicts; the exact type check is cheaper than an ABC one.
        if type(data) is not dict:
            raise ResponseError(
                f"the server sent a line that is not a JSON object: {_short(line)!r}",
                self._status_code,
            )
        if "error" in data:
            raise ResponseError(error_message(data) or "", self._status_code)
        if self._is_final(data):
            self.finished = True
        return self._parse(data)


class SSEDecoder(Generic[T]):
    """Decode a server-sent-events stream from the OpenAI-compatible endpoints.

    Each event's ``data:`` is a JSON chunk; ``data: [DONE]`` ends the stream. A
    stream that ends without ``[DONE]`` raises :class:`OllamaConnectionError`
    because the server ends a failed stream that way; an event carrying an
    ``error`` raises :class:`ResponseError` with the stream's status.

    Args:
        parse: Builds a typed item from one JSON object.
        status_code: The HTTP status of the streamed response.
        where: ``METHOD URL`` for error messages.
    """

    def __init__(
        self,
        parse: Callable[[Mapping[str, Any]], T],
        *,
        status_code: int,
        where: str,
    ) -> None:
        self._parse = parse
        self._status_code = status_code
        self._where = where
        self._lines = LineSplitter()
        self._data: list[bytes] = []
        self.finished = False

    def feed(self, chunk: bytes) -> Iterator[T]:
        """Consume one chunk; yield the items it completed."""
        return self._handle(self._lines.feed(chunk))

    def close(self) -> Iterator[T]:
        """Consume the end of the body; raise if ``[DONE]`` never arrived."""
        yield from self._handle([*self._lines.close(), b""])
        if not self.finished:
            raise OllamaConnectionError(
                f"the event stream from {self._where} ended without `data: [DONE]`; "
                "the reply is incomplete (the server failed or the connection "
                "was lost)"
            )

    def _handle(self, lines: list[bytes]) -> Iterator[T]:
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line:
                item = self._dispatch()
                if item is not None:
                    yield item
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            # Comments (":") and the event/id/retry fields carry nothing we use.

    def _dispatch(self) -> T | None:
        if not self._data:
            return None
        payload, self._data = b"\n".join(self._data), []
        if payload.strip() == b"[DONE]":
            self.finished = True
            return None
        if self.finished:
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            raise ResponseError(
                f"the server sent an event that is not JSON: {_short(payload)!r}",
                self._status_code,
            ) from None
        message = error_message(data)
        if message is not None:
            raise ResponseError(message, self._status_code)
        if not isinstance(data, Mapping):
            raise ResponseError(
                f"the server sent an event that is not a JSON object: "
                f"{_short(payload)!r}",
                self._status_code,
            )
        return self._parse(data)


class Stream(Iterator[T]):
    """The iterator a streamed call returns (``stream=True`` on :class:`Client`).

    Nothing is sent until the first item is requested. Leaving a ``for`` loop
    early, calling :meth:`close`, or leaving a ``with`` block closes the HTTP
    response, so the connection goes back to the pool.
    """

    def __init__(self, items: Generator[T, None, None]) -> None:
        self._items = items

    def __iter__(self) -> Stream[T]:
        return self

    def __next__(self) -> T:
        return next(self._items)

    def close(self) -> None:
        """Stop the stream and close its HTTP response."""
        self._items.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncStream(AsyncIterator[T]):
    """The async iterator a streamed call returns on :class:`AsyncClient`.

    Nothing is sent until the first item is requested. Call :meth:`aclose` or
    use ``async with`` to close the HTTP response when stopping early.
    """

    def __init__(self, items: AsyncGenerator[T, None]) -> None:
        self._items = items

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        return await self._items.__anext__()

    async def aclose(self) -> None:
        """Stop the stream and close its HTTP response."""
        await self._items.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
