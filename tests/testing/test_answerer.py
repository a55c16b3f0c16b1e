"""FakeOllama's stand-in chat model: extractive answers, citations, tools, limits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

from ragkit.testing._answerer import DONT_KNOW, Reply, answer_chat, answer_generate
from ragkit.testing._schema import validate
from ragkit.testing._text import count_tokens

SYSTEM = {
    "role": "system",
    "content": "Answer using only the numbered sources and cite them.",
}

SOURCES = """Sources:

[1] guide/install.md:1-9 › Setup
## Installing
Run pip install ragkit to install the package. It needs Python 3.10 or newer.

[2] guide/index.md:3-20 p.2
The index lives in the .ragkit directory. Delete vectors.faiss to rebuild \
the vector index from meta.sqlite.
Rebuilding is safe at any time.

[3] faq.md
FakeOllama answers by quoting sentences. It never calls the network."""

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "citations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "source": {"type": "integer", "minimum": 1},
                    "quote": {"type": "string"},
                },
                "required": ["source", "quote"],
            },
        },
    },
    "required": ["answer", "citations"],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "the city name"},
                "units": {"type": ["string", "null"], "enum": ["metric", "imperial"]},
                "days": {"type": "integer"},
            },
            "required": ["city", "units"],
        },
    },
}

STOCK_TOOL = {
    "type": "function",
    "function": {
        "name": "stockPrice",
        "description": "Look up the share price of a company",
        "parameters": {
            "type": "object",
            "properties": {"ticker": {"type": "string"}},
            "required": ["ticker"],
        },
    },
}


def ask(question: str, **kwargs: Any) -> Reply:
    """Ask a question the way ragkit's query engine does: sources, then question."""
    user = {"role": "user", "content": f"{SOURCES}\n\nQuestion: {question}"}
    return answer_chat([SYSTEM, user], **kwargs)


def source_text(number: int) -> str:
    block = SOURCES.split(f"[{number}] ", 1)[1].split("\n", 1)[1]
    return re.split(r"\n\n\[\d+\] ", block)[0]


# --- extraction and citations -------------------------------------------------


def test_answer_quotes_the_best_sentence_and_cites_its_source() -> None:
    reply = ask("How do I rebuild the vector index?")
    sentence = "Delete vectors.faiss to rebuild the vector index from meta.sqlite."
    assert reply.content.startswith(sentence + " [2]")
    assert sentence in source_text(2)
    assert reply.done_reason == "stop"
    assert reply.tool_calls == ()
    assert reply.thinking == ""


CACHE = [
    {
        "role": "system",
        "content": "[1] a.md\nThe cache stores vectors on disk.\n"
        "[2] b.md\nThe cache stores chunks in SQLite. Nothing else matters.",
    },
    {"role": "user", "content": "What does the cache store?"},
]


def test_close_runner_up_joins_the_answer() -> None:
    assert answer_chat(CACHE).content == (
        "The cache stores vectors on disk. [1] The cache stores chunks in SQLite. [2]"
    )


def test_distant_runner_up_is_left_out() -> None:
    reply = ask("Which Python version does ragkit need?")
    assert reply.content == "It needs Python 3.10 or newer. [1]"


def test_citation_schema_points_to_the_right_source_verbatim() -> None:
    reply = ask("What does FakeOllama never call?", format=ANSWER_SCHEMA)
    data = json.loads(reply.content)
    assert validate(data, ANSWER_SCHEMA) == []
    assert data["answer"] == "It never calls the network."
    assert data["citations"] == [{"source": 3, "quote": "It never calls the network."}]
    assert data["citations"][0]["quote"] in source_text(3)


def test_citation_source_is_a_string_when_the_schema_says_so() -> None:
    schema = json.loads(json.dumps(ANSWER_SCHEMA))
    item = schema["properties"]["citations"]["items"]
    item["properties"]["source"] = {"type": "string"}
    item["additionalProperties"] = False
    data = json.loads(ask("How do I install the package?", format=schema).content)
    assert validate(data, schema) == []
    assert data["citations"][0] == {
        "source": "1",
        "quote": "Run pip install ragkit to install the package.",
    }


