"""The answer schema, reply parsing and citation verification."""

from __future__ import annotations

import json
import random

import pytest

from ragkit.errors import CitationError
from ragkit.query._citations import (
    ANSWER_SCHEMA,
    FALLBACK_WARNING,
    RawCitation,
    _best_end,
    fallback_answer,
    fallback_text,
    format_source,
    normalise,
    parse_answer,
    verify_citations,
)
from ragkit.types import Chunk, Hit

GUIDE = (
    "Installing ragkit\n"
    "Run the installer with the --user flag to keep the system clean.\n"
    "The index is stored in a hidden folder called .ragkit by default.\n"
    "\n"
    "Rebuilding takes about “three minutes” on a laptop — longer for PDFs…\n"
)
FAQ = "Questions are answered from the indexed documents only.\nNothing else."


def make_hit(text: str, *, doc: str = "guide.md", line: int = 1, score: float = 0.5):
    chunk = Chunk(
        id=f"{doc}:{line}",
        document=doc,
        text=text,
        start=0,
        end=len(text),
        line_start=line,
        line_end=line + text[:-1].count("\n"),
        page=3,
        heading_path=("Install", "Linux"),
    )
    return Hit(chunk=chunk, score=score)


PASSAGES = (make_hit(GUIDE, line=10, score=0.9), make_hit(FAQ, doc="faq.md", score=0.4))


def verify_one(source: int, quote: str, passages=PASSAGES):
    (citation,) = verify_citations([RawCitation(source, quote)], passages)
    return citation


# --- the schema ---------------------------------------------------------------


def _check(instance: object, schema: dict) -> bool:
    """Just enough JSON Schema to check the keywords ANSWER_SCHEMA uses."""
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(instance, dict):
            return False
        if any(key not in instance for key in schema.get("required", [])):
            return False
        props = schema.get("properties", {})
        return all(_check(instance[k], props[k]) for k in instance if k in props)
    if kind == "array":
        return isinstance(instance, list) and all(
            _check(item, schema["items"]) for item in instance
        )
    if kind == "integer":
        ok = isinstance(instance, int) and not isinstance(instance, bool)
        return ok and instance >= schema.get("minimum", instance)
    if kind == "string":
        return isinstance(instance, str)
    raise AssertionError(f"keyword not expected in the answer schema: {kind}")


def test_schema_is_plain_json_with_the_contract_fields() -> None:
    assert json.loads(json.dumps(ANSWER_SCHEMA)) == ANSWER_SCHEMA
    assert ANSWER_SCHEMA["required"] == ["answer", "citations"]
    item = ANSWER_SCHEMA["properties"]["citations"]["items"]
    assert item["required"] == ["source", "quote"]
    assert item["properties"]["source"]["type"] == "integer"
    assert "additionalProperties" not in json.dumps(ANSWER_SCHEMA)


def test_schema_accepts_a_sample_answer_and_rejects_broken_ones() -> None:
    good = {"answer": "Use --user.", "citations": [{"source": 1, "quote": "x y z"}]}
    assert _check(good, ANSWER_SCHEMA)
    assert _check({"answer": "No.", "citations": []}, ANSWER_SCHEMA)
    assert not _check({"answer": "No."}, ANSWER_SCHEMA)
    assert not _check({"answer": 3, "citations": []}, ANSWER_SCHEMA)
    bad_source = {"answer": "a", "citations": [{"source": 0, "quote": "q"}]}
    assert not _check(bad_source, ANSWER_SCHEMA)
    no_quote = {"answer": "a", "citations": [{"source": 1}]}
    assert not _check(no_quote, ANSWER_SCHEMA)


def test_a_valid_reply_parses_back_to_what_was_sent() -> None:
    reply = {"answer": "Use --user.", "citations": [{"source": 2, "quote": "q"}]}
    parsed = parse_answer(json.dumps(reply))
    assert parsed.answer == "Use --user."
    assert parsed.citations == [RawCitation(2, "q")]


