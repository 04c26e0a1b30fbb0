"""AiohttpSender against real local servers, classified exactly like httpx.AsyncClient."""

from __future__ import annotations

import gzip
import json
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp  # a core dependency (the async transport on asyncio)
import httpx
import pytest

from smsbridge import Bridge, ConfigError, InvalidRecipient, OptedOut, ProviderUnavailable
from smsbridge.providers import Telnyx, Twilio
from smsbridge.providers._base import Provider
from smsbridge.providers._shell import AsyncSender, classify_transport_error
from smsbridge.testing import Emulator
from smsbridge.transports import AiohttpSender, _translate

FROM = "+13125550100"
TO = "+14155552671"
SENDERS = ["httpx", "aiohttp"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module."""
    with Emulator(progress_delay=0, deliver_callbacks=False) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, reset around each test."""
    emulator.reset()
    yield emulator
    emulator.reset()


def make(emu: Emulator, name: str, base_url: str | None = None, **kwargs: Any) -> Provider:
    if name == "twilio":
        return Twilio(
            emu.twilio_account_sid,
            emu.twilio_auth_token,
            from_=FROM,
            base_url=base_url or emu.twilio_url,
            **kwargs,
        )
    return Telnyx(emu.telnyx_api_key, from_=FROM, base_url=base_url or emu.telnyx_url, **kwargs)


@pytest.fixture
async def sender(request: pytest.FixtureRequest) -> AsyncIterator[AsyncSender]:
    """An open async sender of the kind the test is parametrised with."""
    client: AsyncSender = AiohttpSender() if request.param == "aiohttp" else httpx.AsyncClient()
    try:
        yield client
    finally:
        await client.aclose()


def bridge(provider: Provider, client: AsyncSender) -> Bridge:
    # retry=None: each test looks at one attempt's classification, not at the router's retries.
    return Bridge(provider, async_http_client=client, retry=None)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("sender", SENDERS, indirect=True)
@pytest.mark.parametrize("name", ["twilio", "telnyx"])
async def test_success(emu: Emulator, sender: AsyncSender, name: str) -> None:
    """A send succeeds and the server got the codec's exact request."""
    result = await bridge(make(emu, name), sender).asend(
        to=TO, body="héllo €", media_urls=["https://example.com/a.jpg"]
    )
    (record,) = emu.messages(name)
    assert result.provider_message_id == record["id"]
    assert (record["to"], record["text"], record["media_urls"]) == (
        TO,
        "héllo €",
        ["https://example.com/a.jpg"],
    )


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("sender", SENDERS, indirect=True)
@pytest.mark.parametrize("name", ["twilio", "telnyx"])
async def test_error_body_is_parsed(emu: Emulator, sender: AsyncSender, name: str) -> None:
    """A 4xx error body becomes the typed error with the provider's code."""
    emu.opt_out(name, TO)
    with pytest.raises(OptedOut) as info:
        await bridge(make(emu, name), sender).asend(to=TO, body="hi")
    assert info.value.http_status == 400
    assert info.value.provider_code == ("21610" if name == "twilio" else "40300")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("sender", SENDERS, indirect=True)
@pytest.mark.parametrize("name", ["twilio", "telnyx"])
async def test_connection_refused_is_refused(emu: Emulator, sender: AsyncSender, name: str) -> None:
    """A refused connection is ProviderUnavailable, refused."""
    emu.fault(name, "refuse")
    try:
        with pytest.raises(ProviderUnavailable) as info:
            await bridge(make(emu, name), sender).asend(to=TO, body="hi")
    finally:
        emu.clear_faults()
    assert info.value.failure == "refused"
    assert "ConnectError" in info.value.message


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("sender", SENDERS, indirect=True)
@pytest.mark.parametrize("name", ["twilio", "telnyx"])
async def test_read_timeout_is_ambiguous(emu: Emulator, sender: AsyncSender, name: str) -> None:
    """A server slower than the provider's 0.2 s timeout gives ambiguous."""
    emu.fault(name, "latency", seconds=1.0, times=1)
    with pytest.raises(ProviderUnavailable) as info:
        await bridge(make(emu, name, timeout=0.2), sender).asend(to=TO, body="hi")
    assert info.value.failure == "ambiguous"
    assert "ReadTimeout" in info.value.message


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("sender", SENDERS, indirect=True)
async def test_connection_closed_unanswered_is_ambiguous(
    emu: Emulator, sender: AsyncSender
) -> None:
    """A server that reads the request and closes without answering gives ambiguous."""
    emu.fault("twilio", "refuse")  # on the shared listener: the connection is closed unanswered
    try:
        with pytest.raises(ProviderUnavailable) as info:
            await bridge(make(emu, "twilio", base_url=emu.url), sender).asend(to=TO, body="hi")
    finally:
        emu.clear_faults()
    assert info.value.failure == "ambiguous"
    assert "RemoteProtocolError" in info.value.message


class _GzipHandler(BaseHTTPRequestHandler):
    """Answers every POST with a gzip-encoded Telnyx error body."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = gzip.compress(
            json.dumps({"errors": [{"code": "40310", "title": "Invalid 'to' address"}]}).encode()
        )
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def gzip_server() -> Iterator[str]:
    """A local HTTP server answering with gzip-compressed JSON."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GzipHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("sender", SENDERS, indirect=True)
async def test_compressed_answer_is_decoded_once(
    emu: Emulator, sender: AsyncSender, gzip_server: str
) -> None:
    """A gzip-encoded answer is decoded exactly once and parsed."""
    with pytest.raises(InvalidRecipient) as info:
        await bridge(make(emu, "telnyx", base_url=gzip_server), sender).asend(to=TO, body="hi")
    assert info.value.provider_code == "40310"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_bridge_does_not_close_an_injected_sender(emu: Emulator) -> None:
    """The bridge uses the injected sender and leaves it open; aclose closes it."""
    sender = AiohttpSender()
    async with Bridge(make(emu, "telnyx"), async_http_client=sender) as sms:
        await sms.asend(to=TO, body="hi")
        assert sms.async_client is sender
    assert "open" in repr(sender)
    await sender.aclose()
    assert "idle" in repr(sender)
    # A closed sender opens a new session on the next send.
    async with AiohttpSender() as again:
        await Bridge(make(emu, "telnyx"), async_http_client=again).asend(to=TO, body="hi")
    assert len(emu.messages("telnyx")) == 2


def test_a_closed_sender_works_in_the_next_event_loop(emu: Emulator) -> None:
    """A sender closed at the end of one asyncio.run opens a new session in the next one."""
    import asyncio

    sender = AiohttpSender()
    sms = Bridge(make(emu, "twilio"), async_http_client=sender)

    async def once() -> None:
        await sms.asend(to=TO, body="hi")
        await sender.aclose()

    asyncio.run(once())
    asyncio.run(once())
    assert len(emu.messages("twilio")) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_is_refused_with_a_clear_error(emu: Emulator) -> None:
    """Under trio the sender raises ConfigError saying it needs asyncio; nothing is sent."""
    sender = AiohttpSender()
    with pytest.raises(ConfigError) as info:
        await Bridge(make(emu, "twilio"), async_http_client=sender).asend(to=TO, body="hi")
    assert "asyncio" in str(info.value)
    assert info.value.variable == "async_http_client"
    assert emu.messages() == []


def test_missing_aiohttp_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without aiohttp installed the constructor says which extra to install."""
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    with pytest.raises(ConfigError) as info:
        AiohttpSender()
    assert "pip install 'smsbridge[aiohttp]'" in str(info.value)


def _connection_key() -> Any:
    return aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None)


@pytest.mark.parametrize(
    ("exc", "expected", "failure"),
    [
        (
            lambda: aiohttp.ClientConnectorError(_connection_key(), ConnectionRefusedError()),
            httpx.ConnectError,
            "refused",
        ),
        (
            lambda: aiohttp.ClientConnectorDNSError(_connection_key(), OSError("no such host")),
            httpx.ConnectError,
            "refused",
        ),
        (lambda: aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout, "refused"),
        (lambda: aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout, "ambiguous"),
        (lambda: aiohttp.ServerTimeoutError("read"), httpx.ReadTimeout, "ambiguous"),
        (lambda: TimeoutError(), httpx.ReadTimeout, "ambiguous"),
        (lambda: aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError, "ambiguous"),
        (lambda: aiohttp.ClientOSError(104, "reset"), httpx.ReadError, "ambiguous"),
        (lambda: ConnectionResetError(), httpx.ReadError, "ambiguous"),
        (lambda: aiohttp.ClientPayloadError("truncated"), httpx.ReadError, "ambiguous"),
        (lambda: aiohttp.InvalidURL("x"), httpx.UnsupportedProtocol, "refused"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else (v if isinstance(v, str) else ""),
)
def test_translation_table(exc: Any, expected: type[Exception], failure: str) -> None:
    """Each aiohttp failure becomes the httpx exception that classifies the same way."""
    request = httpx.Request("POST", "http://127.0.0.1:1/v2/messages")
    translated = _translate(aiohttp, exc(), request)
    assert type(translated) is expected
    assert classify_transport_error("telnyx", translated).failure == failure
