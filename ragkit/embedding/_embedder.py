"""The Embedder: batched, pipelined, multi-host ``/api/embed``, retries, prefixes."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from ragkit.embedding._hosts import HostPool, is_refused
from ragkit.embedding._policy import (
    backoff_delay,
    exhausted,
    hurts_host,
    is_transient,
    not_found_on,
    unreachable,
)
from ragkit.embedding._prefixes import default_prefixes
from ragkit.embedding._stream import Run, RunSettings, StatsFanout, check_vectors
from ragkit.embedding._types import (
    EmbedderConfig,
    EmbeddingModelInfo,
    EmbedFailure,
    EmbedResult,
    EmbedStats,
    K,
)
from ragkit.errors import (
    ConfigError,
    IngestError,
    ModelNotFoundError,
    OllamaError,
    RagkitError,
    ResponseError,
)
from ragkit.ollama import Client, KeepAlive, ListedModel, parse_host

__all__ = ["Embedder", "default_token_estimate"]

logger = logging.getLogger("ragkit.embedding")

T = TypeVar("T")
Vectors = npt.NDArray[np.float32]

_PROBE_TEXT = "ragkit dimension probe"


def default_token_estimate(text: str) -> int:
    """A cautious token count: one token per three characters, rounded up.

    BERT-style vocabularies average about four characters a token on English
    prose, so this over-counts there and batches err on the small side; code
    and non-Latin scripts come closer to it.

    Examples:
        >>> default_token_estimate("search_query: what is ragkit?")
        10
    """
    return -(-len(text) // 3)


class Embedder:
    """Turns texts into vectors with an Ollama embedding model.

    Texts are sent in batches limited by count and by estimated tokens, with
    ``in_flight_per_host`` requests in flight on each host so that a server
    with one embedding slot always has the next batch waiting while the
    client reads the previous answer. Several hosts share the work; a host
    that keeps failing is taken out of rotation for ``cooldown`` seconds and
    its batches go to the others. Transient failures (connection errors,
    timeouts, 429/500/502/503/504) are retried with exponential backoff; an
    input the server refuses is isolated by splitting its batch and reported
    as an :class:`EmbedFailure`; an input longer than the model's context is
    embedded truncated and reported in :attr:`EmbedResult.truncated_keys`.

    Example:
        ::

            with Embedder("nomic-embed-text", hosts=[url]) as embedder:
                vectors = embedder.embed_documents(["first text", "second text"])
                query = embedder.embed_query("which text comes first?")

    Args:
        model: The Ollama embedding model, e.g. ``"nomic-embed-text"``.
        hosts: Ollama base URLs (``OLLAMA_HOST`` syntax). ``None`` means the
            host in ``OLLAMA_HOST``, or ``http://127.0.0.1:11434``.
        batch_size: Most inputs in one request.
        max_batch_tokens: Most estimated tokens in one request (a single
            longer input still goes alone).
        in_flight_per_host: Requests in flight on each host at once.
        retries: How often one request is repeated after transient failures
            before the run fails.
        backoff: Seconds before the first retry; doubles with each retry.
        document_prefix: Text put in front of every document; ``None`` uses
            the model's known default (see :func:`default_prefixes`), ``""``
            none.
        query_prefix: The same for queries.
        keep_alive: Sent with every request (how long the model stays loaded).
        timeout: Seconds to wait for an answer; ``None`` keeps the client's
            default.
        api_key: Bearer token for every host (else ``OLLAMA_API_KEY``).
        estimate_tokens: Counts a text's tokens for batch sizing; defaults to
            :func:`default_token_estimate`.
        client_factory: Builds the client for a host URL; the default builds a
            :class:`ragkit.ollama.Client` with its own retries off, since the
            embedder retries and fails over itself.
        queue_size: Batches read ahead of the workers (and results held for
            the reader); ``None`` means twice the number of workers.
        dedup_window: How many recently embedded texts a stream remembers so
            that a repeat is not sent again (repeats of texts still in flight
            are always merged).
        cooldown: Seconds a failing host stays out of rotation.
        max_host_failures: Consecutive failures that take a host out (a
            refused connection takes it out at once).

    Raises:
        ConfigError: A setting is out of range.
    """

    def __init__(
        self,
        model: str,
        *,
        hosts: Sequence[str] | None = None,
        batch_size: int = 64,
        max_batch_tokens: int = 8192,
        in_flight_per_host: int = 2,
        retries: int = 4,
        backoff: float = 0.5,
        document_prefix: str | None = None,
        query_prefix: str | None = None,
        keep_alive: KeepAlive | None = None,
        timeout: float | None = None,
        api_key: str | None = None,
        estimate_tokens: Callable[[str], int] | None = None,
        client_factory: Callable[[str], Client] | None = None,
        queue_size: int | None = None,
        dedup_window: int = 2048,
        cooldown: float = 30.0,
        max_host_failures: int = 3,
    ) -> None:
        if not model.strip():
            raise ConfigError("an embedding model name is required")
        for name, value, least in (
            ("batch_size", batch_size, 1),
            ("max_batch_tokens", max_batch_tokens, 1),
            ("in_flight_per_host", in_flight_per_host, 1),
            ("retries", retries, 0),
            ("backoff", backoff, 0),
            ("dedup_window", dedup_window, 0),
            ("cooldown", cooldown, 0),
            ("max_host_failures", max_host_failures, 1),
            ("queue_size", 1 if queue_size is None else queue_size, 1),
        ):
            if value < least:
                raise ConfigError(f"{name} must be at least {least}, not {value}")
        urls = _resolve_hosts(hosts)
        defaults = default_prefixes(model)
        self.model = model
        self.document_prefix = (
            defaults.document if document_prefix is None else document_prefix
        )
        self.query_prefix = defaults.query if query_prefix is None else query_prefix
        self.hosts = urls
        self.stats = EmbedStats()
        self._batch_size = batch_size
        self._max_batch_tokens = max_batch_tokens
        self._in_flight = in_flight_per_host
        self._retries = retries
        self._backoff = backoff
        self._keep_alive = keep_alive
        self._estimate = estimate_tokens or default_token_estimate
        self._queue_size = queue_size or 2 * in_flight_per_host * len(urls)
        self._dedup_window = dedup_window
        self._pool = HostPool(urls, cooldown=cooldown, max_failures=max_host_failures)
        factory = client_factory or _default_factory(timeout, api_key)
        self._clients: dict[str, Client] = {}
        try:
            for url in urls:
                self._clients[url] = factory(url)
        except BaseException:
            self.close()
            raise
        self._info: EmbeddingModelInfo | None = None
        self._info_lock = threading.Lock()
        self._closed = False
        if not defaults.known and document_prefix is None and query_prefix is None:
            logger.debug("no known prefixes for %s; embedding texts as given", model)
        self.config = EmbedderConfig(
            model=model,
            hosts=tuple(urls),
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            in_flight_per_host=in_flight_per_host,
            retries=retries,
            backoff=backoff,
            document_prefix=self.document_prefix,
            query_prefix=self.query_prefix,
            keep_alive=keep_alive,
            timeout=timeout,
            queue_size=self._queue_size,
            dedup_window=dedup_window,
            cooldown=cooldown,
            max_host_failures=max_host_failures,
        )
        """The settings in effect, hosts and prefixes resolved."""

    @classmethod
    def from_config(
        cls,
        config: EmbedderConfig,
        *,
        api_key: str | None = None,
        estimate_tokens: Callable[[str], int] | None = None,
        client_factory: Callable[[str], Client] | None = None,
    ) -> Embedder:
        """Build an embedder from plain settings (e.g. a pipeline recipe).

        Args:
            config: The settings.
            api_key: Bearer token for every host (else ``OLLAMA_API_KEY``).
            estimate_tokens: See the constructor.
            client_factory: See the constructor.

        Raises:
            ConfigError: A setting is out of range.
        """
        settings = {
            field.name: getattr(config, field.name)
            for field in dataclasses.fields(config)
            if field.name != "model"
        }
        return cls(
            config.model,
            api_key=api_key,
            estimate_tokens=estimate_tokens,
            client_factory=client_factory,
            **settings,
        )

    def __repr__(self) -> str:
        return f"Embedder({self.model!r}, hosts={self.hosts!r})"

    # -- lifecycle -------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients. Safe to call twice."""
        self._closed = True
        clients, self._clients = self._clients, {}
        for client in clients.values():
            client.close()

    def __enter__(self) -> Embedder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- model facts -----------------------------------------------------

    def model_info(self) -> EmbeddingModelInfo:
        """Facts about the model, read once from the server and cached.

        The context length comes from ``/api/show`` (lowered to the Modelfile's
        ``num_ctx`` when that is smaller), the digest from ``/api/tags``, the
        dimension from ``/api/show`` or else from one probe embedding. With
        several hosts, the others' ``/api/tags`` are read too: they must hold
        the same model digest, or their vectors would not be comparable.

        Raises:
            ModelNotFoundError: The server does not have the model.
            OllamaConnectionError: No host could be reached.
            ConfigError: Two hosts hold different versions of the model.
        """
        with self._info_lock:
            if self._info is None:
                info = self._call(self._read_model_info, first_contact=True)
                self._check_other_hosts(info)
                self._info = info
            return self._info

    def _check_other_hosts(self, info: EmbeddingModelInfo) -> None:
        for host in self.hosts:
            if host == info.host:
                continue
            try:
                models = self._client(host).list().models
            except OllamaError as exc:
                if not is_transient(exc):
                    raise
                # Unreachable for now: the stream's failover handles it, and
                # it is checked again when the next Embedder starts.
                logger.info("could not compare the model on %s: %s", host, exc)
                continue
            digest = _listed_digest(models, self.model)
            if digest and info.digest and digest != info.digest:
                raise ConfigError(
                    f"{self.model} differs between hosts: digest {info.digest[:12]} "
                    f"on {info.host} but {digest[:12]} on {host}; vectors from "
                    f"different versions do not mix. Run `ollama pull {self.model}` "
                    "on every host."
                )

    def _read_model_info(self, host: str) -> EmbeddingModelInfo:
        client = self._client(host)
        show = client.show(self.model)
        context = show.context_length
        num_ctx = show.num_ctx
        if num_ctx is not None and (context is None or num_ctx < context):
            context = num_ctx
        digest = _listed_digest(client.list().models, self.model)
        dimension = show.embedding_length
        if dimension is None:
            dimension = self._send(host, [_PROBE_TEXT], True).shape[1]
        capabilities = tuple(show.capabilities)
        if capabilities and "embedding" not in capabilities:
            logger.warning(
                "%s does not list the embedding capability (%s); its vectors may "
                "be poor for search",
                self.model,
                ", ".join(capabilities),
            )
        return EmbeddingModelInfo(
            name=self.model,
            dimension=dimension,
            context_length=context,
            digest=digest,
            family=show.details.family,
            capabilities=capabilities,
            host=host,
        )

    # -- streaming -------------------------------------------------------

    def embed_stream(
        self, items: Iterable[tuple[K, str]], *, stats: EmbedStats | None = None
    ) -> Iterator[EmbedResult[K] | EmbedFailure[K]]:
        """Embed ``(key, text)`` pairs, yielding results as they complete.

        ``items`` is read lazily by a feeder thread through a bounded queue, so
        producing texts (loading, chunking) overlaps with embedding and memory
        stays flat. The document prefix is added here; give texts without it.
        Results come in completion order, not input order. A text seen earlier
        in the stream is not sent again: its key gets the same vector.

        Closing the iterator early (``break``, ``close()``) stops the threads.

        Args:
            items: Pairs of the caller's key and the text to embed.
            stats: Counters to update as the run goes (read them for progress);
                the embedder's cumulative :attr:`stats` are updated too.

        Yields:
            :class:`EmbedResult` for embedded inputs and :class:`EmbedFailure`
            for inputs the server would not embed.

        Raises:
            ModelNotFoundError: The model is missing on a host (at once).
            OllamaConnectionError: No host answered within the retry budget.
            IngestError: The server kept failing, or returned vectors of the
                wrong dimension.
        """
        return self._stream(items, self.document_prefix, stats)

    def _stream(
        self, items: Iterable[tuple[K, str]], prefix: str, stats: EmbedStats | None
    ) -> Iterator[EmbedResult[K] | EmbedFailure[K]]:
        self._check_open()
        settings = RunSettings(
            model=self.model,
            dimension=self.model_info().dimension,
            prefix=prefix,
            batch_size=self._batch_size,
            max_batch_tokens=self._max_batch_tokens,
            in_flight_per_host=self._in_flight,
            queue_size=self._queue_size,
            retries=self._retries,
            backoff=self._backoff,
            dedup_window=self._dedup_window,
            estimate_tokens=self._estimate,
        )
        fanout = StatsFanout(self.stats, *(() if stats is None else (stats,)))
        run: Run[K] = Run(
            items,
            settings,
            self._pool,
            lambda host, texts, truncate: self._send(host, texts, truncate, fanout),
            fanout,
        )
        run.start()
        try:
            yield from run.results()
        finally:
            run.stop()

    # -- convenience -----------------------------------------------------

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed documents (with the document prefix), in order.

        Args:
            texts: The documents' texts.

        Returns:
            float32 array of shape ``(len(texts), dimension)``.

        Raises:
            IngestError: The server refused some of the texts (all are named).
        """
        return self._ordered(texts, self.document_prefix)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Embed search queries (with the query prefix), in order.

        Args:
            texts: The queries.

        Returns:
            float32 array of shape ``(len(texts), dimension)``.

        Raises:
            IngestError: The server refused some of the queries.
        """
        return self._ordered(texts, self.query_prefix)

    def embed_query(self, text: str) -> Vectors:
        """Embed one search query (with the query prefix) in a single request.

        A query longer than the model's context is embedded truncated, with a
        warning in the log and in :attr:`stats`.

        Returns:
            float32 array of shape ``(dimension,)``.

        Raises:
            ResponseError: The server refused the query.
            ModelNotFoundError: The server does not have the model.
            OllamaConnectionError: No host answered within the retry budget.
        """
        self._check_open()
        dimension = self.model_info().dimension
        full = self.query_prefix + text
        try:
            vectors = self._call(lambda host: self._send(host, [full], False))
        except ResponseError as exc:
            if exc.status_code != 400 or isinstance(exc, ModelNotFoundError):
                raise
            vectors = self._call(lambda host: self._send(host, [full], True))
            self.stats.add(truncated=1)
            logger.warning(
                "a query longer than the context of %s was embedded truncated",
                self.model,
            )
        check_vectors(vectors, 1, dimension, self.model)
        if not np.isfinite(vectors).all():
            raise IngestError(
                f"{self.model} returned a vector with NaN or infinite values for "
                "the query"
            )
        return vectors[0]

    def check_batch_consistency(self, texts: Sequence[str]) -> float:
        """Embed each text alone and all in one request; compare the vectors.

        An embedding server should give a text the same vector whatever else
        is in its batch; some backends pad or mix batches and do not.

        Args:
            texts: A few sample texts (sent as given, without prefix).

        Returns:
            The largest absolute difference between any two corresponding
            components (0.0 means identical).
        """
        self._check_open()
        if not texts:
            return 0.0
        dimension = self.model_info().dimension
        batch = list(texts)
        together = self._call(lambda host: self._send(host, batch, False))
        check_vectors(together, len(batch), dimension, self.model)
        alone = np.vstack([self._embed_alone(text) for text in batch])
        check_vectors(alone, len(batch), dimension, self.model)
        return float(np.max(np.abs(alone - together)))

    # -- internals -------------------------------------------------------

    def _embed_alone(self, text: str) -> Vectors:
        return self._call(lambda host: self._send(host, [text], False))

    def _ordered(self, texts: Sequence[str], prefix: str) -> Vectors:
        dimension = self.model_info().dimension
        out = np.empty((len(texts), dimension), dtype=np.float32)
        if not texts:
            return out
        failures: list[EmbedFailure[int]] = []
        for item in self._stream(enumerate(texts), prefix, None):
            if isinstance(item, EmbedFailure):
                failures.append(item)
            else:
                out[item.keys] = item.vectors
        if failures:
            failures.sort(key=lambda failure: failure.key)
            listed = "; ".join(f"#{f.key}: {f.reason}" for f in failures[:5])
            more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
            raise IngestError(
                f"{self.model} could not embed {len(failures)} of {len(texts)} "
                f"texts: {listed}{more}. Use embed_stream() to skip them instead."
            )
        return out

    def _check_open(self) -> None:
        if self._closed:
            raise RagkitError("this Embedder is closed; create a new one")

    def _client(self, host: str) -> Client:
        try:
            return self._clients[host]
        except KeyError:
            raise RagkitError("this Embedder is closed; create a new one") from None

    def _send(
        self,
        host: str,
        texts: list[str],
        truncate: bool,
        stats: StatsFanout | None = None,
    ) -> Vectors:
        """One ``/api/embed`` request; the vectors as a float32 array."""
        client = self._client(host)
        started = time.monotonic()
        try:
            response = client.embed(
                self.model, texts, truncate=truncate, keep_alive=self._keep_alive
            )
        finally:
            (stats or StatsFanout(self.stats)).add(
                host, requests=1, seconds=time.monotonic() - started
            )
        try:
            vectors = np.asarray(response.embeddings, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise IngestError(
                f"{self.model} on {host} returned vectors that are not lists of "
                f"numbers of one length: {exc}"
            ) from exc
        if vectors.size == 0:
            vectors = vectors.reshape(len(response.embeddings), 0)
        return vectors

    def _call(self, operation: Callable[[str], T], *, first_contact: bool = False) -> T:
        """Run a one-off request on a host in rotation, retrying transient failures.

        Errors that are not transient (a 400, a missing model) are raised at
        once; the caller decides what they mean. On ``first_contact``, when
        every host refuses the connection (no server runs there at all), the
        error comes at once instead of after the whole backoff: retries are
        for servers that restart mid-run, not for one that was never started.
        """
        attempt = 0
        refused: set[str] = set()
        while True:
            host = self._pool.pick()
            try:
                result = operation(host)
            except ModelNotFoundError as exc:
                raise not_found_on(exc, host, self.model) from exc
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.stats.add(host, failures=1)
                if first_contact and is_refused(exc):
                    refused.add(host)
                    if refused.issuperset(self.hosts):
                        raise unreachable(self.hosts) from exc
                took_out = hurts_host(exc) and self._pool.failed(host, exc)
                if took_out:
                    logger.warning(
                        "embedding host %s taken out of rotation: %s", host, exc
                    )
                    self.stats.set_available(host, False)
                attempt += 1
                if attempt > self._retries:
                    raise exhausted(self.model, self._retries, self._pool, exc) from exc
                self.stats.add(retries=1)
                if not (took_out and self._pool.others_available(host)):
                    time.sleep(backoff_delay(self._backoff, attempt))
                continue
            if self._pool.succeeded(host):
                self.stats.set_available(host, True)
            return result


def _resolve_hosts(hosts: Sequence[str] | None) -> list[str]:
    if isinstance(hosts, str):
        raise ConfigError("hosts must be a list of host URLs, not one string")
    values = [os.environ.get("OLLAMA_HOST")] if hosts is None else list(hosts)
    if not values:
        raise ConfigError("at least one Ollama host is needed to embed")
    urls: list[str] = []
    for value in values:
        url = parse_host(value)
        if url not in urls:
            urls.append(url)
    return urls


def _default_factory(
    timeout: float | None, api_key: str | None
) -> Callable[[str], Client]:
    def factory(host: str) -> Client:
        if timeout is None:
            return Client(host, api_key=api_key, retries=0)
        return Client(host, api_key=api_key, retries=0, timeout=timeout)

    return factory


def _listed_digest(models: Sequence[ListedModel], model: str) -> str | None:
    wanted = _canonical_name(model)
    for listed in models:
        if _canonical_name(listed.name or listed.model) == wanted:
            return listed.digest
    return None


def _canonical_name(name: str) -> str:
    """``library/Foo`` → ``foo:latest``: how ``/api/tags`` spells a model."""
    name = name.strip().lower()
    for prefix in ("registry.ollama.ai/", "library/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name
