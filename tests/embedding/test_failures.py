"""Retries, failover, rejected inputs and the checks on what the server returns."""

from __future__ import annotations

import dataclasses
import inspect
import threading
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from embedding_helpers import ScriptedOllama, fake_vector, logged

from ragkit.embedding import (
    Embedder,
    EmbedderConfig,
    EmbedFailure,
    EmbedResult,
    EmbedStats,
)
from ragkit.errors import (
    ConfigError,
    IngestError,
    ModelNotFoundError,
    OllamaConnectionError,
    RagkitError,
    ResponseError,
)
from ragkit.testing import FakeModel, FakeOllama, FaultKind

MINILM = "all-minilm"


def collect(
    results: Iterator[EmbedResult[int] | EmbedFailure[int]],
) -> tuple[dict[int, np.ndarray], list[EmbedFailure[int]]]:
    vectors: dict[int, np.ndarray] = {}
    failures: list[EmbedFailure[int]] = []
    for item in results:
        if isinstance(item, EmbedFailure):
            failures.append(item)
        else:
            vectors.update(zip(item.keys, item.vectors, strict=True))
    return vectors, failures


def embed_batches(server: FakeOllama, expected: int) -> list[list[str]]:
    return [r.body["input"] for r in logged(server, "/api/embed")]


def texts_of(n: int) -> list[str]:
    return [f"document {i} mentions subject {i % 11}" for i in range(n)]


# -- transient failures ------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "503", "429", "drop", "cut", "malformed"])
def test_transient_failures_are_retried_to_the_same_vectors(
    fake_ollama: FakeOllama, kind: FaultKind
) -> None:
    texts = texts_of(30)
    with Embedder(MINILM, hosts=[fake_ollama.url], batch_size=4) as clean:
        expected = clean.embed_documents(texts)
    fake_ollama.fail_next(3, kind, endpoint="/api/embed")
    stats = EmbedStats()
    with Embedder(
        MINILM, hosts=[fake_ollama.url], batch_size=4, backoff=0.001
    ) as embedder:
        vectors, failures = collect(
            embedder.embed_stream(enumerate(texts), stats=stats)
        )
    assert failures == []
    assert np.array_equal(np.stack([vectors[i] for i in range(30)]), expected)
    assert stats.retries == 3
    assert stats.hosts[fake_ollama.url].failures == 3
    # Every request the server refused was made again.
    assert stats.requests == stats.hosts[fake_ollama.url].requests