def test_citation_schema_with_other_names_and_refs_is_filled() -> None:
    schema = {
        "$defs": {
            "cite": {
                "type": "object",
                "properties": {
                    "passage": {"type": "integer"},
                    "excerpt": {"type": "string"},
                    "kind": {"enum": ["direct", "paraphrase"]},
                },
                "required": ["passage", "excerpt", "kind"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "summary": {"type": "string"},
            "refs": {"type": "array", "items": {"$ref": "#/$defs/cite"}},
        },
        "required": ["summary", "refs"],
    }
    data = json.loads(ask("Where does the index live?", format=schema).content)
    assert validate(data, schema) == []
    assert data["summary"].startswith("The index lives in the .ragkit directory.")
    assert data["refs"][0] == {
        "passage": 2,
        "excerpt": "The index lives in the .ragkit directory.",
        "kind": "direct",
    }


def test_citations_respect_max_items() -> None:
    schema = json.loads(json.dumps(ANSWER_SCHEMA))
    schema["properties"]["citations"]["maxItems"] = 1
    data = json.loads(ask("Is rebuilding the index safe?", format=schema).content)
    assert validate(data, schema) == []
    assert len(data["citations"]) == 1


def test_schema_without_citations_gets_the_answer_in_the_first_string() -> None:
    schema = {
        "type": "object",
        "properties": {
            "level": {"enum": ["low", "high"]},
            "reply_text": {"type": "string", "maxLength": 20},
            "notes": {"type": "string"},
        },
        "required": ["level", "reply_text"],
    }
    data = json.loads(ask("How do I install the package?", format=schema).content)
    assert validate(data, schema) == []
    assert data["reply_text"] == "Run pip install ragk"
    assert data["level"] == "low"


def test_nested_answer_field_is_found() -> None:
    schema = {
        "type": "object",
        "properties": {
            "meta": {"type": "object", "properties": {"lang": {"enum": ["en"]}}},
            "result": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "response": {"type": "string"},
                },
            },
        },
    }
    data = json.loads(ask("Which Python version?", format=schema).content)
    assert validate(data, schema) == []
    assert data["result"] == {
        "title": "title",
        "response": "It needs Python 3.10 or newer.",
    }


@pytest.mark.parametrize(
    "schema",
    [{"$ref": "#/$defs/missing"}, {"properties": 3}, {"type": 5}, {"enum": 5}],
)
def test_unusable_schema_raises_value_error(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid JSON schema"):
        ask("Which Python version?", format=schema)


def test_dont_know_when_no_sentence_overlaps() -> None:
    assert ask("What colour are flamingos?").content == DONT_KNOW
    data = json.loads(ask("What colour are flamingos?", format=ANSWER_SCHEMA).content)
    assert data == {"answer": DONT_KNOW, "citations": []}


def test_question_is_not_treated_as_a_source() -> None:
    # The question shares every word with itself; it must not answer itself.
    user = {
        "role": "user",
        "content": "[1] notes.txt\nCats sleep a lot.\n\n"
        "Question: Do zebras sleep standing?",
    }
    reply = answer_chat([user])
    assert reply.content == "Cats sleep a lot. [1]"


@pytest.mark.parametrize(
    "content",
    [
        "Which city hosts the summit?\n\n[1] a.md\nThe summit is in Oslo.",
        "Use these.\n\n[1] a.md\nThe summit is in Oslo.\n\nWhere is the summit?",
        "[1] a.md\nThe summit is in Oslo.\n\nQuery: the summit city",
        "[1] The summit is in Oslo.\n[2] Tea is grown in Assam.\n\nWhich city, summit?",
    ],
)
def test_question_found_before_after_or_marked(content: str) -> None:
    reply = answer_chat([{"role": "user", "content": content}])
    assert reply.content == "The summit is in Oslo. [1]"


def test_numbered_references_inside_a_passage_stay_in_it() -> None:
    content = (
        "[1] paper.pdf p.9\nReferences\n[12] A. Author. Deep retrieval. 2020.\n"
        "[13] B. Author. Shallow retrieval. 2021.\n"
        "[2] notes.md\nShallow notes here.\n\n"
        "Question: Who wrote about deep retrieval?"
    )
    reply = answer_chat([{"role": "user", "content": content}])
    assert reply.content == "Deep retrieval. [1]"


def test_faq_lines_in_a_passage_are_not_the_question() -> None:
    content = (
        "Where are vectors kept?\n\n"
        "[1] faq.md\nQ: Can I move it?\nVectors are kept in vectors.faiss."
    )
    reply = answer_chat([{"role": "user", "content": content}])
    assert reply.content == "Vectors are kept in vectors.faiss. [1]"


def test_sources_in_the_system_message_are_used() -> None:
    messages = [
        {"role": "system", "content": "Context:\n[4] a.md\nBerlin is in Germany."},
        {"role": "user", "content": "Where is Berlin?"},
    ]
    assert answer_chat(messages).content == "Berlin is in Germany. [4]"


def test_plain_context_is_used_without_citation_marks() -> None:
    messages = [
        {"role": "system", "content": "Mars is red. Jupiter is a gas giant."},
        {"role": "user", "content": "What kind of planet is Jupiter?"},
    ]
    assert answer_chat(messages).content == "Jupiter is a gas giant."


def test_earlier_rag_turns_lend_their_sources_not_their_questions() -> None:
    first = f"{SOURCES}\n\nQuestion: Where does the index directory live?"
    messages = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": "In .ragkit. [2]"},
        {"role": "user", "content": "And where does the index directory go?"},
    ]
    assert answer_chat(messages).content == (
        "The index lives in the .ragkit directory. [2]"
    )