# --- parsing: leniency ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (2, 2),
        (2.0, 2),
        ("2", 2),
        (" 2 ", 2),
        ("[2]", 2),
        ("Source 2", 2),
        ("source #2", 2),
        ("[Source 2]", 2),
        ("passage 12", 12),
        (7, 7),
    ],
)
def test_source_numbers_written_loosely_are_understood(
    source: object, expected: int
) -> None:
    content = json.dumps(
        {"answer": "a", "citations": [{"source": source, "quote": "q"}]}
    )
    assert parse_answer(content).citations[0].source == expected


def test_code_fences_around_the_json_are_removed() -> None:
    body = json.dumps({"answer": "a", "citations": []})
    assert parse_answer(f"```json\n{body}\n```").answer == "a"
    assert parse_answer(f"  ```\n{body}```  ").answer == "a"


def test_prose_before_a_single_object_is_skipped() -> None:
    body = json.dumps({"answer": "a", "citations": []})
    assert parse_answer(f"Here is the answer: {body}\n").answer == "a"


def test_a_citation_without_quote_keeps_an_empty_quote() -> None:
    content = json.dumps({"answer": "a", "citations": [{"source": 1}]})
    assert parse_answer(content).citations == [RawCitation(1, "")]
    content = json.dumps({"answer": "a", "citations": [{"source": 1, "quote": None}]})
    assert parse_answer(content).citations == [RawCitation(1, "")]


def test_missing_or_null_citations_mean_none() -> None:
    assert parse_answer('{"answer": "a"}').citations == []
    assert parse_answer('{"answer": "a", "citations": null}').citations == []


# --- parsing: errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("```json\n```", "empty"),
        ("The answer is 42.", "not valid JSON"),
        ('{"answer": "cut off', "not valid JSON"),
        ('Sure: {"answer": "a"} and more', "not valid JSON"),
        ("[1, 2]", "JSON array, not an object"),
        ('"just text"', "JSON string, not an object"),
        ('{"citations": []}', "no 'answer'"),
        ('{"answer": null, "citations": []}', "no 'answer'"),
        ('{"answer": 42, "citations": []}', "'answer' is a number"),
        ('{"answer": "a", "citations": {"source": 1}}', "'citations' is a object"),
        ('{"answer": "a", "citations": ["[1]"]}', "citation 1 is a string"),
        (
            '{"answer": "a", "citations": [{"quote": "q"}]}',
            "citation 1 has no 'source'",
        ),
        ('{"answer": "a", "citations": [{"source": "two", "quote": "q"}]}', "two"),
        ('{"answer": "a", "citations": [{"source": 1.5, "quote": "q"}]}', "1.5"),
        ('{"answer": "a", "citations": [{"source": true, "quote": "q"}]}', "true"),
        ('{"answer": "a", "citations": [{"source": null, "quote": "q"}]}', "null"),
        ('{"answer": "a", "citations": [{"source": 1, "quote": 5}]}', "is a number"),
        (
            '{"answer": "a", "citations": [{"source": 1, "quote": "q"}, 3]}',
            "citation 2",
        ),
        ("[" * 100_000 + "]" * 100_000, "too deeply"),
    ],
)
def test_malformed_replies_raise_citation_error(content: str, message: str) -> None:
    with pytest.raises(CitationError, match=message.replace("[", r"\[")):
        parse_answer(content)


def test_citation_error_is_a_query_error_with_a_cause_for_bad_json() -> None:
    with pytest.raises(CitationError) as info:
        parse_answer("{nope")
    assert isinstance(info.value.__cause__, json.JSONDecodeError)
    assert "line 1 column 2" in str(info.value)


# --- normalisation ------------------------------------------------------------


def test_normalise_folds_case_width_typography_and_whitespace() -> None:
    text, positions = normalise("  Ｆｕｌｌ\u00a0width — “Quotes”…\n\tand ﬁne STRASSE ")
    assert text == 'full width - "quotes"... and fine strasse'
    assert len(positions) == len(text)


def test_normalise_maps_each_character_back_to_the_original() -> None:
    original = "A  b\u00adc\n\nD\u2019e"
    text, positions = normalise(original)
    assert text == "a bc d'e"
    assert [original[p] for p in positions] == [
        "A",
        " ",
        "b",
        "c",
        "\n",
        "D",
        "\u2019",
        "e",
    ]


