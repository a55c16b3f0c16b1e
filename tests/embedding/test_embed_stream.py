"""embed_stream against FakeOllama over loopback: batching, order, dedup, laziness."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from embedding_helpers import logged

from ragkit.embedding import Embedder, EmbedFailure, EmbedResult, EmbedStats
from ragkit.ollama import Client
from ragkit.testing import CostModel, FakeOllama, RequestRecord

NOMIC = "nomic-embed-text"


def reference(server: FakeOllama, model: str, texts: list[str]) -> np.ndarray:
    """The server's vectors for ``texts`` (already prefixed), in one request."""
    with Client(server.url, retries=0) as client:
        return np.asarray(client.embed(model, texts).embeddings, dtype=np.float32)


def embed_records(server: FakeOllama, expected: int) -> list[RequestRecord]:
    """The server's /api/embed log, once it holds ``expected`` records."""
    return logged(server, "/api/embed")


def embed_inputs(server: FakeOllama, expected: int) -> list[list[str]]:
    """The ``input`` of every /api/embed request the server answered with 200."""
    return [
        list(r.body["input"])
        for r in embed_records(server, expected)
        if r.status == 200
    ]


def texts_of(n: int) -> list[str]:
    return [f"passage {i} on topic {i % 13} with words {i * 7 % 31}" for i in range(n)]


def test_many_batches_over_three_hosts_give_every_key_its_vector(
    fake_ollama_factory: type[FakeOllama],
) -> None:
    servers = [
        fake_ollama_factory(cost=CostModel(per_request_ms=1.0)) for _ in range(3)
    ]
    texts = texts_of(240)
    stats = EmbedStats()
    with Embedder(NOMIC, hosts=[s.url for s in servers], batch_size=5) as embedder:
        got: dict[int, np.ndarray] = {}
        for result in embedder.embed_stream(enumerate(texts), stats=stats):
            assert isinstance(result, EmbedResult)
            assert result.vectors.dtype == np.float32
            assert result.vectors.shape == (len(result.keys), 768)
            assert result.host in embedder.hosts
            for key, vector in zip(result.keys, result.vectors, strict=True):
                assert key not in got
                got[key] = vector
    assert sorted(got) == list(range(len(texts)))
    expected = reference(servers[0], NOMIC, [f"search_document: {t}" for t in texts])
    assert np.array_equal(np.stack([got[i] for i in range(len(texts))]), expected)
    assert stats.items == stats.embedded == len(texts)
    assert stats.failed == stats.truncated == stats.retries == 0
    assert all(stats.hosts[s.url].requests > 0 for s in servers)
    assert sum(h.inputs for h in stats.hosts.values()) == len(texts)
    assert sum(h.requests for h in stats.hosts.values()) == stats.requests


def test_embed_documents_keeps_input_order(
    fake_ollama_factory: type[FakeOllama],
) -> None:
    servers = [fake_ollama_factory() for _ in range(2)]
    texts = texts_of(57)
    with Embedder(NOMIC, hosts=[s.url for s in servers], batch_size=4) as embedder:
        vectors = embedder.embed_documents(texts)
        assert embedder.embed_documents([]).shape == (0, 768)
    expected = reference(servers[1], NOMIC, [f"search_document: {t}" for t in texts])
    assert np.array_equal(vectors, expected)


def test_batches_respect_the_count_limit(fake_ollama: FakeOllama) -> None:
    texts = [f"word{i}" for i in range(103)]
    with Embedder("all-minilm", hosts=[fake_ollama.url], batch_size=8) as embedder:
        embedder.embed_documents(texts)
    batches = embed_inputs(fake_ollama, embedder.stats.requests)
    assert max(len(b) for b in batches) <= 8
    assert sorted(t for b in batches for t in b) == sorted(texts)


