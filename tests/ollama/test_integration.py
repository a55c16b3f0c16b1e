"""Every endpoint against FakeOllama over loopback, sync and async, streamed and not."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from ragkit.errors import (
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaTimeoutError,
    ResponseError,
)
from ragkit.ollama import (
    AsyncClient,
    ChatResponse,
    Client,
    GenerateResponse,
    Message,
    ProgressResponse,
)
from ragkit.testing import FakeOllama, RequestRecord

pytestmark = pytest.mark.anyio

CHAT = "llama3.2"
EMBED = "nomic-embed-text"
USER = [{"role": "user", "content": "Why is the sky blue?"}]


class Both:
    """Runs the same call on a sync and an async client against one server."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("backoff", 0.0)
        self.sync = Client(url, **kwargs)
        self.aio = AsyncClient(url, **kwargs)

    async def close(self) -> None:
        self.sync.close()
        await self.aio.aclose()

    async def call(self, path: str, *args: Any, **kwargs: Any) -> list[Any]:
        sync_fn = _resolve(self.sync, path)
        async_fn = _resolve(self.aio, path)
        return [sync_fn(*args, **kwargs), await async_fn(*args, **kwargs)]

    async def stream(self, path: str, *args: Any, **kwargs: Any) -> list[list[Any]]:
        sync_stream = _resolve(self.sync, path)(*args, stream=True, **kwargs)
        with sync_stream:
            sync_items = list(sync_stream)
        async_stream = await _resolve(self.aio, path)(*args, stream=True, **kwargs)
        async with async_stream:
            async_items = [item async for item in async_stream]
        return [sync_items, async_items]

    async def raises(
        self, error: type[Exception], path: str, *args: Any, **kwargs: Any
    ) -> list[Any]:
        stream = kwargs.get("stream", False)
        caught: list[Any] = []
        with pytest.raises(error) as info:
            result = _resolve(self.sync, path)(*args, **kwargs)
            if stream:
                list(result)
        caught.append(info.value)
        with pytest.raises(error) as info:
            result = await _resolve(self.aio, path)(*args, **kwargs)
            if stream:
                async with result:
                    async for _ in result:
                        pass
        caught.append(info.value)
        return caught


def recorded(server: FakeOllama, path: str) -> list[RequestRecord]:
    """The requests to ``path`` in the log (FakeOllama logs before it replies)."""
    return [r for r in server.requests if r.path == path]


def _resolve(client: Any, path: str) -> Any:
    target = client
    for part in path.split("."):
        target = getattr(target, part)
    return target


@pytest.fixture
async def both(fake_ollama: FakeOllama) -> AsyncIterator[Both]:
    pair = Both(fake_ollama.url)
    yield pair
    await pair.close()


# -- native endpoints ----------------------------------------------------------


async def test_generate(both: Both) -> None:
    for reply in await both.call("generate", CHAT, "Hello there"):
        assert isinstance(reply, GenerateResponse)
        assert reply.done and reply.done_reason == "stop"
        assert "Hello there" in reply.response
        assert reply.eval_count and reply.total_seconds is not None


async def test_generate_stream(both: Both) -> None:
    for chunks in await both.stream("generate", CHAT, "Hello there"):
        assert len(chunks) > 2
        assert [c.done for c in chunks] == [False] * (len(chunks) - 1) + [True]
        assert "Hello there" in "".join(c.response for c in chunks)


async def test_generate_empty_prompt_loads_and_unloads(both: Both) -> None:
    loaded = await both.call("generate", CHAT)
    assert [r.done_reason for r in loaded] == ["load", "load"]
    unloaded = await both.stream("generate", CHAT, "", keep_alive=0)
    assert [[c.done_reason for c in s] for s in unloaded] == [["unload"], ["unload"]]


async def test_chat(both: Both) -> None:
    for reply in await both.call("chat", CHAT, USER, options={"temperature": 0}):
        assert isinstance(reply, ChatResponse)
        assert reply.message.role == "assistant"
        assert "sky" in reply.message.content
        assert reply.done


async def test_chat_stream(both: Both) -> None:
    for chunks in await both.stream("chat", CHAT, [Message("user", "Hi there")]):
        assert chunks[-1].done and not chunks[0].done
        assert "Hi there" in "".join(c.message.content for c in chunks)


