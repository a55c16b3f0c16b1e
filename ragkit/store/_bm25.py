"""BM25 top-k over the FTS5 table, without scoring chunks that cannot rank.

FTS5's ``bm25()`` costs about 1.6 µs for every chunk that holds any query
word, so a question whose words appear in 19,000 of a million chunks takes
35 ms however few results it wants. Most of those chunks hold just one of
the words. The ``term_stats`` table keeps, for every indexed term, how many
chunks hold it, the most times one chunk holds it and the fewest tokens in a
chunk that holds it; with those, the best score a chunk holding only that
word could reach is known before any such chunk is read (the MaxScore idea:
Turtle and Flood, 1995).

The search ranks the chunks holding two or more of the words first (FTS5
queries that split exactly those between them, scored by FTS5 itself), then
reads the chunks holding a single word only for the words whose bound beats
the k-th score found so far. The answer is the list ranking every chunk would give,
scores, ties (broken by rowid) and all: the tests compare the two.

Chunk counts follow every insert and delete exactly; the two bounds only
grow as chunks arrive and are not lowered when chunks go, so they stay true
bounds without being recomputed.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._fts import any_of, first_of_several, only_one_of

__all__ = [
    "BM25",
    "K1",
    "B",
    "WEIGHTS",
    "count_terms",
    "prepare_connection",
    "search",
    "term_stats_usable",
]

WEIGHTS = (1.0, 0.5)
"""Column weights: a word in the chunk text counts fully, in its headings half.
A bound below assumes no weight is above 1."""
K1 = 1.2
B = 0.75
"""FTS5's built-in BM25 parameters, which the bounds must repeat."""
BM25 = f"bm25(chunks_fts, {WEIGHTS[0]}, {WEIGHTS[1]})"

MAX_PRUNED_TERMS = 8
"""More terms than this are ranked plainly: the two-or-more expression grows
with the square of the term count, and FTS5 counts each copy's documents."""
SQL_FILTER_MAX_IDS = 20_000
"""Filters allowing more chunks than this are applied to a deeper unfiltered
ranking instead of in SQL, where every query parses the id list: at 1M chunks
a 10% filter's 100,000 ids took 20 ms to turn into JSON and ~30 ms to parse."""
PRUNE_FROM_ROWS = 1_000
"""Below this many (chunk, term) matches in all, plain ranking is faster: the
pruned search runs several queries, a fixed cost FTS5 repays only on larger
sets (bench queries at 100k chunks: 500-1,000 matches 1.8 ms plain, 1.4 ms
pruned; 1,000-2,000 matches 3.1 against 1.7 ms; at 10k, 0.6 against 2.3 ms)."""
_SLACK = 1.0 + 1e-9
"""Bounds are raised by this factor so rounding never makes one too low."""

_TOKENIZER = "ragkit_tokenizer"
_TOKENS = "ragkit_tokenizer_tokens"
_NO_LENGTH = 2**62
"""A minimum length that every real one is below."""


def prepare_connection(db: sqlite3.Connection) -> None:
    """Create this connection's temporary FTS5 helpers (cheap, nothing on disk).

    A contentless FTS5 table with the index's tokenizer turns text into the
    terms the index holds (stemmed), and an fts5vocab table reads them back.
    """
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_TOKENIZER} USING fts5("
        "text, heading_path, content='', "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_TOKENS} "
        f"USING fts5vocab(temp, {_TOKENIZER}, instance)"
    )


