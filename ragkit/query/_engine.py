"""The query engine: grounded answers with verified citations, streaming, chat, async.

One answer goes: check the question → the chat model's context size
(``num_ctx``) → embed the query → retrieve passages → build the prompt within
the budget → ``/api/chat`` with ``format=ANSWER_SCHEMA`` → parse and verify
the citations. A reply that does not follow the schema is asked for once
more; if the second one fails too, the answer falls back to the raw text with
the retrieved sources listed and a warning.

The sync and async methods share every step that does no I/O (:class:`_Run`
holds the state of one answer); they differ only in how they call the server.

The context size is ``options["num_ctx"]`` when given, else the Modelfile's
``num_ctx`` parameter from ``/api/show``, else 4096: the real server's
default on machines with less than about 23 GiB of VRAM (it picks more on
bigger GPUs, so 4096 is the size every Ollama gives at least), capped at the
context the model was trained with. ragkit does not send ``num_ctx`` itself,
so the model is not reloaded with another context size.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType, TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from ragkit.embedding import Embedder
from ragkit.errors import CitationError, ConfigError, QueryError
from ragkit.ollama import AsyncClient, ChatResponse, Client, ShowResponse
from ragkit.query._citations import (
    ANSWER_SCHEMA,
    fallback_answer,
    normalise,
    parse_answer,
    verify_citations,
)
from ragkit.query._partial_json import AnswerStreamParser
from ragkit.query._prompt import (
    NO_ANSWER,
    REWRITE_PROMPT,
    SYSTEM_PROMPT,
    PromptBuild,
    approx_tokens,
    build_messages,
    clean_rewrite,
    rewrite_messages,
)
from ragkit.query._retrieval import Retriever, SearchMode, SearchSettings
from ragkit.store import Store
from ragkit.types import Answer, Hit, Timings, TokenCounts

__all__ = [
    "DEFAULT_ANSWER_TOKENS",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_CONTEXT_TOKENS",
    "AnswerDelta",
    "AnswerEvent",
    "AnswerRetry",
    "ChatSession",
    "QueryEngine",
    "context_tokens",
]

DEFAULT_CHAT_MODEL = "llama3.2"
"""The chat model answers come from unless another is named."""

DEFAULT_CONTEXT_TOKENS = 4096
"""The context assumed when neither the options nor the Modelfile set ``num_ctx``."""

DEFAULT_ANSWER_TOKENS = 512
"""Tokens of the context kept free for the answer."""

NO_PASSAGES_WARNING = (
    "no passage matched the search (check the filters and the threshold); "
    "the model was not asked"
)

_EMBED_RETRIES = 1
"""A query is one small request: fail fast with a clear message, not after 7 s."""


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """A piece of the answer text, as it streams in.

    Attributes:
        text: The new characters; the pieces since the last
            :class:`AnswerRetry` concatenate to the final answer's text
            (unless the answer is a fallback, see :class:`AnswerRetry`).
    """

    text: str


@dataclass(frozen=True, slots=True)
class AnswerRetry:
    """The reply streamed so far did not follow the answer format; it is asked again.

    The text of the :class:`AnswerDelta` events before this one is void. If
    the second reply fails too, the final :class:`~ragkit.types.Answer` is a
    fallback: the raw reply and the sources, with a warning.

    Attributes:
        reason: What was wrong with the reply.
    """

    reason: str


AnswerEvent = AnswerDelta | AnswerRetry | Answer
"""What a streamed answer yields: deltas, perhaps a retry, then the final Answer."""


def context_tokens(options: Mapping[str, Any], show: ShowResponse | None) -> int:
    """The context size to budget the prompt for (see the module docstring).

    Args:
        options: The chat options the requests carry.
        show: The model's ``/api/show`` reply; not needed when the options
            set ``num_ctx``.

    Returns:
        The number of tokens the prompt and the answer must fit in.

    Raises:
        ConfigError: ``options["num_ctx"]`` is not a positive whole number.
    """
    if "num_ctx" in options:
        value = options["num_ctx"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"num_ctx must be a positive whole number, not {value!r}")
        return value
    size = DEFAULT_CONTEXT_TOKENS
    if show is not None and show.num_ctx is not None and show.num_ctx > 0:
        size = show.num_ctx
    if show is not None and show.context_length:
        size = min(size, show.context_length)
    return size


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QueryError("the question is empty; ask something about your documents")
    return question.strip()


def _accept_rewrite(reply: str, follow_up: str) -> str:
    """The standalone question out of a rewrite reply, or the follow-up as it was.

    A reply that is only a piece of the rewrite instructions (small models
    sometimes echo their system prompt) rewrote nothing.
    """
    rewritten = clean_rewrite(reply)
    if not rewritten:
        return follow_up
    text, _ = normalise(rewritten)
    if len(text) < 8 or text in normalise(REWRITE_PROMPT)[0]:
        return follow_up
    return rewritten


def _merge_tokens(a: TokenCounts, response: ChatResponse | None) -> TokenCounts:
    if response is None:
        return a
    return TokenCounts(
        prompt=a.prompt + (response.prompt_eval_count or 0),
        completion=a.completion + (response.eval_count or 0),
    )


def _last_answer(events: Iterable[AnswerEvent]) -> Answer:
    answer = None
    for event in events:
        if isinstance(event, Answer):
            answer = event
    assert answer is not None  # every event stream ends with an Answer
    return answer


def _query_vector(embeddings: Sequence[Sequence[float]], model: str) -> np.ndarray:
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != 1 or vectors.shape[1] == 0:
        raise QueryError(f"{model} did not return one vector for the query")
    if not np.isfinite(vectors).all():
        raise QueryError(f"{model} returned a query vector with NaN or infinity")
    return vectors[0]


class _Run:
    """The state of one answer between the server calls: prompt, parser, tallies."""

    def __init__(
        self,
        engine: QueryEngine,
        *,
        asked: str,
        query: str,
        history: Sequence[Mapping[str, str]],
        hits: Sequence[Hit],
        context: int,
        started: float,
        embed_seconds: float,
        retrieve_seconds: float,
        tokens: TokenCounts,
    ) -> None:
        self.engine = engine
        self.asked = asked
        self.started = started
        self.embed_seconds = embed_seconds
        self.retrieve_seconds = retrieve_seconds
        self.tokens = tokens
        self.attempts = 0
        self.parser = AnswerStreamParser()
        self.build: PromptBuild | None = None
        if hits:
            self.build = build_messages(
                query,
                hits,
                history=history,
                context_tokens=context,
                answer_tokens=engine.answer_tokens,
                estimate_tokens=approx_tokens,
                system_prompt=engine.system_prompt,
            )
        self.generate_started = time.perf_counter()

    @property
    def messages(self) -> list[dict[str, str]]:
        assert self.build is not None
        return self.build.messages

    def without_passages(self) -> Answer | None:
        """The answer when retrieval found nothing, so there is nothing to ask."""
        if self.build is not None:
            return None
        return self._complete(
            Answer(question=self.asked, text=NO_ANSWER, warnings=(NO_PASSAGES_WARNING,))
        )

    def feed(self, response: ChatResponse) -> str:
        """Take one reply (or streamed chunk); return the new answer text."""
        if response.done:
            self.tokens = _merge_tokens(self.tokens, response)
        return self.parser.feed(response.message.content)

    def finish_attempt(self) -> AnswerRetry | Answer:
        """Read the reply that ended: the answer, a retry, or the fallback."""
        assert self.build is not None
        self.attempts += 1
        raw = self.parser.finish()
        passages = self.build.passages_used
        try:
            parsed = parse_answer(raw)
        except CitationError as exc:
            if self.attempts < 2:
                self.parser = AnswerStreamParser()
                return AnswerRetry(reason=str(exc))
            return self._complete(fallback_answer(self.asked, raw, passages))
        answer = Answer(
            question=self.asked,
            text=parsed.answer,
            citations=verify_citations(parsed.citations, passages),
            passages=passages,
        )
        return self._complete(answer)

    def _complete(self, answer: Answer) -> Answer:
        now = time.perf_counter()
        warnings = list(answer.warnings)
        if self.build is not None and self.build.dropped:
            total = len(self.build.passages_used) + self.build.dropped
            warnings.append(
                f"{self.build.dropped} of {total} retrieved passages did not fit "
                "the model's context and were left out"
            )
        if self.build is not None and self.build.history_dropped:
            warnings.append(
                f"{self.build.history_dropped} earlier chat messages did not fit "
                "the model's context and were left out"
            )
        return replace(
            answer,
            model=self.engine.model,
            timings=Timings(
                embed=self.embed_seconds,
                retrieve=self.retrieve_seconds,
                generate=now - self.generate_started if self.attempts else 0.0,
                total=now - self.started,
            ),
            tokens=self.tokens,
            warnings=tuple(warnings),
        )


class QueryEngine:
    """Answers questions about an index with a chat model, citing checked sources.

    Open one with :meth:`open`, use it from one or many threads, and close it
    (or use it as a context manager; ``async with`` after async use)::

        with QueryEngine.open(".ragkit", model="llama3.2") as engine:
            answer = engine.ask("How do I rotate the API keys?")
            print(answer.text)
            for citation in answer.verified_citations:
                print(citation.path, citation.line_start, citation.quote)

    Args:
        store: The index, open for reading (the engine closes it).
        embedder: Embeds queries with the index's model and query prefix
            (the engine closes it).
        client: The chat client (the engine closes it).
        model: The chat model.
        options: Options of every chat request (``temperature`` is 0 unless
            set here).
        settings: The default search settings.
        system_prompt: The instructions for grounded answers.
        answer_tokens: Context tokens kept free for the answer.
        async_client: The async chat client; made on first async use when
            not given (the engine closes it in :meth:`aclose`).

    Attributes:
        store: The index.
        embedder: Embeds the queries; its ``stats`` count the requests.
        client: The chat client.
        model: The chat model.
        options: The options every chat request carries.
        settings: The default search settings.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        client: Client,
        *,
        model: str = DEFAULT_CHAT_MODEL,
        options: Mapping[str, Any] | None = None,
        settings: SearchSettings | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        answer_tokens: int = DEFAULT_ANSWER_TOKENS,
        async_client: AsyncClient | None = None,
    ) -> None:
        if not model.strip():
            raise ConfigError("a chat model name is required")
        if answer_tokens < 1:
            raise ConfigError(f"answer_tokens must be at least 1, not {answer_tokens}")
        self.store = store
        self.model = model
        self.settings = settings or SearchSettings()
        self.system_prompt = system_prompt
        self.answer_tokens = answer_tokens
        self.options: Mapping[str, Any] = MappingProxyType(
            {"temperature": 0, **(options or {})}
        )
        self.embedder = embedder
        self.client = client
        self._async_client = async_client
        self._async_embed_client: AsyncClient | None = None
        self._retriever = Retriever(store, embed_passages=embedder.embed_documents)
        self._context: int | None = None
        self._closed = False
        # Fails early, before any request, when the index needs another model.
        store.check_compatible(embed_model=embedder.model)

    @classmethod
    def open(
        cls,
        index_path: str | os.PathLike[str],
        *,
        model: str = DEFAULT_CHAT_MODEL,
        host: str | None = None,
        embed_hosts: Sequence[str] | None = None,
        embed_model: str | None = None,
        options: Mapping[str, Any] | None = None,
        k: int = 8,
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
        merge_neighbours: bool = True,
        system_prompt: str = SYSTEM_PROMPT,
        answer_tokens: int = DEFAULT_ANSWER_TOKENS,
        timeout: float | None = None,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
    ) -> QueryEngine:
        """Open the index at ``index_path`` for questions.

        Args:
            index_path: The index directory (``.ragkit`` by default in the CLI).
            model: The chat model that answers.
            host: The Ollama server (``OLLAMA_HOST`` syntax); None reads
                ``OLLAMA_HOST``, else ``http://127.0.0.1:11434``.
            embed_hosts: Servers for query embeddings; default ``host``.
            embed_model: Refuse to go on unless the index was built with this
                embedding model; None takes the index's own.
            options: Chat model options (``temperature`` 0 unless set,
                ``num_ctx``, ``seed``, ...).
            k: Passages to retrieve.
            mode: ``"hybrid"``, ``"vector"`` or ``"lexical"``.
            mmr: MMR λ (1 relevance only, 0 diversity only); None is off.
            threshold: Lowest score kept (cosine; BM25 in lexical mode).
            merge_neighbours: Merge hits on neighbouring chunks into one passage.
            system_prompt: The instructions for grounded answers.
            answer_tokens: Context tokens kept free for the answer.
            timeout: Seconds to wait for the server; None keeps the client's
                default (10 s to connect, 600 s per read).
            client: A chat client to use instead of one for ``host`` (the
                engine closes it).
            async_client: An async chat client for the async methods (closed
                by :meth:`aclose`).

        Returns:
            The engine.

        Raises:
            IndexNotFoundError: There is no index at ``index_path``.
            IndexMismatchError: The index was built with another embedding model.
            ConfigError: A setting is out of range.
        """
        store = Store.open(index_path)
        try:
            store.check_compatible(embed_model=embed_model)
            return cls.from_store(
                store,
                model=model,
                host=host,
                embed_hosts=embed_hosts,
                options=options,
                k=k,
                mode=mode,
                mmr=mmr,
                threshold=threshold,
                merge_neighbours=merge_neighbours,
                system_prompt=system_prompt,
                answer_tokens=answer_tokens,
                timeout=timeout,
                client=client,
                async_client=async_client,
            )
        except BaseException:
            store.close()
            raise

    @classmethod
    def from_store(
        cls,
        store: Store,
        *,
        model: str = DEFAULT_CHAT_MODEL,
        host: str | None = None,
        embed_hosts: Sequence[str] | None = None,
        options: Mapping[str, Any] | None = None,
        k: int = 8,
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
        merge_neighbours: bool = True,
        system_prompt: str = SYSTEM_PROMPT,
        answer_tokens: int = DEFAULT_ANSWER_TOKENS,
        timeout: float | None = None,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
    ) -> QueryEngine:
        """Build an engine over a store that is already open (``ragkit.Index`` does).

        The query embedder follows the store's manifest (model and prefixes).
        The arguments are those of :meth:`open`; the engine closes ``store``
        (and a client it made) when it is closed. On failure ``store`` is
        left open for the caller.

        Raises:
            ConfigError: A setting is out of range.
        """
        settings = SearchSettings(
            k=k,
            mode=mode,
            mmr=mmr,
            threshold=threshold,
            merge_neighbours=merge_neighbours,
        )
        manifest = store.manifest
        hosts = list(embed_hosts) if embed_hosts else ([host] if host else None)
        embedder = Embedder(
            manifest.embed_model,
            hosts=hosts,
            document_prefix=manifest.document_prefix,
            query_prefix=manifest.query_prefix,
            retries=_EMBED_RETRIES,
            backoff=0.2,
            timeout=timeout,
        )
        owned: list[Any] = [embedder]
        try:
            if client is None:
                client = (
                    Client(host) if timeout is None else Client(host, timeout=timeout)
                )
                owned.append(client)
            return cls(
                store,
                embedder,
                client,
                model=model,
                options=options,
                settings=settings,
                system_prompt=system_prompt,
                answer_tokens=answer_tokens,
                async_client=async_client,
            )
        except BaseException:
            for item in reversed(owned):
                item.close()
            raise

    # -- lifecycle ------------------------------------------------------------

    def close(self) -> None:
        """Close the index and the sync clients; safe to call twice.

        After async use, call :meth:`aclose` instead, which closes the async
        clients too.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self.client.close()
            self.embedder.close()
        finally:
            self.store.close()

    async def aclose(self) -> None:
        """Close everything, the async clients included; safe to call twice."""
        clients = [self._async_client, self._async_embed_client]
        self._async_client = self._async_embed_client = None
        try:
            for client in clients:
                if client is not None:
                    await client.aclose()
        finally:
            self.close()

    def __enter__(self) -> QueryEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> QueryEngine:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<QueryEngine {self.store.path} model={self.model!r}>"

    # -- search ----------------------------------------------------------------

    def search_settings(
        self,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        threshold: float | None = None,
        mmr: float | None = None,
    ) -> SearchSettings:
        """The engine's search settings with the given ones put in.

        Args:
            k: Passages to retrieve.
            mode: ``"hybrid"``, ``"vector"`` or ``"lexical"``.
            paths: Path globs a passage's document must match (any of them).
            kinds: Document kinds or extensions (any of them).
            where: Conditions on chunk metadata.
            threshold: Lowest score kept.
            mmr: MMR λ.

        Returns:
            The settings; None and empty arguments keep the engine's.

        Raises:
            ConfigError: A value is out of range or a filter is unusable.
        """
        changes: dict[str, Any] = {}
        for name, value in (
            ("k", k),
            ("mode", mode),
            ("threshold", threshold),
            ("mmr", mmr),
            ("where", where),
        ):
            if value is not None:
                changes[name] = value
        if paths:
            changes["paths"] = tuple(paths)
        if kinds:
            changes["kinds"] = tuple(kinds)
        return replace(self.settings, **changes)

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        threshold: float | None = None,
        mmr: float | None = None,
    ) -> list[Hit]:
        """Retrieve passages for a query, without asking the chat model.

        Args:
            query: What to search for.
            k: Passages to retrieve (before neighbours are merged).
            mode: ``"hybrid"``, ``"vector"`` or ``"lexical"``.
            paths: Path globs (``docs/**/*.md``); any of them may match.
            kinds: Document kinds or extensions (``md``, ``pdf``).
            where: Conditions on chunk metadata, e.g. ``{"team": "infra"}``.
            threshold: Lowest score kept (cosine; BM25 in lexical mode).
            mmr: MMR λ for more diverse results.

        Returns:
            Passages, best first.

        Raises:
            QueryError: The query is empty or the index has no chunks.
            IndexMismatchError: The server's model gives vectors of another size.
            OllamaError: The query could not be embedded.
        """
        settings = self.search_settings(
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )
        hits, _, _ = self._retrieve(_check_question(query), settings)
        return hits

    async def asearch(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        threshold: float | None = None,
        mmr: float | None = None,
    ) -> list[Hit]:
        """The async twin of :meth:`search`."""
        settings = self.search_settings(
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )
        hits, _, _ = await self._aretrieve(_check_question(query), settings)
        return hits

    # -- answers ---------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        stream: bool = False,
        history: Sequence[Mapping[str, str]] = (),
        k: int | None = None,
        mode: SearchMode | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        threshold: float | None = None,
        mmr: float | None = None,
    ) -> Answer:
        """Answer a question from the index, with verified citations.

        Args:
            question: The question.
            stream: Receive the reply as a stream (it is still returned whole;
                use :meth:`ask_stream` to see it arrive).
            history: Earlier turns, oldest first, as ``{"role", "content"}``
                with role ``user`` or ``assistant``; sent along as far as the
                context allows.
            k: Passages to retrieve.
            mode: ``"hybrid"``, ``"vector"`` or ``"lexical"``.
            paths: Path globs a passage's document must match.
            kinds: Document kinds or extensions.
            where: Conditions on chunk metadata.
            threshold: Lowest score kept.
            mmr: MMR λ.

        Returns:
            The answer: text, citations (verified or flagged), the passages
            the prompt held, timings, token counts and warnings.

        Raises:
            QueryError: The question is empty, too long for the model's
                context, or the index is empty.
            ModelNotFoundError: The chat or embedding model is not installed
                (the message says how to pull it).
            OllamaConnectionError: The server cannot be reached.
            IndexMismatchError: The server's embedding model does not match
                the index.
        """
        settings = self.search_settings(
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )
        q = _check_question(question)
        return _last_answer(self._events(q, q, history, settings, stream))

    def ask_stream(
        self,
        question: str,
        *,
        history: Sequence[Mapping[str, str]] = (),
        k: int | None = None,
        mode: SearchMode | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        threshold: float | None = None,
        mmr: float | None = None,
    ) -> Iterator[AnswerEvent]:
        """Answer a question, yielding the answer text as the model writes it.

        Yields :class:`AnswerDelta` pieces of the ``answer`` field as they
        are decoded from the streamed JSON, an :class:`AnswerRetry` if the
        reply has to be asked for again, and finally the verified
        :class:`~ragkit.types.Answer`. The arguments and errors are those
        of :meth:`ask`.
        """
        settings = self.search_settings(
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )
        q = _check_question(question)
        return self._events(q, q, history, settings, True)

    async def aask(
        self,
        question: str,
        *,
        stream: bool = False,
        history: Sequence[Mapping[str, str]] = (),
        k: int | None = None,
        mode: SearchMode | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        threshold: float | None = None,
        mmr: float | None = None,
    ) -> Answer:
        """The async twin of :meth:`ask`."""
        settings = self.search_settings(
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )
        q = _check_question(question)
        answer = None
        async for event in self._aevents(q, q, history, settings, stream):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None  # every event stream ends with an Answer
        return answer

    def aask_stream(
        self,
        question: str,
        *,
        history: Sequence[Mapping[str, str]] = (),
        k: int | None = None,
        mode: SearchMode | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        threshold: float | None = None,
        mmr: float | None = None,
    ) -> AsyncIterator[AnswerEvent]:
        """The async twin of :meth:`ask_stream`: ``async for event in ...``."""
        settings = self.search_settings(
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )
        q = _check_question(question)
        return self._aevents(q, q, history, settings, True)

    def chat(
        self,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        threshold: float | None = None,
        mmr: float | None = None,
    ) -> ChatSession:
        """Start a conversation: follow-ups are understood in context.

        Args:
            k: Passages to retrieve for each turn.
            mode: ``"hybrid"``, ``"vector"`` or ``"lexical"``.
            paths: Path globs a passage's document must match.
            kinds: Document kinds or extensions.
            where: Conditions on chunk metadata.
            threshold: Lowest score kept.
            mmr: MMR λ.

        Returns:
            A :class:`ChatSession` that keeps the history.
        """
        settings = self.search_settings(
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )
        return ChatSession(self, settings=settings)

    # -- shared steps ----------------------------------------------------------

    def _check_fits(
        self, query: str, history: Sequence[Mapping[str, str]], context: int
    ) -> None:
        """Refuse a question the context cannot hold before anything is sent."""
        build_messages(
            query,
            (),
            history=history,
            context_tokens=context,
            answer_tokens=self.answer_tokens,
            estimate_tokens=approx_tokens,
            system_prompt=self.system_prompt,
        )

    # -- the sync send path ----------------------------------------------------

    def _context_tokens(self) -> int:
        if self._context is None:
            show = None if "num_ctx" in self.options else self.client.show(self.model)
            self._context = context_tokens(self.options, show)
        return self._context

    def _retrieve(
        self, query: str, settings: SearchSettings
    ) -> tuple[list[Hit], float, float]:
        started = time.perf_counter()
        vector = None
        if settings.mode != "lexical":
            vector = self.embedder.embed_query(query)
        embedded = time.perf_counter()
        hits = self._retriever.search(query, vector, settings)
        return hits, embedded - started, time.perf_counter() - embedded

    def _events(
        self,
        asked: str,
        query: str,
        history: Sequence[Mapping[str, str]],
        settings: SearchSettings,
        stream: bool,
        *,
        started: float | None = None,
        tokens: TokenCounts | None = None,
    ) -> Iterator[AnswerEvent]:
        started = time.perf_counter() if started is None else started
        context = self._context_tokens()
        self._check_fits(query, history, context)
        hits, embed_s, retrieve_s = self._retrieve(query, settings)
        run = _Run(
            self,
            asked=asked,
            query=query,
            history=history,
            hits=hits,
            context=context,
            started=started,
            embed_seconds=embed_s,
            retrieve_seconds=retrieve_s,
            tokens=tokens or TokenCounts(),
        )
        empty = run.without_passages()
        if empty is not None:
            yield empty
            return
        while True:
            if stream:
                with self.client.chat(
                    self.model,
                    run.messages,
                    format=ANSWER_SCHEMA,
                    options=self.options,
                    stream=True,
                ) as chunks:
                    for chunk in chunks:
                        delta = run.feed(chunk)
                        if delta:
                            yield AnswerDelta(delta)
            else:
                reply = self.client.chat(
                    self.model, run.messages, format=ANSWER_SCHEMA, options=self.options
                )
                delta = run.feed(reply)
                if delta:
                    yield AnswerDelta(delta)
            outcome = run.finish_attempt()
            yield outcome
            if isinstance(outcome, Answer):
                return

    def _rewrite(
        self, history: Sequence[Mapping[str, str]], follow_up: str
    ) -> tuple[str, ChatResponse]:
        reply = self.client.chat(
            self.model, rewrite_messages(history, follow_up), options=self.options
        )
        return _accept_rewrite(reply.message.content, follow_up), reply

    # -- the async send path ---------------------------------------------------

    def _achat_client(self) -> AsyncClient:
        if self._closed:
            raise QueryError("this QueryEngine is closed; open a new one")
        if self._async_client is None:
            self._async_client = AsyncClient(self.client.host)
        return self._async_client

    def _aembed_client(self) -> AsyncClient:
        host = self.embedder.hosts[0]
        chat = self._achat_client()
        if chat.host == host:
            return chat
        if self._async_embed_client is None:
            self._async_embed_client = AsyncClient(host)
        return self._async_embed_client

    async def _acontext_tokens(self) -> int:
        if self._context is None:
            show = None
            if "num_ctx" not in self.options:
                show = await self._achat_client().show(self.model)
            self._context = context_tokens(self.options, show)
        return self._context

    async def _aretrieve(
        self, query: str, settings: SearchSettings
    ) -> tuple[list[Hit], float, float]:
        started = time.perf_counter()
        vector: npt.NDArray[np.float32] | None = None
        if settings.mode != "lexical":
            response = await self._aembed_client().embed(
                self.embedder.model, self.embedder.query_prefix + query
            )
            vector = _query_vector(response.embeddings, self.embedder.model)
        embedded = time.perf_counter()
        # SQLite and FAISS block; a worker thread keeps the event loop free.
        hits = await asyncio.to_thread(self._retriever.search, query, vector, settings)
        return hits, embedded - started, time.perf_counter() - embedded

    async def _aevents(
        self,
        asked: str,
        query: str,
        history: Sequence[Mapping[str, str]],
        settings: SearchSettings,
        stream: bool,
        *,
        started: float | None = None,
        tokens: TokenCounts | None = None,
    ) -> AsyncIterator[AnswerEvent]:
        started = time.perf_counter() if started is None else started
        context = await self._acontext_tokens()
        self._check_fits(query, history, context)
        hits, embed_s, retrieve_s = await self._aretrieve(query, settings)
        run = _Run(
            self,
            asked=asked,
            query=query,
            history=history,
            hits=hits,
            context=context,
            started=started,
            embed_seconds=embed_s,
            retrieve_seconds=retrieve_s,
            tokens=tokens or TokenCounts(),
        )
        empty = run.without_passages()
        if empty is not None:
            yield empty
            return
        client = self._achat_client()
        while True:
            if stream:
                chunks = await client.chat(
                    self.model,
                    run.messages,
                    format=ANSWER_SCHEMA,
                    options=self.options,
                    stream=True,
                )
                async with chunks:
                    async for chunk in chunks:
                        delta = run.feed(chunk)
                        if delta:
                            yield AnswerDelta(delta)
            else:
                reply = await client.chat(
                    self.model, run.messages, format=ANSWER_SCHEMA, options=self.options
                )
                delta = run.feed(reply)
                if delta:
                    yield AnswerDelta(delta)
            outcome = run.finish_attempt()
            yield outcome
            if isinstance(outcome, Answer):
                return

    async def _arewrite(
        self, history: Sequence[Mapping[str, str]], follow_up: str
    ) -> tuple[str, ChatResponse]:
        reply = await self._achat_client().chat(
            self.model, rewrite_messages(history, follow_up), options=self.options
        )
        return _accept_rewrite(reply.message.content, follow_up), reply


class ChatSession:
    """A conversation over an index: history, follow-up rewriting, last sources.

    The chat endpoint keeps no state, so every turn sends the history along
    (as far as the context allows). From the second turn on, the follow-up is
    first rewritten by the chat model into a standalone question ("How often?"
    → "How often should the API keys be rotated?"), which is what retrieval
    searches for and what the model answers.

    Args:
        engine: The engine that answers.
        settings: How each turn searches; the engine's settings by default.

    Attributes:
        last_query: The standalone question the last turn searched for.
    """

    def __init__(
        self, engine: QueryEngine, *, settings: SearchSettings | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings or engine.settings
        self._history: list[dict[str, str]] = []
        self._sources: tuple[Hit, ...] = ()
        self.last_query: str | None = None

    @property
    def history(self) -> tuple[Mapping[str, str], ...]:
        """The conversation so far, oldest first, as ``{"role", "content"}``."""
        return tuple(MappingProxyType(turn) for turn in self._history)

    @property
    def sources(self) -> tuple[Hit, ...]:
        """The passages the last answer was given."""
        return self._sources

    def reset(self) -> None:
        """Forget the conversation and the last sources."""
        self._history.clear()
        self._sources = ()
        self.last_query = None

    def ask(self, message: str, *, stream: bool = False) -> Answer:
        """Answer the next message of the conversation.

        Args:
            message: The user's message; a follow-up may refer to earlier turns.
            stream: Receive the reply as a stream (it is still returned whole).

        Returns:
            The answer, as :meth:`QueryEngine.ask` gives it.

        Raises:
            QueryError: The message is empty or too long, or the index is empty.
            OllamaError: The server failed.
        """
        return _last_answer(self._events(_check_question(message), stream))

    def ask_stream(self, message: str) -> Iterator[AnswerEvent]:
        """Answer the next message, yielding the text as it is written.

        Events are those of :meth:`QueryEngine.ask_stream`.
        """
        return self._events(_check_question(message), True)

    async def aask(self, message: str, *, stream: bool = False) -> Answer:
        """The async twin of :meth:`ask`."""
        answer = None
        async for event in self._aevents(_check_question(message), stream):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None  # every event stream ends with an Answer
        return answer

    def aask_stream(self, message: str) -> AsyncIterator[AnswerEvent]:
        """The async twin of :meth:`ask_stream`."""
        return self._aevents(_check_question(message), True)

    def _events(self, asked: str, stream: bool) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        history = tuple(self._history)
        query, tokens = asked, TokenCounts()
        if history:
            query, reply = self.engine._rewrite(history, asked)
            tokens = _merge_tokens(tokens, reply)
        events = self.engine._events(
            asked,
            query,
            history,
            self.settings,
            stream,
            started=started,
            tokens=tokens,
        )
        for event in events:
            if isinstance(event, Answer):
                self._remember(query, event)
            yield event

    async def _aevents(self, asked: str, stream: bool) -> AsyncIterator[AnswerEvent]:
        started = time.perf_counter()
        history = tuple(self._history)
        query, tokens = asked, TokenCounts()
        if history:
            query, reply = await self.engine._arewrite(history, asked)
            tokens = _merge_tokens(tokens, reply)
        events = self.engine._aevents(
            asked,
            query,
            history,
            self.settings,
            stream,
            started=started,
            tokens=tokens,
        )
        async for event in events:
            if isinstance(event, Answer):
                self._remember(query, event)
            yield event

    def _remember(self, query: str, answer: Answer) -> None:
        self._history.append({"role": "user", "content": answer.question})
        self._history.append({"role": "assistant", "content": answer.text})
        self._sources = answer.passages
        self.last_query = query
