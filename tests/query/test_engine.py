"""QueryEngine end to end against FakeOllama: answers, citations, budget, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from query_helpers import ChatLog

from ragkit.errors import (
    ConfigError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelNotFoundError,
    OllamaConnectionError,
    QueryError,
)
from ragkit.ollama import Client, ShowResponse
from ragkit.query import (
    ANSWER_SCHEMA,
    DEFAULT_CONTEXT_TOKENS,
    FALLBACK_WARNING,
    NO_ANSWER,
    AnswerDelta,
    AnswerRetry,
    QueryEngine,
    context_tokens,
)
from ragkit.store import Manifest, Store
from ragkit.testing import FakeModel, FakeOllama
from ragkit.types import Answer

QUESTION = "How often are API keys rotated?"


def source_line(index: Path, path: str, line: int) -> str:
    return (index.parent / path).read_text(encoding="utf-8").splitlines()[line - 1]


# --- answers and citations ------------------------------------------------------


def test_answer_cites_the_right_file_and_line(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        answer = engine.ask(QUESTION)
    assert "every 90 days" in answer.text
    assert answer.model == "llama3.2"
    [citation] = answer.verified_citations
    assert citation.path == "sample_docs/api-guide.md"
    assert citation.line_start == citation.line_end == 26
    assert citation.quote in source_line(sample_index, citation.path, 26)
    assert citation.heading_path[-1] == "Key rotation"
    assert citation.chunk in [hit.chunk for hit in answer.passages]
    assert answer.tokens.prompt > 0 and answer.tokens.completion > 0
    assert answer.timings.total >= answer.timings.generate > 0
    assert answer.warnings == ()


def test_pdf_citation_resolves_to_its_page(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        answer = engine.ask("How is an exception to the security policy requested?")
    pages = {c.path: c.page for c in answer.verified_citations}
    assert pages.get("sample_docs/security-policy.pdf") == 4


def test_chat_request_sends_the_schema_and_temperature_zero(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client
    ) as engine:
        engine.ask(QUESTION)
    [body] = chat_log.bodies
    assert body["format"] == ANSWER_SCHEMA
    assert body["options"] == {"temperature": 0}
    assert body["stream"] is False
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user", "content": QUESTION}
    assert "[1] sample_docs/" in body["messages"][-2]["content"]


def test_options_override_the_temperature(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    options = {"temperature": 0.7, "seed": 3}
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client, options=options
    ) as engine:
        engine.ask(QUESTION)
    assert chat_log.bodies[0]["options"] == {"temperature": 0.7, "seed": 3}


def test_streamed_deltas_concatenate_to_the_answer(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client
    ) as engine:
        events = list(engine.ask_stream(QUESTION))
        whole = engine.ask(QUESTION)
    deltas = [e for e in events if isinstance(e, AnswerDelta)]
    final = events[-1]
    assert isinstance(final, Answer)
    assert len(deltas) > 1
    assert "".join(d.text for d in deltas) == final.text == whole.text
    assert final.citations == whole.citations
    assert chat_log.bodies[0]["stream"] is True


def test_ask_with_stream_returns_the_same_answer(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        streamed = engine.ask(QUESTION, stream=True)
        plain = engine.ask(QUESTION)
    assert streamed.text == plain.text
    assert streamed.citations == plain.citations


def test_history_is_sent_before_the_sources(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    history = [
        {"role": "user", "content": "Hi, I run the deploys."},
        {"role": "assistant", "content": "Hello!"},
    ]
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client
    ) as engine:
        engine.ask(QUESTION, history=history)
    messages = chat_log.bodies[0]["messages"]
    assert messages[1:3] == history
    assert messages[-1]["content"] == QUESTION


def source_of(body: dict[str, Any], text: str) -> int:
    """The number of the prompt's passage that holds ``text``."""
    blocks = body["messages"][-2]["content"].split("\n\n[")
    return next(int(b.split("]")[0]) for b in blocks[1:] if text in b)


KEY_QUOTE = "API keys are rotated automatically every 90 days."


