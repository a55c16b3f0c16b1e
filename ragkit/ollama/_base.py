"""What the sync and async clients share: settings, request building, errors, retries.

``Client`` and ``AsyncClient`` (in ``_client.py``) only move bytes. Everything
else happens here, once: each endpoint becomes a :class:`Call` (method, path,
encoded body, how to parse the reply, whether it may be retried), httpx
exceptions are translated in :func:`translate_errors`, error replies become
:class:`~ragkit.errors.ResponseError` in :func:`response_error`, and
:meth:`BaseClient.retry_delay` decides whether a failed attempt is sent again.

Retry policy (``retries=``, default 2, with exponential backoff and jitter):

* Connection refused (``httpx.ConnectError``): the request never reached the
  server, so every call may be resent.
* 503 for an idempotent call (embed, embeddings, show, list, ps, version, blob
  HEAD, ``/v1/models``): resending cannot change anything twice.
* 503 ``server busy ... maximum pending requests exceeded`` for any call: the
  server rejects a request with this reply before queueing it, so nothing ran
  and resending a generate, chat, create, push, pull, copy, delete or blob
  upload is safe too.
* Nothing else. Timeouts, dropped connections and other statuses are never
  retried: for a non-idempotent call the server may already have acted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import random
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import httpx

from ragkit.errors import (
    ConfigError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    ResponseError,
)
from ragkit.ollama._durations import KeepAlive, check_keep_alive
from ragkit.ollama._host import auth_headers, parse_host
from ragkit.ollama._images import ImageInput, encode_image
from ragkit.ollama._stream import Decoder, NDJSONDecoder, SSEDecoder, error_message
from ragkit.ollama._tools import MessageInput, ToolInput, message_to_json, tool_to_json
from ragkit.ollama._types import (
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    Message,
    Options,
    ProcessResponse,
    ProgressResponse,
    ShowResponse,
    StatusResponse,
    VersionResponse,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "BaseClient",
    "Call",
    "Format",
    "OptionsInput",
    "Think",
    "aiter_file",
    "backoff_delay",
    "encode_json",
    "iter_file",
    "response_error",
    "translate_errors",
]

logger = logging.getLogger("ragkit.ollama")

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
"""10 s to connect, 600 s for each read or write: a cold model load or a long
generation can take minutes, but a server that does not accept a connection in
10 s is not going to."""

Format = Literal["", "json"] | Mapping[str, Any]
"""``format=``: ``"json"``, a JSON schema, or ``""`` for none."""

Think = bool | Literal["low", "medium", "high", "max"]
"""``think=``: on/off, or a reasoning level."""

OptionsInput = Options | Mapping[str, Any]
"""``options=``: an :class:`Options` or a plain dict of option values."""

_QUEUE_FULL = "maximum pending requests exceeded"
_UPLOAD_CHUNK = 1 << 20


def _done(data: Mapping[str, Any]) -> bool:
    return data.get("done") is True


def _success(data: Mapping[str, Any]) -> bool:
    return data.get("status") == "success"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One endpoint call, fully built and ready to send.

    Attributes:
        method: HTTP method.
        path: Path below the host URL, e.g. ``/api/chat``.
        parse: Builds the result from one JSON object (``{}`` for an empty body).
        content: The encoded request body.
        content_type: Its media type.
        upload: A file to stream as the body instead of ``content``.
        idempotent: Whether a 503 may be retried (see the module docstring).
        model: The model the call names, for :class:`ModelNotFoundError`.
        missing: When set, a 404 returns ``missing()`` instead of raising.
        stream: ``None``, ``"ndjson"`` (native) or ``"sse"`` (``/v1``).
        is_final: For NDJSON, recognises the last object of a complete stream.
    """

    method: str
    path: str
    parse: Callable[[Mapping[str, Any]], T]
    content: bytes | None = None
    content_type: str = "application/json"
    upload: Path | None = None
    idempotent: bool = False
    model: str | None = None
    missing: Callable[[], T] | None = None
    stream: Literal["ndjson", "sse"] | None = None
    is_final: Callable[[Mapping[str, Any]], bool] = field(default=_done)


