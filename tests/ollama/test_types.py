"""Wire dataclasses: parsing keeps unknown fields, sending omits None."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ragkit.ollama import (
    ChatResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    Message,
    Options,
    ProcessResponse,
    ProgressResponse,
    ShowResponse,
    Tool,
    ToolCall,
    ToolCallFunction,
    ToolFunction,
    parse_parameters,
    parse_time,
)
from ragkit.ollama._openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    OpenAIFunctionCall,
    OpenAIModelList,
)


def test_chat_response_keeps_tool_call_ids_indexes_and_unknown_fields() -> None:
    data = {
        "model": "m1",
        "created_at": "2026-03-01T10:00:00.1Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_k3x9q2ab",
                    "function": {"index": 1, "name": "f", "arguments": {"x": 1}},
                }
            ],
            "brand_new": [1],
        },
        "done": True,
        "done_reason": "stop",
        "eval_count": 30,
        "eval_duration": 1_500_000_000,
        "future_field": {"a": 1},
    }
    response = ChatResponse.from_json(data)
    call = response.message.tool_calls[0]  # type: ignore[index]
    assert call.id == "call_k3x9q2ab"
    assert call.function.index == 1
    assert call.function.arguments == {"x": 1}
    assert response.extra == {"future_field": {"a": 1}}
    assert response.message.extra == {"brand_new": [1]}
    assert response.eval_seconds == 1.5
    assert response.tokens_per_second == 20.0
    assert response.total_duration is None and response.total_seconds is None


def test_metrics_omitted_by_the_server_are_none() -> None:
    response = GenerateResponse.from_json(
        {"model": "m", "response": "x", "done": False}
    )
    assert response.prompt_eval_count is None
    assert response.tokens_per_second is None
    assert response.context is None


def test_embed_response_uses_the_decoded_vectors_without_copying() -> None:
    vectors = [[0.6, 0.8], [1.0, 0.0]]
    response = EmbedResponse.from_json(
        {"model": "e", "embeddings": vectors, "total_duration": 14_000_000}
    )
    assert response.embeddings is vectors
    assert response.total_seconds == 0.014
    assert EmbedResponse.from_json({"model": "e", "embeddings": []}).embeddings == []


def test_list_and_ps_parse_details_and_tolerate_null_models() -> None:
    listed = ListResponse.from_json(
        {
            "models": [
                {
                    "name": "llama3.2:latest",
                    "model": "llama3.2:latest",
                    "size": 5,
                    "details": {"parameter_size": "3.2B", "context_length": 131072},
                    "capabilities": ["completion"],
                }
            ]
        }
    )
    model = listed.models[0]
    assert model.details.parameter_size == "3.2B"
    assert model.details.context_length == 131072
    assert model.capabilities == ["completion"]
    assert ListResponse.from_json({"models": None}).models == []
    running = ProcessResponse.from_json(
        {"models": [{"name": "a", "size_vram": 7, "context_length": 4096}]}
    )
    assert running.models[0].size_vram == 7


def test_show_response_properties() -> None:
    show = ShowResponse.from_json(
        {
            "model_info": {
                "general.architecture": "llama",
                "llama.context_length": 131072,
                "llama.embedding_length": 3072,
            },
            "parameters": (
                "num_ctx                        8192\n"
                'stop                           "<|eot|>"\n'
                'stop                           "a b"'
            ),
            "capabilities": ["completion", "tools"],
            "details": {"family": "llama"},
            "tensors": [{"name": "t"}],
        }
    )
    assert show.architecture == "llama"
    assert show.context_length == 131072
    assert show.embedding_length == 3072
    assert show.num_ctx == 8192
    assert parse_parameters(show.parameters)["stop"] == ["<|eot|>", "a b"]
    assert show.tensors == [{"name": "t"}]


def test_show_response_without_model_info_or_parameters() -> None:
    show = ShowResponse.from_json({"model_info": None})
    assert show.model_info == {}
    assert show.context_length is None
    assert show.embedding_length is None
    assert show.num_ctx is None
    assert show.capabilities == []


def test_parse_parameters_keeps_unparseable_quotes_and_skips_blank_lines() -> None:
    assert parse_parameters('\nstop "unterminated\\"\n\n') == {
        "stop": ["unterminated\\"]
    }
    assert parse_parameters(None) == {}


def test_progress_fraction() -> None:
    progress = ProgressResponse.from_json(
        {"status": "pulling abc", "total": 200, "completed": 50, "new": 1}
    )
    assert progress.fraction == 0.25
    assert progress.extra == {"new": 1}
    assert ProgressResponse.from_json({"status": "pulling manifest"}).fraction is None


def test_options_to_json_omits_unset_and_merges_extra() -> None:
    options = Options(temperature=0.2, stop=["###"], extra={"mirostat": 2})
    assert options.to_json() == {"temperature": 0.2, "stop": ["###"], "mirostat": 2}


def test_message_to_json_encodes_images_and_tool_calls() -> None:
    message = Message(
        "assistant",
        "",
        images=[b"\x00\x01"],
        tool_calls=[
            ToolCall(
                id="call_1", function=ToolCallFunction(name="f", arguments={}, index=0)
            )
        ],
    )
    assert message.to_json() == {
        "role": "assistant",
        "content": "",
        "images": ["AAE="],
        "tool_calls": [
            {"id": "call_1", "function": {"index": 0, "name": "f", "arguments": {}}}
        ],
    }
    assert Message("tool", "4", tool_call_id="call_1").to_json() == {
        "role": "tool",
        "content": "4",
        "tool_call_id": "call_1",
    }


def test_tool_to_json() -> None:
    tool = Tool(function=ToolFunction(name="f", parameters={"type": "object"}))
    assert tool.to_json() == {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object"}},
    }


def test_parse_time_handles_nanoseconds_zulu_and_offsets() -> None:
    assert parse_time("2026-03-01T10:00:00.123456789Z") == datetime(
        2026, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc
    )
    local = parse_time("2026-03-01T02:00:00.5-08:00")
    assert local is not None
    assert local.utcoffset() == -timedelta(hours=8)
    assert local.microsecond == 500000
    assert parse_time("2026-03-01T02:00:00+05:30") is not None
    assert parse_time(None) is None
    assert parse_time("yesterday") is None
    assert parse_time("2026-13-01T00:00:00Z") is None


def test_openai_types_parse_and_keep_extra() -> None:
    completion = ChatCompletion.from_json(
        {
            "id": "chatcmpl-1",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "",
                        "reasoning": "hmm",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "index": 0,
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"a":1}'},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            "service_tier": "x",
        }
    )
    message = completion.choices[0].message
    assert message.reasoning == "hmm"
    assert message.tool_calls is not None
    assert message.tool_calls[0].function.parsed_arguments() == {"a": 1}
    assert completion.usage is not None and completion.usage.total_tokens == 3
    assert completion.extra == {"service_tier": "x"}
    chunk = ChatCompletionChunk.from_json({"choices": [], "usage": None})
    assert chunk.choices == [] and chunk.usage is None
    assert OpenAIModelList.from_json({"object": "list", "data": None}).data == []


def test_openai_function_arguments_must_be_an_object() -> None:
    assert OpenAIFunctionCall(arguments="").parsed_arguments() == {}
    try:
        OpenAIFunctionCall(arguments="[1]").parsed_arguments()
    except ValueError as exc:
        assert "not a JSON object" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_a_plain_streamed_chunk_parses_like_any_other() -> None:
    # Plain chunks take a shortcut; it must build what the general path builds.
    plain = {
        "model": "llama3.2",
        "created_at": "2026-11-27T03:00:00Z",
        "message": {"role": "assistant", "content": "Hel"},
        "done": False,
    }
    fast = ChatResponse.from_json(plain)
    general = ChatResponse.from_json({**plain, "novel": 1})
    assert general.extra == {"novel": 1}
    general.extra = {}
    assert fast == general
    assert fast.message == Message(role="assistant", content="Hel")
    # A message with more than text keeps it, and unknown fields stay.
    rich = Message.from_json({"role": "assistant", "content": "", "thinking": "hm"})
    assert rich.thinking == "hm"
    odd = Message.from_json({"role": "assistant", "content": "x", "mood": "calm"})
    assert odd.extra == {"mood": "calm"}
