"""``ragkit.embed``: the ingest's embedder as a plain function that returns vectors."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from ragkit.errors import ConfigError
from ragkit.pipeline import EmbeddingSettings, Recipe, recipe_embedder

__all__ = ["EmbedKind", "aembed", "embed"]

EmbedKind = Literal["document", "query"]
"""Which of the model's prefixes to put before each text."""

_KINDS = ("document", "query")


def embed(
    texts: Sequence[str],
    *,
    model: str = "nomic-embed-text",
    host: str | None = None,
    hosts: Sequence[str] | None = None,
    kind: EmbedKind = "document",
    prefix: str | None = None,
    batch_size: int = 64,
    max_batch_tokens: int = 8192,
    in_flight_per_host: int = 2,
) -> npt.NDArray[np.float32]:
    """Embed texts with an Ollama model, the way ingest does; order is kept.

    Texts are sent in batches (by count and by estimated tokens) with
    requests kept in flight on every host, transient failures are retried
    with backoff, and a host that keeps failing is left out while the others
    take its batches. Repeated texts are embedded once.

    Example::

        vectors = ragkit.embed(["first text", "second text"])
        similarity = vectors @ vectors.T  # rows are not normalised

    Args:
        texts: The texts (a list; for one text, ``[text]``).
        model: The embedding model.
        host: The Ollama server; None reads ``OLLAMA_HOST``.
        hosts: Servers to spread the work over (instead of ``host``).
        kind: ``"document"`` or ``"query"``: which of the model's known
            prefixes to use (``search_document: `` and ``search_query: ``
            for nomic-embed-text), as an index does.
        prefix: A prefix to use instead of the model's known one (``""``
            for none).
        batch_size: Texts per request, at most.
        max_batch_tokens: Estimated tokens per request, at most.
        in_flight_per_host: Requests in flight on each host.

    Returns:
        A float32 array of shape ``(len(texts), dimension)``, row ``i`` the
        vector of ``texts[i]``.

    Raises:
        ConfigError: ``texts`` is one string or holds a non-string, ``kind``
            is unknown, or a setting is out of range.
        ModelNotFoundError: The server does not have the model.
        OllamaConnectionError: No host could be reached.
        IngestError: The server refused some of the texts (all are named).
    """
    listed = _texts(texts)
    if kind not in _KINDS:
        raise ConfigError(f"kind must be 'document' or 'query', not {kind!r}")
    if isinstance(hosts, str):
        raise ConfigError("hosts must be a list of host URLs, not one string")
    settings = EmbeddingSettings(
        model=model,
        hosts=tuple(hosts or ()),
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        in_flight_per_host=in_flight_per_host,
        document_prefix=prefix if kind == "document" else None,
        query_prefix=prefix if kind == "query" else None,
    )
    with recipe_embedder(Recipe(embedding=settings), host=host) as embedder:
        if kind == "query":
            return embedder.embed_queries(listed)
        return embedder.embed_documents(listed)


async def aembed(
    texts: Sequence[str],
    *,
    model: str = "nomic-embed-text",
    host: str | None = None,
    hosts: Sequence[str] | None = None,
    kind: EmbedKind = "document",
    prefix: str | None = None,
    batch_size: int = 64,
    max_batch_tokens: int = 8192,
    in_flight_per_host: int = 2,
) -> npt.NDArray[np.float32]:
    """The async twin of :func:`embed`; the work runs in a worker thread.

    The event loop stays free while the batches are embedded.
    """
    return await asyncio.to_thread(
        embed,
        texts,
        model=model,
        host=host,
        hosts=hosts,
        kind=kind,
        prefix=prefix,
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        in_flight_per_host=in_flight_per_host,
    )


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str | bytes):
        raise ConfigError("embed() takes a list of texts; for one text, use [text]")
    listed = list(texts)
    for position, text in enumerate(listed):
        if not isinstance(text, str):
            raise ConfigError(
                f"text #{position} is a {type(text).__name__}, not a string"
            )
    return listed
