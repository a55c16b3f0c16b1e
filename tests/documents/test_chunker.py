"""The chunker: invariants over random documents, sizes, overlap, ids, the estimate."""

from __future__ import annotations

import doctest
import itertools
import random
import re
from collections.abc import Iterator

import pytest

from ragkit.documents import (
    ChunkingOptions,
    _chunker,
    chunk_document,
    chunk_id,
    estimate_tokens,
)
from ragkit.errors import ConfigError
from ragkit.types import Chunk, Document, Section

WORDS = (
    "the a of rotation key keys API rotated every days grace period deploy canary "
    "latency p99 gateway Kafka partition Reef snapshot restore drill 2024 1,000 "
    "3.14 e.g. café naïve Straße internationalization über-long_identifier_name "
    "x=1; f(x) {a: b} 日本語 テキスト 데이터"
).split()
ENDINGS = [".", ".", ".", "?", "!", "。", ":", ""]


def random_text(rng: random.Random, paragraphs: int) -> str:
    out: list[str] = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(1, 12)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 40))]
            if rng.random() < 0.03:
                words.append("x" * rng.randint(100, 3000))  # a blob with no spaces
            sentences.append(" ".join(words) + rng.choice(ENDINGS))
        sep = rng.choice([" ", " ", "\n", "  "])
        out.append(sep.join(sentences))
    joiner = rng.choice(["\n\n", "\n\n\n", "\n \n", "\r\n\r\n".replace("\r", "")])
    return joiner.join(out) + rng.choice(["", "\n", "\n\n  "])


def random_document(rng: random.Random) -> Document:
    text = random_text(rng, rng.randint(1, 15))
    cuts = sorted(
        rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 6)))
    )
    bounds = [0, *cuts, len(text)]
    sections = tuple(
        Section(
            a, b, page=i + 1 if rng.random() < 0.5 else None, heading_path=(f"h{i}",)
        )
        for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))
    )
    return Document(
        path=f"doc{rng.randint(0, 10**6)}.md",
        text=text,
        sections=sections if rng.random() < 0.8 else (),
        metadata={"team": "ops"},
    )