def test_batches_respect_the_token_limit(fake_ollama: FakeOllama) -> None:
    texts = [" ".join(f"w{i}x{j}" for j in range(15)) for i in range(40)]
    long_one = " ".join(["long"] * 60)

    def words(text: str) -> int:
        return len(text.split())

    with Embedder(
        "all-minilm",
        hosts=[fake_ollama.url],
        batch_size=64,
        max_batch_tokens=40,
        estimate_tokens=words,
    ) as embedder:
        embedder.embed_documents([*texts, long_one])
    batches = embed_inputs(fake_ollama, embedder.stats.requests)
    for batch in batches:
        assert len(batch) == 1 or sum(words(t) for t in batch) <= 40
    # The one text over the limit on its own still goes, alone.
    assert [long_one] in batches
    assert sum(len(b) for b in batches) == len(texts) + 1


def test_document_and_query_prefixes_reach_the_server(fake_ollama: FakeOllama) -> None:
    with Embedder(NOMIC, hosts=[fake_ollama.url]) as embedder:
        assert embedder.document_prefix == "search_document: "
        assert embedder.query_prefix == "search_query: "
        embedder.embed_documents(["alpha", "beta"])
        query = embedder.embed_query("gamma?")
        embedder.embed_queries(["delta?"])
    sent = [t for b in embed_inputs(fake_ollama, embedder.stats.requests) for t in b]
    assert sorted(sent) == [
        "search_document: alpha",
        "search_document: beta",
        "search_query: delta?",
        "search_query: gamma?",
    ]
    assert np.array_equal(
        query, reference(fake_ollama, NOMIC, ["search_query: gamma?"])[0]
    )


def test_explicit_prefixes_override_the_defaults(fake_ollama: FakeOllama) -> None:
    with Embedder(
        NOMIC, hosts=[fake_ollama.url], document_prefix="", query_prefix="Q: "
    ) as embedder:
        embedder.embed_documents(["alpha"])
        embedder.embed_query("beta")
    assert embed_inputs(fake_ollama, embedder.stats.requests) == [
        ["alpha"],
        ["Q: beta"],
    ]


def test_identical_texts_are_embedded_once(fake_ollama: FakeOllama) -> None:
    unique = ["alpha text", "beta text", "gamma text"]
    texts = [unique[i % 3] for i in range(60)]
    stats = EmbedStats()
    with Embedder("all-minilm", hosts=[fake_ollama.url], batch_size=4) as embedder:
        got: dict[int, np.ndarray] = {}
        for result in embedder.embed_stream(enumerate(texts), stats=stats):
            assert isinstance(result, EmbedResult)
            got.update(zip(result.keys, result.vectors, strict=True))
    sent = [t for b in embed_inputs(fake_ollama, embedder.stats.requests) for t in b]
    assert sorted(sent) == sorted(unique)
    expected = dict(
        zip(unique, reference(fake_ollama, "all-minilm", unique), strict=True)
    )
    assert sorted(got) == list(range(60))
    for key, vector in got.items():
        assert np.array_equal(vector, expected[texts[key]])
    assert stats.duplicates == 57
    assert stats.embedded == 60


def test_the_feeder_reads_no_further_ahead_than_its_queues(
    fake_ollama: FakeOllama,
) -> None:
    read = 0

    def source() -> Iterator[tuple[int, str]]:
        nonlocal read
        for i in range(5000):
            read += 1
            yield i, f"text {i}"

    batch_size, queue_size, workers = 4, 2, 1
    # Distinct inputs held at once: the batch being built, the work queue,
    # the request in flight and the unread results.
    bound = batch_size * (2 * queue_size + workers + 1)
    with Embedder(
        "all-minilm",
        hosts=[fake_ollama.url],
        batch_size=batch_size,
        queue_size=queue_size,
        in_flight_per_host=workers,
    ) as embedder:
        stream = embedder.embed_stream(source())
        first = next(stream)
        assert isinstance(first, EmbedResult)
        time.sleep(0.3)  # room for an unbounded feeder to run away
        assert read <= len(first.keys) + bound
        consumed = len(first.keys)
        for result in stream:
            assert isinstance(result, EmbedResult)
            consumed += len(result.keys)
            assert read <= consumed + bound
            if consumed >= 200:
                break
        stream.close()  # type: ignore[attr-defined]
    assert read < 5000