def encode_json(body: Mapping[str, Any]) -> bytes:
    """Encode a request body as compact UTF-8 JSON, leaving out ``None`` values.

    Args:
        body: The top-level fields.

    Returns:
        The encoded body.

    Raises:
        ConfigError: A value cannot be encoded (an object, NaN, infinity).
    """
    fields = {key: value for key, value in body.items() if value is not None}
    try:
        text = json.dumps(
            fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the request cannot be encoded as JSON: {exc}") from exc
    return text.encode("utf-8")


def _where(host: str, call: Call[Any]) -> str:
    return f"{call.method} {host}{call.path}"


@contextmanager
def translate_errors(host: str, call: Call[Any]) -> Iterator[None]:
    """Turn httpx exceptions raised inside the block into ragkit errors.

    This is the only place httpx exceptions are caught. The original exception
    is kept as ``__cause__``. Messages name the host and what to do; they never
    include headers, so an API key cannot leak through them.

    Args:
        host: The server URL, for messages.
        call: The call being made, for messages.

    Raises:
        OllamaTimeoutError: Any httpx timeout.
        OllamaConnectionError: The server cannot be reached or the connection
            dropped.
        ConfigError: The URL is unusable (e.g. an unsupported scheme).
        OllamaError: Any other httpx failure.
    """
    where = _where(host, call)
    try:
        yield
    except httpx.TimeoutException as exc:
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the reply",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "waiting")
        raise OllamaTimeoutError(
            f"timed out {phase} ({where}); the server may be busy loading a model: "
            "pass a larger timeout= to the client, or check the server"
        ) from exc
    except httpx.ConnectError as exc:
        raise OllamaConnectionError(
            f"cannot connect to Ollama at {host} ({exc or type(exc).__name__}); "
            "start it with `ollama serve`, or set OLLAMA_HOST to where it runs"
        ) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
        raise OllamaConnectionError(
            f"the connection to Ollama was lost during {where} "
            f"({exc or type(exc).__name__}); check that the server is still "
            "running and try again"
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ConfigError(
            f"cannot use the Ollama host {host!r}: {exc}; set OLLAMA_HOST (or "
            "host=) to an http:// or https:// URL"
        ) from exc
    except (httpx.HTTPError, httpx.StreamError) as exc:
        raise OllamaError(f"{where} failed: {exc or type(exc).__name__}") from exc


def _hint(status: int, is_json: bool) -> str:
    if status == 401:
        return "the server wants an API key: set OLLAMA_API_KEY or pass api_key="
    if status == 403:
        return "the server refused the request (check OLLAMA_ORIGINS or the key)"
    if status in (404, 405) and not is_json:
        return (
            "the server does not offer this endpoint; check that OLLAMA_HOST points "
            "at Ollama and that it is up to date"
        )
    if status == 503:
        return "the server is busy; try again shortly"
    return ""


def response_error(
    host: str, call: Call[Any], status: int, content: bytes
) -> ResponseError:
    """Build the exception for an HTTP error reply.

    Args:
        host: The server URL.
        call: The call that failed.
        status: The HTTP status.
        content: The reply body: ``{"error": ...}``, the ``/v1`` envelope, or
            plain text (405, unknown paths, proxies).

    Returns:
        :class:`ModelNotFoundError` for a JSON 404 on a call that names a model,
        otherwise :class:`ResponseError` carrying the server's message.
    """
    text = content.decode("utf-8", "replace").strip()
    try:
        message = error_message(json.loads(content)) if text else None
    except ValueError:
        message = None
    is_json = message is not None
    if message is None:
        message = text or httpx.codes.get_reason_phrase(status) or f"HTTP {status}"
    if status == 404 and is_json and call.model:
        return ModelNotFoundError(message, status, model=call.model)
    return ResponseError(message, status, hint=_hint(status, is_json))


def backoff_delay(
    attempt: int,
    base: float,
    *,
    cap: float = 30.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``.

    Exponential backoff with "equal jitter": half of ``base * 2**attempt`` is
    fixed, the other half random, so clients that failed together do not come
    back together.

    Args:
        attempt: 0 for the first retry.
        base: The first retry's nominal delay.
        cap: The longest nominal delay.
        rng: Source of randomness in [0, 1).

    Returns:
        The delay in seconds.

    Examples:
        >>> backoff_delay(2, 0.5, rng=lambda: 0.0)
        1.0
    """
    ceiling = min(cap, base * 2**attempt)
    return ceiling / 2 + rng() * ceiling / 2


def _user_agent() -> str:
    try:
        version = metadata.version("ragkit")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return (
        f"ragkit/{version} (python {platform.python_version()}; "
        f"{platform.system().lower()})"
    )


def _model(model: str) -> str:
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be a non-empty model name, not {model!r}")
    return model


def _options(options: OptionsInput | None) -> dict[str, Any] | None:
    if options is None:
        return None
    if isinstance(options, Options):
        return options.to_json()
    if isinstance(options, Mapping):
        return dict(options)
    raise ConfigError(f"options must be an Options or a dict, not {options!r}")


def _keep_alive(value: KeepAlive | None) -> str | int | float | None:
    return None if value is None else check_keep_alive(value)


def _digest_path(digest: str) -> str:
    return "/api/blobs/" + urllib.parse.quote(digest, safe=":")


class BaseClient:
    """Settings and request building shared by :class:`Client` and :class:`AsyncClient`.

    Args:
        host: Server URL, parsed like ``OLLAMA_HOST``; ``None`` reads ``OLLAMA_HOST``.
        headers: Extra headers; an ``Authorization`` header here wins over the key.
        timeout: Seconds, an :class:`httpx.Timeout`, or ``None`` for no limit.
        api_key: Bearer key for Ollama Cloud; ``None`` reads ``OLLAMA_API_KEY``.
        retries: How many times a failed attempt may be resent where that is safe.
        backoff: Nominal delay before the first retry, in seconds; it doubles
            on each further retry.

    Raises:
        ConfigError: The host cannot be parsed, or retries/backoff are negative.
    """

    def __init__(
        self,
        host: str | None,
        *,
        headers: Mapping[str, str] | None,
        timeout: float | httpx.Timeout | None,
        api_key: str | None,
        retries: int,
        backoff: float,
    ) -> None:
        self.host = parse_host(
            host if host is not None else os.environ.get("OLLAMA_HOST")
        )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"retries must be a whole number >= 0, not {retries!r}")
        if backoff < 0:
            raise ConfigError(f"backoff must be >= 0 seconds, not {backoff!r}")
        self.retries = retries
        self.backoff = backoff
        self._timeout = timeout
        merged = httpx.Headers(
            {"Accept": "application/json", "User-Agent": _user_agent()}
        )
        merged.update(auth_headers(headers, api_key))
        self._headers = merged

    def __repr__(self) -> str:
        # Only the host: headers may hold an API key.
        return f"{type(self).__name__}(host={self.host!r})"

    # -- sending helpers ---------------------------------------------------

    def _request_headers(self, call: Call[Any]) -> dict[str, str]:
        headers = (
            {"Content-Type": call.content_type} if call.content or call.upload else {}
        )
        if call.upload is not None:
            headers["Content-Length"] = str(call.upload.stat().st_size)
        return headers

    def retry_delay(
        self, call: Call[Any], attempt: int, error: OllamaError
    ) -> float | None:
        """Decide whether a failed attempt is sent again, and after how long.

        Args:
            call: The call.
            attempt: How many retries were already made.
            error: Why the attempt failed.

        Returns:
            Seconds to wait before resending, or ``None`` to give up.
        """
        if attempt >= self.retries:
            return None
        if isinstance(error, OllamaConnectionError):
            # Only a refused/unresolvable connection proves nothing was sent.
            if not isinstance(error.__cause__, httpx.ConnectError):
                return None
        elif isinstance(error, ResponseError) and error.status_code == 503:
            if not (call.idempotent or _QUEUE_FULL in error.error):
                return None
        else:
            return None
        delay = backoff_delay(attempt, self.backoff)
        logger.info(
            "retrying %s %s in %.2f s (retry %d of %d) after: %s",
            call.method,
            call.path,
            delay,
            attempt + 1,
            self.retries,
            error,
        )
        return delay

    def _log_reply(self, call: Call[Any], status: int) -> None:
        logger.debug("%s %s%s -> %d", call.method, self.host, call.path, status)

    def _error(self, call: Call[Any], status: int, content: bytes) -> ResponseError:
        return response_error(self.host, call, status, content)

    def _translate(self, call: Call[Any]) -> AbstractContextManager[None]:
        return translate_errors(self.host, call)

    def _parse(self, call: Call[T], status: int, content: bytes) -> T:
        if not content.strip():
            return call.parse({})
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if not isinstance(data, Mapping):
            snippet = content[:200].decode("utf-8", "replace")
            raise ResponseError(
                f"the reply to {_where(self.host, call)} is not a JSON object: "
                f"{snippet!r}",
                status,
            )
        return call.parse(data)

    def _decoder(self, call: Call[T], status: int) -> Decoder[T]:
        where = _where(self.host, call)
        if call.stream == "sse":
            return SSEDecoder(call.parse, status_code=status, where=where)
        return NDJSONDecoder(call.parse, call.is_final, status_code=status, where=where)

    # -- endpoints -----------------------------------------------------------

    def _generate_call(
        self,
        model: str,
        prompt: str,
        *,
        suffix: str | None,
        system: str | None,
        template: str | None,
        context: Sequence[int] | None,
        raw: bool | None,
        images: Sequence[ImageInput] | None,
        format: Format | None,
        options: OptionsInput | None,
        keep_alive: KeepAlive | None,
        think: Think | None,
        truncate: bool | None,
        shift: bool | None,
        logprobs: bool | None,
        top_logprobs: int | None,
        stream: bool,
    ) -> Call[GenerateResponse]:
        body = {
            "model": _model(model),
            "prompt": prompt,
            "suffix": suffix,
            "system": system,
            "template": template,
            "context": None if context is None else list(context),
            "raw": raw,
            "images": None if images is None else [encode_image(i) for i in images],
            "format": format,
            "options": _options(options),
            "keep_alive": _keep_alive(keep_alive),
            "think": think,
            "truncate": truncate,
            "shift": shift,
            "logprobs": logprobs,
            "top_logprobs": top_logprobs,
            "stream": stream,
        }
        return Call(
            "POST",
            "/api/generate",
            GenerateResponse.from_json,
            content=encode_json(body),
            model=model,
            stream="ndjson" if stream else None,
        )

    def _chat_call(
        self,
        model: str,
        messages: Sequence[MessageInput],
        *,
        tools: Sequence[ToolInput] | None,
        format: Format | None,
        options: OptionsInput | None,
        keep_alive: KeepAlive | None,
        think: Think | None,
        logprobs: bool | None,
        top_logprobs: int | None,
        truncate: bool | None,
        shift: bool | None,
        stream: bool,
    ) -> Call[ChatResponse]:
        if isinstance(messages, (str, Mapping, Message)):
            raise ConfigError("messages must be a list of messages, not a single one")
        body = {
            "model": _model(model),
            "messages": [message_to_json(message) for message in messages],
            "tools": None if tools is None else [tool_to_json(tool) for tool in tools],
            "format": format,
            "options": _options(options),
            "keep_alive": _keep_alive(keep_alive),
            "think": think,
            "logprobs": logprobs,
            "top_logprobs": top_logprobs,
            "truncate": truncate,
            "shift": shift,
            "stream": stream,
        }
        return Call(
            "POST",
            "/api/chat",
            ChatResponse.from_json,
            content=encode_json(body),
            model=model,
            stream="ndjson" if stream else None,
        )

    def _embed_call(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        truncate: bool | None,
        dimensions: int | None,
        options: OptionsInput | None,
        keep_alive: KeepAlive | None,
    ) -> Call[EmbedResponse]:
        body = {
            "model": _model(model),
            "input": input if isinstance(input, str) else list(input),
            "truncate": truncate,
            "dimensions": dimensions,
            "options": _options(options),
            "keep_alive": _keep_alive(keep_alive),
        }
        return Call(
            "POST",
            "/api/embed",
            EmbedResponse.from_json,
            content=encode_json(body),
            idempotent=True,
            model=model,
        )

    def _embeddings_call(
        self,
        model: str,
        prompt: str,
        *,
        options: OptionsInput | None,
        keep_alive: KeepAlive | None,
    ) -> Call[EmbeddingsResponse]:
        body = {
            "model": _model(model),
            "prompt": prompt,
            "options": _options(options),
            "keep_alive": _keep_alive(keep_alive),
        }
        return Call(
            "POST",
            "/api/embeddings",
            EmbeddingsResponse.from_json,
            content=encode_json(body),
            idempotent=True,
            model=model,
        )

    def _list_call(self) -> Call[ListResponse]:
        return Call("GET", "/api/tags", ListResponse.from_json, idempotent=True)

    def _ps_call(self) -> Call[ProcessResponse]:
        return Call("GET", "/api/ps", ProcessResponse.from_json, idempotent=True)

    def _version_call(self) -> Call[VersionResponse]:
        return Call("GET", "/api/version", VersionResponse.from_json, idempotent=True)

    def _show_call(self, model: str, *, verbose: bool) -> Call[ShowResponse]:
        body = {"model": _model(model), "verbose": True if verbose else None}
        return Call(
            "POST",
            "/api/show",
            ShowResponse.from_json,
            content=encode_json(body),
            idempotent=True,
            model=model,
        )

    def _transfer_call(
        self, path: str, model: str, *, insecure: bool, stream: bool
    ) -> Call[ProgressResponse]:
        body = {"model": _model(model), "insecure": True if insecure else None}
        body["stream"] = stream
        return Call(
            "POST",
            path,
            ProgressResponse.from_json,
            content=encode_json(body),
            stream="ndjson" if stream else None,
            is_final=_success,
        )

    def _create_call(
        self,
        model: str,
        *,
        from_: str | None,
        files: Mapping[str, str] | None,
        adapters: Mapping[str, str] | None,
        template: str | None,
        license: str | Sequence[str] | None,
        system: str | None,
        parameters: OptionsInput | None,
        messages: Sequence[MessageInput] | None,
        quantize: str | None,
        renderer: str | None,
        parser: str | None,
        requires: str | None,
        remote_host: str | None = None,
        info: Mapping[str, Any] | None = None,
        draft_files: Mapping[str, str] | None = None,
        draft_quantize: str | None = None,
        stream: bool,
    ) -> Call[ProgressResponse]:
        body = {
            "model": _model(model),
            "from": from_,
            "files": None if files is None else dict(files),
            "adapters": None if adapters is None else dict(adapters),
            "template": template,
            "license": license
            if license is None or isinstance(license, str)
            else list(license),
            "system": system,
            "parameters": _options(parameters),
            "messages": None
            if messages is None
            else [message_to_json(message) for message in messages],
            "quantize": quantize,
            "renderer": renderer,
            "parser": parser,
            "requires": requires,
            "remote_host": remote_host,
            "info": None if info is None else dict(info),
            "draft_files": None if draft_files is None else dict(draft_files),
            "draft_quantize": draft_quantize,
            "stream": stream,
        }
        return Call(
            "POST",
            "/api/create",
            ProgressResponse.from_json,
            content=encode_json(body),
            stream="ndjson" if stream else None,
            is_final=_success,
        )

    def _copy_call(self, source: str, destination: str) -> Call[StatusResponse]:
        body = {"source": _model(source), "destination": _model(destination)}
        return Call(
            "POST",
            "/api/copy",
            lambda _: StatusResponse(),
            content=encode_json(body),
            model=source,
        )

    def _delete_call(self, model: str) -> Call[StatusResponse]:
        return Call(
            "DELETE",
            "/api/delete",
            lambda _: StatusResponse(),
            content=encode_json({"model": _model(model)}),
            model=model,
        )

    def _blob_exists_call(self, digest: str) -> Call[bool]:
        return Call(
            "HEAD",
            _digest_path(digest),
            lambda _: True,
            idempotent=True,
            missing=lambda: False,
        )

    def _create_blob_call(self, data: str | os.PathLike[str] | bytes) -> Call[str]:
        if isinstance(data, (bytes, bytearray, memoryview)):
            content: bytes | None = bytes(data)
            upload = None
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
        else:
            content = None
            upload = Path(data)
            digest = "sha256:" + _file_sha256(upload)
        return Call(
            "POST",
            _digest_path(digest),
            lambda _: digest,
            content=content,
            content_type="application/octet-stream",
            upload=upload,
        )


def _file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_UPLOAD_CHUNK):
                hasher.update(chunk)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return hasher.hexdigest()


def iter_file(path: Path) -> Iterator[bytes]:
    """Yield a file's bytes in 1 MiB chunks (the body of a blob upload)."""
    with path.open("rb") as file:
        while chunk := file.read(_UPLOAD_CHUNK):
            yield chunk


async def aiter_file(path: Path) -> AsyncIterator[bytes]:
    """Yield a file's bytes in 1 MiB chunks for an async upload.

    Reads block briefly; local disk reads of 1 MiB are fast enough that handing
    them to a thread is not worth tying the client to one async library.
    """
    with path.open("rb") as file:
        while chunk := file.read(_UPLOAD_CHUNK):
            yield chunk
