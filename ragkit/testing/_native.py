"""FakeOllama's native ``/api`` endpoints, with the real server's checks and errors."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from ragkit.testing._answerer import Reply as ModelReply
from ragkit.testing._answerer import answer_chat, answer_generate
from ragkit.testing._embedding import embed_text, raw_vector
from ragkit.testing._names import ModelName, parse_name
from ragkit.testing._protocol import (
    EmptyReply,
    JsonReply,
    Reply,
    Request,
    Stream,
    StreamReply,
    TextReply,
)
from ragkit.testing._registry import (
    DEFAULT_NUM_CTX,
    FakeModel,
    Registry,
    is_pullable,
    model_for_pull,
)
from ragkit.testing._slots import CostModel, Scheduler, Slot
from ragkit.testing._text import count_tokens, tokenize, truncate_tokens
from ragkit.testing._wire import (
    ApiError,
    RawJSON,
    check_fields,
    check_options,
    check_think,
    decode_body,
    local_time,
    parse_keep_alive,
    utc_now,
)

__all__ = ["Backend", "Counter", "GenerationPlan"]

Counter = Callable[..., None]
"""``counter(route, inputs=0, prompt_tokens=0, eval_tokens=0)`` adds to the stats."""

_CHAT_FIELDS = {
    "model": "string",
    "messages": "array",
    "tools": "array",
    "stream": "bool",
    "options": "object",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
_GENERATE_FIELDS = {
    "model": "string",
    "prompt": "string",
    "suffix": "string",
    "system": "string",
    "template": "string",
    "context": "ints",
    "raw": "bool",
    "images": "strings",
    "stream": "bool",
    "options": "object",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
_MESSAGE_FIELDS = {
    "role": "string",
    "content": "string",
    "thinking": "string",
    "images": "strings",
    "tool_calls": "array",
    "tool_name": "string",
    "tool_call_id": "string",
}
_EMBED_FIELDS = {
    "model": "string",
    "truncate": "bool",
    "dimensions": "int",
    "options": "object",
}
_EMBEDDINGS_FIELDS = {"model": "string", "prompt": "string", "options": "object"}
_SHOW_FIELDS = {"model": "string", "name": "string", "verbose": "bool"}
_PULL_FIELDS = {
    "model": "string",
    "name": "string",
    "insecure": "bool",
    "stream": "bool",
}
_CREATE_FIELDS = {
    "model": "string",
    "from": "string",
    "files": "object",
    "adapters": "object",
    "template": "string",
    "system": "string",
    "parameters": "object",
    "messages": "array",
    "quantize": "string",
    "stream": "bool",
}
_COPY_FIELDS = {"source": "string", "destination": "string"}
_DELETE_FIELDS = {"model": "string", "name": "string"}

_DIGEST_PATH = re.compile(r"sha256[:-][0-9a-fA-F]{64}")
_FULL_QUANTS = ("F16", "BF16", "F32")
_QUANT_LEVELS = ("Q4_K_M", "Q4_K_S", "Q8_0")
_PROMPT_TOO_LONG = (
    "the prompt is longer than the context length currently available to the "
    "model; try a shorter prompt or a larger num_ctx"
)


def _nonzero(**metrics: int) -> dict[str, int]:
    """Metrics are omitted when zero, as the real server's omitempty does."""
    return {key: value for key, value in metrics.items() if value}


def _check_images(images: Any) -> None:
    for image in images or ():
        if not isinstance(image, str):
            continue
        try:
            base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError) as exc:
            position = next(
                (
                    i
                    for i, char in enumerate(image)
                    if not (char.isascii() and (char.isalnum() or char in "+/="))
                ),
                len(image),
            )
            raise ApiError(
                400, f"illegal base64 data at input byte {position}"
            ) from exc


def _check_format(value: Any) -> None:
    if value is None or value == "" or value == "json" or isinstance(value, dict):
        return
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    raise ApiError(
        500,
        f'invalid format: {shown}; expected "json" or a valid JSON Schema object',
    )


def _fmt32(vector: npt.NDArray[np.floating]) -> RawJSON:
    # Nine significant digits round-trip a float32, which is all the real
    # server's float32 encoding promises. Hashed-feature vectors are mostly
    # zeros, so only the non-zero values are formatted.
    values = vector.tolist()
    parts = ["0"] * len(values)
    for index in np.flatnonzero(vector).tolist():
        parts[index] = format(values[index], ".9g")
    return RawJSON("[" + ",".join(parts) + "]")


def _fmt64(vector: npt.NDArray[np.floating]) -> RawJSON:
    return RawJSON(
        "[" + ",".join(repr(float(v)) for v in vector.astype(np.float64)) + "]"
    )


