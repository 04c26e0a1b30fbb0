"""No idempotency key is left stuck: whatever happens once a key is claimed, the claim ends.

As *sent* when the provider accepted, as *ambiguous* when the request may have gone out,
released when nothing was sent; cancellation (task cancel, cancel scopes, Ctrl-C) included.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import httpx
import pydantic
import pytest
from _routing_kit import TO, Counter, emu, emulator, telnyx, twilio

from smsbridge import (
    Bridge,
    OutboundMessage,
    ProviderUnavailable,
    SendInterrupted,
    UnexpectedError,
)
from smsbridge.providers import Twilio
from smsbridge.routing import Retry
from smsbridge.routing._idempotency import store_key
from smsbridge.stores import MemoryStore
from smsbridge.testing.emulator import Emulator

__all__ = ["emu", "emulator"]


def record(store: MemoryStore, key: str) -> dict[str, Any] | None:
    """The idempotency record of ``key``, decoded, or ``None`` once released."""
    raw = store.get(store_key(key))
    return None if raw is None else json.loads(raw)


class CannedServer:
    """A real HTTP server on 127.0.0.1 answering every POST with one canned answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.posts = 0
        canned = json.dumps(body).encode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.posts += 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(canned)))
                self.end_headers()
                self.wfile.write(canned)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def odd_twilio() -> Iterator[CannedServer]:
    """A "Twilio" that accepts (201) with a Message whose ``from`` is a number, not a str."""
    server = CannedServer(201, {"sid": "SM" + "a" * 32, "status": "queued", "from": 12345})
    yield server
    server.close()


def test_an_accepted_send_with_an_unreadable_answer_is_recorded_as_sent(
    emu: Emulator, odd_twilio: CannedServer
) -> None:
    """A 2xx whose content the codec cannot read: a typed UnexpectedError saying it was
    accepted, chained to the original; the key is recorded as sent, so no repeat (not even
    at least once) and no failover sends it again."""
    store = MemoryStore()
    odd = Twilio("AC" + "0" * 32, "token", from_="+15017122661", base_url=odd_twilio.url)
    for delivery in ("at_most_once", "at_least_once"):
        bridge = Bridge([odd, telnyx(emu)], store=store, delivery=delivery, retry=None)
        with pytest.raises(UnexpectedError) as caught:
            bridge.send(to=TO, body="hello", idempotency_key="odd-1")
        error = caught.value
        assert error.accepted is True
        assert error.provider_message_id == "SM" + "a" * 32
        assert error.failure == "ambiguous"
        assert error.code == "unexpected_error"
    assert odd_twilio.posts == 1
    assert emu.messages("telnyx") == []
    assert record(store, "odd-1")["state"] == "sent"  # type: ignore[index]


def test_the_first_unreadable_answer_chains_the_original(
    emu: Emulator, odd_twilio: CannedServer
) -> None:
    """The UnexpectedError of the send itself is chained to the exception the codec raised."""
    odd = Twilio("AC" + "0" * 32, "token", from_="+15017122661", base_url=odd_twilio.url)
    bridge = Bridge(odd, store=MemoryStore(), retry=None)
    with pytest.raises(UnexpectedError) as caught:
        bridge.send(to=TO, body="hello", idempotency_key="odd-2")
    assert isinstance(caught.value.__cause__, pydantic.ValidationError)
    assert [a.provider for a in caught.value.attempts] == ["twilio"]


class BrokenTwilio(Twilio):
    """A Twilio codec with a bug in building its request."""

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        raise RuntimeError("a bug")


def test_a_bug_before_sending_releases_the_key(emu: Emulator) -> None:
    """An exception while building the request: nothing was sent, the key is released, and
    the error is typed (rejected) and chained to the bug."""
    store, counter = MemoryStore(), Counter(emu)
    broken = BrokenTwilio(
        emu.twilio_account_sid, emu.twilio_auth_token, from_="+15017122661", base_url=emu.twilio_url
    )
    bridge = Bridge([broken, telnyx(emu)], store=store, http_client=counter.client())
    with pytest.raises(UnexpectedError) as caught:
        bridge.send(to=TO, body="hello", idempotency_key="bug-1")
    assert caught.value.failure == "rejected"
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert record(store, "bug-1") is None
    assert counter.requests == []


