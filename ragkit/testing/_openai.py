"""FakeOllama's OpenAI-compatible ``/v1`` endpoints, mapped onto the native ones."""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ragkit.testing._names import parse_name
from ragkit.testing._native import Backend, GenerationPlan
from ragkit.testing._protocol import JsonReply, Reply, Request, Stream, StreamReply
from ragkit.testing._wire import ApiError, decode_body

__all__ = ["OpenAI", "openai_error"]

_V1_JSON = "application/json"
_EFFORTS: dict[str, bool | str] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "max",
    "xhigh": "max",
    "ultra": "max",
}
_IMAGE_PREFIXES = (
    "data:image/png;base64,",
    "data:image/jpeg;base64,",
    "data:image/jpg;base64,",
    "data:image/webp;base64,",
    "data:;base64,",
)


def openai_error(status: int, message: str) -> dict[str, Any]:
    """The ``/v1`` error envelope for a native status and message."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(
        status, "api_error"
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _sse_error(message: str) -> dict[str, Any]:
    return openai_error(500, message)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def _image(part: Mapping[str, Any]) -> str:
    value = part.get("image_url")
    url = value.get("url") if isinstance(value, Mapping) else value
    if not isinstance(url, str):
        raise ApiError(400, "invalid image input")
    if url.startswith(("http://", "https://")):
        raise ApiError(
            400,
            "image URLs are not currently supported, please use base64 encoded "
            "data instead",
        )
    for prefix in _IMAGE_PREFIXES:
        if url.startswith(prefix):
            return url[len(prefix) :]
    raise ApiError(400, "invalid image input")


def _native_messages(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Convert OpenAI messages; each content part becomes its own message."""
    native: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for message in messages:
        if not isinstance(message, Mapping):
            raise ApiError(400, "invalid message format")
        role = str(message.get("role") or "")
        content = message.get("content")
        tool_calls = message.get("tool_calls")
        extra: dict[str, Any] = {}
        if tool_calls:
            calls = []
            for index, call in enumerate(tool_calls):
                function = call.get("function") or {}
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except (TypeError, ValueError) as exc:
                    raise ApiError(400, "invalid tool call arguments") from exc
                if call.get("id"):
                    call_names[call["id"]] = function.get("name", "")
                calls.append(
                    {
                        "id": call.get("id", ""),
                        "function": {
                            "index": index,
                            "name": function.get("name", ""),
                            "arguments": arguments,
                        },
                    }
                )
            extra["tool_calls"] = calls
        if role == "tool":
            name = message.get("name") or call_names.get(
                message.get("tool_call_id") or "", ""
            )
            if name:
                extra["tool_name"] = name
            if message.get("tool_call_id"):
                extra["tool_call_id"] = message["tool_call_id"]
        if isinstance(content, str):
            native.append({"role": role, "content": content, **extra})
        elif isinstance(content, list):
            for part in content:
                kind = part.get("type") if isinstance(part, Mapping) else None
                if kind == "text":
                    native.append({"role": role, "content": part.get("text", "")})
                elif kind == "image_url":
                    native.append(
                        {"role": role, "content": "", "images": [_image(part)]}
                    )
                else:
                    raise ApiError(400, f"invalid message part type: {kind}")
            if extra and native:
                native[-1].update(extra)
        elif content is None and tool_calls:
            native.append({"role": role, "content": "", **extra})
        else:
            shown = "<nil>" if content is None else type(content).__name__
            raise ApiError(400, f"invalid message content type: {shown}")
    return native


def _stop(value: Any, *, strict: bool) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ApiError(400, f"invalid type for 'stop' field: {type(value).__name__}")
    stops = []
    for item in value:
        if isinstance(item, str):
            stops.append(item)
        elif strict:
            go_type = "float64" if isinstance(item, int | float) else "interface {}"
            raise ApiError(400, f"invalid type for 'stop' field: {go_type}")
    return stops


