"""``ragkit.embed`` (the ingest's embedder as a function); the library never prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from app_helpers import TEXTS, embed_requests

import ragkit
from ragkit import ConfigError, Index, ModelNotFoundError
from ragkit.testing import FakeOllama


def test_rows_follow_the_order_of_the_texts(fake_ollama: FakeOllama) -> None:
    forward = ragkit.embed(TEXTS, host=fake_ollama.url)
    backward = ragkit.embed(TEXTS[::-1], host=fake_ollama.url)

    assert forward.shape == (4, 768) and forward.dtype == np.float32
    np.testing.assert_allclose(forward, backward[::-1], rtol=1e-6)
    assert not np.allclose(forward[0], forward[1])


def test_vectors_are_the_ones_an_index_stores(fake_ollama: FakeOllama) -> None:
    with Index.memory(host=fake_ollama.url) as index:
        index.add(TEXTS[:1])
        [hit] = index.search(TEXTS[0], k=1, mode="vector")
    vector = ragkit.embed(TEXTS[:1], host=fake_ollama.url)[0]
    query = ragkit.embed(TEXTS[:1], host=fake_ollama.url, kind="query")[0]

    cosine = float(vector @ query / np.linalg.norm(vector) / np.linalg.norm(query))
    assert hit.vector_score == pytest.approx(cosine, abs=1e-5)


def test_kind_and_prefix_choose_what_is_put_before_each_text(
    fake_ollama: FakeOllama,
) -> None:
    document = ragkit.embed(["a text"], host=fake_ollama.url)
    query = ragkit.embed(["a text"], host=fake_ollama.url, kind="query")
    explicit = ragkit.embed(
        ["a text"], host=fake_ollama.url, prefix="search_query: ", kind="document"
    )
    bare = ragkit.embed(["a text"], host=fake_ollama.url, prefix="")

    np.testing.assert_allclose(explicit, query, rtol=1e-6)
    assert not np.allclose(document, query) and not np.allclose(bare, document)
    inputs = [r.body["input"] for r in fake_ollama.requests if r.path == "/api/embed"]
    assert ["search_document: a text"] in inputs and ["a text"] in inputs


def test_batches_follow_batch_size_and_repeats_are_sent_once(
    fake_ollama: FakeOllama,
) -> None:
    texts = [f"text number {n}" for n in range(10)] + ["text number 3"]

    vectors = ragkit.embed(texts, host=fake_ollama.url, batch_size=4)

    np.testing.assert_array_equal(vectors[3], vectors[10])
    sizes = sorted(
        len(r.body["input"])
        for r in fake_ollama.requests
        if r.path == "/api/embed" and r.body["input"] != ["ragkit dimension probe"]
    )
    assert sum(sizes) == 10 and max(sizes) <= 4


def test_several_hosts_share_the_work(fake_ollama_factory) -> None:  # type: ignore[no-untyped-def]
    one, two = fake_ollama_factory(), fake_ollama_factory()
    texts = [f"sentence {n} about hosts" for n in range(64)]

    vectors = ragkit.embed(texts, hosts=[one.url, two.url], batch_size=4)

    assert vectors.shape == (64, 768)
    assert embed_requests(one) > 0 and embed_requests(two) > 0
    np.testing.assert_allclose(vectors, ragkit.embed(texts, host=one.url), rtol=1e-6)


def test_empty_list_gives_an_empty_matrix(fake_ollama: FakeOllama) -> None:
    assert ragkit.embed([], host=fake_ollama.url).shape == (0, 768)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"texts": "one text"}, ConfigError, "list of texts"),
        ({"texts": ["ok", 3]}, ConfigError, "text #1 is a int"),
        ({"texts": ["ok"], "kind": "passage"}, ConfigError, "kind must be"),
        ({"texts": ["ok"], "batch_size": 0}, ConfigError, "batch_size must be"),
        ({"texts": ["ok"], "hosts": "http://x"}, ConfigError, "not one string"),
        ({"texts": ["ok"], "model": "missing-model"}, ModelNotFoundError, "pull"),
    ],
)
def test_bad_input(
    fake_ollama: FakeOllama,
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        ragkit.embed(host=fake_ollama.url, **kwargs)  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_aembed_equals_embed(fake_ollama: FakeOllama, anyio_backend: str) -> None:
    together = await ragkit.aembed(TEXTS, host=fake_ollama.url, kind="query")

    np.testing.assert_allclose(
        together, ragkit.embed(TEXTS, host=fake_ollama.url, kind="query"), rtol=1e-6
    )


def test_the_library_prints_nothing(
    fake_ollama: FakeOllama,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\nBackups run at 02:00.\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()

    with Index.create(".ragkit", host=fake_ollama.url) as index:
        index.add(TEXTS, metadata={"team": "ops"})
        index.add_files(["docs"])
        index.search("backups", where={"team": "ops"})
        index.ask("When do backups run?")
        list(index.ask_stream("When do backups run?"))
        index.chat().ask("When do backups run?")
        index.delete(where={"team": "ops"})
    ragkit.embed(TEXTS, host=fake_ollama.url)

    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_warnings_do_not_reach_stderr_unless_the_app_configures_logging() -> None:
    # Python's last-resort handler prints warnings of loggers without handlers;
    # ragkit's NullHandler keeps a library warning out of an app's stderr.
    script = (
        "import logging, ragkit; logging.getLogger('ragkit.documents').warning('w1')"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert quiet.stderr == ""
    configured = subprocess.run(
        [sys.executable, "-c", "import logging; logging.basicConfig(); " + script],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "w1" in configured.stderr
