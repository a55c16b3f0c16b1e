"""The FAISS index over chunk rowids and its self-stamped file ``vectors.faiss``.

The file is a small header followed by ``faiss.serialize_index`` bytes::

    magic "RAGKITFX" | header version u16 | reserved u16 | generation u64
    | dimension u32 | index type 16 bytes | payload length u64 | payload crc32 u32

The generation is the SQLite ``generation`` the index reflects. A file is
never trusted on its stamp alone: the store compares the rowids it holds with
the ``chunks`` table, brings an older file up to date from there, and rebuilds
one that does not fit the database.

An HNSW graph cannot drop a node, so a deleted chunk stays in the graph as a
*tombstone* that searches step through but never return. Tombstones are not
stored anywhere: they are the rowids in the index that SQLite no longer has
(rowids are never reused), so they are derived again whenever a file is read.
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np

__all__ = [
    "AUTO_HNSW_THRESHOLD",
    "AnnIndex",
    "COMPACT_FRACTION",
    "HNSW_EF_SEARCH",
    "SEARCH_COMPACT_FRACTION",
    "StampError",
    "load_index_file",
    "needs_training",
    "normalized",
    "read_index_file",
    "read_stamp",
    "resolve_index_type",
    "use_one_search_thread",
    "write_index_file",
]

logger = logging.getLogger(__name__)

# The stubs bundled with faiss-cpu lack the search-parameter classes and their
# keywords used here, so the module is typed as what SWIG makes it: dynamic.
faiss: Any = _faiss

AUTO_HNSW_THRESHOLD = 10_000
"""``auto`` uses exact search below this many chunks and HNSW from it on:
exact search of 768-d vectors costs about 0.3-0.5 ms per 1,000 on one core,
so beyond 10k it passes the 5 ms budget a query has; HNSW stays under 1 ms."""

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 128
"""The candidate list of an HNSW search. Measured on 1M clustered 768-d
vectors (``bench/query.py``): recall@10 0.916 at 64, 0.957 at 96, 0.973 at
128 (0.69 ms per query on one core), 0.993 at 192; at 10k-100k chunks 64
already reached 0.97-1.00. 128 keeps recall above 0.95 up to a million chunks
for about 0.2 ms more than 64."""

EXACT_FILTER_LIMIT = 16_384
"""Allow-lists up to this size skip the HNSW graph and are scanned exactly:
scanning 16k vectors costs less than a graph search whose budget has to grow
with the filter's selectivity (measured in the README section)."""

COMPACT_FRACTION = 0.2
"""``sync()`` rebuilds an HNSW graph once more than this share of its nodes are
tombstones. Measured on 20,000 clustered 768-d vectors, deleting whole
documents: recall@10 is 0.993 with no tombstones, 0.986 at 10%, 0.982 at 20%,
0.970 at 30% and 0.933 at 50% (efSearch 64); dead nodes also cost memory and
search time. At 20% recall stays within about a point of a fresh graph, and
the rebuild (minutes at 50,000 chunks) is paid at most once per fifth of the
index replaced."""

SEARCH_COMPACT_FRACTION = 0.5
"""A search rebuilds a graph only past this share of tombstones. Below it a
search widens efSearch by ``1 / (1 - share)`` instead, which kept recall@10 at
0.957 with half the graph dead in the same measurement, so an app that deletes
while it serves searches does not stall at every fifth of churn."""

_MAX_FILTERED_EF = 4096
_MAGIC = b"RAGKITFX"
_HEADER = struct.Struct("<8sHHQI16sQI")
_HEADER_VERSION = 1
_KINDS = ("flat", "hnsw", "hnsw-sq8", "sq8")
_GRAPH_KINDS = ("hnsw", "hnsw-sq8")


class StampError(Exception):
    """A ``vectors.faiss`` file is not one this code wrote, or is damaged."""


