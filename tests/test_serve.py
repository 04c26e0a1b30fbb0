"""``smsbridge serve`` against slow clients and with a secret-bearing forward URL.

Every test runs the real command (``python -m smsbridge serve``) on 127.0.0.1 and a free port,
with its providers pointed at an in-process emulator through the environment.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from smsbridge.testing import Emulator, sign_twilio

TWILIO_FROM = "+15005550006"
HANDSET = "+14155552671"
PATH = "/sms/webhook"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(emu: Emulator) -> dict[str, str]:
    """The test process's environment with the providers set to the emulator's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "TELNYX_", "SMSBRIDGE_"))
    }
    return {**env, **emu.environment()}


@dataclass
class Served:
    """A running ``smsbridge serve`` and everything it has printed so far."""

    proc: subprocess.Popen[str]
    port: int
    forward: str = ""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The webhook URL as the server sees it (the Host header httpx sends)."""
        return f"http://127.0.0.1:{self.port}{PATH}"

    def output(self) -> str:
        """Everything printed on stdout and stderr so far."""
        return "".join(self.stdout) + "".join(self.stderr)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        """Poll ``predicate`` until it holds, for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def terminate(self) -> None:
        """Ask the server to stop (without waiting)."""
        if self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        """Stop the server and collect the rest of its output."""
        self.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for reader in self.readers:
            reader.join(timeout=10)

    def ready(self) -> None:
        """Wait until the server answers HTTP; fail with its output if it never does."""

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.output()}")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
            except httpx.TransportError:
                return False
            return True

        if not self.wait_for(answers, timeout=30):
            raise AssertionError(f"serve did not start:\n{self.output()}")


def launch(emu: Emulator, *flags: str, debug: bool = False, forward: str = "") -> Served:
    """Start ``smsbridge [--debug] serve`` with ``flags`` (and ``--forward-url``).

    :meth:`Served.ready` waits until it answers.
    """
    port = free_port()
    command = ["--debug", "serve"] if debug else ["serve"]
    if forward:
        flags = (*flags, "--forward-url", forward)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smsbridge", *command, "--port", str(port), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=serve_env(emu),
    )
    served = Served(proc, port, forward)
    for stream, sink in ((proc.stdout, served.stdout), (proc.stderr, served.stderr)):
        assert stream is not None
        # Drained all along, so a chatty server never blocks on a full pipe.
        reader = threading.Thread(target=lambda s=stream, k=sink: k.extend(s), daemon=True)
        reader.start()
        served.readers.append(reader)
    return served


def signed_inbound(emu: Emulator, url: str, text: str) -> tuple[dict[str, str], dict[str, str]]:
    """Form params of a Twilio inbound SMS and the headers signing them for ``url``."""
    sid = "SM" + uuid.uuid4().hex
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": emu.twilio_account_sid,
        "From": HANDSET,
        "To": TWILIO_FROM,
        "Body": text,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    return params, sign_twilio(url, params, auth_token=emu.twilio_auth_token)


