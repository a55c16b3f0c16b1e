"""``ragkit doctor`` against FakeOllama over loopback, with and without an index."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner, Result

import ragkit.cli._doctor  # noqa: F401  (registers the command)
from ragkit.cli._doctor import BATCH_TOLERANCE, check_batch_consistency
from ragkit.cli._main import cli
from ragkit.ollama import Client
from ragkit.store import DocumentRecord, Manifest, Store
from ragkit.testing import FakeOllama, RequestRecord
from ragkit.types import Chunk


def logged(server: FakeOllama, path: str) -> list[RequestRecord]:
    """The requests to ``path`` (FakeOllama logs before it replies)."""
    return [r for r in server.requests if r.path == path]


def _doctor(server_url: str, *args: str, index: Path) -> Result:
    return CliRunner().invoke(
        cli, ["--host", server_url, "--index", str(index), "doctor", *args]
    )


def _marks(result: Result) -> dict[str, str]:
    """Each check's name mapped to its mark (✓, ✗ or -)."""
    marks = {}
    for line in result.stdout.splitlines():
        mark, _, rest = line.partition(" ")
        marks[rest.partition(":")[0]] = mark
    return marks


def _add_document(store: Store, path: str, texts: list[str]) -> None:
    hashes = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    rng = np.random.default_rng(len(path))
    dimension = store.manifest.dimension
    vectors = rng.standard_normal((len(texts), dimension)).astype(np.float32)
    store.put_vectors(list(zip(hashes, vectors, strict=True)))
    chunks = [
        Chunk(
            id=f"{path}#{i}",
            document=path,
            text=text,
            start=0,
            end=len(text),
            line_start=i + 1,
            line_end=i + 1,
        )
        for i, text in enumerate(texts)
    ]
    record = DocumentRecord(path=path, content_hash=hashes[0], size=100)
    store.replace_document(record, chunks, hashes)


def _build_index(path: Path, *, model: str, dimension: int) -> None:
    with Store.create(path, Manifest(embed_model=model, dimension=dimension)) as store:
        _add_document(
            store,
            "keys.md",
            ["Rotate the API keys every ninety days.", "Keys live in the vault."],
        )


