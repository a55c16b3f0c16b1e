"""Wire types of the native Ollama API: plain dataclasses and their JSON converters.

Responses are built with ``from_json``: fields the server may omit default to
``None`` (or an empty container), and fields this module does not know are kept
in ``extra`` so a newer server never breaks a caller. Request-side types have a
``to_json`` that leaves out ``None`` fields and merges ``extra`` back in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from ragkit.ollama._durations import seconds
from ragkit.ollama._images import ImageInput, encode_image

__all__ = [
    "ChatResponse",
    "EmbedResponse",
    "EmbeddingsResponse",
    "GenerateResponse",
    "ListResponse",
    "ListedModel",
    "Logprob",
    "Message",
    "ModelDetails",
    "Options",
    "ProcessResponse",
    "ProgressResponse",
    "RunningModel",
    "ShowResponse",
    "StatusResponse",
    "Tool",
    "ToolCall",
    "ToolCallFunction",
    "ToolFunction",
    "VersionResponse",
    "parse_parameters",
    "parse_time",
]


@cache
def _known(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls)) - {"extra"}


def _extra(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    known = _known(cls)
    # Fast path: a reply with only known fields (the usual case, once per chunk).
    if known.issuperset(data):
        return {}
    return {key: value for key, value in data.items() if key not in known}


def _dump(values: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in values.items() if value is not None}
    out.update(extra)
    return out


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# ---------------------------------------------------------------------------
# Request-side types (also parsed from replies where the server echoes them)


@dataclass
class Options:
    """Model options for ``options=`` (wire facts 4.3); ``None`` means "not set".

    Unknown keys are ignored by the server; put them in ``extra`` to send them.
    A wrong type for a known key makes the server answer 500.
    """

    _: KW_ONLY
    num_keep: int | None = None
    seed: int | None = None
    num_predict: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    typical_p: float | None = None
    repeat_last_n: int | None = None
    temperature: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] | None = None
    num_ctx: int | None = None
    num_batch: int | None = None
    num_gpu: int | None = None
    main_gpu: int | None = None
    use_mmap: bool | None = None
    num_thread: int | None = None
    draft_num_predict: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the ``options`` object, without unset fields."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.pop("extra")
        return _dump(values, self.extra)


@dataclass
class ToolCallFunction:
    """The function part of a tool call.

    Attributes:
        name: The tool's name.
        arguments: The arguments, always a JSON object (``{}`` when empty).
        index: The call's 0-based position within the reply.
    """

    _: KW_ONLY
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    index: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolCallFunction:
        """Build from the wire form."""
        return cls(
            name=data.get("name") or "",
            arguments=dict(_object(data.get("arguments"))),
            index=data.get("index"),
            extra=_extra(cls, data),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the wire form."""
        values = {"index": self.index, "name": self.name, "arguments": self.arguments}
        return _dump(values, self.extra)


