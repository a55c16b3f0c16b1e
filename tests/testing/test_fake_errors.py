"""Bad input gets the real server's status and error text, endpoint by endpoint."""

from __future__ import annotations

import http.client
import json
from typing import Any

import httpx
import pytest

from ragkit.testing import FakeModel, FakeOllama
from ragkit.testing._hostcheck import host_allowed


@pytest.fixture(autouse=True)
def _painter(fake_ollama: FakeOllama) -> None:
    fake_ollama.add_model(
        FakeModel(name="painter", capabilities=("image",), template="")
    )


USER = [{"role": "user", "content": "hi"}]

CASES: list[tuple[str, str, Any, int, str]] = [
    # (method, path, JSON body, status, error text)
    ("POST", "/api/generate", {}, 404, "model '' not found"),
    ("POST", "/api/generate", {"model": "a//b"}, 400, "invalid model name"),
    ("POST", "/api/generate", {"model": "ghost"}, 404, "model 'ghost' not found"),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "top_logprobs": 21},
        400,
        "top_logprobs must be between 0 and 20",
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "raw": True, "system": "s"},
        400,
        "raw mode does not support template, system, or context",
    ),
    (
        "POST",
        "/api/generate",
        {"model": "all-minilm", "prompt": "x"},
        400,
        '"all-minilm" does not support generate',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "suffix": "y"},
        400,
        "registry.ollama.ai/library/llama3.2:latest does not support insert",
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "think": True},
        400,
        '"llama3.2" does not support thinking',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "painter", "prompt": "x"},
        400,
        "image generation models are not currently supported",
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "images": ["data:image/png;base64,AA"]},
        400,
        "illegal base64 data at input byte 4",
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": 5},
        400,
        "json: cannot unmarshal number into Go struct field "
        "GenerateRequest.prompt of type string",
    ),
    ("POST", "/api/chat", {}, 400, "model is required"),
    ("POST", "/api/chat", None, 400, "model is required"),
    ("POST", "/api/chat", {"model": "-bad"}, 400, "invalid model name"),
    ("POST", "/api/chat", {"model": "Ghost:v1"}, 404, "model 'Ghost:v1' not found"),
    (
        "POST",
        "/api/chat",
        {"model": "nomic-embed-text", "messages": USER},
        400,
        '"nomic-embed-text" does not support chat',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llava", "messages": USER, "tools": [{"type": "function"}]},
        400,
        "registry.ollama.ai/library/llava:latest does not support tools",
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "think": "high"},
        400,
        '"llama3.2" does not support thinking',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "qwen3", "messages": USER, "think": "extreme"},
        400,
        'invalid think value: "extreme" '
        '(must be "high", "medium", "low", "max", true, or false)',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "top_logprobs": -1},
        400,
        "top_logprobs must be between 0 and 20",
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "format": "yaml"},
        500,
        'invalid format: "yaml"; expected "json" or a valid JSON Schema object',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "format": [1]},
        500,
        'invalid format: [1]; expected "json" or a valid JSON Schema object',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "options": {"stop": "END"}},
        500,
        'option "stop" must be of type array',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "options": {"temperature": "hot"}},
        500,
        'option "temperature" must be of type float',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "keep_alive": "300"},
        400,
        'time: missing unit in duration "300"',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "keep_alive": True},
        400,
        "Unsupported type: 'bool'",
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": "hi"},
        400,
        "json: cannot unmarshal string into Go struct field "
        "ChatRequest.messages of type []interface {}",
    ),
    (
        "POST",
        "/api/chat",
        [1, 2],
        400,
        "json: cannot unmarshal array into Go value of type api.ChatRequest",
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "top_logprobs": 1.5},
        400,
        "json: cannot unmarshal number 1.5 into Go struct field "
        "ChatRequest.top_logprobs of type int",
    ),
    ("POST", "/api/embed", {"input": "x"}, 404, "model '' not found"),
    (
        "POST",
        "/api/embed",
        {"model": "ghost", "input": "x"},
        404,
        'model "ghost" not found, try pulling it first',
    ),
    (
        "POST",
        "/api/embed",
        {"model": "all-minilm", "input": ["ok", 3]},
        400,
        "invalid input type",
    ),
    (
        "POST",
        "/api/embed",
        {"model": "all-minilm", "input": 3},
        400,
        "invalid input type",
    ),
    (
        "POST",
        "/api/embed",
        {"model": "all-minilm", "input": "word " * 600, "truncate": False},
        400,
        "the input length exceeds the context length",
    ),
    (
        "POST",
        "/api/embed",
        {
            "model": "all-minilm",
            "input": "one two three four five",
            "truncate": False,
            "options": {"num_ctx": 3},
        },
        400,
        "the input length exceeds the context length",
    ),
    ("POST", "/api/embeddings", {"prompt": "x"}, 400, "model is required"),
    (
        "POST",
        "/api/embeddings",
        {"model": "ghost", "prompt": "x"},
        404,
        'model "ghost" not found, try pulling it first',
    ),
    ("POST", "/api/show", {}, 400, "model is required"),
    ("POST", "/api/show", {"model": "ghost"}, 404, "model 'ghost:latest' not found"),
    ("POST", "/api/show", {"model": "a:b:c"}, 400, "invalid model name"),
    ("POST", "/api/pull", {}, 400, "invalid model name"),
    ("POST", "/api/pull", {"model": "bad name"}, 400, "invalid model name"),
    ("POST", "/api/push", {}, 400, "model is required"),
    (
        "POST",
        "/api/create",
        {"model": "x@y", "from": "llama3.2"},
        400,
        "invalid model name",
    ),
    (
        "POST",
        "/api/create",
        {"model": "mine", "files": {"/etc/model.gguf": "sha256:" + "a" * 64}},
        400,
        "file path must be relative",
    ),
    (
        "POST",
        "/api/create",
        {"model": "mine", "files": {"../model.gguf": "sha256:" + "a" * 64}},
        400,
        "file path must be relative",
    ),
    (
        "POST",
        "/api/create",
        {"model": "mine", "files": {"model.gguf": ""}},
        400,
        "invalid digest format",
    ),
    (
        "POST",
        "/api/create",
        {"model": "mine"},
        400,
        "neither 'from' or 'files' was specified",
    ),
    (
        "POST",
        "/api/create",
        {"model": "mine", "from": "a//b"},
        400,
        "invalid model name",
    ),
    (
        "POST",
        "/api/create",
        {"model": "mine", "from": "llama3.2", "quantize": "q8_0", "stream": False},
        500,
        "quantization is only supported for F16, BF16 and F32 models",
    ),
    (
        "POST",
        "/api/copy",
        {"source": "a//b", "destination": "x"},
        400,
        'source "a//b" is invalid',
    ),
    (
        "POST",
        "/api/copy",
        {"source": "llama3.2", "destination": "-x"},
        400,
        'destination "-x" is invalid',
    ),
    (
        "POST",
        "/api/copy",
        {"source": "ghost", "destination": "x"},
        404,
        'model "ghost" not found',
    ),
    ("DELETE", "/api/delete", {}, 400, "model is required"),
    ("DELETE", "/api/delete", {"model": "a//b"}, 400, 'name "a//b" is invalid'),
    ("DELETE", "/api/delete", {"model": "ghost"}, 404, "model 'ghost' not found"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    CASES,
    ids=[f"{case[1]}-{case[4][:40]}" for case in CASES],
)
def test_error_status_and_body(
    client: httpx.Client,
    method: str,
    path: str,
    body: Any,
    status: int,
    error: str,
) -> None:
    response = client.request(method, path, content=json.dumps(body).encode())
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"error": error}