def test_all_present_without_an_index_passes(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    result = _doctor(fake_ollama.url, index=tmp_path / "none")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"✓ server: Ollama 0.33.0 at {fake_ollama.url}"
    assert "✓ embed model: nomic-embed-text is installed (137M)" in lines
    assert "✓ chat model: llama3.2 is installed (3.2B)" in lines
    batch = next(line for line in lines if "batch consistency" in line)
    assert batch.startswith("✓") and "max |difference| 0.0e+00" in batch
    assert lines[-1].startswith("- index: no index at")
    assert "ragkit index <folder>" in lines[-1]
    # three alone, one batch of three
    embeds = [r.body for r in logged(fake_ollama, "/api/embed")]
    assert [len(b["input"]) if isinstance(b["input"], list) else 1 for b in embeds] == [
        1,
        1,
        1,
        3,
    ]


def test_missing_model_fails_with_the_pull_command(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    result = _doctor(
        fake_ollama.url, "--chat-model", "mistral", index=tmp_path / "none"
    )
    assert result.exit_code == 1
    assert (
        "✗ chat model: mistral is not installed; run `ragkit models pull mistral`"
        in result.stdout.splitlines()
    )
    assert _marks(result)["embed model"] == "✓"


def test_missing_embed_model_skips_the_batch_check(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    result = _doctor(
        fake_ollama.url, "--embed-model", "bge-m3", index=tmp_path / "none"
    )
    assert result.exit_code == 1
    marks = _marks(result)
    assert marks["embed model"] == "✗"
    assert marks["batch consistency"] == "-"
    assert "ragkit models pull bge-m3" in result.stdout


def test_a_chat_model_is_not_an_embedding_model(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    result = _doctor(
        fake_ollama.url, "--embed-model", "llama3.2", index=tmp_path / "none"
    )
    assert result.exit_code == 1
    line = next(line for line in result.stdout.splitlines() if "embed model" in line)
    assert line.startswith("✗ embed model: llama3.2 cannot be used as the embed model")
    assert "'embedding' capability" in line


def test_server_down_fails_in_one_line_and_skips_the_rest(
    fake_ollama_factory: Any, tmp_path: Path
) -> None:
    server = fake_ollama_factory()
    url = server.url
    server.stop()
    result = _doctor(url, index=tmp_path / "none")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"✗ server: cannot connect to Ollama at {url}; ")
    assert "ollama serve" in first and "OLLAMA_HOST" in first
    marks = _marks(result)
    assert [marks[name] for name in ("embed model", "chat model")] == ["-", "-"]


def test_json_lists_the_checks_as_data(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    result = _doctor(
        fake_ollama.url, "--json", "--chat-model", "mistral", index=tmp_path / "none"
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["host"] == fake_ollama.url
    assert [check["name"] for check in data["checks"]] == [
        "server",
        "embed model",
        "chat model",
        "batch consistency",
        "index",
    ]
    by_name = {check["name"]: check for check in data["checks"]}
    assert set(by_name["server"]) == {"name", "status", "message", "hint", "details"}
    assert by_name["server"]["details"]["version"] == "0.33.0"
    assert by_name["chat model"]["status"] == "fail"
    assert by_name["chat model"]["details"]["pull"] == "ragkit models pull mistral"
    batch = by_name["batch consistency"]["details"]
    assert batch["max_abs_difference"] == 0.0
    assert batch["tolerance"] == BATCH_TOLERANCE
    assert batch["dimension"] == 768
    assert by_name["index"]["status"] == "skip"


def test_healthy_index_passes_and_its_faiss_file_is_kept_fresh(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    index = tmp_path / ".ragkit"
    _build_index(index, model="nomic-embed-text", dimension=768)
    first = _doctor(fake_ollama.url, index=index)
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert f"✓ index: {index}: 1 document, 2 chunks, nomic-embed-text (768-d)" in lines
    assert lines[-1].startswith("✓ vectors.faiss: was missing; rebuilt")
    assert (index / "vectors.faiss").is_file()
    second = _doctor(fake_ollama.url, index=index)
    assert second.exit_code == 0
    assert second.stdout.splitlines()[-1].startswith("✓ vectors.faiss: up to date")


def test_a_stale_faiss_file_is_brought_up_to_date(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    index = tmp_path / ".ragkit"
    _build_index(index, model="nomic-embed-text", dimension=768)
    assert _doctor(fake_ollama.url, index=index).exit_code == 0
    with Store.open(index, writable=True) as store:
        _add_document(store, "vault.md", ["The vault opens at nine."])
    result = _doctor(fake_ollama.url, index=index)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"✓ index: {index}: 2 documents, 3 chunks, nomic-embed-text (768-d)" in lines
    assert lines[-1] == (
        "✓ vectors.faiss: was stale (generation 1); brought up to date from "
        "meta.sqlite (generation 2) without a rebuild"
    )


def test_a_damaged_faiss_file_is_rebuilt(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    index = tmp_path / ".ragkit"
    _build_index(index, model="nomic-embed-text", dimension=768)
    assert _doctor(fake_ollama.url, index=index).exit_code == 0
    faiss_file = index / "vectors.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:-100])
    result = _doctor(fake_ollama.url, "--json", index=index)
    assert result.exit_code == 0, result.output
    check = json.loads(result.stdout)["checks"][-1]
    assert check["message"] == (
        "was unreadable or damaged; rebuilt from meta.sqlite (generation 1)"
    )
    assert check["details"]["before"]["reason"] == (
        "vectors.faiss is unusable: payload is truncated or damaged"
    )
    assert check["details"]["after"]["stale"] is False


def test_tombstones_in_an_hnsw_index_are_reported_and_compacted(
    fake_ollama: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / ".ragkit"
    manifest = Manifest(
        embed_model="nomic-embed-text", dimension=768, index_type="hnsw"
    )
    with Store.create(index, manifest) as store:
        for name in ("a", "b", "c", "d", "e", "f"):
            _add_document(store, f"{name}.md", [f"Text of {name}."])
        store.sync()
    with Store.open(index, writable=True) as store:
        store.delete_documents(["a.md"])
    first = _doctor(fake_ollama.url, index=index)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == (
        "✓ vectors.faiss: was stale (generation 6); brought up to date from "
        "meta.sqlite (generation 7) without a rebuild; tombstones: 1 of 6 entries"
    )
    second = _doctor(fake_ollama.url, index=index)
    assert second.stdout.splitlines()[-1] == (
        "✓ vectors.faiss: up to date (generation 7; tombstones: 1 of 6 entries)"
    )
    monkeypatch.setattr("ragkit.store._store.COMPACT_FRACTION", 0.1)
    third = _doctor(fake_ollama.url, index=index)
    assert third.stdout.splitlines()[-1] == (
        "✓ vectors.faiss: rebuilt to drop tombstones (1 of its 6 entries are "
        "tombstones, 17%) from meta.sqlite (generation 7)"
    )


def test_a_faiss_file_that_cannot_be_written_fails(
    fake_ollama: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / ".ragkit"
    _build_index(index, model="nomic-embed-text", dimension=768)

    def refuse(path: Path, ann: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("ragkit.store._store.write_index_file", refuse)
    result = _doctor(fake_ollama.url, index=index)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        "✗ vectors.faiss: is stale and could not be written (vectors.faiss is "
        f"missing); check that {index} is writable, then run `ragkit index`"
    )


def test_the_index_names_the_embedding_model(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    index = tmp_path / ".ragkit"
    _build_index(index, model="all-minilm", dimension=384)
    result = _doctor(fake_ollama.url, "--json", index=index)
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["embed model"]["details"]["model"] == "all-minilm"
    assert checks["index"]["details"]["dimension"] == 384
    assert len(logged(fake_ollama, "/api/show")) == 2


def test_another_embed_model_than_the_index_fails(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    index = tmp_path / ".ragkit"
    _build_index(index, model="nomic-embed-text", dimension=768)
    result = _doctor(fake_ollama.url, "--embed-model", "all-minilm", index=index)
    assert result.exit_code == 1
    line = next(line for line in result.stdout.splitlines() if "index:" in line)
    assert line.startswith("✗ index: the index at")
    assert "'nomic-embed-text'" in line and "--rebuild" in line


def test_index_dimension_other_than_the_model_fails(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    index = tmp_path / ".ragkit"
    _build_index(index, model="nomic-embed-text", dimension=16)
    result = _doctor(fake_ollama.url, index=index)
    assert result.exit_code == 1
    assert _marks(result)["index"] == "✗"
    assert "(dimension 16)" in result.stdout


def test_a_damaged_index_fails(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    index = tmp_path / ".ragkit"
    _build_index(index, model="nomic-embed-text", dimension=768)
    (index / "manifest.json").write_text("{not json", encoding="utf-8")
    result = _doctor(fake_ollama.url, index=index)
    assert result.exit_code == 1
    line = next(line for line in result.stdout.splitlines() if "index:" in line)
    assert line.startswith("✗ index:") and "manifest.json" in line
    assert "--rebuild" in line


RAGKIT = Path(sys.executable).with_name("ragkit")


@pytest.mark.skipif(not RAGKIT.exists(), reason="the ragkit script is not installed")
def test_installed_ragkit_doctor_exit_status(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    env = {**os.environ, "OLLAMA_HOST": fake_ollama.url}
    command = [str(RAGKIT), "--index", str(tmp_path / "none"), "doctor"]
    ok = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("✓ server: Ollama 0.33.0")
    missing = subprocess.run(
        [*command, "--chat-model", "mistral"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert "run `ragkit models pull mistral`" in missing.stdout


def _embed_handler(batch_offset: float, batch_dimension: int = 4) -> Any:
    """A server whose batched vectors differ from single ones by an offset."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        batched = len(inputs) > 1
        vectors = [
            [0.5 + (batch_offset if batched else 0.0)]
            * (batch_dimension if batched else 4)
            for _ in inputs
        ]
        return httpx.Response(200, json={"model": body["model"], "embeddings": vectors})

    return handle


def test_batch_check_fails_when_batched_vectors_drift() -> None:
    transport = httpx.MockTransport(_embed_handler(1e-3))
    with Client("http://ollama.test", transport=transport) as client:
        check = check_batch_consistency(client, "drifty")
    assert check.status == "fail"
    assert check.details["max_abs_difference"] == pytest.approx(1e-3)
    assert "1.0e-03" in check.message
    assert "depend on batching" in check.hint


def test_batch_check_passes_below_the_tolerance() -> None:
    transport = httpx.MockTransport(_embed_handler(1e-6))
    with Client("http://ollama.test", transport=transport) as client:
        check = check_batch_consistency(client, "steady")
    assert check.ok
    assert check.details["max_abs_difference"] == pytest.approx(1e-6)


def test_batch_check_fails_when_shapes_differ() -> None:
    transport = httpx.MockTransport(_embed_handler(0.0, batch_dimension=3))
    with Client("http://ollama.test", transport=transport) as client:
        check = check_batch_consistency(client, "odd")
    assert check.status == "fail"
    assert "vectors differ in shape" in check.message


def test_embed_error_during_the_batch_check_is_a_failed_check(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    fake_ollama.fail_next(1, "500", endpoint="/api/embed", message="runner crashed")
    result = _doctor(fake_ollama.url, index=tmp_path / "none")
    assert result.exit_code == 1
    line = next(x for x in result.stdout.splitlines() if "batch consistency" in x)
    assert line.startswith("✗") and "runner crashed" in line