def use_one_search_thread() -> None:
    """Make FAISS searches on the calling thread use one OpenMP thread.

    FAISS spreads its work over the queries of a call, so one query gains
    nothing from more threads, while the idle ones spinning for a core cost
    several times the search itself on a busy machine. The setting belongs
    to the calling thread only (an OpenMP per-thread variable).
    """
    faiss.omp_set_num_threads(1)


def resolve_index_type(requested: str, count: int, *, threshold: int) -> str:
    """Pick the concrete index type for ``count`` chunks."""
    if requested != "auto":
        return requested
    return "hnsw" if count >= threshold else "flat"


def needs_training(kind: str) -> bool:
    """Scalar quantisers learn each dimension's range before vectors go in."""
    return kind in ("sq8", "hnsw-sq8")


def normalized(vectors: np.ndarray) -> np.ndarray:
    """Return a C-contiguous float32 copy with rows scaled to unit length."""
    out = np.array(vectors, dtype=np.float32, order="C", ndmin=2, copy=True)
    faiss.normalize_L2(out)
    return out


def _new_faiss(kind: str, dimension: int) -> faiss.Index:
    ip = faiss.METRIC_INNER_PRODUCT
    qt8 = faiss.ScalarQuantizer.QT_8bit
    if kind == "flat":
        inner = faiss.IndexFlatIP(dimension)
    elif kind == "sq8":
        inner = faiss.IndexScalarQuantizer(dimension, qt8, ip)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, HNSW_M, ip)
    elif kind == "hnsw-sq8":
        inner = faiss.IndexHNSWSQ(dimension, qt8, HNSW_M, ip)
    else:
        raise ValueError(f"unknown index type {kind!r}")
    if kind in _GRAPH_KINDS:
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    # faiss's Python layer keeps ``inner`` alive as long as the wrapper.
    return faiss.IndexIDMap2(inner)