class ExplodingClient:
    """A sync HTTP client that raises an exception no HTTP library would."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise RuntimeError("surprise")


def test_an_unknown_client_exception_is_ambiguous(emu: Emulator) -> None:
    """An exception of an unknown kind from the client may follow a written request: the key
    is recorded ambiguous, no other provider is tried, and a repeat raises the stored error."""
    store, client = MemoryStore(), ExplodingClient()
    bridge = Bridge([twilio(emu), telnyx(emu)], store=store, http_client=client)
    with pytest.raises(UnexpectedError) as caught:
        bridge.send(to=TO, body="hello", idempotency_key="boom-1")
    assert caught.value.failure == "ambiguous"
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert client.calls == 1
    assert record(store, "boom-1")["state"] == "ambiguous"  # type: ignore[index]
    with pytest.raises(UnexpectedError):
        bridge.send(to=TO, body="hello", idempotency_key="boom-1")
    assert client.calls == 1


# -- interruption in the sync send (Ctrl-C) -----------------------------------------------------


class InterruptingTransport(httpx.HTTPTransport):
    """httpx's own transport, interrupted (as Ctrl-C would) before or after the request."""

    def __init__(self, *, after: bool) -> None:
        super().__init__()
        self.after = after

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.after:
            raise KeyboardInterrupt
        response = super().handle_request(request)
        response.read()
        raise KeyboardInterrupt


def test_ctrl_c_before_the_request_is_written_releases_the_key(emu: Emulator) -> None:
    """KeyboardInterrupt before any byte left: it propagates, and the key is free again."""
    store = MemoryStore()
    client = httpx.Client(transport=InterruptingTransport(after=False))
    bridge = Bridge([twilio(emu)], store=store, http_client=client)
    with pytest.raises(KeyboardInterrupt):
        bridge.send(to=TO, body="hello", idempotency_key="kbd-1")
    assert record(store, "kbd-1") is None
    Bridge([twilio(emu)], store=store).send(to=TO, body="hello", idempotency_key="kbd-1")
    assert len(emu.messages("twilio")) == 1


def test_ctrl_c_after_the_request_was_written_records_ambiguous(emu: Emulator) -> None:
    """KeyboardInterrupt once the request went out: the key is ambiguous, and a repeat
    raises SendInterrupted instead of sending again."""
    store = MemoryStore()
    client = httpx.Client(transport=InterruptingTransport(after=True))
    bridge = Bridge([twilio(emu)], store=store, http_client=client)
    with pytest.raises(KeyboardInterrupt):
        bridge.send(to=TO, body="hello", idempotency_key="kbd-2")
    assert record(store, "kbd-2")["state"] == "ambiguous"  # type: ignore[index]
    with pytest.raises(SendInterrupted) as caught:
        Bridge([twilio(emu)], store=store).send(to=TO, body="hello", idempotency_key="kbd-2")
    assert caught.value.failure == "ambiguous"
    assert len(emu.messages("twilio")) == 1


def test_ctrl_c_while_waiting_to_retry_releases_the_key(emu: Emulator) -> None:
    """Interrupted during the backoff after a 429: nothing was sent, the key is released."""
    emu.fault("twilio", "rate_limit", retry_after=1, times=1)
    store = MemoryStore()

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    bridge = Bridge([twilio(emu)], store=store, sleep=interrupt, retry=Retry(total=1))
    with pytest.raises(KeyboardInterrupt):
        bridge.send(to=TO, body="hello", idempotency_key="kbd-3")
    assert record(store, "kbd-3") is None
    assert emu.messages("twilio") == []


# -- cancellation of asend (asyncio task cancellation, anyio/trio cancel scopes) ---------------


@pytest.mark.anyio
async def test_cancelled_before_the_request_is_written_releases_the_key(emu: Emulator) -> None:
    """A cancel scope that expires while the send waits to retry: the key is released, and
    a later send with the key goes out once."""
    emu.fault("twilio", "rate_limit", retry_after=20, times=1)
    store = MemoryStore()
    async with Bridge([twilio(emu)], store=store, retry=Retry(total=1)) as bridge:
        with anyio.move_on_after(0.5) as scope:
            await bridge.asend(to=TO, body="hello", idempotency_key="cancel-1")
        assert scope.cancelled_caught
        assert record(store, "cancel-1") is None
        emu.clear_faults()
        await bridge.asend(to=TO, body="hello", idempotency_key="cancel-1")
    assert len(emu.messages("twilio")) == 1


@pytest.mark.anyio
async def test_cancelled_at_once_sends_nothing_and_releases(emu: Emulator) -> None:
    """A scope cancelled before the send starts: nothing reaches the provider, the key is
    released (the httpx transport reports that no byte was written)."""
    store = MemoryStore()
    async with Bridge([twilio(emu)], store=store) as bridge:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await bridge.asend(to=TO, body="hello", idempotency_key="cancel-0")
        assert record(store, "cancel-0") is None
    assert emu.messages("twilio") == []


