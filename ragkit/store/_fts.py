"""Turning a user's query text into a safe FTS5 query."""

from __future__ import annotations

import re

__all__ = ["MAX_TERMS", "fts_query"]

MAX_TERMS = 64
"""Terms kept from one query; a pasted page of text still searches quickly."""

# The unicode61 tokenizer splits on everything that is not a letter, a number
# or a private-use character; matching its idea of a token means a quoted term
# never straddles what the index holds as two tokens.
_TOKEN = re.compile(r"[^\W_]+")


def fts_query(text: str) -> str | None:
    """Build an FTS5 query matching any of the words in ``text``.

    Every term is quoted, so FTS5 operators typed by the user (``AND``,
    ``NOT``, ``*``, ``-``, ``^``, parentheses, column filters) are searched
    as words instead of being obeyed. Terms combine with OR and BM25 ranks
    chunks that hold more of them, and rarer ones, higher.

    Args:
        text: The query as the user typed it.

    Returns:
        The FTS5 query, or None when ``text`` holds no searchable word.

    >>> fts_query('C++ "AND" (tests)*')
    '"C" OR "AND" OR "tests"'
    >>> fts_query("?!") is None
    True
    """
    # The tokenizer folds case itself; lower() here only drops repeats.
    seen: dict[str, str] = {}
    for token in _TOKEN.findall(text):
        seen.setdefault(token.lower(), token)
        if len(seen) == MAX_TERMS:
            break
    if not seen:
        return None
    return " OR ".join(f'"{t}"' for t in seen.values())
