"""The document-level ingest seam: documents in, chunks, embeddings and writes out.

Both the file ingest (:func:`ragkit.pipeline.ingest`) and ``ragkit.Index.add``
feed documents through an :class:`IngestSession`. The caller's thread chunks
each document and hands its texts to the embedder through a bounded queue,
so a slow server holds the caller back instead of letting memory grow;
vectors come back through a second queue that the caller drains between
documents, and the writes go to a writer thread.

What reaches the index, and when:
- vectors are committed as each embedding batch arrives (the cache a
  resumed run reuses, so a killed run loses at most the batches in flight);
- a document is committed with all its chunks in one transaction once the
  last of its vectors is in, so no reader sees half a document.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ragkit.documents import ChunkingOptions, chunk_document
from ragkit.embedding import Embedder, EmbedFailure, EmbedStats
from ragkit.errors import IngestError
from ragkit.pipeline._events import IngestProgress, IngestReport, ProblemChunk
from ragkit.pipeline._writer import IndexWriter
from ragkit.store import DocumentRecord, Store
from ragkit.types import Chunk, Document

__all__ = ["IngestSession", "chunking_fingerprint", "text_hash"]

logger = logging.getLogger(__name__)

_RESULT_POLL = 0.05
# Documents written per transaction at most: fewer, larger commits are much
# cheaper for SQLite and FTS5, and a killed run loses no committed document.
_WRITE_DOCUMENTS = 64
_ABANDON_JOIN = 30.0


def text_hash(text: str) -> str:
    """The key an embedded text's vector is cached under (prefix included)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def chunking_fingerprint(chunking: ChunkingOptions, prefix: str) -> str:
    """Fingerprint of what turns a document's text into cached vectors.

    A document indexed under another fingerprint is chunked again.

    Args:
        chunking: The chunking settings.
        prefix: The document prefix put before every chunk.
    """
    settings = {
        "target_tokens": chunking.target_tokens,
        "overlap_tokens": chunking.overlap_tokens,
        "max_tokens": chunking.max_tokens,
        "min_tokens": chunking.min_tokens,
        "document_prefix": prefix,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


@dataclass
class _PendingDocument:
    """A document whose chunks are waiting for vectors."""

    record: DocumentRecord
    chunks: list[Chunk]
    hashes: list[str]
    missing: set[str]
    failed: set[str] = field(default_factory=set)


class IngestSession:
    """Chunks, embeds and writes documents into an open, writable store.

    Use it as a context manager; :meth:`finish` waits for the last vectors
    and writes. Leaving the block without :meth:`finish` (an exception)
    stops the embedder and keeps what was already complete::

        report = IngestReport(index="memory", model=embedder.model)
        with IngestSession(store, embedder, chunking=options, report=report) as s:
            for document in documents:
                s.add(document, content_hash=document_hash(document))
                s.poll()
            s.finish()

    Texts already in the store's vector cache (or repeated within the run)
    are not embedded again. Counters go to ``report``: ``chunks``,
    ``embedded``, ``reused``, ``requests``, ``truncated``, ``failed`` and
    ``files_done``; the caller keeps the lists of added and changed paths.

    Args:
        store: The index, open for writing; it is not closed.
        embedder: Embeds the chunks with the store's model; it is not closed.
        chunking: How documents are cut into chunks.
        report: Where the counters go.
        progress: Called with an :class:`IngestProgress` as the work goes.
        queue_size: Texts waiting for the embedder at most; by default four
            batches' worth.

    Attributes:
        files_seen: Documents (or files) the caller has looked at, counted
            by the caller, for progress.
        fingerprint: The chunking fingerprint written with every document.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        chunking: ChunkingOptions,
        report: IngestReport,
        progress: Callable[[IngestProgress], None] | None = None,
        queue_size: int | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._chunking = chunking
        self._prefix = embedder.document_prefix
        self.fingerprint = chunking_fingerprint(chunking, self._prefix)
        self._report = report
        self._progress = progress
        self.files_seen = 0
        self.files_total: int | None = None
        self._chunks_queued = 0
        self._started = time.monotonic()
        self._pending: dict[str, _PendingDocument] = {}
        self._ready: list[_PendingDocument] = []
        self._vectors: list[tuple[str, Any]] = []
        self._waiting: dict[str, list[str]] = {}
        self._locations: dict[str, str] = {}
        self._stats = EmbedStats()
        size = queue_size or max(4 * embedder.config.batch_size, 64)
        self._to_embed: queue.Queue[tuple[str, str] | None] = queue.Queue(size)
        self._results: queue.Queue[Any] = queue.Queue()
        self._writer = IndexWriter(store)
        self._worker = threading.Thread(
            target=_embed_worker,
            args=(embedder, _drain(self._to_embed), self._results, self._stats),
            name="ragkit-ingest-embed",
            daemon=True,
        )
        self._worker.start()
        self._finished = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> IngestSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def finish(self) -> None:
        """Wait for every queued text's vector and write everything that is left.

        Raises:
            OllamaError: The embedder failed beyond its retries; what was
                complete before stays written.
            IngestError: The server kept failing or sent bad vectors.
        """
        if self._finished:
            return
        self._enqueue(None)
        done = False
        while not done:
            done = self._handle_results(block=True)
        self._finished = True
        self._flush()
        self._writer.close()
        self._report.chunks += self._writer.chunks
        self._report.files_done += self._writer.documents
        self._report.requests += self._stats.requests
        self._report.embedded += self._stats.embedded - self._stats.duplicates

    def close(self) -> None:
        """Stop the embedder and keep what is complete; safe after :meth:`finish`."""
        if self._closed:
            return
        self._closed = True
        if self._finished:
            return
        self._abandon()
        try:
            self._flush()
            self._writer.close()
        except Exception:  # the original failure is what the caller must see
            logger.debug("could not save work after a failed run", exc_info=True)

    # -- feeding ---------------------------------------------------------------

    def is_unchanged(self, known: DocumentRecord | None, content_hash: str) -> bool:
        """True when ``known`` already holds this content, chunked the same way."""
        return (
            known is not None
            and known.chunking_fingerprint == self.fingerprint
            and known.content_hash == content_hash
        )

    def add(
        self,
        document: Document,
        *,
        content_hash: str,
        size: int = 0,
        mtime_ns: int = 0,
    ) -> None:
        """Chunk a document and queue the texts that have no vector yet.

        The document replaces any earlier one at ``document.path`` once its
        vectors are in. May block while the embedder is behind.

        Args:
            document: The document; its metadata goes to every chunk.
            content_hash: What the document's content hashes to (the caller
                decides what counts as a change).
            size: Its size in bytes, for change detection of files.
            mtime_ns: Its modification time, for change detection of files.

        Raises:
            Exception: An earlier embedding or write failure.
        """
        chunks = list(chunk_document(document, self._chunking))
        hashes = [text_hash(self._prefix + chunk.text) for chunk in chunks]
        record = DocumentRecord(
            path=document.path,
            content_hash=content_hash,
            size=size,
            mtime_ns=mtime_ns,
            kind=document.kind,
            title=document.title,
            metadata=document.metadata,
            chunking_fingerprint=self.fingerprint,
        )
        cached = self._store.has_vectors(hashes)
        missing = set(hashes) - cached
        self._report.reused += len(cached)
        pending = _PendingDocument(record, chunks, hashes, missing)
        if not missing:
            self._commit(pending)
            return
        self._pending[document.path] = pending
        queued: set[str] = set()
        for chunk, key in zip(chunks, hashes, strict=True):
            waiters = self._waiting.setdefault(key, [])
            waiters.append(document.path)
            self._locations.setdefault(key, chunk.location)
            if key in missing and key not in queued and len(waiters) == 1:
                queued.add(key)
                self._chunks_queued += 1
                self._enqueue((key, chunk.text))

    def poll(self) -> None:
        """Apply the vectors that arrived so far, without waiting.

        Raises:
            Exception: The embedder's failure, once it has failed.
        """
        self._handle_results(block=False)

    def emit(self, phase: str) -> None:
        """Report progress to the callback, if there is one."""
        if self._progress is None:
            return
        self._progress(
            IngestProgress(
                phase=phase,
                files_seen=self.files_seen,
                files_done=self._writer.documents,
                chunks_queued=self._chunks_queued,
                chunks_embedded=self._stats.embedded,
                chunks_written=self._writer.chunks,
                elapsed=time.monotonic() - self._started,
                files_total=self.files_total,
            )
        )

    # -- internals -------------------------------------------------------------

    def _commit(self, pending: _PendingDocument) -> None:
        """Queue a document whose vectors are all known for the next write."""
        self._ready.append(pending)
        if len(self._ready) >= _WRITE_DOCUMENTS:
            self._flush()

    def _flush(self) -> None:
        """Write the vectors and documents gathered so far, in one transaction."""
        if not self._ready and not self._vectors:
            return
        documents = []
        for pending in self._ready:
            keep = [
                i for i, key in enumerate(pending.hashes) if key not in pending.failed
            ]
            documents.append(
                (
                    pending.record,
                    [pending.chunks[i] for i in keep],
                    [pending.hashes[i] for i in keep],
                )
            )
        self._writer.submit(documents, self._vectors)
        self._ready = []
        self._vectors = []

    def _handle_results(self, *, block: bool) -> bool:
        """Apply what the embedder delivered; True once the embedder is finished.

        Everything that has arrived is applied, then written in one transaction.
        """
        finished = arrived = False
        while not finished:
            try:
                item = (
                    self._results.get(timeout=_RESULT_POLL)
                    if block
                    else self._results.get_nowait()
                )
            except queue.Empty:
                if not block:
                    break
                self.emit("embedding")
                continue
            # Once something arrived, take whatever else is already waiting
            # without blocking, so one write covers it all.
            block = False
            arrived = True
            if item is None:
                finished = True
            elif isinstance(item, BaseException):
                self._flush()
                raise item
            elif isinstance(item, EmbedFailure):
                location = self._locations.get(item.key) or item.key
                self._report.failed.append(ProblemChunk(location, item.reason))
                self._resolve(item.key, failed=True)
            else:
                self._vectors.extend(zip(item.keys, item.vectors, strict=True))
                for key in item.truncated_keys:
                    location = self._locations.get(key) or key
                    self._report.truncated.append(
                        ProblemChunk(
                            location,
                            "longer than the model's context; embedded truncated",
                        )
                    )
                for key in item.keys:
                    self._resolve(key, failed=False)
        if arrived:
            self._flush()
            self.emit("embedding")
        return finished

    def _enqueue(self, item: tuple[str, str] | None) -> None:
        """Hand a text to the embedder, raising its failure if it has stopped.

        A plain blocking put would wait forever on a full queue once the
        embedder thread is gone (the server went away), so wait in short steps
        and look at what the embedder reported in between.
        """
        while True:
            try:
                self._to_embed.put(item, timeout=_RESULT_POLL)
                return
            except queue.Full:
                if self._handle_results(block=False):
                    raise IngestError(
                        "the embedder stopped before every text was queued"
                    ) from None

    def _resolve(self, key: str, *, failed: bool) -> None:
        for path in self._waiting.pop(key, []):
            pending = self._pending.get(path)
            if pending is None:
                continue
            pending.missing.discard(key)
            if failed:
                pending.failed.add(key)
            if not pending.missing:
                del self._pending[path]
                self._commit(pending)
        self._locations.pop(key, None)

    def _abandon(self) -> None:
        """Stop feeding the embedder after a failure; batches in flight are dropped."""
        while True:
            try:
                self._to_embed.get_nowait()
            except queue.Empty:
                break
        self._to_embed.put(None)  # just emptied, and only this thread fills it
        self._worker.join(timeout=_ABANDON_JOIN)


def _drain(source: queue.Queue[tuple[str, str] | None]) -> Iterator[tuple[str, str]]:
    while True:
        item = source.get()
        if item is None:
            return
        yield item


def _embed_worker(
    embedder: Embedder,
    items: Iterable[tuple[str, str]],
    results: queue.Queue[Any],
    stats: EmbedStats,
) -> None:
    try:
        for result in embedder.embed_stream(items, stats=stats):
            results.put(result)
    except BaseException as exc:  # handed to the caller's thread, which raises it
        results.put(exc)
    finally:
        results.put(None)