def test_earlier_plain_turns_are_context() -> None:
    messages = [
        {"role": "user", "content": "My favourite colour is teal."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "What is my favourite colour?"},
    ]
    assert answer_chat(messages).content == "My favourite colour is teal."


def test_chat_without_context_echoes_the_question() -> None:
    reply = answer_chat([{"role": "user", "content": "Why is the  sky blue?"}])
    assert reply.content.startswith("You asked: Why is the sky blue?")
    assert answer_chat([]).content != ""
    assert answer_chat([{"role": "user", "content": ""}]).content != ""


def test_answers_are_deterministic() -> None:
    first = ask("How do I rebuild the vector index?", think=True)
    assert ask("How do I rebuild the vector index?", think=True) == first


def test_seed_varies_the_choice_among_equally_good_sentences_only() -> None:
    messages = [
        {
            "role": "system",
            "content": "[1] a\nApples are red.\n[2] b\nApples are green.",
        },
        {"role": "user", "content": "What about apples?"},
    ]
    picks = {
        answer_chat(messages, options={"seed": seed, "temperature": 0.7}).content
        for seed in range(4)
    }
    assert picks == {
        "Apples are red. [1] Apples are green. [2]",
        "Apples are green. [2] Apples are red. [1]",
    }
    greedy = answer_chat(messages, options={"seed": 1, "temperature": 0})
    assert greedy.content.startswith("Apples are red.")
    again = answer_chat(messages, options={"seed": 1, "temperature": 0.7})
    assert again == answer_chat(messages, options={"seed": 1, "temperature": 0.7})


def test_markdown_lines_split_into_sentences() -> None:
    messages = [
        {
            "role": "system",
            "content": "[1] list.md\n# Shopping\n- buy fresh milk\n- buy brown eggs",
        },
        {"role": "user", "content": "Which eggs?"},
    ]
    assert answer_chat(messages).content == "buy brown eggs [1]"


def test_plural_and_singular_words_match() -> None:
    messages = [
        {"role": "system", "content": "Failed requests are retried three times."},
        {"role": "user", "content": "How often is a failed request retried?"},
    ]
    assert answer_chat(messages).content == "Failed requests are retried three times."


# --- formats ---------------------------------------------------------------------


def test_json_mode_returns_a_json_object() -> None:
    data = json.loads(
        ask("Which Python version does ragkit need?", format="json").content
    )
    assert data == {"answer": "It needs Python 3.10 or newer."}
    plain = answer_chat([{"role": "user", "content": "Hi?"}], format="json")
    assert set(json.loads(plain.content)) == {"answer"}


def test_empty_format_is_plain_text() -> None:
    assert ask("Which Python version?", format="").content.endswith("[1]")


def test_string_schema_gets_the_answer() -> None:
    reply = ask("Which Python version does ragkit need?", format={"type": "string"})
    assert json.loads(reply.content) == "It needs Python 3.10 or newer."


# --- thinking ---------------------------------------------------------------------


@pytest.mark.parametrize("think", [True, "low", "medium", "high", "max"])
def test_think_fills_thinking_without_touching_the_content(think: bool | str) -> None:
    reply = ask("How do I rebuild the vector index?", think=think)
    assert "rebuild" in reply.thinking
    assert "[2]" in reply.thinking
    assert reply.content == ask("How do I rebuild the vector index?").content


