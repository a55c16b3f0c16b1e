"""Retries: only where resending is safe (httpx.MockTransport)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ragkit.errors import OllamaConnectionError, OllamaTimeoutError, ResponseError
from ragkit.ollama import Client
from ragkit.ollama._base import backoff_delay

if TYPE_CHECKING:
    from conftest import Recorder

QUEUE_FULL = "server busy, please try again.  maximum pending requests exceeded"
REFUSED = httpx.ConnectError("[Errno 111] Connection refused")
CHAT_OK = {"message": {"role": "assistant", "content": "ok"}, "done": True}

Call = Callable[[Client], Any]

IDEMPOTENT: list[Call] = [
    lambda c: c.embed("e", "x"),
    lambda c: c.embeddings("e", "x"),
    lambda c: c.show("m"),
    lambda c: c.list(),
    lambda c: c.ps(),
    lambda c: c.version(),
    lambda c: c.blob_exists("sha256:" + "0" * 64),
    lambda c: c.openai.models(),
    lambda c: c.openai.embeddings("e", "x"),
]
NON_IDEMPOTENT: list[Call] = [
    lambda c: c.generate("m", "x"),
    lambda c: c.chat("m", []),
    lambda c: c.create("n", from_="m"),
    lambda c: c.push("ns/m"),
    lambda c: c.pull("m"),
    lambda c: c.copy("a", "b"),
    lambda c: c.delete("a"),
    lambda c: c.create_blob(b"x"),
    lambda c: c.openai.chat_completions("m", []),
]


def ok(request: httpx.Request) -> httpx.Response:
    body = {**CHAT_OK, "status": "success", "models": [], "model_info": {}}
    return httpx.Response(200, json=body)


@pytest.mark.parametrize("call", IDEMPOTENT + NON_IDEMPOTENT)
def test_connection_refused_is_retried_for_every_call(
    recorder: Recorder, call: Call
) -> None:
    recorder.reply(REFUSED, REFUSED, ok)
    with recorder.client(retries=2) as client:
        call(client)
    assert len(recorder.requests) == 3


def test_connection_refused_gives_up_after_the_configured_retries(
    recorder: Recorder,
) -> None:
    recorder.reply(REFUSED)
    with recorder.client(retries=3) as client, pytest.raises(OllamaConnectionError):
        client.list()
    assert len(recorder.requests) == 4


def test_retries_zero_turns_retrying_off(recorder: Recorder) -> None:
    recorder.reply(REFUSED, ok)
    with recorder.client(retries=0) as client, pytest.raises(OllamaConnectionError):
        client.list()
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("call", IDEMPOTENT)
def test_503_is_retried_for_idempotent_calls(recorder: Recorder, call: Call) -> None:
    recorder.reply(httpx.Response(503, json={"error": "overloaded"}), ok)
    with recorder.client() as client:
        call(client)
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("call", NON_IDEMPOTENT)
def test_other_503s_are_not_retried_for_non_idempotent_calls(
    recorder: Recorder, call: Call
) -> None:
    recorder.reply(httpx.Response(503, json={"error": "upstream unavailable"}), ok)
    with recorder.client() as client, pytest.raises(ResponseError) as info:
        call(client)
    assert info.value.status_code == 503
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("call", NON_IDEMPOTENT)
def test_queue_full_503_is_retried_even_for_non_idempotent_calls(
    recorder: Recorder, call: Call
) -> None:
    recorder.reply(httpx.Response(503, json={"error": QUEUE_FULL}), ok)
    with recorder.client() as client:
        call(client)
    assert len(recorder.requests) == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("closed"),
        httpx.Response(500, json={"error": "boom"}),
        httpx.Response(429, json={"error": "slow down"}),
    ],
)
def test_nothing_else_is_retried(recorder: Recorder, failure: Any) -> None:
    recorder.reply(failure, ok)
    with recorder.client(retries=5) as client:
        with pytest.raises((ResponseError, OllamaConnectionError, OllamaTimeoutError)):
            client.embed("e", "x")
    assert len(recorder.requests) == 1


def test_streams_retry_before_the_first_byte(recorder: Recorder) -> None:
    recorder.reply(
        REFUSED,
        httpx.Response(503, json={"error": QUEUE_FULL}),
        httpx.Response(200, content=b'{"response":"x","done":true}\n'),
    )
    with recorder.client(retries=2) as client:
        chunks = list(client.generate("m", "x", stream=True))
    assert [c.response for c in chunks] == ["x"]
    assert len(recorder.requests) == 3


@pytest.mark.anyio
async def test_async_client_retries_the_same_way(recorder: Recorder) -> None:
    recorder.reply(REFUSED, httpx.Response(503, json={"error": "x"}), ok)
    async with recorder.async_client(retries=2) as client:
        await client.list()
        assert len(recorder.requests) == 3
        recorder.restart(httpx.Response(503, json={"error": "x"}), ok)
        with pytest.raises(ResponseError):
            await client.chat("m", [])
        assert len(recorder.requests) == 1


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    assert backoff_delay(0, 0.5, rng=lambda: 0.0) == 0.25
    assert backoff_delay(0, 0.5, rng=lambda: 0.999) < 0.5
    assert backoff_delay(3, 0.5, rng=lambda: 0.0) == 2.0
    assert backoff_delay(20, 0.5, cap=30.0, rng=lambda: 0.0) == 15.0
    for attempt in range(8):
        # Past 2**5 s the nominal delay is capped at 30 s (default cap).
        ceiling = min(30.0, 2.0**attempt)
        for _ in range(200):
            delay = backoff_delay(attempt, 1.0)
            assert ceiling / 2 <= delay <= ceiling


def test_retries_are_logged_without_secrets(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.reply(REFUSED, ok)
    with caplog.at_level("INFO", logger="ragkit.ollama"):
        with recorder.client(api_key="sk-secret-1") as client:
            client.list()
    messages = [record.getMessage() for record in caplog.records]
    assert any("retrying GET /api/tags" in message for message in messages)
    assert not any("sk-secret-1" in message for message in messages)
