"""The exact requests sent for every endpoint (httpx.MockTransport)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from ragkit.errors import ConfigError
from ragkit.ollama import Client, Message, Options, ToolCall, ToolCallFunction

if TYPE_CHECKING:
    from conftest import Recorder

FINAL_CHAT = {
    "model": "m",
    "message": {"role": "assistant", "content": "ok"},
    "done": True,
}


def test_generate_sends_every_field_and_numbers_as_numbers(recorder: Recorder) -> None:
    recorder.json({"model": "m", "response": "hi", "done": True})
    with recorder.client() as client:
        reply = client.generate(
            "m",
            "Why?",
            suffix="end",
            system="sys",
            template="{{ .Prompt }}",
            context=[1, 2],
            raw=False,
            images=[b"\x01\x02"],
            format={"type": "object"},
            options=Options(temperature=0.1, num_ctx=2048),
            keep_alive=0,
            think="high",
            truncate=False,
            shift=True,
            logprobs=True,
            top_logprobs=3,
        )
    assert reply.response == "hi"
    request = recorder.last
    assert request.method == "POST"
    assert request.url.path == "/api/generate"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "m",
        "prompt": "Why?",
        "suffix": "end",
        "system": "sys",
        "template": "{{ .Prompt }}",
        "context": [1, 2],
        "raw": False,
        "images": ["AQI="],
        "format": {"type": "object"},
        "options": {"temperature": 0.1, "num_ctx": 2048},
        "keep_alive": 0,
        "think": "high",
        "truncate": False,
        "shift": True,
        "logprobs": True,
        "top_logprobs": 3,
        "stream": False,
    }


def test_generate_minimal_body_omits_none(recorder: Recorder) -> None:
    recorder.json({"done": True, "done_reason": "load"})
    with recorder.client() as client:
        assert client.generate("m").done_reason == "load"
    assert recorder.body == {"model": "m", "prompt": "", "stream": False}


def test_chat_sends_messages_tools_and_keeps_tool_call_ids(recorder: Recorder) -> None:
    recorder.json(FINAL_CHAT)

    def add(a: int, b: int) -> int:
        """Add two numbers.

        Args:
            a: First.
            b: Second.
        """
        return a + b

    messages = [
        {"role": "user", "content": "2+2?"},
        Message(
            "assistant",
            "",
            tool_calls=[
                ToolCall(
                    id="call_abc12345",
                    function=ToolCallFunction(name="add", arguments={"a": 2}, index=0),
                )
            ],
        ),
        Message("tool", "4", tool_name="add", tool_call_id="call_abc12345"),
    ]
    with recorder.client() as client:
        client.chat(
            "m",
            messages,
            tools=[add],
            format="json",
            options={"seed": 1},
            keep_alive=timedelta(minutes=5),
            think=False,
            logprobs=False,
            top_logprobs=0,
            truncate=True,
            shift=False,
        )
    body = recorder.body
    assert body["messages"][1]["tool_calls"] == [
        {
            "id": "call_abc12345",
            "function": {"index": 0, "name": "add", "arguments": {"a": 2}},
        }
    ]
    assert body["messages"][2] == {
        "role": "tool",
        "content": "4",
        "tool_name": "add",
        "tool_call_id": "call_abc12345",
    }
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two numbers.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "a": {"type": "integer", "description": "First."},
                        "b": {"type": "integer", "description": "Second."},
                    },
                    "required": ["a", "b"],
                },
            },
        }
    ]
    assert {key: body[key] for key in body if key not in ("messages", "tools")} == {
        "model": "m",
        "format": "json",
        "options": {"seed": 1},
        "keep_alive": 300,
        "think": False,
        "logprobs": False,
        "top_logprobs": 0,
        "truncate": True,
        "shift": False,
        "stream": False,
    }


def test_chat_stream_sends_stream_true(recorder: Recorder) -> None:
    recorder.ndjson(FINAL_CHAT)
    with recorder.client() as client:
        chunks = list(client.chat("m", [], stream=True))
    assert recorder.body == {"model": "m", "messages": [], "stream": True}
    assert chunks[0].done


def test_embed_body(recorder: Recorder) -> None:
    recorder.json({"model": "e", "embeddings": [[1.0], [0.0]]})
    with recorder.client() as client:
        client.embed(
            "e",
            ("a", "b"),
            truncate=False,
            dimensions=64,
            options={"num_ctx": 512},
            keep_alive="10m",
        )
        client.embed("e", "just one")
    first = json.loads(recorder.requests[0].content)
    assert first == {
        "model": "e",
        "input": ["a", "b"],
        "truncate": False,
        "dimensions": 64,
        "options": {"num_ctx": 512},
        "keep_alive": "10m",
    }
    assert recorder.body == {"model": "e", "input": "just one"}


def test_legacy_embeddings_body(recorder: Recorder) -> None:
    recorder.json({"embedding": [0.5, -1.2]})
    with recorder.client() as client:
        reply = client.embeddings("e", "text", options={"seed": 2}, keep_alive=-1)
    assert reply.embedding == [0.5, -1.2]
    assert recorder.body == {
        "model": "e",
        "prompt": "text",
        "options": {"seed": 2},
        "keep_alive": -1,
    }


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (lambda c: c.list(), "GET", "/api/tags"),
        (lambda c: c.ps(), "GET", "/api/ps"),
        (lambda c: c.version(), "GET", "/api/version"),
        (lambda c: c.openai.models(), "GET", "/v1/models"),
        (
            lambda c: c.openai.model("llama3.2:latest"),
            "GET",
            "/v1/models/llama3.2:latest",
        ),
    ],
)
def test_bodyless_gets(recorder: Recorder, call, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    recorder.json({"models": [], "version": "0.33.0", "data": None, "id": "x"})
    with recorder.client() as client:
        call(client)
    assert recorder.last.method == method
    assert recorder.last.url.path == path
    assert recorder.last.content == b""
    assert "content-type" not in recorder.last.headers


def test_show_sends_verbose_only_when_true(recorder: Recorder) -> None:
    recorder.json({"model_info": {}})
    with recorder.client() as client:
        client.show("m")
        assert recorder.body == {"model": "m"}
        client.show("m", verbose=True)
        assert recorder.body == {"model": "m", "verbose": True}


def test_pull_and_push_bodies(recorder: Recorder) -> None:
    recorder.json({"status": "success"})
    with recorder.client() as client:
        assert client.pull("m").status == "success"
        assert recorder.body == {"model": "m", "stream": False}
        client.push("ns/m:tag", insecure=True)
        assert recorder.last.url.path == "/api/push"
        assert recorder.body == {"model": "ns/m:tag", "insecure": True, "stream": False}


def test_create_body_uses_from_and_converts_parameters(recorder: Recorder) -> None:
    recorder.json({"status": "success"})
    with recorder.client() as client:
        client.create(
            "mine",
            from_="llama3.2",
            files={"model.gguf": "sha256:" + "a" * 64},
            adapters={"lora.gguf": "sha256:" + "b" * 64},
            template="T",
            license=["MIT", "Apache"],
            system="S",
            parameters=Options(temperature=0.2, stop=["###"]),
            messages=[{"role": "user", "content": "hi"}],
            quantize="q4_K_M",
            renderer="r",
            parser="p",
            requires="0.12",
            remote_host="http://127.0.0.1:11500",
            info={"family": "llama"},
            draft_files={"draft.gguf": "sha256:" + "c" * 64},
            draft_quantize="q8_0",
        )
    assert recorder.body == {
        "model": "mine",
        "from": "llama3.2",
        "files": {"model.gguf": "sha256:" + "a" * 64},
        "adapters": {"lora.gguf": "sha256:" + "b" * 64},
        "template": "T",
        "license": ["MIT", "Apache"],
        "system": "S",
        "parameters": {"temperature": 0.2, "stop": ["###"]},
        "messages": [{"role": "user", "content": "hi"}],
        "quantize": "q4_K_M",
        "renderer": "r",
        "parser": "p",
        "requires": "0.12",
        "remote_host": "http://127.0.0.1:11500",
        "info": {"family": "llama"},
        "draft_files": {"draft.gguf": "sha256:" + "c" * 64},
        "draft_quantize": "q8_0",
        "stream": False,
    }


def test_copy_and_delete_accept_empty_success_bodies(recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, content=b""))
    with recorder.client() as client:
        assert client.copy("a", "b").status == "success"
        assert recorder.last.url.path == "/api/copy"
        assert recorder.body == {"source": "a", "destination": "b"}
        assert client.delete("b").status == "success"
    assert recorder.last.method == "DELETE"
    assert recorder.last.url.path == "/api/delete"
    assert recorder.body == {"model": "b"}


def test_blob_exists_uses_head_and_maps_404_to_false(recorder: Recorder) -> None:
    digest = "sha256:" + "c" * 64
    recorder.reply(httpx.Response(200), httpx.Response(404))
    with recorder.client() as client:
        assert client.blob_exists(digest) is True
        assert client.blob_exists(digest) is False
    assert recorder.last.method == "HEAD"
    assert recorder.last.url.path == f"/api/blobs/{digest}"


def test_create_blob_from_bytes_and_from_a_file(
    recorder: Recorder, tmp_path: Path
) -> None:
    data = b"GGUF" + bytes(range(256)) * 5000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    recorder.reply(httpx.Response(201))
    with recorder.client() as client:
        assert client.create_blob(data) == digest
        assert recorder.last.content == data
        assert client.create_blob(path) == digest
        assert client.create_blob(str(path)) == digest
    request = recorder.last
    assert request.method == "POST"
    assert request.url.path == f"/api/blobs/{digest}"
    assert request.headers["content-type"] == "application/octet-stream"
    assert request.headers["content-length"] == str(len(data))
    assert request.read() == data


def test_create_blob_of_a_missing_file_is_a_config_error(
    recorder: Recorder, tmp_path: Path
) -> None:
    with recorder.client() as client, pytest.raises(ConfigError, match="cannot read"):
        client.create_blob(tmp_path / "nope.gguf")
    assert recorder.requests == []


def test_openai_bodies(recorder: Recorder) -> None:
    recorder.json({"id": "x", "choices": [], "data": []})
    with recorder.client() as client:
        client.openai.chat_completions(
            "m",
            [{"role": "user", "content": "hi"}],
            max_tokens=5,
            temperature=0.0,
            top_p=0.5,
            seed=3,
            stop="END",
            frequency_penalty=0.1,
            presence_penalty=0.2,
            response_format={"type": "json_object"},
            reasoning_effort="low",
            logprobs=True,
            top_logprobs=2,
            extra_body={"user": "u"},
        )
        assert recorder.last.url.path == "/v1/chat/completions"
        assert recorder.body == {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": False,
            "max_tokens": 5,
            "temperature": 0.0,
            "top_p": 0.5,
            "seed": 3,
            "stop": "END",
            "frequency_penalty": 0.1,
            "presence_penalty": 0.2,
            "response_format": {"type": "json_object"},
            "reasoning_effort": "low",
            "logprobs": True,
            "top_logprobs": 2,
            "user": "u",
        }
        client.openai.completions("m", "2+2=", suffix="!", stop=["\n"], logprobs=2)
        assert recorder.body == {
            "model": "m",
            "prompt": "2+2=",
            "stream": False,
            "suffix": "!",
            "stop": ["\n"],
            "logprobs": 2,
        }
        client.openai.embeddings("e", ["a"], dimensions=8, encoding_format="base64")
        assert recorder.body == {
            "model": "e",
            "input": ["a"],
            "dimensions": 8,
            "encoding_format": "base64",
        }


def test_openai_stream_sends_stream_options_only_when_asked(recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(
            200,
            content=b'data: {"choices":[]}\n\ndata: [DONE]\n\n',
            headers={"Content-Type": "text/event-stream"},
        )
    )
    with recorder.client() as client:
        list(client.openai.chat_completions("m", [], stream=True, include_usage=True))
        assert recorder.body["stream_options"] == {"include_usage": True}
        list(client.openai.completions("m", "x", stream=True))
        assert "stream_options" not in recorder.body
        assert recorder.body["stream"] is True


def test_path_prefix_from_host_is_kept(recorder: Recorder) -> None:
    recorder.json({"version": "1"})
    with recorder.client(host="https://proxy.example/ollama/") as client:
        client.version()
    assert str(recorder.last.url) == "https://proxy.example/ollama/api/version"


def test_default_headers_and_caller_overrides(recorder: Recorder) -> None:
    recorder.json({"version": "1"})
    with recorder.client(api_key="sk-test") as client:
        client.version()
    headers = recorder.last.headers
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("ragkit/")
    with recorder.client(
        headers={"User-Agent": "mine/1", "authorization": "Token t"}, api_key="k"
    ) as client:
        client.version()
    assert recorder.last.headers["user-agent"] == "mine/1"
    assert recorder.last.headers.get_list("authorization") == ["Token t"]


def test_api_key_from_environment(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "env-key")
    recorder.json({"version": "1"})
    with recorder.client() as client:
        client.version()
    assert recorder.last.headers["authorization"] == "Bearer env-key"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.chat("", []),
        lambda c: c.embed(" ", "x"),
        lambda c: c.chat("m", [], keep_alive="300"),
        lambda c: c.embed("m", "x", keep_alive=True),
        lambda c: c.chat("m", {"role": "user", "content": "x"}),
        lambda c: c.chat("m", [{"role": "user"}], options=[1]),
        lambda c: c.generate("m", "x", format={"bad": float("nan")}),
        lambda c: c.generate("m", "x", format={"bad": object()}),
        lambda c: c.chat("m", [], stream=True, keep_alive="1 hour"),
        lambda c: c.openai.chat_completions("", []),
        lambda c: c.openai.chat_completions("m", {"role": "user"}),
    ],
)
def test_bad_arguments_fail_before_anything_is_sent(recorder: Recorder, call) -> None:  # type: ignore[no-untyped-def]
    with recorder.client() as client, pytest.raises(ConfigError):
        call(client)
    assert recorder.requests == []


def test_bad_client_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        Client(retries=-1)
    with pytest.raises(ConfigError):
        Client(backoff=-0.1)


@pytest.mark.anyio
async def test_async_client_sends_the_same_bodies(
    recorder: Recorder, tmp_path: Path
) -> None:
    recorder.json(FINAL_CHAT)
    async with recorder.async_client() as client:
        await client.chat("m", [{"role": "user", "content": "x"}], keep_alive=1.5)
        assert recorder.body == {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "keep_alive": 1.5,
            "stream": False,
        }
        path = tmp_path / "blob.bin"
        path.write_bytes(b"abc" * 1000)
        digest = await client.create_blob(path)
    assert digest == "sha256:" + hashlib.sha256(b"abc" * 1000).hexdigest()
    assert recorder.last.content == b"abc" * 1000