def test_normalise_composes_combining_marks() -> None:
    decomposed = "Cafe\u0301 au lait"
    composed = "Caf\u00e9 au lait"
    assert normalise(decomposed)[0] == normalise(composed)[0] == "café au lait"
    assert normalise(decomposed)[1][3] == 3


# --- verification: accepted quotes ------------------------------------------------


def test_exact_quote_is_verified_with_its_line_span() -> None:
    citation = verify_one(1, "The index is stored in a hidden folder")
    assert citation.verified and citation.reason == ""
    assert citation.chunk is PASSAGES[0].chunk
    assert citation.score == 0.9
    assert (citation.line_start, citation.line_end) == (12, 12)
    assert citation.path == "guide.md" and citation.page == 3
    assert citation.heading_path == ("Install", "Linux")


def test_quote_across_lines_spans_them() -> None:
    citation = verify_one(1, "keep the system clean. The index is stored")
    assert citation.verified
    assert (citation.line_start, citation.line_end) == (11, 12)


def test_quote_on_the_first_line_starts_at_the_chunk_line() -> None:
    citation = verify_one(2, "Questions are answered from the indexed documents")
    assert citation.verified
    assert (citation.line_start, citation.line_end) == (1, 1)


@pytest.mark.parametrize(
    "quote",
    [
        "RUN THE INSTALLER with the --user flag",
        "Run   the installer\nwith the  --user flag",
        '"Run the installer with the --user flag."',
        "...run the installer with the --user flag to keep the system clean!",
        'takes about "three minutes" on a laptop - longer for PDFs...',
        "takes about \u201cthree minutes\u201d on a laptop \u2013 longer",
        "Ｒｕｎ ｔｈｅ installer with the",
    ],
)
def test_case_whitespace_punctuation_and_typography_do_not_matter(quote: str) -> None:
    citation = verify_one(1, quote)
    assert citation.verified, citation.reason


@pytest.mark.parametrize(
    "quote",
    [
        "Run the instaler with the --user flag",
        "Run teh installer with the --user flag",
        "Run the installer with the -user flag",
        "The index is stored in a hiden folder caled .ragkit by default",
    ],
)
def test_small_typos_are_tolerated(quote: str) -> None:
    citation = verify_one(1, quote)
    assert citation.verified, citation.reason
    assert citation.line_start == citation.line_end


def test_typo_tolerance_reports_the_right_lines() -> None:
    citation = verify_one(1, "the sytem clean. The index is stored")
    assert citation.verified
    assert (citation.line_start, citation.line_end) == (11, 12)


def test_ellipsis_joined_pieces_found_in_order_are_verified() -> None:
    citation = verify_one(1, "Run the installer ... in a hidden folder")
    assert citation.verified
    assert (citation.line_start, citation.line_end) == (11, 12)
    typographic = verify_one(1, "Run the installer\u2026 keep the system clean")
    assert typographic.verified


def test_a_quote_equal_to_a_short_passage_is_verified() -> None:
    short = make_hit("Yes.")
    citation = verify_one(1, "yes", passages=[short])
    assert citation.verified
    assert (citation.line_start, citation.line_end) == (1, 1)


# --- verification: rejected quotes -------------------------------------------------


def test_a_different_sentence_is_rejected() -> None:
    citation = verify_one(1, "The index is stored in the cloud by default")
    assert not citation.verified
    assert citation.reason == "quote not found in source 1"
    assert citation.chunk is PASSAGES[0].chunk
    assert citation.line_start is None and citation.line_end is None


def test_a_quote_from_the_wrong_source_is_rejected() -> None:
    citation = verify_one(2, "Run the installer with the --user flag")
    assert not citation.verified
    assert citation.reason == "quote not found in source 2"
    assert citation.score == 0.4


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (3, "source 3 was not among the 2 retrieved passages"),
        (0, "source 0 was not among the 2 retrieved passages"),
        (-1, "source -1 was not among the 2 retrieved passages"),
    ],
)
def test_a_source_out_of_range_is_rejected(source: int, reason: str) -> None:
    citation = verify_one(source, "Run the installer with the --user flag")
    assert not citation.verified
    assert citation.reason == reason
    assert citation.chunk is None and citation.score is None