def test_a_stopped_host_leaves_the_rotation_and_the_other_finishes(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    steady, doomed = fake_ollama_factory(), fake_ollama_factory()
    texts = texts_of(400)
    stats = EmbedStats()
    with Embedder(
        MINILM,
        hosts=[steady.url, doomed.url],
        batch_size=4,
        backoff=0.001,
        cooldown=600.0,
    ) as embedder:
        stream = embedder.embed_stream(enumerate(texts), stats=stats)
        vectors, failures = collect(iter([next(stream)]))
        doomed.stop()
        more, more_failures = collect(stream)
    vectors.update(more)
    assert failures == more_failures == []
    assert sorted(vectors) == list(range(400))
    assert stats.hosts[doomed.url].available is False
    assert stats.hosts[steady.url].available is True
    assert stats.hosts[doomed.url].failures >= 1
    with Embedder(MINILM, hosts=[steady.url]) as reference:
        expected = reference.embed_documents(texts)
    assert np.array_equal(np.stack([vectors[i] for i in range(400)]), expected)


def test_all_hosts_down_raises_a_connection_error_naming_them(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    first, second = fake_ollama_factory(), fake_ollama_factory()
    with Embedder(
        MINILM, hosts=[first.url, second.url], retries=2, backoff=0.001
    ) as embedder:
        embedder.model_info()
        first.stop()
        second.stop()
        with pytest.raises(OllamaConnectionError) as caught:
            list(embedder.embed_stream(enumerate(texts_of(10))))
        assert first.url in str(caught.value) and second.url in str(caught.value)
        assert "ollama serve" in str(caught.value)
        with pytest.raises(OllamaConnectionError, match="ollama serve"):
            embedder.embed_query("anyone there?")
    assert not any(t.name.startswith("ragkit-embed") for t in threading.enumerate())


def test_a_host_that_is_down_from_the_start_is_skipped_for_model_info(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    up, down = fake_ollama_factory(), fake_ollama_factory()
    down.stop()
    with Embedder(MINILM, hosts=[down.url, up.url], backoff=0.001) as embedder:
        assert embedder.model_info().host == up.url
        assert embedder.embed_documents(texts_of(12)).shape == (12, 384)
        assert embedder.stats.hosts[down.url].available is False


def test_no_server_listening_anywhere_fails_at_once_without_retries(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    # Retries are for servers that restart mid-run; when nothing listens on
    # any host at the first request, waiting out the backoff helps no one.
    first, second = fake_ollama_factory(), fake_ollama_factory()
    first.stop()
    second.stop()
    with Embedder(MINILM, hosts=[first.url, second.url], retries=4) as embedder:
        with pytest.raises(OllamaConnectionError, match="nothing is listening"):
            embedder.model_info()
        # Each host was tried once: the move to the second is the only retry.
        assert embedder.stats.retries == 1
        assert [embedder.stats.hosts[h].failures for h in (first.url, second.url)] == [
            1,
            1,
        ]


def test_a_server_that_keeps_failing_ends_the_run_with_an_ingest_error(
    fake_ollama: FakeOllama,
) -> None:
    with Embedder(MINILM, hosts=[fake_ollama.url], retries=2, backoff=0.001) as e:
        e.model_info()
        fake_ollama.fail_next(100, "500", endpoint="/api/embed", message="gpu on fire")
        with pytest.raises(IngestError, match="gpu on fire") as caught:
            e.embed_documents(["one", "two"])
    assert "failed 3 times" in str(caught.value)


def test_timeouts_split_a_batch_until_the_halves_go_through(
    scripted: ScriptedOllama, scripted_embedder: Callable[..., Embedder]
) -> None:
    def slow_for_big_batches(texts: list[str], truncate: bool) -> None:
        if len(texts) > 2:
            raise httpx.ReadTimeout("too slow")

    scripted.on_embed = slow_for_big_batches  # type: ignore[assignment]
    embedder = scripted_embedder(batch_size=8, retries=3)
    texts = [f"t{i}" for i in range(8)]
    vectors = embedder.embed_documents(texts)
    assert vectors.tolist() == [fake_vector(t, 4) for t in texts]
    sizes = [len(batch) for batch, _ in scripted.embeds]
    assert sizes[0] == 8 and max(sizes[-4:]) <= 2
    assert embedder.stats.retries >= 3


# -- what is not retried -----------------------------------------------------


def test_a_missing_model_fails_at_once_with_the_pull_hint(
    fake_ollama: FakeOllama,
) -> None:
    with Embedder("no-such-embedder", hosts=[fake_ollama.url]) as embedder:
        with pytest.raises(ModelNotFoundError) as caught:
            embedder.embed_documents(["x"])
    assert "ollama pull no-such-embedder" in str(caught.value)
    assert fake_ollama.url in str(caught.value)
    assert len(logged(fake_ollama, "/api/show")) == 1
    assert fake_ollama.counts("/api/embed") == 0


def test_a_model_missing_on_one_host_stops_the_stream(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    has_it = fake_ollama_factory()
    lacks_it = fake_ollama_factory(
        models=[FakeModel(name="other-embed", kind="embedding", dimension=8)]
    )
    with Embedder(
        MINILM, hosts=[has_it.url, lacks_it.url], batch_size=2, cooldown=600.0
    ) as embedder:
        with pytest.raises(ModelNotFoundError) as caught:
            list(embedder.embed_stream(enumerate(texts_of(200))))
    assert lacks_it.url in str(caught.value)
    assert "ollama pull all-minilm" in str(caught.value)


def test_other_client_errors_are_not_retried(
    scripted: ScriptedOllama, scripted_embedder: Callable[..., Embedder]
) -> None:
    scripted.on_embed = lambda texts, truncate: httpx.Response(  # type: ignore[assignment]
        401, json={"error": "unauthorized"}
    )
    embedder = scripted_embedder()
    with pytest.raises(ResponseError) as caught:
        list(embedder.embed_stream(enumerate(["a", "b"])))
    assert caught.value.status_code == 401
    assert len(scripted.embeds) == 1
    with pytest.raises(ResponseError):
        embedder.embed_query("a")
    assert len(scripted.embeds) == 2


# -- inputs the server rejects -----------------------------------------------


def poison_rejected(texts: list[str], truncate: bool) -> httpx.Response | None:
    if any("POISON" in t for t in texts):
        return httpx.Response(400, json={"error": "failed to process input"})
    return None


def test_a_rejected_batch_is_bisected_to_skip_only_the_bad_input(
    scripted: ScriptedOllama, scripted_embedder: Callable[..., Embedder]
) -> None:
    scripted.on_embed = poison_rejected  # type: ignore[assignment]
    texts = [f"fine {i}" for i in range(16)]
    texts[11] = "this one is POISON"
    stats = EmbedStats()
    embedder = scripted_embedder(batch_size=16)
    vectors, failures = collect(embedder.embed_stream(enumerate(texts), stats=stats))
    assert failures == [
        EmbedFailure(11, "this one is POISON", "failed to process input")
    ]
    assert sorted(vectors) == [i for i in range(16) if i != 11]
    for key, vector in vectors.items():
        assert vector.tolist() == pytest.approx(fake_vector(texts[key], 4))
    assert stats.failed == 1 and stats.truncated == 0
    assert stats.splits == 4  # 16 -> 8 -> 4 -> 2 -> 1
    # The lone bad input was also tried with truncation before being skipped.
    assert (["this one is POISON"], True) in scripted.embeds


def test_embed_documents_names_the_inputs_it_could_not_embed(
    scripted: ScriptedOllama, scripted_embedder: Callable[..., Embedder]
) -> None:
    scripted.on_embed = poison_rejected  # type: ignore[assignment]
    embedder = scripted_embedder()
    with pytest.raises(IngestError, match=r"1 of 3 texts: #1: failed to process"):
        embedder.embed_documents(["ok", "POISON", "ok too"])
    with pytest.raises(ResponseError, match="failed to process input"):
        embedder.embed_query("POISON")


def test_non_finite_vectors_become_failures(
    scripted: ScriptedOllama, scripted_embedder: Callable[..., Embedder]
) -> None:
    def nan_for_marked(texts: list[str], truncate: bool) -> list[list[float]]:
        return [[float("nan")] * 4 if "NAN" in t else fake_vector(t, 4) for t in texts]

    scripted.on_embed = nan_for_marked  # type: ignore[assignment]
    embedder = scripted_embedder()
    vectors, failures = collect(embedder.embed_stream(enumerate(["a", "NAN", "c"])))
    assert sorted(vectors) == [0, 2]
    assert [(f.key, f.text) for f in failures] == [(1, "NAN")]
    assert "NaN" in failures[0].reason
    with pytest.raises(IngestError, match="NaN"):
        embedder.embed_query("NAN")


def test_vectors_of_the_wrong_dimension_stop_the_run(
    scripted: ScriptedOllama, scripted_embedder: Callable[..., Embedder]
) -> None:
    scripted.dimension = 3  # show says 4
    embedder = scripted_embedder()
    with pytest.raises(IngestError) as caught:
        embedder.embed_documents(["a", "b"])
    message = str(caught.value)
    assert "scripted" in message and "3-dimensional" in message and "is 4" in message
    with pytest.raises(IngestError, match="3-dimensional"):
        embedder.embed_query("a")


def test_a_reply_with_too_few_vectors_is_an_error(
    scripted: ScriptedOllama, scripted_embedder: Callable[..., Embedder]
) -> None:
    scripted.on_embed = lambda texts, truncate: [fake_vector("x", 4)]  # type: ignore[assignment]
    embedder = scripted_embedder()
    with pytest.raises(IngestError, match="returned 1 vectors for 2 inputs"):
        embedder.embed_documents(["a", "b"])


# -- model facts and settings ------------------------------------------------


def test_model_info_reads_show_and_tags_once(fake_ollama: FakeOllama) -> None:
    with Embedder("nomic-embed-text", hosts=[fake_ollama.url]) as embedder:
        info = embedder.model_info()
        assert embedder.model_info() is info
    assert (info.name, info.dimension, info.context_length) == (
        "nomic-embed-text",
        768,
        2048,
    )
    assert info.family == "nomic-bert"
    assert "embedding" in info.capabilities
    listed = fake_ollama.model("nomic-embed-text")
    assert listed is not None and info.digest == listed.digest
    assert len(logged(fake_ollama, "/api/show")) == 1
    assert len(logged(fake_ollama, "/api/tags")) == 1


def test_model_info_uses_a_smaller_num_ctx_and_matches_tags_by_full_name(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    model = FakeModel(
        name="tiny-embed:v2",
        kind="embedding",
        dimension=16,
        context_length=512,
        family="bert",
        parameters={"num_ctx": 256},
    )
    server = fake_ollama_factory(models=[model])
    with Embedder("Tiny-Embed:v2", hosts=[server.url]) as embedder:
        info = embedder.model_info()
    assert info.context_length == 256
    assert info.digest == model.digest


def test_the_dimension_is_probed_when_show_does_not_say(
    scripted: ScriptedOllama, scripted_embedder: Callable[..., Embedder]
) -> None:
    scripted.show_dimension = None
    scripted.dimension = 6
    info = scripted_embedder().model_info()
    assert info.dimension == 6
    assert info.digest == "ab" * 32
    assert len(scripted.embeds) == 1


@pytest.mark.parametrize(
    "settings",
    [
        {"batch_size": 0},
        {"max_batch_tokens": 0},
        {"in_flight_per_host": 0},
        {"retries": -1},
        {"queue_size": 0},
        {"hosts": []},
        {"hosts": "http://127.0.0.1:1"},
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Embedder(MINILM, **settings)  # type: ignore[arg-type]


def test_hosts_default_to_ollama_host(
    fake_ollama_env: FakeOllama,
) -> None:
    with Embedder(MINILM) as embedder:
        assert embedder.hosts == [fake_ollama_env.url]
        assert embedder.embed_query("hello").shape == (384,)


def test_a_closed_embedder_refuses_work(fake_ollama: FakeOllama) -> None:
    embedder = Embedder(MINILM, hosts=[fake_ollama.url])
    embedder.close()
    embedder.close()
    with pytest.raises(RagkitError, match="closed"):
        embedder.embed_query("x")
    with pytest.raises(RagkitError, match="closed"):
        list(embedder.embed_stream([(0, "x")]))


def test_the_request_body_carries_keep_alive_and_truncate_false(
    fake_ollama: FakeOllama,
) -> None:
    with Embedder(MINILM, hosts=[fake_ollama.url], keep_alive="10m") as embedder:
        embedder.embed_documents(["a"])
    records = logged(fake_ollama, "/api/embed")
    assert records[0].body == {
        "model": MINILM,
        "input": ["a"],
        "truncate": False,
        "keep_alive": "10m",
    }


def test_hosts_with_different_versions_of_the_model_are_refused(
    fake_ollama_factory: Callable[..., FakeOllama],
) -> None:
    standard = fake_ollama_factory()
    retrained = FakeModel(
        name=MINILM,
        kind="embedding",
        dimension=384,
        context_length=512,
        family="bert",
        system="a different build",
    )
    other = fake_ollama_factory(models=[retrained])
    with Embedder(MINILM, hosts=[standard.url, other.url]) as embedder:
        with pytest.raises(ConfigError, match="differs between hosts") as caught:
            embedder.model_info()
    assert other.url in str(caught.value)
    assert "ollama pull all-minilm" in str(caught.value)


def test_the_config_round_trips_with_hosts_and_prefixes_resolved(
    fake_ollama: FakeOllama,
) -> None:
    config = EmbedderConfig("nomic-embed-text", hosts=(fake_ollama.url,), batch_size=3)
    with Embedder.from_config(config) as embedder:
        assert embedder.config == dataclasses.replace(
            config,
            document_prefix="search_document: ",
            query_prefix="search_query: ",
            queue_size=4,
        )
        assert embedder.embed_documents(["a", "b", "c", "d"]).shape == (4, 768)
    assert max(len(b) for b in embed_batches(fake_ollama, 2)) == 3


def test_config_defaults_match_the_constructor() -> None:
    parameters = inspect.signature(Embedder).parameters
    for field in dataclasses.fields(EmbedderConfig):
        if field.name in ("model", "hosts"):
            continue
        assert parameters[field.name].default == field.default, field.name