def post_webhook(emu: Emulator, served: Served, text: str, timeout: float = 5.0) -> httpx.Response:
    """POST a genuine signed Twilio webhook to the server."""
    params, headers = signed_inbound(emu, served.url, text)
    return httpx.post(served.url, data=params, headers=headers, timeout=timeout)


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection; fails after ``timeout``."""
    sock.settimeout(timeout)
    received = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return received  # closed too, only less politely
        except TimeoutError:
            raise AssertionError(f"still open after {timeout} s; got {received!r}") from None
        if not chunk:
            return received
        received += chunk


class Trickler:
    """Connections that each send a partial request, then one more byte every half second."""

    def __init__(self, port: int, count: int, start: bytes) -> None:
        self.socks = [
            socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)
        ]
        for sock in self.socks:
            sock.sendall(start)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stopped.wait(0.5):
            for sock in self.socks:
                # A connection the server dropped is what some tests wait for, not an error.
                with contextlib.suppress(OSError):
                    sock.sendall(b"a")

    def close(self) -> None:
        """Stop trickling and close every connection."""
        self.stopped.set()
        self.thread.join(timeout=5)
        for sock in self.socks:
            sock.close()


SLOW_HEAD = f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """An in-process emulator whose credentials the servers are configured with."""
    with Emulator(progress_delay=0.05) as emulator:
        yield emulator


@dataclass
class Receiver:
    """A loopback HTTP server answering every POST with 500, recording path and credentials."""

    port: int
    seen: list[tuple[str, str | None]]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The failing forward target, on a free loopback port."""
    seen: list[tuple[str, str | None]] = []

    class Answer500(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(server.server_address[1], seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# Forward targets: (name, password, token, --debug). --debug turns on httpx's request log
# lines, which quote the full URL; its secrets are distinctive so no random ID can contain them.
FORWARDS = [
    ("closed", "secret", "abc", False),
    ("500", "secret", "abc", False),
    ("500-debug", "pw-Zq8sEcReT", "tok-Xv3qW9", True),
]


@pytest.fixture(scope="module")
def servers(emu: Emulator, receiver: Receiver) -> Iterator[dict[str, Served]]:
    """Every server the tests need, started side by side (each takes about a second)."""
    closed = free_port()
    plans: dict[str, tuple[tuple[str, ...], bool, str]] = {
        "default": ((), False, ""),
        "tight": (("--limit-concurrency", "4", "--request-timeout", "1"), False, ""),
    }
    for name, password, token, debug in FORWARDS:
        port = closed if name == "closed" else receiver.port
        forward = f"http://user:{password}@127.0.0.1:{port}/hook?token={token}"
        plans[name] = ((), debug, forward)
    started: dict[str, Served] = {}
    try:
        for name, (flags, debug, forward) in plans.items():
            started[name] = launch(emu, *flags, debug=debug, forward=forward)
        for served in started.values():
            served.ready()
        yield started
    finally:
        for served in started.values():
            served.terminate()
        for served in started.values():
            served.stop()


@pytest.fixture
def default_server(servers: dict[str, Served]) -> Served:
    """serve with its default limits."""
    return servers["default"]


@pytest.fixture
def tight_server(servers: dict[str, Served]) -> Served:
    """serve with a connection limit of 4 and a 1 s request timeout."""
    return servers["tight"]


def test_genuine_webhook_answered_while_200_clients_trickle(
    emu: Emulator, default_server: Served
) -> None:
    """With 200 connections trickling partial requests, a signed webhook still gets its 200."""
    slow = Trickler(default_server.port, 200, SLOW_HEAD)
    try:
        time.sleep(0.6)  # one trickle round, so the server holds all 200 before we ask
        response = post_webhook(emu, default_server, "through the crowd", timeout=2.0)
        assert response.status_code == 200, response.text
        assert default_server.wait_for(lambda: "through the crowd" in default_server.output())
    finally:
        slow.close()
    assert default_server.proc.poll() is None


def test_stalled_requests_are_dropped_after_the_request_timeout(tight_server: Served) -> None:
    """Partial headers get 408 and a close, a partial body and a silent connection a close."""
    port = tight_server.port
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)
    headers = socket.create_connection(("127.0.0.1", port), timeout=5)
    headers.sendall(f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty".encode())
    body = socket.create_connection(("127.0.0.1", port), timeout=5)
    body.sendall(
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\nMessageSid=SM".encode()
    )
    try:
        got_headers = read_until_closed(headers, timeout=15)
        got_body = read_until_closed(body, timeout=15)
        got_silent = read_until_closed(silent, timeout=15)
    finally:
        for sock in (silent, headers, body):
            sock.close()
    assert got_headers.startswith(b"HTTP/1.1 408 ")
    assert got_body == b""
    assert got_silent == b""
    assert tight_server.proc.poll() is None


def test_server_answers_again_once_slow_clients_are_dropped(
    emu: Emulator, tight_server: Served
) -> None:
    """At the connection limit a webhook gets 503; once the stalled ones time out, 200."""
    slow = [socket.create_connection(("127.0.0.1", tight_server.port)) for _ in range(6)]
    try:
        for sock in slow:
            sock.sendall(SLOW_HEAD)
        # Well inside the 1 s request timeout: the limit is what answers.
        assert post_webhook(emu, tight_server, "at the limit").status_code == 503
        statuses: list[int] = []

        def answered() -> bool:
            statuses.append(post_webhook(emu, tight_server, "after the drop").status_code)
            return statuses[-1] == 200

        assert tight_server.wait_for(answered, timeout=15), statuses
        assert set(statuses) <= {200, 503}
    finally:
        for sock in slow:
            sock.close()
    assert tight_server.proc.poll() is None


@pytest.mark.parametrize(("name", "password", "token", "debug"), FORWARDS)
def test_forward_url_secrets_never_printed(
    emu: Emulator,
    servers: dict[str, Served],
    receiver: Receiver,
    name: str,
    password: str,
    token: str,
    debug: bool,
) -> None:
    """A failing forward is reported with the URL's host and path, never its password or query."""
    served = servers[name]
    shown = served.forward.replace(f"user:{password}@", "").replace(f"?token={token}", "")
    reported = "ConnectError" if name == "closed" else "HTTP 500"
    line = f"forwarding an event to {shown} failed: {reported}"
    assert post_webhook(emu, served, f"forward me ({name})").status_code == 200
    assert served.wait_for(lambda: line in served.output()), served.output()
    output = served.output()
    assert password not in output
    assert token not in output
    assert f"forwarding events to {shown}\n" in output
    if name != "closed":  # the secrets did reach the receiver: they were only kept out of logs
        assert (f"/hook?token={token}", "Basic ") in [(p, (a or "")[:6]) for p, a in receiver.seen]
    if debug:
        assert f"HTTP Request: POST {shown} " in output


def test_missing_uvicorn_internal_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """If uvicorn's h11 protocol loses a hook the deadline needs, building it names the hook."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from smsbridge.cli._serve_limits import UvicornChanged, deadline_protocol

    assert issubclass(deadline_protocol(1.0), H11Protocol)
    monkeypatch.delattr(H11Protocol, "on_response_complete")
    with pytest.raises(UvicornChanged, match="on_response_complete"):
        deadline_protocol(1.0)


def test_renamed_uvicorn_attribute_fails_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    """A protocol instance without ``conn`` is caught by the startup check, not per connection."""
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from smsbridge.cli._serve_limits import UvicornChanged, check_protocol, deadline_protocol

    async def app(scope: object, receive: object, send: object) -> None:
        """Never called: the check only builds a protocol."""

    config = uvicorn.Config(app, lifespan="off")
    check_protocol(deadline_protocol(1.0), config)  # today's uvicorn passes
    original = H11Protocol.__init__

    def renamed(self: H11Protocol, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        self.connection = self.__dict__.pop("conn")

    monkeypatch.setattr(H11Protocol, "__init__", renamed)
    with pytest.raises(UvicornChanged, match="conn"):
        check_protocol(deadline_protocol(1.0), config)