@pytest.mark.parametrize(
    "path",
    [
        "/api/generate",
        "/api/chat",
        "/api/embed",
        "/api/embeddings",
        "/api/show",
        "/api/pull",
        "/api/push",
        "/api/create",
        "/api/copy",
    ],
)
def test_empty_body_is_missing_request_body(client: httpx.Client, path: str) -> None:
    response = client.post(path)
    assert response.status_code == 400
    assert response.json() == {"error": "missing request body"}


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"{not json", "invalid character 'n' looking for beginning of value"),
        (b'{"model": "llama3.2"', "unexpected EOF"),
        (b"\xff\xfe", "invalid character in request body"),
    ],
)
def test_invalid_json_is_400_with_an_error_body(
    client: httpx.Client, raw: bytes, error: str
) -> None:
    response = client.post("/api/chat", content=raw)
    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_unknown_path_is_plain_404(client: httpx.Client) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.text == "404 page not found"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/chat"),
        ("POST", "/api/delete"),
        ("POST", "/api/tags"),
        ("DELETE", "/api/version"),
        ("PUT", "/api/embed"),
        ("GET", f"/api/blobs/sha256:{'0' * 64}"),
        ("POST", "/v1/models"),
    ],
)
def test_wrong_method_is_plain_405(
    client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.text == "405 method not allowed"


def test_handler_crash_is_a_json_500_not_a_traceback(
    fake_ollama: FakeOllama, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    # A model whose embedding dimension is invalid makes the embedder raise.
    fake_ollama.add_model(FakeModel(name="broken", kind="embedding", dimension=0))
    response = client.post("/api/embed", json={"model": "broken", "input": "x"})
    assert response.status_code == 500
    assert response.json()["error"].startswith("internal error:")
    assert "Traceback" not in response.text
    # The server stays usable after the failure.
    assert client.get("/api/version").status_code == 200


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example.com", 403),
        ("evil.example.com:11434", 403),
        ("8.8.8.8", 403),
        ("localhost:11434", 200),
        ("ollama.local", 200),
        ("box.internal:80", 200),
        ("192.168.1.20:11434", 200),
        ("[::1]:11434", 200),
    ],
)
def test_a_host_header_that_is_not_local_gets_an_empty_403(
    fake_ollama: FakeOllama, host: str, status: int
) -> None:
    # What a web page reaching the server through a rebound DNS name gets.
    connection = http.client.HTTPConnection(fake_ollama.host, fake_ollama.port)
    try:
        connection.request("GET", "/api/version", headers={"Host": host})
        reply = connection.getresponse()
        body = reply.read()
    finally:
        connection.close()
    assert reply.status == status
    if status == 403:
        assert body == b""
        assert fake_ollama.requests[-1].status == 403


def test_host_allowed_checks_names_only_on_loopback() -> None:
    assert host_allowed("evil.example.com", "0.0.0.0")
    assert host_allowed(None, "127.0.0.1")
    assert not host_allowed("evil.example.com", "localhost")