def test_unknown_source_and_unfound_quote_are_flagged(
    sample_index: Path,
    fake_ollama: FakeOllama,
    chat_proxy: Callable[..., Any],
) -> None:
    def reply(body: dict[str, Any]) -> str:
        n = source_of(body, KEY_QUOTE)
        citations = [
            {"source": n, "quote": KEY_QUOTE},
            {"source": 9, "quote": KEY_QUOTE},
            {"source": n, "quote": "keys are encrypted twice with rotating salts"},
        ]
        return json.dumps(
            {"answer": "Keys rotate every 90 days.", "citations": citations}
        )

    proxy = chat_proxy(reply)
    client = Client(fake_ollama.url, transport=proxy.transport())
    with QueryEngine.open(sample_index, host=fake_ollama.url, client=client) as engine:
        answer = engine.ask(QUESTION)
    first, unknown, unfound = answer.citations
    assert first.verified and first.line_start == 26
    assert not unknown.verified and unknown.chunk is None
    assert "source 9 was not among" in unknown.reason
    assert not unfound.verified and unfound.path == first.path
    assert f"quote not found in source {first.source}" in unfound.reason
    assert answer.verified_citations == (first,)


def test_invalid_reply_is_asked_again_once(
    sample_index: Path,
    fake_ollama: FakeOllama,
    chat_proxy: Callable[..., Any],
) -> None:
    replies = iter(["Sure! Keys rotate every 90 days.", None])
    proxy = chat_proxy(lambda body: next(replies))
    client = Client(fake_ollama.url, transport=proxy.transport())
    with QueryEngine.open(sample_index, host=fake_ollama.url, client=client) as engine:
        events = list(engine.ask_stream(QUESTION))
    retries = [e for e in events if isinstance(e, AnswerRetry)]
    answer = events[-1]
    assert len(retries) == 1 and "not valid JSON" in retries[0].reason
    assert isinstance(answer, Answer)
    assert answer.warnings == ()
    assert answer.verified_citations
    deltas_after_retry = events[events.index(retries[0]) + 1 : -1]
    assert "".join(e.text for e in deltas_after_retry) == answer.text
    assert len(proxy.chats) == 2


def test_twice_invalid_reply_falls_back_to_raw_text_and_sources(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    # num_predict cuts FakeOllama's JSON short, as a real model's length limit does.
    options = {"num_predict": 6}
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client, options=options
    ) as engine:
        answer = engine.ask(QUESTION)
    assert answer.warnings == (FALLBACK_WARNING,)
    assert answer.citations == ()
    assert answer.text.startswith('{"answer"')
    assert "Retrieved sources (the answer above was not checked):" in answer.text
    assert "[1] sample_docs/api-guide.md" in answer.text
    assert answer.passages
    assert len(chat_log.bodies) == 2


# --- the context budget ---------------------------------------------------------


def test_small_context_drops_passages_with_a_warning(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        full = engine.ask(QUESTION)
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, options={"num_ctx": 1400}
    ) as engine:
        small = engine.ask(QUESTION)
    assert 0 < len(small.passages) < len(full.passages)
    assert small.passages == full.passages[: len(small.passages)]
    dropped = len(full.passages) - len(small.passages)
    assert (
        f"{dropped} of {len(full.passages)} retrieved passages did not fit"
        in small.warnings[0]
    )


def test_modelfile_num_ctx_sets_the_budget(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    fake_ollama.add_model(FakeModel(name="tiny-ctx", parameters={"num_ctx": 1400}))
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client, model="tiny-ctx"
    ) as e:
        answer = e.ask(QUESTION)
    assert "did not fit the model's context" in answer.warnings[0]
    assert "num_ctx" not in chat_log.bodies[0]["options"]


def test_question_longer_than_the_context_is_refused(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    question = "Why are keys rotated " + "and why " * 3000 + "?"
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client
    ) as engine:
        with pytest.raises(QueryError, match="question too long"):
            engine.ask(question)
    assert chat_log.bodies == []


def test_context_tokens_sources() -> None:
    show = ShowResponse(parameters="num_ctx 2048", model_info={})
    trained = ShowResponse(
        model_info={"general.architecture": "llama", "llama.context_length": 2048}
    )
    assert context_tokens({"num_ctx": 900}, None) == 900
    assert context_tokens({}, show) == 2048
    assert context_tokens({}, ShowResponse()) == DEFAULT_CONTEXT_TOKENS == 4096
    assert context_tokens({}, None) == DEFAULT_CONTEXT_TOKENS
    assert context_tokens({}, trained) == 2048
    with pytest.raises(ConfigError, match="num_ctx"):
        context_tokens({"num_ctx": 0}, None)


