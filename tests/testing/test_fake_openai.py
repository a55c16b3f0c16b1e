"""FakeOllama's OpenAI-compatible ``/v1`` endpoints: shapes, SSE streaming, errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from ragkit.testing import FakeOllama
from ragkit.testing._embedding import embed_text

MESSAGES = [
    {"role": "system", "content": "[1] Paris is the capital of France."},
    {"role": "user", "content": "What is the capital of France?"},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def _events(response: httpx.Response) -> list[Any]:
    """Parse an SSE body: ``data: <json>`` events separated by blank lines."""
    assert response.headers["content-type"] == "text/event-stream"
    blocks = response.text.split("\n\n")
    assert blocks[-1] == ""
    events: list[Any] = []
    for block in blocks[:-1]:
        assert block.startswith("data: ")
        payload = block[len("data: ") :]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_chat_completion(client: httpx.Client) -> None:
    response = client.post(
        "/v1/chat/completions", json={"model": "llama3.2", "messages": MESSAGES}
    )
    assert response.headers["content-type"] == "application/json"
    reply = response.json()
    assert reply["id"].startswith("chatcmpl-")
    assert 0 <= int(reply["id"].split("-")[1]) <= 998
    assert reply["object"] == "chat.completion"
    assert reply["system_fingerprint"] == "fp_ollama"
    (choice,) = reply["choices"]
    assert choice["message"]["role"] == "assistant"
    assert "Paris" in choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = reply["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completion_stream_with_usage(client: httpx.Client) -> None:
    events = _events(
        client.post(
            "/v1/chat/completions",
            json={
                "model": "llama3.2",
                "messages": MESSAGES,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    )
    assert events[-1] == "[DONE]"
    *chunks, usage, _ = events
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:])
    assert len({c["created"] for c in chunks}) == 1
    finish = chunks[-1]["choices"][0]
    assert finish == {"index": 0, "delta": {}, "finish_reason": "stop"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "Paris" in text
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == len(chunks) - 1


def test_chat_completion_stream_without_usage_has_no_usage_chunk(
    client: httpx.Client,
) -> None:
    events = _events(
        client.post(
            "/v1/chat/completions",
            json={"model": "llama3.2", "messages": MESSAGES, "stream": True},
        )
    )
    assert all(e == "[DONE]" or e["choices"] for e in events)


def test_reasoning_goes_to_reasoning_field(client: httpx.Client) -> None:
    body = {"model": "qwen3", "messages": MESSAGES, "reasoning_effort": "high"}
    reply = client.post("/v1/chat/completions", json=body).json()
    assert reply["choices"][0]["message"]["reasoning"]
    none = client.post(
        "/v1/chat/completions", json={**body, "reasoning_effort": "none"}
    ).json()
    assert "reasoning" not in none["choices"][0]["message"]
    nested = client.post(
        "/v1/chat/completions",
        json={"model": "qwen3", "messages": MESSAGES, "reasoning": {"effort": "xhigh"}},
    )
    assert nested.status_code == 200
    streamed = _events(
        client.post("/v1/chat/completions", json={**body, "stream": True})
    )
    reasoning = [e for e in streamed[:-1] if e["choices"][0]["delta"].get("reasoning")]
    assert reasoning


def test_tool_calls_have_string_arguments(client: httpx.Client) -> None:
    body = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "What is the weather in Oslo?"}],
        "tools": [WEATHER_TOOL],
    }
    reply = client.post("/v1/chat/completions", json=body).json()
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["index"] == 0
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    events = _events(client.post("/v1/chat/completions", json={**body, "stream": True}))
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_results_round_trip(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "What is the weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "It is 21 C and sunny."},
    ]
    reply = client.post(
        "/v1/chat/completions",
        json={"model": "llama3.2", "messages": messages, "tools": [WEATHER_TOOL]},
    ).json()
    assert "21 C" in reply["choices"][0]["message"]["content"]


def test_response_format_json_schema(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    reply = client.post(
        "/v1/chat/completions",
        json={
            "model": "llama3.2",
            "messages": MESSAGES,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"schema": schema},
            },
        },
    ).json()
    assert isinstance(
        json.loads(reply["choices"][0]["message"]["content"])["answer"], str
    )
    plain = client.post(
        "/v1/chat/completions",
        json={
            "model": "llama3.2",
            "messages": MESSAGES,
            "response_format": {"type": "json_object"},
        },
    ).json()
    assert isinstance(json.loads(plain["choices"][0]["message"]["content"]), dict)


def test_content_parts_and_images(client: httpx.Client) -> None:
    pixel = base64.b64encode(b"\x89PNG fake").decode()
    reply = client.post(
        "/v1/chat/completions",
        json={
            "model": "llava",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": f"data:image/png;base64,{pixel}"},
                        },
                    ],
                }
            ],
        },
    )
    assert reply.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "kind", "message"),
    [
        (
            {"model": "llama3.2", "messages": []},
            400,
            "invalid_request_error",
            "[] is too short - 'messages'",
        ),
        (
            {"model": "ghost", "messages": MESSAGES},
            404,
            "not_found_error",
            "model 'ghost' not found",
        ),
        (
            {"model": "llama3.2", "messages": MESSAGES, "reasoning_effort": "huge"},
            400,
            "invalid_request_error",
            "invalid reasoning value: 'huge'",
        ),
        (
            {"model": "llama3.2", "messages": [{"role": "user", "content": None}]},
            400,
            "invalid_request_error",
            "invalid message content type: <nil>",
        ),
        (
            {
                "model": "llava",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": "https://x/cat.png"}
                        ],
                    }
                ],
            },
            400,
            "invalid_request_error",
            "image URLs are not currently supported",
        ),
        (
            {
                "model": "llava",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": "ftp://cat"}],
                    }
                ],
            },
            400,
            "invalid_request_error",
            "invalid image input",
        ),
        (
            {
                "model": "llama3.2",
                "messages": [
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {"id": "c", "function": {"name": "f", "arguments": "{bad"}}
                        ],
                    }
                ],
            },
            400,
            "invalid_request_error",
            "invalid tool call arguments",
        ),
    ],
)
def test_chat_completion_errors_use_the_envelope(
    client: httpx.Client, body: dict[str, Any], status: int, kind: str, message: str
) -> None:
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == kind
    assert error["message"].startswith(message)
    assert error["param"] is None and error["code"] is None


def test_sse_stream_error_ends_without_done(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail_next(kind="stream_error", message="runner died")
    events = _events(
        client.post(
            "/v1/chat/completions",
            json={"model": "llama3.2", "messages": MESSAGES, "stream": True},
        )
    )
    assert "[DONE]" not in events
    assert events[-1]["error"]["message"] == "runner died"


def test_completions(client: httpx.Client) -> None:
    reply = client.post(
        "/v1/completions",
        json={"model": "llama3.2", "prompt": "Why is the sky blue?", "max_tokens": 4},
    ).json()
    assert reply["object"] == "text_completion"
    assert reply["id"].startswith("cmpl-")
    (choice,) = reply["choices"]
    assert choice["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] <= 4


def test_completions_stream_carries_finish_reason_on_last_text_chunk(
    client: httpx.Client,
) -> None:
    events = _events(
        client.post(
            "/v1/completions",
            json={
                "model": "llama3.2",
                "prompt": "Why is the sky blue?",
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    )
    *chunks, usage, done = events
    assert done == "[DONE]"
    reasons = [c["choices"][0]["finish_reason"] for c in chunks]
    assert reasons[:-1] == [None] * (len(chunks) - 1)
    assert reasons[-1] == "stop"
    assert chunks[-1]["choices"][0]["text"]
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert all(c["usage"] == zero for c in chunks)
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0


def test_completions_empty_prompt_loads(client: httpx.Client) -> None:
    reply = client.post("/v1/completions", json={"model": "llama3.2", "prompt": ""})
    assert reply.json()["choices"][0]["finish_reason"] == "load"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"model": "llama3.2", "prompt": ["a", "b"]},
            "invalid type for 'prompt' field",
        ),
        (
            {"model": "llama3.2", "prompt": "x", "stop": ["ok", 3]},
            "invalid type for 'stop' field: float64",
        ),
    ],
)
def test_completions_errors(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = client.post("/v1/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)


def test_embeddings_float_and_base64(client: httpx.Client) -> None:
    body = {"model": "all-minilm", "input": ["a cat", ""]}
    reply = client.post("/v1/embeddings", json=body).json()
    assert reply["object"] == "list"
    assert [d["index"] for d in reply["data"]] == [0, 1]
    assert reply["usage"]["prompt_tokens"] == reply["usage"]["total_tokens"]
    floats = np.array(reply["data"][0]["embedding"], dtype=np.float32)
    assert np.array_equal(floats, embed_text("a cat", 384))
    encoded = client.post(
        "/v1/embeddings", json={**body, "encoding_format": "BASE64"}
    ).json()
    decoded = np.frombuffer(
        base64.b64decode(encoded["data"][0]["embedding"]), dtype="<f4"
    )
    assert np.array_equal(decoded, floats)
    reduced = client.post("/v1/embeddings", json={**body, "dimensions": 16}).json()
    assert len(reduced["data"][0]["embedding"]) == 16


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"model": "all-minilm", "input": []}, 400, "invalid input"),
        ({"model": "all-minilm", "input": None}, 400, "invalid input"),
        ({"model": "all-minilm", "input": [1, 2]}, 400, "invalid input type"),
        (
            {"model": "all-minilm", "input": "x", "encoding_format": "hex"},
            400,
            'invalid encoding_format: "hex"; supported values are "float" and "base64"',
        ),
        (
            {"model": "ghost", "input": "x"},
            404,
            'model "ghost" not found, try pulling it first',
        ),
    ],
)
def test_embeddings_errors(
    client: httpx.Client, body: dict[str, Any], status: int, message: str
) -> None:
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == status
    assert response.json()["error"]["message"] == message


def test_models_list_and_single(client: httpx.Client, fake_ollama: FakeOllama) -> None:
    listed = client.get("/v1/models").json()
    assert listed["object"] == "list"
    ids = [entry["id"] for entry in listed["data"]]
    assert "llama3.2:latest" in ids
    entry = listed["data"][0]
    assert entry["object"] == "model" and entry["owned_by"] == "library"
    assert isinstance(entry["created"], int)
    single = client.get("/v1/models/llama3.2").json()
    assert single["id"] == "llama3.2"
    missing = client.get("/v1/models/ghost")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "message": "model 'ghost:latest' not found",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    assert client.get("/v1/models/me/thing").text == "404 page not found"


def test_models_list_is_null_when_empty(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    server = fake_ollama_factory(models=[])
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/v1/models").json() == {"object": "list", "data": None}
        assert client.get("/api/tags").json() == {"models": []}
