"""Native endpoint behaviour: load/unload, ps, keep_alive, show, pull, create, blobs."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import numpy as np
import pytest

from ragkit.testing import FakeModel, FakeOllama
from ragkit.testing._embedding import raw_vector

USER = [{"role": "user", "content": "Why is the sky blue?"}]
# Hashed word features are sparse: many words make the first dimensions non-zero.
TEXT_200_WORDS = " ".join(f"word{i}" for i in range(200))


def _ps(client: httpx.Client) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = client.get("/api/ps").json()["models"]
    return models


def _expires(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["expires_at"].replace("Z", "+00:00"))


# -- load, unload, ps --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "empty"),
    [
        ("/api/generate", {"model": "llama3.2"}, {"response": ""}),
        (
            "/api/chat",
            {"model": "llama3.2", "messages": []},
            {"message": {"role": "assistant", "content": ""}},
        ),
    ],
)
def test_empty_input_loads_then_keep_alive_zero_unloads(
    client: httpx.Client, path: str, body: dict[str, Any], empty: dict[str, Any]
) -> None:
    loaded = client.post(path, json=body)
    assert loaded.headers["content-type"] == "application/json; charset=utf-8"
    reply = loaded.json()
    assert reply["done"] is True and reply["done_reason"] == "load"
    assert {key: reply[key] for key in empty} == empty
    assert [m["name"] for m in _ps(client)] == ["llama3.2:latest"]
    unloaded = client.post(path, json={**body, "keep_alive": 0}).json()
    assert unloaded["done_reason"] == "unload"
    assert _ps(client) == []


def test_ps_reports_keep_alive_in_local_time(client: httpx.Client) -> None:
    client.post("/api/generate", json={"model": "llama3.2", "keep_alive": "1h30m"})
    client.post("/api/embed", json={"model": "all-minilm", "input": "x"})
    client.post("/api/generate", json={"model": "qwen3", "keep_alive": -1})
    entries = _ps(client)
    assert [e["name"] for e in entries] == [
        "qwen3:latest",
        "llama3.2:latest",
        "all-minilm:latest",
    ]
    now = datetime.now(timezone.utc)
    forever, ninety, default = (_expires(e) for e in entries)
    assert forever - now > timedelta(days=365 * 289)
    assert timedelta(minutes=89) < ninety - now <= timedelta(minutes=90)
    assert timedelta(minutes=4) < default - now <= timedelta(minutes=5)
    assert entries[1]["context_length"] == 4096
    assert entries[2]["context_length"] == 512
    assert len(entries[0]["digest"]) == 64
    assert "context_length" not in entries[0]["details"]


def test_keep_alive_numbers_are_seconds_and_unset_keeps_previous(
    client: httpx.Client,
) -> None:
    client.post("/api/generate", json={"model": "llama3.2", "keep_alive": 600.0})
    client.post("/api/generate", json={"model": "llama3.2", "prompt": "hi"})
    (entry,) = _ps(client)
    remaining = _expires(entry) - datetime.now(timezone.utc)
    assert timedelta(minutes=9) < remaining <= timedelta(minutes=10)


def test_keep_alive_zero_with_input_runs_then_unloads(client: httpx.Client) -> None:
    reply = client.post(
        "/api/embed", json={"model": "all-minilm", "input": "x", "keep_alive": "0s"}
    )
    assert len(reply.json()["embeddings"]) == 1
    assert _ps(client) == []


def test_unload_needs_an_existing_model(client: httpx.Client) -> None:
    reply = client.post("/api/generate", json={"model": "ghost", "keep_alive": 0})
    assert reply.status_code == 404


# -- generate and chat details -------------------------------------------------


def test_generate_streams_thinking_for_thinking_models_by_default(
    client: httpx.Client,
) -> None:
    lines = client.post(
        "/api/generate", json={"model": "qwen3", "prompt": "Why is the sky blue?"}
    ).text.splitlines()
    chunks = [json.loads(line) for line in lines]
    assert any(chunk.get("thinking") for chunk in chunks)
    assert all("response" in chunk for chunk in chunks)
    off = client.post(
        "/api/generate",
        json={"model": "qwen3", "prompt": "Why?", "think": False, "stream": False},
    ).json()
    assert "thinking" not in off


def test_generate_raw_mode_has_no_context(client: httpx.Client) -> None:
    body = {"model": "llama3.2", "prompt": "hello there", "stream": False}
    assert "context" in client.post("/api/generate", json=body).json()
    raw = client.post("/api/generate", json={**body, "raw": True}).json()
    assert "context" not in raw


def test_suffix_works_on_insert_models(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.add_model(
        FakeModel(name="coder", capabilities=("completion", "insert"))
    )
    reply = client.post(
        "/api/generate",
        json={"model": "coder", "prompt": "def add(a, b):", "suffix": "return c"},
    )
    assert reply.status_code == 200


def test_metrics_are_integers_and_final_chunk_has_done_reason(
    client: httpx.Client,
) -> None:
    reply = client.post(
        "/api/chat", json={"model": "llama3.2", "messages": USER, "stream": False}
    ).json()
    for key in ("total_duration", "prompt_eval_count", "eval_count"):
        assert isinstance(reply[key], int) and reply[key] > 0
    assert reply["done_reason"] == "stop"
    assert "context" not in reply


def test_num_predict_stops_with_length(client: httpx.Client) -> None:
    reply = client.post(
        "/api/chat",
        json={
            "model": "llama3.2",
            "messages": USER,
            "stream": False,
            "options": {"num_predict": 3},
        },
    ).json()
    assert reply["done_reason"] == "length"
    assert reply["eval_count"] <= 3


def test_logprobs_per_token(client: httpx.Client) -> None:
    reply = client.post(
        "/api/chat",
        json={
            "model": "llama3.2",
            "messages": USER,
            "stream": False,
            "logprobs": True,
            "top_logprobs": 2,
        },
    ).json()
    entries = reply["logprobs"]
    assert "".join(e["token"] for e in entries) == reply["message"]["content"]
    first = entries[0]
    assert first["bytes"] == list(first["token"].encode())
    assert len(first["top_logprobs"]) == 2
    assert first["top_logprobs"][0]["token"] == first["token"]


def test_tool_calls_have_id_and_index(client: httpx.Client) -> None:
    tool = {
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
    reply = client.post(
        "/api/chat",
        json={
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "Weather in Oslo?"}],
            "tools": [tool],
            "stream": False,
        },
    ).json()
    (call,) = reply["message"]["tool_calls"]
    assert call["id"].startswith("call_") and len(call["id"]) == 13
    assert call["function"]["index"] == 0
    assert call["function"]["arguments"] == {"city": "Oslo"}


def test_modelfile_system_is_used_unless_a_system_message_comes_first(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    fake_ollama.add_model(
        FakeModel(
            name="oracle",
            system="[1] The oracle lives in Delphi.",
        )
    )
    reply = client.post(
        "/api/chat",
        json={
            "model": "oracle",
            "messages": [{"role": "user", "content": "Where does the oracle live?"}],
            "stream": False,
        },
    ).json()
    assert "Delphi" in reply["message"]["content"]


def test_long_chat_history_is_truncated_or_refused(client: httpx.Client) -> None:
    history = [{"role": "user", "content": "filler " * 50}] * 4 + USER
    body = {
        "model": "llama3.2",
        "messages": history,
        "stream": False,
        "options": {"num_ctx": 60},
    }
    ok = client.post("/api/chat", json=body).json()
    assert ok["prompt_eval_count"] <= 60
    refused = client.post("/api/chat", json={**body, "truncate": False})
    assert refused.status_code == 400
    tiny = {**body, "messages": [{"role": "user", "content": "word " * 100}]}
    shift_off = client.post("/api/chat", json={**tiny, "shift": False})
    assert shift_off.status_code == 400
    assert shift_off.json()["error"].startswith(
        "the prompt is longer than the context length"
    )


# -- embeddings ----------------------------------------------------------------


def test_embed_zero_inputs_loads_and_returns_no_metrics(client: httpx.Client) -> None:
    for body in ({"model": "all-minilm"}, {"model": "all-minilm", "input": ""}):
        assert client.post("/api/embed", json=body).json() == {
            "model": "all-minilm",
            "embeddings": [],
        }
    assert [m["name"] for m in _ps(client)] == ["all-minilm:latest"]
    one = client.post("/api/embed", json={"model": "all-minilm", "input": [""]})
    assert len(one.json()["embeddings"]) == 1


def test_embed_dimensions_renormalise(client: httpx.Client) -> None:
    reply = client.post(
        "/api/embed",
        json={"model": "nomic-embed-text", "input": TEXT_200_WORDS, "dimensions": 32},
    ).json()
    vector = np.array(reply["embeddings"][0])
    assert vector.shape == (32,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_embed_truncates_to_num_ctx(client: httpx.Client) -> None:
    long = " ".join(f"w{i}" for i in range(50))
    short = " ".join(f"w{i}" for i in range(10))
    body = {"model": "all-minilm", "options": {"num_ctx": 10}}
    cut = client.post("/api/embed", json={**body, "input": long}).json()
    exact = client.post("/api/embed", json={**body, "input": short}).json()
    assert cut["prompt_eval_count"] == 10
    assert cut["embeddings"] == exact["embeddings"]


def test_model_echo_is_the_string_sent_and_lookup_ignores_case(
    client: httpx.Client,
) -> None:
    reply = client.post("/api/embed", json={"model": "ALL-MiniLM:Latest", "input": "x"})
    assert reply.json()["model"] == "ALL-MiniLM:Latest"


def test_legacy_embeddings_nomic_is_raw_bert_is_normalised(
    client: httpx.Client,
) -> None:
    nomic = client.post(
        "/api/embeddings", json={"model": "nomic-embed-text", "prompt": "the cat"}
    ).json()["embedding"]
    minilm = client.post(
        "/api/embeddings", json={"model": "all-minilm", "prompt": "the cat"}
    ).json()["embedding"]
    assert np.allclose(nomic, raw_vector("the cat", 768))
    assert np.linalg.norm(nomic) > 1.01
    assert np.linalg.norm(minilm) == pytest.approx(1.0, abs=1e-6)
    empty = client.post("/api/embeddings", json={"model": "all-minilm", "prompt": ""})
    assert empty.json() == {"embedding": []}


# -- show, tags ------------------------------------------------------------------


def test_show_hides_long_arrays_unless_verbose(client: httpx.Client) -> None:
    brief = client.post("/api/show", json={"model": "all-minilm"}).json()
    verbose = client.post(
        "/api/show", json={"model": "all-minilm", "verbose": True}
    ).json()
    assert brief["model_info"]["tokenizer.ggml.tokens"] == []
    assert len(verbose["model_info"]["tokenizer.ggml.tokens"]) > 5
    assert brief["model_info"]["bert.embedding_length"] == 384
    assert "template" not in brief
    assert brief["modified_at"]


def test_show_parameters_block_is_padded_to_30_columns(client: httpx.Client) -> None:
    text = client.post("/api/show", json={"model": "qwen3"}).json()["parameters"]
    lines = text.splitlines()
    assert 'stop                           "<|im_start|>"' in lines
    assert 'stop                           "<|im_end|>"' in lines
    assert "temperature                    0.6" in lines


# -- pull, push, create, copy, delete ------------------------------------------------


def test_pull_stream_progress_and_registry(client: httpx.Client) -> None:
    lines = [
        json.loads(line)
        for line in client.post("/api/pull", json={"model": "mistral:7b"}).text.split(
            "\n"
        )
        if line
    ]
    assert lines[0] == {"status": "pulling manifest"}
    layer = lines[1]
    assert layer["status"] == f"pulling {layer['digest'][7:19]}"
    assert layer["digest"].startswith("sha256:") and len(layer["digest"]) == 71
    assert "completed" not in layer
    assert [line["status"] for line in lines[-3:]] == [
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    tags = client.get("/api/tags").json()["models"]
    assert tags[0]["name"] == "mistral:7b"


def test_pull_unknown_model_is_in_band_error_with_200(client: httpx.Client) -> None:
    response = client.post("/api/pull", json={"model": "missing-model"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]


def test_pull_of_a_default_name_restores_that_model(
    client: httpx.Client,
) -> None:
    client.request("DELETE", "/api/delete", json={"model": "all-minilm"})
    client.post("/api/pull", json={"model": "all-minilm", "stream": False})
    vector = client.post("/api/embed", json={"model": "all-minilm", "input": "x"})
    assert len(vector.json()["embeddings"][0]) == 384


def test_push_missing_model_streams_the_failure(client: httpx.Client) -> None:
    lines = [
        json.loads(line)
        for line in client.post(
            "/api/push", json={"model": "me/ghost"}
        ).text.splitlines()
    ]
    assert lines[:2] == [
        {"status": "retrieving manifest"},
        {"status": "couldn't retrieve manifest"},
    ]
    assert "no such file or directory" in lines[2]["error"]


def test_create_pulls_a_missing_base_and_merges_parameters(
    client: httpx.Client,
) -> None:
    response = client.post(
        "/api/create",
        json={
            "model": "my-mistral",
            "from": "mistral",
            "parameters": {"temperature": 0.2},
            "system": "Be terse.",
        },
    )
    statuses = [json.loads(line)["status"] for line in response.text.splitlines()]
    assert statuses[0] == "pulling manifest"
    assert statuses[-2:] == ["writing manifest", "success"]
    shown = client.post("/api/show", json={"model": "my-mistral"}).json()
    assert shown["system"] == "Be terse."
    assert "temperature                    0.2" in shown["parameters"]


def test_create_from_missing_blob_fails(client: httpx.Client) -> None:
    digest = "sha256:" + "c" * 64
    reply = client.post(
        "/api/create", json={"model": "x", "files": {"model.gguf": digest}}
    )
    assert reply.status_code == 400
    assert reply.json() == {"error": f"blob {digest} not found"}


def test_create_and_copy_to_a_name_differing_in_case_write_the_existing_model(
    client: httpx.Client, fake_ollama: FakeOllama
) -> None:
    client.post("/api/copy", json={"source": "llama3.2", "destination": "Mine"})
    client.post(
        "/api/create",
        json={"model": "MINE", "from": "llama3.2", "system": "new", "stream": False},
    )
    names = [m["name"] for m in client.get("/api/tags").json()["models"]]
    assert names.count("Mine:latest") == 1
    assert "MINE:latest" not in names
    model = fake_ollama.model("mine")
    assert model is not None and model.system == "new"


def test_copy_returns_empty_200(client: httpx.Client) -> None:
    reply = client.post("/api/copy", json={"source": "llama3.2", "destination": "c"})
    assert (reply.status_code, reply.content) == (200, b"")


def test_delete_returns_empty_200_and_unloads(client: httpx.Client) -> None:
    client.post("/api/generate", json={"model": "llava"})
    reply = client.request("DELETE", "/api/delete", json={"model": "llava"})
    assert (reply.status_code, reply.content) == (200, b"")
    assert _ps(client) == []


def test_blobs_upload_and_check(client: httpx.Client) -> None:
    data = b"weights"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert client.head(f"/api/blobs/{digest}").status_code == 404
    created = client.post(f"/api/blobs/{digest}", content=data)
    assert (created.status_code, created.content) == (201, b"")
    assert client.post(f"/api/blobs/{digest}", content=data).status_code == 200
    head = client.head(f"/api/blobs/{digest}")
    assert (head.status_code, head.content) == (200, b"")
    dashed = digest.replace(":", "-")
    assert client.head(f"/api/blobs/{dashed}").status_code == 200


def test_blob_errors(client: httpx.Client) -> None:
    wrong = "sha256:" + "0" * 64
    actual = "sha256:" + hashlib.sha256(b"abc").hexdigest()
    mismatch = client.post(f"/api/blobs/{wrong}", content=b"abc")
    assert mismatch.status_code == 400
    assert mismatch.json() == {
        "error": f'digest mismatch, expected "{wrong}", got "{actual}"'
    }
    dashed = actual.replace(":", "-")
    assert client.post(f"/api/blobs/{dashed}", content=b"abc").status_code == 400
    bad = client.post("/api/blobs/md5:abc", content=b"abc")
    assert bad.json() == {"error": "invalid digest format"}