def add(a: int, b: int) -> int:
    """Add two whole numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


async def test_chat_tool_calls_keep_id_and_index(
    both: Both, fake_ollama: FakeOllama
) -> None:
    question = [{"role": "user", "content": "What is 2+3? use add"}]
    for reply in await both.call("chat", CHAT, question, tools=[add]):
        call = reply.message.tool_calls[0]
        assert call.id and call.id.startswith("call_")
        assert call.function.index == 0
        assert call.function.name == "add"
        assert call.function.arguments == {"a": 2, "b": 3}
    sent = recorded(fake_ollama, "/api/chat")[-1].body
    assert sent["tools"][0]["function"]["parameters"]["required"] == ["a", "b"]
    for chunks in await both.stream("chat", CHAT, question, tools=[add]):
        calls = [tc for c in chunks for tc in (c.message.tool_calls or [])]
        assert calls and calls[0].id and calls[0].function.index == 0
    # The tool result goes back with the call's id.
    reply = (await both.call("chat", CHAT, question, tools=[add]))[0]
    history = [
        *question,
        reply.message,
        Message(
            "tool",
            str(add(**reply.message.tool_calls[0].function.arguments)),
            tool_name="add",
            tool_call_id=reply.message.tool_calls[0].id,
        ),
    ]
    await both.call("chat", CHAT, history, tools=[add])
    sent_history = recorded(fake_ollama, "/api/chat")[-1].body["messages"]
    assert sent_history[1]["tool_calls"][0]["id"] == reply.message.tool_calls[0].id
    assert sent_history[2]["tool_call_id"] == reply.message.tool_calls[0].id


async def test_chat_thinking(both: Both) -> None:
    for reply in await both.call("chat", "qwen3", USER, think=True):
        assert reply.message.thinking


async def test_embed(both: Both) -> None:
    for reply in await both.call("embed", EMBED, ["first text", "second text"]):
        assert reply.model == EMBED
        assert len(reply.embeddings) == 2
        assert all(len(vector) == 768 for vector in reply.embeddings)
        assert abs(sum(x * x for x in reply.embeddings[0]) - 1.0) < 1e-3
    shortened = await both.call("embed", EMBED, "text", dimensions=64)
    assert [len(r.embeddings[0]) for r in shortened] == [64, 64]


async def test_legacy_embeddings(both: Both) -> None:
    for reply in await both.call("embeddings", EMBED, "some text"):
        assert len(reply.embedding) == 768


async def test_list_ps_show_version(both: Both) -> None:
    for listed in await both.call("list"):
        names = [m.name for m in listed.models]
        assert f"{EMBED}:latest" in names and f"{CHAT}:latest" in names
        model = next(m for m in listed.models if m.name == f"{CHAT}:latest")
        assert model.details.parameter_size and model.size and model.digest
    await both.call("embed", EMBED, "load me")
    for running in await both.call("ps"):
        assert any(m.name == f"{EMBED}:latest" for m in running.models)
    for show in await both.call("show", EMBED):
        assert show.embedding_length == 768
        assert show.context_length == 2048
        assert show.num_ctx == 8192
        assert "embedding" in show.capabilities
    for version in await both.call("version"):
        assert version.version == "0.33.0"


async def test_pull_push_create_copy_delete(both: Both) -> None:
    for reply in await both.call("pull", "tinyllama"):
        assert reply.status == "success"
    for progress in await both.stream("pull", "tinyllama"):
        assert progress[0].status == "pulling manifest"
        assert progress[-1].status == "success"
        assert any(p.total for p in progress)
        assert all(isinstance(p, ProgressResponse) for p in progress)
    await both.call("copy", CHAT, "me/copy")
    for reply in await both.call("push", "me/copy"):
        assert reply.status == "success"
    for progress in await both.stream("push", "me/copy"):
        assert progress[-1].status == "success"
    for progress in await both.stream("create", "mine", from_=CHAT, system="Be brief."):
        assert progress[-1].status == "success"
    for reply in await both.call(
        "create", "mine2", from_=CHAT, parameters={"num_ctx": 1024}
    ):
        assert reply.status == "success"
    show = (await both.call("show", "mine2"))[0]
    assert show.num_ctx == 1024
    await both.call("copy", "mine", "mine-copy")
    assert both.sync.delete("mine-copy").status == "success"
    assert (await both.aio.delete("mine2")).status == "success"
    names = [m.name for m in both.sync.list().models]
    assert "mine-copy:latest" not in names and "mine2:latest" not in names
    assert "mine:latest" in names


async def test_blobs(both: Both) -> None:
    data = b"GGUF" + b"\x00" * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert await both.call("blob_exists", digest) == [False, False]
    assert await both.call("create_blob", data) == [digest, digest]
    assert await both.call("blob_exists", digest) == [True, True]


# -- /v1 --------------------------------------------------------------------------


async def test_openai_chat_completions(both: Both) -> None:
    for reply in await both.call("openai.chat_completions", CHAT, USER):
        assert reply.object == "chat.completion"
        assert "sky" in (reply.choices[0].message.content or "")
        assert reply.usage is not None
    for chunks in await both.stream(
        "openai.chat_completions", CHAT, USER, include_usage=True
    ):
        assert chunks[0].choices[0].delta.role == "assistant"
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "sky" in text


async def test_openai_completions(both: Both) -> None:
    for reply in await both.call("openai.completions", CHAT, "Hello there"):
        assert "Hello there" in reply.choices[0].text
    for chunks in await both.stream("openai.completions", CHAT, "Hello there"):
        assert "Hello there" in "".join(c.choices[0].text for c in chunks if c.choices)


async def test_openai_embeddings_and_models(both: Both) -> None:
    for reply in await both.call("openai.embeddings", EMBED, ["a", "b"]):
        assert [d.index for d in reply.data] == [0, 1]
        assert len(reply.data[0].embedding) == 768
    for models in await both.call("openai.models"):
        assert f"{CHAT}:latest" in [m.id for m in models.data]
    for model in await both.call("openai.model", CHAT):
        assert model.id == CHAT and model.owned_by == "library"


# -- error cases -------------------------------------------------------------------


async def test_unknown_model_is_model_not_found(both: Both) -> None:
    for error in await both.raises(ModelNotFoundError, "chat", "missing-model", USER):
        assert error.status_code == 404
        assert "ollama pull missing-model" in str(error)
    await both.raises(ModelNotFoundError, "embed", "missing-model", "x")
    await both.raises(ModelNotFoundError, "show", "missing-model")
    await both.raises(ModelNotFoundError, "generate", "missing-model", "x", stream=True)
    await both.raises(ModelNotFoundError, "openai.model", "missing-model")
    await both.raises(ModelNotFoundError, "delete", "missing-model")


async def test_bad_requests_are_400(both: Both) -> None:
    for error in await both.raises(ResponseError, "chat", EMBED, USER):
        assert error.status_code == 400
        assert "does not support chat" in error.error
    for error in await both.raises(ResponseError, "chat", CHAT, USER, top_logprobs=50):
        assert error.status_code == 400
    for error in await both.raises(ResponseError, "pull", "bad name!"):
        assert error.status_code == 400


async def test_option_type_error_is_500(both: Both) -> None:
    for error in await both.raises(
        ResponseError, "chat", CHAT, USER, options={"stop": "END"}
    ):
        assert error.status_code == 500
        assert "stop" in error.error


async def test_500_in_stream_raises_with_status_200(
    both: Both, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(
        2, "stream_error", endpoint="/api/chat", message="runner died"
    )
    for error in await both.raises(ResponseError, "chat", CHAT, USER, stream=True):
        assert error.status_code == 200
        assert error.error == "runner died"


async def test_pull_failure_in_stream_and_not(both: Both) -> None:
    for error in await both.raises(
        ResponseError, "pull", "nonexistent-model", stream=True
    ):
        assert error.status_code == 200
        assert "file does not exist" in error.error
    for error in await both.raises(ResponseError, "pull", "nonexistent-model"):
        assert error.status_code == 500


async def test_cut_connection_mid_stream(both: Both, fake_ollama: FakeOllama) -> None:
    fake_ollama.fail_next(2, "cut", endpoint="/api/generate")
    await both.raises(OllamaConnectionError, "generate", CHAT, "x", stream=True)
    fake_ollama.fail_next(2, "cut", endpoint="/api/embed")
    await both.raises(OllamaConnectionError, "embed", EMBED, "x")
    fake_ollama.fail_next(2, "drop", endpoint="/api/chat")
    await both.raises(OllamaConnectionError, "chat", CHAT, USER)


async def test_openai_stream_failure(both: Both, fake_ollama: FakeOllama) -> None:
    fake_ollama.fail_next(2, "stream_error", endpoint="/v1/chat/completions")
    await both.raises(ResponseError, "openai.chat_completions", CHAT, USER, stream=True)


async def test_malformed_stream_line(both: Both, fake_ollama: FakeOllama) -> None:
    fake_ollama.fail_next(2, "malformed", endpoint="/api/chat")
    for error in await both.raises(ResponseError, "chat", CHAT, USER, stream=True):
        assert "not JSON" in error.error


async def test_queue_full_chat_is_retried(both: Both, fake_ollama: FakeOllama) -> None:
    fake_ollama.fail_next(2, "503", endpoint="/api/chat")
    replies = await both.call("chat", CHAT, USER)
    assert all(r.done for r in replies)
    records = recorded(fake_ollama, "/api/chat")
    assert [r.status for r in records] == [503, 503, 200, 200]


async def test_500_is_not_retried(both: Both, fake_ollama: FakeOllama) -> None:
    fake_ollama.fail_next(2, "500", endpoint="/api/embed")
    # Had the sync call been retried, it would have used up the second fault
    # and the async call would succeed; both failing proves neither retried.
    await both.raises(ResponseError, "embed", EMBED, "x")
    statuses = [r.status for r in recorded(fake_ollama, "/api/embed")]
    assert statuses == [500, 500]


async def test_server_down() -> None:
    # A bound socket that is not listening refuses connections, and holding it
    # keeps any other test's server from taking the port meanwhile.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        pair = Both(url, retries=1)
        try:
            for error in await pair.raises(OllamaConnectionError, "list"):
                assert url in str(error) and "ollama serve" in str(error)
            await pair.raises(OllamaConnectionError, "chat", CHAT, USER, stream=True)
        finally:
            await pair.close()


async def test_timeout(fake_ollama: FakeOllama) -> None:
    pair = Both(fake_ollama.url, timeout=httpx.Timeout(0.2, connect=5.0))
    fake_ollama.pause()
    try:
        for error in await pair.raises(OllamaTimeoutError, "embed", EMBED, "x"):
            assert "timed out waiting for the reply" in str(error)
    finally:
        fake_ollama.resume()
        await pair.close()


async def test_closing_a_stream_early_frees_the_connection(
    fake_ollama: FakeOllama,
) -> None:
    limits = httpx.Limits(max_connections=1)
    with Client(fake_ollama.url, limits=limits, timeout=5.0) as client:
        for _ in range(3):
            for chunk in client.generate(CHAT, "a long prompt here", stream=True):
                assert not chunk.done
                break
        stream = client.chat(CHAT, USER, stream=True)
        next(stream)
        stream.close()
        # With one pooled connection, this only succeeds if the streams were closed.
        assert client.version().version
    async with AsyncClient(fake_ollama.url, limits=limits, timeout=5.0) as aclient:
        for _ in range(3):
            async with await aclient.chat(CHAT, USER, stream=True) as astream:
                async for _chunk in astream:
                    break
        assert (await aclient.version()).version


def test_host_from_environment(fake_ollama_env: FakeOllama) -> None:
    with Client() as client:
        assert client.host == fake_ollama_env.url
        assert client.version().version == "0.33.0"


def test_stream_is_an_iterator_and_lazy(fake_ollama: FakeOllama) -> None:
    with Client(fake_ollama.url) as client:
        stream = client.chat(CHAT, USER, stream=True)
        assert isinstance(stream, Iterator)
        stream.close()
        client.version()
        recorded(fake_ollama, "/api/version")
        assert fake_ollama.counts("/api/chat") == 0
