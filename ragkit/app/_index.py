"""``ragkit.Index``: one object for an index — add, delete, search, ask, chat."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from collections.abc import (
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

from ragkit.app._documents import AddReport, MetadataArg, prepare_documents
from ragkit.documents import ChunkingOptions
from ragkit.embedding import Embedder
from ragkit.errors import ConfigError, StoreError
from ragkit.ollama import AsyncClient, Client
from ragkit.pipeline import (
    DEFAULT_RECIPE,
    IngestProgress,
    IngestReport,
    IngestSession,
    Pipeline,
    Recipe,
    adopt_plan,
    available_recipes,
    ingest_files,
    load_recipe,
    open_store,
    plan_index,
    preview_files,
    recipe_embedder,
)
from ragkit.query import (
    DEFAULT_CHAT_MODEL,
    AnswerEvent,
    ChatSession,
    QueryEngine,
    SearchMode,
)
from ragkit.store import ChunkFilter, IndexStats, Manifest, Store
from ragkit.types import Answer, Document, Hit

__all__ = ["Index", "PipelineArg", "ProgressCallback"]

PathArg = str | os.PathLike[str]
PipelineArg = Pipeline | Recipe | str | os.PathLike[str] | None
"""A pipeline, a recipe, a ready-made recipe's name or a recipe file; None: default."""
ProgressCallback = Callable[[IngestProgress], None]
"""Receives progress snapshots of :meth:`Index.add` and :meth:`Index.add_files`."""


