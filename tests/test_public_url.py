"""``Bridge(public_url=...)``: either form, it cannot silently break.

``public_url`` is the site's base URL (``https://app.example.com``) or the webhook endpoint's
full URL as pasted into the provider's console (``https://app.example.com/sms/webhook``, or any
path). Whatever the form, the status callback URL a send sets, the path the framework adapter
mounts the endpoint at and the URL a Twilio signature is checked against must agree. The
end-to-end tests send through the emulator and receive its signed status callbacks over real
HTTP: a real uvicorn serving the FastAPI adapter mounted at the bridge's ``webhook_path``,
behind a small path-stripping reverse proxy for the forms that need one.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from _contrib_kit import make_bridge, twilio_inbound, twilio_status
from _routing_kit import Received
from fastapi import FastAPI

from smsbridge import Bridge, ConfigError, MessageStatus, SignatureError, StatusEvent
from smsbridge.contrib.fastapi import webhook_router
from smsbridge.testing import Emulator
from smsbridge.webhooks import WebhookRequest, public_url_for

HANDSET = "+14155552671"
# Quoted into the callback URL (%2F, %20): the signed query is the encoded one.
REFERENCE = "order-42/a b"


# -- the endpoint and the proxy ----------------------------------------------------------------


def bound_socket() -> socket.socket:
    """A listening-ready socket on a free 127.0.0.1 port (bound now: no race for the port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@contextmanager
def running(app: Any, sock: socket.socket) -> Iterator[None]:
    """Serve ``app`` with uvicorn in a thread on ``sock`` (as tests/test_asgi_peer.py does)."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped during startup"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def stripping_proxy(sock: socket.socket, upstream: str, prefix: str) -> Iterator[None]:
    """A reverse proxy on ``sock`` that forwards to ``upstream`` with ``prefix`` cut from the
    path and the ``Host`` header kept, as ``location /app/ { proxy_pass http://app/; }`` does."""
    client = httpx.Client(timeout=10)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            assert self.path.startswith(prefix + "/"), self.path
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = [
                (k, v)
                for k, v in self.headers.items()
                if k.lower() not in ("content-length", "connection", "transfer-encoding")
            ]
            answer = client.post(upstream + self.path[len(prefix) :], content=body, headers=headers)
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(sock.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock  # already bound: the port the bridge's public_url names
    server.server_activate()
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        client.close()


# -- the forms ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    """One way to write ``public_url``, for an app reached at ``origin`` (scheme, host, port).

    ``prefix``: a proxy in front of the app strips it from the path (``None``: no proxy).
    """

    public_url: Callable[[str], str]
    webhook_path: str | None
    webhook_url: Callable[[str], str]
    mounted_at: str
    prefix: str | None = None


FORMS = {
    "base": Form(lambda o: o, None, lambda o: o + "/sms/webhook", "/sms/webhook"),
    "base-trailing-slash": Form(
        lambda o: o + "/", None, lambda o: o + "/sms/webhook", "/sms/webhook"
    ),
    "endpoint": Form(
        lambda o: o + "/sms/webhook", None, lambda o: o + "/sms/webhook", "/sms/webhook"
    ),
    "endpoint-custom-path": Form(
        lambda o: o + "/hooks/sms", "/hooks/sms", lambda o: o + "/hooks/sms", "/hooks/sms"
    ),
    "base-under-prefix": Form(
        lambda o: o + "/app",
        "/sms/webhook",
        lambda o: o + "/app/sms/webhook",
        "/sms/webhook",
        prefix="/app",
    ),
    "endpoint-under-prefix": Form(
        lambda o: o + "/app/sms/webhook",
        "/sms/webhook",
        lambda o: o + "/app/sms/webhook",
        "/sms/webhook",
        prefix="/app",
    ),
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(progress_delay=0.02) as emulator:
        yield emulator


@dataclass
class Served:
    bridge: Bridge
    received: Received
    origin: str  # what the emulator calls: the app, or the proxy in front of it
    app_url: str  # the app itself


@contextmanager
def served(emu: Emulator, provider: str, form: Form) -> Iterator[Served]:
    """A bridge on the emulator for ``provider``, configured with ``form``, its endpoint mounted
    by the FastAPI adapter at the bridge's own ``webhook_path``, behind the form's proxy."""
    app_sock = bound_socket()
    proxy_sock = bound_socket() if form.prefix else None
    app_url = f"http://127.0.0.1:{port_of(app_sock)}"
    origin = f"http://127.0.0.1:{port_of(proxy_sock)}" if proxy_sock else app_url
    environ = {**emu.environment(), "SMSBRIDGE_PROVIDERS": provider}
    bridge = Bridge.from_env(
        environ, public_url=form.public_url(origin), webhook_path=form.webhook_path, retry=None
    )
    received = Received()
    app = FastAPI()
    app.include_router(webhook_router(bridge, received, mode="inline"))  # at bridge.webhook_path
    with running(app, app_sock), bridge:
        if proxy_sock is None or form.prefix is None:
            yield Served(bridge, received, origin, app_url)
        else:
            with stripping_proxy(proxy_sock, app_url, form.prefix):
                yield Served(bridge, received, origin, app_url)


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
@pytest.mark.parametrize("name", list(FORMS))
def test_status_callbacks_reach_the_endpoint_verified_with_the_reference(
    emu: Emulator, name: str, provider: str
) -> None:
    """The callback URL is the endpoint URL + ``?smsbridge_ref=`` (no doubled path), and every
    signed status callback reaches the mounted endpoint, verifies and carries the reference."""
    emu.reset()
    form = FORMS[name]
    with served(emu, provider, form) as app:
        sms = app.bridge
        endpoint = form.webhook_url(app.origin)
        assert (sms.webhook_url, sms.webhook_path) == (endpoint, form.mounted_at)
        result = sms.send(to=HANDSET, body="hello", reference=REFERENCE)
        expected = f"{endpoint}?smsbridge_ref={quote(REFERENCE, safe='')}"
        (message,) = emu.messages(provider)
        assert message["callback_url"] == expected
        events = app.received.until_terminal(result.provider_message_id)
        assert [e.status for e in events][-2:] == [MessageStatus.SENT, MessageStatus.DELIVERED]
        assert {e.reference for e in events} == {REFERENCE}
        assert {e.provider for e in events} == {provider}
        assert emu.wait_idle(10)
    calls = [c for c in emu.callbacks() if c["message_id"] == result.provider_message_id]
    assert calls, "the emulator delivered the status callbacks"
    assert {c["url"] for c in calls} == {expected}
    assert [c["status_code"] for c in calls] == [200] * len(calls), calls


def test_a_forged_callback_is_refused_by_the_same_endpoint(emu: Emulator) -> None:
    """The control: the endpoint that accepts the emulator's callbacks refuses a Twilio
    callback signed for another URL (the checks above are not vacuous)."""
    emu.reset()
    with served(emu, "twilio", FORMS["endpoint-under-prefix"]) as app:
        url = app.origin + "/app/sms/webhook?smsbridge_ref=x"
        body, headers = twilio_status(url.replace("/app/", "/other/"), "SM" + "0" * 32, "sent")
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 403
        assert app.received.events.empty()


# -- configuration errors and normalisation ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://x.example/?a=1",
        "https://x.example/#f",
        "https://x.example?a=1",
        "https://x.example/?",
        "https://x.example/#",
        "https://x.example/sms/webhook?smsbridge_ref=1",
        "https://x.example/sms/webhook#top",
    ],
)
def test_query_or_fragment_is_a_config_error(url: str) -> None:
    """A query string or fragment can be neither signed nor merged: refused at start-up."""
    with pytest.raises(ConfigError) as caught:
        make_bridge(public_url=url)
    assert caught.value.variable == "public_url"


@pytest.mark.parametrize(
    "url", ["app.example.com", "ftp://app.example.com", "https://", "https://u:p@app.example.com"]
)
def test_not_an_http_url_is_a_config_error(url: str) -> None:
    """No scheme, another scheme, no host or credentials: ``ConfigError`` naming public_url."""
    with pytest.raises(ConfigError) as caught:
        make_bridge(public_url=url)
    assert caught.value.variable == "public_url"


@pytest.mark.parametrize(
    ("public_url", "webhook_path", "attributes"),
    [
        # base URL: the endpoint is the base + webhook_path
        (
            "https://app.example.com",
            None,
            (
                "https://app.example.com",
                None,
                "/sms/webhook",
                "https://app.example.com/sms/webhook",
            ),
        ),
        (
            "https://app.example.com/",
            None,
            (
                "https://app.example.com",
                None,
                "/sms/webhook",
                "https://app.example.com/sms/webhook",
            ),
        ),
        (
            "https://app.example.com",
            "hooks/sms/",
            ("https://app.example.com", None, "/hooks/sms", "https://app.example.com/hooks/sms"),
        ),
        # endpoint URL, default path
        (
            "https://app.example.com/sms/webhook",
            None,
            (
                "https://app.example.com/sms/webhook",
                "https://app.example.com/sms/webhook",
                "/sms/webhook",
                "https://app.example.com/sms/webhook",
            ),
        ),
        # the endpoint URL is kept as pasted, trailing slash included: the provider signs it
        (
            "https://app.example.com/sms/webhook/",
            None,
            (
                "https://app.example.com/sms/webhook",
                "https://app.example.com/sms/webhook/",
                "/sms/webhook",
                "https://app.example.com/sms/webhook/",
            ),
        ),
        # endpoint URL at a custom path: given with its webhook_path
        (
            "https://app.example.com/hooks/sms",
            "/hooks/sms",
            (
                "https://app.example.com/hooks/sms",
                "https://app.example.com/hooks/sms",
                "/hooks/sms",
                "https://app.example.com/hooks/sms",
            ),
        ),
        # endpoint URL ending in the webhook_path given: that path is where the app mounts it
        (
            "https://example.com/app/sms/webhook",
            "/sms/webhook",
            (
                "https://example.com/app/sms/webhook",
                "https://example.com/app/sms/webhook",
                "/sms/webhook",
                "https://example.com/app/sms/webhook",
            ),
        ),
        # base under a prefix, with the webhook_path given
        (
            "https://example.com/app/",
            "/sms/webhook",
            (
                "https://example.com/app",
                None,
                "/sms/webhook",
                "https://example.com/app/sms/webhook",
            ),
        ),
    ],
)
def test_the_forms_give_the_endpoint(
    public_url: str, webhook_path: str | None, attributes: tuple[Any, ...]
) -> None:
    """``public_url``, ``public_endpoint``, ``webhook_path`` and ``webhook_url`` for each form;
    trailing slashes are dropped; the status callback URL is the endpoint + the reference."""
    sms = make_bridge(public_url=public_url, webhook_path=webhook_path)
    assert (sms.public_url, sms.public_endpoint, sms.webhook_path, sms.webhook_url) == attributes
    endpoint = attributes[3]
    assert sms.status_callback_url("r 1/2") == endpoint + "?smsbridge_ref=r%201%2F2"
    assert sms.status_callback_url(None) == endpoint


def test_a_path_that_is_not_the_webhook_path_is_a_prefix_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``https://example.com/base`` stays a base URL under a prefix (as it always was), and a
    warning says so, naming the ``webhook_path`` to pass if it was the endpoint itself."""
    with caplog.at_level("WARNING", logger="smsbridge"):
        sms = make_bridge(public_url="https://app.example.com/hooks/sms")
    assert (sms.public_endpoint, sms.webhook_path) == (None, "/sms/webhook")
    assert sms.webhook_url == "https://app.example.com/hooks/sms/sms/webhook"
    (record,) = [r for r in caplog.records if "prefix" in r.getMessage()]
    assert "webhook_path='/hooks/sms'" in record.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="smsbridge"):
        make_bridge(public_url="https://app.example.com/hooks/sms", webhook_path="/hooks/sms")
        make_bridge(public_url="https://app.example.com/sms/webhook")
    assert not [r for r in caplog.records if "prefix" in r.getMessage()]


def test_without_public_url_there_is_no_endpoint_url() -> None:
    """No ``public_url``: no webhook URL, no status callback; ``webhook_path`` still mounts."""
    sms = make_bridge(webhook_path="/hooks/sms/")
    assert (sms.public_url, sms.public_endpoint, sms.webhook_url) == (None, None, None)
    assert sms.webhook_path == "/hooks/sms"
    assert sms.status_callback_url("r-1") is None


# -- which URL a Twilio signature is checked against -----------------------------------------------

PUBLIC_ENDPOINT = "https://app.example.com/hooks/sms"
SEEN = "http://127.0.0.1:8000/internal/sms"  # where the proxy handed it to the app


def _request(url: str, body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest("POST", url, headers, body, remote_addr="127.0.0.1")


def test_endpoint_form_verifies_whatever_path_the_proxy_rewrote_to() -> None:
    """Signed for the endpoint URL, seen by the app at another path: the endpoint form verifies
    it (the base form would check ``https://app.example.com/internal/sms`` and refuse it)."""
    body, headers = twilio_inbound(PUBLIC_ENDPOINT, text="hi")
    request = _request(SEEN, body, headers)
    sms = make_bridge(public_url=PUBLIC_ENDPOINT, webhook_path="/hooks/sms")
    assert public_url_for(sms, request) == PUBLIC_ENDPOINT
    outcome = sms.handle_webhook(request)
    assert outcome.provider == "twilio"
    assert [e.text for e in outcome.events] == ["hi"]  # type: ignore[union-attr]
    with pytest.raises(SignatureError):
        make_bridge(public_url="https://app.example.com").handle_webhook(request)


def test_endpoint_form_keeps_the_query_the_provider_signed() -> None:
    """A status callback's ``?smsbridge_ref=`` is part of the signed URL: kept, and read."""
    sid = "SM" + "1" * 32
    signed = PUBLIC_ENDPOINT + "?smsbridge_ref=order%2042"
    body, headers = twilio_status(signed, sid, "delivered")
    sms = make_bridge(public_url=PUBLIC_ENDPOINT, webhook_path="/hooks/sms")
    request = _request(SEEN + "?smsbridge_ref=order%2042", body, headers)
    assert public_url_for(sms, request) == signed
    (event,) = sms.handle_webhook(request).events
    assert isinstance(event, StatusEvent)
    assert (event.provider_message_id, event.reference) == (sid, "order 42")
    tampered = _request(SEEN + "?smsbridge_ref=order%2043", body, headers)
    with pytest.raises(SignatureError):
        sms.handle_webhook(tampered)


def test_endpoint_form_with_a_trailing_slash_checks_the_url_as_pasted() -> None:
    """A console URL pasted with its trailing slash verifies what the provider signed (the
    slash included), and one signed without it does not."""
    pasted = PUBLIC_ENDPOINT + "/"
    body, headers = twilio_inbound(pasted, text="hi")
    sms = make_bridge(public_url=pasted, webhook_path="/hooks/sms")
    assert sms.handle_webhook(_request(SEEN, body, headers)).provider == "twilio"
    body, headers = twilio_inbound(PUBLIC_ENDPOINT, text="hi")
    with pytest.raises(SignatureError):
        sms.handle_webhook(_request(SEEN, body, headers))


def test_base_form_checks_the_base_plus_the_path_the_app_saw() -> None:
    """The base form is unchanged: ``public_url`` + the request's path and query."""
    url = "https://app.example.com/sms/webhook?smsbridge_ref=r-1"
    body, headers = twilio_inbound(url, text="hi")
    sms = make_bridge(public_url="https://app.example.com/")
    request = _request("http://127.0.0.1:8000/sms/webhook?smsbridge_ref=r-1", body, headers)
    assert public_url_for(sms, request) == url
    assert sms.handle_webhook(request).provider == "twilio"