def test_out_of_range_wording_for_one_and_no_passages() -> None:
    assert verify_one(2, "x y z", passages=PASSAGES[:1]).reason == (
        "source 2 was not the 1 retrieved passage"
    )
    assert verify_one(1, "x y z", passages=[]).reason == (
        "source 1 was cited but no passages were retrieved"
    )


@pytest.mark.parametrize("quote", ["", "   ", "...", '""', "\u2026"])
def test_empty_quotes_are_rejected(quote: str) -> None:
    citation = verify_one(1, quote)
    assert not citation.verified
    assert citation.reason == "empty quote"


@pytest.mark.parametrize("quote", ["installer", "--user flag", "Run it", "by default."])
def test_too_short_quotes_are_rejected(quote: str) -> None:
    citation = verify_one(1, quote)
    assert not citation.verified
    assert citation.reason.startswith("quote too short to verify")


def test_the_whole_passage_plus_extra_text_is_rejected() -> None:
    citation = verify_one(1, GUIDE + " It also uploads your files to a server.")
    assert not citation.verified
    assert citation.reason == "quote not found in source 1"


def test_the_whole_passage_is_accepted() -> None:
    assert verify_one(1, GUIDE).verified


def test_ellipsis_pieces_out_of_order_are_rejected() -> None:
    citation = verify_one(1, "in a hidden folder ... Run the installer")
    assert not citation.verified


def test_ellipsis_pieces_that_are_too_short_are_rejected() -> None:
    citation = verify_one(1, "Run ... the ... installer ... flag")
    assert not citation.verified


def test_ellipsis_with_a_piece_missing_from_the_passage_is_rejected() -> None:
    citation = verify_one(1, "Run the installer ... uploads your files")
    assert not citation.verified


def test_too_many_typos_are_rejected() -> None:
    citation = verify_one(1, "Rnu hte isntaller wiht the --user flag")
    assert not citation.verified


def test_inserting_a_word_is_more_than_a_typo() -> None:
    citation = verify_one(1, "The index is not stored in a hidden folder")
    assert not citation.verified


def test_every_citation_is_kept_in_order() -> None:
    raw = [
        RawCitation(2, "answered from the indexed documents only"),
        RawCitation(9, "anything at all here"),
        RawCitation(1, "Run the installer with the --user flag"),
    ]
    result = verify_citations(raw, PASSAGES)
    assert [c.source for c in result] == [2, 9, 1]
    assert [c.verified for c in result] == [True, False, True]
    assert [c.quote for c in result] == [r.quote for r in raw]


def test_a_long_hostile_quote_is_rejected_quickly() -> None:
    passage = make_hit("word " * 2000)
    quote = "word " * 2000 + "and one more claim"
    assert not verify_one(1, quote, passages=[passage]).verified
    assert verify_one(1, "word " * 1990, passages=[passage]).verified


def test_repetitive_passages_still_locate_fuzzy_quotes() -> None:
    text = "ab " * 500 + "the quick brown fox jumps over it\n" + "ab " * 500
    citation = verify_one(
        1, "the quikc brown fox jumps over it", passages=[make_hit(text)]
    )
    assert citation.verified
    assert citation.line_start == citation.line_end == 1


# --- the edit-distance automaton against a reference ---------------------------------


def _reference(pattern: str, text: str, anchored: bool) -> tuple[int, int] | None:
    previous = list(range(len(pattern) + 1))
    best = None
    for j, char in enumerate(text):
        current = [j + 1 if anchored else 0]
        for i in range(1, len(pattern) + 1):
            current.append(
                min(
                    previous[i] + 1,
                    current[i - 1] + 1,
                    previous[i - 1] + (pattern[i - 1] != char),
                )
            )
        if best is None or current[-1] < best[0]:
            best = (current[-1], j)
        previous = current
    return best


@pytest.mark.parametrize("anchored", [False, True])
def test_bit_vector_distance_matches_the_textbook_table(anchored: bool) -> None:
    rng = random.Random(5)
    for _ in range(400):
        pattern = "".join(rng.choice("abc") for _ in range(rng.randint(1, 70)))
        text = "".join(rng.choice("abc ") for _ in range(rng.randint(1, 40)))
        found = _best_end(pattern, text, 0, len(text), anchored=anchored)
        assert found == _reference(pattern, text, anchored), (pattern, text)