def _logprob(piece: str, index: int, top: int) -> dict[str, Any]:
    value = -round(0.02 + 0.05 * (index % 7), 4)
    entry: dict[str, Any] = {"token": piece, "logprob": value}
    if piece:
        entry["bytes"] = list(piece.encode("utf-8"))
    if top:
        alternatives = [dict(entry)]
        for rank in range(1, top):
            alt = f"{piece.strip() or piece}~{rank}"
            alternatives.append(
                {
                    "token": alt,
                    "logprob": round(value - 1.5 * rank, 4),
                    "bytes": list(alt.encode("utf-8")),
                }
            )
        entry["top_logprobs"] = alternatives
    return entry


def _context_ids(text: str) -> list[int]:
    return [
        int.from_bytes(hashlib.sha256(piece.encode()).digest()[:2], "big")
        for piece in tokenize(text)
    ]


@dataclass
class GenerationPlan:
    """A checked generate or chat request, ready to run in a slot."""

    route: str
    model: FakeModel
    echo: str
    keep_alive: timedelta | None
    options: dict[str, Any]
    num_ctx: int
    stream: bool
    logprobs: bool
    top_logprobs: int
    prompt_tokens: int
    answer: Callable[[], ModelReply]
    raw: bool = False
    started_ns: int = field(default_factory=time.perf_counter_ns)


