"""FakeOllama's HTTP/1.1 plumbing: keep-alive, chunked bodies, tracked connections."""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BodyError", "ConnectionHandler", "LoopbackServer"]

logger = logging.getLogger(__name__)

_MAX_BODY = 1 << 31


class BodyError(Exception):
    """The request body could not be read (bad framing)."""


class ConnectionHandler(BaseHTTPRequestHandler):
    """Reads one request at a time and hands it to the server's ``dispatch``."""

    protocol_version = "HTTP/1.1"
    server: LoopbackServer
    on_status: Callable[[int | None], None] | None = None
    """Called once per reply, before its first byte (None: dropped unanswered)."""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY,
        # Nagle's algorithm and delayed ACKs add ~40 ms to many replies.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 - the name http.server looks up
        self.server.dispatch(self)

    do_HEAD = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s - %s", self.address_string(), format % args)

    def announce(self, status: int | None) -> None:
        """Report the reply's status to ``on_status`` unless already reported.

        This happens before anything reaches the client, so whoever reads the
        server's log after getting a reply finds the request in it.
        """
        callback, self.on_status = self.on_status, None
        if callback is not None:
            callback(status)

    def send_response(self, code: int, message: str | None = None) -> None:
        self.announce(code)
        # The real server sends no Server header; keep only the Date.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def read_body(self) -> bytes:
        """The whole request body, from ``Content-Length`` or chunked framing.

        Raises:
            BodyError: On a malformed length or chunk header.
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError as exc:
            raise BodyError("invalid Content-Length") from exc
        if not 0 <= length <= _MAX_BODY:
            raise BodyError("invalid Content-Length")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise BodyError("invalid chunk header") from exc
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # trailers are ignored
        return b"".join(parts)

    def send_body(
        self,
        status: int,
        content_type: str | None,
        data: bytes,
        *,
        length: int | None = None,
    ) -> None:
        """Send a complete reply; ``length`` may claim more bytes than sent (cuts)."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def start_chunked(self, content_type: str) -> None:
        """Send the headers of a chunked 200 reply."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        """Send and flush one chunk."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self) -> None:
        """Send the terminating zero-length chunk."""
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def abort(self) -> None:
        """Close the connection now, mid-reply if need be."""
        self.announce(None)
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server that tracks its connections so it can stop cleanly.

    ``serve_forever`` polls for shutdown; this loop wakes at once instead, so
    a test server stops in microseconds rather than half a second.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        dispatch: Callable[[ConnectionHandler], None],
    ) -> None:
        self.dispatch = dispatch
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._wake_read, self._wake_write = socket.socketpair()
        try:
            super().__init__(address, ConnectionHandler)
        except BaseException:
            self._wake_read.close()
            self._wake_write.close()
            raise

    def run(self) -> None:
        """Accept connections until :meth:`wake` is called."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_read:
                        return
                    try:
                        request, address = self.get_request()
                    except OSError:
                        continue
                    self.process_request(request, address)

    def wake(self) -> None:
        """Make :meth:`run` return."""
        self._wake_write.send(b"x")

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="fake-ollama-connection",
            daemon=True,
        )
        with self._lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            logger.debug("connection from %s failed", client_address, exc_info=True)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("error serving %s", client_address, exc_info=True)

    def close_all(self, timeout: float = 5.0) -> None:
        """Close the listening socket and every open connection, then join them."""
        self.server_close()
        self._wake_read.close()
        self._wake_write.close()
        with self._lock:
            connections = list(self._connections.items())
        for sock, _ in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in connections:
            thread.join(timeout)
