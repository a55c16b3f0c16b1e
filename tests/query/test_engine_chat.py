"""Chat sessions (rewrites, history, reset, sources) and the async engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from query_helpers import ChatLog

from ragkit.errors import ModelNotFoundError, QueryError
from ragkit.ollama import AsyncClient, Client
from ragkit.query import REWRITE_PROMPT, AnswerDelta, QueryEngine
from ragkit.testing import FakeOllama
from ragkit.types import Answer

FIRST = "How often are API keys rotated?"
FOLLOW_UP = "And how long does the old one keep working?"
STANDALONE = "How long does an old API key keep working after rotation?"


def is_rewrite(body: dict[str, Any]) -> bool:
    return body["messages"][0]["content"] == REWRITE_PROMPT


def test_first_turn_is_not_rewritten_and_follow_ups_are(
    sample_index: Path, fake_ollama: FakeOllama, chat_proxy: Callable[..., Any]
) -> None:
    proxy = chat_proxy(lambda body: STANDALONE if is_rewrite(body) else None)
    client = Client(fake_ollama.url, transport=proxy.transport())
    with QueryEngine.open(sample_index, host=fake_ollama.url, client=client) as e:
        session = e.chat()
        first = session.ask(FIRST)
        assert session.last_query == FIRST
        second = session.ask(FOLLOW_UP)
    assert [is_rewrite(b) for b in proxy.chats] == [False, True, False]
    transcript = proxy.chats[1]["messages"][1]["content"]
    assert (
        f"User: {FIRST}" in transcript
        and f"Follow-up question: {FOLLOW_UP}" in transcript
    )
    # Retrieval and the answer use the standalone question; the history goes along.
    assert session.last_query == STANDALONE
    answer_request = proxy.chats[2]["messages"]
    assert answer_request[1:3] == [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": first.text},
    ]
    assert answer_request[-1]["content"] == STANDALONE
    assert second.question == FOLLOW_UP
    assert "grace period of 7 days" in second.text
    assert second.verified_citations[0].path == "sample_docs/api-guide.md"
    assert [turn["role"] for turn in session.history] == ["user", "assistant"] * 2
    assert session.sources == second.passages


def test_a_rewrite_that_echoes_the_instructions_is_ignored(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    # FakeOllama answers a rewrite request with a sentence of its instructions.
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client
    ) as engine:
        session = engine.chat()
        session.ask(FIRST)
        answer = session.ask("Who approves security exceptions in writing?")
    assert is_rewrite(chat_log.bodies[1])
    assert session.last_query == "Who approves security exceptions in writing?"
    assert answer.verified_citations
    assert answer.tokens.prompt > 0


def test_reset_forgets_the_conversation(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client
    ) as engine:
        session = engine.chat(k=3)
        session.ask(FIRST)
        assert len(session.sources) <= 3 and session.history
        session.reset()
        assert session.history == () and session.sources == ()
        assert session.last_query is None
        session.ask(FIRST)
    assert not any(is_rewrite(body) for body in chat_log.bodies)
    assert len(chat_log.bodies[-1]["messages"]) == 3  # system, sources, question


def test_chat_stream_deltas_match_the_answer(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        session = engine.chat()
        events = list(session.ask_stream(FIRST))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)) == answer.text
    assert session.history[-1] == {"role": "assistant", "content": answer.text}


def test_chat_refuses_an_empty_message(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        session = engine.chat()
        with pytest.raises(QueryError, match="empty"):
            session.ask("  ")
        with pytest.raises(QueryError, match="empty"):
            session.ask_stream("")
    assert session.history == ()


# --- async ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_search_and_ask_match_sync(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        hits = engine.search(FIRST)
        answer = engine.ask(FIRST)
    async with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        ahits = await engine.asearch(FIRST)
        aanswer = await engine.aask(FIRST)
        streamed = await engine.aask(FIRST, stream=True)
        events = [event async for event in engine.aask_stream(FIRST)]
    assert ahits == hits
    assert aanswer.text == streamed.text == answer.text
    assert aanswer.citations == answer.citations
    final = events[-1]
    assert isinstance(final, Answer) and final.citations == answer.citations
    deltas = [e.text for e in events if isinstance(e, AnswerDelta)]
    assert len(deltas) > 1 and "".join(deltas) == final.text


@pytest.mark.anyio
async def test_async_client_is_used_for_the_network(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    sent: list[str] = []

    async def record(request: Any) -> None:
        sent.append(request.url.path)

    client = AsyncClient(fake_ollama.url, event_hooks={"request": [record]})
    engine = QueryEngine.open(sample_index, host=fake_ollama.url, async_client=client)
    try:
        answer = await engine.aask(FIRST, mode="lexical")
    finally:
        await engine.aclose()
    assert sent == ["/api/show", "/api/chat"]
    assert answer.verified_citations
    assert engine.store.closed


@pytest.mark.anyio
async def test_async_chat_session_rewrites_follow_ups(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    bodies: list[dict[str, Any]] = []

    async def record(request: Any) -> None:
        if request.url.path == "/api/chat":
            bodies.append(json.loads(request.content))

    client = AsyncClient(fake_ollama.url, event_hooks={"request": [record]})
    async with QueryEngine.open(
        sample_index, host=fake_ollama.url, async_client=client
    ) as engine:
        session = engine.chat()
        first = await session.aask(FIRST)
        events = [e async for e in session.aask_stream("Who approves exceptions?")]
    assert [is_rewrite(b) for b in bodies] == [False, True, False]
    assert isinstance(events[-1], Answer)
    assert session.history[0] == {"role": "user", "content": FIRST}
    assert session.history[1] == {"role": "assistant", "content": first.text}
    assert len(session.history) == 4


@pytest.mark.anyio
async def test_async_errors_are_the_sync_ones(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    async with QueryEngine.open(
        sample_index, host=fake_ollama.url, model="missing-model"
    ) as engine:
        with pytest.raises(QueryError, match="empty"):
            await engine.aask(" ")
        with pytest.raises(
            ModelNotFoundError, match="ragkit models pull missing-model"
        ):
            await engine.aask(FIRST)
