"""FakeOllama: a threaded Ollama-protocol HTTP server on loopback, for tests."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any
from urllib.parse import urlsplit

from ragkit.testing._faults import FaultKind, FaultPlan, Faults, Injected
from ragkit.testing._hostcheck import host_allowed
from ragkit.testing._http import BodyError, ConnectionHandler, LoopbackServer
from ragkit.testing._names import parse_name
from ragkit.testing._native import Backend
from ragkit.testing._openai import OpenAI, openai_error
from ragkit.testing._protocol import (
    JSON_TYPE,
    NDJSON_TYPE,
    EmptyReply,
    JsonReply,
    Reply,
    Request,
    StreamReply,
    TextReply,
)
from ragkit.testing._registry import DEFAULT_MODELS, FakeModel, Registry
from ragkit.testing._slots import (
    QUEUE_FULL,
    CostModel,
    EndpointStats,
    Scheduler,
    ServerStats,
)
from ragkit.testing._wire import ApiError, dumps

__all__ = ["FakeOllama", "RequestRecord"]

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Reply]

_SSE_TYPE = "text/event-stream"


@dataclass(frozen=True)
class RequestRecord:
    """One request FakeOllama received, for assertions.

    Attributes:
        method: The HTTP method.
        path: The URL path.
        body: The decoded JSON body, or ``None`` (empty, not JSON, or a blob).
        status: The status sent, or ``None`` when the connection was dropped.
        headers: The request headers, names lower-cased.
        fault: The injected fault kind, if any.
    """

    method: str
    path: str
    body: Any
    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    fault: str | None = None


@dataclass(frozen=True)
class _Route:
    name: str
    pattern: re.Pattern[str]
    methods: Mapping[str, Handler]
    openai: bool = False


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: defaultdict[str, dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(
                ("requests", "errors", "inputs", "prompt_tokens", "eval_tokens"), 0
            )
        )

    def add(self, route: str, **amounts: int) -> None:
        with self._lock:
            counts = self._counts[route]
            for key, amount in amounts.items():
                counts[key] += amount

    def snapshot(self) -> dict[str, EndpointStats]:
        with self._lock:
            return {
                route: EndpointStats(**counts) for route, counts in self._counts.items()
            }

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


class FakeOllama:
    """An Ollama server on loopback with deterministic stand-in models.

    Use it as a context manager (or call :meth:`start`/:meth:`stop`)::

        with FakeOllama() as server:
            httpx.post(f"{server.url}/api/embed", json={...})

    Args:
        host: Address to bind; loopback by default.
        port: Port to bind; 0 picks a free one.
        models: The models preloaded (default :data:`DEFAULT_MODELS`).
        cost: Simulated time per request, input, token and load.
        faults: Rates of injected faults (also settable later).
        num_parallel: Slots per chat model (embedding models always have 1).
        max_queue: Requests allowed to wait for a slot before 503s.
        version: What ``/api/version`` reports.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[FakeModel] | None = None,
        cost: CostModel | None = None,
        faults: Faults | None = None,
        num_parallel: int = 1,
        max_queue: int = 512,
        version: str = "0.33.0",
    ) -> None:
        self._host = host
        self._port = port
        self._registry = Registry(DEFAULT_MODELS if models is None else models)
        self._scheduler = Scheduler(num_parallel=num_parallel, max_queue=max_queue)
        self._plan = FaultPlan(faults)
        self._counters = _Counters()
        self._log_lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._backend = Backend(
            registry=self._registry,
            scheduler=self._scheduler,
            counter=self._counters.add,
            cost=cost or CostModel(),
            version=version,
        )
        self._routes = self._build_routes(OpenAI(self._backend))
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeOllama:
        """Bind and start serving (again, on the same port, after :meth:`stop`).

        Returns:
            The server itself, for chaining.

        Raises:
            RuntimeError: If it is already running.
            OSError: If the address cannot be bound.
        """
        if self._server is not None:
            raise RuntimeError("FakeOllama is already running")
        self._scheduler.stopping.clear()
        server = LoopbackServer((self._host, self._port), self._dispatch)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.run, name=f"fake-ollama-{self._port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; later requests are refused."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        self._scheduler.stopping.set()
        self._scheduler.resume()
        server.wake()
        thread.join()
        server.close_all()

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    @property
    def host(self) -> str:
        """The bound address."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (0 until started when a free port was asked for)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123`` (use it as ``OLLAMA_HOST``)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    # -- knobs -------------------------------------------------------------

    @property
    def cost(self) -> CostModel:
        """The cost model; assign a new one to change it at runtime."""
        return self._backend.cost

    @cost.setter
    def cost(self, cost: CostModel) -> None:
        self._backend.cost = cost

    @property
    def faults(self) -> Faults:
        """The fault rates; assigning restarts the seeded random sequence."""
        return self._plan.faults

    @faults.setter
    def faults(self, faults: Faults | None) -> None:
        self._plan.faults = faults

    def fail_next(
        self,
        n: int = 1,
        kind: FaultKind = "500",
        *,
        endpoint: str | None = None,
        message: str = "injected fault",
    ) -> None:
        """Make the next ``n`` requests (to ``endpoint``, if given) fail.

        Args:
            n: How many requests.
            kind: ``"500"``, ``"503"``, ``"429"``, ``"drop"``, ``"cut"``,
                ``"stream_error"`` or ``"malformed"`` (see :data:`FaultKind`).
            endpoint: A route such as ``/api/embed`` (blobs: ``/api/blobs``);
                ``None`` matches any.
            message: The error text for the kinds that send one.

        Raises:
            ValueError: For an unknown kind or ``n < 1``.
        """
        self._plan.fail_next(n, kind, endpoint, message)

    def pause(self) -> None:
        """Hold requests inside their model slots until :meth:`resume`.

        Lets a test fill the slots and the queue without relying on timing.
        """
        self._scheduler.pause()

    def resume(self) -> None:
        """Release the requests held by :meth:`pause`."""
        self._scheduler.resume()

    def add_model(self, model: FakeModel) -> None:
        """Install (or replace) a model."""
        self._registry.put(model)

    def model(self, name: str) -> FakeModel | None:
        """The installed model with this name (case-insensitive), if any."""
        parsed = parse_name(name)
        return None if parsed is None else self._registry.get(parsed)

    @property
    def models(self) -> list[FakeModel]:
        """Installed models, most recently modified first."""
        return self._registry.models()

    @property
    def loaded_models(self) -> list[str]:
        """Display names of the models ``/api/ps`` would list."""
        return [entry.model.parsed.display for entry in self._registry.loaded()]

    # -- observation -------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received since start (or :meth:`reset`), in order."""
        with self._log_lock:
            return list(self._log)

    def counts(self, path: str, *, method: str | None = None) -> int:
        """How many requests went to ``path`` (optionally with ``method``)."""
        return sum(
            1
            for record in self.requests
            if record.path == path and (method is None or record.method == method)
        )

    @property
    def stats(self) -> ServerStats:
        """A snapshot of the counters and per-model busy times."""
        busy, simulated = self._scheduler.times()
        active, waiting = self._scheduler.occupancy()
        return ServerStats(
            endpoints=MappingProxyType(self._counters.snapshot()),
            busy_seconds=MappingProxyType(busy),
            simulated_seconds=MappingProxyType(simulated),
            active=active,
            waiting=waiting,
        )

    def reset(self) -> None:
        """Clear the request log, the counters and scheduled faults (not models)."""
        with self._log_lock:
            self._log.clear()
        self._counters.clear()
        self._scheduler.reset_times()
        self._plan.clear()

    # -- routing -----------------------------------------------------------

    def _build_routes(self, openai: OpenAI) -> list[_Route]:
        b = self._backend

        def route(
            name: str,
            methods: Mapping[str, Handler],
            *,
            pattern: str | None = None,
            is_openai: bool = False,
        ) -> _Route:
            regex = re.compile(pattern or re.escape(name))
            return _Route(name, regex, methods, is_openai)

        return [
            route("/", {"GET": b.root, "HEAD": b.root}),
            route("/api/generate", {"POST": b.generate}),
            route("/api/chat", {"POST": b.chat}),
            route("/api/embed", {"POST": b.embed}),
            route("/api/embeddings", {"POST": b.embeddings}),
            route("/api/tags", {"GET": b.tags, "HEAD": b.tags}),
            route("/api/ps", {"GET": b.ps}),
            route("/api/show", {"POST": b.show}),
            route("/api/pull", {"POST": b.pull}),
            route("/api/push", {"POST": b.push}),
            route("/api/create", {"POST": b.create}),
            route("/api/copy", {"POST": b.copy}),
            route("/api/delete", {"DELETE": b.delete}),
            route("/api/version", {"GET": b.version_info, "HEAD": b.version_info}),
            route(
                "/api/blobs",
                {"HEAD": b.blob, "POST": b.blob},
                pattern=r"/api/blobs/(?P<digest>[^/]+)",
            ),
            route(
                "/v1/chat/completions",
                {"POST": openai.chat_completions},
                is_openai=True,
            ),
            route("/v1/completions", {"POST": openai.completions}, is_openai=True),
            route("/v1/embeddings", {"POST": openai.embeddings}, is_openai=True),
            route("/v1/models", {"GET": openai.models}, is_openai=True),
            route(
                "/v1/models/{model}",
                {"GET": openai.model},
                pattern=r"/v1/models/(?P<model>[^/]+)",
                is_openai=True,
            ),
        ]

    def _match(self, path: str) -> tuple[_Route, dict[str, str]] | None:
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is not None:
                return route, match.groupdict()
        return None

    # -- serving -----------------------------------------------------------

    def _record(
        self,
        handler: ConnectionHandler,
        path: str,
        raw: bytes,
        status: int | None,
        fault: Injected | None,
    ) -> None:
        body: Any = None
        if raw and not path.startswith("/api/blobs/"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        record = RequestRecord(
            method=handler.command,
            path=path,
            body=body,
            status=status,
            headers={key.lower(): value for key, value in handler.headers.items()},
            fault=fault.kind if fault else None,
        )
        with self._log_lock:
            self._log.append(record)

    def _dispatch(self, handler: ConnectionHandler) -> None:
        path = urlsplit(handler.path).path
        try:
            raw = handler.read_body()
        except BodyError as exc:
            handler.close_connection = True
            handler.send_body(400, JSON_TYPE, dumps({"error": str(exc)}).encode())
            return
        found = self._match(path)
        allowed = host_allowed(handler.headers.get("Host"), self._host)
        route = found[0] if found is not None and allowed else None
        fault: Injected | None = None  # chosen only for a request that is served

        def account(status: int | None) -> None:
            # Before the reply's first byte: a client that has its answer
            # always finds its request in the log and the counters.
            self._record(handler, path, raw, status, fault)
            errors = 1 if status is None or status >= 400 else 0
            counter = route.name if route is not None else path
            self._counters.add(counter, requests=1, errors=errors)

        handler.on_status = account
        try:
            if not allowed:
                # Ollama's guard against DNS rebinding: an empty 403, before routing.
                handler.send_body(403, None, b"")
            elif route is None or found is None:
                handler.send_body(404, "text/plain", b"404 page not found")
            elif (method := route.methods.get(handler.command)) is None:
                handler.send_body(405, "text/plain", b"405 method not allowed")
            else:
                fault = self._plan.choose(route.name)
                status = self._respond(
                    handler, route, found[1], path, raw, method, fault
                )
                handler.announce(status)  # counted once even if nothing was written
        finally:
            handler.on_status = None

    def _respond(
        self,
        handler: ConnectionHandler,
        route: _Route,
        params: dict[str, str],
        path: str,
        raw: bytes,
        method_handler: Handler,
        fault: Injected | None,
    ) -> int | None:
        """Produce and send the reply; the status sent (``None``: dropped)."""
        kind = fault.kind if fault else None
        message = fault.message if fault else ""
        if kind == "drop":
            handler.abort()
            return None
        reply: Reply
        if kind in ("500", "429"):
            reply = self._error(route, ApiError(int(kind), message))
        elif kind == "503":
            reply = self._error(route, ApiError(503, QUEUE_FULL))
        else:
            request = Request(
                method=handler.command,
                path=path,
                route=route.name,
                params=params,
                body=raw,
                headers={k.lower(): v for k, v in handler.headers.items()},
            )
            try:
                reply = method_handler(request)
            except ApiError as exc:
                reply = self._error(route, exc)
            except Exception as exc:  # the client must never see a traceback
                logger.exception("FakeOllama failed on %s %s", handler.command, path)
                reply = self._error(route, ApiError(500, f"internal error: {exc}"))
        try:
            return self._send(handler, route, reply, kind, message)
        except OSError:
            # The client went away mid-reply; nothing more can be sent.
            handler.close_connection = True
            return reply.status if not isinstance(reply, StreamReply) else 200
        finally:
            if isinstance(reply, StreamReply):
                reply.stream.close()

    def _error(self, route: _Route, error: ApiError) -> JsonReply:
        if route.openai:
            return JsonReply(
                openai_error(error.status, error.message),
                status=error.status,
                content_type="application/json",
            )
        return JsonReply({"error": error.message}, status=error.status)

    def _send(
        self,
        handler: ConnectionHandler,
        route: _Route,
        reply: Reply,
        kind: str | None,
        message: str,
    ) -> int | None:
        if isinstance(reply, StreamReply):
            return self._send_stream(handler, route, reply, kind, message)
        if isinstance(reply, EmptyReply):
            if kind == "cut":
                handler.abort()
                return None
            handler.send_body(reply.status, None, b"")
            return reply.status
        if isinstance(reply, TextReply):
            data, content_type = reply.text.encode(), reply.content_type
        else:
            try:
                data, content_type = dumps(reply.body).encode(), reply.content_type
            except (TypeError, ValueError) as exc:
                logger.exception("FakeOllama could not encode a %s reply", route.name)
                error = self._error(route, ApiError(500, f"internal error: {exc}"))
                return self._send(handler, route, error, None, "")
        status = reply.status
        if kind == "stream_error" and status < 400:
            error = self._error(route, ApiError(500, message))
            data, status = dumps(error.body).encode(), 500
            content_type = error.content_type
        elif kind == "malformed" and status < 400:
            data = data[: max(1, len(data) // 2)]
        elif kind == "cut":
            handler.send_body(
                status, content_type, data[: len(data) // 2], length=len(data)
            )
            handler.abort()
            return status
        handler.send_body(status, content_type, data)
        return status

    def _send_stream(
        self,
        handler: ConnectionHandler,
        route: _Route,
        reply: StreamReply,
        kind: str | None,
        message: str,
    ) -> int | None:
        sse = reply.framing == "sse"

        def frame(item: Any, *, broken: bool = False) -> bytes:
            text = item if isinstance(item, str) else dumps(item)
            if broken:
                text = text[: max(1, len(text) // 2)]
            return f"data: {text}\n\n".encode() if sse else f"{text}\n".encode()

        items = _guarded(iter(reply.stream), route.name)
        first = next(items, _END)
        if isinstance(first, ApiError):
            # Nothing was sent yet, so the error still gets a proper status.
            return self._send(handler, route, self._error(route, first), None, "")
        handler.start_chunked(_SSE_TYPE if sse else NDJSON_TYPE)
        written = 0
        pending = kind
        current = first
        while current is not _END:
            if isinstance(current, ApiError):
                # After output the status is already 200: the error goes in-band.
                handler.write_chunk(frame(reply.error_body(current.message)))
                break
            if pending is None:
                handler.write_chunk(frame(current))
                written += 1
                current = next(items, _END)
                continue
            # A fault is pending: look one item ahead, so that a cut never
            # delivers the final line.
            upcoming = next(items, _END)
            if written >= 1 or upcoming is _END or isinstance(upcoming, ApiError):
                if pending == "cut":
                    handler.abort()
                    return 200
                if pending == "stream_error":
                    handler.write_chunk(frame(reply.error_body(message)))
                    break
                handler.write_chunk(frame(current, broken=True))
                pending = None
            handler.write_chunk(frame(current))
            written += 1
            current = upcoming
        handler.end_chunked()
        return 200


_END = object()


def _guarded(items: Iterator[Any], route: str) -> Iterator[Any]:
    """Pass items through; an exception becomes a final :class:`ApiError` item."""
    try:
        yield from items
    except ApiError as exc:
        yield exc
    except Exception as exc:
        logger.exception("FakeOllama failed while streaming %s", route)
        yield ApiError(500, f"internal error: {exc}")
