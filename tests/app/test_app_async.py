"""Async twins of ``ragkit.Index``, a free event loop, and readers during a write."""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path

import pytest
from app_helpers import TEXTS

from ragkit import Answer, AnswerDelta, Index, StoreError
from ragkit.app import default_id
from ragkit.testing import FakeOllama

pytestmark = pytest.mark.anyio

TWINS = [
    ("add", "aadd"),
    ("add_files", "aadd_files"),
    ("delete", "adelete"),
    ("search", "asearch"),
    ("ask", "aask"),
    ("ask_stream", "aask_stream"),
    ("close", "aclose"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def held_by(server: FakeOllama) -> None:
    """Return once the paused server holds a request in a model slot."""

    async def poll() -> None:
        while server.stats.active == 0:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout=30)


@pytest.mark.parametrize(("sync", "async_"), TWINS)
def test_async_twins_take_the_same_arguments(sync: str, async_: str) -> None:
    assert inspect.signature(getattr(Index, sync)).parameters == (
        inspect.signature(getattr(Index, async_)).parameters
    )


async def test_every_async_method(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Notes\n\nThe wiki moved in May.\n", "utf-8")
    async with Index.memory(host=fake_ollama.url) as index:
        report = await index.aadd(TEXTS, metadata={"team": "ops"})
        assert report.added == [default_id(text) for text in TEXTS]
        files = await index.aadd_files([tmp_path / "notes.md"])
        assert len(files.added) == 1

        hits = await index.asearch("How often are API keys rotated?", k=2)
        assert hits[0].chunk.text == TEXTS[1]
        assert await index.asearch("keys", where={"team": "nobody"}) == []

        answer = await index.aask("How often are API keys rotated?")
        assert "every 90 days" in answer.text and answer.verified_citations

        events = [event async for event in index.aask_stream("When do backups run?")]
        final = events[-1]
        assert isinstance(final, Answer) and final.verified_citations
        streamed = "".join(e.text for e in events if isinstance(e, AnswerDelta))
        assert streamed == final.text

        session = index.chat()
        first = await session.aask("When do backups run?")
        assert first.verified_citations and len(session.history) == 2

        assert await index.adelete(where={"team": "ops"}) == 4
        assert await index.adelete(ids=["missing"]) == 0
    assert index.closed
    with pytest.raises(StoreError, match="closed"):
        await index.asearch("keys")


async def test_the_event_loop_stays_free_while_an_add_waits_on_the_server(
    fake_ollama: FakeOllama,
) -> None:
    async with Index.memory(host=fake_ollama.url) as index:
        fake_ollama.pause()
        try:
            adding = asyncio.create_task(index.aadd(TEXTS))
            # The embed request is held by the server; the loop must still run
            # this coroutine, or the request would never be released.
            await held_by(fake_ollama)
            assert not adding.done()
        finally:
            fake_ollama.resume()
        report = await asyncio.wait_for(adding, timeout=30)
        assert report.chunks == 4


async def test_the_event_loop_stays_free_while_a_search_waits_on_the_server(
    fake_ollama: FakeOllama,
) -> None:
    async with Index.memory(host=fake_ollama.url) as index:
        await index.aadd(TEXTS)
        fake_ollama.pause()
        try:
            searching = asyncio.create_task(index.asearch("backups"))
            await held_by(fake_ollama)
            assert not searching.done()
        finally:
            fake_ollama.resume()
        hits = await asyncio.wait_for(searching, timeout=30)
        assert hits[0].chunk.text == TEXTS[0]


def test_many_threads_search_while_one_thread_adds(fake_ollama: FakeOllama) -> None:
    batches = [
        [f"Release note {b}-{n}: build {b} fixed bug {n}." for n in range(25)]
        for b in range(6)
    ]
    expected_meta = {
        default_id(text): {"batch": b}
        for b, texts in enumerate(batches)
        for text in texts
    }
    with Index.memory(host=fake_ollama.url) as index:
        index.add(TEXTS, metadata={"batch": -1})
        errors: list[BaseException] = []
        seen_counts: list[int] = []
        done = threading.Event()

        def search_until_done(query: str, top: str | None) -> None:
            try:
                while not done.is_set():
                    hits = index.search(query, k=5, where={"batch": {"$gte": -1}})
                    if top is not None:
                        assert hits[0].chunk.text == top
                    # Every hit is a whole, committed document with the
                    # metadata it was added with.
                    for hit in hits:
                        want = expected_meta.get(hit.chunk.document, {"batch": -1})
                        assert dict(hit.chunk.metadata) == want
                    seen_counts.append(index.stats().documents)
            except BaseException as exc:  # handed to the test thread
                errors.append(exc)

        readers = [
            threading.Thread(target=search_until_done, args=args)
            for args in (
                (TEXTS[0], TEXTS[0]),
                ("release note build fixed bug", None),
                ("API keys rotated", TEXTS[1]),
            )
        ]
        for reader in readers:
            reader.start()
        try:
            for batch in batches:
                index.add(batch, metadata={"batch": batches.index(batch)})
        finally:
            done.set()
            for reader in readers:
                reader.join(timeout=60)
        assert errors == []
        assert seen_counts and all(4 <= count <= 154 for count in seen_counts)
        assert index.stats().documents == 4 + 6 * 25


async def test_many_tasks_search_while_one_task_adds(fake_ollama: FakeOllama) -> None:
    async with Index.memory(host=fake_ollama.url) as index:
        await index.aadd(TEXTS)
        more = [f"Meeting minutes {n}: the team agreed on item {n}." for n in range(40)]
        fake_ollama.pause()
        try:
            adding = asyncio.create_task(index.aadd(more))
            await held_by(fake_ollama)
            # Word searches need no server: they run while the add is held.
            results = await asyncio.gather(
                *(
                    index.asearch("backups nightly", k=3, mode="lexical")
                    for _ in range(8)
                )
            )
            assert not adding.done()
        finally:
            fake_ollama.resume()
        assert all(hits[0].chunk.text == TEXTS[0] for hits in results)
        report = await asyncio.wait_for(adding, timeout=30)
        assert report.chunks == 40
        hits = await index.asearch("meeting minutes item 7", k=1, mode="lexical")
        assert hits[0].chunk.text == more[7]


async def test_aembed_runs_off_the_loop(fake_ollama: FakeOllama) -> None:
    import ragkit

    vectors = await ragkit.aembed(TEXTS, host=fake_ollama.url)

    assert vectors.shape == (4, 768)


def test_async_twins_are_coroutines_or_async_iterators() -> None:
    for sync, async_ in TWINS:
        method = getattr(Index, async_)
        if async_ == "aask_stream":
            assert not inspect.iscoroutinefunction(method)
        else:
            assert inspect.iscoroutinefunction(method), async_
        assert not inspect.iscoroutinefunction(getattr(Index, sync))