def _sampling(body: Mapping[str, Any], *, strict_stop: bool) -> dict[str, Any]:
    options: dict[str, Any] = {
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p") or 1.0,
        "frequency_penalty": body.get("frequency_penalty", 0.0),
        "presence_penalty": body.get("presence_penalty", 0.0),
    }
    if body.get("max_tokens") is not None:
        options["num_predict"] = body["max_tokens"]
    if body.get("seed") is not None:
        options["seed"] = body["seed"]
    stop = _stop(body.get("stop"), strict=strict_stop)
    if stop is not None:
        options["stop"] = stop
    return options


def _think(body: Mapping[str, Any]) -> bool | str | None:
    effort = body.get("reasoning_effort")
    reasoning = body.get("reasoning")
    if effort is None and isinstance(reasoning, Mapping):
        effort = reasoning.get("effort")
    if effort is None:
        return None
    if effort not in _EFFORTS:
        raise ApiError(
            400,
            f'invalid reasoning value: \'{effort}\' (must be "none", "minimal", '
            '"low", "medium", "high", "xhigh", or "max")',
        )
    return _EFFORTS[str(effort)]


def _format(body: Mapping[str, Any]) -> Any:
    response_format = body.get("response_format")
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else "json"
    return None


def _openai_calls(calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": call.get("id", ""),
            "index": call["function"].get("index", index),
            "type": "function",
            "function": {
                "name": call["function"]["name"],
                "arguments": json.dumps(
                    call["function"].get("arguments") or {}, separators=(",", ":")
                ),
            },
        }
        for index, call in enumerate(calls)
    ]


def _finish_reason(reason: str, has_calls: bool) -> str:
    if reason == "stop" and has_calls:
        return "tool_calls"
    return reason


