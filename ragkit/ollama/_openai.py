"""The OpenAI-compatible ``/v1`` endpoints, reached as ``client.openai``."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, TypeVar, overload

from ragkit.errors import ConfigError
from ragkit.ollama._base import Call, encode_json
from ragkit.ollama._openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    OpenAIEmbeddingList,
    OpenAIModel,
    OpenAIModelList,
)
from ragkit.ollama._stream import AsyncStream, Stream
from ragkit.ollama._tools import ToolInput, tool_to_json

__all__ = ["AsyncOpenAI", "OpenAI"]

T = TypeVar("T")


class _Sender(Protocol):
    def _request(self, call: Call[T]) -> T: ...

    def _stream(self, call: Call[T]) -> Stream[T]: ...


class _AsyncSender(Protocol):
    async def _request(self, call: Call[T]) -> T: ...

    def _stream(self, call: Call[T]) -> AsyncStream[T]: ...


def _model(model: str) -> str:
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be a non-empty model name, not {model!r}")
    return model


def _with_extra(
    body: dict[str, Any], extra_body: Mapping[str, Any] | None
) -> dict[str, Any]:
    if extra_body:
        body.update(extra_body)
    return body


def _stream_options(stream: bool, include_usage: bool | None) -> dict[str, Any] | None:
    if not stream or include_usage is None:
        return None
    return {"include_usage": include_usage}


def _chat_completions_body(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    stream: bool,
    include_usage: bool | None,
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    stop: str | Sequence[str] | None,
    frequency_penalty: float | None,
    presence_penalty: float | None,
    response_format: Mapping[str, Any] | None,
    tools: Sequence[ToolInput] | None,
    reasoning_effort: str | None,
    logprobs: bool | None,
    top_logprobs: int | None,
    extra_body: Mapping[str, Any] | None,
) -> bytes:
    if isinstance(messages, (str, Mapping)):
        raise ConfigError("messages must be a list of messages, not a single one")
    body = {
        "model": _model(model),
        "messages": [dict(message) for message in messages],
        "stream": stream,
        "stream_options": _stream_options(stream, include_usage),
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "seed": seed,
        "stop": stop if stop is None or isinstance(stop, str) else list(stop),
        "frequency_penalty": frequency_penalty,
        "presence_penalty": presence_penalty,
        "response_format": None if response_format is None else dict(response_format),
        "tools": None if tools is None else [tool_to_json(tool) for tool in tools],
        "reasoning_effort": reasoning_effort,
        "logprobs": logprobs,
        "top_logprobs": top_logprobs,
    }
    return encode_json(_with_extra(body, extra_body))


def _completions_body(
    model: str,
    prompt: str,
    *,
    stream: bool,
    include_usage: bool | None,
    suffix: str | None,
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    stop: str | Sequence[str] | None,
    frequency_penalty: float | None,
    presence_penalty: float | None,
    logprobs: int | None,
    extra_body: Mapping[str, Any] | None,
) -> bytes:
    body = {
        "model": _model(model),
        "prompt": prompt,
        "stream": stream,
        "stream_options": _stream_options(stream, include_usage),
        "suffix": suffix,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "seed": seed,
        "stop": stop if stop is None or isinstance(stop, str) else list(stop),
        "frequency_penalty": frequency_penalty,
        "presence_penalty": presence_penalty,
        "logprobs": logprobs,
    }
    return encode_json(_with_extra(body, extra_body))


def _chat_call(content: bytes, model: str, stream: bool) -> Call[Any]:
    if stream:
        return Call(
            "POST",
            "/v1/chat/completions",
            ChatCompletionChunk.from_json,
            content=content,
            model=model,
            stream="sse",
        )
    return Call(
        "POST",
        "/v1/chat/completions",
        ChatCompletion.from_json,
        content=content,
        model=model,
    )


def _completions_call(content: bytes, model: str, stream: bool) -> Call[Completion]:
    return Call(
        "POST",
        "/v1/completions",
        Completion.from_json,
        content=content,
        model=model,
        stream="sse" if stream else None,
    )


def _embeddings_call(
    model: str,
    input: str | Sequence[str],
    *,
    dimensions: int | None,
    encoding_format: Literal["float", "base64"] | None,
    extra_body: Mapping[str, Any] | None,
) -> Call[OpenAIEmbeddingList]:
    body = {
        "model": _model(model),
        "input": input if isinstance(input, str) else list(input),
        "dimensions": dimensions,
        "encoding_format": encoding_format,
    }
    return Call(
        "POST",
        "/v1/embeddings",
        OpenAIEmbeddingList.from_json,
        content=encode_json(_with_extra(body, extra_body)),
        idempotent=True,
        model=model,
    )


def _models_call() -> Call[OpenAIModelList]:
    return Call("GET", "/v1/models", OpenAIModelList.from_json, idempotent=True)


def _model_call(name: str) -> Call[OpenAIModel]:
    path = "/v1/models/" + urllib.parse.quote(_model(name), safe=":")
    return Call("GET", path, OpenAIModel.from_json, idempotent=True, model=name)


class OpenAI:
    """The OpenAI-compatible endpoints of a :class:`Client` (``client.openai``).

    Requests and replies use OpenAI's shapes (``messages`` with string or
    part-list ``content``, tool-call ``arguments`` as JSON strings). Streams
    are server-sent events; one that ends without ``data: [DONE]`` raises
    :class:`~ragkit.errors.OllamaConnectionError`, because that is how the
    server ends a stream that failed.
    """

    def __init__(self, client: _Sender) -> None:
        self._client = client

    @overload
    def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: Literal[False] = False,
        include_usage: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[ToolInput] | None = None,
        reasoning_effort: str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatCompletion: ...

    @overload
    def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: Literal[True],
        include_usage: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[ToolInput] | None = None,
        reasoning_effort: str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Stream[ChatCompletionChunk]: ...

    @overload
    def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: bool,
        include_usage: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[ToolInput] | None = None,
        reasoning_effort: str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatCompletion | Stream[ChatCompletionChunk]: ...

    def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: bool = False,
        include_usage: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[ToolInput] | None = None,
        reasoning_effort: str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatCompletion | Stream[ChatCompletionChunk]:
        """``POST /v1/chat/completions``.

        Args:
            model: Model name.
            messages: OpenAI-style message dicts.
            stream: Return a :class:`Stream` of chunks instead of one reply.
            include_usage: With ``stream``, add a final chunk carrying usage.
            max_tokens: Becomes ``num_predict``.
            temperature: Sampling temperature (the server uses 1.0 if omitted).
            top_p: Nucleus sampling (1.0 if omitted).
            seed: Sampling seed.
            stop: Stop sequence(s).
            frequency_penalty: Frequency penalty.
            presence_penalty: Presence penalty.
            response_format: ``{"type": "json_object"}`` or a ``json_schema`` format.
            tools: Tools as :class:`Tool`, dicts or functions.
            reasoning_effort: ``none``, ``minimal``, ``low``, ``medium``,
                ``high`` or ``max``.
            logprobs: Return token log probabilities.
            top_logprobs: How many alternatives per token (0-20).
            extra_body: More fields to send as given.

        Returns:
            A :class:`ChatCompletion`, or a stream of :class:`ChatCompletionChunk`.

        Raises:
            ResponseError: The server answered with an error.
            OllamaConnectionError: The server is unreachable or the stream broke.
            OllamaTimeoutError: The server did not answer in time.
        """
        content = _chat_completions_body(
            model,
            messages,
            stream=stream,
            include_usage=include_usage,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            response_format=response_format,
            tools=tools,
            reasoning_effort=reasoning_effort,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            extra_body=extra_body,
        )
        call = _chat_call(content, model, stream)
        if stream:
            return self._client._stream(call)
        return self._client._request(call)

    @overload
    def completions(
        self,
        model: str,
        prompt: str,
        *,
        stream: Literal[False] = False,
        include_usage: bool | None = None,
        suffix: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion: ...

    @overload
    def completions(
        self,
        model: str,
        prompt: str,
        *,
        stream: Literal[True],
        include_usage: bool | None = None,
        suffix: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Stream[Completion]: ...

    @overload
    def completions(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool,
        include_usage: bool | None = None,
        suffix: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion | Stream[Completion]: ...

    def completions(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool = False,
        include_usage: bool | None = None,
        suffix: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion | Stream[Completion]:
        """``POST /v1/completions``.

        Args:
            model: Model name.
            prompt: The prompt (a string; the server rejects arrays).
            stream: Return a :class:`Stream` of chunks instead of one reply.
            include_usage: With ``stream``, add a final chunk carrying usage.
            suffix: Text after the completion (fill-in-the-middle).
            max_tokens: Becomes ``num_predict``.
            temperature: Sampling temperature (1.0 if omitted).
            top_p: Nucleus sampling.
            seed: Sampling seed.
            stop: Stop sequence(s).
            frequency_penalty: Frequency penalty.
            presence_penalty: Presence penalty.
            logprobs: How many alternatives per token (turns logprobs on if > 0).
            extra_body: More fields to send as given.

        Returns:
            A :class:`Completion`, or a stream of them.

        Raises:
            ResponseError: The server answered with an error.
            OllamaConnectionError: The server is unreachable or the stream broke.
            OllamaTimeoutError: The server did not answer in time.
        """
        content = _completions_body(
            model,
            prompt,
            stream=stream,
            include_usage=include_usage,
            suffix=suffix,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            logprobs=logprobs,
            extra_body=extra_body,
        )
        call = _completions_call(content, model, stream)
        if stream:
            return self._client._stream(call)
        return self._client._request(call)

    def embeddings(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        dimensions: int | None = None,
        encoding_format: Literal["float", "base64"] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> OpenAIEmbeddingList:
        """``POST /v1/embeddings``.

        Args:
            model: Embedding model name.
            input: One text or a list of texts.
            dimensions: Truncate (and re-normalize) vectors to this size.
            encoding_format: ``float`` (default) or ``base64`` float32 bytes.
            extra_body: More fields to send as given.

        Returns:
            The vectors in input order.

        Raises:
            ResponseError: The server answered with an error.
        """
        return self._client._request(
            _embeddings_call(
                model,
                input,
                dimensions=dimensions,
                encoding_format=encoding_format,
                extra_body=extra_body,
            )
        )

    def models(self) -> OpenAIModelList:
        """``GET /v1/models``: installed models (``[]`` when there are none)."""
        return self._client._request(_models_call())

    def model(self, name: str) -> OpenAIModel:
        """``GET /v1/models/{name}``.

        Raises:
            ModelNotFoundError: The model is not installed.
        """
        return self._client._request(_model_call(name))


class AsyncOpenAI:
    """The OpenAI-compatible endpoints of an :class:`AsyncClient` (``client.openai``).

    Same methods as :class:`OpenAI`, as coroutines; streams are
    :class:`AsyncStream` objects.
    """

    def __init__(self, client: _AsyncSender) -> None:
        self._client = client

    @overload
    async def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: Literal[False] = False,
        include_usage: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[ToolInput] | None = None,
        reasoning_effort: str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatCompletion: ...

    @overload
    async def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: Literal[True],
        include_usage: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[ToolInput] | None = None,
        reasoning_effort: str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> AsyncStream[ChatCompletionChunk]: ...

    @overload
    async def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: bool,
        include_usage: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[ToolInput] | None = None,
        reasoning_effort: str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]: ...

    async def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: bool = False,
        include_usage: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[ToolInput] | None = None,
        reasoning_effort: str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        """``POST /v1/chat/completions``; see :meth:`OpenAI.chat_completions`."""
        content = _chat_completions_body(
            model,
            messages,
            stream=stream,
            include_usage=include_usage,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            response_format=response_format,
            tools=tools,
            reasoning_effort=reasoning_effort,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            extra_body=extra_body,
        )
        call = _chat_call(content, model, stream)
        if stream:
            return self._client._stream(call)
        return await self._client._request(call)

    @overload
    async def completions(
        self,
        model: str,
        prompt: str,
        *,
        stream: Literal[False] = False,
        include_usage: bool | None = None,
        suffix: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion: ...

    @overload
    async def completions(
        self,
        model: str,
        prompt: str,
        *,
        stream: Literal[True],
        include_usage: bool | None = None,
        suffix: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> AsyncStream[Completion]: ...

    @overload
    async def completions(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool,
        include_usage: bool | None = None,
        suffix: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion | AsyncStream[Completion]: ...

    async def completions(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool = False,
        include_usage: bool | None = None,
        suffix: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion | AsyncStream[Completion]:
        """``POST /v1/completions``; see :meth:`OpenAI.completions`."""
        content = _completions_body(
            model,
            prompt,
            stream=stream,
            include_usage=include_usage,
            suffix=suffix,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            logprobs=logprobs,
            extra_body=extra_body,
        )
        call = _completions_call(content, model, stream)
        if stream:
            return self._client._stream(call)
        return await self._client._request(call)

    async def embeddings(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        dimensions: int | None = None,
        encoding_format: Literal["float", "base64"] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> OpenAIEmbeddingList:
        """``POST /v1/embeddings``; see :meth:`OpenAI.embeddings`."""
        return await self._client._request(
            _embeddings_call(
                model,
                input,
                dimensions=dimensions,
                encoding_format=encoding_format,
                extra_body=extra_body,
            )
        )

    async def models(self) -> OpenAIModelList:
        """``GET /v1/models``; see :meth:`OpenAI.models`."""
        return await self._client._request(_models_call())

    async def model(self, name: str) -> OpenAIModel:
        """``GET /v1/models/{name}``; see :meth:`OpenAI.model`."""
        return await self._client._request(_model_call(name))
