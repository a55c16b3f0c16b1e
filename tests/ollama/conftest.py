"""Fixtures for the client tests: an httpx.MockTransport recorder; anyio on asyncio."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ragkit.ollama import AsyncClient, Client

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    """Records requests and answers them from a script of replies.

    Each request takes the next scripted reply; the last one repeats. A reply
    may be a response factory, an exception to raise, or a callable.
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._script: list[Callable[[httpx.Request], httpx.Response]] = []

    def reply(self, *replies: Reply) -> Recorder:
        for item in replies:
            self._script.append(_factory(item))
        return self

    def restart(self, *replies: Reply) -> Recorder:
        """Drop the remaining script and the recorded requests; script anew."""
        self._script.clear()
        self.requests.clear()
        return self.reply(*replies)

    def json(self, data: Any, status: int = 200) -> Recorder:
        return self.reply(lambda request: httpx.Response(status, json=data))

    def ndjson(self, *lines: Any, raw: bytes | None = None) -> Recorder:
        body = (
            raw
            if raw is not None
            else b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        )
        return self.reply(
            lambda request: httpx.Response(
                200, content=body, headers={"Content-Type": "application/x-ndjson"}
            )
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self._script:
            return httpx.Response(200, json={})
        factory = self._script.pop(0) if len(self._script) > 1 else self._script[0]
        return factory(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.handler(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    @property
    def body(self) -> Any:
        return json.loads(self.last.content)

    def client(self, **kwargs: Any) -> Client:
        kwargs.setdefault("backoff", 0.0)
        return Client(transport=httpx.MockTransport(self.handler), **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncClient:
        kwargs.setdefault("backoff", 0.0)
        return AsyncClient(transport=httpx.MockTransport(self.async_handler), **kwargs)


def _factory(item: Reply) -> Callable[[httpx.Request], httpx.Response]:
    if isinstance(item, Exception):

        def boom(request: httpx.Request) -> httpx.Response:
            raise item

        return boom
    if isinstance(item, httpx.Response):
        status, content, headers = item.status_code, item.content, item.headers
        return lambda request: httpx.Response(status, content=content, headers=headers)
    return item


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    # Unit tests must not pick up a developer's real settings.
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    yield Recorder()