class OpenAI:
    """The ``/v1`` routes over a :class:`Backend`."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def _envelope(self, **fields: Any) -> dict[str, Any]:
        return {
            "id": fields.pop("id"),
            "object": fields.pop("object"),
            "created": fields.pop("created"),
            "model": fields.pop("model"),
            "system_fingerprint": "fp_ollama",
            **fields,
        }

    # -- chat --------------------------------------------------------------

    def chat_completions(self, request: Request) -> Reply:
        """``POST /v1/chat/completions``."""
        body = _object(decode_body(request.body))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "[] is too short - 'messages'")
        native: dict[str, Any] = {
            "model": body.get("model") or "",
            "messages": _native_messages(messages),
            "options": _sampling(body, strict_stop=False),
            "stream": bool(body.get("stream")),
        }
        if body.get("tools"):
            native["tools"] = body["tools"]
        fmt = _format(body)
        if fmt is not None:
            native["format"] = fmt
        think = _think(body)
        if think is not None:
            native["think"] = think
        if body.get("logprobs"):
            native["logprobs"] = True
            native["top_logprobs"] = body.get("top_logprobs") or 0
        plan = self._backend.plan_chat(native, request.route)
        if isinstance(plan, JsonReply):
            raise ApiError(400, "[] is too short - 'messages'")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        ident = f"chatcmpl-{random.randrange(999)}"
        created = _now()
        if plan.stream:
            stream = self._backend.chat_chunks(plan)
            events = self._chat_events(stream, plan, ident, created, include_usage)
            return StreamReply(
                Stream(events, stream.close), framing="sse", error_body=_sse_error
            )
        stream = self._backend.chat_chunks(plan)
        try:
            merged = self._backend.merge_chat(list(stream))
        finally:
            stream.close()
        message = merged["message"]
        reply_message: dict[str, Any] = {
            "role": "assistant",
            "content": message.get("content", ""),
        }
        if message.get("thinking"):
            reply_message["reasoning"] = message["thinking"]
        calls = message.get("tool_calls") or []
        if calls:
            reply_message["tool_calls"] = _openai_calls(calls)
        choice: dict[str, Any] = {
            "index": 0,
            "message": reply_message,
            "finish_reason": _finish_reason(
                merged.get("done_reason", "stop"), bool(calls)
            ),
        }
        if merged.get("logprobs"):
            choice["logprobs"] = {"content": merged["logprobs"]}
        return JsonReply(
            self._envelope(
                id=ident,
                object="chat.completion",
                created=created,
                model=plan.echo,
                choices=[choice],
                usage=_usage(merged),
            ),
            content_type=_V1_JSON,
        )

    def _chat_events(
        self,
        chunks: Stream,
        plan: GenerationPlan,
        ident: str,
        created: int,
        include_usage: bool,
    ) -> Iterator[Any]:
        first = True
        has_calls = False

        def event(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return self._envelope(
                id=ident,
                object="chat.completion.chunk",
                created=created,
                model=plan.echo,
                choices=[{"index": 0, "delta": delta, "finish_reason": finish}],
            )

        for chunk in chunks:
            message = chunk["message"]
            if chunk.get("done"):
                reason = _finish_reason(chunk.get("done_reason", "stop"), has_calls)
                yield event({}, reason)
                if include_usage:
                    usage = self._envelope(
                        id=ident,
                        object="chat.completion.chunk",
                        created=created,
                        model=plan.echo,
                        choices=[],
                        usage=_usage(chunk),
                    )
                    yield usage
                yield "[DONE]"
                return
            delta: dict[str, Any] = {}
            if first:
                delta["role"] = "assistant"
                first = False
            if message.get("thinking"):
                delta.update(content="", reasoning=message["thinking"])
            elif message.get("tool_calls"):
                has_calls = True
                delta["tool_calls"] = _openai_calls(message["tool_calls"])
            else:
                delta["content"] = message.get("content", "")
            yield event(delta, None)

    # -- completions -------------------------------------------------------

    def completions(self, request: Request) -> Reply:
        """``POST /v1/completions``."""
        body = _object(decode_body(request.body))
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            raise ApiError(
                400, "invalid type for 'prompt' field: only string is supported"
            )
        options = _sampling(body, strict_stop=True)
        native: dict[str, Any] = {
            "model": body.get("model") or "",
            "prompt": prompt,
            "options": options,
            "stream": bool(body.get("stream")),
        }
        if body.get("suffix"):
            native["suffix"] = body["suffix"]
        logprobs = body.get("logprobs")
        if (
            isinstance(logprobs, int)
            and not isinstance(logprobs, bool)
            and logprobs > 0
        ):
            native["logprobs"] = True
            native["top_logprobs"] = min(logprobs, 20)
        ident = f"cmpl-{random.randrange(999)}"
        created = _now()
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        plan = self._backend.plan_generate(native, request.route)
        if isinstance(plan, JsonReply):
            # An empty prompt takes the native load path.
            choice = {"text": "", "index": 0, "finish_reason": "load"}
            return JsonReply(
                self._envelope(
                    id=ident,
                    object="text_completion",
                    created=created,
                    model=native["model"],
                    choices=[choice],
                    usage=_usage({}),
                ),
                content_type=_V1_JSON,
            )
        stream = self._backend.generate_chunks(plan)
        if plan.stream:
            events = self._completion_events(
                stream, plan, ident, created, include_usage
            )
            return StreamReply(
                Stream(events, stream.close), framing="sse", error_body=_sse_error
            )
        try:
            merged = self._backend.merge_generate(list(stream))
        finally:
            stream.close()
        return JsonReply(
            self._envelope(
                id=ident,
                object="text_completion",
                created=created,
                model=plan.echo,
                choices=[
                    {
                        "text": merged.get("response", ""),
                        "index": 0,
                        "finish_reason": merged.get("done_reason", "stop"),
                    }
                ],
                usage=_usage(merged),
            ),
            content_type=_V1_JSON,
        )

    def _completion_events(
        self,
        chunks: Stream,
        plan: GenerationPlan,
        ident: str,
        created: int,
        include_usage: bool,
    ) -> Iterator[Any]:
        zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

        def event(text: str, finish: str | None) -> dict[str, Any]:
            fields: dict[str, Any] = {
                "choices": [{"text": text, "index": 0, "finish_reason": finish}]
            }
            if include_usage:
                fields["usage"] = zero
            return self._envelope(
                id=ident,
                object="text_completion",
                created=created,
                model=plan.echo,
                **fields,
            )

        # The last content chunk carries the finish reason, so hold one back.
        pending: str | None = None
        for chunk in chunks:
            if chunk.get("done"):
                yield event(pending or "", chunk.get("done_reason", "stop"))
                if include_usage:
                    yield self._envelope(
                        id=ident,
                        object="text_completion",
                        created=created,
                        model=plan.echo,
                        choices=[],
                        usage=_usage(chunk),
                    )
                yield "[DONE]"
                return
            text = chunk.get("response", "")
            if not text:
                continue
            if pending is not None:
                yield event(pending, None)
            pending = text

    # -- embeddings --------------------------------------------------------

    def embeddings(self, request: Request) -> Reply:
        """``POST /v1/embeddings``."""
        body = _object(decode_body(request.body))
        raw_input = body.get("input")
        if raw_input is None or raw_input == []:
            raise ApiError(400, "invalid input")
        if isinstance(raw_input, str):
            inputs = [raw_input]
        elif isinstance(raw_input, list) and all(isinstance(i, str) for i in raw_input):
            inputs = list(raw_input)
        else:
            raise ApiError(400, "invalid input type")
        encoding = str(body.get("encoding_format") or "float").lower()
        if encoding not in ("float", "base64"):
            raise ApiError(
                400,
                f'invalid encoding_format: "{body.get("encoding_format")}"; '
                'supported values are "float" and "base64"',
            )
        text = (body.get("model") or "").strip()
        if not text:
            raise ApiError(404, "model '' not found")
        name = parse_name(text)
        if name is None:
            raise ApiError(400, "invalid model name")
        model = self._backend.registry.get(name)
        if model is None:
            raise ApiError(404, f'model "{text}" not found, try pulling it first')
        dimensions = body.get("dimensions")
        result = self._backend.run_embed(
            request.route,
            model,
            inputs,
            echo=text,
            truncate=True,
            dimensions=int(dimensions) if isinstance(dimensions, int) else 0,
            options={},
            keep_alive=None,
            as_arrays=True,
        )
        data = []
        for index, vector in enumerate(result["embeddings"]):
            values = np.asarray(vector, dtype="<f4")
            embedding: Any = (
                base64.b64encode(values.tobytes()).decode("ascii")
                if encoding == "base64"
                else values.tolist()
            )
            data.append({"object": "embedding", "embedding": embedding, "index": index})
        tokens = int(result.get("prompt_eval_count", 0))
        return JsonReply(
            {
                "object": "list",
                "data": data,
                "model": text,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            content_type=_V1_JSON,
        )

    # -- models ------------------------------------------------------------

    def _model_entry(self, ident: str, model: Any) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "model",
            "created": int(model.modified_at.timestamp()),
            "owned_by": model.parsed.namespace,
        }

    def models(self, request: Request) -> Reply:
        """``GET /v1/models``: ``data`` is ``null`` when nothing is installed."""
        entries = [
            self._model_entry(model.parsed.display, model)
            for model in self._backend.registry.models()
        ]
        return JsonReply(
            {"object": "list", "data": entries or None}, content_type=_V1_JSON
        )

    def model(self, request: Request) -> Reply:
        """``GET /v1/models/{model}``."""
        text = request.params["model"]
        name = parse_name(text)
        model = self._backend.registry.get(name) if name is not None else None
        if model is None:
            shown = name.display if name is not None else text
            raise ApiError(404, f"model '{shown}' not found")
        return JsonReply(self._model_entry(text, model), content_type=_V1_JSON)


def _usage(chunk: Mapping[str, Any]) -> dict[str, int]:
    prompt = int(chunk.get("prompt_eval_count", 0))
    completion = int(chunk.get("eval_count", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _now() -> int:
    return int(time.time())