@pytest.mark.anyio
async def test_cancelled_after_the_request_was_written_records_ambiguous(emu: Emulator) -> None:
    """A cancel scope that expires while the provider is answering slowly: the key is
    recorded ambiguous; a repeat raises SendInterrupted without a request."""
    emu.fault("twilio", "latency", seconds=3, times=1)
    store, counter = MemoryStore(), Counter(emu)
    async with Bridge([twilio(emu)], store=store, async_http_client=counter.async_client()) as b:
        with anyio.move_on_after(0.5):
            await b.asend(to=TO, body="hello", idempotency_key="cancel-2")
        assert record(store, "cancel-2")["state"] == "ambiguous"  # type: ignore[index]
        with pytest.raises(SendInterrupted):
            await b.asend(to=TO, body="hello", idempotency_key="cancel-2")
    assert counter.sends("twilio") == 1


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_asyncio_task_cancellation_ends_the_claim(emu: Emulator) -> None:
    """``task.cancel()`` mid-request propagates CancelledError and records the key ambiguous;
    a task cancelled during its retry wait releases it."""
    store = MemoryStore()
    async with Bridge([twilio(emu)], store=store, retry=Retry(total=1)) as bridge:
        emu.fault("twilio", "latency", seconds=3, times=1)
        task = asyncio.ensure_future(bridge.asend(to=TO, body="a", idempotency_key="task-1"))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert record(store, "task-1")["state"] == "ambiguous"  # type: ignore[index]

        emu.clear_faults()
        emu.fault("twilio", "rate_limit", retry_after=20, times=1)
        task = asyncio.ensure_future(bridge.asend(to=TO, body="b", idempotency_key="task-2"))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert record(store, "task-2") is None


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_aiohttp_sender_reports_when_a_request_may_be_written(emu: Emulator) -> None:
    """With AiohttpSender too: cancelled mid-answer is ambiguous, cancelled in the retry wait
    is released."""
    from smsbridge.transports import AiohttpSender

    store = MemoryStore()
    async with (
        AiohttpSender() as sender,
        Bridge(
            [twilio(emu)], store=store, async_http_client=sender, retry=Retry(total=1)
        ) as bridge,
    ):
        emu.fault("twilio", "latency", seconds=3, times=1)
        with anyio.move_on_after(0.5):
            await bridge.asend(to=TO, body="a", idempotency_key="aio-1")
        assert record(store, "aio-1")["state"] == "ambiguous"  # type: ignore[index]
        emu.clear_faults()
        emu.fault("twilio", "rate_limit", retry_after=20, times=1)
        with anyio.move_on_after(0.5):
            await bridge.asend(to=TO, body="b", idempotency_key="aio-2")
        assert record(store, "aio-2") is None


def test_without_a_key_an_ambiguous_unknown_error_is_still_typed(emu: Emulator) -> None:
    """Unkeyed sends get the same typed error for an unknown client exception."""
    bridge = Bridge([twilio(emu), telnyx(emu)], http_client=ExplodingClient())
    with pytest.raises(UnexpectedError) as caught:
        bridge.send(to=TO, body="hello")
    assert caught.value.failure == "ambiguous"
    assert not isinstance(caught.value, ProviderUnavailable)


def test_which_clients_report_writing() -> None:
    """httpx's own transports and AiohttpSender report when a request starts to leave; a mock
    transport or an unknown client does not (and a send interrupted there counts as sent)."""
    from smsbridge.providers._shell import traces_requests
    from smsbridge.transports import AiohttpSender

    request = httpx.Request("POST", "http://127.0.0.1:9/x")
    mock = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert traces_requests(httpx.Client(), request)
    assert traces_requests(httpx.AsyncClient(), request)
    assert traces_requests(AiohttpSender(), request)
    assert not traces_requests(mock, request)
    assert not traces_requests(ExplodingClient(), request)


def test_ctrl_c_during_the_read_back_records_ambiguous(emu: Emulator) -> None:
    """Interrupted while reading back after an ambiguous failure: the message may be out, so
    the key is recorded ambiguous (not released)."""
    emu.fault("twilio", "http_error", status=502, accept=True, times=1)
    store = MemoryStore()

    def interrupt(seconds: float) -> None:  # the wait before the read-back
        raise KeyboardInterrupt

    bridge = Bridge([twilio(emu)], store=store, reconcile=True, sleep=interrupt)
    with pytest.raises(KeyboardInterrupt):
        bridge.send(to=TO, body="hello", idempotency_key="kbd-4")
    assert record(store, "kbd-4")["state"] == "ambiguous"  # type: ignore[index]
    assert len(emu.messages("twilio")) == 1
