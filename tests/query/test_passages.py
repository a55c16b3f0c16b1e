"""Merging neighbouring chunks into passages, and dropping repeated hits."""

from __future__ import annotations

import dataclasses

import pytest

from ragkit.query._passages import dedupe_hits, merge_neighbours
from ragkit.types import Chunk, Hit

DOC = "".join(f"Line {n:02d} of the guide says something.\n" for n in range(1, 21))
OTHER = "A different document.\nWith two lines.\n"


def chunk_at(start: int, end: int, *, doc: str = "guide.md", text: str = DOC, **kw):
    return Chunk(
        id=f"{doc}@{start}",
        document=doc,
        text=text[start:end],
        start=start,
        end=end,
        line_start=text.count("\n", 0, start) + 1,
        line_end=text.count("\n", 0, max(start, end - 1)) + 1,
        **kw,
    )


def hit_at(start: int, end: int, score: float, **kw) -> Hit:
    scores = {k: kw.pop(k) for k in ("vector_score", "lexical_score") if k in kw}
    return Hit(chunk=chunk_at(start, end, **kw), score=score, **scores)


def gap_from(texts: dict[str, str]):
    def gap_text(document: str, start: int, end: int) -> str | None:
        text = texts.get(document)
        return None if text is None else text[start:end]

    return gap_text


# Chunks of 100 characters that overlap by 30, like the chunker makes them.
A, B, C, D = (0, 100), (70, 170), (140, 240), (400, 500)


def test_overlapping_chunks_merge_into_the_exact_document_text() -> None:
    hits = [hit_at(*B, 0.9, vector_score=0.9), hit_at(*A, 0.7, lexical_score=4.0)]
    (merged,) = merge_neighbours(hits)
    assert merged.chunk.text == DOC[0:170]
    assert (merged.chunk.start, merged.chunk.end) == (0, 170)
    assert merged.chunk.id == "guide.md@0+guide.md@70"
    assert (merged.chunk.line_start, merged.chunk.line_end) == (1, 5)
    assert merged.score == 0.9
    assert (merged.vector_score, merged.lexical_score) == (0.9, 4.0)


def test_a_chain_of_three_merges_whatever_the_rank_order() -> None:
    hits = [hit_at(*C, 0.5), hit_at(*A, 0.4), hit_at(*B, 0.3)]
    (merged,) = merge_neighbours(hits)
    assert merged.chunk.text == DOC[0:240]
    assert merged.chunk.location == "guide.md:1-7"
    assert merged.score == 0.5


def test_merged_passage_takes_the_rank_of_its_best_member() -> None:
    hits = [
        hit_at(*D, 0.9),
        hit_at(*B, 0.8),
        hit_at(0, 60, 0.1, doc="x.md"),
        hit_at(*A, 0.7),
    ]
    merged = merge_neighbours(hits)
    assert [h.chunk.id for h in merged] == [
        "guide.md@400",
        "guide.md@0+guide.md@70",
        "x.md@0",
    ]
    assert merged[0] is hits[0]


def test_touching_chunks_merge() -> None:
    (merged,) = merge_neighbours([hit_at(0, 50, 0.2), hit_at(50, 120, 0.3)])
    assert merged.chunk.text == DOC[0:120]


def test_a_chunk_inside_another_or_repeated_adds_nothing() -> None:
    outer, inner = hit_at(0, 100, 0.2), hit_at(20, 60, 0.6)
    (merged,) = merge_neighbours([outer, inner, outer])
    assert merged.chunk.text == DOC[0:100]
    assert merged.chunk.id == "guide.md@0+guide.md@20"
    assert merged.score == 0.6


def test_separated_chunks_stay_apart_without_the_document_text() -> None:
    hits = [hit_at(0, 36, 0.5), hit_at(37, 80, 0.4)]
    assert merge_neighbours(hits) == hits


def test_a_whitespace_gap_is_bridged_when_the_text_is_known() -> None:
    # Offset 36 holds the newline after line 1.
    assert DOC[36] == "\n"
    hits = [hit_at(0, 36, 0.5), hit_at(37, 80, 0.4)]
    (merged,) = merge_neighbours(hits, gap_text=gap_from({"guide.md": DOC}))
    assert merged.chunk.text == DOC[0:80]
    assert (merged.chunk.line_start, merged.chunk.line_end) == (1, 3)


def test_a_gap_with_words_in_it_is_not_bridged() -> None:
    hits = [hit_at(0, 30, 0.5), hit_at(37, 80, 0.4)]
    assert merge_neighbours(hits, gap_text=gap_from({"guide.md": DOC})) == hits


