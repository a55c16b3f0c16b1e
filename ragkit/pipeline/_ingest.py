"""The ingest run: folders → loaders → chunks → embeddings → the index, incrementally.

The main thread walks, loads and chunks files and does every write to the
index; the embedder's threads embed meanwhile. Texts go to the embedder
through a bounded queue, so a slow server holds back reading instead of
letting memory grow, and results come back through a second queue that
the main thread drains between files.

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
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragkit.documents import (
    DEFAULT_EXCLUDE,
    ChunkingOptions,
    LoadError,
    Skipped,
    SourceFile,
    chunk_document,
    content_hash,
    estimate_tokens,
    find_files,
    load,
    loader_info,
    needs_reload,
)
from ragkit.embedding import Embedder, EmbeddingModelInfo, EmbedFailure, EmbedStats
from ragkit.errors import ConfigError, IndexMismatchError, IndexNotFoundError
from ragkit.pipeline._events import IngestProgress, IngestReport, ProblemChunk
from ragkit.pipeline._recipe import Recipe
from ragkit.pipeline._writer import IndexWriter
from ragkit.store import DocumentRecord, Manifest, Store
from ragkit.types import Chunk, Document

__all__ = ["ingest", "text_hash"]

logger = logging.getLogger(__name__)

# Room left in the model's context for tokens the estimate misses and for
# special tokens the model adds ([CLS], [SEP], ...).
_CONTEXT_MARGIN = 0.9
_RESULT_POLL = 0.05
# Documents written per transaction at most: fewer, larger commits are much
# cheaper for SQLite and FTS5, and a killed run loses no committed document.
_WRITE_DOCUMENTS = 64


def text_hash(text: str) -> str:
    """The key an embedded text's vector is cached under (prefix included)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _PendingDocument:
    """A document whose chunks are waiting for vectors."""

    record: DocumentRecord
    chunks: list[Chunk]
    hashes: list[str]
    missing: set[str]
    failed: set[str] = field(default_factory=set)


@dataclass
class _Run:
    """Mutable state of one run, owned by the main thread."""

    store: Store
    writer: IndexWriter
    prefix: str
    fingerprint: str
    chunking: ChunkingOptions
    report: IngestReport
    progress: Callable[[IngestProgress], None] | None
    started: float
    pending: dict[str, _PendingDocument] = field(default_factory=dict)
    ready: list[_PendingDocument] = field(default_factory=list)
    vectors: list[tuple[str, Any]] = field(default_factory=list)
    waiting: dict[str, list[str]] = field(default_factory=dict)
    embed_stats: EmbedStats = field(default_factory=EmbedStats)
    chunk_locations: dict[str, str] = field(default_factory=dict)
    files_seen: int = 0
    chunks_queued: int = 0

    def emit(self, phase: str) -> None:
        if self.progress is None:
            return
        self.progress(
            IngestProgress(
                phase=phase,
                files_seen=self.files_seen,
                files_done=self.writer.documents,
                chunks_queued=self.chunks_queued,
                chunks_embedded=self.embed_stats.embedded,
                chunks_written=self.writer.chunks,
                elapsed=time.monotonic() - self.started,
            )
        )


