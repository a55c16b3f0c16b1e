"""The file ingest: folders → loaders → chunks → embeddings → the index, incrementally.

The caller's thread walks, loads and chunks files; an
:class:`~ragkit.pipeline.IngestSession` embeds and writes them (see there
for what is committed when). Unchanged files cost nothing, changed files
have their chunks replaced, and files that disappeared from under the
given folders leave the index.

The steps are public so that ``ragkit.Index`` runs the same ingest on an
index it holds open: :func:`plan_index` (chunking fitted to the model, and
the manifest), :func:`open_store` / :func:`adopt_plan`, then
:func:`ingest_files` or :func:`preview_files`.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.documents import (
    DEFAULT_EXCLUDE,
    ChunkingOptions,
    LoadError,
    Skipped,
    SourceFile,
    content_hash,
    estimate_tokens,
    find_files,
    load,
    loader_info,
    needs_reload,
)
from ragkit.embedding import Embedder, EmbeddingModelInfo
from ragkit.errors import ConfigError, IndexMismatchError, IndexNotFoundError
from ragkit.pipeline._events import IngestProgress, IngestReport
from ragkit.pipeline._recipe import Recipe
from ragkit.pipeline._session import IngestSession
from ragkit.store import DocumentRecord, Manifest, Store

__all__ = [
    "IndexPlan",
    "adopt_plan",
    "ingest",
    "ingest_files",
    "open_store",
    "plan_index",
    "preview_files",
    "recipe_embedder",
]

# Room left in the model's context for tokens the estimate misses and for
# special tokens the model adds ([CLS], [SEP], ...).
_CONTEXT_MARGIN = 0.9

PathArg = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """What a recipe and a model make of an index: chunking and manifest.

    Attributes:
        chunking: The recipe's chunking, capped so that no chunk (with its
            prefix) overflows the embedding model's context.
        manifest: The manifest an index built this way carries.
    """

    chunking: ChunkingOptions
    manifest: Manifest


def ingest(
    paths: Sequence[PathArg],
    recipe: Recipe,
    *,
    index: PathArg = ".ragkit",
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
        dry_run: Only report what would change; nothing is loaded or written,
            and the server is not contacted.
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
    if dry_run:
        return preview_files(roots, recipe, index=index_dir)
    own_embedder = embedder is None
    if embedder is None:
        embedder = recipe_embedder(recipe, host=host)
    try:
        plan = plan_index(recipe, embedder)
        with open_store(index_dir, plan, rebuild=rebuild, wait=wait) as store:
            return ingest_files(
                store,
                roots,
                recipe,
                embedder=embedder,
                chunking=plan.chunking,
                base=index_dir.resolve().parent,
                progress=progress,
            )
    finally:
        if own_embedder:
            embedder.close()


def recipe_embedder(recipe: Recipe, *, host: str | None = None) -> Embedder:
    """The embedder a recipe's ``[embedding]`` settings describe.

    Args:
        recipe: The recipe.
        host: The Ollama server when the recipe names no hosts (None reads
            ``OLLAMA_HOST``).

    Raises:
        ConfigError: A setting is out of range.
    """
    settings = recipe.embedding
    return Embedder(
        settings.model,
        hosts=settings.hosts or ([host] if host else None),
        batch_size=settings.batch_size,
        max_batch_tokens=settings.max_batch_tokens,
        in_flight_per_host=settings.in_flight_per_host,
        document_prefix=settings.document_prefix,
        query_prefix=settings.query_prefix,
        estimate_tokens=estimate_tokens,
    )


def plan_index(recipe: Recipe, embedder: Embedder) -> IndexPlan:
    """Fit the recipe's chunking to the embedding model and build the manifest.

    Reads the model's facts from the server (once per embedder).

    Raises:
        ModelNotFoundError: The server does not have the model.
        OllamaConnectionError: The server cannot be reached.
        ConfigError: The model's context is too small to chunk for.
    """
    info = embedder.model_info()
    chunking = _fit_chunking(recipe.chunking, info, embedder.document_prefix)
    return IndexPlan(chunking, _manifest(recipe, info, embedder, chunking))


def open_store(
    index: PathArg, plan: IndexPlan, *, rebuild: bool = False, wait: float = 0.0
) -> Store:
    """Open the index for writing (creating it when missing) and adopt ``plan``.

    Args:
        index: The index directory.
        plan: What the run will write (see :func:`plan_index`).
        rebuild: Start the index over.
        wait: Seconds to wait for another writer to finish.

    Returns:
        The store, open for writing.

    Raises:
        IndexMismatchError: The index was built with another model or
            another version of it.
        IndexLockedError: Another writer holds the index.
    """
    index_dir = Path(index)
    if rebuild:
        return Store.create(index_dir, plan.manifest, overwrite=True, wait=wait)
    try:
        store = Store.open(index_dir, writable=True, wait=wait)
    except IndexNotFoundError:
        return Store.create(index_dir, plan.manifest, wait=wait)
    try:
        adopt_plan(store, plan)
    except BaseException:
        store.close()
        raise
    return store


def adopt_plan(store: Store, plan: IndexPlan) -> None:
    """Check that ``plan`` fits a writable store and record its settings.

    A change of chunking (or recipe name, or index type) is written to the
    manifest; documents chunked otherwise are chunked again when next seen.

    Raises:
        IndexMismatchError: The store was built with another embedding model
            or dimension, or the server's model has another digest now.
    """
    manifest = plan.manifest
    store.check_compatible(
        embed_model=manifest.embed_model, dimension=manifest.dimension
    )
    have = store.manifest
    if (
        have.model_digest
        and manifest.model_digest
        and have.model_digest != manifest.model_digest
    ):
        where = store.path if store.path is not None else "in memory"
        raise IndexMismatchError(
            f"the index at {where} was built with {have.embed_model} "
            f"digest {have.model_digest[:12]}, but the server's "
            f"{manifest.embed_model} is now {manifest.model_digest[:12]} (the "
            "model was updated); rebuild with `ragkit index <folder> --rebuild`"
        )
    if _manifest_fields(have) != _manifest_fields(manifest):
        store.set_manifest(
            Manifest(**{**_manifest_fields(manifest), "created_at": have.created_at})
        )


def ingest_files(
    store: Store,
    paths: Sequence[PathArg],
    recipe: Recipe,
    *,
    embedder: Embedder,
    chunking: ChunkingOptions,
    base: Path,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestReport:
    """Bring an open, writable store up to date with the files under ``paths``.

    Args:
        store: The index (adopt the plan first, see :func:`adopt_plan`).
        paths: Folders (or files) to index.
        recipe: What to include and how to load files.
        embedder: Embeds the chunks (it is not closed).
        chunking: How documents are cut (``plan_index(...).chunking``).
        base: Documents are named by their path relative to this folder.
        progress: Called with an :class:`IngestProgress` as the run goes.

    Returns:
        What the run did.

    Raises:
        ConfigError: A path does not exist.
        OllamaError: The server failed beyond what retries could fix; what
            was committed before stays.
    """
    started = time.monotonic()
    roots = _check_roots(paths)
    where = str(store.path) if store.path is not None else "memory"
    report = IngestReport(index=where, model=embedder.model)
    known = {record.path: record for record in store.documents()}
    seen: set[str] = set()
    kept_prefixes: list[str] = []
    walk = functools.partial(
        find_files,
        roots,
        include=recipe.include,
        exclude=(*DEFAULT_EXCLUDE, *recipe.exclude),
        skip=[Path(store.path)] if store.path else [],
    )
    with IngestSession(
        store, embedder, chunking=chunking, report=report, progress=progress
    ) as session:
        if progress is not None:
            # Only a watcher pays for this walk (names and stats, no file is
            # read); it gives a total to estimate the time left against.
            session.files_total = sum(1 for f in walk() if not isinstance(f, Skipped))
        for found in walk():
            if isinstance(found, Skipped):
                relpath = _skipped_path(found, base)
                report.skip(relpath, found.reason)
                if found.is_dir:
                    kept_prefixes.append(relpath.rstrip("/") + "/")
                continue
            path = _document_path(found, base)
            seen.add(path)
            session.files_seen += 1
            _one_file(session, report, found, path, known.get(path), recipe)
            session.poll()
            session.emit("indexing")
        session.finish()
    under_roots = [_root_prefix(root, base) for root in roots]
    gone = [
        path
        for path in known
        if path not in seen
        and any(_is_under(path, prefix) for prefix in under_roots)
        and not any(path.startswith(prefix) for prefix in kept_prefixes)
    ]
    if gone:
        store.delete_documents(gone)
        report.removed.extend(sorted(gone))
    store.prune_vectors()
    session.emit("saving")
    store.sync()
    report.seconds = time.monotonic() - started
    session.emit("done")
    return report


def _check_roots(paths: Sequence[PathArg]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        raise ConfigError("give the paths to index as a list, e.g. ['docs/']")
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


# -- one file ----------------------------------------------------------------


def _one_file(
    session: IngestSession,
    report: IngestReport,
    found: SourceFile,
    path: str,
    known: DocumentRecord | None,
    recipe: Recipe,
) -> None:
    same_settings = (
        known is not None and known.chunking_fingerprint == session.fingerprint
    )
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
    if session.is_unchanged(known, digest):
        report.unchanged += 1
        return
    try:
        document = load(found, relpath=path, options=recipe.loader)
    except LoadError as exc:
        report.skip(path, exc.reason)
        return
    (report.changed if known is not None else report.added).append(path)
    session.add(document, content_hash=digest, size=found.size, mtime_ns=found.mtime_ns)


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


def preview_files(
    paths: Sequence[PathArg],
    recipe: Recipe,
    *,
    index: PathArg = ".ragkit",
    store: Store | None = None,
    base: Path | None = None,
) -> IngestReport:
    """Say what an ingest of ``paths`` would change; nothing is loaded or written.

    No server is contacted, and a missing index counts as empty.

    Args:
        paths: Folders (or files) to index.
        recipe: What to include.
        index: The index directory (read when ``store`` is not given).
        store: An open store to compare with instead of the one at ``index``.
        base: Documents are named relative to this folder; by default the
            index's parent folder.

    Returns:
        A report with ``dry_run`` set: the lists say what would change.

    Raises:
        ConfigError: A path does not exist.
    """
    roots = _check_roots(paths)
    index_dir = Path(store.path) if store is not None and store.path else Path(index)
    base = index_dir.resolve().parent if base is None else base
    report = IngestReport(
        index=str(index_dir), model=recipe.embedding.model, dry_run=True
    )
    opened: Store | None = None
    if store is None:
        try:
            store = opened = Store.open(index_dir)
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
        if opened is not None:
            opened.close()
    report.seconds = time.monotonic() - started
    return report