# --- sources and the fallback -------------------------------------------------


def test_format_source_shows_location_page_and_headings() -> None:
    assert format_source(1, PASSAGES[0]) == "[1] guide.md:10-14 p.3 › Install › Linux"
    bare = Hit(Chunk("x", "notes.txt", "t", 0, 1, 4, 4), 0.1)
    assert format_source(7, bare) == "[7] notes.txt:4"


def test_format_source_keeps_to_one_line() -> None:
    chunk = Chunk("x", "a\nb.md", "t", 0, 1, 1, 1, None, ("Title\n[2] fake", " "))
    assert format_source(1, Hit(chunk, 0.1)) == "[1] a b.md:1 › Title [2] fake"


def test_fallback_text_lists_the_sources() -> None:
    text = fallback_text('  {"answer": "Use --us', PASSAGES)
    assert text.startswith('{"answer": "Use --us\n\n')
    assert "[1] guide.md:10-14 p.3 › Install › Linux" in text
    assert "[2] faq.md:1-2 p.3 › Install › Linux" in text
    assert "not checked" in text


def test_fallback_text_without_reply_or_passages() -> None:
    assert fallback_text("", []) == (
        "(the model returned no text)\n\nNo sources were retrieved."
    )


def test_fallback_answer_carries_passages_and_a_warning() -> None:
    answer = fallback_answer("How?", "garbled", PASSAGES)
    assert answer.question == "How?"
    assert answer.text == fallback_text("garbled", PASSAGES)
    assert answer.citations == () and answer.verified_citations == ()
    assert answer.passages == PASSAGES
    assert answer.warnings == (FALLBACK_WARNING,)


LONG = (
    "When the server is unreachable the client retries the request three times "
    "with exponential backoff and then reports the failure in one clear line, "
    "naming the host it tried and the command that starts the server again."
)


def test_long_quotes_tolerate_several_typos() -> None:
    quote = LONG.replace("unreachable", "unreachible").replace("backoff", "bakcoff")
    quote = quote.replace("failure", "failur")
    assert verify_one(1, quote, passages=[make_hit(LONG)]).verified


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("retries the", "never retries the"),
        ("the failure", "no failure"),
        ("and then", "and"),
        ("one clear", "one"),
    ],
)
def test_adding_or_dropping_a_word_is_not_a_typo(old: str, new: str) -> None:
    # Within the 3% character budget of a long quote, but a word changed.
    quote = LONG.replace(old, new)
    assert len(quote) * 0.03 >= abs(len(new) - len(old))
    citation = verify_one(1, quote, passages=[make_hit(LONG)])
    assert not citation.verified
    assert citation.reason == "quote not found in source 1"


def test_a_changed_number_is_not_a_typo() -> None:
    passage = make_hit(
        "Version 2.4 of the tool needs 8 GB of memory to build the index."
    )
    assert verify_one(
        1, "Version 2.4 of the tool needs 8 GB", passages=[passage]
    ).verified
    changed = verify_one(1, "Version 2.5 of the tool needs 8 GB", passages=[passage])
    assert not changed.verified


def test_words_split_by_a_line_break_hyphen_still_match() -> None:
    passage = make_hit("All of the infor-\nmation is stored locally on disk.")
    citation = verify_one(1, "the information is stored locally", passages=[passage])
    assert citation.verified
    assert (citation.line_start, citation.line_end) == (1, 2)


@pytest.mark.parametrize(
    ("old", "new"),
    [("three times", "two times"), ("the request", "she request")],
)
def test_a_different_word_of_similar_spelling_is_not_a_typo(old: str, new: str) -> None:
    quote = LONG.replace(old, new)
    assert not verify_one(1, quote, passages=[make_hit(LONG)]).verified


def test_words_run_together_or_split_apart_count_as_typos() -> None:
    passage = make_hit("Send an e mail to the maintainers before the release.")
    assert verify_one(
        1, "Send an email to the maintainers", passages=[passage]
    ).verified
    joined = make_hit("Send an email to the maintainers before the release.")
    assert verify_one(
        1, "Send an e mail to the maintainers", passages=[joined]
    ).verified
