"""The index: documents, chunks and vectors in SQLite, searched via FAISS and FTS5."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from ragkit.errors import (
    ConfigError,
    IndexMismatchError,
    IndexNotFoundError,
    StoreError,
)
from ragkit.types import Chunk

from ._ann import (
    AUTO_HNSW_THRESHOLD,
    COMPACT_FRACTION,
    SEARCH_COMPACT_FRACTION,
    AnnIndex,
    StampError,
    load_index_file,
    needs_training,
    normalized,
    read_index_file,
    read_stamp,
    resolve_index_type,
    write_index_file,
)
from ._bm25 import count_terms, prepare_connection
from ._bm25 import search as search_bm25
from ._db import Database
from ._filter import ChunkFilter, compile_filter
from ._fts import query_terms
from ._lock import WriteLock
from ._manifest import INDEX_TYPES, Manifest
from ._metadata import decode_metadata, encode_metadata
from ._migrations import MIGRATIONS, migrate, schema_version
from ._records import DocumentRecord, IndexStats, VectorIndexStatus
from ._sync import RWLock

__all__ = ["Store"]

logger = logging.getLogger(__name__)

DB_FILE = "meta.sqlite"
FAISS_FILE = "vectors.faiss"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = "lock"

_IN_BATCH = 500
"""Parameters per ``IN (...)`` query, well under SQLite's limit."""
_BUILD_BLOCK = 4096
"""Vectors read from SQLite per block while building the FAISS index."""
_TRAIN_SAMPLE = 65_536
"""Vectors a scalar quantiser learns its ranges from."""
_FILTER_CACHE_SIZE = 32
"""Filters whose allow-lists :meth:`Store.select_ids` remembers."""
_SPOT_CHECKS = 8
"""Vectors of a loaded ``vectors.faiss`` compared with SQLite's."""

_CHUNK_COLUMNS = (
    'c.id, c.chunk_id, d.path, c.text, c.start, c."end", c.line_start, '
    "c.line_end, c.page, c.heading_path, c.metadata"
)
_CHUNK_FROM = "chunks c JOIN documents d ON d.id = c.document_id"
_DOCUMENT_SELECT = (
    "SELECT d.path, d.content_hash, d.size, d.mtime_ns, d.kind, d.title, "
    "d.metadata, (SELECT COUNT(*) FROM chunks c WHERE c.document_id = d.id), "
    "d.chunking_fingerprint, d.indexed_at FROM documents d"
)

