"""Error replies, httpx failures and secrets (httpx.MockTransport)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx
import pytest

from ragkit.errors import (
    ConfigError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    ResponseError,
)
from ragkit.ollama import AsyncClient

if TYPE_CHECKING:
    from conftest import Recorder

SECRET = "sk-very-secret-0123456789"


def test_json_error_becomes_response_error_with_status_and_message(
    recorder: Recorder,
) -> None:
    recorder.json({"error": "top_logprobs must be between 0 and 20"}, status=400)
    with recorder.client() as client, pytest.raises(ResponseError) as info:
        client.chat("m", [], top_logprobs=99)
    assert type(info.value) is ResponseError
    assert info.value.status_code == 400
    assert info.value.error == "top_logprobs must be between 0 and 20"
    assert str(info.value) == "top_logprobs must be between 0 and 20 (status code: 400)"


def test_404_naming_a_model_is_model_not_found_with_pull_hint(
    recorder: Recorder,
) -> None:
    recorder.json({"error": 'model "nomic" not found, try pulling it first'}, 404)
    with recorder.client() as client, pytest.raises(ModelNotFoundError) as info:
        client.embed("nomic", "x")
    assert info.value.status_code == 404
    assert info.value.model == "nomic"
    assert "ollama pull nomic" in str(info.value)


def test_openai_envelope_message_is_used(recorder: Recorder) -> None:
    envelope = {
        "error": {
            "message": "model 'x:latest' not found",
            "type": "not_found_error",
            "param": None,
            "code": None,
        }
    }
    recorder.json(envelope, status=404)
    with recorder.client() as client, pytest.raises(ModelNotFoundError) as info:
        client.openai.model("x")
    assert info.value.error == "model 'x:latest' not found"


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (404, b"404 page not found", "does not offer this endpoint"),
        (405, b"405 method not allowed", "does not offer this endpoint"),
        (401, b'{"error":"unauthorized","signin_url":"https://x"}', "OLLAMA_API_KEY"),
        (403, b"", "refused"),
        (502, b"<html>Bad Gateway</html>", ""),
        (499, b"request canceled", ""),
    ],
)
def test_plain_text_and_unusual_statuses(
    recorder: Recorder, status: int, body: bytes, hint: str
) -> None:
    recorder.reply(httpx.Response(status, content=body))
    with recorder.client() as client, pytest.raises(ResponseError) as info:
        client.show("m")
    assert type(info.value) is ResponseError
    assert info.value.status_code == status
    expected = body.decode() if body and not body.startswith(b"{") else None
    if expected is not None:
        assert info.value.error == expected
    if not body:
        assert info.value.error == "Forbidden"
    assert hint in str(info.value)


def test_success_reply_that_is_not_json_raises_response_error(
    recorder: Recorder,
) -> None:
    recorder.reply(httpx.Response(200, content=b"<html>captive portal</html>"))
    with (
        recorder.client() as client,
        pytest.raises(ResponseError, match="not a JSON object"),
    ):
        client.list()


def test_in_stream_error_keeps_status_200_not_minus_one(recorder: Recorder) -> None:
    recorder.ndjson(
        {
            "model": "m",
            "message": {"role": "assistant", "content": "Hel"},
            "done": False,
        },
        {"error": "runner process terminated"},
    )
    with recorder.client() as client:
        stream = client.chat("m", [], stream=True)
        first = next(stream)
        assert first.message.content == "Hel"
        with pytest.raises(ResponseError) as info:
            next(stream)
    assert info.value.status_code == 200
    assert info.value.error == "runner process terminated"


def test_stream_error_status_before_first_byte_raises_on_first_next(
    recorder: Recorder,
) -> None:
    recorder.json({"error": "model 'm' not found"}, status=404)
    with recorder.client() as client:
        stream = client.generate("m", "x", stream=True)
        assert recorder.requests == []  # lazy: nothing sent yet
        with pytest.raises(ModelNotFoundError):
            next(stream)


def test_blank_lines_in_a_stream_are_tolerated(recorder: Recorder) -> None:
    recorder.ndjson(
        raw=b'\n{"response":"a","done":false}\n\n\r\n{"response":"b","done":true}\n\n'
    )
    with recorder.client() as client:
        text = "".join(c.response for c in client.generate("m", "x", stream=True))
    assert text == "ab"


def test_stream_ending_without_done_raises_connection_error(recorder: Recorder) -> None:
    recorder.ndjson({"response": "a", "done": False})
    with recorder.client() as client:
        stream = client.generate("m", "x", stream=True)
        assert next(stream).response == "a"
        with pytest.raises(OllamaConnectionError, match="ended before its final"):
            next(stream)


@pytest.mark.parametrize(
    ("exc", "expected", "text"),
    [
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            OllamaConnectionError,
            "ollama serve",
        ),
        (httpx.ConnectTimeout("timed out"), OllamaTimeoutError, "connecting"),
        (httpx.ReadTimeout("timed out"), OllamaTimeoutError, "waiting for the reply"),
        (httpx.WriteTimeout("timed out"), OllamaTimeoutError, "sending"),
        (httpx.PoolTimeout("timed out"), OllamaTimeoutError, "free connection"),
        (httpx.ReadError("reset"), OllamaConnectionError, "was lost"),
        (httpx.RemoteProtocolError("peer closed"), OllamaConnectionError, "was lost"),
        (httpx.ProxyError("proxy said no"), OllamaConnectionError, "was lost"),
        (httpx.UnsupportedProtocol("tcp"), ConfigError, "OLLAMA_HOST"),
        (httpx.TooManyRedirects("loop"), OllamaError, "failed"),
        (httpx.DecodingError("bad gzip"), OllamaError, "failed"),
    ],
)
def test_httpx_exceptions_are_translated_with_cause(
    recorder: Recorder, exc: Exception, expected: type[Exception], text: str
) -> None:
    recorder.reply(exc)
    with recorder.client(retries=0) as client, pytest.raises(expected) as info:
        client.version()
    assert not isinstance(info.value, httpx.HTTPError)
    assert info.value.__cause__ is exc
    assert text in str(info.value)


def test_connection_refused_names_the_host_and_what_to_do(recorder: Recorder) -> None:
    recorder.reply(httpx.ConnectError("[Errno 111] Connection refused"))
    with recorder.client(host="127.0.0.1:7000", retries=0) as client:
        with pytest.raises(OllamaConnectionError) as info:
            client.chat("m", [])
    message = str(info.value)
    assert "http://127.0.0.1:7000" in message
    assert "ollama serve" in message and "OLLAMA_HOST" in message
    assert isinstance(info.value, ConnectionError)


def test_timeout_error_is_also_builtin_timeout(recorder: Recorder) -> None:
    recorder.reply(httpx.ReadTimeout("slow"))
    with recorder.client() as client, pytest.raises(TimeoutError):
        client.embed("e", "x")


def test_dropped_connection_mid_stream_is_a_connection_error(
    recorder: Recorder,
) -> None:
    def body() -> object:
        yield b'{"response":"a","done":false}\n'
        raise httpx.RemoteProtocolError("peer closed connection")

    recorder.reply(lambda request: httpx.Response(200, content=body()))  # type: ignore[arg-type]
    with recorder.client() as client:
        stream = client.generate("m", "x", stream=True)
        assert next(stream).response == "a"
        with pytest.raises(OllamaConnectionError, match="was lost"):
            next(stream)


def test_default_timeout_exists(recorder: Recorder) -> None:
    recorder.json({"version": "1"})
    with recorder.client() as client:
        client.version()
    timeout = recorder.last.extensions["timeout"]
    assert timeout["connect"] == 10.0
    assert timeout["read"] == 600.0
    with recorder.client(timeout=None) as client:
        client.version()
    assert recorder.last.extensions["timeout"]["read"] is None


def test_api_key_never_in_repr_errors_or_logs(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder.reply(
        httpx.ConnectError("refused"),
        httpx.Response(503, json={"error": "busy"}),
        httpx.Response(500, json={"error": "boom"}),
    )
    with recorder.client(api_key=SECRET, retries=2) as client:
        assert SECRET not in repr(client)
        assert SECRET not in str(client)
        with pytest.raises(ResponseError) as info:
            client.list()
        assert recorder.last.headers["authorization"] == f"Bearer {SECRET}"
    assert caplog.records, "the retries should have been logged"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    cause = info.value.__cause__
    assert cause is None or SECRET not in str(cause)


def test_api_key_not_in_connection_error(recorder: Recorder) -> None:
    recorder.reply(httpx.ConnectError("refused"))
    with recorder.client(api_key=SECRET, retries=0) as client:
        with pytest.raises(OllamaConnectionError) as info:
            client.list()
    assert SECRET not in str(info.value)
    assert SECRET not in str(info.value.__cause__)


@pytest.mark.anyio
async def test_async_client_repr_hides_key() -> None:
    async with AsyncClient(api_key=SECRET, host="h") as client:
        assert repr(client) == "AsyncClient(host='http://h:11434')"


@pytest.mark.anyio
async def test_async_errors_are_translated(recorder: Recorder) -> None:
    recorder.reply(
        httpx.ReadTimeout("slow"), httpx.Response(400, json={"error": "bad"})
    )
    async with recorder.async_client() as client:
        with pytest.raises(OllamaTimeoutError):
            await client.embed("e", "x")
        with pytest.raises(ResponseError) as info:
            await client.embed("e", "x")
    assert info.value.status_code == 400


@pytest.mark.anyio
async def test_async_stream_in_band_error_and_missing_done(recorder: Recorder) -> None:
    recorder.ndjson(
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    )
    recorder.ndjson({"status": "pulling manifest"})
    async with recorder.async_client() as client:
        stream = await client.pull("nope", stream=True)
        assert (await stream.__anext__()).status == "pulling manifest"
        with pytest.raises(ResponseError) as info:
            await stream.__anext__()
        assert info.value.status_code == 200
        with pytest.raises(OllamaConnectionError):
            async for _ in await client.pull("nope", stream=True):
                pass
