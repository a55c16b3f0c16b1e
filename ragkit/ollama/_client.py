"""The sync ``Client`` and async ``AsyncClient``: thin twins over ``BaseClient``.

Only the send path differs between them; request building, parsing, errors
and the retry decision live in ``_base.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import httpx

from ragkit.errors import OllamaError
from ragkit.ollama._base import (
    DEFAULT_TIMEOUT,
    BaseClient,
    Call,
    Format,
    OptionsInput,
    Think,
    aiter_file,
    iter_file,
)
from ragkit.ollama._durations import KeepAlive
from ragkit.ollama._images import ImageInput
from ragkit.ollama._openai import AsyncOpenAI, OpenAI
from ragkit.ollama._stream import AsyncStream, Stream
from ragkit.ollama._tools import MessageInput, ToolInput
from ragkit.ollama._types import (
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    ProcessResponse,
    ProgressResponse,
    ShowResponse,
    StatusResponse,
    VersionResponse,
)

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")


class Client(BaseClient):
    """A synchronous client for every endpoint of the Ollama API.

    One :class:`httpx.Client` (one connection pool) serves all calls; close it
    with :meth:`close` or use the client as a context manager.

    Args:
        host: Server URL, parsed like ``OLLAMA_HOST`` (see :func:`parse_host`);
            ``None`` reads ``OLLAMA_HOST``, then falls back to
            ``http://127.0.0.1:11434``.
        headers: Extra headers for every request. They override ragkit's
            defaults, and an ``Authorization`` header here wins over ``api_key``.
        timeout: Seconds, or an :class:`httpx.Timeout`. The default allows 10 s
            to connect and 600 s for each read (a cold model load can take
            minutes). ``None`` waits forever.
        api_key: Bearer key for Ollama Cloud; ``None`` reads ``OLLAMA_API_KEY``.
            It is never shown in ``repr``, errors or logs.
        retries: How many times a failed attempt is resent where that is safe:
            a refused connection for any call, a 503 for idempotent calls, and
            the queue-full 503 (nothing ran yet) for any call.
        backoff: Delay before the first retry in seconds; doubles each time,
            with jitter.
        transport: An httpx transport, e.g. :class:`httpx.MockTransport` in tests.
        **httpx_options: Passed to :class:`httpx.Client` (``verify``,
            ``follow_redirects``, ``limits``, ...).

    Raises:
        ConfigError: ``host``, ``retries`` or ``backoff`` is unusable.

    Example:
        >>> with Client() as client:  # doctest: +SKIP
        ...     reply = client.chat("llama3.2", [{"role": "user", "content": "Hi"}])
        ...     print(reply.message.content)
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        **httpx_options: Any,
    ) -> None:
        super().__init__(
            host,
            headers=headers,
            timeout=timeout,
            api_key=api_key,
            retries=retries,
            backoff=backoff,
        )
        self._http = httpx.Client(
            base_url=self.host,
            headers=self._headers,
            timeout=timeout,
            transport=transport,
            **httpx_options,
        )
        self.openai = OpenAI(self)
        """The OpenAI-compatible ``/v1`` endpoints."""

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the send path: the only code that differs from AsyncClient ----------

    def _send_once(self, call: Call[Any]) -> httpx.Response:
        request = self._http.build_request(
            call.method,
            call.path,
            content=iter_file(call.upload) if call.upload else call.content,
            headers=self._request_headers(call),
        )
        with self._translate(call):
            response = self._http.send(request, stream=True)
            self._log_reply(call, response.status_code)
            if response.is_success or (call.missing and response.status_code == 404):
                return response
            try:
                content = response.read()
            finally:
                response.close()
        raise self._error(call, response.status_code, content)

    def _send(self, call: Call[Any]) -> httpx.Response:
        attempt = 0
        while True:
            try:
                return self._send_once(call)
            except OllamaError as error:
                delay = self.retry_delay(call, attempt, error)
                if delay is None:
                    raise
            attempt += 1
            time.sleep(delay)

    def _request(self, call: Call[T]) -> T:
        response = self._send(call)
        try:
            with self._translate(call):
                content = response.read()
        finally:
            response.close()
        if call.missing is not None and response.status_code == 404:
            return call.missing()
        return self._parse(call, response.status_code, content)

    def _stream(self, call: Call[T]) -> Stream[T]:
        return Stream(self._iterate(call))

    def _iterate(self, call: Call[T]) -> Generator[T, None, None]:
        response = self._send(call)
        try:
            decoder = self._decoder(call, response.status_code)
            # Only httpx errors are translated; GeneratorExit from an early close
            # and the decoder's own errors pass through unchanged.
            with self._translate(call):
                for chunk in response.iter_bytes():
                    yield from decoder.feed(chunk)
            yield from decoder.close()
        finally:
            response.close()

    # -- endpoints -------------------------------------------------------------

    @overload
    def generate(
        self,
        model: str,
        prompt: str = "",
        *,
        suffix: str | None = None,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        raw: bool | None = None,
        images: Sequence[ImageInput] | None = None,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream: Literal[False] = False,
    ) -> GenerateResponse: ...

    @overload
    def generate(
        self,
        model: str,
        prompt: str = "",
        *,
        suffix: str | None = None,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        raw: bool | None = None,
        images: Sequence[ImageInput] | None = None,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream: Literal[True],
    ) -> Stream[GenerateResponse]: ...

    @overload
    def generate(
        self,
        model: str,
        prompt: str = "",
        *,
        suffix: str | None = None,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        raw: bool | None = None,
        images: Sequence[ImageInput] | None = None,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream: bool,
    ) -> GenerateResponse | Stream[GenerateResponse]: ...

    def generate(
        self,
        model: str,
        prompt: str = "",
        *,
        suffix: str | None = None,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        raw: bool | None = None,
        images: Sequence[ImageInput] | None = None,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream: bool = False,
    ) -> GenerateResponse | Stream[GenerateResponse]:
        """Generate a completion for one prompt (``POST /api/generate``).

        An empty ``prompt`` loads the model (``done_reason == "load"``), or
        unloads it with ``keep_alive=0``.

        Args:
            model: Model name.
            prompt: The prompt.
            suffix: Text after the completion (models with ``insert``).
            system: Overrides the Modelfile's system prompt.
            template: Overrides the Modelfile's template.
            context: Token context from a previous reply (deprecated by Ollama).
            raw: Send the prompt without applying the template.
            images: Images as bytes, paths or base64 (encoded for you).
            format: ``"json"`` or a JSON schema for structured output.
            options: Model options (:class:`Options` or a dict).
            keep_alive: How long the model stays loaded (see :data:`KeepAlive`).
            think: Thinking on/off or a level (``"low"`` ... ``"max"``).
            truncate: Cut an over-long prompt to fit the context (server default).
            shift: Let the context slide during long generations.
            logprobs: Return token log probabilities.
            top_logprobs: Alternatives per token (0-20).
            stream: Return a :class:`Stream` of chunks instead of one reply.

        Returns:
            The reply, or a stream of chunks ending with ``done=True``.

        Raises:
            ConfigError: A bad argument (empty model, keep_alive, image).
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply, also one inside a stream.
            OllamaConnectionError: The server is unreachable or the stream broke.
            OllamaTimeoutError: The server did not answer in time.
        """
        call = self._generate_call(
            model,
            prompt,
            suffix=suffix,
            system=system,
            template=template,
            context=context,
            raw=raw,
            images=images,
            format=format,
            options=options,
            keep_alive=keep_alive,
            think=think,
            truncate=truncate,
            shift=shift,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            stream=stream,
        )
        if stream:
            return self._stream(call)
        return self._request(call)

    @overload
    def chat(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None = None,
        stream: Literal[False] = False,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse: ...

    @overload
    def chat(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None = None,
        stream: Literal[True],
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> Stream[ChatResponse]: ...

    @overload
    def chat(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None = None,
        stream: bool,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | Stream[ChatResponse]: ...

    def chat(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None = None,
        stream: bool = False,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | Stream[ChatResponse]:
        """Send a conversation and get the assistant's reply (``POST /api/chat``).

        Empty ``messages`` load the model, or unload it with ``keep_alive=0``.
        With ``stream=True``, collect ``message.tool_calls`` from every chunk:
        depending on the model they arrive mid-stream or on the final chunk.

        Args:
            model: Model name.
            messages: The whole conversation, as :class:`Message` objects or dicts.
            tools: Tools as :class:`Tool` objects, dicts or plain functions.
            stream: Return a :class:`Stream` of chunks instead of one reply.
            format: ``"json"`` or a JSON schema for structured output.
            options: Model options (:class:`Options` or a dict).
            keep_alive: How long the model stays loaded (see :data:`KeepAlive`).
            think: Thinking on/off or a level (``"low"`` ... ``"max"``).
            logprobs: Return token log probabilities.
            top_logprobs: Alternatives per token (0-20).
            truncate: Drop the oldest messages when the history is too long.
            shift: Let the context slide during long generations.

        Returns:
            The reply, or a stream of chunks ending with ``done=True``.

        Raises:
            ConfigError: A bad argument (empty model, keep_alive, message, tool).
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply, also one inside a stream.
            OllamaConnectionError: The server is unreachable or the stream broke.
            OllamaTimeoutError: The server did not answer in time.
        """
        call = self._chat_call(
            model,
            messages,
            tools=tools,
            format=format,
            options=options,
            keep_alive=keep_alive,
            think=think,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            truncate=truncate,
            shift=shift,
            stream=stream,
        )
        if stream:
            return self._stream(call)
        return self._request(call)

    def embed(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        truncate: bool | None = None,
        dimensions: int | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbedResponse:
        """Embed one text or a batch (``POST /api/embed``).

        Args:
            model: Embedding model name.
            input: One text or a list of texts; ``""`` or ``[]`` only loads the model.
            truncate: Cut over-long inputs to fit (server default); ``False`` makes
                them an error (400).
            dimensions: Shorten vectors to this size (re-normalized).
            options: Model options, e.g. ``num_ctx``.
            keep_alive: How long the model stays loaded.

        Returns:
            One unit-length vector per input, in order.

        Raises:
            ConfigError: A bad argument.
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply.
            OllamaConnectionError: The server is unreachable.
            OllamaTimeoutError: The server did not answer in time.
        """
        call = self._embed_call(
            model,
            input,
            truncate=truncate,
            dimensions=dimensions,
            options=options,
            keep_alive=keep_alive,
        )
        return self._request(call)

    def embeddings(
        self,
        model: str,
        prompt: str,
        *,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbeddingsResponse:
        """Embed one text with the legacy endpoint (``POST /api/embeddings``).

        Prefer :meth:`embed`. This vector may not be normalized.

        Args:
            model: Embedding model name.
            prompt: The text.
            options: Model options.
            keep_alive: How long the model stays loaded.

        Returns:
            The vector.

        Raises:
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply.
        """
        call = self._embeddings_call(
            model, prompt, options=options, keep_alive=keep_alive
        )
        return self._request(call)

    def list(self) -> ListResponse:
        """List installed models (``GET /api/tags``), most recently modified first."""
        return self._request(self._list_call())

    def ps(self) -> ProcessResponse:
        """List loaded models (``GET /api/ps``)."""
        return self._request(self._ps_call())

    def version(self) -> VersionResponse:
        """Return the server's version (``GET /api/version``)."""
        return self._request(self._version_call())

    def show(self, model: str, *, verbose: bool = False) -> ShowResponse:
        """Describe a model (``POST /api/show``).

        Args:
            model: Model name (matched case-insensitively by the server).
            verbose: Include long arrays (tokenizer vocabulary) in ``model_info``.

        Returns:
            Details, parameters, template, capabilities and GGUF metadata.

        Raises:
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply.
        """
        return self._request(self._show_call(model, verbose=verbose))

    @overload
    def pull(
        self, model: str, *, insecure: bool = False, stream: Literal[False] = False
    ) -> ProgressResponse: ...

    @overload
    def pull(
        self, model: str, *, insecure: bool = False, stream: Literal[True]
    ) -> Stream[ProgressResponse]: ...

    @overload
    def pull(
        self, model: str, *, insecure: bool = False, stream: bool
    ) -> ProgressResponse | Stream[ProgressResponse]: ...

    def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | Stream[ProgressResponse]:
        """Download a model from its registry (``POST /api/pull``).

        Args:
            model: Model name.
            insecure: Allow an ``http://`` registry.
            stream: Return a :class:`Stream` of progress updates.

        Returns:
            The final status, or a stream of progress ending with ``success``.

        Raises:
            ResponseError: The pull failed (in a stream: status 200).
            OllamaConnectionError: The server is unreachable or the stream broke.
        """
        call = self._transfer_call("/api/pull", model, insecure=insecure, stream=stream)
        if stream:
            return self._stream(call)
        return self._request(call)

    @overload
    def push(
        self, model: str, *, insecure: bool = False, stream: Literal[False] = False
    ) -> ProgressResponse: ...

    @overload
    def push(
        self, model: str, *, insecure: bool = False, stream: Literal[True]
    ) -> Stream[ProgressResponse]: ...

    @overload
    def push(
        self, model: str, *, insecure: bool = False, stream: bool
    ) -> ProgressResponse | Stream[ProgressResponse]: ...

    def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | Stream[ProgressResponse]:
        """Upload a model to its registry (``POST /api/push``).

        Args:
            model: ``namespace/model:tag``.
            insecure: Allow an ``http://`` registry.
            stream: Return a :class:`Stream` of progress updates.

        Returns:
            The final status, or a stream of progress ending with ``success``.

        Raises:
            ResponseError: The push failed (in a stream: status 200).
            OllamaConnectionError: The server is unreachable or the stream broke.
        """
        call = self._transfer_call("/api/push", model, insecure=insecure, stream=stream)
        if stream:
            return self._stream(call)
        return self._request(call)

    @overload
    def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsInput | None = None,
        messages: Sequence[MessageInput] | None = None,
        quantize: str | None = None,
        renderer: str | None = None,
        parser: str | None = None,
        requires: str | None = None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: Literal[False] = False,
    ) -> ProgressResponse: ...

    @overload
    def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsInput | None = None,
        messages: Sequence[MessageInput] | None = None,
        quantize: str | None = None,
        renderer: str | None = None,
        parser: str | None = None,
        requires: str | None = None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: Literal[True],
    ) -> Stream[ProgressResponse]: ...

    @overload
    def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsInput | None = None,
        messages: Sequence[MessageInput] | None = None,
        quantize: str | None = None,
        renderer: str | None = None,
        parser: str | None = None,
        requires: str | None = None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: bool,
    ) -> ProgressResponse | Stream[ProgressResponse]: ...

    def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsInput | None = None,
        messages: Sequence[MessageInput] | None = None,
        quantize: str | None = None,
        renderer: str | None = None,
        parser: str | None = None,
        requires: str | None = None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: bool = False,
    ) -> ProgressResponse | Stream[ProgressResponse]:
        """Create a model from another model or from blobs (``POST /api/create``).

        Args:
            model: Name of the new model.
            from_: Base model (pulled first if missing) - sent as ``from``.
            files: File name to ``sha256:`` digest, uploaded with :meth:`create_blob`.
            adapters: LoRA adapter files, likewise.
            template: Prompt template.
            license: License text(s).
            system: System prompt.
            parameters: Model parameters, merged over the base model's.
            messages: A conversation baked into the model.
            quantize: Quantize F16/BF16/F32 weights, e.g. ``"q4_K_M"``.
            renderer: Advanced: the renderer name.
            parser: Advanced: the parser name.
            requires: Advanced: the minimum server version.
            remote_host: Advanced: the host a remote (cloud) model runs on.
            info: Advanced: extra model facts to store with it.
            draft_files: Advanced: blobs of a draft model for speculative
                decoding (file name to digest, as ``files``).
            draft_quantize: Advanced: quantize the draft model's weights.
            stream: Return a :class:`Stream` of progress updates.

        Returns:
            The final status, or a stream of progress ending with ``success``.

        Raises:
            ResponseError: Creation failed (in a stream: status 200).
            OllamaConnectionError: The server is unreachable or the stream broke.
        """
        call = self._create_call(
            model,
            from_=from_,
            files=files,
            adapters=adapters,
            template=template,
            license=license,
            system=system,
            parameters=parameters,
            messages=messages,
            quantize=quantize,
            renderer=renderer,
            parser=parser,
            requires=requires,
            remote_host=remote_host,
            info=info,
            draft_files=draft_files,
            draft_quantize=draft_quantize,
            stream=stream,
        )
        if stream:
            return self._stream(call)
        return self._request(call)

    def copy(self, source: str, destination: str) -> StatusResponse:
        """Copy a model under a new name (``POST /api/copy``).

        Raises:
            ModelNotFoundError: ``source`` is not installed.
            ResponseError: A name is invalid.
        """
        return self._request(self._copy_call(source, destination))

    def delete(self, model: str) -> StatusResponse:
        """Delete a model (``DELETE /api/delete``).

        Raises:
            ModelNotFoundError: The model is not installed.
            ResponseError: The name is invalid.
        """
        return self._request(self._delete_call(model))

    def blob_exists(self, digest: str) -> bool:
        """Tell whether the server has a blob (``HEAD /api/blobs/<digest>``).

        Args:
            digest: ``sha256:<64 hex digits>``.

        Raises:
            ResponseError: The digest is malformed (400).
        """
        return self._request(self._blob_exists_call(digest))

    def create_blob(self, path_or_bytes: str | os.PathLike[str] | bytes) -> str:
        """Upload a file (streamed from disk) or bytes as a blob (``POST /api/blobs``).

        Args:
            path_or_bytes: A file path, or the content itself.

        Returns:
            The blob's digest, ``sha256:<hex>``, for ``create(files=...)``.

        Raises:
            ConfigError: The file cannot be read.
            ResponseError: The server rejected the upload.
        """
        return self._request(self._create_blob_call(path_or_bytes))


class AsyncClient(BaseClient):
    """An asynchronous client for every endpoint of the Ollama API.

    The same methods as :class:`Client`, as coroutines; ``stream=True`` returns
    an :class:`AsyncStream`. One :class:`httpx.AsyncClient` (one connection
    pool) serves all calls; close it with :meth:`aclose` or ``async with``.

    Args:
        host: Server URL, parsed like ``OLLAMA_HOST`` (see :func:`parse_host`);
            ``None`` reads ``OLLAMA_HOST``, then falls back to
            ``http://127.0.0.1:11434``.
        headers: Extra headers for every request. They override ragkit's
            defaults, and an ``Authorization`` header here wins over ``api_key``.
        timeout: Seconds, or an :class:`httpx.Timeout`. The default allows 10 s
            to connect and 600 s for each read (a cold model load can take
            minutes). ``None`` waits forever.
        api_key: Bearer key for Ollama Cloud; ``None`` reads ``OLLAMA_API_KEY``.
            It is never shown in ``repr``, errors or logs.
        retries: How many times a failed attempt is resent where that is safe:
            a refused connection for any call, a 503 for idempotent calls, and
            the queue-full 503 (nothing ran yet) for any call.
        backoff: Delay before the first retry in seconds; doubles each time,
            with jitter.
        transport: An httpx transport, e.g. :class:`httpx.MockTransport` in tests.
        **httpx_options: Passed to :class:`httpx.AsyncClient` (``verify``,
            ``follow_redirects``, ``limits``, ...).

    Raises:
        ConfigError: ``host``, ``retries`` or ``backoff`` is unusable.

    Example:
        >>> async with AsyncClient() as client:  # doctest: +SKIP
        ...     messages = [{"role": "user", "content": "Hi"}]
        ...     reply = await client.chat("llama3.2", messages)
        ...     print(reply.message.content)
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        **httpx_options: Any,
    ) -> None:
        super().__init__(
            host,
            headers=headers,
            timeout=timeout,
            api_key=api_key,
            retries=retries,
            backoff=backoff,
        )
        self._http = httpx.AsyncClient(
            base_url=self.host,
            headers=self._headers,
            timeout=timeout,
            transport=transport,
            **httpx_options,
        )
        self.openai = AsyncOpenAI(self)
        """The OpenAI-compatible ``/v1`` endpoints."""

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the send path: the only code that differs from AsyncClient ----------

    async def _send_once(self, call: Call[Any]) -> httpx.Response:
        request = self._http.build_request(
            call.method,
            call.path,
            content=aiter_file(call.upload) if call.upload else call.content,
            headers=self._request_headers(call),
        )
        with self._translate(call):
            response = await self._http.send(request, stream=True)
            self._log_reply(call, response.status_code)
            if response.is_success or (call.missing and response.status_code == 404):
                return response
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        raise self._error(call, response.status_code, content)

    async def _send(self, call: Call[Any]) -> httpx.Response:
        attempt = 0
        while True:
            try:
                return await self._send_once(call)
            except OllamaError as error:
                delay = self.retry_delay(call, attempt, error)
                if delay is None:
                    raise
            attempt += 1
            await asyncio.sleep(delay)

    async def _request(self, call: Call[T]) -> T:
        response = await self._send(call)
        try:
            with self._translate(call):
                content = await response.aread()
        finally:
            await response.aclose()
        if call.missing is not None and response.status_code == 404:
            return call.missing()
        return self._parse(call, response.status_code, content)

    def _stream(self, call: Call[T]) -> AsyncStream[T]:
        return AsyncStream(self._iterate(call))

    async def _iterate(self, call: Call[T]) -> AsyncGenerator[T, None]:
        response = await self._send(call)
        try:
            decoder = self._decoder(call, response.status_code)
            # Only httpx errors are translated; GeneratorExit from an early close
            # and the decoder's own errors pass through unchanged.
            with self._translate(call):
                async for chunk in response.aiter_bytes():
                    for item in decoder.feed(chunk):
                        yield item
            for item in decoder.close():
                yield item
        finally:
            await response.aclose()

    # -- endpoints -------------------------------------------------------------

    @overload
    async def generate(
        self,
        model: str,
        prompt: str = "",
        *,
        suffix: str | None = None,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        raw: bool | None = None,
        images: Sequence[ImageInput] | None = None,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream: Literal[False] = False,
    ) -> GenerateResponse: ...

    @overload
    async def generate(
        self,
        model: str,
        prompt: str = "",
        *,
        suffix: str | None = None,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        raw: bool | None = None,
        images: Sequence[ImageInput] | None = None,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream: Literal[True],
    ) -> AsyncStream[GenerateResponse]: ...

    @overload
    async def generate(
        self,
        model: str,
        prompt: str = "",
        *,
        suffix: str | None = None,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        raw: bool | None = None,
        images: Sequence[ImageInput] | None = None,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream: bool,
    ) -> GenerateResponse | AsyncStream[GenerateResponse]: ...

    async def generate(
        self,
        model: str,
        prompt: str = "",
        *,
        suffix: str | None = None,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        raw: bool | None = None,
        images: Sequence[ImageInput] | None = None,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        stream: bool = False,
    ) -> GenerateResponse | AsyncStream[GenerateResponse]:
        """Generate a completion for one prompt (``POST /api/generate``).

        An empty ``prompt`` loads the model (``done_reason == "load"``), or
        unloads it with ``keep_alive=0``.

        Args:
            model: Model name.
            prompt: The prompt.
            suffix: Text after the completion (models with ``insert``).
            system: Overrides the Modelfile's system prompt.
            template: Overrides the Modelfile's template.
            context: Token context from a previous reply (deprecated by Ollama).
            raw: Send the prompt without applying the template.
            images: Images as bytes, paths or base64 (encoded for you).
            format: ``"json"`` or a JSON schema for structured output.
            options: Model options (:class:`Options` or a dict).
            keep_alive: How long the model stays loaded (see :data:`KeepAlive`).
            think: Thinking on/off or a level (``"low"`` ... ``"max"``).
            truncate: Cut an over-long prompt to fit the context (server default).
            shift: Let the context slide during long generations.
            logprobs: Return token log probabilities.
            top_logprobs: Alternatives per token (0-20).
            stream: Return an :class:`AsyncStream` of chunks instead of one reply.

        Returns:
            The reply, or a stream of chunks ending with ``done=True``.

        Raises:
            ConfigError: A bad argument (empty model, keep_alive, image).
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply, also one inside a stream.
            OllamaConnectionError: The server is unreachable or the stream broke.
            OllamaTimeoutError: The server did not answer in time.
        """
        call = self._generate_call(
            model,
            prompt,
            suffix=suffix,
            system=system,
            template=template,
            context=context,
            raw=raw,
            images=images,
            format=format,
            options=options,
            keep_alive=keep_alive,
            think=think,
            truncate=truncate,
            shift=shift,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            stream=stream,
        )
        if stream:
            return self._stream(call)
        return await self._request(call)

    @overload
    async def chat(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None = None,
        stream: Literal[False] = False,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse: ...

    @overload
    async def chat(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None = None,
        stream: Literal[True],
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> AsyncStream[ChatResponse]: ...

    @overload
    async def chat(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None = None,
        stream: bool,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | AsyncStream[ChatResponse]: ...

    async def chat(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None = None,
        stream: bool = False,
        format: Format | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | AsyncStream[ChatResponse]:
        """Send a conversation and get the assistant's reply (``POST /api/chat``).

        Empty ``messages`` load the model, or unload it with ``keep_alive=0``.
        With ``stream=True``, collect ``message.tool_calls`` from every chunk:
        depending on the model they arrive mid-stream or on the final chunk.

        Args:
            model: Model name.
            messages: The whole conversation, as :class:`Message` objects or dicts.
            tools: Tools as :class:`Tool` objects, dicts or plain functions.
            stream: Return an :class:`AsyncStream` of chunks instead of one reply.
            format: ``"json"`` or a JSON schema for structured output.
            options: Model options (:class:`Options` or a dict).
            keep_alive: How long the model stays loaded (see :data:`KeepAlive`).
            think: Thinking on/off or a level (``"low"`` ... ``"max"``).
            logprobs: Return token log probabilities.
            top_logprobs: Alternatives per token (0-20).
            truncate: Drop the oldest messages when the history is too long.
            shift: Let the context slide during long generations.

        Returns:
            The reply, or a stream of chunks ending with ``done=True``.

        Raises:
            ConfigError: A bad argument (empty model, keep_alive, message, tool).
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply, also one inside a stream.
            OllamaConnectionError: The server is unreachable or the stream broke.
            OllamaTimeoutError: The server did not answer in time.
        """
        call = self._chat_call(
            model,
            messages,
            tools=tools,
            format=format,
            options=options,
            keep_alive=keep_alive,
            think=think,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            truncate=truncate,
            shift=shift,
            stream=stream,
        )
        if stream:
            return self._stream(call)
        return await self._request(call)

    async def embed(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        truncate: bool | None = None,
        dimensions: int | None = None,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbedResponse:
        """Embed one text or a batch (``POST /api/embed``).

        Args:
            model: Embedding model name.
            input: One text or a list of texts; ``""`` or ``[]`` only loads the model.
            truncate: Cut over-long inputs to fit (server default); ``False`` makes
                them an error (400).
            dimensions: Shorten vectors to this size (re-normalized).
            options: Model options, e.g. ``num_ctx``.
            keep_alive: How long the model stays loaded.

        Returns:
            One unit-length vector per input, in order.

        Raises:
            ConfigError: A bad argument.
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply.
            OllamaConnectionError: The server is unreachable.
            OllamaTimeoutError: The server did not answer in time.
        """
        call = self._embed_call(
            model,
            input,
            truncate=truncate,
            dimensions=dimensions,
            options=options,
            keep_alive=keep_alive,
        )
        return await self._request(call)

    async def embeddings(
        self,
        model: str,
        prompt: str,
        *,
        options: OptionsInput | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbeddingsResponse:
        """Embed one text with the legacy endpoint (``POST /api/embeddings``).

        Prefer :meth:`embed`. This vector may not be normalized.

        Args:
            model: Embedding model name.
            prompt: The text.
            options: Model options.
            keep_alive: How long the model stays loaded.

        Returns:
            The vector.

        Raises:
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply.
        """
        call = self._embeddings_call(
            model, prompt, options=options, keep_alive=keep_alive
        )
        return await self._request(call)

    async def list(self) -> ListResponse:
        """List installed models (``GET /api/tags``), most recently modified first."""
        return await self._request(self._list_call())

    async def ps(self) -> ProcessResponse:
        """List loaded models (``GET /api/ps``)."""
        return await self._request(self._ps_call())

    async def version(self) -> VersionResponse:
        """Return the server's version (``GET /api/version``)."""
        return await self._request(self._version_call())

    async def show(self, model: str, *, verbose: bool = False) -> ShowResponse:
        """Describe a model (``POST /api/show``).

        Args:
            model: Model name (matched case-insensitively by the server).
            verbose: Include long arrays (tokenizer vocabulary) in ``model_info``.

        Returns:
            Details, parameters, template, capabilities and GGUF metadata.

        Raises:
            ModelNotFoundError: The model is not installed.
            ResponseError: Any other error reply.
        """
        return await self._request(self._show_call(model, verbose=verbose))

    @overload
    async def pull(
        self, model: str, *, insecure: bool = False, stream: Literal[False] = False
    ) -> ProgressResponse: ...

    @overload
    async def pull(
        self, model: str, *, insecure: bool = False, stream: Literal[True]
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
    async def pull(
        self, model: str, *, insecure: bool = False, stream: bool
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

    async def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Download a model from its registry (``POST /api/pull``).

        Args:
            model: Model name.
            insecure: Allow an ``http://`` registry.
            stream: Return an :class:`AsyncStream` of progress updates.

        Returns:
            The final status, or a stream of progress ending with ``success``.

        Raises:
            ResponseError: The pull failed (in a stream: status 200).
            OllamaConnectionError: The server is unreachable or the stream broke.
        """
        call = self._transfer_call("/api/pull", model, insecure=insecure, stream=stream)
        if stream:
            return self._stream(call)
        return await self._request(call)

    @overload
    async def push(
        self, model: str, *, insecure: bool = False, stream: Literal[False] = False
    ) -> ProgressResponse: ...

    @overload
    async def push(
        self, model: str, *, insecure: bool = False, stream: Literal[True]
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
    async def push(
        self, model: str, *, insecure: bool = False, stream: bool
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

    async def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Upload a model to its registry (``POST /api/push``).

        Args:
            model: ``namespace/model:tag``.
            insecure: Allow an ``http://`` registry.
            stream: Return an :class:`AsyncStream` of progress updates.

        Returns:
            The final status, or a stream of progress ending with ``success``.

        Raises:
            ResponseError: The push failed (in a stream: status 200).
            OllamaConnectionError: The server is unreachable or the stream broke.
        """
        call = self._transfer_call("/api/push", model, insecure=insecure, stream=stream)
        if stream:
            return self._stream(call)
        return await self._request(call)

    @overload
    async def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsInput | None = None,
        messages: Sequence[MessageInput] | None = None,
        quantize: str | None = None,
        renderer: str | None = None,
        parser: str | None = None,
        requires: str | None = None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: Literal[False] = False,
    ) -> ProgressResponse: ...

    @overload
    async def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsInput | None = None,
        messages: Sequence[MessageInput] | None = None,
        quantize: str | None = None,
        renderer: str | None = None,
        parser: str | None = None,
        requires: str | None = None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: Literal[True],
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
    async def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsInput | None = None,
        messages: Sequence[MessageInput] | None = None,
        quantize: str | None = None,
        renderer: str | None = None,
        parser: str | None = None,
        requires: str | None = None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: bool,
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

    async def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsInput | None = None,
        messages: Sequence[MessageInput] | None = None,
        quantize: str | None = None,
        renderer: str | None = None,
        parser: str | None = None,
        requires: str | None = None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: bool = False,
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Create a model from another model or from blobs (``POST /api/create``).

        Args:
            model: Name of the new model.
            from_: Base model (pulled first if missing) - sent as ``from``.
            files: File name to ``sha256:`` digest, uploaded with :meth:`create_blob`.
            adapters: LoRA adapter files, likewise.
            template: Prompt template.
            license: License text(s).
            system: System prompt.
            parameters: Model parameters, merged over the base model's.
            messages: A conversation baked into the model.
            quantize: Quantize F16/BF16/F32 weights, e.g. ``"q4_K_M"``.
            renderer: Advanced: the renderer name.
            parser: Advanced: the parser name.
            requires: Advanced: the minimum server version.
            remote_host: Advanced: the host a remote (cloud) model runs on.
            info: Advanced: extra model facts to store with it.
            draft_files: Advanced: blobs of a draft model for speculative
                decoding (file name to digest, as ``files``).
            draft_quantize: Advanced: quantize the draft model's weights.
            stream: Return an :class:`AsyncStream` of progress updates.

        Returns:
            The final status, or a stream of progress ending with ``success``.

        Raises:
            ResponseError: Creation failed (in a stream: status 200).
            OllamaConnectionError: The server is unreachable or the stream broke.
        """
        call = self._create_call(
            model,
            from_=from_,
            files=files,
            adapters=adapters,
            template=template,
            license=license,
            system=system,
            parameters=parameters,
            messages=messages,
            quantize=quantize,
            renderer=renderer,
            parser=parser,
            requires=requires,
            remote_host=remote_host,
            info=info,
            draft_files=draft_files,
            draft_quantize=draft_quantize,
            stream=stream,
        )
        if stream:
            return self._stream(call)
        return await self._request(call)

    async def copy(self, source: str, destination: str) -> StatusResponse:
        """Copy a model under a new name (``POST /api/copy``).

        Raises:
            ModelNotFoundError: ``source`` is not installed.
            ResponseError: A name is invalid.
        """
        return await self._request(self._copy_call(source, destination))

    async def delete(self, model: str) -> StatusResponse:
        """Delete a model (``DELETE /api/delete``).

        Raises:
            ModelNotFoundError: The model is not installed.
            ResponseError: The name is invalid.
        """
        return await self._request(self._delete_call(model))

    async def blob_exists(self, digest: str) -> bool:
        """Tell whether the server has a blob (``HEAD /api/blobs/<digest>``).

        Args:
            digest: ``sha256:<64 hex digits>``.

        Raises:
            ResponseError: The digest is malformed (400).
        """
        return await self._request(self._blob_exists_call(digest))

    async def create_blob(self, path_or_bytes: str | os.PathLike[str] | bytes) -> str:
        """Upload a file (streamed from disk) or bytes as a blob (``POST /api/blobs``).

        Args:
            path_or_bytes: A file path, or the content itself.

        Returns:
            The blob's digest, ``sha256:<hex>``, for ``create(files=...)``.

        Raises:
            ConfigError: The file cannot be read.
            ResponseError: The server rejected the upload.
        """
        return await self._request(self._create_blob_call(path_or_bytes))
