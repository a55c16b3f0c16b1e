"""Retrieval over one index: vector, lexical or hybrid search, filters, MMR, thresholds.

A search runs in this order:

1. **Filter.** Path globs, kinds and metadata conditions become an allow-list
   of chunk rowids (``Store.select_ids``) that both searches are restricted
   to, so ``k`` results still come back when at least ``k`` chunks pass.
2. **Search.** Vector search (FAISS, cosine) and/or lexical search (FTS5,
   BM25), side by side on two threads. Hybrid mode fuses the two rankings
   with reciprocal rank fusion, reading each list deeper than ``k`` so that
   a chunk ranked well by one side can still make the top ``k``. Only then
   are chunks read from SQLite, the best first, as many as are needed.
3. **Duplicates.** Hits whose texts are equal apart from whitespace (the same
   text indexed from two files) count once; when copies crowd the candidate
   lists, the search looks deeper until ``k`` distinct hits come back.
4. **Threshold.** On the cosine similarity in vector and hybrid mode (hybrid
   hits found only by lexical search get their cosine computed), on the BM25
   score in lexical mode: those are the scales a fixed number means
   something on; a fused RRF score does not.
5. **MMR.** With ``mmr=λ``, maximal marginal relevance picks ``k`` of a
   deeper candidate pool; relevance is the cosine to the query in vector
   mode and the score scaled to the best one otherwise.
6. **Passages.** Hits on neighbouring (overlapping or touching) chunks of one
   document are merged into one passage.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, NamedTuple, get_args

import numpy as np
import numpy.typing as npt

from ragkit.errors import ConfigError, QueryError
from ragkit.query._fusion import apply_threshold, fuse_scores, mmr
from ragkit.query._passages import dedupe_hits, merge_neighbours
from ragkit.store import ChunkFilter, Store, use_one_search_thread
from ragkit.types import Chunk, Hit

__all__ = [
    "HYBRID_DEPTH",
    "MAX_DEPTH",
    "MERGE_MAX_CHARS",
    "MMR_POOL",
    "Retriever",
    "SEARCH_MODES",
    "STOP_WORDS",
    "SearchMode",
    "SearchSettings",
    "empty_index_message",
    "lexical_query",
]

SearchMode = Literal["hybrid", "vector", "lexical"]
"""How to search: both rankings fused, vectors only, or words only."""

SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
"""The search modes, for option choices."""

HYBRID_DEPTH = 4
"""Each ranking of a hybrid search is read this many times deeper than needed.

Rank fusion can only promote what the lists hold: a chunk that is 12th by
vectors and 2nd by words should be able to reach a top 8.
"""

MMR_POOL = 4
"""MMR chooses ``k`` results out of ``MMR_POOL * k`` candidates."""

MAX_DEPTH = 1024
"""How deep a search may look for ``k`` distinct hits when copies of one text
crowd its candidates (the depth ``k`` starts at; hybrid mode reads each ranking
``HYBRID_DEPTH`` times deeper still). Bounds the cost on an index of copies."""

MERGE_MAX_CHARS = 6000
"""Neighbouring chunks are not merged into passages longer than this.

About four chunks of the default recipes: long enough to join a hit with its
neighbours, short enough that one passage does not crowd out the others.
"""

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because
    been before being below between both but by can could did do does doing down
    during each few for from further had has have having he her here hers him his
    how i if in into is it its itself just me more most my no nor not now of off on
    once only or other our out over own same she should so some such than that the
    their them then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your
    yours""".split()
)
"""English words left out of lexical queries (see :func:`lexical_query`)."""

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

VectorSource = Callable[[Sequence[str]], npt.NDArray[np.float32]]
"""Embeds passage texts (with the document prefix) when no vector is cached."""

