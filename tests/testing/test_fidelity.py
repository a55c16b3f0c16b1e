"""The official ollama client drives FakeOllama: every call parses into its types."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import ollama
import pytest

from ragkit.testing import FakeOllama

CONTEXT = (
    "[1] Paris is the capital of France. It lies on the Seine.\n\n"
    "[2] Berlin is the capital of Germany."
)
QUESTION = "What is the capital of France?"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "city name"}},
            "required": ["city"],
        },
    },
}
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "citations": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["answer", "citations"],
}


@pytest.fixture
def client(
    fake_ollama: FakeOllama, tls_context: ssl.SSLContext
) -> Iterator[ollama.Client]:
    with ollama.Client(host=fake_ollama.url, verify=tls_context) as client:
        yield client


@pytest.fixture
async def aclient(
    fake_ollama: FakeOllama, tls_context: ssl.SSLContext
) -> AsyncIterator[ollama.AsyncClient]:
    async with ollama.AsyncClient(host=fake_ollama.url, verify=tls_context) as client:
        yield client


def _messages() -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"Answer from the sources.\n\n{CONTEXT}"},
        {"role": "user", "content": QUESTION},
    ]


# -- generate and chat -----------------------------------------------------


def test_generate(client: ollama.Client) -> None:
    reply = client.generate(model="llama3.2", prompt=f"{CONTEXT}\n\n{QUESTION}")
    assert isinstance(reply, ollama.GenerateResponse)
    assert reply.done is True
    assert reply.done_reason == "stop"
    assert "Paris" in reply.response
    assert reply.eval_count is not None and reply.eval_count > 0
    assert reply.total_duration is not None and reply.total_duration > 0


def test_generate_streamed(client: ollama.Client) -> None:
    parts = list(client.generate(model="llama3.2", prompt=QUESTION, stream=True))
    assert all(isinstance(part, ollama.GenerateResponse) for part in parts)
    assert [part.done for part in parts].count(True) == 1
    assert parts[-1].done
    whole = client.generate(model="llama3.2", prompt=QUESTION).response
    assert "".join(part.response for part in parts) == whole


def test_generate_with_think_and_json_format(client: ollama.Client) -> None:
    reply = client.generate(model="qwen3", prompt=QUESTION, think=True, format="json")
    assert reply.thinking
    assert isinstance(__import__("json").loads(reply.response), dict)


def test_chat(client: ollama.Client) -> None:
    reply = client.chat(model="llama3.2", messages=_messages())
    assert isinstance(reply, ollama.ChatResponse)
    assert reply.message.role == "assistant"
    assert "Paris" in (reply.message.content or "")
    assert reply.done_reason == "stop"
    assert reply.prompt_eval_count is not None and reply.prompt_eval_count > 0


def test_chat_streamed(client: ollama.Client) -> None:
    parts = list(client.chat(model="llama3.2", messages=_messages(), stream=True))
    assert all(isinstance(part, ollama.ChatResponse) for part in parts)
    assert parts[-1].done and parts[-1].done_reason == "stop"
    text = "".join(part.message.content or "" for part in parts)
    assert text == client.chat(model="llama3.2", messages=_messages()).message.content


def test_chat_with_tools(client: ollama.Client) -> None:
    reply = client.chat(
        model="llama3.2",
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],
    )
    calls = reply.message.tool_calls or []
    assert len(calls) == 1
    assert calls[0].function.name == "get_weather"
    assert calls[0].function.arguments == {"city": "Oslo"}


def test_chat_tool_calls_stream(client: ollama.Client) -> None:
    parts = client.chat(
        model="llama3.2",
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    calls = [call for part in parts for call in part.message.tool_calls or []]
    assert [call.function.name for call in calls] == ["get_weather"]


def test_chat_think(client: ollama.Client) -> None:
    reply = client.chat(model="qwen3", messages=_messages(), think="high")
    assert reply.message.thinking
    assert reply.message.content


def test_chat_format_schema(client: ollama.Client) -> None:
    import json

    reply = client.chat(model="llama3.2", messages=_messages(), format=ANSWER_SCHEMA)
    decoded = json.loads(reply.message.content or "")
    assert isinstance(decoded["answer"], str)
    assert isinstance(decoded["citations"], list)


def test_chat_error_statuses_raise_response_error(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="no-such-model", messages=_messages())
    assert missing.value.status_code == 404
    assert missing.value.error == "model 'no-such-model' not found"
    with pytest.raises(ollama.ResponseError) as no_tools:
        client.chat(model="llava", messages=_messages(), tools=[WEATHER_TOOL])
    assert no_tools.value.status_code == 400
    assert "does not support tools" in no_tools.value.error


def test_in_stream_error_raises_with_status_minus_one(
    client: ollama.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="stream_error", message="runner process terminated")
    with pytest.raises(ollama.ResponseError) as failure:
        list(client.chat(model="llama3.2", messages=_messages(), stream=True))
    assert failure.value.status_code == -1
    assert failure.value.error == "runner process terminated"


# -- embeddings ------------------------------------------------------------


def test_embed(client: ollama.Client) -> None:
    reply = client.embed(model="nomic-embed-text", input=["alpha beta", "gamma"])
    assert isinstance(reply, ollama.EmbedResponse)
    assert len(reply.embeddings) == 2
    assert len(reply.embeddings[0]) == 768
    assert reply.prompt_eval_count is not None and reply.prompt_eval_count > 0


def test_embed_with_dimensions_and_truncate(client: ollama.Client) -> None:
    reply = client.embed(
        model="all-minilm", input="word " * 600, truncate=True, dimensions=64
    )
    assert len(reply.embeddings[0]) == 64
    with pytest.raises(ollama.ResponseError) as failure:
        client.embed(model="all-minilm", input="word " * 600, truncate=False)
    assert failure.value.status_code == 400


def test_embeddings(client: ollama.Client) -> None:
    reply = client.embeddings(model="all-minilm", prompt="hello world")
    assert isinstance(reply, ollama.EmbeddingsResponse)
    assert len(reply.embedding) == 384


# -- models ----------------------------------------------------------------


def test_list_show_and_ps(client: ollama.Client) -> None:
    listed = client.list()
    assert isinstance(listed, ollama.ListResponse)
    names = [model.model for model in listed.models]
    assert "llama3.2:latest" in names
    llama = next(m for m in listed.models if m.model == "llama3.2:latest")
    assert llama.details is not None and llama.details.family == "llama"
    assert llama.size is not None and llama.size > 0
    assert llama.modified_at is not None and llama.modified_at.tzinfo is not None

    shown = client.show("llama3.2")
    assert isinstance(shown, ollama.ShowResponse)
    assert shown.modelinfo is not None
    assert shown.modelinfo["llama.context_length"] == 131072
    assert shown.capabilities == ["completion", "tools"]

    assert client.ps().models == []
    client.generate(model="llama3.2", prompt="hi", keep_alive=60.0)
    running = client.ps()
    assert isinstance(running, ollama.ProcessResponse)
    assert [model.model for model in running.models] == ["llama3.2:latest"]
    assert running.models[0].expires_at is not None


def test_pull(client: ollama.Client) -> None:
    done = client.pull("tinyllama")
    assert isinstance(done, ollama.ProgressResponse)
    assert done.status == "success"
    assert "tinyllama:latest" in [model.model for model in client.list().models]


def test_pull_streamed_progress(client: ollama.Client) -> None:
    parts = list(client.pull("smollm:135m", stream=True))
    statuses = [part.status for part in parts]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    progress = [part for part in parts if (part.status or "").startswith("pulling ")]
    assert any(part.completed == part.total for part in progress[1:])


def test_pull_unknown_model_fails(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as streamed:
        list(client.pull("nonexistent-model", stream=True))
    assert streamed.value.status_code == -1
    with pytest.raises(ollama.ResponseError) as plain:
        client.pull("nonexistent-model")
    assert plain.value.status_code == 500
    assert plain.value.error == "pull model manifest: file does not exist"


def test_push(client: ollama.Client) -> None:
    client.copy("llama3.2", "someone/llama3.2:mine")
    assert client.push("someone/llama3.2:mine").status == "success"
    statuses = [p.status for p in client.push("someone/llama3.2:mine", stream=True)]
    assert statuses[0] == "retrieving manifest"
    assert statuses[-1] == "success"
    with pytest.raises(ollama.ResponseError) as failure:
        client.push("someone/absent:latest")
    assert failure.value.status_code == 500


def test_create_from_model_and_blob(client: ollama.Client, tmp_path: Path) -> None:
    done = client.create("pirate", from_="llama3.2", system="Talk like a pirate.")
    assert done.status == "success"
    assert client.show("pirate").modelfile is not None
    blob_file = tmp_path / "model.gguf"
    blob_file.write_bytes(b"GGUF fake weights")
    digest = client.create_blob(blob_file)
    assert digest.startswith("sha256:")
    statuses = [
        part.status
        for part in client.create(
            "from-blob", files={"model.gguf": digest}, quantize="q4_K_M", stream=True
        )
    ]
    assert statuses[0] == "parsing GGUF"
    assert "quantizing F16 model to Q4_K_M" in statuses
    assert statuses[-1] == "success"
    shown = client.show("from-blob")
    assert shown.details is not None
    assert shown.details.quantization_level == "Q4_K_M"


def test_copy_and_delete(client: ollama.Client) -> None:
    assert client.copy("llama3.2", "llama-copy").status == "success"
    assert "llama-copy:latest" in [m.model for m in client.list().models]
    assert client.delete("llama-copy").status == "success"
    assert "llama-copy:latest" not in [m.model for m in client.list().models]
    with pytest.raises(ollama.ResponseError) as failure:
        client.delete("llama-copy")
    assert failure.value.status_code == 404


def test_connection_refused_after_stop(
    fake_ollama: FakeOllama, tls_context: ssl.SSLContext
) -> None:
    url = fake_ollama.url
    fake_ollama.stop()
    with (
        ollama.Client(host=url, verify=tls_context) as client,
        pytest.raises(ConnectionError),
    ):
        client.list()


# -- async -----------------------------------------------------------------


@pytest.mark.anyio
async def test_async_generate_and_chat(aclient: ollama.AsyncClient) -> None:
    reply = await aclient.generate(model="llama3.2", prompt=QUESTION)
    assert isinstance(reply, ollama.GenerateResponse) and reply.done
    parts = [
        part async for part in await aclient.generate("llama3.2", QUESTION, stream=True)
    ]
    assert "".join(p.response for p in parts) == reply.response
    chat = await aclient.chat(model="llama3.2", messages=_messages())
    assert "Paris" in (chat.message.content or "")
    stream = await aclient.chat(
        model="qwen3", messages=_messages(), stream=True, think=True
    )
    chunks = [part async for part in stream]
    assert any(part.message.thinking for part in chunks)
    assert chunks[-1].done


@pytest.mark.anyio
async def test_async_tools_and_format(aclient: ollama.AsyncClient) -> None:
    import json

    reply = await aclient.chat(
        model="qwen3",
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        think=False,
    )
    assert [c.function.name for c in reply.message.tool_calls or []] == ["get_weather"]
    shaped = await aclient.chat(
        model="llama3.2", messages=_messages(), format=ANSWER_SCHEMA
    )
    assert set(json.loads(shaped.message.content or "")) >= {"answer", "citations"}


@pytest.mark.anyio
async def test_async_embeddings(aclient: ollama.AsyncClient) -> None:
    embedded = await aclient.embed(model="all-minilm", input=["a b", "c d"])
    assert [len(vector) for vector in embedded.embeddings] == [384, 384]
    legacy = await aclient.embeddings(model="nomic-embed-text", prompt="a b")
    assert len(legacy.embedding) == 768


@pytest.mark.anyio
async def test_async_model_management(
    aclient: ollama.AsyncClient, tmp_path: Path
) -> None:
    assert isinstance(await aclient.list(), ollama.ListResponse)
    assert (await aclient.show("qwen3")).capabilities == [
        "completion",
        "tools",
        "thinking",
    ]
    assert (await aclient.pull("phi3")).status == "success"
    statuses = [p.status async for p in await aclient.pull("gemma2", stream=True)]
    assert statuses[-1] == "success"
    assert (await aclient.copy("phi3", "phi-copy")).status == "success"
    assert (
        await aclient.create("phi-sys", from_="phi3", system="Be brief.")
    ).status == ("success")
    created = [
        p.status async for p in await aclient.create("phi-2", from_="phi3", stream=True)
    ]
    assert created[-1] == "success"
    blob_file = tmp_path / "weights.gguf"
    blob_file.write_bytes(b"async blob bytes")
    digest = await aclient.create_blob(blob_file)
    assert digest.startswith("sha256:")
    assert (await aclient.push("phi-copy")).status == "success"
    pushed = [p.status async for p in await aclient.push("phi-copy", stream=True)]
    assert pushed[-1] == "success"
    assert (await aclient.delete("phi-copy")).status == "success"
    await aclient.generate(model="phi3", prompt="hello", keep_alive="10m")
    assert [m.model for m in (await aclient.ps()).models] == ["phi3:latest"]
    await aclient.generate(model="phi3", prompt="", keep_alive=0)
    assert (await aclient.ps()).models == []