def ingest(
    paths: Sequence[str | os.PathLike[str]],
    recipe: Recipe,
    *,
    index: str | os.PathLike[str] = ".ragkit",
    host: str | None = None,
    rebuild: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
    progress: Callable[[IngestProgress], None] | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Bring the index at ``index`` up to date with the files under ``paths``.

    Unchanged files cost nothing; changed files have their chunks replaced;
    files that disappeared from under ``paths`` leave the index. Documents
    are named by their path relative to the index's parent folder, so
    ``ragkit index docs/`` run from a project cites ``docs/guide.md``.

    Args:
        paths: Folders (or files) to index.
        recipe: What to include, and how to load, chunk, embed and index.
        index: The index directory.
        host: The Ollama server, when the recipe names no hosts.
        rebuild: Start the index over.
        dry_run: Only report what would change; nothing is loaded or written.
        wait: Seconds to wait for another writer to finish.
        progress: Called with an :class:`IngestProgress` as the run goes.
        embedder: An embedder to use instead of one built from the recipe
            (it is not closed).

    Returns:
        What the run did.

    Raises:
        ConfigError: A path does not exist, or a setting is invalid.
        IndexMismatchError: The index was built with another model.
        IndexLockedError: Another run is writing the index.
        OllamaError: The server failed beyond what retries could fix; what
            was committed before stays.
    """
    roots = _check_roots(paths)
    index_dir = Path(index)
    base = index_dir.resolve().parent
    if dry_run:
        return _dry_run(roots, recipe, index_dir, base)
    own_embedder = embedder is None
    if embedder is None:
        settings = recipe.embedding
        embedder = Embedder(
            settings.model,
            hosts=settings.hosts or ([host] if host else None),
            batch_size=settings.batch_size,
            max_batch_tokens=settings.max_batch_tokens,
            in_flight_per_host=settings.in_flight_per_host,
            document_prefix=settings.document_prefix,
            query_prefix=settings.query_prefix,
            estimate_tokens=estimate_tokens,
        )
    try:
        info = embedder.model_info()
        chunking = _fit_chunking(recipe.chunking, info, embedder.document_prefix)
        manifest = _manifest(recipe, info, embedder, chunking)
        store = _open_store(index_dir, manifest, rebuild=rebuild, wait=wait)
        try:
            run = _Run(
                store=store,
                writer=IndexWriter(store),
                prefix=embedder.document_prefix,
                fingerprint=_fingerprint(chunking, embedder.document_prefix),
                chunking=chunking,
                report=IngestReport(index=str(index_dir), model=info.name),
                progress=progress,
                started=time.monotonic(),
            )
            _run(run, roots, recipe, base, embedder)
            run.report.seconds = time.monotonic() - run.started
            return run.report
        finally:
            store.close()
    finally:
        if own_embedder:
            embedder.close()


def _check_roots(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    if not paths:
        raise ConfigError("nothing to index: give at least one folder or file")
    roots = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ConfigError(f"no such file or folder: {path}")
        roots.append(path)
    return roots


def _fit_chunking(
    options: ChunkingOptions, info: EmbeddingModelInfo, prefix: str
) -> ChunkingOptions:
    """Cap chunk sizes so no chunk (with its prefix) overflows the model's context."""
    if info.context_length is None:
        return options
    room = int(info.context_length * _CONTEXT_MARGIN) - estimate_tokens(prefix)
    cap = room if options.max_tokens is None else min(options.max_tokens, room)
    if cap < 8:
        raise ConfigError(
            f"{info.name} has a context of only {info.context_length} tokens; "
            "choose another embedding model"
        )
    target = min(options.target_tokens, cap)
    overlap = min(options.overlap_tokens, target // 4)
    return ChunkingOptions(
        target_tokens=target,
        overlap_tokens=overlap,
        max_tokens=cap,
        min_tokens=min(options.min_tokens, max(0, target // 4)),
    )


def _fingerprint(chunking: ChunkingOptions, prefix: str) -> str:
    """Fingerprint of what turns a document's text into cached vectors."""
    settings = {
        "target_tokens": chunking.target_tokens,
        "overlap_tokens": chunking.overlap_tokens,
        "max_tokens": chunking.max_tokens,
        "min_tokens": chunking.min_tokens,
        "document_prefix": prefix,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[
        :16
    ]


def _manifest(
    recipe: Recipe,
    info: EmbeddingModelInfo,
    embedder: Embedder,
    chunking: ChunkingOptions,
) -> Manifest:
    return Manifest(
        embed_model=info.name,
        dimension=info.dimension,
        model_digest=info.digest,
        document_prefix=embedder.document_prefix,
        query_prefix=embedder.query_prefix,
        chunking={
            "target_tokens": chunking.target_tokens,
            "overlap_tokens": chunking.overlap_tokens,
            "max_tokens": chunking.max_tokens,
            "min_tokens": chunking.min_tokens,
        },
        pipeline=recipe.name,
        index_type=recipe.index_type,
    )


def _open_store(
    index_dir: Path, manifest: Manifest, *, rebuild: bool, wait: float
) -> Store:
    if rebuild:
        return Store.create(index_dir, manifest, overwrite=True, wait=wait)
    try:
        store = Store.open(index_dir, writable=True, wait=wait)
    except IndexNotFoundError:
        return Store.create(index_dir, manifest, wait=wait)
    try:
        store.check_compatible(
            embed_model=manifest.embed_model, dimension=manifest.dimension
        )
        have = store.manifest
        if (
            have.model_digest
            and manifest.model_digest
            and have.model_digest != manifest.model_digest
        ):
            raise IndexMismatchError(
                f"the index at {index_dir} was built with {have.embed_model} "
                f"digest {have.model_digest[:12]}, but the server's "
                f"{manifest.embed_model} is now {manifest.model_digest[:12]} (the "
                "model was updated); rebuild with `ragkit index <folder> --rebuild`"
            )
        if _manifest_changed(have, manifest):
            store.set_manifest(
                Manifest(
                    **{
                        **_manifest_fields(manifest),
                        "created_at": have.created_at,
                    }
                )
            )
    except BaseException:
        store.close()
        raise
    return store


def _manifest_fields(manifest: Manifest) -> dict[str, Any]:
    return {
        "embed_model": manifest.embed_model,
        "dimension": manifest.dimension,
        "model_digest": manifest.model_digest,
        "document_prefix": manifest.document_prefix,
        "query_prefix": manifest.query_prefix,
        "chunking": dict(manifest.chunking),
        "pipeline": manifest.pipeline,
        "index_type": manifest.index_type,
    }


def _manifest_changed(have: Manifest, want: Manifest) -> bool:
    mine = _manifest_fields(have)
    theirs = _manifest_fields(want)
    return mine != theirs


# -- the run ---------------------------------------------------------------


def _run(
    run: _Run, roots: list[Path], recipe: Recipe, base: Path, embedder: Embedder
) -> None:
    known = {record.path: record for record in run.store.documents()}
    seen: set[str] = set()
    kept_prefixes: list[str] = []
    to_embed: queue.Queue[tuple[str, str] | None] = queue.Queue(
        maxsize=max(4 * recipe.embedding.batch_size, 64)
    )
    results: queue.Queue[Any] = queue.Queue()
    worker = threading.Thread(
        target=_embed_worker,
        args=(embedder, _drain(to_embed), results, run.embed_stats),
        name="ragkit-ingest-embed",
        daemon=True,
    )
    worker.start()
    finished = False
    try:
        for found in find_files(
            roots,
            include=recipe.include,
            exclude=(*DEFAULT_EXCLUDE, *recipe.exclude),
            skip=[Path(run.store.path)] if run.store.path else [],
        ):
            if isinstance(found, Skipped):
                relpath = _skipped_path(found, base)
                run.report.skip(relpath, found.reason)
                if found.is_dir:
                    kept_prefixes.append(relpath.rstrip("/") + "/")
                continue
            path = _document_path(found, base)
            seen.add(path)
            run.files_seen += 1
            _one_file(run, found, path, known.get(path), recipe, to_embed)
            _handle_results(run, results, block=False)
            run.emit("indexing")
        to_embed.put(None)
        while not finished:
            finished = _handle_results(run, results, block=True)
        _flush(run)
        run.writer.close()
    finally:
        if not finished:
            _abandon(to_embed, worker)
            _save_what_is_done(run)
    run.report.chunks = run.writer.chunks
    run.report.files_done = run.writer.documents
    under_roots = [_root_prefix(root, base) for root in roots]
    gone = [
        path
        for path in known
        if path not in seen
        and any(_is_under(path, prefix) for prefix in under_roots)
        and not any(path.startswith(prefix) for prefix in kept_prefixes)
    ]
    if gone:
        run.store.delete_documents(gone)
        run.report.removed.extend(sorted(gone))
    run.store.prune_vectors()
    run.emit("saving")
    run.store.sync()
    run.report.requests = run.embed_stats.requests
    run.report.embedded = run.embed_stats.embedded - run.embed_stats.duplicates
    run.emit("done")


def _one_file(
    run: _Run,
    found: SourceFile,
    path: str,
    known: DocumentRecord | None,
    recipe: Recipe,
    to_embed: queue.Queue[tuple[str, str] | None],
) -> None:
    report = run.report
    same_settings = known is not None and known.chunking_fingerprint == run.fingerprint
    if (
        known is not None
        and same_settings
        and not needs_reload(found, known.size, known.mtime_ns)
    ):
        report.unchanged += 1
        return
    if loader_info(found.path) is None:
        report.unsupported += 1
        return
    try:
        digest = content_hash(found.path)
    except OSError as exc:
        report.skip(path, f"cannot read ({exc.strerror or exc})")
        return
    if known is not None and same_settings and digest == known.content_hash:
        report.unchanged += 1
        return
    try:
        document = load(found, relpath=path, options=recipe.loader)
    except LoadError as exc:
        report.skip(path, exc.reason)
        return
    (report.changed if known is not None else report.added).append(path)
    _submit(run, document, digest, found, to_embed)


def _submit(
    run: _Run,
    document: Document,
    digest: str,
    found: SourceFile,
    to_embed: queue.Queue[tuple[str, str] | None],
) -> None:
    chunks = list(chunk_document(document, run.chunking))
    hashes = [text_hash(run.prefix + chunk.text) for chunk in chunks]
    record = DocumentRecord(
        path=document.path,
        content_hash=digest,
        size=found.size,
        mtime_ns=found.mtime_ns,
        kind=document.kind,
        title=document.title,
        metadata=document.metadata,
        chunking_fingerprint=run.fingerprint,
    )
    cached = run.store.has_vectors(hashes)
    missing = set(hashes) - cached
    run.report.reused += len(cached)
    pending = _PendingDocument(record, chunks, hashes, missing)
    if not missing:
        _commit(run, pending)
        return
    run.pending[document.path] = pending
    queued: set[str] = set()
    for chunk, key in zip(chunks, hashes, strict=True):
        waiters = run.waiting.setdefault(key, [])
        waiters.append(document.path)
        run.chunk_locations.setdefault(key, chunk.location)
        if key in missing and key not in queued and len(waiters) == 1:
            queued.add(key)
            run.chunks_queued += 1
            to_embed.put((key, chunk.text))


def _commit(run: _Run, pending: _PendingDocument) -> None:
    """Queue a document whose vectors are all known for the next write."""
    run.ready.append(pending)
    if len(run.ready) >= _WRITE_DOCUMENTS:
        _flush(run)


def _flush(run: _Run) -> None:
    """Write the vectors and documents gathered so far, in one transaction."""
    if not run.ready and not run.vectors:
        return
    documents = []
    for pending in run.ready:
        keep = [i for i, key in enumerate(pending.hashes) if key not in pending.failed]
        documents.append(
            (
                pending.record,
                [pending.chunks[i] for i in keep],
                [pending.hashes[i] for i in keep],
            )
        )
    run.writer.submit(documents, run.vectors)
    run.ready = []
    run.vectors = []


def _handle_results(run: _Run, results: queue.Queue[Any], *, block: bool) -> bool:
    """Apply what the embedder delivered; True once the embedder is finished.

    Everything that has arrived is applied, then written in one transaction.
    """
    finished = arrived = False
    while not finished:
        try:
            item = results.get(timeout=_RESULT_POLL) if block else results.get_nowait()
        except queue.Empty:
            if not block:
                break
            run.emit("embedding")
            continue
        # Once something arrived, take whatever else is already waiting
        # without blocking, so one write covers it all.
        block = False
        arrived = True
        if item is None:
            finished = True
        elif isinstance(item, BaseException):
            _flush(run)
            raise item
        elif isinstance(item, EmbedFailure):
            location = run.chunk_locations.get(item.key) or item.key
            run.report.failed.append(ProblemChunk(location, item.reason))
            _resolve(run, item.key, failed=True)
        else:
            run.vectors.extend(zip(item.keys, item.vectors, strict=True))
            for key in item.truncated_keys:
                location = run.chunk_locations.get(key) or key
                run.report.truncated.append(
                    ProblemChunk(
                        location, "longer than the model's context; embedded truncated"
                    )
                )
            for key in item.keys:
                _resolve(run, key, failed=False)
    if arrived:
        _flush(run)
        run.emit("embedding")
    return finished


def _resolve(run: _Run, key: str, *, failed: bool) -> None:
    for path in run.waiting.pop(key, []):
        pending = run.pending.get(path)
        if pending is None:
            continue
        pending.missing.discard(key)
        if failed:
            pending.failed.add(key)
        if not pending.missing:
            del run.pending[path]
            _commit(run, pending)
    run.chunk_locations.pop(key, None)


def _save_what_is_done(run: _Run) -> None:
    """After a failure, keep the vectors and whole documents already gathered."""
    try:
        _flush(run)
        run.writer.close()
    except Exception:  # the original failure is what the caller must see
        logger.debug("could not save work after a failed run", exc_info=True)


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
    except BaseException as exc:  # handed to the main thread, which raises it
        results.put(exc)
    finally:
        results.put(None)


def _abandon(
    to_embed: queue.Queue[tuple[str, str] | None], worker: threading.Thread
) -> None:
    """Stop feeding the embedder after a failure; batches in flight are dropped."""
    while True:
        try:
            to_embed.get_nowait()
        except queue.Empty:
            break
    to_embed.put(None)
    worker.join(timeout=30)


# -- paths -----------------------------------------------------------------


def _document_path(found: SourceFile, base: Path) -> str:
    return Path(os.path.relpath(found.path.absolute(), base)).as_posix()


def _skipped_path(skipped: Skipped, base: Path) -> str:
    if skipped.root is None:
        return skipped.relpath
    root = skipped.root if skipped.root.is_dir() else skipped.root.parent
    return Path(os.path.relpath((root / skipped.relpath).absolute(), base)).as_posix()


def _root_prefix(root: Path, base: Path) -> str:
    return Path(os.path.relpath(root.absolute(), base)).as_posix()


def _is_under(path: str, prefix: str) -> bool:
    return prefix == "." or path == prefix or path.startswith(prefix.rstrip("/") + "/")


# -- dry run ---------------------------------------------------------------


def _dry_run(
    roots: list[Path], recipe: Recipe, index_dir: Path, base: Path
) -> IngestReport:
    report = IngestReport(
        index=str(index_dir), model=recipe.embedding.model, dry_run=True
    )
    try:
        store: Store | None = Store.open(index_dir)
    except IndexNotFoundError:
        store = None
    started = time.monotonic()
    try:
        known = {r.path: r for r in store.documents()} if store else {}
        seen: set[str] = set()
        for found in find_files(
            roots,
            include=recipe.include,
            exclude=(*DEFAULT_EXCLUDE, *recipe.exclude),
            skip=[index_dir],
        ):
            if isinstance(found, Skipped):
                report.skip(_skipped_path(found, base), found.reason)
                continue
            path = _document_path(found, base)
            seen.add(path)
            if loader_info(found.path) is None:
                report.unsupported += 1
                continue
            record = known.get(path)
            if record is None:
                report.added.append(path)
            elif needs_reload(found, record.size, record.mtime_ns) and (
                content_hash(found.path) != record.content_hash
            ):
                report.changed.append(path)
            else:
                report.unchanged += 1
        prefixes = [_root_prefix(root, base) for root in roots]
        report.removed.extend(
            sorted(
                p
                for p in known
                if p not in seen and any(_is_under(p, x) for x in prefixes)
            )
        )
    finally:
        if store is not None:
            store.close()
    report.seconds = time.monotonic() - started
    return report