def count_terms(
    db: sqlite3.Connection, rows: Sequence[tuple[int, str, str]], *, sign: int
) -> None:
    """Update ``term_stats`` for chunks entering (``sign=1``) or leaving (``-1``) FTS5.

    Call it in the transaction that adds or deletes them.

    Args:
        db: The writer connection (see :func:`prepare_connection`).
        rows: ``(rowid, text, heading_path)`` as in ``chunks_fts``.
        sign: 1 for chunks added, -1 for chunks deleted.
    """
    if not rows:
        return
    db.executemany(
        f"INSERT INTO temp.{_TOKENIZER} (rowid, text, heading_path) VALUES (?, ?, ?)",
        rows,
    )
    # A leaving chunk changes only the count: max() and min() against
    # neutral values keep the bounds. "WHERE true" settles SQLite's parse of
    # INSERT ... SELECT ... ON CONFLICT.
    db.execute(
        f"""INSERT INTO term_stats (term, chunks, max_freq, min_length)
        SELECT f.term, :sign * count(*),
            CASE WHEN :sign > 0 THEN max(f.freq) ELSE 0 END,
            CASE WHEN :sign > 0 THEN min(n.length) ELSE :none END
        FROM (SELECT term, doc, count(*) AS freq FROM temp.{_TOKENS}
              GROUP BY term, doc) AS f
        JOIN (SELECT doc, count(*) AS length FROM temp.{_TOKENS}
              GROUP BY doc) AS n ON n.doc = f.doc
        WHERE true GROUP BY f.term
        ON CONFLICT (term) DO UPDATE SET
            chunks = chunks + excluded.chunks,
            max_freq = max(max_freq, excluded.max_freq),
            min_length = min(min_length, excluded.min_length)""",
        {"sign": sign, "none": _NO_LENGTH},
    )
    db.execute(f"INSERT INTO temp.{_TOKENIZER} ({_TOKENIZER}) VALUES ('delete-all')")
    if sign < 0:
        db.execute("DELETE FROM term_stats WHERE chunks <= 0")


