"""The emulator's HTTP/1.1 server: stdlib ``ThreadingHTTPServer`` with keep-alive.

One thread per connection, so a client pool of ~50 keep-alive connections gets 50 server
threads. A ``Listener`` can be paused (its socket closed, so new connections are refused
by the OS and pooled ones see EOF) and resumed on the same port: that is how the ``refuse``
fault makes a client see a real ``ConnectError``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import select
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from smsbridge.testing.emulator._common import Request, Response, json_response

__all__ = ["App", "Listener"]

logger = logging.getLogger("smsbridge.testing.emulator")
# One INFO line per request received (``smsbridge emulator --verbose``): method, path, answer;
# the Authorization header's scheme only, never its credentials, and never a body.
requests_log = logging.getLogger("smsbridge.testing.emulator.requests")

App = Callable[[Request, str], Response]
MAX_BODY = 8 * 1024 * 1024
_DECIMAL = re.compile(r"[0-9]{1,18}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Idle keep-alive connections would make server_close() wait forever; they are shut down
    # explicitly instead (close_connections).
    block_on_close = False
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], listener: Listener) -> None:
        self.listener = listener
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves getfqdn(host), a reverse DNS lookup that can take
        # seconds on some machines; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client vanishing mid-request is normal here (timeouts, faults); no stderr noise.
        logger.debug("emulator: connection error from %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self.connections_lock:
            sockets = list(self.connections)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smsbridge-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    # Buffered writes: headers and body leave in one send() (flushed after each request).
    wbufsize = 64 * 1024
    # Errors found before the request line's version is read (a bad version, an HTTP/0.9
    # line) still answer with a status line: the stdlib's default, HTTP/0.9, sends none.
    default_request_version = "HTTP/1.0"
    server: _Server

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if len(self.requestline.split()) == 2:
            # "GET /path": HTTP/0.9, which has neither headers nor a status line to answer
            # with. Refused with a 400 rather than answered as a bare body.
            self.send_error(400, "HTTP/0.9 requests are not served")
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("emulator: " + format, *args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def do_HEAD(self) -> None:
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve(self) -> None:
        listener = self.server.listener
        body = self._read_body()
        if body is None:
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        try:
            response = listener.app(request, listener.role)
        except Exception:  # a bug in the emulator must still answer like a server, not hang
            logger.exception("emulator: internal error on %s %s", self.command, self.path)
            response = json_response(500, {"error": "internal emulator error"})
        self._emit(response)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        value = (self.headers.get("Content-Length") or "0").strip()
        # Digits only: int() would also take "+5", "1_0" or " -0 ", which no client means.
        length = int(value) if _DECIMAL.fullmatch(value) else -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._emit(json_response(400 if length < 0 else 413, {"error": "bad Content-Length"}))
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client stopped sending: a truncated request is not served
            self.close_connection = True
            self._emit(json_response(400, {"error": "body shorter than Content-Length"}))
            return None
        return body

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            digits = line.split(b";", 1)[0].strip()
            # Hex digits only: int(..., 16) would also take "+5", "-1", "0x5" or "1_0".
            size = int(digits, 16) if _HEX.fullmatch(digits) else -1
            total += size
            if size < 0 or total > MAX_BODY:
                self.close_connection = True
                self._emit(json_response(400, {"error": "bad chunked body"}))
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _emit(self, response: Response) -> None:
        stopping = self.server.listener.stopping
        if response.delay > 0 and stopping.wait(response.delay):
            response = Response(action="close")
        if requests_log.isEnabledFor(logging.INFO):
            requests_log.info("%s", self._request_line(response))
        if response.action == "close":
            self.close_connection = True
            return
        if response.action == "hang":
            self._hang(stopping)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _request_line(self, response: Response) -> str:
        """One line about this request and its answer, safe to print: the query's values are
        hidden (outside the control API) and only the Authorization scheme is named."""
        path, _, query = self.path.partition("?")
        if query and not path.startswith("/_emulator/"):
            query = "&".join(f"{pair.partition('=')[0]}=***" for pair in query.split("&"))
        answer = {
            "close": "connection closed unanswered (fault)",
            "hang": "no answer (fault: hangs until the client gives up)",
        }.get(response.action, str(response.status))
        auth = ""
        header = self.headers.get("Authorization")
        if header is not None:
            # "Basic <credentials>": the scheme is a word; anything else may be a bare secret.
            scheme, space, _ = header.strip().partition(" ")
            named = space and scheme.isalpha() and len(scheme) <= 20
            auth = f"  (Authorization: {scheme + ' ' if named else ''}***)"
        target = path + (f"?{query}" if query else "")
        line = f"[{self.server.listener.role}] {self.command} {target[:300]} -> {answer}{auth}"
        # A client's bytes reach a terminal: no control character, no escape sequence.
        return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in line)

    def _hang(self, stopping: threading.Event) -> None:
        """Answer nothing until the client gives up, the listener pauses or the server stops."""
        self.close_connection = True
        sock = self.connection
        while not stopping.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.1)
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return  # the client closed its end
            except (OSError, ValueError):
                return
            if readable:
                stopping.wait(0.1)  # the client sent more bytes: keep ignoring it


class Listener:
    """One listening socket serving ``app`` for a ``role``: ``"main"`` or a personality's name."""

    def __init__(
        self, host: str, port: int, role: str, app: App, stopping: threading.Event
    ) -> None:
        self.host = host
        self.port = port
        self.role = role
        self.app = app
        self.stopping = stopping
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the socket is open and accepting."""
        return self._server is not None

    def start(self) -> None:
        """Open the socket (on ``port``; an ephemeral port the first time if 0) and serve."""
        with self._lock:
            if self._server is not None:
                return
            server = _Server((self.host, self.port), self)
            self.port = server.server_address[1]
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"emulator-{self.role}-{self.port}",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread

    def pause(self) -> None:
        """Close the socket and every open connection; new connections are refused."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=2.0)

    resume = start
    stop = pause
