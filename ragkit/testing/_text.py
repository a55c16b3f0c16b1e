"""FakeOllama's stand-in tokenizer: word-piece sized tokens and lower-cased words."""

from __future__ import annotations

import re

__all__ = ["count_tokens", "tokenize", "truncate_tokens", "words"]

# One token is: a word with at most one leading whitespace character, one
# punctuation character with at most one leading whitespace character, or a
# run of whitespace. A whitespace run before a word gives up its last
# character to the word (the `(?!\S)` look-ahead), as byte-pair tokenizers do,
# so "a   b" is "a", "  ", " b". Every character of the text lands in exactly
# one token, which is what makes streaming token by token lossless.
_PIECE = re.compile(r"\s?\w+|\s?[^\w\s]|\s+(?!\S)|\s+")
_WORD = re.compile(r"\w+")

_LONG_WORD = 8
"""Words longer than this are split into sub-word pieces."""

_SUBWORD = 6
"""The length of the sub-word pieces a long word is split into."""

_LONG_WORDS = re.compile(rf"\w{{{_LONG_WORD + 1},}}")


def _subword_count(piece: str) -> int:
    """How many tokens one regex piece stands for (1, or more for a long word)."""
    # Punctuation pieces are at most two characters long, so a long piece that
    # does not end in whitespace is a word, possibly with one leading space.
    if len(piece) <= _LONG_WORD or piece[-1].isspace():
        return 1
    word_length = len(piece) - 1 if piece[0].isspace() else len(piece)
    if word_length <= _LONG_WORD:
        return 1
    return -(-word_length // _SUBWORD)


def tokenize(text: str) -> list[str]:
    """Split a text into token pieces that concatenate back to exactly ``text``.

    A word with its leading whitespace is a piece, punctuation is a piece of
    its own, and a word longer than 8 characters is cut into pieces of at most
    6 characters (the leading whitespace rides on the first one).

    Args:
        text: Any text.

    Returns:
        The pieces, in order; ``"".join(tokenize(text)) == text``.

    >>> tokenize("Hello, internationalization!")
    ['Hello', ',', ' intern', 'ationa', 'lizati', 'on', '!']
    """
    pieces: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group()
        if _subword_count(piece) == 1:
            pieces.append(piece)
            continue
        lead = 1 if piece[0].isspace() else 0
        word = piece[lead:]
        pieces.append(piece[:lead] + word[:_SUBWORD])
        pieces.extend(
            word[start : start + _SUBWORD]
            for start in range(_SUBWORD, len(word), _SUBWORD)
        )
    return pieces


def count_tokens(text: str) -> int:
    """Count the tokens of a text, as ``len(tokenize(text))`` without the list.

    Args:
        text: Any text.

    Returns:
        The number of token pieces.
    """
    # Every run of word characters is exactly one piece's word, so counting
    # the pieces in C and adding the extra pieces of long words is exact.
    extra = sum(-(-len(word) // _SUBWORD) - 1 for word in _LONG_WORDS.findall(text))
    return len(_PIECE.findall(text)) + extra


def truncate_tokens(text: str, limit: int) -> str:
    """Return the longest prefix of a text made of at most ``limit`` tokens.

    Args:
        text: Any text.
        limit: The most tokens to keep; zero or less gives ``""``.

    Returns:
        A prefix of ``text`` (the whole text when it is short enough).
    """
    if limit <= 0:
        return ""
    used = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        count = _subword_count(piece)
        if used + count <= limit:
            used += count
            continue
        # Only part of this piece fits: keep whole sub-word pieces of it.
        room = limit - used
        if room == 0:
            return text[: match.start()]
        lead = 1 if piece[0].isspace() else 0
        return text[: match.start() + lead + room * _SUBWORD]
    return text


def words(text: str) -> list[str]:
    """Return the lower-cased words of a text (Unicode-aware ``\\w+`` runs).

    Args:
        text: Any text.

    Returns:
        The words in order, duplicates kept.

    >>> words("Grüße, World_2!")
    ['grüße', 'world_2']
    """
    return _WORD.findall(text.lower())