def random_options(rng: random.Random) -> ChunkingOptions:
    target = rng.choice([16, 32, 64, 128, 384])
    return ChunkingOptions(
        target_tokens=target,
        overlap_tokens=rng.choice([0, target // 8, target // 3]),
        max_tokens=rng.choice([None, target, target * 2, max(8, target // 2)]),
        min_tokens=rng.choice([0, 8, 32]),
    )


def section_of(doc: Document, chunk: Chunk) -> Section:
    sections = doc.sections or (Section(0, len(doc.text)),)
    (section,) = [s for s in sections if s.start <= chunk.start and chunk.end <= s.end]
    return section


def cases(count: int) -> Iterator[tuple[Document, ChunkingOptions]]:
    rng = random.Random(20240502)
    for _ in range(count):
        yield random_document(rng), random_options(rng)


@pytest.mark.parametrize(("doc", "options"), list(cases(80)))
def test_invariants_on_random_documents(
    doc: Document, options: ChunkingOptions
) -> None:
    chunks = list(chunk_document(doc, options))
    text = doc.text
    assert chunks, "a document with text yields chunks"
    cap = max(options.cap, options.effective_target)
    previous: Chunk | None = None
    for chunk in chunks:
        # Exact substring, trimmed.
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text == chunk.text.strip() and chunk.text
        # Lines from the text itself.
        assert chunk.line_start == text.count("\n", 0, chunk.start) + 1
        assert chunk.line_end == text.count("\n", 0, chunk.end - 1) + 1
        # One section, its location.
        section = section_of(doc, chunk)
        assert (chunk.page, chunk.heading_path) == (section.page, section.heading_path)
        assert chunk.document == doc.path
        assert chunk.metadata == doc.metadata
        # Never above the cap.
        assert estimate_tokens(chunk.text) <= cap
        # Never cut inside a word, unless the word alone is over the cap.
        for edge in (chunk.start, chunk.end):
            if edge in (section.start, section.end):
                continue
            if text[edge - 1].isspace() or text[edge].isspace():
                continue
            left, right = edge, edge
            while left > section.start and not text[left - 1].isspace():
                left -= 1
            while right < section.end and not text[right].isspace():
                right += 1
            word = text[left:right]
            assert estimate_tokens(word) > cap, f"cut inside {word!r} at {edge}"
        assert chunk.id == chunk_id(doc.path, chunk.start, chunk.text)
        if previous is not None and section_of(doc, previous) == section:
            assert previous.start < chunk.start
            if chunk.start < previous.end:
                overlap = text[chunk.start : previous.end]
                assert estimate_tokens(overlap) <= options.overlap_tokens
        previous = chunk
    # Nothing lost: every non-space character of every section is in a chunk.
    covered = bytearray(len(text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    sections = doc.sections or (Section(0, len(text)),)
    for section in sections:
        for i in range(section.start, section.end):
            assert covered[i] or text[i].isspace()
    # Deterministic.
    assert chunks == list(chunk_document(doc, options))
    assert len({c.id for c in chunks}) == len(chunks)


PROSE = " ".join(
    f"Sentence number {i} says that keys rotate every ninety days." for i in range(60)
)


def test_chunks_pack_up_to_the_target_and_overlap_by_whole_sentences() -> None:
    doc = Document("p.md", PROSE)
    options = ChunkingOptions(target_tokens=64, overlap_tokens=20, min_tokens=0)
    chunks = list(chunk_document(doc, options))
    assert len(chunks) > 5
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert estimate_tokens(before.text) <= 64
        shared = PROSE[after.start : before.end]
        assert shared.startswith("Sentence number ") and shared.endswith("days.")
        assert 0 < estimate_tokens(shared) <= 20
    # Packed: each chunk is at least half full.
    assert all(estimate_tokens(c.text) > 32 for c in chunks[:-1])


def test_overlap_falls_back_to_words_in_a_long_sentence() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    chunks = list(
        chunk_document(
            Document("w", text), ChunkingOptions(target_tokens=64, overlap_tokens=10)
        )
    )
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = text[after.start : before.end]
        assert shared and estimate_tokens(shared) <= 10
        assert text[after.start - 1] == " "


def test_no_overlap_when_zero() -> None:
    chunks = list(
        chunk_document(
            Document("p", PROSE), ChunkingOptions(target_tokens=64, overlap_tokens=0)
        )
    )
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start >= before.end


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    paragraphs = [f"Paragraph {i}. " + "Some words here. " * 5 for i in range(10)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    chunks = list(
        chunk_document(
            Document("p", text), ChunkingOptions(target_tokens=64, overlap_tokens=0)
        )
    )
    for chunk in chunks:
        assert chunk.text.startswith("Paragraph ")
        assert chunk.text.endswith("here.")


def paragraph_of(tokens: int) -> str:
    """A paragraph whose estimate is exactly ``tokens``."""
    words: list[str] = []
    while estimate_tokens(" ".join(words)) < tokens:
        words.append("word")
    text = " ".join(words)
    assert estimate_tokens(text) == tokens
    return text


def test_a_tiny_last_piece_is_merged() -> None:
    # Two paragraphs that each nearly fill a chunk, then a tiny one that
    # does not fit after the second.
    first, second = paragraph_of(60), paragraph_of(62)
    text = f"{first}\n\n{second}\n\nEnd."
    merged = ChunkingOptions(target_tokens=64, overlap_tokens=0, min_tokens=8)
    chunks = list(chunk_document(Document("m", text), merged))
    assert [c.text for c in chunks] == [first, f"{second}\n\nEnd."]
    kept = ChunkingOptions(target_tokens=64, overlap_tokens=0, min_tokens=0)
    chunks = list(chunk_document(Document("m", text), kept))
    assert [c.text for c in chunks] == [first, second, "End."]


def test_max_tokens_lowers_the_target() -> None:
    options = ChunkingOptions(target_tokens=384, max_tokens=40)
    assert options.effective_target == 40
    for chunk in chunk_document(Document("p", PROSE), options):
        assert estimate_tokens(chunk.text) <= 40


def test_a_blob_without_spaces_is_cut_at_character_boundaries() -> None:
    blob = "QUJD" * 5000
    text = f"before {blob} after"
    options = ChunkingOptions(target_tokens=64, max_tokens=100, overlap_tokens=0)
    chunks = list(chunk_document(Document("b", text), options))
    assert all(estimate_tokens(c.text) <= 100 for c in chunks)
    # The pieces tile the text: nothing lost, nothing repeated.
    assert (
        "".join(text[a.start : b.start] for a, b in itertools.pairwise(chunks))
        + (chunks[-1].text)
        == text
    )
    assert len(chunks) > len(blob) * 10 // (35 * 100)


def test_hard_cuts_keep_combining_marks_with_their_letter() -> None:
    blob = "e\u0301" * 2000  # "é" as a letter and a combining accent
    chunks = list(
        chunk_document(
            Document("c", blob), ChunkingOptions(target_tokens=16, overlap_tokens=0)
        )
    )
    assert len(chunks) > 1
    for chunk in chunks:
        assert not chunk.text.startswith("\u0301")
    assert "".join(c.text for c in chunks) == blob


def test_a_word_over_the_target_but_under_the_cap_stays_whole() -> None:
    word = "supercalifragilistic" * 8  # 160 characters, about 46 tokens
    text = f"short words {word} more words"
    options = ChunkingOptions(target_tokens=32, max_tokens=64, overlap_tokens=0)
    assert any(
        c.text == word or word in c.text
        for c in chunk_document(Document("w", text), options)
    )


def test_sections_are_never_straddled() -> None:
    text = "First part text. " * 3 + "Second part text. " * 3
    middle = len("First part text. " * 3)
    doc = Document(
        "s",
        text,
        sections=(Section(0, middle, page=1), Section(middle, len(text), page=2)),
    )
    chunks = list(chunk_document(doc))
    assert [(c.page, c.text.split()[0]) for c in chunks] == [
        (1, "First"),
        (2, "Second"),
    ]


def test_whitespace_only_sections_and_empty_documents_yield_nothing() -> None:
    assert list(chunk_document(Document("e", ""))) == []
    doc = Document("w", "\n\n   \n", sections=(Section(0, 3), Section(3, 6)))
    assert list(chunk_document(doc)) == []


def test_chunk_ids_depend_on_path_position_and_text() -> None:
    base = chunk_id("a.md", 0, "text")
    assert len(base) == 24 and re.fullmatch("[0-9a-f]+", base)
    assert base == chunk_id("a.md", 0, "text")
    assert (
        len(
            {
                base,
                chunk_id("b.md", 0, "text"),
                chunk_id("a.md", 1, "text"),
                chunk_id("a.md", 0, "texT"),
            }
        )
        == 4
    )


def test_chunking_is_lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "\n\n".join(PROSE for _ in range(200))
    seen = 0

    def counting(piece: str) -> int:
        nonlocal seen
        seen += len(piece)
        return estimate_tokens(piece)

    monkeypatch.setattr(_chunker, "estimate_tokens", counting)
    chunks = chunk_document(Document("big", text))
    first = next(chunks)
    assert first.start == 0
    assert seen < len(text) // 20
    chunks.close()


def test_line_numbers_on_a_document_with_many_lines() -> None:
    text = "\n".join(f"line {i} of the log file" for i in range(1, 5001))
    chunks = list(
        chunk_document(Document("log", text), ChunkingOptions(overlap_tokens=0))
    )
    assert chunks[0].line_start == 1
    assert chunks[-1].line_end == 5000
    for chunk in chunks:
        assert chunk.text.startswith(f"line {chunk.line_start} ")
        assert chunk.text.split("\n")[-1].startswith(f"line {chunk.line_end} ")


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("The quick brown fox jumps over the lazy dog.", 13),
        # Code: punctuation counts, identifiers split at "_".
        ("def compute_total(items: list[int]) -> int:", 21),
        # CJK: at least one token per character.
        ("東京都の人口は約千四百万人です。", 18),
        # Numbers: one per run plus one per three digits.
        ("Call 555-0199 or 1234567890 before 2024-05-02.", 25),
        # Long words: the length rule wins.
        ("internationalization", 6),
    ],
)
def test_token_estimate_samples(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_token_estimate_is_at_least_a_third_of_the_characters() -> None:
    rng = random.Random(7)
    for _ in range(200):
        text = random_text(rng, 2)
        assert estimate_tokens(text) * 3.5 >= len(text)


def test_token_estimate_never_exceeds_the_sum_of_its_parts() -> None:
    # The chunker adds piece estimates up; this is what keeps chunks under the cap.
    rng = random.Random(11)
    for _ in range(300):
        text = random_text(rng, 1)
        cut = rng.randrange(len(text) + 1)
        assert estimate_tokens(text) <= estimate_tokens(text[:cut]) + estimate_tokens(
            text[cut:]
        )


def test_latin1_fast_path_counts_like_the_regexes() -> None:
    rng = random.Random(5)
    alphabet = "ab Z9 0_.,\n\t\xe9\xa0\xd7\x85()12345ß"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        # A character outside Latin-1 sends the text down the regex path.
        assert estimate_tokens(text + "\u0100") >= estimate_tokens(text)
        pieces = _chunker._count_pieces(text)
        expected = max(-(-13 * pieces // 10), -(-10 * len(text) // 35))
        assert estimate_tokens(text) == expected


def test_chunking_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="target_tokens"):
        ChunkingOptions(target_tokens=4)
    with pytest.raises(ConfigError, match="max_tokens"):
        ChunkingOptions(max_tokens=2)
    with pytest.raises(ConfigError, match="overlap_tokens"):
        ChunkingOptions(overlap_tokens=-1)
    with pytest.raises(ConfigError, match="min_tokens"):
        ChunkingOptions(min_tokens=-1)
    assert ChunkingOptions(target_tokens=100).cap == 200
    assert ChunkingOptions(target_tokens=100, max_tokens=512).cap == 512


def test_doctests() -> None:
    assert doctest.testmod(_chunker).failed == 0