# --- bad input and failures -----------------------------------------------------


@pytest.mark.parametrize("question", ["", "   \n"])
def test_empty_question_is_refused(
    sample_index: Path, fake_ollama: FakeOllama, question: str
) -> None:
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        with pytest.raises(QueryError, match="question is empty"):
            engine.ask(question)
        with pytest.raises(QueryError, match="empty"):
            engine.search(question)
        with pytest.raises(QueryError, match="empty"):
            engine.ask_stream(question)
    assert fake_ollama.requests == []


def test_empty_index_says_how_to_fill_it(
    tmp_path: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    manifest = Manifest(embed_model="nomic-embed-text", dimension=768)
    Store.create(tmp_path / "empty", manifest).close()
    with QueryEngine.open(
        tmp_path / "empty", host=fake_ollama.url, client=chat_log.client
    ) as engine:
        with pytest.raises(QueryError, match=r"is empty; run `ragkit index"):
            engine.ask(QUESTION)
        with pytest.raises(QueryError, match="is empty"):
            engine.search(QUESTION, mode="lexical")
    assert chat_log.bodies == []


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match=r"run `ragkit index <folder>`"):
        QueryEngine.open(tmp_path / "nowhere")


def test_index_of_another_embedding_model_is_refused(sample_index: Path) -> None:
    with pytest.raises(IndexMismatchError, match="nomic-embed-text"):
        QueryEngine.open(sample_index, embed_model="all-minilm")


def test_server_model_of_another_dimension_is_refused(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.add_model(
        FakeModel(name="nomic-embed-text", kind="embedding", dimension=384)
    )
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        with pytest.raises(IndexMismatchError, match="dimension 384"):
            engine.search(QUESTION)


def test_missing_chat_model_offers_the_pull_command(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, model="missing-model"
    ) as engine:
        with pytest.raises(ModelNotFoundError) as info:
            engine.ask(QUESTION)
    assert "ragkit models pull missing-model" in str(info.value)


def test_server_down_says_what_to_run(
    sample_index: Path, fake_ollama_factory: Callable[..., FakeOllama]
) -> None:
    server = fake_ollama_factory()
    url = server.url
    server.stop()
    with QueryEngine.open(sample_index, host=url) as engine:
        with pytest.raises(OllamaConnectionError, match="ollama serve"):
            engine.ask(QUESTION, mode="lexical")
        with pytest.raises(OllamaConnectionError, match="ollama serve"):
            engine.search(QUESTION)


def test_nothing_found_answers_without_asking_the_model(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client
    ) as engine:
        answer = engine.ask(QUESTION, paths=["no/such/folder/**"])
    assert answer.text == NO_ANSWER
    assert answer.passages == () and answer.citations == ()
    assert "no passage matched" in answer.warnings[0]
    assert chat_log.bodies == []


def test_bad_settings_are_refused_before_any_request(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    with pytest.raises(ConfigError, match="k must"):
        QueryEngine.open(sample_index, k=0)
    with QueryEngine.open(sample_index, host=fake_ollama.url) as engine:
        with pytest.raises(ConfigError, match="mode"):
            engine.search(QUESTION, mode="fuzzy")  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="MMR"):
            engine.search(QUESTION, mmr=1.5)
        with pytest.raises(ConfigError, match="operator"):
            engine.search(QUESTION, where={"year": {"$near": 3}})
    assert fake_ollama.requests == []


def test_close_is_idempotent_and_closes_the_index(
    sample_index: Path, fake_ollama: FakeOllama
) -> None:
    engine = QueryEngine.open(sample_index, host=fake_ollama.url)
    engine.close()
    engine.close()
    assert engine.store.closed
    assert "QueryEngine" in repr(engine)


def test_long_history_is_cut_with_a_warning(
    sample_index: Path, fake_ollama: FakeOllama, chat_log: ChatLog
) -> None:
    turn = "We talked about deploys and freezes at length. " * 20
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i} {turn}"}
        for i in range(20)
    ]
    with QueryEngine.open(
        sample_index, host=fake_ollama.url, client=chat_log.client
    ) as engine:
        answer = engine.ask(QUESTION, history=history)
    sent = chat_log.bodies[0]["messages"]
    kept = sent[1:-2]
    assert 0 < len(kept) < len(history)
    assert kept == history[-len(kept) :]
    assert any("earlier chat messages did not fit" in w for w in answer.warnings)