def test_closing_a_stream_early_stops_its_threads(fake_ollama: FakeOllama) -> None:
    with Embedder("all-minilm", hosts=[fake_ollama.url], batch_size=2) as embedder:
        stream = embedder.embed_stream((i, f"t{i}") for i in range(10_000))
        next(stream)
        assert any(t.name.startswith("ragkit-embed") for t in threading.enumerate())
        stream.close()  # type: ignore[attr-defined]
    assert not any(t.name.startswith("ragkit-embed") for t in threading.enumerate())


def test_an_error_in_the_source_reaches_the_caller(fake_ollama: FakeOllama) -> None:
    def source() -> Iterator[tuple[int, str]]:
        yield 0, "fine"
        raise ValueError("the loader broke")

    with Embedder("all-minilm", hosts=[fake_ollama.url]) as embedder:
        with pytest.raises(ValueError, match="the loader broke"):
            list(embedder.embed_stream(source()))
    assert not any(t.name.startswith("ragkit-embed") for t in threading.enumerate())


def test_an_over_long_input_is_embedded_truncated_and_reported(
    fake_ollama: FakeOllama,
) -> None:
    # 700 tokens for FakeOllama's tokenizer: over all-minilm's 512, yet small
    # enough by the character estimate to share a batch with the others.
    long_text = " ".join(["lengthy"] * 700)
    texts = ["short one", "short two", long_text, "short three"]
    stats = EmbedStats()
    with Embedder("all-minilm", hosts=[fake_ollama.url]) as embedder:
        results = list(embedder.embed_stream(enumerate(texts), stats=stats))
    vectors = {
        key: vector
        for r in results
        if isinstance(r, EmbedResult)
        for key, vector in zip(r.keys, r.vectors, strict=True)
    }
    assert sorted(vectors) == [0, 1, 2, 3]
    truncated = [
        k for r in results if isinstance(r, EmbedResult) for k in r.truncated_keys
    ]
    assert truncated == [2]
    assert (stats.truncated, stats.failed, stats.embedded) == (1, 0, 4)
    assert stats.splits >= 1
    records = embed_records(fake_ollama, stats.requests)
    assert records[0].status == 400  # the whole batch, refused
    sent_truncating = [r.body["input"] for r in records if r.body["truncate"]]
    assert sent_truncating == [[long_text]]
    with Client(fake_ollama.url) as client:
        direct = client.embed("all-minilm", [long_text], truncate=True)
    assert np.array_equal(vectors[2], np.asarray(direct.embeddings[0], np.float32))


def test_embed_query_truncates_an_over_long_query(fake_ollama: FakeOllama) -> None:
    with Embedder("all-minilm", hosts=[fake_ollama.url]) as embedder:
        vector = embedder.embed_query(" ".join(["why"] * 2000))
        assert vector.shape == (384,)
        assert embedder.stats.truncated == 1
    records = embed_records(fake_ollama, 2)
    assert [(r.status, r.body["truncate"]) for r in records] == [
        (400, False),
        (200, True),
    ]


def test_batch_consistency_is_exact_on_fake_ollama(fake_ollama: FakeOllama) -> None:
    with Embedder(NOMIC, hosts=[fake_ollama.url]) as embedder:
        assert embedder.check_batch_consistency(texts_of(5)) == 0.0
        assert embedder.check_batch_consistency([]) == 0.0
    # One request for the batch, one per text alone.
    assert len(embed_records(fake_ollama, 6)) == 6


def test_failures_are_never_yielded_on_a_clean_server(fake_ollama: FakeOllama) -> None:
    with Embedder("all-minilm", hosts=[fake_ollama.url], batch_size=3) as embedder:
        results = list(embedder.embed_stream(enumerate(texts_of(20))))
    assert not [r for r in results if isinstance(r, EmbedFailure)]