def test_an_unknown_gap_is_not_bridged() -> None:
    hits = [hit_at(0, 36, 0.5), hit_at(37, 80, 0.4)]
    assert merge_neighbours(hits, gap_text=gap_from({})) == hits
    wrong_length = merge_neighbours(hits, gap_text=lambda doc, start, end: "  ")
    assert wrong_length == hits


def test_a_gap_between_sections_is_not_bridged() -> None:
    first = hit_at(0, 36, 0.5, heading_path=("Intro",))
    second = hit_at(37, 80, 0.4, heading_path=("Usage",))
    gap_text = gap_from({"guide.md": DOC})
    assert merge_neighbours([first, second], gap_text=gap_text) == [first, second]
    other_page = [hit_at(0, 36, 0.5, page=1), hit_at(37, 80, 0.4, page=2)]
    assert merge_neighbours(other_page, gap_text=gap_text) == other_page


def test_chunks_of_different_documents_never_merge() -> None:
    hits = [hit_at(0, 20, 0.5), hit_at(10, 30, 0.4, doc="other.md", text=OTHER)]
    assert merge_neighbours(hits) == hits


def test_chunks_whose_text_disagrees_with_their_span_stay_apart() -> None:
    good = hit_at(*A, 0.5)
    short = Hit(dataclasses.replace(chunk_at(*B), text=DOC[70:160]), 0.4)
    assert merge_neighbours([good, short]) == [good, short]
    lying = Hit(dataclasses.replace(chunk_at(*B), text="x" * 100), 0.4)
    assert merge_neighbours([good, lying]) == [good, lying]
    contained = Hit(dataclasses.replace(chunk_at(10, 20), text="y" * 10), 0.3)
    assert merge_neighbours([good, contained]) == [good, contained]


def test_max_chars_stops_a_merge() -> None:
    hits = [hit_at(*A, 0.5), hit_at(*B, 0.4), hit_at(*C, 0.3)]
    merged = merge_neighbours(hits, max_chars=200)
    assert [h.chunk.text for h in merged] == [DOC[0:170], DOC[140:240]]
    assert merge_neighbours(hits, max_chars=240)[0].chunk.text == DOC[0:240]


def test_keeps_page_headings_and_metadata_of_the_first_member() -> None:
    meta = {"team": "docs"}
    hits = [
        hit_at(*B, 0.4, page=3, heading_path=("Setup",), metadata=meta),
        hit_at(*A, 0.5, page=3, heading_path=("Setup",), metadata=meta),
    ]
    (merged,) = merge_neighbours(hits)
    assert merged.chunk.page == 3
    assert merged.chunk.heading_path == ("Setup",)
    assert dict(merged.chunk.metadata) == meta


def test_merging_nothing() -> None:
    assert merge_neighbours([]) == []


@pytest.mark.parametrize("size", [60, 97, 150])
def test_every_overlapping_split_of_a_document_rebuilds_it(size: int) -> None:
    step = size - 20
    spans = [(s, min(s + size, len(DOC))) for s in range(0, len(DOC) - 20, step)]
    hits = [hit_at(s, e, 1.0 / (i + 1)) for i, (s, e) in enumerate(reversed(spans))]
    (merged,) = merge_neighbours(hits)
    assert merged.chunk.text == DOC[: spans[-1][1]]
    assert merged.chunk.line_start == 1
    assert merged.chunk.line_end == DOC.count("\n", 0, spans[-1][1] - 1) + 1


# --- dedupe -------------------------------------------------------------------


def test_dedupe_keeps_the_first_of_each_chunk() -> None:
    a, b = hit_at(*A, 0.9), hit_at(*B, 0.8)
    again = dataclasses.replace(a, score=0.1)
    assert dedupe_hits([a, b, again]) == [a, b]


def test_dedupe_by_text_drops_copies_from_other_files() -> None:
    original = hit_at(0, 22, 0.9, doc="a.md", text=OTHER)
    copy = Hit(dataclasses.replace(original.chunk, id="b", document="b.md"), 0.8)
    spaced = Hit(
        dataclasses.replace(original.chunk, id="c", text="A  different\tdocument."), 0.7
    )
    assert dedupe_hits([original, copy, spaced]) == [original, copy, spaced]
    assert dedupe_hits([original, copy, spaced], by_text=True) == [original]


def test_dedupe_of_nothing() -> None:
    assert dedupe_hits([]) == []