def test_thinking_detail_grows_with_the_level() -> None:
    low = answer_chat(CACHE, think="low").thinking
    medium = answer_chat(CACHE, think="medium").thinking
    high = answer_chat(CACHE, think="high").thinking
    assert len(low) < len(medium) < len(high)
    assert "chunks in SQLite" in high
    assert "chunks in SQLite" not in medium


@pytest.mark.parametrize("think", [False, None])
def test_no_thinking_unless_asked(think: bool | None) -> None:
    assert ask("Is rebuilding safe?", think=think).thinking == ""


def test_thinking_explains_dont_know_and_no_context() -> None:
    assert "None of them" in ask("Flamingo colours?", think=True).thinking
    plain = answer_chat([{"role": "user", "content": "Hello?"}], think=True)
    assert "no context" in plain.thinking


# --- options ----------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, 1, 4, 9])
def test_num_predict_caps_the_content_tokens(limit: int) -> None:
    full = ask("How do I rebuild the vector index?").content
    reply = ask("How do I rebuild the vector index?", options={"num_predict": limit})
    assert count_tokens(reply.content) == limit
    assert full.startswith(reply.content)
    assert reply.done_reason == "length"


def test_num_predict_with_room_or_negative_changes_nothing() -> None:
    full = ask("Which Python version?")
    assert ask("Which Python version?", options={"num_predict": 500}) == full
    assert ask("Which Python version?", options={"num_predict": -1}) == full


def test_stop_cuts_before_the_first_stop_string() -> None:
    reply = ask("Which Python version does ragkit need?", options={"stop": ["or", "3"]})
    assert reply.content == "It needs Python "
    assert reply.done_reason == "stop"
    missing = ask("Which Python version does ragkit need?", options={"stop": ["zzz"]})
    assert missing.content == "It needs Python 3.10 or newer. [1]"


def test_num_predict_can_break_json_output() -> None:
    reply = ask("Which Python version?", format="json", options={"num_predict": 3})
    assert reply.done_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.content)


# --- tools --------------------------------------------------------------------------


def test_tool_call_to_the_matching_tool_with_arguments() -> None:
    messages = [
        {
            "role": "user",
            "content": "What is the weather in New York for 3 days, imperial?",
        }
    ]
    reply = answer_chat(messages, tools=[STOCK_TOOL, WEATHER_TOOL])
    assert reply.content == ""
    assert reply.done_reason == "stop"
    (call,) = reply.tool_calls
    assert re.fullmatch(r"call_[a-z0-9]{8}", call["id"])
    assert call["function"] == {
        "index": 0,
        "name": "get_current_weather",
        "arguments": {"city": "New York", "units": "imperial", "days": 3},
    }
    assert answer_chat(messages, tools=[STOCK_TOOL, WEATHER_TOOL]) == reply


def test_tool_arguments_fall_back_sensibly() -> None:
    messages = [{"role": "user", "content": "what is the share price of acme corp"}]
    (call,) = answer_chat(messages, tools=[WEATHER_TOOL, STOCK_TOOL]).tool_calls
    assert call["function"]["name"] == "stockPrice"
    assert call["function"]["arguments"] == {"ticker": "acme corp"}

    weather = [{"role": "user", "content": "Weather today?"}]
    (call,) = answer_chat(weather, tools=[WEATHER_TOOL]).tool_calls
    # No name in the question: the city is the question itself, units the
    # first enum value; the optional day count is left out.
    assert call["function"]["arguments"] == {"city": "Weather today", "units": "metric"}


def test_query_parameters_take_the_whole_question() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the documentation",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "limit": {"type": "integer"},
                    "exact": {"type": "boolean"},
                    "filters": {
                        "type": "object",
                        "properties": {"tag": {"type": "string"}},
                    },
                },
                "required": ["query", "limit", "exact", "filters"],
            },
        },
    }
    messages = [{"role": "user", "content": "Search the docs for FAISS rebuilds?"}]
    (call,) = answer_chat(messages, tools=[tool]).tool_calls
    assert call["function"]["arguments"] == {
        "query": "Search the docs for FAISS rebuilds",
        "limit": 0,
        "exact": False,
        "filters": {"tag": "tag"},
    }