def term_stats_usable(db: sqlite3.Connection) -> bool:
    """False once something rewrote chunks behind the store's back (see m002)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'term_stats'").fetchone()
    return row is not None and row[0] == "exact"


def search(
    db: sqlite3.Connection,
    terms: Sequence[str],
    k: int,
    allowed: npt.NDArray[np.int64] | None = None,
) -> list[tuple[int, float]]:
    """The ``k`` best chunks for ``terms`` by BM25, as FTS5 ranks them.

    Args:
        db: A connection in a read transaction (see :func:`prepare_connection`).
        terms: Words from :func:`query_terms`, at least one.
        k: How many results, at least 1.
        allowed: Sorted rowids of the chunks that may be returned, or None.

    Returns:
        ``(rowid, score)`` pairs, the score higher-is-better; ties by rowid.
    """
    if allowed is not None and len(allowed) <= SQL_FILTER_MAX_IDS:
        # One plain query: pruning would have every query it runs parse the
        # id list (at 100k chunks, a 1% filter 1.9 ms against 4.4 ms pruned).
        listed = json.dumps(allowed.tolist())
        return _ranked(db, any_of(terms), k, listed)
    bounds = _single_term_bounds(db, terms)
    if allowed is None:
        return _unfiltered(db, terms, k, bounds)
    # The allowed chunks in the full ranking's order are the filtered
    # ranking, so rank deeper until k of them turn up (or the matches end).
    totals = _totals(db)
    share = len(allowed) / max(1, totals.rows if totals is not None else 0)
    depth = max(k, int(k / max(share, 1e-9) * 1.5))
    while True:
        ranked = _unfiltered(db, terms, depth, bounds)
        rowids = np.fromiter((r for r, _ in ranked), dtype=np.int64, count=len(ranked))
        member = _members(rowids, allowed)
        kept = [hit for hit, ok in zip(ranked, member, strict=True) if ok]
        if len(kept) >= k or len(ranked) < depth:
            return kept[:k]
        depth *= 4


def _unfiltered(
    db: sqlite3.Connection, terms: Sequence[str], k: int, bounds: list[float] | None
) -> list[tuple[int, float]]:
    """Rank every chunk, pruned by ``bounds`` (see :func:`_single_term_bounds`)."""
    if bounds is None:
        return _ranked(db, any_of(terms), k, None)
    best: dict[int, float] = {}
    for i in range(len(terms) - 1):
        best.update(_ranked(db, first_of_several(terms, i), k, None))
    for i in sorted(range(len(terms)), key=lambda i: -bounds[i]):
        if len(best) >= k and bounds[i] < sorted(best.values())[-k]:
            break
        best.update(_ranked(db, only_one_of(terms, i), k, None))
    return sorted(best.items(), key=lambda hit: (-hit[1], hit[0]))[:k]


def _members(
    rowids: npt.NDArray[np.int64], allowed: npt.NDArray[np.int64]
) -> np.ndarray:
    """For each rowid, whether the sorted array ``allowed`` holds it."""
    at = np.searchsorted(allowed, rowids).clip(max=len(allowed) - 1)
    return np.asarray(allowed[at] == rowids)


def _ranked(
    db: sqlite3.Connection, match: str, k: int, allowed: str | None
) -> list[tuple[int, float]]:
    sql = f"SELECT rowid, {BM25} AS score FROM chunks_fts WHERE chunks_fts MATCH ?"
    params: list[object] = [match]
    if allowed is not None:
        # The unary plus keeps SQLite from handing the IN list to FTS5 as
        # rowid lookups, which ran the whole match once per allowed id: 1.2 s
        # for a filter of 10,000 ids at 100k chunks, 4 ms as a plain filter.
        sql += " AND +rowid IN (SELECT value FROM json_each(?))"
        params.append(allowed)
    sql += " ORDER BY score, rowid LIMIT ?"
    params.append(k)
    return [(int(r), -float(s)) for r, s in db.execute(sql, params)]


@dataclass(frozen=True)
class _Totals:
    rows: int
    tokens: int


def _single_term_bounds(
    db: sqlite3.Connection, terms: Sequence[str]
) -> list[float] | None:
    """For each term, a score no chunk holding only that term can exceed.

    None when pruning cannot be used or would not pay: one term, many terms,
    few matches, a word that is not one token, or no trustworthy bounds.
    """
    if not 2 <= len(terms) <= MAX_PRUNED_TERMS or not term_stats_usable(db):
        return None
    stems = _stems(db, terms)
    totals = _totals(db)
    if stems is None or totals is None:
        return None
    unique = list(set(stems))
    stats = {
        term: (chunks, freq, length)
        for term, chunks, freq, length in db.execute(
            "SELECT term, chunks, max_freq, min_length FROM term_stats "
            f"WHERE term IN ({', '.join('?' * len(unique))})",
            unique,
        )
    }
    if sum(stats[s][0] for s in stems if s in stats) < PRUNE_FROM_ROWS:
        return None
    average_length = totals.tokens / totals.rows
    bounds = []
    for stem in stems:
        if stem not in stats:
            bounds.append(0.0)  # no chunk holds it
            continue
        chunks, freq, length = stats[stem]
        # Exactly FTS5's idf, from the same counts bm25() reads.
        idf = math.log((0.5 + totals.rows - chunks) / (0.5 + chunks))
        idf = idf if idf > 0.0 else 1e-6
        saturation = (
            freq * (K1 + 1.0) / (freq + K1 * (1.0 - B + B * length / average_length))
        )
        bounds.append(idf * saturation * _SLACK)
    return bounds


def _stems(db: sqlite3.Connection, terms: Sequence[str]) -> list[str] | None:
    """Each term as the index holds it, or None if one is not a single token."""
    db.executemany(
        f"INSERT INTO temp.{_TOKENIZER} (rowid, text) VALUES (?, ?)",
        enumerate(terms, start=1),
    )
    try:
        found: dict[int, list[str]] = {}
        for doc, term in db.execute(f"SELECT doc, term FROM temp.{_TOKENS}"):
            found.setdefault(doc, []).append(term)
    finally:
        db.execute(
            f"INSERT INTO temp.{_TOKENIZER} ({_TOKENIZER}) VALUES ('delete-all')"
        )
    stems = [found.get(i, []) for i in range(1, len(terms) + 1)]
    if any(len(s) != 1 for s in stems):
        return None
    return [s[0] for s in stems]


def _totals(db: sqlite3.Connection) -> _Totals | None:
    """The row count and token total ``bm25()`` itself reads.

    FTS5 keeps them in its "averages" record (row 1 of ``chunks_fts_data``):
    SQLite varints, the row count then each column's token total.
    """
    row = db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
    if row is None:
        return None
    values = _varints(bytes(row[0]))
    if len(values) != 1 + len(WEIGHTS) or values[0] <= 0 or sum(values[1:]) <= 0:
        return None
    return _Totals(rows=values[0], tokens=sum(values[1:]))


def _varints(blob: bytes) -> list[int]:
    """Decode SQLite varints: 7 bits a byte, high bit set on all but the last,
    and a ninth byte, if reached, that gives all 8 of its bits."""
    values, at = [], 0
    while at < len(blob):
        value = 0
        for position in range(9):
            if at == len(blob):
                return []  # cut short: not a record this module understands
            byte = blob[at]
            at += 1
            if position == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    return values