class Backend:
    """The native endpoints over one registry, scheduler and cost model."""

    def __init__(
        self,
        *,
        registry: Registry,
        scheduler: Scheduler,
        counter: Counter,
        cost: CostModel,
        version: str,
    ) -> None:
        self.registry = registry
        self.scheduler = scheduler
        self.counter = counter
        self.cost = cost
        self.version = version

    # -- helpers -----------------------------------------------------------

    def _decode(self, request: Request, struct: str, fields: Mapping[str, str]) -> Any:
        return check_fields(decode_body(request.body), struct, fields)

    def _name(self, text: str) -> ModelName:
        parsed = parse_name(text)
        if parsed is None:
            raise ApiError(400, "invalid model name")
        return parsed

    def _effective_options(
        self, model: FakeModel, options: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        merged = check_options(dict(model.parameters))
        merged.update(check_options(options))
        return merged

    def _num_ctx(self, model: FakeModel, options: Mapping[str, Any]) -> int:
        return min(int(options.get("num_ctx", DEFAULT_NUM_CTX)), model.context_length)

    def _acquire(self, model: FakeModel) -> Slot:
        return self.scheduler.acquire(
            model.parsed.display, single=model.kind == "embedding"
        )

    def _load(
        self,
        slot: Slot,
        model: FakeModel,
        keep_alive: timedelta | None,
        num_ctx: int,
    ) -> int:
        """Load the model in its slot; the load time in nanoseconds."""
        started = time.perf_counter_ns()
        if not self.registry.is_loaded(model):
            slot.spend(self.cost.load_ms)
        self.registry.load(model, keep_alive, num_ctx)
        return time.perf_counter_ns() - started

    def _finish_keep_alive(
        self, model: FakeModel, keep_alive: timedelta | None, num_ctx: int
    ) -> None:
        if keep_alive is not None and keep_alive <= timedelta(0):
            self.registry.unload(model)
        else:
            self.registry.load(model, keep_alive, num_ctx)

    def _load_reply(
        self,
        model: FakeModel,
        keep_alive: timedelta | None,
        options: Mapping[str, Any],
        done: dict[str, Any],
    ) -> JsonReply:
        """The empty-prompt answer when not unloading: load the model in a slot."""
        num_ctx = self._num_ctx(model, options)
        slot = self._acquire(model)
        try:
            self._load(slot, model, keep_alive, num_ctx)
        finally:
            slot.release()
        return JsonReply({**done, "done_reason": "load"})

    # -- simple endpoints --------------------------------------------------

    def root(self, request: Request) -> Reply:
        """``GET /``: the liveness probe."""
        return TextReply("Ollama is running")

    def version_info(self, request: Request) -> Reply:
        """``GET /api/version``."""
        return JsonReply({"version": self.version})

    def _details(self, model: FakeModel) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": model.family,
            "families": [model.family],
            "parameter_size": model.parameter_size,
            "quantization_level": model.quantization_level,
        }

    def tags(self, request: Request) -> Reply:
        """``GET /api/tags``: every model, most recently modified first."""
        entries = []
        for model in self.registry.models():
            display = model.parsed.display
            details = self._details(model)
            details["context_length"] = model.context_length
            details["embedding_length"] = model.dimension
            entries.append(
                {
                    "name": display,
                    "model": display,
                    "modified_at": local_time(model.modified_at),
                    "size": model.size,
                    "digest": model.digest,
                    "details": details,
                    "capabilities": list(model.capabilities),
                }
            )
        return JsonReply({"models": entries})

    def ps(self, request: Request) -> Reply:
        """``GET /api/ps``: loaded models, latest expiry first."""
        entries = []
        for entry in self.registry.loaded():
            model = entry.model
            display = model.parsed.display
            entries.append(
                {
                    "name": display,
                    "model": display,
                    "size": model.size,
                    "digest": model.digest,
                    "details": self._details(model),
                    "expires_at": local_time(entry.expires_at),
                    "size_vram": model.size,
                    "context_length": entry.context_length,
                }
            )
        return JsonReply({"models": entries})

    def show(self, request: Request) -> Reply:
        """``POST /api/show``."""
        body = self._decode(request, "ShowRequest", _SHOW_FIELDS)
        text = (body.get("model") or body.get("name") or "").strip()
        if not text:
            raise ApiError(400, "model is required")
        name = self._name(text)
        model = self.registry.get(name)
        if model is None:
            raise ApiError(404, f"model '{name.display}' not found")
        verbose = bool(body.get("verbose"))
        reply: dict[str, Any] = {}
        if model.license:
            reply["license"] = model.license
        reply["modelfile"] = _modelfile(model)
        parameters = _parameters_text(model.parameters)
        if parameters:
            reply["parameters"] = parameters
        if model.template:
            reply["template"] = model.template
        if model.system:
            reply["system"] = model.system
        reply["details"] = self._details(model)
        if model.messages:
            reply["messages"] = [dict(message) for message in model.messages]
        reply["model_info"] = _model_info(model, verbose=verbose)
        reply["tensors"] = _tensors(model)
        reply["capabilities"] = list(model.capabilities)
        reply["modified_at"] = local_time(model.modified_at)
        return JsonReply(reply)

    # -- embeddings --------------------------------------------------------

    def embed(self, request: Request) -> Reply:
        """``POST /api/embed``."""
        body = self._decode(request, "EmbedRequest", _EMBED_FIELDS)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        raw_input = body.get("input")
        if isinstance(raw_input, str):
            inputs = [raw_input] if raw_input else []
        elif raw_input is None:
            inputs = []
        elif isinstance(raw_input, list) and all(isinstance(i, str) for i in raw_input):
            inputs = list(raw_input)
        else:
            raise ApiError(400, "invalid input type")
        text = (body.get("model") or "").strip()
        if not text:
            raise ApiError(404, "model '' not found")
        model = self.registry.get(self._name(text))
        if model is None:
            raise ApiError(404, f'model "{text}" not found, try pulling it first')
        options = self._effective_options(model, body.get("options"))
        return JsonReply(
            self.run_embed(
                request.route,
                model,
                inputs,
                echo=body.get("model") or text,
                truncate=body.get("truncate") is not False,
                dimensions=int(body.get("dimensions") or 0),
                options=options,
                keep_alive=keep_alive,
            )
        )

    def run_embed(
        self,
        route: str,
        model: FakeModel,
        inputs: Sequence[str],
        *,
        echo: str,
        truncate: bool,
        dimensions: int,
        options: Mapping[str, Any],
        keep_alive: timedelta | None,
        as_arrays: bool = False,
    ) -> dict[str, Any]:
        """Embed inputs one after another in the model's slot.

        Returns:
            The ``/api/embed`` reply body; with ``as_arrays`` the vectors are
            numpy arrays (for ``/v1/embeddings``).
        """
        started = time.perf_counter_ns()
        num_ctx = self._num_ctx(model, options)
        slot = self._acquire(model)
        try:
            load_ns = self._load(slot, model, keep_alive, num_ctx)
            if not inputs:
                self._finish_keep_alive(model, keep_alive, num_ctx)
                return {"model": echo, "embeddings": []}
            texts: list[str] = []
            tokens = 0
            for text in inputs:
                count = count_tokens(text)
                if count > num_ctx:
                    if not truncate:
                        raise ApiError(
                            400, "the input length exceeds the context length"
                        )
                    text = truncate_tokens(text, num_ctx)
                    count = count_tokens(text)
                texts.append(text)
                tokens += count
            eval_started = time.perf_counter_ns()
            slot.spend(self.cost.per_request_ms)
            vectors: list[Any] = []
            for text in texts:
                slot.spend(self.cost.per_input_ms)
                vector = embed_text(text, _output_size(model.dimension, dimensions))
                vectors.append(vector if as_arrays else _fmt32(vector))
            eval_ns = time.perf_counter_ns() - eval_started
        finally:
            slot.release()
        self._finish_keep_alive(model, keep_alive, num_ctx)
        self.counter(route, inputs=len(texts), prompt_tokens=tokens)
        return {
            "model": echo,
            "embeddings": vectors,
            **_nonzero(
                total_duration=time.perf_counter_ns() - started,
                load_duration=load_ns,
                prompt_eval_count=tokens,
                prompt_eval_duration=eval_ns,
            ),
        }

    def embeddings(self, request: Request) -> Reply:
        """``POST /api/embeddings`` (legacy): one float64 vector."""
        body = self._decode(request, "EmbeddingRequest", _EMBEDDINGS_FIELDS)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        text = (body.get("model") or "").strip()
        if not text:
            raise ApiError(400, "model is required")
        model = self.registry.get(self._name(text))
        if model is None:
            raise ApiError(404, f'model "{text}" not found, try pulling it first')
        options = self._effective_options(model, body.get("options"))
        num_ctx = self._num_ctx(model, options)
        prompt = body.get("prompt") or ""
        slot = self._acquire(model)
        try:
            self._load(slot, model, keep_alive, num_ctx)
            if not prompt:
                return JsonReply({"embedding": []})
            prompt = truncate_tokens(prompt, num_ctx)
            slot.spend(self.cost.per_request_ms + self.cost.per_input_ms)
            # nomic-bert models skip normalisation on this legacy route.
            if model.family == "nomic-bert":
                vector = raw_vector(prompt, model.dimension)
            else:
                vector = embed_text(prompt, model.dimension)
        finally:
            slot.release()
            self._finish_keep_alive(model, keep_alive, num_ctx)
        self.counter(request.route, inputs=1, prompt_tokens=count_tokens(prompt))
        return JsonReply({"embedding": _fmt64(vector)})

    # -- generation --------------------------------------------------------

    def _check_logprobs(self, body: Mapping[str, Any]) -> tuple[bool, int]:
        top = int(body.get("top_logprobs") or 0)
        if not 0 <= top <= 20:
            raise ApiError(400, "top_logprobs must be between 0 and 20")
        return bool(body.get("logprobs")) or top > 0, top

    def _think(self, model: FakeModel, think: bool | str | None, echo: str) -> Any:
        if think not in (None, False) and not model.can("thinking"):
            raise ApiError(400, f'"{echo}" does not support thinking')
        # Thinking models think unless told not to.
        if think is None and model.can("thinking"):
            return True
        return think

    def chat(self, request: Request) -> Reply:
        """``POST /api/chat``."""
        body = self._decode(request, "ChatRequest", _CHAT_FIELDS)
        plan = self.plan_chat(body, request.route)
        if isinstance(plan, JsonReply):
            return plan
        return self.reply_for(plan, self.chat_chunks, self.merge_chat)

    def plan_chat(
        self, body: Mapping[str, Any], route: str
    ) -> GenerationPlan | JsonReply:
        """Check a chat request; a load/unload reply when it has no messages.

        Raises:
            ApiError: With the real server's status and text.
        """
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        think = check_think(body.get("think"))
        messages = []
        for message in body.get("messages") or []:
            checked = dict(check_fields(message, "Message", _MESSAGE_FIELDS))
            _check_images(checked.get("images"))
            checked["role"] = (checked.get("role") or "").lower()
            messages.append(checked)
        echo = body.get("model") or ""
        if not echo.strip():
            raise ApiError(400, "model is required")
        name = self._name(echo)
        logprobs, top = self._check_logprobs(body)
        model = self.registry.get(name)
        if model is None:
            raise ApiError(404, f"model '{echo}' not found")
        done = {
            "model": echo,
            "created_at": utc_now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
        }
        if not messages and keep_alive is not None and keep_alive <= timedelta(0):
            self.registry.unload(model)
            return JsonReply({**done, "done_reason": "unload"})
        if not model.can("completion"):
            raise ApiError(400, f'"{echo}" does not support chat')
        tools = body.get("tools") or []
        if tools and not model.can("tools"):
            raise ApiError(400, f"{model.parsed.full} does not support tools")
        think = self._think(model, think, echo)
        options = self._effective_options(model, body.get("options"))
        if not messages:
            return self._load_reply(model, keep_alive, options, done)
        _check_format(body.get("format"))
        if model.system and messages[0].get("role") != "system":
            messages.insert(0, {"role": "system", "content": model.system})
        messages = [*map(dict, model.messages), *messages]
        num_ctx = self._num_ctx(model, options)
        messages = self._fit_messages(messages, num_ctx, body)
        prompt_tokens = sum(count_tokens(m.get("content") or "") for m in messages)
        fmt = body.get("format")
        return GenerationPlan(
            route=route,
            model=model,
            echo=echo,
            keep_alive=keep_alive,
            options=options,
            num_ctx=num_ctx,
            stream=body.get("stream") is not False,
            logprobs=logprobs,
            top_logprobs=top,
            prompt_tokens=prompt_tokens,
            answer=lambda: answer_chat(
                messages, format=fmt, tools=tools, think=think, options=options
            ),
        )

    def _fit_messages(
        self,
        messages: list[dict[str, Any]],
        num_ctx: int,
        body: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """Drop the oldest non-system messages until the prompt fits (§4.7)."""

        def size(items: list[dict[str, Any]]) -> int:
            return sum(count_tokens(m.get("content") or "") for m in items)

        if size(messages) <= num_ctx:
            return messages
        if body.get("truncate") is False:
            raise ApiError(400, "the input length exceeds the context length")
        kept = list(messages)
        index = 0
        while size(kept) > num_ctx and index < len(kept) - 1:
            if kept[index].get("role") == "system":
                index += 1
                continue
            del kept[index]
        if size(kept) > num_ctx and body.get("shift") is False:
            raise ApiError(400, _PROMPT_TOO_LONG)
        return kept

    def generate(self, request: Request) -> Reply:
        """``POST /api/generate``."""
        body = self._decode(request, "GenerateRequest", _GENERATE_FIELDS)
        plan = self.plan_generate(body, request.route)
        if isinstance(plan, JsonReply):
            return plan
        return self.reply_for(plan, self.generate_chunks, self.merge_generate)

    def plan_generate(
        self, body: Mapping[str, Any], route: str
    ) -> GenerationPlan | JsonReply:
        """Check a generate request; a load/unload reply for an empty prompt.

        Raises:
            ApiError: With the real server's status and text.
        """
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        think = check_think(body.get("think"))
        _check_images(body.get("images"))
        echo = body.get("model") or ""
        if not echo.strip():
            raise ApiError(404, "model '' not found")
        name = self._name(echo)
        logprobs, top = self._check_logprobs(body)
        raw = bool(body.get("raw"))
        if raw and (body.get("template") or body.get("system") or body.get("context")):
            raise ApiError(
                400, "raw mode does not support template, system, or context"
            )
        model = self.registry.get(name)
        if model is None:
            raise ApiError(404, f"model '{echo}' not found")
        prompt = body.get("prompt") or ""
        done = {
            "model": echo,
            "created_at": utc_now(),
            "response": "",
            "done": True,
        }
        if not prompt and keep_alive is not None and keep_alive <= timedelta(0):
            self.registry.unload(model)
            return JsonReply({**done, "done_reason": "unload"})
        if model.can("image"):
            raise ApiError(400, "image generation models are not currently supported")
        if not model.can("completion"):
            raise ApiError(400, f'"{echo}" does not support generate')
        suffix = body.get("suffix") or ""
        if suffix and not model.can("insert"):
            raise ApiError(400, f"{model.parsed.full} does not support insert")
        think = self._think(model, think, echo)
        options = self._effective_options(model, body.get("options"))
        if not prompt:
            return self._load_reply(model, keep_alive, options, done)
        _check_format(body.get("format"))
        system = body.get("system") or (None if raw else model.system or None)
        num_ctx = self._num_ctx(model, options)
        prompt_tokens = count_tokens(prompt) + count_tokens(system or "")
        if prompt_tokens > num_ctx:
            if body.get("truncate") is False:
                raise ApiError(400, "the input length exceeds the context length")
            if body.get("shift") is False:
                raise ApiError(400, _PROMPT_TOO_LONG)
        fmt = body.get("format")
        return GenerationPlan(
            route=route,
            model=model,
            echo=echo,
            keep_alive=keep_alive,
            options=options,
            num_ctx=num_ctx,
            stream=body.get("stream") is not False,
            logprobs=logprobs,
            top_logprobs=top,
            prompt_tokens=prompt_tokens,
            answer=lambda: answer_generate(
                prompt,
                system=system,
                suffix=suffix or None,
                format=fmt,
                think=think,
                options=options,
            ),
            raw=raw,
        )

    def run(self, plan: GenerationPlan) -> tuple[Slot, Iterator[tuple[str, Any]]]:
        """Take a slot and produce the generation as events.

        Events: ``("thinking", piece)``, ``("content", piece)``,
        ``("tool_calls", calls)`` and finally ``("done", (reason, metrics))``.
        The slot is acquired before this returns, so a full queue is a 503.
        """
        slot = self._acquire(plan.model)

        def events() -> Iterator[tuple[str, Any]]:
            load_ns = self._load(slot, plan.model, plan.keep_alive, plan.num_ctx)
            prompt_started = time.perf_counter_ns()
            slot.spend(self.cost.per_request_ms)
            reply = plan.answer()
            prompt_ns = time.perf_counter_ns() - prompt_started
            eval_started = time.perf_counter_ns()
            generated = 0
            for kind, text in (
                ("thinking", reply.thinking),
                ("content", reply.content),
            ):
                for piece in tokenize(text):
                    slot.spend(self.cost.per_token_ms)
                    generated += 1
                    yield kind, piece
            if reply.tool_calls:
                yield "tool_calls", [dict(call) for call in reply.tool_calls]
            eval_ns = time.perf_counter_ns() - eval_started
            slot.release()
            self._finish_keep_alive(plan.model, plan.keep_alive, plan.num_ctx)
            self.counter(
                plan.route, prompt_tokens=plan.prompt_tokens, eval_tokens=generated
            )
            metrics = _nonzero(
                total_duration=time.perf_counter_ns() - plan.started_ns,
                load_duration=load_ns,
                prompt_eval_count=plan.prompt_tokens,
                prompt_eval_duration=prompt_ns,
                eval_count=generated,
                eval_duration=eval_ns,
            )
            yield "done", (reply.done_reason, metrics)

        return slot, events()

    def chat_chunks(self, plan: GenerationPlan) -> Stream:
        """Native ``/api/chat`` stream chunks."""
        slot, events = self.run(plan)

        def chunks() -> Iterator[dict[str, Any]]:
            index = 0
            for kind, value in events:
                message: dict[str, Any] = {"role": "assistant", "content": ""}
                chunk: dict[str, Any] = {
                    "model": plan.echo,
                    "created_at": utc_now(),
                    "message": message,
                    "done": kind == "done",
                }
                if kind == "thinking":
                    message["thinking"] = value
                elif kind == "content":
                    message["content"] = value
                    if plan.logprobs:
                        chunk["logprobs"] = [_logprob(value, index, plan.top_logprobs)]
                    index += 1
                elif kind == "tool_calls":
                    message["tool_calls"] = value
                else:
                    reason, metrics = value
                    chunk["done_reason"] = reason
                    chunk.update(metrics)
                yield chunk

        return Stream(chunks(), slot.release)

    def generate_chunks(self, plan: GenerationPlan) -> Stream:
        """Native ``/api/generate`` stream chunks."""
        slot, events = self.run(plan)

        def chunks() -> Iterator[dict[str, Any]]:
            index = 0
            text: list[str] = []
            for kind, value in events:
                chunk: dict[str, Any] = {
                    "model": plan.echo,
                    "created_at": utc_now(),
                    "response": "",
                    "done": kind == "done",
                }
                if kind == "thinking":
                    chunk["thinking"] = value
                elif kind == "content":
                    chunk["response"] = value
                    text.append(value)
                    if plan.logprobs:
                        chunk["logprobs"] = [_logprob(value, index, plan.top_logprobs)]
                    index += 1
                elif kind == "tool_calls":
                    chunk["tool_calls"] = value
                else:
                    reason, metrics = value
                    chunk["done_reason"] = reason
                    if not plan.raw:
                        chunk["context"] = _context_ids("".join(text))
                    chunk.update(metrics)
                yield chunk

        return Stream(chunks(), slot.release)

    @staticmethod
    def merge_chat(chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Fold chat chunks into the one non-streamed reply."""
        final = dict(chunks[-1])
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        thinking = "".join(c["message"].get("thinking", "") for c in chunks)
        message["content"] = "".join(c["message"].get("content", "") for c in chunks)
        if thinking:
            message["thinking"] = thinking
        calls = [
            call for c in chunks for call in c["message"].get("tool_calls", ()) or ()
        ]
        if calls:
            message["tool_calls"] = calls
        final["message"] = message
        logprobs = [entry for c in chunks for entry in c.get("logprobs", ())]
        if logprobs:
            final["logprobs"] = logprobs
        return final

    @staticmethod
    def merge_generate(chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Fold generate chunks into the one non-streamed reply."""
        final = dict(chunks[-1])
        final["response"] = "".join(c.get("response", "") for c in chunks)
        thinking = "".join(c.get("thinking", "") for c in chunks)
        if thinking:
            final["thinking"] = thinking
        calls = [call for c in chunks for call in c.get("tool_calls", ()) or ()]
        if calls:
            final["tool_calls"] = calls
        logprobs = [entry for c in chunks for entry in c.get("logprobs", ())]
        if logprobs:
            final["logprobs"] = logprobs
        return final

    def reply_for(
        self,
        plan: GenerationPlan,
        produce: Callable[[GenerationPlan], Stream],
        merge: Callable[[Sequence[dict[str, Any]]], dict[str, Any]],
    ) -> Reply:
        """A streamed reply, or the merged object when ``stream`` is false."""
        stream = produce(plan)
        if plan.stream:
            return StreamReply(stream)
        try:
            chunks = list(stream)
        finally:
            stream.close()
        return JsonReply(merge(chunks))

    # -- registry endpoints ------------------------------------------------

    def pull(self, request: Request) -> Reply:
        """``POST /api/pull``: streamed progress; unknown names fail in-band."""
        body = self._decode(request, "PullRequest", _PULL_FIELDS)
        text = body.get("model") or body.get("name") or ""
        name = parse_name(text)
        if name is None:
            raise ApiError(400, "invalid model name")
        return self._progress(body, self._pull_statuses(name))

    def _pull_statuses(self, name: ModelName) -> Iterator[dict[str, Any]]:
        yield {"status": "pulling manifest"}
        if not is_pullable(name):
            raise ApiError(500, "pull model manifest: file does not exist")
        existing = self.registry.get(name)
        model = existing or model_for_pull(name, name.display)
        for layer, total in _layers(model):
            for completed in (0, total // 2, total):
                progress: dict[str, Any] = {
                    "status": f"pulling {layer[:12]}",
                    "digest": f"sha256:{layer}",
                    "total": total,
                }
                if completed:
                    progress["completed"] = completed
                yield progress
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        if existing is None:
            self.registry.put(model)
        yield {"status": "success"}

    def push(self, request: Request) -> Reply:
        """``POST /api/push``: progress for a local model, else the real failure."""
        body = self._decode(request, "PushRequest", _PULL_FIELDS)
        text = (body.get("model") or body.get("name") or "").strip()
        if not text:
            raise ApiError(400, "model is required")
        name = self._name(text)
        return self._progress(body, self._push_statuses(name))

    def _push_statuses(self, name: ModelName) -> Iterator[dict[str, Any]]:
        yield {"status": "retrieving manifest"}
        model = self.registry.get(name)
        if model is None:
            yield {"status": "couldn't retrieve manifest"}
            path = (
                f"/fake-ollama/models/manifests/{name.host}/{name.namespace}/"
                f"{name.model}/{name.tag}"
            )
            raise ApiError(500, f"open {path}: no such file or directory")
        for layer, total in _layers(model):
            for completed in (0, total):
                progress: dict[str, Any] = {
                    "status": f"pushing {layer[:12]}",
                    "digest": f"sha256:{layer}",
                    "total": total,
                }
                if completed:
                    progress["completed"] = completed
                yield progress
        yield {"status": "pushing manifest"}
        yield {"status": "success"}

    def _progress(
        self, body: Mapping[str, Any], statuses: Iterator[dict[str, Any]]
    ) -> Reply:
        """Stream statuses, or answer with the last one (an error is then a 500)."""
        if body.get("stream") is not False:
            return StreamReply(Stream(statuses))
        last: dict[str, Any] = {}
        for last in statuses:  # noqa: B007 - only the final status is sent
            pass
        return JsonReply(last)

    def create(self, request: Request) -> Reply:
        """``POST /api/create``: from an existing (or pulled) model, or from blobs."""
        body = self._decode(request, "CreateRequest", _CREATE_FIELDS)
        name = parse_name(body.get("model") or body.get("name") or "")
        if name is None:
            raise ApiError(400, "invalid model name")
        files = body.get("files") or {}
        adapters = body.get("adapters") or {}
        for path, digest in [*files.items(), *adapters.items()]:
            if path.startswith(("/", "\\")) or ".." in path.replace("\\", "/").split(
                "/"
            ):
                raise ApiError(400, "file path must be relative")
            if not digest:
                raise ApiError(400, "invalid digest format")
        source_text = body.get("from") or ""
        if not source_text and not files:
            raise ApiError(400, "neither 'from' or 'files' was specified")
        source = None
        if source_text:
            source = parse_name(source_text)
            if source is None:
                raise ApiError(400, "invalid model name")
        return self._progress(body, self._create_statuses(name, source, body))

    def _create_statuses(
        self,
        name: ModelName,
        source: ModelName | None,
        body: Mapping[str, Any],
    ) -> Iterator[dict[str, Any]]:
        if source is not None:
            base = self.registry.get(source)
            if base is None:
                yield from self._pull_statuses(source)
                base = self.registry.get(source)
            assert base is not None
            yield {"status": f"using existing layer sha256:{base.digest}"}
        else:
            files = body.get("files") or {}
            for digest in files.values():
                if not self.registry.has_blob(digest):
                    raise ApiError(400, f"blob {digest} not found")
            yield {"status": "parsing GGUF"}
            base = model_for_pull(name, name.display)
            base = replace(base, quantization_level="F16", parameters={})
        quantize = (body.get("quantize") or "").upper()
        level = base.quantization_level
        if quantize:
            if base.quantization_level.upper() not in _FULL_QUANTS:
                raise ApiError(
                    500, "quantization is only supported for F16, BF16 and F32 models"
                )
            if quantize not in _QUANT_LEVELS:
                raise ApiError(400, f"unsupported quantization type {quantize}")
            yield {
                "status": f"quantizing {base.quantization_level} model to {quantize}",
                "digest": "0000000000000000000",
                "total": base.size,
                "completed": base.size,
            }
            level = quantize
        parameters = dict(base.parameters)
        parameters.update(body.get("parameters") or {})
        license_value = body.get("license")
        if isinstance(license_value, list):
            license_value = "\n".join(str(item) for item in license_value)
        model = replace(
            base,
            name=name.display,
            quantization_level=level,
            template=body.get("template") or base.template,
            system=body.get("system") or base.system,
            parameters=parameters,
            license=license_value or base.license,
            messages=tuple(body.get("messages") or base.messages),
            modified_at=datetime.now(timezone.utc),
            digest="",
        )
        for text in (body.get("template"), body.get("system"), body.get("parameters")):
            if text:
                layer = hashlib.sha256(repr(text).encode()).hexdigest()
                yield {"status": f"creating new layer sha256:{layer}"}
        yield {"status": "writing manifest"}
        self.registry.put(model)
        yield {"status": "success"}

    def copy(self, request: Request) -> Reply:
        """``POST /api/copy``: 200 with an empty body."""
        body = self._decode(request, "CopyRequest", _COPY_FIELDS)
        source_text = body.get("source") or ""
        destination_text = body.get("destination") or ""
        source = parse_name(source_text)
        if source is None:
            raise ApiError(400, f'source "{source_text}" is invalid')
        destination = parse_name(destination_text)
        if destination is None:
            raise ApiError(400, f'destination "{destination_text}" is invalid')
        model = self.registry.get(source)
        if model is None:
            raise ApiError(404, f'model "{source_text}" not found')
        self.registry.put(
            replace(
                model,
                name=destination.display,
                modified_at=datetime.now(timezone.utc),
            )
        )
        return EmptyReply(200)

    def delete(self, request: Request) -> Reply:
        """``DELETE /api/delete``: 200 with an empty body."""
        body = self._decode(request, "DeleteRequest", _DELETE_FIELDS)
        text = body.get("model") or body.get("name") or ""
        if not text.strip():
            raise ApiError(400, "model is required")
        name = parse_name(text)
        if name is None:
            raise ApiError(400, f'name "{text}" is invalid')
        if not self.registry.delete(name):
            raise ApiError(404, f"model '{text}' not found")
        return EmptyReply(200)

    def blob(self, request: Request) -> Reply:
        """``HEAD``/``POST /api/blobs/:digest``."""
        digest = request.params["digest"]
        if not _DIGEST_PATH.fullmatch(digest):
            raise ApiError(400, "invalid digest format")
        normal = "sha256:" + digest[7:].lower()
        if request.method == "HEAD":
            return EmptyReply(200 if self.registry.has_blob(normal) else 404)
        actual = "sha256:" + hashlib.sha256(request.body).hexdigest()
        # The server compares against the path as written, so the sha256-
        # spelling never matches.
        if actual != digest:
            raise ApiError(400, f'digest mismatch, expected "{digest}", got "{actual}"')
        return EmptyReply(201 if self.registry.add_blob(normal, request.body) else 200)


def _layers(model: FakeModel) -> list[tuple[str, int]]:
    seeds = [("model", model.size), ("license", 12_403), ("params", 96)]
    if model.template:
        seeds.insert(1, ("template", len(model.template.encode())))
    return [
        (hashlib.sha256(f"{model.digest}:{kind}".encode()).hexdigest(), size)
        for kind, size in seeds
    ]


def _parameters_text(parameters: Mapping[str, Any]) -> str:
    lines = []
    for key, value in parameters.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            shown = f'"{item}"' if isinstance(item, str) else _plain(item)
            lines.append(f"{key:<30} {shown}")
    return "\n".join(lines)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _modelfile(model: FakeModel) -> str:
    display = model.parsed.display
    lines = [
        '# Modelfile generated by "ollama show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {display}",
        "",
        f"FROM /fake-ollama/models/blobs/sha256-{_layers(model)[0][0]}",
    ]
    if model.template:
        lines.append(f'TEMPLATE """{model.template}"""')
    if model.system:
        lines.append(f'SYSTEM """{model.system}"""')
    for key, value in model.parameters.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            lines.append(f"PARAMETER {key} {_plain(item)}")
    if model.license:
        lines.append(f'LICENSE """{model.license}"""')
    return "\n".join(lines) + "\n"


_VOCABULARY = ["<unk>", "<s>", "</s>", "the", "a", "of", "and", "to"]


def _model_info(model: FakeModel, *, verbose: bool) -> dict[str, Any]:
    arch = model.family
    info: dict[str, Any] = {
        "general.architecture": arch,
        "general.file_type": 15 if model.quantization_level.startswith("Q4") else 1,
        "general.parameter_count": _parameter_count(model.parameter_size),
        "general.quantization_version": 2,
        f"{arch}.attention.head_count": 32,
        f"{arch}.block_count": 28 if model.kind == "chat" else 12,
        f"{arch}.context_length": model.context_length,
        f"{arch}.embedding_length": model.dimension,
        "tokenizer.ggml.model": "gpt2" if model.kind == "chat" else "bert",
        # Long arrays are hidden unless verbose, like the real vocabulary.
        "tokenizer.ggml.tokens": list(_VOCABULARY) if verbose else [],
        "tokenizer.ggml.token_type": [1] * len(_VOCABULARY) if verbose else [],
    }
    if model.kind == "embedding":
        info[f"{arch}.pooling_type"] = 1 if arch == "nomic-bert" else 2
    return info


def _parameter_count(size: str) -> int:
    scale = {"K": 1e3, "M": 1e6, "B": 1e9}.get(size[-1:].upper(), 1.0)
    try:
        return int(float(size.rstrip("KMBkmb")) * scale)
    except ValueError:
        return 0


def _tensors(model: FakeModel) -> list[dict[str, Any]]:
    kind = "Q4_K" if model.quantization_level.startswith("Q4") else "F16"
    return [
        {"name": "token_embd.weight", "type": kind, "shape": [model.dimension, 32000]},
        {"name": "output_norm.weight", "type": "F32", "shape": [model.dimension]},
    ]


def _output_size(full: int, dimensions: int) -> int:
    """The vector length a ``dimensions`` request gets: smaller only, never 0.

    A real model cuts its dense vector and normalises it again. The stand-in
    vectors are sparse (hashed word features), so a cut one could be all
    zeros; hashing the same features into the smaller size instead keeps
    every vector unit length and texts that share words close, which is
    what a test of ``dimensions`` needs.
    """
    return dimensions if 0 < dimensions < full else full
