"""FakeOllama's core endpoints over loopback: liveness, models, embed, chat."""

from __future__ import annotations

import json

import httpx
import numpy as np

from ragkit.testing import FakeOllama
from ragkit.testing._embedding import embed_text


def test_liveness_and_version(client: httpx.Client) -> None:
    assert client.get("/").text == "Ollama is running"
    head = client.head("/")
    assert head.status_code == 200
    assert head.content == b""
    version = client.get("/api/version")
    assert version.headers["content-type"] == "application/json; charset=utf-8"
    assert version.content == b'{"version":"0.33.0"}'


def test_server_binds_loopback_on_a_free_port(fake_ollama: FakeOllama) -> None:
    assert fake_ollama.host == "127.0.0.1"
    assert fake_ollama.port > 0
    assert fake_ollama.url == f"http://127.0.0.1:{fake_ollama.port}"


def test_tags_lists_default_models_newest_first(client: httpx.Client) -> None:
    models = client.get("/api/tags").json()["models"]
    names = [model["name"] for model in models]
    assert names[:3] == [
        "nomic-embed-text:latest",
        "all-minilm:latest",
        "mxbai-embed-large:latest",
    ]
    assert {"llama3.2:latest", "qwen3:latest", "llava:latest"} <= set(names)
    stamps = [model["modified_at"] for model in models]
    assert stamps == sorted(stamps, reverse=True)
    nomic = models[0]
    assert nomic["model"] == nomic["name"]
    assert len(nomic["digest"]) == 64
    assert int(nomic["digest"], 16) >= 0
    assert nomic["details"]["embedding_length"] == 768
    assert nomic["details"]["context_length"] == 2048
    assert nomic["capabilities"] == ["embedding"]


def test_show_reports_model_info_and_capabilities(client: httpx.Client) -> None:
    shown = client.post("/api/show", json={"model": "llama3.2"}).json()
    assert shown["model_info"]["general.architecture"] == "llama"
    assert shown["model_info"]["llama.context_length"] == 131072
    assert shown["model_info"]["llama.embedding_length"] == 3072
    assert shown["capabilities"] == ["completion", "tools"]
    assert shown["details"]["family"] == "llama"
    assert shown["parameters"].startswith("stop" + " " * 27 + '"<|start_header_id|>"')


def test_embed_returns_unit_vectors_in_input_order(client: httpx.Client) -> None:
    reply = client.post(
        "/api/embed",
        json={"model": "all-minilm", "input": ["the cat sat", "a dog ran"]},
    ).json()
    vectors = np.array(reply["embeddings"], dtype=np.float32)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], embed_text("the cat sat", 384), atol=1e-7)
    assert reply["prompt_eval_count"] > 0


def test_chat_streams_ndjson_lines_ending_in_done(client: httpx.Client) -> None:
    body = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
    }
    with client.stream("POST", "/api/chat", json=body) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        assert response.headers["transfer-encoding"] == "chunked"
        raw = response.read().decode()
    assert raw.endswith("\n")
    lines = raw.splitlines()
    assert all(line for line in lines)
    chunks = [json.loads(line) for line in lines]
    assert all(not chunk["done"] for chunk in chunks[:-1])
    final = chunks[-1]
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["eval_count"] == len(chunks) - 1
    text = "".join(chunk["message"]["content"] for chunk in chunks)
    assert "sky" in text


def test_generate_non_streamed_is_one_object_without_newline(
    client: httpx.Client,
) -> None:
    response = client.post(
        "/api/generate",
        json={"model": "llama3.2", "prompt": "Why is the sky blue?", "stream": False},
    )
    assert not response.content.endswith(b"\n")
    reply = response.json()
    assert reply["done"] is True
    assert reply["response"]
    assert isinstance(reply["context"], list)
