"""A loopback server whose ``/api/chat`` answers from a script; the rest is FakeOllama.

It stands for a model that obeys a prompt injection (cites a source it was
not given, invents quotes, writes escape sequences), which FakeOllama's
honest extractive model never does. Not a test module.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

ChatScript = Callable[[dict[str, Any]], str]
"""Gets a ``/api/chat`` request body, returns the assistant's message content."""


class ScriptedChat:
    """Serve ``/api/chat`` from ``script`` and forward everything else upstream.

    Args:
        upstream: The FakeOllama URL other endpoints go to.
        script: Writes the model's reply content for each chat request.
    """

    def __init__(self, upstream: str, script: ChatScript) -> None:
        self.chats: list[dict[str, Any]] = []
        parts = urlsplit(upstream)
        target = (parts.hostname or "127.0.0.1", parts.port or 80)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: the test reads the output it cares about."""

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self, body: bytes | None) -> None:
                connection = http.client.HTTPConnection(*target, timeout=30)
                try:
                    headers = {"Content-Type": "application/json"} if body else {}
                    connection.request(self.command, self.path, body, headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    kind = answer.getheader("Content-Type", "application/json")
                    self._reply(answer.status, kind, data)
                finally:
                    connection.close()

            def do_GET(self) -> None:  # noqa: N802 - the http.server naming
                self._forward(None)

            def do_HEAD(self) -> None:  # noqa: N802
                self._forward(None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path != "/api/chat":
                    self._forward(body)
                    return
                request = json.loads(body)
                owner.chats.append(request)
                message = {
                    "model": request["model"],
                    "message": {"role": "assistant", "content": script(request)},
                    "done": True,
                    "done_reason": "stop",
                    "prompt_eval_count": 20,
                    "eval_count": 10,
                }
                if request.get("stream") is False:
                    self._reply(200, "application/json", json.dumps(message).encode())
                else:
                    line = (json.dumps(message) + "\n").encode()
                    self._reply(200, "application/x-ndjson", line)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever)

    @property
    def url(self) -> str:
        """The base URL to give ragkit as its host."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ScriptedChat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
