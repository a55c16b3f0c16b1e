"""NDJSON and SSE decoding, fed in arbitrary chunk sizes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from ragkit.errors import OllamaConnectionError, ResponseError
from ragkit.ollama._stream import LineSplitter, NDJSONDecoder, SSEDecoder


def _done(data: Mapping[str, Any]) -> bool:
    return data.get("done") is True


def ndjson(status: int = 200) -> NDJSONDecoder[dict[str, Any]]:
    return NDJSONDecoder(dict, _done, status_code=status, where="POST h/api/chat")


def feed_all(decoder: Any, body: bytes, size: int) -> list[Any]:
    items: list[Any] = []
    for start in range(0, len(body), size):
        items.extend(decoder.feed(body[start : start + size]))
    items.extend(decoder.close())
    return items


@pytest.mark.parametrize("size", [1, 2, 7, 1000])
def test_line_splitter_reassembles_lines_across_chunks(size: int) -> None:
    body = b"alpha\nbeta\r\n\ngamma"
    splitter = LineSplitter()
    lines: list[bytes] = []
    for start in range(0, len(body), size):
        lines.extend(splitter.feed(body[start : start + size]))
    lines.extend(splitter.close())
    assert lines == [b"alpha", b"beta\r", b"", b"gamma"]


def test_line_splitter_handles_whole_line_chunks_after_a_partial_one() -> None:
    # Chunks of whole lines skip the carried-over buffer; one that follows a
    # partial line must still be joined to it.
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntwo\n") == [b"one", b"two"]
    assert splitter.feed(b"thr") == []
    assert splitter.feed(b"ee\nfour\n") == [b"three", b"four"]
    assert splitter.feed(b"\n") == [b""]
    assert splitter.close() == []


@pytest.mark.parametrize("size", [1, 3, 64])
def test_ndjson_skips_blank_lines_and_keeps_order(size: int) -> None:
    body = b'{"n":1}\n\n  \r\n{"n":2}\n{"n":3,"done":true}\n'
    items = feed_all(ndjson(), body, size)
    assert [item["n"] for item in items] == [1, 2, 3]


def test_ndjson_final_object_without_trailing_newline() -> None:
    # Load/unload replies are one JSON object with no newline, even when streaming.
    assert feed_all(ndjson(), b'{"done":true,"done_reason":"load"}', 5) == [
        {"done": True, "done_reason": "load"}
    ]


def test_ndjson_does_not_split_on_unicode_line_separators() -> None:
    text = "a\u2028b\u0085c\x1cd"
    body = json.dumps({"t": text, "done": True}, ensure_ascii=False).encode() + b"\n"
    assert feed_all(ndjson(), body, 4)[0]["t"] == text


def test_ndjson_error_line_raises_with_the_stream_status() -> None:
    decoder = ndjson(200)
    assert list(decoder.feed(b'{"response":"Hel","done":false}\n')) == [
        {"response": "Hel", "done": False}
    ]
    with pytest.raises(ResponseError) as info:
        list(decoder.feed(b'{"error":"runner process terminated"}\n'))
    assert info.value.status_code == 200
    assert info.value.error == "runner process terminated"


def test_ndjson_stream_without_done_raises_connection_error() -> None:
    decoder = ndjson()
    list(decoder.feed(b'{"done":false}\n'))
    with pytest.raises(OllamaConnectionError, match="ended before its final message"):
        list(decoder.close())


def test_ndjson_line_that_is_not_json_raises() -> None:
    with pytest.raises(ResponseError, match="not JSON") as info:
        list(ndjson(200).feed(b"{oops\n"))
    assert info.value.status_code == 200
    with pytest.raises(ResponseError, match="not a JSON object"):
        list(ndjson().feed(b"[1,2]\n"))


def test_progress_stream_final_is_success_status() -> None:
    decoder = NDJSONDecoder(
        dict,
        lambda data: data.get("status") == "success",
        status_code=200,
        where="POST h/api/pull",
    )
    body = b'{"status":"pulling manifest"}\n{"status":"success"}\n'
    assert [item["status"] for item in feed_all(decoder, body, 3)] == [
        "pulling manifest",
        "success",
    ]


def sse() -> SSEDecoder[dict[str, Any]]:
    return SSEDecoder(dict, status_code=200, where="POST h/v1/chat/completions")


@pytest.mark.parametrize("size", [1, 5, 4096])
def test_sse_events_until_done(size: int) -> None:
    body = (
        b": comment\n"
        b'data: {"i":1}\n\n'
        b"event: message\r\n"
        b'data:{"i":2}\r\n\r\n'
        b'data: {"i":\n'
        b"data: 3}\n\n"
        b"data: [DONE]\n\n"
    )
    assert [item["i"] for item in feed_all(sse(), body, size)] == [1, 2, 3]


def test_sse_done_without_final_blank_line_still_counts() -> None:
    assert feed_all(sse(), b'data: {"i":1}\n\ndata: [DONE]', 4) == [{"i": 1}]


def test_sse_without_done_raises() -> None:
    with pytest.raises(OllamaConnectionError, match=r"without `data: \[DONE\]`"):
        feed_all(sse(), b'data: {"i":1}\n\n', 8)


def test_sse_error_event_raises_with_stream_status() -> None:
    with pytest.raises(ResponseError) as info:
        list(sse().feed(b'data: {"error":{"message":"boom","type":"api_error"}}\n\n'))
    assert info.value.error == "boom"
    assert info.value.status_code == 200


def test_sse_bad_events_raise() -> None:
    with pytest.raises(ResponseError, match="not JSON"):
        list(sse().feed(b"data: {nope\n\n"))
    with pytest.raises(ResponseError, match="not a JSON object"):
        list(sse().feed(b"data: 5\n\n"))


def test_items_before_an_error_in_the_same_chunk_are_delivered_first() -> None:
    items = ndjson().feed(b'{"n":1}\n{"n":2}\n{"error":"boom"}\n')
    assert next(items) == {"n": 1}
    assert next(items) == {"n": 2}
    with pytest.raises(ResponseError, match="boom"):
        next(items)