def test_tool_parameters_with_defs_numbers_and_bad_refs() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "convert_currency",
            "description": "Convert an amount of money",
            "parameters": {
                "type": "object",
                "$defs": {"money": {"type": "object", "properties": {}}},
                "properties": {
                    "amount": {"type": "number"},
                    "fee": {"type": "number"},
                    "options": {"$ref": "#/$defs/money"},
                    "broken": {"$ref": "#/$defs/missing"},
                    "nested": {
                        "type": "object",
                        "properties": {"x": {"$ref": "#/nowhere"}},
                    },
                },
                "required": ["amount", "fee", "options", "broken", "nested"],
            },
        },
    }
    messages = [{"role": "user", "content": "Convert 12.5 euros, fee 2"}]
    (call,) = answer_chat(messages, tools=["not a tool", tool]).tool_calls
    assert call["function"]["arguments"] == {"amount": 12.5, "fee": 2, "options": {}}


def test_no_tool_call_when_no_tool_fits() -> None:
    messages = [{"role": "user", "content": "Why is the sky blue?"}]
    reply = answer_chat(messages, tools=[WEATHER_TOOL, STOCK_TOOL])
    assert reply.tool_calls == ()
    assert reply.content.startswith("You asked:")


def test_generic_verbs_in_tool_names_do_not_trigger_calls() -> None:
    messages = [{"role": "user", "content": "How do I get to the station?"}]
    tool = {"type": "function", "function": {"name": "get_time", "parameters": {}}}
    assert answer_chat(messages, tools=[tool]).tool_calls == ()


def test_no_second_call_after_a_tool_result() -> None:
    question = {"role": "user", "content": "What is the weather in Paris?"}
    (call,) = answer_chat([question], tools=[WEATHER_TOOL]).tool_calls
    messages: list[Mapping[str, Any]] = [
        question,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "Sunny, 21 C.", "tool_name": "get_current_weather"},
    ]
    reply = answer_chat(messages, tools=[WEATHER_TOOL], think=True)
    assert reply.tool_calls == ()
    assert reply.content == "Sunny, 21 C."
    assert reply.thinking != ""


def test_tool_result_sharing_words_is_quoted_like_context() -> None:
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": []},
        {"role": "tool", "content": "Checked at noon. The weather in Paris is mild."},
    ]
    reply = answer_chat(messages, tools=[WEATHER_TOOL])
    assert reply.content == "The weather in Paris is mild."


def test_tool_call_thinking_names_the_tool() -> None:
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    reply = answer_chat(messages, tools=[WEATHER_TOOL], think="low")
    assert "get_current_weather" in reply.thinking
    assert '"city": "Oslo"' in reply.thinking


# --- generate -------------------------------------------------------------------------


def test_generate_reads_context_from_the_prompt_and_system() -> None:
    prompt = "Paris is the capital of France. Rome is in Italy.\n\nCapital of France?"
    assert answer_generate(prompt).content == "Paris is the capital of France."
    system = "Oslo is the capital of Norway."
    assert (
        answer_generate("What is the capital of Norway?", system=system).content
        == system
    )


def test_generate_with_numbered_sources_cites_them() -> None:
    reply = answer_generate(f"{SOURCES}\n\nQuestion: Which Python version?")
    assert reply.content == "It needs Python 3.10 or newer. [1]"


def test_generate_without_context_echoes() -> None:
    assert answer_generate("Why is the sky blue?").content.startswith("You asked:")


def test_generate_options_and_formats_apply() -> None:
    prompt = "Paris is the capital of France.\n\nWhat is the capital of France?"
    assert answer_generate(prompt, options={"num_predict": 2}) == Reply(
        content="Paris is", done_reason="length"
    )
    data = json.loads(answer_generate(prompt, format="json").content)
    assert data == {"answer": "Paris is the capital of France."}
    assert "capital" in answer_generate(prompt, think="high").thinking


def test_generate_with_suffix_fills_the_gap_with_one_sentence() -> None:
    prompt = "Bees make honey. Ants build nests. The recipe follows."
    reply = answer_generate(prompt, suffix="Then spread the honey on toast.")
    assert reply.content == " Bees make honey."
    fallback = answer_generate(prompt + "\n", suffix="zzz")
    assert fallback.content == "The recipe follows."
    empty = answer_generate("", suffix="end")
    assert empty.content.startswith("You asked: end")