VectorItems = Mapping[str, npt.ArrayLike] | Iterable[tuple[str, npt.ArrayLike]]


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _batches(items: Sequence[object], size: int = _IN_BATCH) -> Iterator[list[object]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _base_model(name: str) -> str:
    # Ollama treats "model" and "model:latest" as one model.
    return name.removesuffix(":latest")


def _row_to_chunk(row: Sequence[Any]) -> tuple[int, Chunk]:
    (
        rowid,
        chunk_id,
        path,
        text,
        start,
        end,
        line_start,
        line_end,
        page,
        heads,
        meta,
    ) = row
    return int(rowid), Chunk(
        id=chunk_id,
        document=path,
        text=text,
        start=start,
        end=end,
        line_start=line_start,
        line_end=line_end,
        page=page,
        heading_path=tuple(json.loads(heads)),
        metadata=decode_metadata(meta),
    )


def _row_to_record(row: Sequence[Any]) -> DocumentRecord:
    path, content_hash, size, mtime_ns, kind, title, meta, count, fingerprint, at = row
    return DocumentRecord(
        path=path,
        content_hash=content_hash,
        size=size,
        mtime_ns=mtime_ns,
        kind=kind,
        title=title,
        metadata=decode_metadata(meta),
        chunk_count=count,
        chunking_fingerprint=fingerprint,
        indexed_at=at,
    )


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    """An index: the documents, chunks and vectors one embedding model produced.

    ``meta.sqlite`` is the truth; ``vectors.faiss`` is derived from it and
    rebuilt whenever its stamp does not match the database's generation;
    ``manifest.json`` says what produced the vectors. Open one with
    :meth:`open`, :meth:`create` or :meth:`memory`, and close it (or use it
    as a context manager).

    Reads are safe from many threads at once, also while one thread writes;
    each read sees one committed state. Only a store opened for writing can
    change the index, and only one such store exists per index at a time
    (``fcntl.flock`` on ``<index>/lock``).

    Attributes:
        path: The index directory, or None for an in-memory index.
    """

    def __init__(
        self,
        *,
        path: Path | None,
        db: Database,
        manifest: Manifest,
        lock: WriteLock | None,
        writable: bool,
        index_type: str | None,
        hnsw_threshold: int,
    ) -> None:
        self.path = path
        self._db = db
        self._manifest = manifest
        self._lock = lock
        self._writable = writable
        self._index_type = index_type
        self._threshold = hnsw_threshold
        self._closed = False
        self._ann: AnnIndex | None = None
        self._ann_lock = RWLock()
        self._build_mutex = threading.Lock()
        self._filter_lock = threading.Lock()
        self._filter_cache: OrderedDict[ChunkFilter, tuple[int, np.ndarray]] = (
            OrderedDict()
        )

    # -- opening and closing -------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        manifest: Manifest,
        *,
        overwrite: bool = False,
        wait: float = 0.0,
        hnsw_threshold: int = AUTO_HNSW_THRESHOLD,
    ) -> Store:
        """Create an empty index and open it for writing.

        Args:
            path: The index directory; created if missing.
            manifest: What will produce the vectors.
            overwrite: Replace an index already at ``path`` (``--rebuild``).
            wait: Seconds to wait for another writer to finish.
            hnsw_threshold: Chunk count from which ``auto`` uses HNSW.

        Returns:
            The store, open for writing.

        Raises:
            StoreError: An index exists and ``overwrite`` is false, or the
                directory cannot be written.
            IndexLockedError: Another writer holds the index.
        """
        root = Path(path)
        if (root / DB_FILE).exists() and not overwrite:
            raise StoreError(
                f"an index already exists at {root}; open it, or rebuild it "
                "with `ragkit index <folder> --rebuild`"
            )
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the index folder {root}: {exc}") from exc
        lock = WriteLock(root / LOCK_FILE)
        lock.acquire(wait=wait)
        try:
            # Derived and old files go first, the database last: a run killed
            # half-way leaves no database, which reads as "no index".
            names = (FAISS_FILE, MANIFEST_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm")
            for name in (*names, DB_FILE):
                (root / name).unlink(missing_ok=True)
            _write_text_atomic(root / MANIFEST_FILE, manifest.to_json())
            db = Database(root / DB_FILE, prepare_connection)
        except OSError as exc:
            lock.release()
            raise StoreError(f"cannot write the index at {root}: {exc}") from exc
        except BaseException:
            lock.release()
            raise
        return cls._finish_open(root, db, manifest, lock, True, None, hnsw_threshold)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        writable: bool = False,
        wait: float = 0.0,
        index_type: str | None = None,
        hnsw_threshold: int = AUTO_HNSW_THRESHOLD,
    ) -> Store:
        """Open an existing index.

        Args:
            path: The index directory.
            writable: Take the write lock so the store can change the index.
            wait: Seconds to wait for another writer to finish.
            index_type: Search with this index type instead of the manifest's.
            hnsw_threshold: Chunk count from which ``auto`` uses HNSW.

        Returns:
            The store.

        Raises:
            IndexNotFoundError: There is no index at ``path``.
            StoreError: The index is unreadable or a newer ragkit wrote it.
            IndexMismatchError: An old, unsupported format wrote it.
            IndexLockedError: ``writable`` and another writer holds the index.
        """
        root = Path(path)
        if not (root / DB_FILE).is_file():
            raise IndexNotFoundError(
                f"no index at {root}; run `ragkit index <folder>` first"
            )
        manifest = cls._read_manifest(root)
        if index_type is not None and index_type not in INDEX_TYPES:
            raise ConfigError(
                f"unknown index type {index_type!r}; "
                f"use one of {', '.join(INDEX_TYPES)}"
            )
        lock = None
        if writable:
            lock = WriteLock(root / LOCK_FILE)
            lock.acquire(wait=wait)
        try:
            db = Database(root / DB_FILE, prepare_connection)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls._finish_open(
            root, db, manifest, lock, writable, index_type, hnsw_threshold
        )

    @classmethod
    def memory(
        cls, manifest: Manifest, *, hnsw_threshold: int = AUTO_HNSW_THRESHOLD
    ) -> Store:
        """Create an index that lives in memory only, for tests and short-lived apps.

        Args:
            manifest: What will produce the vectors.
            hnsw_threshold: Chunk count from which ``auto`` uses HNSW.

        Returns:
            The store, open for writing; nothing is written to disk.
        """
        db = Database(None, prepare_connection)
        return cls._finish_open(None, db, manifest, None, True, None, hnsw_threshold)

    @classmethod
    def _finish_open(
        cls,
        root: Path | None,
        db: Database,
        manifest: Manifest,
        lock: WriteLock | None,
        writable: bool,
        index_type: str | None,
        hnsw_threshold: int,
    ) -> Store:
        try:
            with db.raw() as conn:
                version = schema_version(conn)
                if version > len(MIGRATIONS):
                    raise StoreError(
                        f"the index at {root} uses database schema {version}, newer "
                        f"than this ragkit understands ({len(MIGRATIONS)}); upgrade "
                        "ragkit to read it"
                    )
                if version == 0 and not writable:
                    # A run killed between creating the file and committing
                    # its tables leaves this; it holds nothing yet.
                    raise IndexNotFoundError(
                        f"no index at {root}; run `ragkit index <folder>` first"
                    )
                # A reader takes an older schema as it is: migration 2 only
                # added term_stats, which lexical search does without (see
                # _migrations). A writer upgrades it.
                if version < len(MIGRATIONS) and writable:
                    migrate(conn)
        except BaseException:
            db.close()
            if lock is not None:
                lock.release()
            raise
        return cls(
            path=root,
            db=db,
            manifest=manifest,
            lock=lock,
            writable=writable,
            index_type=index_type,
            hnsw_threshold=hnsw_threshold,
        )

    @staticmethod
    def _read_manifest(root: Path) -> Manifest:
        try:
            text = (root / MANIFEST_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise StoreError(
                f"the index at {root} has no {MANIFEST_FILE}; rebuild it with "
                "`ragkit index <folder> --rebuild`"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read {root / MANIFEST_FILE}: {exc}") from exc
        try:
            return Manifest.from_json(text)
        except StoreError as exc:
            raise type(exc)(f"index at {root}: {exc}") from exc

    def close(self) -> None:
        """Close the database and give up the write lock; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._db.close()
        self._ann = None
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.path if self.path is not None else "memory"
        mode = "closed" if self._closed else ("writable" if self._writable else "read")
        return f"<Store {where} ({mode})>"

    # -- what the index is ---------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        """What produced the index's vectors."""
        return self._manifest

    @property
    def writable(self) -> bool:
        """True when this store holds the write lock (or lives in memory)."""
        return self._writable

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    def check_compatible(
        self, *, embed_model: str | None = None, dimension: int | None = None
    ) -> None:
        """Refuse to go on with another embedding model or dimension.

        Args:
            embed_model: The model about to embed queries or documents.
            dimension: The dimension of its vectors.

        Raises:
            IndexMismatchError: Either differs from what built the index.
        """
        have = self._manifest
        model_differs = embed_model is not None and _base_model(
            embed_model
        ) != _base_model(have.embed_model)
        if model_differs or (dimension is not None and dimension != have.dimension):
            where = self.path if self.path is not None else "in memory"
            raise IndexMismatchError(
                f"the index at {where} was built with embedding model "
                f"{have.embed_model!r} (dimension {have.dimension}), but this run "
                f"uses {embed_model or have.embed_model!r}"
                f" (dimension {dimension or have.dimension}); rebuild it with "
                "`ragkit index <folder> --rebuild`, or use another `--index` path"
            )

    def generation(self) -> int:
        """Return the counter of committed changes to the chunks."""
        self._check_open()
        with self._db.read() as db:
            return self._generation(db)

    # -- writing -------------------------------------------------------------

    def put_vectors(self, items: VectorItems) -> int:
        """Add embeddings to the cache in one transaction.

        Args:
            items: ``(text_hash, vector)`` pairs (or a mapping); the hash is
                of the exact text that was embedded, prefix included. A hash
                already stored keeps its vector.

        Returns:
            How many vectors were new.

        Raises:
            StoreError: The store is read-only, or a vector has the wrong
                dimension or non-finite values.
        """
        self._check_writable()
        rows = self._vector_rows(items)
        with self._db.write() as db:
            return self._insert_vectors(db, rows)

    def replace_document(
        self,
        record: DocumentRecord,
        chunks: Sequence[Chunk],
        text_hashes: Sequence[str],
    ) -> list[int]:
        """Write a document with all its chunks, replacing any earlier version.

        One transaction: the old chunks (and their FTS rows) go, the new
        document row and chunks come in, so a reader or a killed run never
        sees half a document.

        Args:
            record: The document; ``chunk_count`` and ``indexed_at`` are set
                by the store.
            chunks: Its chunks in reading order (their ordinal is their
                position); each must name ``record.path`` as its document.
            text_hashes: For each chunk, the hash its vector is cached under
                (see :meth:`put_vectors`).

        Returns:
            The new chunks' rowids, the ids FAISS returns.

        Raises:
            ConfigError: Metadata has a key or value type that is not allowed.
            StoreError: A vector is not cached yet, a chunk id belongs to
                another document, or the arguments do not line up.
        """
        return self.replace_documents([(record, chunks, text_hashes)])[0]

    def replace_documents(
        self,
        documents: Iterable[DocumentWrite],
        *,
        vectors: VectorItems = (),
    ) -> list[list[int]]:
        """Write vectors and whole documents together, in one transaction.

        The same as :meth:`put_vectors` followed by :meth:`replace_document`
        for each document, but committed at once: an ingest run writes what
        one embedding batch completed this way, which costs a fraction of
        one transaction per document (SQLite's B-trees and the FTS5 segments
        are written once per commit). Each document is still all-or-nothing.

        Args:
            documents: ``(record, chunks, text_hashes)`` triples, as the
                arguments of :meth:`replace_document`.
            vectors: Embeddings to cache first (they may be the ones the
                documents need).

        Returns:
            The new chunks' rowids, one list per document.

        Raises:
            ConfigError: Metadata has a key or value type that is not allowed.
            StoreError: As for :meth:`put_vectors` and :meth:`replace_document`;
                nothing is written then.
        """
        self._check_writable()
        vector_rows = self._vector_rows(vectors)
        prepared = [
            _prepare_document(record, chunks, hashes)
            for record, chunks, hashes in documents
        ]
        want_vectors = self._ann is not None
        all_rowids: list[list[int]] = []
        added: list[int] = []
        added_hashes: list[str] = []
        removed_parts: list[np.ndarray] = []
        with self._db.write() as db:
            if vector_rows:
                self._insert_vectors(db, vector_rows)
            if not prepared:
                return []
            searchable: list[tuple[int, str, str]] = []
            for document in prepared:
                rowids, removed = self._insert_document(db, document)
                all_rowids.append(rowids)
                added.extend(rowids)
                added_hashes.extend(document.text_hashes)
                removed_parts.append(removed)
                searchable.extend(
                    (rowid, row[2], row[8])
                    for rowid, row in zip(rowids, document.rows, strict=True)
                )
            self._insert_searchable(db, searchable)
            old, new = self._bump(db)
            found = self._vectors_for(db, added_hashes) if want_vectors else None
        removed_all = (
            np.concatenate(removed_parts) if removed_parts else np.empty(0, np.int64)
        )
        self._update_ann_in_place(old, new, removed_all, added, found, added_hashes)
        return all_rowids

    def _vector_rows(self, items: VectorItems) -> list[tuple[str, bytes]]:
        pairs = items.items() if isinstance(items, Mapping) else items
        dim = self._manifest.dimension
        rows: list[tuple[str, bytes]] = []
        for text_hash, vector in pairs:
            array = np.asarray(vector, dtype="<f4")
            if not isinstance(text_hash, str) or not text_hash:
                raise StoreError("vector cache keys must be non-empty text hashes")
            if array.shape != (dim,):
                raise IndexMismatchError(
                    f"a vector for {text_hash} has shape {array.shape}, but the "
                    f"index holds vectors of dimension {dim}"
                )
            if not np.isfinite(array).all():
                raise StoreError(f"the vector for {text_hash} holds NaN or infinity")
            rows.append((text_hash, array.tobytes()))
        return rows

    @staticmethod
    def _insert_vectors(db: sqlite3.Connection, rows: list[tuple[str, bytes]]) -> int:
        before = db.total_changes
        db.executemany(
            "INSERT INTO vectors (text_hash, vector) VALUES (?, ?) "
            "ON CONFLICT (text_hash) DO NOTHING",
            rows,
        )
        return db.total_changes - before

    def _insert_document(
        self, db: sqlite3.Connection, document: _PreparedDocument
    ) -> tuple[list[int], np.ndarray]:
        record = document.record
        self._require_vectors(db, set(document.text_hashes), record.path)
        self._refuse_foreign_chunk_ids(db, document.chunk_ids, record.path)
        removed = self._delete_documents(db, [record.path])
        cursor = db.execute(
            "INSERT INTO documents (path, content_hash, size, mtime_ns, kind, "
            "title, metadata, chunking_fingerprint, indexed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.path,
                record.content_hash,
                record.size,
                record.mtime_ns,
                record.kind,
                record.title,
                document.metadata,
                record.chunking_fingerprint,
                _utc_now(),
            ),
        )
        document_id = cursor.lastrowid
        rowids = []
        for row in document.rows:
            cursor = db.execute(
                "INSERT INTO chunks (chunk_id, document_id, ordinal, text, start, "
                '"end", line_start, line_end, page, heading_path, metadata, '
                "text_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row[0], document_id, *row[1:]),
            )
            rowids.append(int(cursor.lastrowid or 0))
        return rowids, removed

    @staticmethod
    def _insert_searchable(
        db: sqlite3.Connection, rows: list[tuple[int, str, str]]
    ) -> None:
        """Add ``(rowid, text, heading_path)`` rows to the FTS index and its bounds."""
        db.executemany(
            "INSERT INTO chunks_fts (rowid, text, heading_path) VALUES (?, ?, ?)",
            rows,
        )
        count_terms(db, rows, sign=1)

    def delete_documents(self, paths: Iterable[str]) -> int:
        """Remove documents with their chunks; paths not in the index are ignored.

        Their cached vectors stay until :meth:`prune_vectors`.

        Returns:
            How many documents were removed.
        """
        self._check_writable()
        wanted = list(dict.fromkeys(paths))
        with self._db.write() as db:
            before = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            removed = self._delete_documents(db, wanted)
            gone = before - db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            old = new = -1
            if gone:
                old, new = self._bump(db)
        if gone:
            self._update_ann_in_place(old, new, removed, [], None, ())
        return int(gone)

    def prune_vectors(self) -> int:
        """Drop cached vectors that no chunk uses any more (end of an ingest run).

        Returns:
            How many vectors were dropped.
        """
        self._check_writable()
        with self._db.write() as db:
            cursor = db.execute(
                "DELETE FROM vectors WHERE NOT EXISTS "
                "(SELECT 1 FROM chunks c WHERE c.text_hash = vectors.text_hash)"
            )
            return int(cursor.rowcount)

    def set_manifest(self, manifest: Manifest) -> None:
        """Replace the manifest (atomically on disk).

        Raises:
            IndexMismatchError: The index holds vectors and the new manifest
                names another embedding model or dimension.
        """
        self._check_writable()
        with self._db.read() as db:
            has_vectors = db.execute("SELECT 1 FROM vectors LIMIT 1").fetchone()
        if has_vectors:
            self.check_compatible(
                embed_model=manifest.embed_model, dimension=manifest.dimension
            )
        if self.path is not None:
            try:
                _write_text_atomic(self.path / MANIFEST_FILE, manifest.to_json())
            except OSError as exc:
                raise StoreError(
                    f"cannot write {self.path / MANIFEST_FILE}: {exc}"
                ) from exc
        self._manifest = manifest

    def sync(self) -> None:
        """Bring the FAISS index, and ``vectors.faiss``, up to date with SQLite.

        Call it at the end of an ingest run so the next search has nothing to
        do. An index a few changes behind is brought up to date from SQLite
        (additions added, deletions removed, or kept as tombstones in an HNSW
        graph); it is rebuilt only when it cannot be, or when more than
        ``COMPACT_FRACTION`` of a graph is tombstones (compaction). Searches
        do the same lazily, but compact only past ``SEARCH_COMPACT_FRACTION``.
        """
        ann = self._current_ann(compact_at=COMPACT_FRACTION)
        if self.path is None:
            return
        target = self.path / FAISS_FILE
        if read_stamp(target) == (ann.generation, ann.kind):
            return
        with self._ann_lock.shared():
            self._save(ann)

    def vector_index_status(self) -> VectorIndexStatus:
        """Say how the FAISS index compares with SQLite, without changing it.

        On disk this describes ``vectors.faiss`` (read and checked exactly as
        a search would, but nothing is built or written); in memory, the
        index the store holds.

        Returns:
            The status; ``stale`` means the next :meth:`sync` or search has
            work to do, ``rebuild`` that the work is a full build.
        """
        self._check_open()
        ann: AnnIndex | None = None
        problem: str | None = None
        if self.path is not None:
            try:
                ann = load_index_file(self.path / FAISS_FILE)
            except FileNotFoundError:
                problem = f"{FAISS_FILE} is missing"
            except StampError as exc:
                problem = f"{FAISS_FILE} is unusable: {exc}"
            return self._status(ann, problem, verify=True)
        with self._build_mutex:
            ann = self._ann
            return self._status(ann, None if ann else "not built yet", verify=False)

    def _status(
        self, ann: AnnIndex | None, problem: str | None, *, verify: bool
    ) -> VectorIndexStatus:
        with self._db.read() as db:
            if ann is None:
                generation = self._generation(db)
                count = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
                return VectorIndexStatus(
                    kind=None,
                    built_generation=None,
                    current_generation=generation,
                    stale=True,
                    tombstones=0,
                    size=0,
                    pending=int(count),
                    rebuild=True,
                    reason=problem or "",
                )
            delta = self._delta(db, ann, verify=verify, with_vectors=False)
        share = delta.dead_fraction(ann)
        reason = delta.problem or ""
        if not reason and share > COMPACT_FRACTION:
            reason = (
                f"{len(delta.gone)} of its {ann.ntotal + len(delta.added)} "
                f"entries are tombstones, {share:.0%}"
            )
        return VectorIndexStatus(
            kind=ann.kind,
            built_generation=ann.generation,
            current_generation=delta.generation,
            stale=delta.problem is not None or ann.generation != delta.generation,
            tombstones=len(delta.gone),
            size=ann.ntotal,
            pending=len(delta.added),
            rebuild=bool(reason),
            reason=reason,
        )

    # -- searching -----------------------------------------------------------

    def search_vectors(
        self, query: npt.ArrayLike, k: int, *, ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Find the chunks whose vectors are closest to ``query``.

        Args:
            query: The query's embedding (any length; it is normalised).
            k: How many results to return.
            ids: Only these chunk rowids may be returned (see
                :meth:`select_ids`); k results still come back when at least
                k chunks pass.

        Returns:
            ``(rowid, cosine)`` pairs, best first.

        Raises:
            IndexMismatchError: The query has another dimension than the index.
            ConfigError: ``k`` is not positive or the query is not finite.
        """
        self._check_open()
        if k < 1:
            raise ConfigError(f"k must be at least 1, not {k}")
        vector = np.asarray(query, dtype=np.float32)
        if vector.shape != (self._manifest.dimension,):
            raise IndexMismatchError(
                f"the query vector has shape {vector.shape}, but the index holds "
                f"vectors of dimension {self._manifest.dimension}"
            )
        if not np.isfinite(vector).all():
            raise ConfigError("the query vector holds NaN or infinity")
        ann = self._current_ann()
        with self._ann_lock.shared():
            return ann.search(vector, k, ids)

    def search_lexical(
        self, query: str, k: int, *, ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Find chunks by their words (FTS5 BM25, Porter-stemmed).

        Args:
            query: Text as the user typed it; FTS5 syntax in it is searched as
                plain words, never obeyed.
            k: How many results to return.
            ids: Only these chunk rowids may be returned.

        Returns:
            ``(rowid, score)`` pairs, best first; the score is BM25 turned so
            that higher is better. Empty when the query has no words.
        """
        self._check_open()
        if k < 1:
            raise ConfigError(f"k must be at least 1, not {k}")
        terms = query_terms(query)
        if not terms or (ids is not None and len(ids) == 0):
            return []
        allowed = None if ids is None else np.unique(np.asarray(ids, dtype=np.int64))
        with self._db.read() as db:
            return search_bm25(db, terms, k, allowed)

    def select_ids(self, flt: ChunkFilter) -> np.ndarray | None:
        """Return the rowids of the chunks a filter lets through.

        Args:
            flt: The filter.

        Returns:
            Sorted int64 rowids (read-only; the same filter at the same
            generation returns the same array from a small cache), or None
            when the filter is empty (all pass).
        """
        self._check_open()
        if flt.is_empty:
            return None
        # Metadata conditions parse each chunk's JSON, so an app repeating
        # a filter between writes gets the answer from the cache.
        with self._filter_lock:
            cached = self._filter_cache.get(flt)
        if cached is not None and cached[0] == self.generation():
            return cached[1]
        condition, params = compile_filter(flt)
        sql = f"SELECT c.id FROM chunks c WHERE {condition} ORDER BY c.id"
        with self._db.read() as db:
            generation = self._generation(db)
            rows = db.execute(sql, params).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        ids.setflags(write=False)
        with self._filter_lock:
            self._filter_cache[flt] = (generation, ids)
            self._filter_cache.move_to_end(flt)
            while len(self._filter_cache) > _FILTER_CACHE_SIZE:
                self._filter_cache.popitem(last=False)
        return ids

    # -- reading -------------------------------------------------------------

    def chunk_map(self, rowids: Iterable[int]) -> dict[int, Chunk]:
        """Return chunks by rowid, in the order given, read in one snapshot.

        Rowids that no longer exist (a writer replaced the document since
        the search) are left out, so align results by key, not position.
        """
        self._check_open()
        wanted = [int(r) for r in rowids]
        found: dict[int, Chunk] = {}
        with self._db.read() as db:
            for batch in _batches(wanted):
                sql = (
                    f"SELECT {_CHUNK_COLUMNS} FROM {_CHUNK_FROM} "
                    f"WHERE c.id IN ({_marks(len(batch))})"
                )
                for row in db.execute(sql, batch):
                    rowid, chunk = _row_to_chunk(row)
                    found[rowid] = chunk
        return {r: found[r] for r in wanted if r in found}

    def chunks(self, rowids: Iterable[int]) -> list[Chunk]:
        """Return the chunks with these rowids, in the order given.

        Rowids that no longer exist are left out; use :meth:`chunk_map` to
        keep results aligned with their scores.
        """
        return list(self.chunk_map(rowids).values())

    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        """Return the chunk with this chunk id, or None."""
        self._check_open()
        sql = f"SELECT {_CHUNK_COLUMNS} FROM {_CHUNK_FROM} WHERE c.chunk_id = ?"
        with self._db.read() as db:
            row = db.execute(sql, (chunk_id,)).fetchone()
        return None if row is None else _row_to_chunk(row)[1]

    def neighbours(self, rowid: int, *, before: int = 1, after: int = 1) -> list[Chunk]:
        """Return a chunk with its neighbours in the same document, in order.

        Args:
            rowid: The chunk in the middle.
            before: How many chunks before it to include.
            after: How many chunks after it to include.

        Returns:
            Up to ``before + 1 + after`` chunks by ordinal, the chunk itself
            included; empty when the rowid does not exist.
        """
        self._check_open()
        sql = (
            f"SELECT {_CHUNK_COLUMNS} FROM {_CHUNK_FROM} "
            "JOIN chunks me ON me.document_id = c.document_id "
            "WHERE me.id = ? AND c.ordinal BETWEEN me.ordinal - ? AND me.ordinal + ? "
            "ORDER BY c.ordinal"
        )
        with self._db.read() as db:
            rows = db.execute(sql, (int(rowid), max(before, 0), max(after, 0)))
            return [_row_to_chunk(row)[1] for row in rows]

    def documents(self) -> Iterator[DocumentRecord]:
        """Iterate over every document, by path, as of one snapshot."""
        self._check_open()
        with self._db.read() as db:
            rows = db.execute(f"{_DOCUMENT_SELECT} ORDER BY d.path").fetchall()
        return iter([_row_to_record(row) for row in rows])

    def document(self, path: str) -> DocumentRecord | None:
        """Return the document at ``path``, or None."""
        self._check_open()
        with self._db.read() as db:
            row = db.execute(f"{_DOCUMENT_SELECT} WHERE d.path = ?", (path,)).fetchone()
        return None if row is None else _row_to_record(row)

    def cached_vectors(self, text_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Return the cached vectors for those hashes that have one."""
        self._check_open()
        with self._db.read() as db:
            return self._vectors_for(db, list(dict.fromkeys(text_hashes)))

    def has_vectors(self, text_hashes: Iterable[str]) -> set[str]:
        """Return which of these hashes have a cached vector."""
        self._check_open()
        with self._db.read() as db:
            return self._present(db, list(dict.fromkeys(text_hashes)))

    def stats(self) -> IndexStats:
        """Return counts, sizes and the index type in use."""
        self._check_open()
        with self._db.read() as db:
            documents = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            vectors = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            generation = self._generation(db)
            updated_at = db.execute(
                "SELECT value FROM meta WHERE key = 'updated_at'"
            ).fetchone()[0]
        sizes: dict[str, int] = {}
        if self.path is not None:
            names = (DB_FILE, f"{DB_FILE}-wal", FAISS_FILE, MANIFEST_FILE)
            for name in names:
                try:
                    sizes[name] = (self.path / name).stat().st_size
                except OSError:
                    continue
        return IndexStats(
            path=str(self.path) if self.path is not None else None,
            documents=documents,
            chunks=chunks,
            vectors=vectors,
            dimension=self._manifest.dimension,
            embed_model=self._manifest.embed_model,
            index_type=resolve_index_type(
                self._requested_type, chunks, threshold=self._threshold
            ),
            generation=generation,
            updated_at=updated_at,
            file_sizes=sizes,
        )

    # -- internals -----------------------------------------------------------

    @property
    def _requested_type(self) -> str:
        return self._index_type or self._manifest.index_type

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("index is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if not self._writable:
            raise StoreError(
                f"the index at {self.path} was opened read-only; open it with "
                "writable=True to change it"
            )

    @staticmethod
    def _generation(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    @staticmethod
    def _bump(db: sqlite3.Connection) -> tuple[int, int]:
        # Not UPDATE ... RETURNING: that needs SQLite 3.35, newer than some
        # distributions' Python ships with.
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
        new = Store._generation(db)
        db.execute("UPDATE meta SET value = ? WHERE key = 'updated_at'", (_utc_now(),))
        return int(new) - 1, int(new)

    @staticmethod
    def _present(db: sqlite3.Connection, hashes: list[str]) -> set[str]:
        found: set[str] = set()
        for batch in _batches(hashes):
            marks = _marks(len(batch))
            sql = f"SELECT text_hash FROM vectors WHERE text_hash IN ({marks})"
            found.update(r[0] for r in db.execute(sql, batch))
        return found

    @classmethod
    def _require_vectors(
        cls, db: sqlite3.Connection, hashes: set[str], path: str
    ) -> None:
        wanted = sorted(hashes)
        found = cls._present(db, wanted)
        missing = [h for h in wanted if h not in found]
        if missing:
            shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
            raise StoreError(
                f"{len(missing)} chunk vector(s) of {path} are not cached ({shown}); "
                "put_vectors() must come before replace_document()"
            )

    @staticmethod
    def _refuse_foreign_chunk_ids(
        db: sqlite3.Connection, ids: list[str], path: str
    ) -> None:
        for batch in _batches(ids):
            sql = (
                f"SELECT c.chunk_id, d.path FROM {_CHUNK_FROM} "
                f"WHERE c.chunk_id IN ({_marks(len(batch))}) AND d.path != ? LIMIT 1"
            )
            row = db.execute(sql, [*batch, path]).fetchone()
            if row is not None:
                raise StoreError(
                    f"chunk id {row[0]!r} of {path} is already used by {row[1]!r}; "
                    "chunk ids must be unique across the index"
                )

    @staticmethod
    def _delete_documents(db: sqlite3.Connection, paths: list[str]) -> np.ndarray:
        removed: list[int] = []
        for batch in _batches(paths):
            marks = _marks(len(batch))
            owned = f"SELECT id FROM documents WHERE path IN ({marks})"
            leaving = db.execute(
                "SELECT id, text, heading_path FROM chunks "
                f"WHERE document_id IN ({owned})",
                batch,
            ).fetchall()
            removed.extend(r[0] for r in leaving)
            count_terms(db, leaving, sign=-1)
            # Chunks go explicitly (not only by cascade) so the FTS trigger
            # sees every row it has to remove.
            db.execute(f"DELETE FROM chunks WHERE document_id IN ({owned})", batch)
            db.execute(f"DELETE FROM documents WHERE path IN ({marks})", batch)
        return np.asarray(removed, dtype=np.int64)

    def _vectors_for(
        self, db: sqlite3.Connection, hashes: list[str]
    ) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for batch in _batches(hashes):
            sql = (
                "SELECT text_hash, vector FROM vectors "
                f"WHERE text_hash IN ({_marks(len(batch))})"
            )
            for text_hash, blob in db.execute(sql, batch):
                out[text_hash] = self._decode_vector(blob)
        return out

    def _decode_vector(self, blob: bytes) -> np.ndarray:
        vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        if vector.shape != (self._manifest.dimension,):
            raise StoreError(
                f"a cached vector has {vector.size} values, but the index "
                f"dimension is {self._manifest.dimension}; the database is damaged"
            )
        return vector

    # -- the FAISS index -----------------------------------------------------

    def _wanted_kind(self, count: int) -> str:
        return resolve_index_type(
            self._requested_type, count, threshold=self._threshold
        )

    def _current_ann(self, *, compact_at: float = SEARCH_COMPACT_FRACTION) -> AnnIndex:
        """The FAISS index at the database's current generation.

        Brought up to date from SQLite when it is behind, rebuilt only when it
        cannot be, or when more than ``compact_at`` of it is tombstones.
        """
        self._check_open()
        ann = self._ann
        if ann is not None and (
            ann.generation == self.generation()
            and ann.kind == self._wanted_kind(ann.live)
        ):
            if ann.dead_fraction <= compact_at:
                return ann
            # Only a compaction is due. A search leaves it to the one thread
            # already running it and goes on with the tombstones meanwhile.
            if compact_at >= SEARCH_COMPACT_FRACTION:
                if not self._build_mutex.acquire(blocking=False):
                    return ann
            else:
                self._build_mutex.acquire()
        else:
            self._build_mutex.acquire()
        try:
            ann = self._refresh(compact_at)
            self._ann = ann
            return ann
        finally:
            self._build_mutex.release()

    def _refresh(self, compact_at: float) -> AnnIndex:
        """Catch the loaded index up, else the file, else rebuild (mutex held)."""
        ann = self._ann
        if ann is not None:
            with self._db.read() as db:
                delta = self._delta(db, ann, verify=False, with_vectors=True)
            if delta.problem is None:
                if delta.dead_fraction(ann) > compact_at:
                    logger.info(
                        "compacting the %s index (%d of %d entries are tombstones)",
                        ann.kind,
                        len(delta.gone),
                        ann.ntotal + len(delta.added),
                    )
                    return self._build()
                with self._ann_lock.exclusive():
                    self._apply(ann, delta)
                return ann
            logger.info("the loaded FAISS index is unusable: %s", delta.problem)
        return self._load(compact_at) or self._build()

    def _load(self, compact_at: float) -> AnnIndex | None:
        """Read ``vectors.faiss``, check it against SQLite, and catch it up."""
        if self.path is None:
            return None
        target = self.path / FAISS_FILE
        ann = read_index_file(target)
        if ann is None:
            return None
        with self._db.read() as db:
            delta = self._delta(db, ann, verify=True, with_vectors=True)
        if delta.problem is not None:
            logger.info("%s: %s; rebuilding it", target, delta.problem)
            return None
        if delta.dead_fraction(ann) > compact_at:
            logger.info(
                "%s: %d of %d entries are tombstones; compacting it",
                target,
                len(delta.gone),
                ann.ntotal + len(delta.added),
            )
            return None
        self._apply(ann, delta)
        return ann

    def _delta(
        self,
        db: sqlite3.Connection,
        ann: AnnIndex,
        *,
        verify: bool,
        with_vectors: bool,
    ) -> _Delta:
        """Compare a FAISS index with one SQLite snapshot.

        Chunk rowids are AUTOINCREMENT and never reused, so rowids above the
        index's largest are the additions since it was built, and rowids it
        holds that ``chunks`` lacks are the deletions. Anything else (an
        older rowid it lacks, a vector that differs, a newer stamp) means the
        index was not derived from this database.
        """
        generation = self._generation(db)
        rows = db.execute("SELECT id FROM chunks ORDER BY id").fetchall()
        chunk_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        wanted = self._wanted_kind(len(chunk_ids))
        held = ann.ids()
        top = int(held[-1]) if len(held) else 0
        split = int(np.searchsorted(chunk_ids, top, side="right"))
        kept, added = chunk_ids[:split], chunk_ids[split:]
        gone = np.setdiff1d(held, kept, assume_unique=True)

        def refused(problem: str) -> _Delta:
            return _Delta(generation, wanted, gone, added, None, problem)

        dim = self._manifest.dimension
        if ann.dimension != dim:
            return refused(f"it holds {ann.dimension}-d vectors, the index {dim}-d")
        if ann.kind != wanted:
            return refused(f"it is a {ann.kind} index where {wanted} is wanted")
        if ann.generation > generation:
            return refused(
                f"it is stamped with generation {ann.generation}, newer than "
                f"the database's {generation}"
            )
        if len(kept) + len(gone) != len(held):
            lacking = len(kept) - (len(held) - len(gone))
            return refused(f"it lacks {lacking} chunk(s) older than its newest")
        if len(added) and not ann.is_trained:
            return refused("it is an untrained quantiser")
        if verify and len(kept) and not self._vectors_match(db, ann, kept):
            return refused("its vectors differ from the database's")
        vectors = None
        if with_vectors and len(added):
            found = db.execute(
                "SELECT c.id, v.vector FROM chunks c JOIN vectors v "
                "ON v.text_hash = c.text_hash WHERE c.id > ? ORDER BY c.id",
                (top,),
            ).fetchall()
            added = np.fromiter((r[0] for r in found), np.int64, count=len(found))
            vectors = self._stack([r[1] for r in found], dim)
        return _Delta(generation, wanted, gone, added, vectors, None)

    def _vectors_match(
        self, db: sqlite3.Connection, ann: AnnIndex, kept: np.ndarray
    ) -> bool:
        """Spot-check stored vectors against SQLite's, the newest rowid included.

        A file next to a database restored from an older copy can hold rowids
        that SQLite has since given to other chunks; their vectors differ.
        """
        slots = np.unique(np.linspace(0, len(kept) - 1, _SPOT_CHECKS).astype(int))
        picks = kept[slots]
        sql = (
            "SELECT c.id, v.vector FROM chunks c JOIN vectors v "
            f"ON v.text_hash = c.text_hash WHERE c.id IN ({_marks(len(picks))})"
        )
        blobs = dict(db.execute(sql, picks.tolist()).fetchall())
        if len(blobs) != len(picks):
            return False
        expected = normalized(
            self._stack([blobs[int(i)] for i in picks], self._manifest.dimension)
        )
        stored = ann.reconstruct(picks)
        # Quantised types give back approximations of the unit vectors.
        tolerance = 0.1 if needs_training(ann.kind) else 1e-3
        agreement = np.einsum("ij,ij->i", expected, stored)
        return bool(np.all(np.abs(1.0 - agreement) <= tolerance))

    @staticmethod
    def _apply(ann: AnnIndex, delta: _Delta) -> None:
        ann.delete(delta.gone)
        if len(delta.added) and delta.vectors is not None:
            ann.add(delta.added, delta.vectors)
        ann.generation = delta.generation

    def _build(self) -> AnnIndex:
        dim = self._manifest.dimension
        join = "chunks c JOIN vectors v ON v.text_hash = c.text_hash"
        with self._db.read() as db:
            generation = self._generation(db)
            count = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            kind = self._wanted_kind(count)
            sample = None
            if needs_training(kind) and count:
                # Every step-th rowid spreads the sample over the whole index
                # without reading every vector.
                step = max(1, count // _TRAIN_SAMPLE)
                rows = db.execute(
                    f"SELECT v.vector FROM {join} WHERE c.id % ? = 0 LIMIT ?",
                    (step, _TRAIN_SAMPLE),
                ).fetchall()
                if len(rows) < min(count, 1000):
                    rows = db.execute(
                        f"SELECT v.vector FROM {join} LIMIT ?", (_TRAIN_SAMPLE,)
                    ).fetchall()
                sample = self._stack([r[0] for r in rows], dim)
            ann = AnnIndex.new(kind, dim, generation, sample=sample)
            cursor = db.execute(f"SELECT c.id, v.vector FROM {join} ORDER BY c.id")
            while rows := cursor.fetchmany(_BUILD_BLOCK):
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                ann.add(ids, self._stack([r[1] for r in rows], dim))
        logger.info("built a %s index of %d vectors", kind, ann.ntotal)
        self._save(ann)
        return ann

    @staticmethod
    def _stack(blobs: list[bytes], dim: int) -> np.ndarray:
        flat = np.frombuffer(b"".join(blobs), dtype="<f4")
        if flat.size != len(blobs) * dim:
            raise StoreError(
                f"cached vectors do not all have the index dimension {dim}; the "
                "database is damaged"
            )
        return flat.reshape(len(blobs), dim)

    def _save(self, ann: AnnIndex) -> None:
        if self.path is None:
            return
        try:
            write_index_file(self.path / FAISS_FILE, ann)
        except OSError as exc:
            # The file is only a cache of SQLite: a read-only folder costs a
            # rebuild per process, not correctness.
            logger.warning("cannot write %s: %s", self.path / FAISS_FILE, exc)

    def _update_ann_in_place(
        self,
        old: int,
        new: int,
        removed: np.ndarray,
        added: list[int],
        vectors: Mapping[str, np.ndarray] | None,
        hashes: Sequence[str],
    ) -> None:
        """Apply one committed write to the loaded FAISS index, when it can be.

        Otherwise the index stays a generation behind and the next search
        brings it up to date from SQLite. A writer never waits here for a
        compaction that a search thread is running.
        """
        if not self._build_mutex.acquire(blocking=False):
            return
        try:
            ann = self._ann
            if ann is None or ann.generation != old:
                return
            if added and (vectors is None or not ann.is_trained):
                return
            with self._ann_lock.exclusive():
                ann.delete(removed)
                if added and vectors is not None:
                    ann.add(
                        np.asarray(added, dtype=np.int64),
                        np.stack([vectors[h] for h in hashes]),
                    )
                ann.generation = new
        finally:
            self._build_mutex.release()


@dataclass(frozen=True, slots=True)
class _Delta:
    """How a FAISS index differs from one SQLite snapshot.

    Attributes:
        generation: The snapshot's generation.
        wanted: The index type the snapshot's chunk count calls for.
        gone: Rowids the index holds whose chunks are gone (its tombstones
            once applied, for a graph).
        added: Chunk rowids the index does not hold yet.
        vectors: Their raw vectors, when they were asked for.
        problem: Why the index cannot be brought up to date, if it cannot.
    """

    generation: int
    wanted: str
    gone: np.ndarray
    added: np.ndarray
    vectors: np.ndarray | None
    problem: str | None

    def dead_fraction(self, ann: AnnIndex) -> float:
        """Share of ``ann`` that would be tombstones once this is applied."""
        size = ann.ntotal + len(self.added)
        if not ann.keeps_tombstones or not size:
            return 0.0
        return len(self.gone) / size


DocumentWrite = tuple[DocumentRecord, Sequence[Chunk], Sequence[str]]
"""A document to write: its record, its chunks, and each chunk's vector hash."""


@dataclass(frozen=True, slots=True)
class _PreparedDocument:
    """A document checked and turned into rows, before the transaction starts."""

    record: DocumentRecord
    metadata: str
    rows: list[tuple[Any, ...]]
    chunk_ids: list[str]
    text_hashes: list[str]


def _prepare_document(
    record: DocumentRecord, chunks: Sequence[Chunk], text_hashes: Sequence[str]
) -> _PreparedDocument:
    if len(chunks) != len(text_hashes):
        raise StoreError(
            f"{len(chunks)} chunks but {len(text_hashes)} text hashes for {record.path}"
        )
    rows: list[tuple[Any, ...]] = []
    for ordinal, (chunk, text_hash) in enumerate(zip(chunks, text_hashes, strict=True)):
        if chunk.document != record.path:
            raise StoreError(
                f"chunk {chunk.id} belongs to {chunk.document!r}, not {record.path!r}"
            )
        rows.append(
            (
                chunk.id,
                ordinal,
                chunk.text,
                chunk.start,
                chunk.end,
                chunk.line_start,
                chunk.line_end,
                chunk.page,
                json.dumps(list(chunk.heading_path), ensure_ascii=False),
                encode_metadata(chunk.metadata, where=f"chunk {chunk.id}"),
                text_hash,
            )
        )
    ids = [chunk.id for chunk in chunks]
    if len(set(ids)) != len(ids):
        raise StoreError(f"{record.path} has two chunks with the same id")
    return _PreparedDocument(
        record=record,
        metadata=encode_metadata(record.metadata, where=f"document {record.path}"),
        rows=rows,
        chunk_ids=ids,
        text_hashes=list(text_hashes),
    )