class Index:
    """An index of documents: add and delete content, search it, ask questions.

    Get one with :meth:`open`, :meth:`create` or :meth:`memory` and close it
    (or use it as a context manager; ``async with`` after async use)::

        with ragkit.Index.create("wiki.ragkit", exist_ok=True) as index:
            index.add(["Backups run nightly at 02:00 UTC."], metadata={"team": "ops"})
            answer = index.ask("When do backups run?", where={"team": "ops"})

    **Write model.** One writer per index: an index opened for writing
    (``Index.create``, ``Index.open(..., writable=True)``) holds the index's
    write lock (``fcntl.flock`` on ``<index>/lock``) until it is closed, and
    a second writer, in this process or another, gets
    :class:`~ragkit.errors.IndexLockedError` (or waits ``wait`` seconds).
    Within one ``Index``, writes run one at a time; any number of threads
    and tasks may search and ask meanwhile, and each search sees whole
    documents only. An index opened read-only refuses writes with a
    :class:`~ragkit.errors.StoreError`, and so does a closed index for
    every call.

    ``add`` and ``add_files`` commit as they go: if the server fails half
    way, what was complete stays and the next call redoes only the rest.
    The FAISS file is brought up to date by ``add_files`` and on
    :meth:`close`; searches in between catch up from SQLite by themselves.

    The library never prints and never configures logging; progress goes
    to the ``progress`` callbacks.
    """

    def __init__(
        self,
        store: Store,
        *,
        recipe: Recipe,
        host: str | None = None,
        hosts: Sequence[str] | None = None,
        chat_model: str = DEFAULT_CHAT_MODEL,
        options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
        writer: tuple[Embedder, ChunkingOptions] | None = None,
    ) -> None:
        """Wrap an open store; use :meth:`open`, :meth:`create` or :meth:`memory`.

        Args:
            store: The index (the ``Index`` closes it).
            recipe: How files are included, loaded, chunked and embedded.
            host: The Ollama server; None reads ``OLLAMA_HOST``.
            hosts: Servers to embed on; default ``host``.
            chat_model: The chat model that answers questions.
            options: Chat model options.
            timeout: Seconds to wait for the server; None keeps the default.
            client: A chat client (the ``Index`` closes it).
            async_client: An async chat client (closed by :meth:`aclose`).
            writer: The embedder for writes (closed with the index) and the
                chunking fitted to its model, if already made; otherwise they
                are made on the first write.

        Raises:
            ConfigError: The chat model name is empty.
        """
        if not chat_model.strip():
            raise ConfigError("a chat model name is required")
        self._store = store
        self._recipe = recipe
        self._host = host
        self._engine_settings: dict[str, Any] = {
            "model": chat_model,
            "host": host,
            "embed_hosts": hosts,
            "options": options,
            "timeout": timeout,
            "client": client,
            "async_client": async_client,
        }
        # The engine (query embedder and chat clients) is made on the first
        # search or question: an index that only takes writes never needs it.
        self._engine: QueryEngine | None = None
        self._engine_lock = threading.Lock()
        self._writes = writer
        self._write_lock = threading.RLock()
        self._closed = False
        self._saved_generation = store.generation()

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: PathArg,
        *,
        writable: bool = False,
        wait: float = 0.0,
        host: str | None = None,
        hosts: Sequence[str] | None = None,
        chat_model: str = DEFAULT_CHAT_MODEL,
        options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
    ) -> Index:
        """Open an existing index.

        Args:
            path: The index directory.
            writable: Take the write lock so that the index can be changed.
            wait: Seconds to wait for another writer to finish.
            host: The Ollama server (``OLLAMA_HOST`` syntax); None reads
                ``OLLAMA_HOST``, else ``http://127.0.0.1:11434``.
            hosts: Servers to embed on (queries and added content); default
                ``host``.
            chat_model: The chat model that answers questions.
            options: Chat model options (``temperature`` is 0 unless set).
            timeout: Seconds to wait for the server; None keeps the default.
            client: A chat client to use instead of one for ``host``.
            async_client: An async chat client for the async methods.

        Returns:
            The index.

        Raises:
            IndexNotFoundError: There is no index at ``path``.
            IndexLockedError: ``writable`` and another writer holds the index.
            StoreError: The index cannot be read.
        """
        store = Store.open(path, writable=writable, wait=wait)
        try:
            return cls(
                store,
                recipe=_recipe_of(store.manifest, hosts),
                host=host,
                hosts=hosts,
                chat_model=chat_model,
                options=options,
                timeout=timeout,
                client=client,
                async_client=async_client,
            )
        except BaseException:
            store.close()
            raise

    @classmethod
    def create(
        cls,
        path: PathArg,
        *,
        embed_model: str | None = None,
        pipeline: PipelineArg = None,
        host: str | None = None,
        hosts: Sequence[str] | None = None,
        index_type: str | None = None,
        exist_ok: bool = False,
        overwrite: bool = False,
        wait: float = 0.0,
        chat_model: str = DEFAULT_CHAT_MODEL,
        options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
    ) -> Index:
        """Create an index on disk and open it for writing.

        Asks the server for the embedding model's dimension and context
        (``/api/show``), so the model must be installed.

        Args:
            path: The index directory (created if missing).
            embed_model: The embedding model; None takes the pipeline's
                (``nomic-embed-text`` by default).
            pipeline: How files are included, loaded and chunked, and the
                embedding settings: a :class:`~ragkit.Pipeline`, a
                :class:`~ragkit.pipeline.Recipe`, a ready-made recipe's name
                (``"docs"``) or a recipe file; None is ``general``.
            host: The Ollama server; None reads ``OLLAMA_HOST``.
            hosts: Servers to spread embedding over (overrides the pipeline's).
            index_type: ``auto`` (exact search up to 10,000 chunks, HNSW
                beyond), ``flat``, ``hnsw``, ``hnsw-sq8`` or ``sq8``; None
                takes the pipeline's.
            exist_ok: Open an index already at ``path`` instead of failing
                (its model must match; new chunking settings are adopted).
            overwrite: Replace an index already at ``path`` with an empty one.
            wait: Seconds to wait for another writer to finish.
            chat_model: The chat model that answers questions.
            options: Chat model options (``temperature`` is 0 unless set).
            timeout: Seconds to wait for the server; None keeps the default.
            client: A chat client to use instead of one for ``host``.
            async_client: An async chat client for the async methods.

        Returns:
            The index, open for writing.

        Raises:
            StoreError: An index exists at ``path`` and neither ``exist_ok``
                nor ``overwrite`` is set.
            IndexMismatchError: ``exist_ok`` and the index there was built
                with another embedding model.
            IndexLockedError: Another writer holds the index.
            ModelNotFoundError: The server does not have the embedding model.
            ConfigError: A setting is invalid.
        """
        recipe = _creation_recipe(pipeline, embed_model, hosts, index_type)
        embedder = recipe_embedder(recipe, host=host)
        try:
            plan = plan_index(recipe, embedder)
            if overwrite or not exist_ok:
                store = Store.create(
                    path, plan.manifest, overwrite=overwrite, wait=wait
                )
            else:
                store = open_store(path, plan, wait=wait)
        except BaseException:
            embedder.close()
            raise
        try:
            return cls(
                store,
                recipe=recipe,
                host=host,
                hosts=hosts,
                chat_model=chat_model,
                options=options,
                timeout=timeout,
                client=client,
                async_client=async_client,
                writer=(embedder, plan.chunking),
            )
        except BaseException:
            store.close()
            embedder.close()
            raise

    @classmethod
    def memory(
        cls,
        *,
        embed_model: str | None = None,
        pipeline: PipelineArg = None,
        host: str | None = None,
        hosts: Sequence[str] | None = None,
        index_type: str | None = None,
        chat_model: str = DEFAULT_CHAT_MODEL,
        options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
    ) -> Index:
        """Create an index that lives in memory only, for tests and short-lived apps.

        The arguments are those of :meth:`create`; nothing is written to
        disk, and :meth:`add_files` names documents relative to the current
        folder.

        Returns:
            The index, open for writing.

        Raises:
            ModelNotFoundError: The server does not have the embedding model.
            ConfigError: A setting is invalid.
        """
        recipe = _creation_recipe(pipeline, embed_model, hosts, index_type)
        embedder = recipe_embedder(recipe, host=host)
        try:
            plan = plan_index(recipe, embedder)
            store = Store.memory(plan.manifest)
        except BaseException:
            embedder.close()
            raise
        try:
            return cls(
                store,
                recipe=recipe,
                host=host,
                hosts=hosts,
                chat_model=chat_model,
                options=options,
                timeout=timeout,
                client=client,
                async_client=async_client,
                writer=(embedder, plan.chunking),
            )
        except BaseException:
            store.close()
            embedder.close()
            raise

    @staticmethod
    def preview(
        path: PathArg,
        paths: Sequence[PathArg],
        *,
        pipeline: PipelineArg = None,
    ) -> IngestReport:
        """Say what :meth:`add_files` would change in the index at ``path``.

        Unlike ``add_files(..., dry_run=True)`` this needs no open index: a
        missing index counts as empty. Nothing is written, no lock is taken
        and no server is asked.

        Args:
            path: The index directory (it need not exist).
            paths: Folders (or files) to index.
            pipeline: What to include (see :meth:`create`).

        Returns:
            A report with ``dry_run`` set.

        Raises:
            ConfigError: A path does not exist, or the pipeline is invalid.
        """
        return preview_files(paths, _as_recipe(pipeline), index=path)

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Bring the FAISS file up to date and close everything; safe to call twice.

        After async use, call :meth:`aclose` instead (it closes the async
        clients too).
        """
        if not self._finish_writes():
            return
        engine = self._take_engine()
        if engine is not None:
            engine.close()
        else:
            self._close_unused()

    async def aclose(self) -> None:
        """Close everything, the async clients included; safe to call twice."""
        if not await asyncio.to_thread(self._finish_writes):
            return
        engine = self._take_engine()
        if engine is not None:
            await engine.aclose()
            return
        async_client = self._engine_settings.get("async_client")
        self._close_unused()
        if async_client is not None:
            await async_client.aclose()

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Index:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        where = self._store.path if self._store.path is not None else "memory"
        mode = "closed" if self._closed else ("writable" if self.writable else "read")
        return (
            f"<Index {where} ({mode}) embed={self._store.manifest.embed_model!r} "
            f"chat={self.chat_model!r}>"
        )

    # -- facts ---------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The index directory, or None for an in-memory index."""
        return self._store.path

    @property
    def writable(self) -> bool:
        """True when this index can be changed (it holds the write lock)."""
        return self._store.writable

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    @property
    def manifest(self) -> Manifest:
        """What produced the index's vectors: model, dimension, prefixes, chunking."""
        return self._store.manifest

    @property
    def chat_model(self) -> str:
        """The chat model that answers questions."""
        return str(self._engine_settings["model"])

    @property
    def options(self) -> Mapping[str, Any]:
        """The chat model options given when the index was opened.

        Requests also carry ``temperature`` 0 unless these set it.
        """
        return MappingProxyType(dict(self._engine_settings["options"] or {}))

    def stats(self) -> IndexStats:
        """Counts, sizes, model and index type.

        Raises:
            StoreError: The index is closed.
        """
        self._check_open()
        return self._store.stats()

    # -- writing -------------------------------------------------------------

    def add(
        self,
        texts_or_documents: Iterable[str | Document],
        *,
        metadata: MetadataArg = None,
        ids: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> AddReport:
        """Add content that does not live in files: texts or documents.

        Each item becomes one document (cut into chunks if long) whose id is
        its ``path``. An id already in the index is replaced; an item whose
        id, text and metadata are already there exactly costs nothing.
        Everything is checked before anything is embedded.

        Args:
            texts_or_documents: Texts (``str``) and
                :class:`~ragkit.types.Document` objects.
            metadata: User metadata (str, int, float, bool or a list of str
                per key), stored with every chunk and filterable with
                ``where``: one mapping for all items, or one mapping (or
                None) per item. Merged over a document's own metadata.
            ids: One id per item. By default a text's id is derived from
                its content (``text-`` and 16 hex digits, so adding the same
                text twice keeps one copy) and a document's is its ``path``.
                Ids share one namespace with the paths of indexed files.
            progress: Called with an :class:`~ragkit.pipeline.IngestProgress`
                as the work goes (``files_*`` count documents here).

        Returns:
            What was added, changed and left alone.

        Raises:
            ConfigError: An item is empty or not a text or document, the
                counts of ids or metadata do not match, metadata has a type
                that is not allowed, or one id is given to two different
                contents; nothing is written then.
            StoreError: The index is closed or read-only.
            OllamaError: The server failed beyond retries; what was complete
                stays written.
        """
        started = time.monotonic()
        self._check_writable()
        prepared, item_ids = prepare_documents(
            texts_or_documents, metadata=metadata, ids=ids
        )
        result = AddReport(ids=item_ids)
        if not prepared:
            return result
        with self._write_lock:
            self._check_writable()
            embedder, chunking = self._writer()
            report = IngestReport(index=self._where(), model=embedder.model)
            with IngestSession(
                self._store,
                embedder,
                chunking=chunking,
                report=report,
                progress=progress,
            ) as session:
                for item in prepared:
                    session.files_seen += 1
                    path = item.document.path
                    known = self._store.document(path)
                    if session.is_unchanged(known, item.content_hash):
                        result.unchanged += 1
                        continue
                    (result.changed if known is not None else result.added).append(path)
                    session.add(
                        item.document,
                        content_hash=item.content_hash,
                        size=len(item.document.text.encode("utf-8", "surrogatepass")),
                    )
                    session.poll()
                    session.emit("indexing")
                session.finish()
            if result.changed:
                self._store.prune_vectors()
        result.chunks = report.chunks
        result.embedded = report.embedded
        result.reused = report.reused
        result.requests = report.requests
        result.truncated = report.truncated
        result.failed = report.failed
        result.seconds = time.monotonic() - started
        session.emit("done")
        return result

    def add_files(
        self,
        paths: Sequence[PathArg],
        *,
        pipeline: PipelineArg = None,
        progress: ProgressCallback | None = None,
        rebuild: bool = False,
        dry_run: bool = False,
    ) -> IngestReport:
        """Index folders (or files): the ingest ``ragkit index`` runs.

        Unchanged files cost nothing; changed files have their chunks
        replaced; files that disappeared from under ``paths`` leave the
        index. Documents are named by their path relative to the index's
        parent folder (the current folder for an in-memory index).

        Args:
            paths: Folders (or files) to index.
            pipeline: What to include and how to load and chunk; None keeps
                the index's own. Its embedding model must be the index's;
                its chunking and recipe name become the index's.
            progress: Called with an :class:`~ragkit.pipeline.IngestProgress`
                as the run goes.
            rebuild: Remove every document first (content added with
                :meth:`add` too) and embed everything again.
            dry_run: Only report what would change; nothing is read beyond
                sizes and hashes, nothing is written, no server is asked.

        Returns:
            What the run did (with ``dry_run`` set: what it would do).

        Raises:
            ConfigError: A path does not exist, or the pipeline is invalid or
                sets other prefixes than the index's.
            IndexMismatchError: The pipeline names another embedding model.
            StoreError: The index is closed, or read-only (unless ``dry_run``).
            OllamaError: The server failed beyond retries; what was complete
                stays written.
        """
        self._check_open()
        recipe = self._recipe if pipeline is None else self._align(_as_recipe(pipeline))
        if dry_run:
            if rebuild:
                raise ConfigError("rebuild and dry_run cannot be used together")
            return preview_files(
                paths, recipe, index=self._where(), store=self._store, base=self._base()
            )
        self._check_writable()
        with self._write_lock:
            self._check_writable()
            if pipeline is None:
                embedder, _ = self._writer()
                own = None
            else:
                embedder = own = recipe_embedder(recipe, host=self._host)
            try:
                plan = plan_index(recipe, embedder)
                adopt_plan(self._store, plan)
                if rebuild:
                    paths_known = [record.path for record in self._store.documents()]
                    self._store.delete_documents(paths_known)
                    self._store.prune_vectors()
                report = ingest_files(
                    self._store,
                    paths,
                    recipe,
                    embedder=embedder,
                    chunking=plan.chunking,
                    base=self._base(),
                    progress=progress,
                )
            finally:
                if own is not None:
                    own.close()
            self._recipe = recipe
            if self._writes is not None:
                self._writes = (self._writes[0], plan.chunking)
            self._saved_generation = self._store.generation()
        return report

    def delete(
        self,
        ids: Sequence[str] | None = None,
        *,
        where: Mapping[str, object] | None = None,
    ) -> int:
        """Remove documents by id, or every document with a chunk matching ``where``.

        Args:
            ids: Document ids (the ids :meth:`add` reported, or file paths).
            where: Metadata conditions, as in :meth:`search`.

        Returns:
            How many documents were removed; ids that are not in the index
            are skipped, so deleting what does not exist returns 0.

        Raises:
            ConfigError: Neither or both of ``ids`` and ``where`` are given,
                ``ids`` is not a list of strings, ``where`` is empty or uses
                an unknown operator.
            StoreError: The index is closed or read-only.
        """
        self._check_writable()
        if (ids is None) == (where is None):
            raise ConfigError("delete() takes either ids=[...] or where={...}")
        with self._write_lock:
            self._check_writable()
            if ids is not None:
                paths = _checked_ids(ids)
            else:
                paths = self._matching_documents(where or {})
            removed = self._store.delete_documents(paths) if paths else 0
            if removed:
                self._store.prune_vectors()
        return removed

    async def aadd(
        self,
        texts_or_documents: Iterable[str | Document],
        *,
        metadata: MetadataArg = None,
        ids: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> AddReport:
        """The async twin of :meth:`add` (it runs in a worker thread).

        ``progress`` is called from that thread.
        """
        return await asyncio.to_thread(
            self.add, texts_or_documents, metadata=metadata, ids=ids, progress=progress
        )

    async def aadd_files(
        self,
        paths: Sequence[PathArg],
        *,
        pipeline: PipelineArg = None,
        progress: ProgressCallback | None = None,
        rebuild: bool = False,
        dry_run: bool = False,
    ) -> IngestReport:
        """The async twin of :meth:`add_files` (it runs in a worker thread)."""
        return await asyncio.to_thread(
            self.add_files,
            paths,
            pipeline=pipeline,
            progress=progress,
            rebuild=rebuild,
            dry_run=dry_run,
        )

    async def adelete(
        self,
        ids: Sequence[str] | None = None,
        *,
        where: Mapping[str, object] | None = None,
    ) -> int:
        """The async twin of :meth:`delete` (it runs in a worker thread)."""
        return await asyncio.to_thread(self.delete, ids, where=where)

    # -- searching and asking ------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 8,
        where: Mapping[str, object] | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
    ) -> list[Hit]:
        """Find the passages that best match a query (no chat model involved).

        Filters are applied inside the search, so ``k`` results come back
        whenever at least ``k`` chunks pass them.

        Args:
            query: What to search for.
            k: How many passages (hits on neighbouring chunks of one document
                are merged, so fewer may come back).
            where: Conditions on metadata: ``{"team": "infra"}`` (equal),
                ``{"year": {"$gte": 2024}}`` with ``$eq $ne $gt $gte $lt
                $lte $in $nin $contains $exists``, keys combined with AND,
                ``{"$or": [...]}`` / ``{"$and": [...]}`` to combine mappings.
            paths: Path globs (``docs/**/*.md``); any of them may match.
            kinds: Document kinds or extensions (``md``, ``pdf``).
            mode: ``"hybrid"`` (vectors and words fused), ``"vector"`` or
                ``"lexical"``.
            mmr: MMR λ (1 relevance only, 0 diversity only); None is off.
            threshold: Lowest score kept (cosine; BM25 in lexical mode).

        Returns:
            Hits, best first.

        Raises:
            QueryError: The query is empty or the index has no chunks.
            ConfigError: A filter uses an unknown operator or a wrong type.
            StoreError: The index is closed.
            OllamaError: The query could not be embedded.
        """
        self._check_open()
        return self._query().search(
            query,
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )

    async def asearch(
        self,
        query: str,
        *,
        k: int = 8,
        where: Mapping[str, object] | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
    ) -> list[Hit]:
        """The async twin of :meth:`search`; the index work runs in a thread."""
        self._check_open()
        return await self._query().asearch(
            query,
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )

    def ask(
        self,
        question: str,
        *,
        stream: bool = False,
        history: Sequence[Mapping[str, str]] = (),
        k: int = 8,
        where: Mapping[str, object] | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
    ) -> Answer:
        """Answer a question from the index, with citations checked against it.

        Args:
            question: The question.
            stream: Receive the reply as a stream (it is still returned
                whole; :meth:`ask_stream` shows it arrive).
            history: Earlier turns, oldest first, as ``{"role", "content"}``.
            k: Passages to retrieve.
            where: Conditions on metadata (see :meth:`search`).
            paths: Path globs a passage's document must match.
            kinds: Document kinds or extensions.
            mode: ``"hybrid"``, ``"vector"`` or ``"lexical"``.
            mmr: MMR λ; None is off.
            threshold: Lowest score kept.

        Returns:
            The answer: text, citations (``verified`` or flagged), the
            passages used, timings, token counts and warnings.

        Raises:
            QueryError: The question is empty or too long, or the index is empty.
            ModelNotFoundError: The chat or embedding model is not installed.
            OllamaConnectionError: The server cannot be reached.
            StoreError: The index is closed.
        """
        self._check_open()
        return self._query().ask(
            question,
            stream=stream,
            history=history,
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )

    def ask_stream(
        self,
        question: str,
        *,
        history: Sequence[Mapping[str, str]] = (),
        k: int = 8,
        where: Mapping[str, object] | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
    ) -> Iterator[AnswerEvent]:
        """Answer a question, yielding the text as the model writes it.

        Yields :class:`~ragkit.query.AnswerDelta` pieces of the answer, an
        :class:`~ragkit.query.AnswerRetry` if the reply must be asked for
        again (the text so far is void), and last the checked
        :class:`~ragkit.types.Answer`. Arguments and errors as in :meth:`ask`.
        """
        self._check_open()
        return self._query().ask_stream(
            question,
            history=history,
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )

    async def aask(
        self,
        question: str,
        *,
        stream: bool = False,
        history: Sequence[Mapping[str, str]] = (),
        k: int = 8,
        where: Mapping[str, object] | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
    ) -> Answer:
        """The async twin of :meth:`ask` (async HTTP; index work in a thread)."""
        self._check_open()
        return await self._query().aask(
            question,
            stream=stream,
            history=history,
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )

    def aask_stream(
        self,
        question: str,
        *,
        history: Sequence[Mapping[str, str]] = (),
        k: int = 8,
        where: Mapping[str, object] | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
    ) -> AsyncIterator[AnswerEvent]:
        """The async twin of :meth:`ask_stream`: ``async for event in ...``."""
        self._check_open()
        return self._query().aask_stream(
            question,
            history=history,
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )

    def chat(
        self,
        *,
        k: int = 8,
        where: Mapping[str, object] | None = None,
        paths: Sequence[str] = (),
        kinds: Sequence[str] = (),
        mode: SearchMode = "hybrid",
        mmr: float | None = None,
        threshold: float | None = None,
    ) -> ChatSession:
        """Start a conversation; follow-ups are understood in context.

        The session's ``ask``/``ask_stream``/``aask``/``aask_stream`` answer
        each message; its ``history``, ``sources`` and ``reset()`` manage
        the conversation. The arguments apply to every turn (see :meth:`search`).

        Raises:
            ConfigError: A setting or filter is invalid.
            StoreError: The index is closed.
        """
        self._check_open()
        return self._query().chat(
            k=k,
            mode=mode,
            paths=paths,
            kinds=kinds,
            where=where,
            threshold=threshold,
            mmr=mmr,
        )

    # -- internals -----------------------------------------------------------

    def _query(self) -> QueryEngine:
        """The query engine, made on first use."""
        with self._engine_lock:
            self._check_open()
            if self._engine is None:
                self._engine = QueryEngine.from_store(
                    self._store, **self._engine_settings
                )
            return self._engine

    def _take_engine(self) -> QueryEngine | None:
        with self._engine_lock:
            engine, self._engine = self._engine, None
            return engine

    def _close_unused(self) -> None:
        """Close what the engine would have closed, had it been made."""
        settings, self._engine_settings = (
            self._engine_settings,
            {
                **self._engine_settings,
                "client": None,
                "async_client": None,
            },
        )
        try:
            client = settings.get("client")
            if client is not None:
                client.close()
        finally:
            self._store.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(
                "this index is closed; open it again with ragkit.Index.open()"
            )

    def _check_writable(self) -> None:
        self._check_open()
        if not self._store.writable:
            raise StoreError(
                f"the index at {self._store.path} was opened read-only; open it "
                "with ragkit.Index.open(path, writable=True) to change it"
            )

    def _where(self) -> str:
        return str(self._store.path) if self._store.path is not None else "memory"

    def _base(self) -> Path:
        if self._store.path is None:
            return Path.cwd()
        return Path(self._store.path).resolve().parent

    def _writer(self) -> tuple[Embedder, ChunkingOptions]:
        """The embedder and chunking for writes, made (and checked) on first use."""
        if self._writes is None:
            embedder = recipe_embedder(self._recipe, host=self._host)
            try:
                plan = plan_index(self._recipe, embedder)
                adopt_plan(self._store, plan)
            except BaseException:
                embedder.close()
                raise
            self._writes = (embedder, plan.chunking)
        return self._writes

    def _align(self, recipe: Recipe) -> Recipe:
        """A recipe made to embed exactly as this index does."""
        manifest = self._store.manifest
        self._store.check_compatible(embed_model=recipe.embedding.model)
        settings = recipe.embedding
        for name, mine in (
            ("document_prefix", manifest.document_prefix),
            ("query_prefix", manifest.query_prefix),
        ):
            theirs = getattr(settings, name)
            if theirs is not None and theirs != mine:
                raise ConfigError(
                    f"the pipeline sets {name} {theirs!r}, but the index was "
                    f"built with {mine!r}; create a new index to change it"
                )
        embedding = dataclasses.replace(
            settings,
            model=manifest.embed_model,
            hosts=settings.hosts or self._recipe.embedding.hosts,
            document_prefix=manifest.document_prefix,
            query_prefix=manifest.query_prefix,
        )
        return recipe.replace(embedding=embedding)

    def _matching_documents(self, where: Mapping[str, object]) -> list[str]:
        if not isinstance(where, Mapping) or not where:
            raise ConfigError(
                "delete(where=...) needs at least one condition; an empty filter "
                "would match every document"
            )
        allowed = self._store.select_ids(ChunkFilter(where=where))
        if allowed is None or len(allowed) == 0:
            return []
        chunks = self._store.chunk_map(int(rowid) for rowid in allowed)
        return sorted({chunk.document for chunk in chunks.values()})

    def _finish_writes(self) -> bool:
        """Save the FAISS file and close the writer; False if already closed."""
        with self._write_lock:
            if self._closed:
                return False
            self._closed = True
            try:
                if (
                    self._store.writable
                    and self._store.path is not None
                    and self._store.generation() != self._saved_generation
                ):
                    self._store.sync()
            finally:
                if self._writes is not None:
                    self._writes[0].close()
        return True


def _as_recipe(pipeline: PipelineArg) -> Recipe:
    if pipeline is None:
        return load_recipe(DEFAULT_RECIPE)
    if isinstance(pipeline, Pipeline):
        return pipeline.recipe
    if isinstance(pipeline, Recipe):
        return pipeline
    if isinstance(pipeline, str | os.PathLike):
        return load_recipe(pipeline)
    raise ConfigError(
        "pipeline must be a Pipeline, a Recipe, a recipe name or a .toml path, "
        f"not {type(pipeline).__name__}"
    )


def _creation_recipe(
    pipeline: PipelineArg,
    embed_model: str | None,
    hosts: Sequence[str] | None,
    index_type: str | None,
) -> Recipe:
    recipe = _as_recipe(pipeline)
    embedding = recipe.embedding
    if embed_model is not None:
        embedding = dataclasses.replace(embedding, model=embed_model)
    if hosts:
        embedding = dataclasses.replace(embedding, hosts=_host_tuple(hosts))
    recipe = recipe.replace(embedding=embedding)
    if index_type is not None:
        recipe = recipe.replace(index_type=index_type)
    return recipe


def _recipe_of(manifest: Manifest, hosts: Sequence[str] | None) -> Recipe:
    """The recipe an existing index was built with, as far as it can be known.

    The manifest keeps the recipe's name, the chunking and the embedding
    model and prefixes; include/exclude and loader options come from the
    ready-made recipe of that name (or the default one).
    """
    name = manifest.pipeline or DEFAULT_RECIPE
    recipe = load_recipe(name if name in available_recipes() else DEFAULT_RECIPE)
    try:
        chunking = ChunkingOptions(**dict(manifest.chunking))
    except (TypeError, ConfigError):
        chunking = recipe.chunking
    embedding = dataclasses.replace(
        recipe.embedding,
        model=manifest.embed_model,
        hosts=_host_tuple(hosts or ()),
        document_prefix=manifest.document_prefix,
        query_prefix=manifest.query_prefix,
    )
    return recipe.replace(
        name=name,
        chunking=chunking,
        embedding=embedding,
        index_type=manifest.index_type,
    )


def _host_tuple(hosts: Sequence[str]) -> tuple[str, ...]:
    if isinstance(hosts, str):
        raise ConfigError("hosts must be a list of host URLs, not one string")
    return tuple(hosts)


def _checked_ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise ConfigError("ids must be a list of strings, e.g. delete(ids=[doc_id])")
    for value in ids:
        if not isinstance(value, str):
            raise ConfigError(f"ids must be strings, not {type(value).__name__}")
    return list(dict.fromkeys(ids))