@dataclass
class ToolCall:
    """A tool call the model made; ``id`` is sent back as ``tool_call_id``.

    Attributes:
        function: Which function, with which arguments.
        id: The call's id (``call_`` + 8 characters on servers since v0.12.10).
    """

    _: KW_ONLY
    function: ToolCallFunction
    id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolCall:
        """Build from the wire form."""
        return cls(
            id=data.get("id"),
            function=ToolCallFunction.from_json(_object(data.get("function"))),
            extra=_extra(cls, data),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the wire form."""
        return _dump({"id": self.id, "function": self.function.to_json()}, self.extra)


def _tool_calls(value: Any) -> list[ToolCall] | None:
    if not isinstance(value, list):
        return None
    return [ToolCall.from_json(_object(item)) for item in value]


_PLAIN_MESSAGE = frozenset({"role", "content"})
"""The fields of a message that carries only text."""


@dataclass
class Message:
    """One chat message, sent in ``messages=`` and received as ``response.message``.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: The text; ``""`` in chunks that carry only thinking or tool calls.
        thinking: The model's reasoning, when thinking is on.
        images: Images; when sending, bytes and paths are base64-encoded for you.
        tool_calls: Tool calls made by the assistant.
        tool_name: On a ``tool`` message, the tool that produced this result.
        tool_call_id: On a ``tool`` message, the id of the call it answers.
        extra: Fields this client does not model, kept and sent back as given.
    """

    role: str
    content: str = ""
    _: KW_ONLY
    thinking: str | None = None
    images: Sequence[ImageInput] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """Build from the wire form."""
        if _PLAIN_MESSAGE.issuperset(data):
            # A streamed chunk's message: role and text only (once per token).
            return cls(role=data.get("role") or "", content=data.get("content") or "")
        images = data.get("images")
        return cls(
            role=data.get("role") or "",
            content=data.get("content") or "",
            thinking=data.get("thinking"),
            images=list(images) if isinstance(images, list) else None,
            tool_calls=_tool_calls(data.get("tool_calls")),
            tool_name=data.get("tool_name"),
            tool_call_id=data.get("tool_call_id"),
            extra=_extra(cls, data),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the wire form, with images base64-encoded."""
        values: dict[str, Any] = {
            "role": self.role,
            "content": self.content,
            "thinking": self.thinking,
            "images": None
            if self.images is None
            else [encode_image(image) for image in self.images],
            "tool_calls": None
            if self.tool_calls is None
            else [call.to_json() for call in self.tool_calls],
            "tool_name": self.tool_name,
            "tool_call_id": self.tool_call_id,
        }
        return _dump(values, self.extra)


@dataclass
class ToolFunction:
    """The function a tool exposes: its name, description and JSON-schema parameters."""

    _: KW_ONLY
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the wire form."""
        values = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }
        return _dump(values, self.extra)


@dataclass
class Tool:
    """A tool definition for ``tools=``; see also :func:`tool_from_function`."""

    _: KW_ONLY
    function: ToolFunction
    type: str = "function"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the wire form."""
        return _dump(
            {"type": self.type, "function": self.function.to_json()}, self.extra
        )


# ---------------------------------------------------------------------------
# Responses


@dataclass(kw_only=True)
class _Metrics:
    """Timing and token counts; each is omitted by the server when zero."""

    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None

    @property
    def total_seconds(self) -> float | None:
        """``total_duration`` in seconds."""
        return seconds(self.total_duration)

    @property
    def load_seconds(self) -> float | None:
        """``load_duration`` in seconds."""
        return seconds(self.load_duration)

    @property
    def prompt_eval_seconds(self) -> float | None:
        """``prompt_eval_duration`` in seconds."""
        return seconds(self.prompt_eval_duration)

    @property
    def eval_seconds(self) -> float | None:
        """``eval_duration`` in seconds."""
        return seconds(self.eval_duration)

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed, ``eval_count / eval_duration``, when both are known."""
        if not self.eval_count or not self.eval_duration:
            return None
        return self.eval_count / (self.eval_duration / 1e9)


def _metrics(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "total_duration": data.get("total_duration"),
        "load_duration": data.get("load_duration"),
        "prompt_eval_count": data.get("prompt_eval_count"),
        "prompt_eval_duration": data.get("prompt_eval_duration"),
        "eval_count": data.get("eval_count"),
        "eval_duration": data.get("eval_duration"),
    }


@dataclass(kw_only=True)
class Logprob:
    """A generated token's log probability, with the alternatives if requested.

    Attributes:
        token: The token text.
        logprob: Its log probability.
        bytes: The token's UTF-8 bytes (omitted by the server for an empty token).
        top_logprobs: The most likely alternatives, when ``top_logprobs`` was set.
    """

    token: str = ""
    logprob: float = 0.0
    bytes: list[int] | None = None
    top_logprobs: list[Logprob] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Logprob:
        """Build from the wire form."""
        top = data.get("top_logprobs")
        return cls(
            token=data.get("token") or "",
            logprob=data.get("logprob") or 0.0,
            bytes=data.get("bytes"),
            top_logprobs=_logprobs(top),
            extra=_extra(cls, data),
        )


def _logprobs(value: Any) -> list[Logprob] | None:
    if not isinstance(value, list):
        return None
    return [Logprob.from_json(_object(item)) for item in value]


@dataclass(kw_only=True)
class GenerateResponse(_Metrics):
    """A reply (or one streamed chunk) from ``/api/generate``.

    Attributes:
        model: The model name as the request gave it.
        created_at: UTC timestamp (RFC 3339); see :func:`parse_time`.
        response: The generated text (this chunk's part when streaming).
        thinking: Reasoning text, when thinking is on.
        done: ``True`` on the last chunk.
        done_reason: ``stop``, ``length``, ``load`` or ``unload``.
        context: Deprecated token context to pass to the next request.
        tool_calls: Tool calls, for models that emit them through generate.
        logprobs: Token log probabilities, when requested.
    """

    model: str = ""
    created_at: str | None = None
    response: str = ""
    thinking: str | None = None
    done: bool = False
    done_reason: str | None = None
    context: list[int] | None = None
    tool_calls: list[ToolCall] | None = None
    logprobs: list[Logprob] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GenerateResponse:
        """Build from the wire form."""
        return cls(
            model=data.get("model") or "",
            created_at=data.get("created_at"),
            response=data.get("response") or "",
            thinking=data.get("thinking"),
            done=bool(data.get("done")),
            done_reason=data.get("done_reason"),
            context=data.get("context"),
            tool_calls=_tool_calls(data.get("tool_calls")),
            logprobs=_logprobs(data.get("logprobs")),
            **_metrics(data),
            extra=_extra(cls, data),
        )


_PLAIN_CHUNK = frozenset({"model", "created_at", "message", "done"})
"""The fields of a streamed chat chunk before the last, the common case."""


@dataclass(kw_only=True)
class ChatResponse(_Metrics):
    """A reply (or one streamed chunk) from ``/api/chat``.

    Attributes:
        model: The model name as the request gave it.
        created_at: UTC timestamp (RFC 3339); see :func:`parse_time`.
        message: The assistant's message (this chunk's part when streaming).
        done: ``True`` on the last chunk.
        done_reason: ``stop``, ``length``, ``load`` or ``unload``.
        logprobs: Token log probabilities, when requested.
    """

    model: str = ""
    created_at: str | None = None
    message: Message = field(default_factory=lambda: Message(role="assistant"))
    done: bool = False
    done_reason: str | None = None
    logprobs: list[Logprob] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatResponse:
        """Build from the wire form."""
        if _PLAIN_CHUNK.issuperset(data):
            # A streamed chunk before the last: no metrics, nothing unknown.
            return cls(
                model=data.get("model") or "",
                created_at=data.get("created_at"),
                message=Message.from_json(_object(data.get("message"))),
                done=bool(data.get("done")),
            )
        return cls(
            model=data.get("model") or "",
            created_at=data.get("created_at"),
            message=Message.from_json(_object(data.get("message"))),
            done=bool(data.get("done")),
            done_reason=data.get("done_reason"),
            logprobs=_logprobs(data.get("logprobs")),
            **_metrics(data),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class EmbedResponse:
    """The reply from ``/api/embed``: one unit-length vector per input, in order.

    Attributes:
        model: The model name as the request gave it.
        embeddings: The vectors (``[]`` for zero inputs).
        total_duration: Nanoseconds, when reported.
        load_duration: Nanoseconds, when reported.
        prompt_eval_count: Tokens across all inputs, when reported.
    """

    model: str = ""
    embeddings: list[list[float]] = field(default_factory=list)
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EmbedResponse:
        """Build from the wire form (the vectors are used as decoded, not copied)."""
        return cls(
            model=data.get("model") or "",
            embeddings=data.get("embeddings") or [],
            total_duration=data.get("total_duration"),
            load_duration=data.get("load_duration"),
            prompt_eval_count=data.get("prompt_eval_count"),
            extra=_extra(cls, data),
        )

    @property
    def total_seconds(self) -> float | None:
        """``total_duration`` in seconds."""
        return seconds(self.total_duration)

    @property
    def load_seconds(self) -> float | None:
        """``load_duration`` in seconds."""
        return seconds(self.load_duration)


@dataclass(kw_only=True)
class EmbeddingsResponse:
    """The legacy ``/api/embeddings`` reply: one vector, maybe not unit length."""

    embedding: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EmbeddingsResponse:
        """Build from the wire form."""
        return cls(embedding=data.get("embedding") or [], extra=_extra(cls, data))


@dataclass(kw_only=True)
class ModelDetails:
    """The ``details`` of a model in tags, ps and show replies."""

    parent_model: str | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None
    context_length: int | None = None
    embedding_length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelDetails:
        """Build from the wire form."""
        return cls(
            parent_model=data.get("parent_model"),
            format=data.get("format"),
            family=data.get("family"),
            families=data.get("families"),
            parameter_size=data.get("parameter_size"),
            quantization_level=data.get("quantization_level"),
            context_length=data.get("context_length"),
            embedding_length=data.get("embedding_length"),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class ListedModel:
    """One installed model in ``/api/tags``.

    Attributes:
        name: Display name, tag included (``llama3.2:latest``).
        model: Same as ``name``.
        modified_at: Local time with offset; see :func:`parse_time`.
        size: Bytes on disk.
        digest: 64 hex characters (manifest hash, no ``sha256:`` prefix).
        details: Format, family, parameter size, quantization.
        capabilities: e.g. ``completion``, ``tools``, ``embedding`` (newer servers).
    """

    name: str = ""
    model: str = ""
    modified_at: str | None = None
    size: int | None = None
    digest: str | None = None
    details: ModelDetails = field(default_factory=ModelDetails)
    capabilities: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListedModel:
        """Build from the wire form."""
        return cls(
            name=data.get("name") or "",
            model=data.get("model") or "",
            modified_at=data.get("modified_at"),
            size=data.get("size"),
            digest=data.get("digest"),
            details=ModelDetails.from_json(_object(data.get("details"))),
            capabilities=data.get("capabilities"),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class ListResponse:
    """The reply from ``/api/tags``: installed models, most recently modified first."""

    models: list[ListedModel] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListResponse:
        """Build from the wire form."""
        models = data.get("models") or []
        return cls(
            models=[ListedModel.from_json(_object(item)) for item in models],
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class RunningModel:
    """One loaded model in ``/api/ps``.

    Attributes:
        expires_at: When it unloads (local time with offset; ~290 years ahead
            means "forever").
        size_vram: Bytes held in GPU memory.
        context_length: The context size it was loaded with.
    """

    name: str = ""
    model: str = ""
    size: int | None = None
    digest: str | None = None
    details: ModelDetails = field(default_factory=ModelDetails)
    expires_at: str | None = None
    size_vram: int | None = None
    context_length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunningModel:
        """Build from the wire form."""
        return cls(
            name=data.get("name") or "",
            model=data.get("model") or "",
            size=data.get("size"),
            digest=data.get("digest"),
            details=ModelDetails.from_json(_object(data.get("details"))),
            expires_at=data.get("expires_at"),
            size_vram=data.get("size_vram"),
            context_length=data.get("context_length"),
            extra=_extra(cls, data),
        )


@dataclass(kw_only=True)
class ProcessResponse:
    """The reply from ``/api/ps``: loaded models, latest expiry first."""

    models: list[RunningModel] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessResponse:
        """Build from the wire form."""
        models = data.get("models") or []
        return cls(
            models=[RunningModel.from_json(_object(item)) for item in models],
            extra=_extra(cls, data),
        )


def parse_parameters(text: str | None) -> dict[str, list[str]]:
    """Parse the ``parameters`` text block of a show reply.

    Each line is ``key value`` with the key padded by spaces; a list parameter
    such as ``stop`` has one line per value. Quoted values are unquoted.

    Args:
        text: ``ShowResponse.parameters``.

    Returns:
        Each key with its values, in order.

    Examples:
        >>> parse_parameters('num_ctx                        8192\\nstop "<|eot|>"')
        {'num_ctx': ['8192'], 'stop': ['<|eot|>']}
    """
    result: dict[str, list[str]] = {}
    for line in (text or "").splitlines():
        key, _, value = line.strip().partition(" ")
        if not key:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        result.setdefault(key, []).append(value)
    return result


@dataclass(kw_only=True)
class ShowResponse:
    """The reply from ``/api/show``.

    Attributes:
        license: License text (a string, or a list for several).
        modelfile: The generated Modelfile.
        parameters: Modelfile parameters as a text block; see
            :func:`parse_parameters` and :attr:`num_ctx`.
        template: The prompt template.
        system: The system prompt.
        details: Format, family, parameter size, quantization.
        model_info: GGUF metadata (``general.architecture``,
            ``<arch>.context_length``, ...); arrays longer than 5 items are
            empty unless ``verbose=True``.
        capabilities: e.g. ``completion``, ``tools``, ``vision``, ``embedding``.
        modified_at: Local time with offset.
        messages: Messages baked into the model.
        projector_info: Metadata of a vision projector.
        tensors: Tensor names, types and shapes.
    """

    license: str | list[str] | None = None
    modelfile: str | None = None
    parameters: str | None = None
    template: str | None = None
    system: str | None = None
    details: ModelDetails = field(default_factory=ModelDetails)
    model_info: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    modified_at: str | None = None
    messages: list[Message] | None = None
    projector_info: dict[str, Any] | None = None
    tensors: list[dict[str, Any]] | None = None
    renderer: str | None = None
    parser: str | None = None
    requires: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShowResponse:
        """Build from the wire form."""
        messages = data.get("messages")
        return cls(
            license=data.get("license"),
            modelfile=data.get("modelfile"),
            parameters=data.get("parameters"),
            template=data.get("template"),
            system=data.get("system"),
            details=ModelDetails.from_json(_object(data.get("details"))),
            model_info=dict(_object(data.get("model_info"))),
            capabilities=list(data.get("capabilities") or []),
            modified_at=data.get("modified_at"),
            messages=None
            if not isinstance(messages, list)
            else [Message.from_json(_object(item)) for item in messages],
            projector_info=data.get("projector_info"),
            tensors=data.get("tensors"),
            renderer=data.get("renderer"),
            parser=data.get("parser"),
            requires=data.get("requires"),
            extra=_extra(cls, data),
        )

    @property
    def architecture(self) -> str | None:
        """``model_info["general.architecture"]``, e.g. ``llama``."""
        value = self.model_info.get("general.architecture")
        return value if isinstance(value, str) else None

    def _arch_int(self, key: str) -> int | None:
        if self.architecture is None:
            return None
        value = self.model_info.get(f"{self.architecture}.{key}")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def context_length(self) -> int | None:
        """The context length the model was trained with (``<arch>.context_length``)."""
        return self._arch_int("context_length")

    @property
    def embedding_length(self) -> int | None:
        """The model's vector size (``<arch>.embedding_length``)."""
        return self._arch_int("embedding_length")

    @property
    def num_ctx(self) -> int | None:
        """The ``num_ctx`` set in the Modelfile parameters, if any."""
        values = parse_parameters(self.parameters).get("num_ctx")
        if not values:
            return None
        try:
            return int(float(values[-1]))
        except ValueError:
            return None


@dataclass(kw_only=True)
class ProgressResponse:
    """One progress update from pull, push or create (or their final status).

    Attributes:
        status: e.g. ``pulling manifest``, ``pulling 6a0746a1ec1a``, ``success``.
        digest: The layer being transferred (``sha256:...``).
        total: Total bytes of that layer.
        completed: Bytes done so far (absent early on).
    """

    status: str = ""
    digest: str | None = None
    total: int | None = None
    completed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProgressResponse:
        """Build from the wire form."""
        return cls(
            status=data.get("status") or "",
            digest=data.get("digest"),
            total=data.get("total"),
            completed=data.get("completed"),
            extra=_extra(cls, data),
        )

    @property
    def fraction(self) -> float | None:
        """``completed / total`` in 0..1, when both are known."""
        if not self.total:
            return None
        return min(1.0, (self.completed or 0) / self.total)


@dataclass(kw_only=True)
class StatusResponse:
    """The outcome of copy and delete, whose success reply is an empty body."""

    status: str = "success"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class VersionResponse:
    """The reply from ``/api/version``."""

    version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionResponse:
        """Build from the wire form."""
        return cls(version=data.get("version") or "", extra=_extra(cls, data))


_TIMESTAMP = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.IGNORECASE
)


def parse_time(value: str | None) -> datetime | None:
    """Parse a server timestamp (RFC 3339, up to 9 fractional digits).

    Python's ``datetime`` keeps microseconds, so digits past the sixth are
    dropped.

    Args:
        value: ``created_at``, ``modified_at`` or ``expires_at``.

    Returns:
        An aware datetime, or ``None`` when ``value`` is ``None`` or malformed.

    Examples:
        >>> parse_time("2026-03-01T10:00:00.123456789Z").isoformat()
        '2026-03-01T10:00:00.123456+00:00'
    """
    match = _TIMESTAMP.fullmatch(value or "")
    if match is None:
        return None
    base, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(base)
    except ValueError:
        return None
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if zone.upper() == "Z":
        tz = timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return moment.replace(microsecond=micros, tzinfo=tz)