class AnnIndex:
    """A FAISS index of unit vectors keyed by chunk rowid, at one generation.

    Not thread-safe on its own: the store searches under a shared lock and
    changes it in place only under the exclusive one.

    Attributes:
        kind: The concrete index type (never ``auto``).
        dimension: Vector dimension.
        generation: The SQLite generation the contents reflect.
    """

    def __init__(
        self, index: faiss.Index, kind: str, dimension: int, generation: int
    ) -> None:
        self._index = index
        self.kind = kind
        self.dimension = dimension
        self.generation = generation
        self._lookup: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._dead = np.empty(0, dtype=np.int64)
        # The FAISS selector that skips tombstones, with the batch it wraps:
        # SWIG does not keep the inner selector alive on its own.
        self._skip_dead: tuple[Any, Any] | None = None

    @classmethod
    def new(
        cls,
        kind: str,
        dimension: int,
        generation: int,
        *,
        sample: np.ndarray | None = None,
    ) -> AnnIndex:
        """Create an empty index, trained on ``sample`` when the type needs it."""
        index = _new_faiss(kind, dimension)
        if needs_training(kind) and sample is not None and len(sample):
            index.train(normalized(sample))
        return cls(index, kind, dimension, generation)

    @property
    def ntotal(self) -> int:
        """Number of vectors held, tombstones included."""
        return int(self._index.ntotal)

    @property
    def tombstones(self) -> int:
        """Number of vectors held whose chunks are gone."""
        return len(self._dead)

    @property
    def live(self) -> int:
        """Number of vectors a search can return."""
        return self.ntotal - self.tombstones

    @property
    def dead_fraction(self) -> float:
        """Share of the vectors held that are tombstones."""
        return self.tombstones / self.ntotal if self.ntotal else 0.0

    @property
    def is_trained(self) -> bool:
        """False for a quantised index that has not seen any vectors yet."""
        return bool(self._index.is_trained)

    @property
    def keeps_tombstones(self) -> bool:
        """True for HNSW graphs, which cannot drop nodes."""
        return self.kind in _GRAPH_KINDS

    def ids(self) -> np.ndarray:
        """Return every rowid held, tombstones included, sorted."""
        return self._rowid_lookup()[1]

    def tombstoned(self) -> np.ndarray:
        """Return the rowids held as tombstones, sorted."""
        return self._dead

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Return the stored (unit, possibly quantised) vectors of these rowids."""
        wanted = np.ascontiguousarray(ids, dtype=np.int64)
        return np.asarray(self._index.reconstruct_batch(wanted), dtype=np.float32)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add raw vectors (normalised here) under the given chunk rowids."""
        if len(ids):
            self._index.add_with_ids(
                normalized(vectors), np.ascontiguousarray(ids, dtype=np.int64)
            )
            self._lookup = None

    def delete(self, ids: np.ndarray) -> None:
        """Take chunk rowids out of search results.

        Types that can remove vectors remove them; a graph keeps the nodes as
        tombstones (see :attr:`keeps_tombstones`). Rowids not held are ignored.
        """
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        if not len(ids):
            return
        if not self.keeps_tombstones:
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            self._lookup = None
            return
        held = self.ids()
        slots = np.minimum(np.searchsorted(held, ids), max(len(held) - 1, 0))
        ids = ids[held[slots] == ids] if len(held) else ids[:0]
        if len(ids):
            self._dead = np.union1d(self._dead, ids)
            self._skip_dead = None

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Return up to ``k`` (rowid, cosine) pairs, best first; never a tombstone.

        Args:
            query: One raw query vector.
            k: How many results to return.
            allowed: Only these rowids may be returned (a filter's allow-list).
        """
        total = self.ntotal
        if self.live == 0 or k <= 0:
            return []
        if allowed is not None:
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            if len(self._dead):
                allowed = allowed[~np.isin(allowed, self._dead)]
            if len(allowed) == 0:
                return []
        q = normalized(query.reshape(1, -1))
        if self.kind not in _GRAPH_KINDS:
            params = (
                None
                if allowed is None
                else faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
            )
            return self._run(self._index, q, min(k, total), params)
        if allowed is None:
            return self._search_graph(q, k)
        if len(allowed) <= EXACT_FILTER_LIMIT:
            return self._exact(q, k, allowed)
        # HNSW explores about efSearch nodes whatever the filter lets through,
        # so the budget grows as the filter gets more selective.
        ef = max(HNSW_EF_SEARCH, k) * max(1.0, total / len(allowed))
        params = faiss.SearchParametersHNSW(
            sel=faiss.IDSelectorBatch(allowed),
            efSearch=int(min(ef, _MAX_FILTERED_EF, total)),
        )
        found = self._run(self._index, q, min(k, total), params)
        if len(found) < min(k, len(allowed), total):
            return self._exact(q, k, allowed)
        return found

    def _search_graph(self, q: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Search the whole graph, stepping through tombstones."""
        want = min(k, self.live)
        if not len(self._dead):
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
            return self._run(self._index, q, want, params)
        # A local reference keeps the selectors alive through the search.
        skip = self._skip_dead
        if skip is None:
            dead = faiss.IDSelectorBatch(self._dead)
            skip = self._skip_dead = (faiss.IDSelectorNot(dead), dead)
        # Tombstones take up places in the candidate list, so the budget grows
        # with their share to keep as many live candidates as without them.
        ef = max(HNSW_EF_SEARCH, k) / (1.0 - self.dead_fraction)
        params = faiss.SearchParametersHNSW(
            sel=skip[0], efSearch=int(min(ef, _MAX_FILTERED_EF))
        )
        found = self._run(self._index, q, want, params)
        if len(found) < want:
            # Live nodes cut off by dead ones: scan them instead of returning
            # fewer than k.
            held = self.ids()
            return self._exact(q, k, held[~np.isin(held, self._dead)])
        return found

    def _exact(
        self, q: np.ndarray, k: int, allowed: np.ndarray
    ) -> list[tuple[int, float]]:
        """Scan the graph's stored vectors, restricted to ``allowed``."""
        id_map, sorted_ids, order = self._rowid_lookup()
        slots = np.minimum(np.searchsorted(sorted_ids, allowed), len(sorted_ids) - 1)
        positions = order[slots[sorted_ids[slots] == allowed]]
        if len(positions) == 0:
            return []
        storage = faiss.downcast_index(faiss.downcast_index(self._index.index).storage)
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(positions))
        scores, internal = storage.search(q, min(k, len(positions)), params=params)
        return [
            (int(id_map[i]), float(s))
            for s, i in zip(scores[0], internal[0], strict=True)
            if i >= 0
        ]

    def _rowid_lookup(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Internal position -> rowid, and the rowids sorted with their positions."""
        if self._lookup is None:
            id_map = faiss.vector_to_array(self._index.id_map)
            order = np.argsort(id_map, kind="stable")
            self._lookup = (id_map, id_map[order], order)
        return self._lookup

    @staticmethod
    def _run(
        index: faiss.Index,
        q: np.ndarray,
        k: int,
        params: faiss.SearchParameters | None,
    ) -> list[tuple[int, float]]:
        scores, ids = index.search(q, k, params=params)
        return [
            (int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]

    def to_file_bytes(self) -> tuple[bytes, np.ndarray]:
        """Return the stamped header and the FAISS payload that follows it."""
        payload = faiss.serialize_index(self._index)
        header = _HEADER.pack(
            _MAGIC,
            _HEADER_VERSION,
            0,
            self.generation,
            self.dimension,
            self.kind.encode("ascii"),
            len(payload),
            zlib.crc32(payload.data),
        )
        return header, payload

    @classmethod
    def from_file_bytes(cls, data: bytes) -> AnnIndex:
        """Load an index from the contents of ``vectors.faiss``.

        Raises:
            StampError: The header is missing or wrong, the payload is cut
                short or damaged, or FAISS cannot read it.
        """
        if len(data) < _HEADER.size:
            raise StampError("file is shorter than its header")
        magic, version, _, generation, dimension, raw_kind, length, crc = (
            _HEADER.unpack_from(data)
        )
        if magic != _MAGIC or version != _HEADER_VERSION:
            raise StampError("not a ragkit vectors file")
        kind = raw_kind.rstrip(b"\0").decode("ascii", "replace")
        if kind not in _KINDS:
            raise StampError(f"unknown index type {kind!r}")
        payload = np.frombuffer(data, dtype=np.uint8, offset=_HEADER.size)
        if len(payload) != length or zlib.crc32(payload.data) != crc:
            raise StampError("payload is truncated or damaged")
        try:
            index = faiss.deserialize_index(payload)
        except RuntimeError as exc:
            raise StampError(f"FAISS cannot read it: {exc}") from exc
        if int(index.d) != dimension:
            raise StampError("dimension in the header does not match the index")
        return cls(index, kind, dimension, generation)


def load_index_file(path: Path) -> AnnIndex:
    """Load ``vectors.faiss``.

    Raises:
        FileNotFoundError: There is no file.
        StampError: It cannot be read, or is not one this code wrote whole.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StampError(f"cannot read it ({exc})") from exc
    return AnnIndex.from_file_bytes(data)


def read_index_file(path: Path) -> AnnIndex | None:
    """Load ``vectors.faiss``, or return None when it is missing or unusable."""
    try:
        return load_index_file(path)
    except FileNotFoundError:
        return None
    except StampError as exc:
        logger.warning("ignoring %s: %s; rebuilding it", path, exc)
        return None


def read_stamp(path: Path) -> tuple[int, str] | None:
    """Return the (generation, index type) a file is stamped with, if readable."""
    try:
        with path.open("rb") as f:
            head = f.read(_HEADER.size)
    except OSError:
        return None
    if len(head) < _HEADER.size:
        return None
    magic, version, _, generation, _, raw_kind, _, _ = _HEADER.unpack(head)
    if magic != _MAGIC or version != _HEADER_VERSION:
        return None
    return generation, raw_kind.rstrip(b"\0").decode("ascii", "replace")


def write_index_file(path: Path, ann: AnnIndex) -> None:
    """Write ``vectors.faiss`` atomically: temp file, fsync, rename, fsync dir."""
    header, payload = ann.to_file_bytes()
    fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(payload.data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
