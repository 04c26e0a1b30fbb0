"""The loopback server every sending benchmark talks to: a canned Twilio, as fast as it gets.

It answers ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with what Twilio answers (``201
CREATED``, Twilio's response headers, a full Message resource with a fresh ``SM…`` sid each
time) and anything else with Twilio's 404 error body. It checks no credentials and reads no
form: the point is that it costs next to nothing per request, so that the clients measured
against it, not the server, set the pace.

How: one ``asyncio.Protocol`` per connection, HTTP/1.1 keep-alive, requests parsed by
searching the buffer for the end of the head and its ``Content-Length`` (pipelined requests
are answered in one write). With ``workers > 1`` it forks that many processes, each with its
own listening socket on the same port (``SO_REUSEPORT``), so the kernel spreads connections.

Run as a child process (see :class:`LoopbackServer`): it prints one JSON line (base URL, port,
account SID, the workers' pids) and serves until its stdin closes. The parent reads the
workers' CPU time from ``/proc`` to show the server's share of each measurement.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from email.utils import formatdate
from types import TracebackType
from typing import Any

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # the server checks no credentials
FROM = "+15017122661"
TO = "+14155552671"
PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

# The Message resource Twilio returns on a send (docs: "Create a Message resource"), with the
# sid as a fixed-width hole filled per request, so the length (and Content-Length) is constant.
_SID_HOLE = "%(sid)s"
_MESSAGE = {
    "account_sid": ACCOUNT_SID,
    "api_version": "2010-04-01",
    "body": "Your code is 000000",
    "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
    "date_sent": None,
    "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
    "direction": "outbound-api",
    "error_code": None,
    "error_message": None,
    "from": FROM,
    "messaging_service_sid": None,
    "num_media": "0",
    "num_segments": "1",
    "price": None,
    "price_unit": "USD",
    "sid": "SM" + _SID_HOLE,
    "status": "queued",
    "subresource_uris": {
        "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/SM{_SID_HOLE}/Media.json"
    },
    "to": TO,
    "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/SM{_SID_HOLE}.json",
}
# Escaped for %-formatting, then the holes restored: the JSON itself has no other '%'.
_BODY_TEMPLATE = json.dumps(_MESSAGE).replace("%", "%%").replace("%%(sid)s", "%(sid)s").encode()
_NOT_FOUND = json.dumps(
    {
        "code": 20404,
        "message": "The requested resource was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }
).encode()
# The headers api.twilio.com sends with a 201 (Date is refreshed once a second).
_HEADERS = (
    b"Content-Type: application/json\r\n"
    b"Connection: keep-alive\r\n"
    b"Twilio-Concurrent-Requests: 1\r\n"
    b"Twilio-Request-Id: RQ0123456789abcdef0123456789abcdef\r\n"
    b"Twilio-Request-Duration: 0.045\r\n"
    b"Access-Control-Allow-Origin: *\r\n"
    b"Access-Control-Allow-Headers: Accept, Authorization, Content-Type, If-Match, "
    b"If-Modified-Since, If-None-Match, If-Unmodified-Since, Idempotency-Key\r\n"
    b"Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
    b"Access-Control-Expose-Headers: ETag\r\n"
    b"Access-Control-Allow-Credentials: true\r\n"
    b"X-Powered-By: AT-5000\r\n"
    b"X-Shenanigans: none\r\n"
    b"X-Home-Region: us1\r\n"
    b"X-API-Domain: api.twilio.com\r\n"
    b"Strict-Transport-Security: max-age=31536000\r\n"
)


class _Answers:
    """The response bytes, rebuilt when the second (the Date header) changes."""

    def __init__(self) -> None:
        self.count = 0
        self.second = -1
        self.created_head = b""
        self.not_found = b""
        self.refresh()

    def refresh(self) -> None:
        now = int(time.time())
        if now == self.second:
            return
        self.second = now
        date = b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        length = len(_BODY_TEMPLATE % {b"sid": b"0" * 32})
        self.created_head = (
            b"HTTP/1.1 201 CREATED\r\n" + date + _HEADERS + b"Content-Length: %d\r\n\r\n" % length
        )
        self.not_found = (
            b"HTTP/1.1 404 NOT FOUND\r\n"
            + date
            + _HEADERS
            + b"Content-Length: %d\r\n\r\n" % len(_NOT_FOUND)
            + _NOT_FOUND
        )

    def created(self) -> bytes:
        self.count += 1
        return self.created_head + _BODY_TEMPLATE % {b"sid": b"%032x" % self.count}


_ANSWERS = _Answers()
_CREATE_LINE = b"POST " + PATH.encode() + b" "


class _Http(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: every complete request in the buffer is answered."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        out: list[bytes] = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            # Header names are case-insensitive; lower-casing a ~400-byte head is cheaper than
            # splitting it into lines.
            at = head.lower().find(b"\r\ncontent-length:")
            length = 0
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(buffer) < total:
                break
            out.append(_ANSWERS.created() if head.startswith(_CREATE_LINE) else _ANSWERS.not_found)
            buffer = buffer[total:]
        self.buffer = buffer
        if out and self.transport is not None:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])


def _listener(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _serve(sock: socket.socket, until: asyncio.Future[None]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, sock=sock)

    def tick() -> None:
        _ANSWERS.refresh()
        loop.call_later(0.5, tick)

    tick()
    try:
        await until
    finally:
        server.close()


def _worker(sock: socket.socket, index: int) -> None:
    """A forked worker: serve until SIGTERM."""
    _ANSWERS.count = index << 100  # each worker's sids apart from the others'

    async def main() -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set_result, None)
        await _serve(sock, done)

    asyncio.run(main())


def serve(workers: int) -> None:
    """Bind, fork ``workers - 1`` more workers, print the JSON line, serve until stdin closes."""
    first = _listener(0)
    port = first.getsockname()[1]
    children: list[int] = []
    for index in range(1, workers):
        sock = _listener(port)  # bound before the fork: the port is served once we print
        pid = os.fork()
        if pid == 0:
            first.close()
            _worker(sock, index)
            os._exit(0)
        sock.close()
        children.append(pid)
    info = {
        "base_url": f"http://127.0.0.1:{port}",
        "port": port,
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "pids": [os.getpid(), *children],
    }
    print(json.dumps(info), flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        # The parent closing our stdin (or dying) is the signal to stop.
        reader = loop.run_in_executor(None, sys.stdin.read)

        def stop(_: object) -> None:
            if not done.done():
                done.set_result(None)

        reader.add_done_callback(stop)
        await _serve(first, done)

    try:
        asyncio.run(main())
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` so far, from ``/proc`` (1/CLK_TCK resolution)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # Fields after the ")" that closes the command name: utime and stime are 14, 15.
            fields = stat.read().rpartition(b")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


class LoopbackServer:
    """The server in a child process; a context manager.

    Attributes (once entered): ``base_url``, ``account_sid``, ``auth_token``, ``pids``.
    """

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> LoopbackServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server", str(self.workers)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the loopback server did not start")
        self.info = json.loads(line)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    @property
    def pids(self) -> list[int]:
        return list(self.info["pids"])

    def cpu_seconds(self) -> float:
        """The server's CPU seconds so far, all workers."""
        return cpu_seconds(self.pids)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
