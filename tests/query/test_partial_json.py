"""Streaming the ``answer`` field out of JSON that arrives in pieces."""

from __future__ import annotations

import json
import random

import pytest

from ragkit.query._partial_json import AnswerStreamParser

EMOJI_TEXT = 'Déjà vu 😀 — "quoted" \\ back\tslash\n{braces} [1] / \b\f\r'

DOCUMENTS = {
    "plain": '{"answer": "Run the installer.", "citations": []}',
    "after citations": json.dumps(
        {
            "citations": [
                {"source": 1, "quote": 'a "quote" with {braces}', "answer": "no"},
                {"source": 2, "quote": "x", "nested": {"answer": "nor this"}},
            ],
            "answer": "The real one.",
        }
    ),
    "similar keys": json.dumps(
        {
            "answer_text": "not me",
            "final_answer": "nor me",
            "note": "answer",
            "answer": "me",
            "citations": [],
        }
    ),
    "escapes ascii": json.dumps({"answer": EMOJI_TEXT, "citations": []}),
    "escapes raw": json.dumps({"answer": EMOJI_TEXT}, ensure_ascii=False),
    "pretty": json.dumps({"answer": "Indented\nanswer", "citations": []}, indent=2),
    "fenced": '```json\n{"answer" :  "fenced", "citations":[]}\n```',
    "prose first": 'Here is my "reply": {"answer": "after prose"}',
    "escaped key": '{"\\u0061nswer": "escaped key"}',
    "json inside": json.dumps({"answer": '{"answer": "inner"} }]"', "citations": []}),
    "empty answer": '{"answer": "", "citations": [{"source": 1, "quote": "q"}]}',
    "arrays before": '{"x": [[1, 2], {"y": ["}", "]"]}], "answer": "deep"}',
}


def expected_answer(document: str) -> str:
    start = document.index("{")
    data, _ = json.JSONDecoder().raw_decode(document, start)
    return data["answer"]


def run(pieces: list[str]) -> tuple[str, AnswerStreamParser]:
    parser = AnswerStreamParser()
    seen = ""
    for piece in pieces:
        new = parser.feed(piece)
        seen += new
        assert parser.answer == seen
    return seen, parser


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_whole_document_at_once(name: str) -> None:
    document = DOCUMENTS[name]
    answer, parser = run([document])
    assert answer == expected_answer(document)
    assert parser.complete
    assert parser.finish() == document


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_split_point(name: str) -> None:
    document = DOCUMENTS[name]
    expected = expected_answer(document)
    for cut in range(len(document) + 1):
        answer, parser = run([document[:cut], document[cut:]])
        assert answer == expected, cut
        assert parser.finish() == document


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_one_character_at_a_time_grows_a_prefix(name: str) -> None:
    document = DOCUMENTS[name]
    expected = expected_answer(document)
    parser = AnswerStreamParser()
    for char in document:
        parser.feed(char)
        assert expected.startswith(parser.answer)
    assert parser.answer == expected
    assert parser.complete


def test_random_chunkings_including_empty_pieces() -> None:
    rng = random.Random(11)
    document = DOCUMENTS["escapes ascii"]
    for _ in range(200):
        cuts = sorted(rng.randint(0, len(document)) for _ in range(rng.randint(1, 12)))
        pieces = [
            document[a:b]
            for a, b in zip([0, *cuts], [*cuts, len(document)], strict=True)
        ]
        assert run(pieces)[0] == EMOJI_TEXT


def test_text_arrives_as_soon_as_it_is_known() -> None:
    parser = AnswerStreamParser()
    assert parser.feed('{"answer": "Hel') == "Hel"
    assert not parser.complete
    assert parser.feed("lo\\") == "lo"
    assert parser.feed("n") == "\n"
    assert parser.feed("\\u00") == ""
    assert parser.feed("e9") == "é"
    assert parser.feed('", "citations": [') == ""
    assert parser.complete
    assert parser.feed('{"source": 1, "quote": "zz"}]}') == ""
    assert parser.answer == "Hello\né"


def test_a_surrogate_pair_split_between_pieces() -> None:
    parser = AnswerStreamParser()
    assert parser.feed('{"answer": "\\ud83d') == ""
    assert parser.feed("\\ude") == ""
    assert parser.feed('00!"}') == "😀!"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("\\ud83dx", "\ufffdx"),
        ("\\ude00", "\ufffd"),
        ("\\ud83d\\ud83d\\ude00", "\ufffd😀"),
        ("\\ud83d", "\ufffd"),
        ("\\ud83d\\n", "\ufffd\n"),
        ("\\u12zz", "\ufffd"),
        ("\\q", "q"),
    ],
)
def test_broken_escapes_never_produce_unprintable_text(
    body: str, expected: str
) -> None:
    answer, _ = run(['{"answer": "', body, '"}'])
    assert answer == expected
    answer.encode("utf-8")


def test_only_the_first_answer_key_is_streamed() -> None:
    answer, parser = run(['{"answer": "one", "answer": "two"}'])
    assert answer == "one"
    assert parser.complete


def test_a_non_string_answer_streams_nothing() -> None:
    answer, parser = run(['{"answer": null, "other": "text", "citations": []}'])
    assert answer == ""
    assert not parser.complete
    answer, _ = run(['{"answer": ["list"], "x": "y"}'])
    assert answer == ""


def test_an_answer_key_nested_anywhere_is_not_the_answer() -> None:
    answer, parser = run(['{"citations": [{"answer": "x"}], "meta": {"answer": "y"}}'])
    assert answer == ""
    assert not parser.complete


def test_a_truncated_stream_keeps_what_came() -> None:
    answer, parser = run(['{"answer": "The index lives in .rag'])
    assert answer == "The index lives in .rag"
    assert not parser.complete
    assert parser.finish() == '{"answer": "The index lives in .rag'


def test_text_before_the_object_and_plain_text_stream_nothing() -> None:
    answer, parser = run(["I cannot answer in JSON, sorry."])
    assert answer == "" and not parser.complete
    answer, _ = run(['"answer": "not in an object"'])
    assert answer == ""


def test_a_long_answer_in_many_pieces() -> None:
    text = "word \\u00e9 " * 20_000
    document = '{"answer": "' + text + '", "citations": []}'
    parser = AnswerStreamParser()
    streamed = [parser.feed(document[i : i + 7]) for i in range(0, len(document), 7)]
    assert "".join(streamed) == json.loads(document)["answer"]
    assert parser.complete
    assert parser.finish() == document
