"""FakeOllama's tokenizer and embedding model: exact, stable, meaningful."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import httpx
import numpy as np
import pytest

from ragkit.testing._embedding import embed_batch, embed_text, raw_vector
from ragkit.testing._text import count_tokens, tokenize, truncate_tokens, words

TRICKY_TEXTS = [
    "",
    " ",
    "\n\n\n",
    "Hello, world!",
    "a   b\t\tc \n d",
    "  leading and trailing  ",
    "internationalization and antidisestablishmentarianism",
    "Grüße aus Köln — naïve café, 東京は大きい。",
    "e\u0301cole (decomposed accent)",
    "emoji 🎉🎉 and flags 🇳🇴!",
    "snake_case_identifier_that_is_long = 42;",
    "3.14159 and 1,000,000 and -7",
    "tabs\tand\r\nwindows\r\nlines",
    "\u00a0non-breaking\u2003em space",
]


# --- tokenizer ---------------------------------------------------------------


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_tokens_concatenate_back_to_the_text(text: str) -> None:
    pieces = tokenize(text)
    assert "".join(pieces) == text
    assert all(pieces)


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_count_tokens_matches_tokenize(text: str) -> None:
    assert count_tokens(text) == len(tokenize(text))


def test_random_texts_round_trip_and_count_consistently() -> None:
    pool = "abcXYZ  \t\n\r.,;!?-_'\"()ßé東京🎉\u0301\u00a00123456789"
    rng = random.Random(20240601)
    for _ in range(300):
        text = "".join(rng.choice(pool) for _ in range(rng.randrange(0, 60)))
        text += "w" * rng.randrange(0, 20)
        pieces = tokenize(text)
        assert "".join(pieces) == text
        assert count_tokens(text) == len(pieces)
        limit = rng.randrange(0, len(pieces) + 2)
        assert truncate_tokens(text, limit) == "".join(pieces[:limit])


def test_words_punctuation_and_whitespace_become_pieces() -> None:
    assert tokenize("Hello, world!") == ["Hello", ",", " world", "!"]
    assert tokenize("a   b") == ["a", "  ", " b"]
    assert tokenize("end  ") == ["end", "  "]


def test_long_words_split_into_six_character_pieces() -> None:
    assert tokenize("internationalization") == ["intern", "ationa", "lizati", "on"]
    # The leading space rides on the first piece; 8 characters stay whole.
    assert tokenize(" abcdefghi") == [" abcdef", "ghi"]
    assert tokenize(" abcdefgh") == [" abcdefgh"]


def test_unicode_words_are_words() -> None:
    assert tokenize("Grüße Köln") == ["Grüße", " Köln"]
    assert words("Grüße aus KÖLN, 東京!") == ["grüße", "aus", "köln", "東京"]


def test_empty_text_has_no_tokens() -> None:
    assert tokenize("") == []
    assert count_tokens("") == 0


@pytest.mark.parametrize("text", TRICKY_TEXTS)
@pytest.mark.parametrize("limit", [0, 1, 2, 3, 5, 8, 100])
def test_truncate_keeps_the_longest_prefix_within_the_limit(
    text: str, limit: int
) -> None:
    cut = truncate_tokens(text, limit)
    assert text.startswith(cut)
    assert count_tokens(cut) <= limit
    pieces = tokenize(text)
    assert cut == "".join(pieces[:limit])


def test_truncate_cuts_inside_a_long_word_on_piece_boundaries() -> None:
    assert truncate_tokens("so internationalization", 3) == "so internationa"
    assert truncate_tokens("so internationalization", 1) == "so"


def test_truncate_with_room_returns_the_text_unchanged() -> None:
    assert truncate_tokens("two words", 2) == "two words"
    assert truncate_tokens("two words", -1) == ""


# --- embeddings --------------------------------------------------------------


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embedding_is_a_float32_unit_vector() -> None:
    vector = embed_text("The quick brown fox jumps over the lazy dog.", 384)
    assert vector.dtype == np.float32
    assert vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)


def test_embedding_is_deterministic_across_calls_and_processes() -> None:
    text = "FakeOllama embeddings are stable."
    first = embed_text(text, 64)
    assert np.array_equal(first, embed_text(text, 64))
    script = (
        "from ragkit.testing._embedding import embed_text;"
        f"print(embed_text({text!r}, 64).tobytes().hex())"
    )
    # A fresh interpreter with a different hash seed must agree bit for bit:
    # Python's own hash() is salted per process, blake2b is not.
    other = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert other.stdout.strip() == first.tobytes().hex()


def test_batch_rows_equal_texts_embedded_alone() -> None:
    texts = ["alpha beta", "", "gamma delta epsilon", "alpha beta", "Ünïcödé text"]
    batch = embed_batch(texts, 48)
    assert batch.shape == (5, 48)
    assert batch.dtype == np.float32
    for row, text in zip(batch, texts, strict=True):
        assert row.tobytes() == embed_text(text, 48).tobytes()


def test_empty_batch_has_zero_rows() -> None:
    assert embed_batch([], 16).shape == (0, 16)


def test_texts_sharing_words_are_closer_than_unrelated_ones() -> None:
    query = embed_text("How do I rebuild the vector index?", 256)
    related = embed_text("To rebuild the index, delete vectors.faiss.", 256)
    unrelated = embed_text("Bananas are rich in potassium and fibre.", 256)
    assert query @ related > query @ unrelated + 0.2


def test_word_order_matters_through_word_pairs() -> None:
    ab = embed_text("dog bites man", 512)
    ba = embed_text("man bites dog", 512)
    assert np.array_equal(ab, embed_text("Dog bites MAN!", 512))
    assert 0.5 < float(ab @ ba) < 0.999


def test_repeated_words_count_sublinearly() -> None:
    once = raw_vector("apple", 4096)
    thrice = raw_vector("apple apple apple", 4096)
    index = int(np.argmax(np.abs(once)))
    assert np.count_nonzero(once) == 1
    assert abs(float(once[index])) == 1.0
    # Three "apple"s weigh log2(1 + 3) = 2, not 3; the "apple apple" pair
    # occurs twice and lands elsewhere with half of log2(1 + 2).
    assert abs(float(thrice[index])) == 2.0
    others = np.delete(np.abs(thrice), index)
    assert others[others > 0].tolist() == pytest.approx([0.5 * np.log2(3)])


@pytest.mark.parametrize("text", ["", "   ", "!!! ... ???"])
def test_text_without_words_gets_a_fixed_unit_vector(text: str) -> None:
    vector = embed_text(text, 32)
    assert not np.isnan(vector).any()
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(vector, embed_text("", 32))


def test_tiny_dimension_still_gives_unit_vectors() -> None:
    for text in ["a", "a b", "a b c d e f g h", ""]:
        vector = embed_text(text, 1)
        assert vector.shape == (1,)
        assert abs(float(vector[0])) == pytest.approx(1.0)


def test_dimension_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="dimension"):
        embed_text("x", 0)
    with pytest.raises(ValueError, match="dimension"):
        raw_vector("x", -3)
    with pytest.raises(ValueError, match="dimension"):
        embed_batch(["x"], 0)


def test_raw_vector_is_the_unnormalised_embedding() -> None:
    text = "nomic bert models return raw vectors from the legacy endpoint"
    raw = raw_vector(text, 128)
    assert raw.dtype == np.float32
    assert np.linalg.norm(raw) > 1.5
    normalised = raw / np.linalg.norm(raw)
    np.testing.assert_allclose(normalised, embed_text(text, 128), atol=1e-6)


@pytest.mark.parametrize("path", ["/api/embed", "/v1/embeddings"])
@pytest.mark.parametrize("dimensions", [2, 10, 64])
def test_dimensions_give_unit_vectors_that_keep_shared_words_close(
    client: httpx.Client, path: str, dimensions: int
) -> None:
    # Short texts too: a real model's cut vector is never all zeros.
    texts = ["hi", "ok", "key rotation every ninety days", "rotation of the keys"]
    reply = client.post(
        path, json={"model": "all-minilm", "input": texts, "dimensions": dimensions}
    ).json()
    rows = (
        reply["embeddings"]
        if path == "/api/embed"
        else [item["embedding"] for item in reply["data"]]
    )
    vectors = np.array(rows, dtype=np.float64)
    assert vectors.shape == (4, dimensions)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    if dimensions >= 64:  # fewer buckets collide too often to compare
        assert _cosine(vectors[2], vectors[3]) > _cosine(vectors[2], vectors[0])
