"""Turning a user's query text into safe FTS5 query expressions."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "MAX_TERMS",
    "any_of",
    "first_of_several",
    "only_one_of",
    "query_terms",
]

MAX_TERMS = 64
"""Terms kept from one query; a pasted page of text still searches quickly."""

# The unicode61 tokenizer splits on everything that is not a letter, a number
# or a private-use character; matching its idea of a token means a quoted term
# never straddles what the index holds as two tokens.
_TOKEN = re.compile(r"[^\W_]+")


def query_terms(text: str) -> list[str]:
    """The distinct words of ``text`` as FTS5 will see them, first spelling kept.

    >>> query_terms("Index the INDEX, index_name!")
    ['Index', 'the', 'name']
    """
    # The tokenizer folds case itself; lower() here only drops repeats.
    seen: dict[str, str] = {}
    for token in _TOKEN.findall(text):
        seen.setdefault(token.lower(), token)
        if len(seen) == MAX_TERMS:
            break
    return list(seen.values())


def any_of(terms: Sequence[str]) -> str:
    """Chunks holding any of ``terms`` (words from :func:`query_terms`).

    Every term is quoted, so FTS5 operators typed by the user (``AND``,
    ``NOT``, ``*``, ``-``, ``^``, parentheses, column filters) are searched
    as words instead of being obeyed.

    >>> any_of(query_terms('C++ "AND" (tests)*'))
    '"C" OR "AND" OR "tests"'
    """
    return " OR ".join(_quoted(terms))


def first_of_several(terms: Sequence[str], index: int) -> str:
    """Chunks holding ``terms[index]``, another later term, and no earlier one.

    The expressions for ``index`` 0 to ``len(terms) - 2`` split the chunks
    holding two or more of the terms between them, each chunk in one. Every
    term a chunk holds is counted by ``bm25()`` once, in ``terms`` order, so
    the scores are bit for bit those :func:`any_of` gives (the terms it does
    not hold add zeros). Run each as its own query: FTS5 counts a word where
    its iterator stands, and in one big OR of these an exhausted branch can
    leave an iterator standing on another branch's row.

    >>> first_of_several(["a", "b", "c"], 0)
    '"a" AND ("b" OR "c")'
    >>> first_of_several(["a", "b", "c"], 1)
    '("b" AND ("c")) NOT ("a")'
    """
    quoted = _quoted(terms)
    expression = f"{quoted[index]} AND ({' OR '.join(quoted[index + 1 :])})"
    if index:
        expression = f"({expression}) NOT ({' OR '.join(quoted[:index])})"
    return expression


def only_one_of(terms: Sequence[str], index: int) -> str:
    """Chunks holding ``terms[index]`` and none of the other terms.

    >>> only_one_of(["a", "b", "c"], 1)
    '"b" NOT ("a" OR "c")'
    """
    quoted = _quoted(terms)
    others = quoted[:index] + quoted[index + 1 :]
    return f"{quoted[index]} NOT ({' OR '.join(others)})"


def _quoted(terms: Sequence[str]) -> list[str]:
    # Terms are runs of letters and digits (see _TOKEN): no quote to escape.
    return [f'"{t}"' for t in terms]