Vectors = npt.NDArray[np.float32]


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    """The threads that run vector searches, started on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=min(8, os.cpu_count() or 1),
                thread_name_prefix="ragkit-search",
                initializer=use_one_search_thread,
            )
        return _pool


def _forget_pool() -> None:
    # A forked child has none of its parent's threads: a pool inherited
    # from the parent would take work and never run it.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


class _Ranked(NamedTuple):
    """A candidate before its chunk is read: rowid and scores."""

    rowid: int
    score: float
    vector_score: float | None
    lexical_score: float | None


def _no_conditions() -> Mapping[str, object]:
    return MappingProxyType({})


def empty_index_message(path: object) -> str:
    """The message of the :class:`QueryError` raised for an index with no chunks."""
    where = f" at {path}" if path is not None else ""
    return f"the index{where} is empty; run `ragkit index <folder>` to add documents"


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """What one search asks for.

    Attributes:
        k: How many passages to return (before neighbours are merged).
        mode: ``"hybrid"``, ``"vector"`` or ``"lexical"``.
        paths: Path globs; a chunk passes when its document matches one.
        kinds: Document kinds or extensions (``"md"``, ``"pdf"``).
        where: Conditions on chunk metadata (see :class:`ragkit.store.ChunkFilter`).
        threshold: The lowest score kept: cosine similarity in vector and
            hybrid mode, BM25 in lexical mode; None keeps everything.
        mmr: The MMR trade-off λ between relevance (1) and diversity (0);
            None turns MMR off.
        merge_neighbours: Merge hits on neighbouring chunks into one passage.

    Raises:
        ConfigError: A value is out of range, or the filter is unusable.
    """

    k: int = 8
    mode: SearchMode = "hybrid"
    paths: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    where: Mapping[str, object] = field(default_factory=_no_conditions, hash=False)
    threshold: float | None = None
    mmr: float | None = None
    merge_neighbours: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k must be a whole number of at least 1, not {self.k!r}")
        if self.mode not in SEARCH_MODES:
            raise ConfigError(
                f"unknown search mode {self.mode!r}; "
                f"use one of {', '.join(SEARCH_MODES)}"
            )
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ConfigError(f"the threshold must be a number, not {self.threshold}")
        if self.mmr is not None and not 0.0 <= self.mmr <= 1.0:
            raise ConfigError(f"the MMR lambda must be between 0 and 1, not {self.mmr}")
        # Building the filter checks globs, kinds and conditions before any search.
        self.chunk_filter()

    def chunk_filter(self) -> ChunkFilter:
        """The store filter for :attr:`paths`, :attr:`kinds` and :attr:`where`."""
        return ChunkFilter(paths=self.paths, kinds=self.kinds, where=self.where)


class Retriever:
    """Searches one open :class:`~ragkit.store.Store`; does no network I/O itself.

    The caller embeds the query (:class:`~ragkit.embedding.Embedder` or the
    async client) and hands the vector in, so the same retriever serves the
    sync and the async engine. Safe to use from several threads at once, as
    the store is.

    Args:
        store: The index, open for reading.
        embed_passages: Embeds passage texts (prefix included) for MMR and
            hybrid thresholds when the store has no cached vector for them;
            without it such passages keep their rank and skip MMR.
    """

    def __init__(self, store: Store, *, embed_passages: VectorSource | None = None):
        self.store = store
        self._embed_passages = embed_passages

    def search(
        self, query: str, vector: npt.ArrayLike | None, settings: SearchSettings
    ) -> list[Hit]:
        """Find the passages for a query.

        Args:
            query: The query text (lexical search reads it).
            vector: The query's embedding; required unless ``settings.mode``
                is ``"lexical"``.
            settings: What to search for and how.

        Returns:
            Passages, best first; empty when nothing passes the filters or
            the threshold.

        Raises:
            QueryError: The query is empty, or the index holds no chunks.
            ConfigError: A vector is missing where the mode needs one.
            IndexMismatchError: The vector has another dimension than the index.
        """
        if not query.strip():
            raise QueryError("the query is empty; say what to search for")
        query_vector = self._query_vector(vector, settings.mode)
        allowed = self.store.select_ids(settings.chunk_filter())
        if allowed is not None and len(allowed) == 0:
            return []
        hits = self._distinct_hits(query, query_vector, settings, allowed)
        if not hits:
            if allowed is None and self.store.stats().chunks == 0:
                raise QueryError(empty_index_message(self.store.path))
            return []
        if settings.threshold is not None:
            hits = self._threshold(hits, query_vector, settings)
        if settings.mmr is not None and len(hits) > 1:
            hits = self._diversify(hits, query_vector, settings)
        hits = hits[: settings.k]
        if settings.merge_neighbours:
            hits = merge_neighbours(hits, max_chars=MERGE_MAX_CHARS)
        return hits

    # -- candidates ------------------------------------------------------------

    def _query_vector(self, vector: npt.ArrayLike | None, mode: str) -> Vectors | None:
        if vector is None:
            if mode != "lexical":
                raise ConfigError(f"a {mode} search needs the query's vector")
            return None
        array = np.asarray(vector, dtype=np.float32).reshape(-1)
        self.store.check_compatible(dimension=int(array.shape[0]))
        return array

    def _distinct_hits(
        self,
        query: str,
        vector: Vectors | None,
        settings: SearchSettings,
        allowed: npt.NDArray[np.int64] | None,
    ) -> list[Hit]:
        """The candidates as hits without repeated texts, best first."""
        depth = settings.k * (MMR_POOL if settings.mmr is not None else 1)
        # A threshold or MMR weighs every candidate; otherwise the best few
        # read from SQLite already hold the k distinct hits returned.
        needs_all = settings.threshold is not None or settings.mmr is not None
        while True:
            ranked, exhausted = self._rank(query, vector, settings.mode, depth, allowed)
            hits = self._read_hits(ranked, enough=None if needs_all else settings.k)
            if len(hits) >= settings.k or exhausted or depth >= MAX_DEPTH:
                return hits
            # Copies of one text (a file vendored in many folders) crowded the
            # candidate lists: look deeper so that k distinct hits come back.
            depth *= 4

    def _rank(
        self,
        query: str,
        vector: Vectors | None,
        mode: str,
        depth: int,
        allowed: npt.NDArray[np.int64] | None,
    ) -> tuple[list[_Ranked], bool]:
        """Candidate rowids, best first, with their scores; no chunk read yet.

        Also says whether the searches found everything they could: a list
        shorter than asked for means there is nothing deeper to look at.
        """
        # Deeper than asked: duplicates and a threshold may still remove some.
        list_depth = depth * (HYBRID_DEPTH if mode == "hybrid" else 2)
        by_vector: list[tuple[int, float]] = []
        by_words: list[tuple[int, float]] = []
        # The vector search runs on a pool thread, whose FAISS uses one OpenMP
        # thread (more only spin for one query), while this thread runs the
        # BM25 query: FAISS and SQLite both release the GIL, so hybrid costs
        # about its slower half instead of the sum of both.
        pending = None
        if mode != "lexical" and vector is not None:
            pending = _search_pool().submit(
                self.store.search_vectors, vector, list_depth, ids=allowed
            )
        try:
            if mode != "vector":
                by_words = self._search_words(query, list_depth, allowed)
        finally:
            if pending is not None:
                by_vector = pending.result()
        exhausted = len(by_vector) < list_depth and len(by_words) < list_depth
        if mode == "vector":
            return [_Ranked(rowid, s, s, None) for rowid, s in by_vector], exhausted
        if mode == "lexical":
            return [_Ranked(rowid, s, None, s) for rowid, s in by_words], exhausted
        fused = fuse_scores(by_vector, by_words)
        return [_Ranked(*candidate) for candidate in fused], exhausted

    def _search_words(
        self, query: str, depth: int, allowed: npt.NDArray[np.int64] | None
    ) -> list[tuple[int, float]]:
        return self.store.search_lexical(lexical_query(query), depth, ids=allowed)

    def _read_hits(self, ranked: Sequence[_Ranked], *, enough: int | None) -> list[Hit]:
        """The ranked candidates as hits without repeats, best first.

        With ``enough``, chunks are read a page at a time until that many
        distinct hits are found (fused lists run 8× deeper than ``k``, and
        reading a chunk costs more than ranking it); None reads them all.
        Each page is one snapshot: a rowid a writer removed since is skipped.
        """
        page = len(ranked) if enough is None else max(2 * enough, 16)
        hits: list[Hit] = []
        for start in range(0, len(ranked), page):
            part = ranked[start : start + page]
            chunks = self.store.chunk_map([r.rowid for r in part])
            hits.extend(
                Hit(
                    chunk=chunks[r.rowid],
                    score=r.score,
                    vector_score=r.vector_score,
                    lexical_score=r.lexical_score,
                )
                for r in part
                if r.rowid in chunks
            )
            hits = dedupe_hits(hits, by_text=True)
            if enough is not None and len(hits) >= enough:
                break
        return hits

    # -- threshold and MMR -----------------------------------------------------

    def _threshold(
        self, hits: list[Hit], vector: Vectors | None, settings: SearchSettings
    ) -> list[Hit]:
        if settings.mode == "lexical":
            return apply_threshold(hits, settings.threshold, field="lexical_score")
        if vector is not None and any(h.vector_score is None for h in hits):
            hits = self._with_cosines(hits, vector)
        return apply_threshold(hits, settings.threshold, field="vector_score")

    def _with_cosines(self, hits: list[Hit], vector: Vectors) -> list[Hit]:
        missing = [h for h in hits if h.vector_score is None]
        found = self._passage_vectors([h.chunk for h in missing])
        unit = _unit(vector)
        out = []
        for hit in hits:
            passage = found.get(hit.chunk.id)
            if hit.vector_score is None and passage is not None:
                hit = replace(hit, vector_score=float(_unit(passage) @ unit))
            out.append(hit)
        return out

    def _diversify(
        self, hits: list[Hit], vector: Vectors | None, settings: SearchSettings
    ) -> list[Hit]:
        assert settings.mmr is not None
        found = self._passage_vectors([h.chunk for h in hits])
        usable = [h for h in hits if h.chunk.id in found]
        rest = [h for h in hits if h.chunk.id not in found]
        if not usable:
            return hits
        matrix = np.stack([found[h.chunk.id] for h in usable])
        relevance: npt.NDArray[np.float64] | None = None
        if settings.mode != "vector" or vector is None:
            # Fused and BM25 scores are on other scales than cosines: scaled to
            # the best one they weigh against similarity as cosines would.
            scores = np.array([h.score for h in usable], dtype=np.float64)
            top = float(scores.max())
            relevance = scores / top if top > 0 else np.zeros_like(scores)
        query = vector if vector is not None else np.zeros(matrix.shape[1])
        order = mmr(
            query, matrix, k=len(usable), lambda_=settings.mmr, relevance=relevance
        )
        return [usable[i] for i in order] + rest

    def _passage_vectors(self, chunks: Sequence[Chunk]) -> dict[str, Vectors]:
        """Vectors of passages by chunk id: from the cache, else embedded anew."""
        prefix = self.store.manifest.document_prefix
        keys = {chunk.id: _cache_key(prefix + chunk.text) for chunk in chunks}
        cached = self.store.cached_vectors(keys.values())
        found = {cid: cached[key] for cid, key in keys.items() if key in cached}
        missing = [chunk for chunk in chunks if chunk.id not in found]
        if missing and self._embed_passages is not None:
            vectors = self._embed_passages([prefix + chunk.text for chunk in missing])
            for chunk, row in zip(missing, vectors, strict=True):
                found[chunk.id] = np.asarray(row, dtype=np.float32)
        return found


def lexical_query(query: str) -> str:
    """The words of a question worth a lexical search: without English stop words.

    The store ORs every word of its query, so a word that occurs in most
    chunks ("the", "how") makes BM25 score nearly the whole index (tens of
    milliseconds at 100k chunks) while adding almost nothing to the ranking.
    A query of stop words only is kept as it is.

    >>> lexical_query("How often are the API keys rotated?")
    'often API keys rotated'
    """
    words = _WORD.findall(query)
    kept = [w for w in words if w.lower() not in STOP_WORDS]
    return " ".join(kept) if kept else query


def _cache_key(text: str) -> str:
    # The ingest pipeline caches each vector under the SHA-256 of the text it
    # embedded (document prefix included); a chunk written under another key
    # is simply embedded again.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _unit(vector: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(vector, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array
