"""FakeOllama's stand-in embedding model: hashed word and word-pair features."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ragkit.testing._text import words

__all__ = ["embed_batch", "embed_text", "raw_vector"]

_KEY = b"ragkit-fake-ollama"
_PERSON = b"embed-word-v1"

_PAIR_WEIGHT = 0.5
"""How much an adjacent word pair counts, relative to a single word."""

_EMPTY_TOKEN = "\x00empty"
"""The feature a text without words is given, so its vector is a unit vector too."""

# Odd 64-bit constants for mixing two word hashes into a pair hash. Different
# multipliers for the left and right word keep "a b" and "b a" apart.
_LEFT = np.uint64(0x9E3779B97F4A7C15)
_RIGHT = np.uint64(0xC2B2AE3D27D4EB4F)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT_A = np.uint64(31)
_SHIFT_B = np.uint64(29)
_SIGN_BIT = np.uint64(1 << 40)
_MASK_63 = (1 << 63) - 1

_CACHE_LIMIT = 1 << 19
"""How many word hashes to keep before starting the cache afresh."""


# Unbounded on purpose: the unbounded lru_cache wrapper is a plain dict lookup,
# markedly faster than its LRU bookkeeping, and this lookup runs once per word
# of every text. _raw64 bounds the memory by clearing it when it grows large.
@functools.cache
def _word_hash(word: str) -> int:
    """A 63-bit hash of one word, stable across processes and Python versions."""
    digest = hashlib.blake2b(
        word.encode("utf-8", "surrogatepass"),
        digest_size=8,
        key=_KEY,
        person=_PERSON,
    ).digest()
    # 63 bits fit numpy's int64, whose conversion from Python ints is a fast
    # path (uint64 values above 2**63 take a slow one).
    return int.from_bytes(digest, "little") & _MASK_63


def _pair_hashes(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Hash every adjacent pair of word hashes, vectorised.

    Deriving pair hashes from word hashes (instead of hashing the joined
    strings) keeps embedding fast: pairs are mostly unique, so a per-string
    cache would rarely hit.
    """
    # Unsigned array arithmetic wraps modulo 2**64 without warnings.
    mixed = hashes[:-1] * _LEFT + hashes[1:] * _RIGHT
    mixed ^= mixed >> _SHIFT_A
    mixed *= _MIX
    mixed ^= mixed >> _SHIFT_B
    return mixed


def _signed_counts(
    features: npt.NDArray[np.uint64], dimension: np.uint64
) -> npt.NDArray[np.float64]:
    """Count features per (index, sign) bucket, damped to ``log2(1 + n)``.

    Damping per bucket rather than per feature needs no sort (np.unique
    would be the slowest step of embedding) and differs only where two
    features collide on the same index and sign.
    """
    index = (features % dimension).astype(np.intp) * 2
    index += (features & _SIGN_BIT) != 0
    counts = np.bincount(index, minlength=2 * int(dimension))
    damped = np.log2(1.0 + counts).reshape(-1, 2)
    result: npt.NDArray[np.float64] = damped[:, 1] - damped[:, 0]
    return result


def _check_dimension(dimension: int) -> None:
    if dimension < 1:
        raise ValueError(f"dimension must be at least 1, got {dimension}")


def raw_vector(text: str, dimension: int) -> npt.NDArray[np.float32]:
    """Embed a text without normalising, as nomic-bert models do on /api/embeddings.

    Each lower-cased word and each adjacent word pair is hashed to an index
    and a sign. A word that occurs ``n`` times adds ``log2(1 + n)`` (1 for a
    single occurrence) at its index, with its sign; a word pair adds half
    that at its own index. A text without words gets the feature of one
    fixed token, so it is never the zero vector.

    Args:
        text: The text to embed.
        dimension: The vector length (at least 1).

    Returns:
        A float32 vector of shape ``(dimension,)``.

    Raises:
        ValueError: If ``dimension`` is less than 1.
    """
    return _raw64(text, dimension).astype(np.float32)


def _raw64(text: str, dimension: int) -> npt.NDArray[np.float64]:
    _check_dimension(dimension)
    if _word_hash.cache_info().currsize > _CACHE_LIMIT:
        _word_hash.cache_clear()
    tokens = words(text) or [_EMPTY_TOKEN]
    count = len(tokens)
    hashes = np.fromiter(map(_word_hash, tokens), np.int64, count).view(np.uint64)
    size = np.uint64(dimension)
    out = _signed_counts(hashes, size)
    if count > 1:
        out += _PAIR_WEIGHT * _signed_counts(_pair_hashes(hashes), size)
    if not out.any():
        # Every feature cancelled out (possible in tiny dimensions): fall back
        # to a fixed axis so the vector can still be normalised.
        out[_word_hash(_EMPTY_TOKEN) % dimension] = 1.0
    return out


def embed_text(text: str, dimension: int) -> npt.NDArray[np.float32]:
    """Embed a text as a unit vector (what /api/embed returns).

    Texts that share words get close vectors, so retrieval over FakeOllama
    embeddings behaves like a (crude) real model. The result depends only on
    the text and the dimension: it is the same in every process.

    Args:
        text: The text to embed.
        dimension: The vector length (at least 1).

    Returns:
        An L2-normalised float32 vector of shape ``(dimension,)``.

    Raises:
        ValueError: If ``dimension`` is less than 1.
    """
    raw = _raw64(text, dimension)
    return (raw / np.linalg.norm(raw)).astype(np.float32)


def embed_batch(texts: Sequence[str], dimension: int) -> npt.NDArray[np.float32]:
    """Embed several texts; row ``i`` equals ``embed_text(texts[i], dimension)``.

    Args:
        texts: The texts to embed.
        dimension: The vector length (at least 1).

    Returns:
        A float32 array of shape ``(len(texts), dimension)``.

    Raises:
        ValueError: If ``dimension`` is less than 1.
    """
    _check_dimension(dimension)
    out = np.empty((len(texts), dimension), dtype=np.float32)
    # Row by row on purpose: a text must embed bit-for-bit the same alone and
    # inside a batch, so no batched arithmetic that could reorder sums.
    for row, text in enumerate(texts):
        out[row] = embed_text(text, dimension)
    return out
