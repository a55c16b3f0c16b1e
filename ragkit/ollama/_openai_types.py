"""Wire types of the OpenAI-compatible ``/v1`` endpoints, with unknown fields kept."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ragkit.ollama._types import _extra, _object

__all__ = [
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionChunk",
    "ChatCompletionChunkChoice",
    "ChatCompletionMessage",
    "ChatCompletionToolCall",
    "Completion",
    "CompletionChoice",
    "OpenAIEmbedding",
    "OpenAIEmbeddingList",
    "OpenAIFunctionCall",
    "OpenAIModel",
    "OpenAIModelList",
    "OpenAIUsage",
]


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [_object(item) for item in value] if isinstance(value, list) else []


@dataclass(kw_only=True)
class OpenAIUsage:
    """Token counts of a ``/v1`` reply."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> OpenAIUsage | None:
        """Build from the wire form; ``None`` stays ``None``."""
        if not isinstance(data, Mapping):
            return None
        return cls(
            prompt_tokens=data.get("prompt_tokens"),
            completion_tokens=data.get("completion_tokens"),
            total_tokens=data.get("total_tokens"),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class OpenAIFunctionCall:
    """A function call in OpenAI form: ``arguments`` is a JSON *string*."""

    name: str = ""
    arguments: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenAIFunctionCall:
        """Build from the wire form."""
        return cls(
            name=data.get("name") or "",
            arguments=data.get("arguments") or "",
            extra=_extra(cls, data),
        )

    def parsed_arguments(self) -> dict[str, Any]:
        """Decode ``arguments``; ``{}`` when empty.

        Raises:
            ValueError: ``arguments`` is not a JSON object.
        """
        if not self.arguments:
            return {}
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError(f"tool call arguments are not a JSON object: {value!r}")
        return value


@dataclass(kw_only=True)
class ChatCompletionToolCall:
    """A tool call in a ``/v1/chat/completions`` reply."""

    id: str | None = None
    index: int | None = None
    type: str = "function"
    function: OpenAIFunctionCall = field(default_factory=OpenAIFunctionCall)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatCompletionToolCall:
        """Build from the wire form."""
        return cls(
            id=data.get("id"),
            index=data.get("index"),
            type=data.get("type") or "function",
            function=OpenAIFunctionCall.from_json(_object(data.get("function"))),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class ChatCompletionMessage:
    """A message (or a streamed ``delta``); ``reasoning`` holds thinking text."""

    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ChatCompletionToolCall] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatCompletionMessage:
        """Build from the wire form."""
        calls = data.get("tool_calls")
        return cls(
            role=data.get("role"),
            content=data.get("content"),
            reasoning=data.get("reasoning"),
            tool_calls=None
            if not isinstance(calls, list)
            else [ChatCompletionToolCall.from_json(item) for item in _items(calls)],
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class ChatCompletionChoice:
    """One choice of a non-streamed chat completion."""

    index: int = 0
    message: ChatCompletionMessage = field(default_factory=ChatCompletionMessage)
    finish_reason: str | None = None
    logprobs: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatCompletionChoice:
        """Build from the wire form."""
        return cls(
            index=data.get("index") or 0,
            message=ChatCompletionMessage.from_json(_object(data.get("message"))),
            finish_reason=data.get("finish_reason"),
            logprobs=data.get("logprobs"),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class ChatCompletion:
    """The reply of ``POST /v1/chat/completions`` without streaming."""

    id: str = ""
    object: str = ""
    created: int | None = None
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[ChatCompletionChoice] = field(default_factory=list)
    usage: OpenAIUsage | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatCompletion:
        """Build from the wire form."""
        return cls(
            id=data.get("id") or "",
            object=data.get("object") or "",
            created=data.get("created"),
            model=data.get("model") or "",
            system_fingerprint=data.get("system_fingerprint"),
            choices=[
                ChatCompletionChoice.from_json(i) for i in _items(data.get("choices"))
            ],
            usage=OpenAIUsage.from_json(data.get("usage")),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class ChatCompletionChunkChoice:
    """One choice of a streamed chat completion chunk."""

    index: int = 0
    delta: ChatCompletionMessage = field(default_factory=ChatCompletionMessage)
    finish_reason: str | None = None
    logprobs: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatCompletionChunkChoice:
        """Build from the wire form."""
        return cls(
            index=data.get("index") or 0,
            delta=ChatCompletionMessage.from_json(_object(data.get("delta"))),
            finish_reason=data.get("finish_reason"),
            logprobs=data.get("logprobs"),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class ChatCompletionChunk:
    """One event of a streamed ``/v1/chat/completions`` reply.

    The usage chunk (with ``include_usage``) has no choices.
    """

    id: str = ""
    object: str = ""
    created: int | None = None
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[ChatCompletionChunkChoice] = field(default_factory=list)
    usage: OpenAIUsage | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatCompletionChunk:
        """Build from the wire form."""
        return cls(
            id=data.get("id") or "",
            object=data.get("object") or "",
            created=data.get("created"),
            model=data.get("model") or "",
            system_fingerprint=data.get("system_fingerprint"),
            choices=[
                ChatCompletionChunkChoice.from_json(i)
                for i in _items(data.get("choices"))
            ],
            usage=OpenAIUsage.from_json(data.get("usage")),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class CompletionChoice:
    """One choice of a ``/v1/completions`` reply or chunk."""

    text: str = ""
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CompletionChoice:
        """Build from the wire form."""
        return cls(
            text=data.get("text") or "",
            index=data.get("index") or 0,
            finish_reason=data.get("finish_reason"),
            logprobs=data.get("logprobs"),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class Completion:
    """The reply of ``POST /v1/completions``, or one chunk of its stream."""

    id: str = ""
    object: str = ""
    created: int | None = None
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[CompletionChoice] = field(default_factory=list)
    usage: OpenAIUsage | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Completion:
        """Build from the wire form."""
        return cls(
            id=data.get("id") or "",
            object=data.get("object") or "",
            created=data.get("created"),
            model=data.get("model") or "",
            system_fingerprint=data.get("system_fingerprint"),
            choices=[
                CompletionChoice.from_json(i) for i in _items(data.get("choices"))
            ],
            usage=OpenAIUsage.from_json(data.get("usage")),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class OpenAIEmbedding:
    """One vector of a ``/v1/embeddings`` reply.

    ``embedding`` is a list of floats, or base64 text of little-endian float32
    values when ``encoding_format="base64"`` was requested.
    """

    object: str = "embedding"
    embedding: list[float] | str = field(default_factory=list)
    index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenAIEmbedding:
        """Build from the wire form."""
        return cls(
            object=data.get("object") or "embedding",
            embedding=data.get("embedding") or [],
            index=data.get("index") or 0,
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class OpenAIEmbeddingList:
    """The reply of ``POST /v1/embeddings``."""

    object: str = "list"
    data: list[OpenAIEmbedding] = field(default_factory=list)
    model: str = ""
    usage: OpenAIUsage | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenAIEmbeddingList:
        """Build from the wire form."""
        return cls(
            object=data.get("object") or "list",
            data=[OpenAIEmbedding.from_json(i) for i in _items(data.get("data"))],
            model=data.get("model") or "",
            usage=OpenAIUsage.from_json(data.get("usage")),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class OpenAIModel:
    """A model in ``/v1/models``; ``created`` is Unix seconds."""

    id: str = ""
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenAIModel:
        """Build from the wire form."""
        return cls(
            id=data.get("id") or "",
            object=data.get("object") or "model",
            created=data.get("created"),
            owned_by=data.get("owned_by"),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class OpenAIModelList:
    """The reply of ``GET /v1/models`` (the server's ``null`` becomes ``[]``)."""

    object: str = "list"
    data: list[OpenAIModel] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenAIModelList:
        """Build from the wire form."""
        return cls(
            object=data.get("object") or "list",
            data=[OpenAIModel.from_json(i) for i in _items(data.get("data"))],
            extra=_extra(cls, data),
        )
