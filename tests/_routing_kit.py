"""Helpers for the routing tests: providers pointed at the emulator, counted HTTP clients."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smsbridge import InboundMessage, StatusEvent
from smsbridge.providers import Telnyx, Twilio
from smsbridge.testing.emulator import Emulator

__all__ = [
    "TELNYX_FROM",
    "TO",
    "TWILIO_FROM",
    "Counter",
    "Received",
    "emu",
    "emulator",
    "telnyx",
    "twilio",
]

TWILIO_FROM = "+15017122661"
TELNYX_FROM = "+15017122662"
TO = "+14155552671"
# Short enough for accept-then-hang tests to finish quickly, long enough for a loaded machine.
READ_TIMEOUT = 0.6


def twilio(emu: Emulator, **kw: Any) -> Twilio:
    """A Twilio provider on the emulator, sending from TWILIO_FROM."""
    kw.setdefault("from_", TWILIO_FROM)
    kw.setdefault("timeout", httpx.Timeout(READ_TIMEOUT, connect=2.0))
    return Twilio(emu.twilio_account_sid, emu.twilio_auth_token, base_url=emu.twilio_url, **kw)


def telnyx(emu: Emulator, **kw: Any) -> Telnyx:
    """A Telnyx provider on the emulator, sending from TELNYX_FROM."""
    kw.setdefault("from_", TELNYX_FROM)
    kw.setdefault("timeout", httpx.Timeout(READ_TIMEOUT, connect=2.0))
    return Telnyx(emu.telnyx_api_key, base_url=emu.telnyx_url, **kw)


class Counter:
    """Counts the requests an httpx client sends, per provider (by the emulator's ports)."""

    def __init__(self, emu: Emulator) -> None:
        self._ports = {
            httpx.URL(emu.twilio_url).port: "twilio",
            httpx.URL(emu.telnyx_url).port: "telnyx",
        }
        self.requests: list[tuple[str, str]] = []

    def _sync(self, request: httpx.Request) -> None:
        self.requests.append((self._ports.get(request.url.port, "?"), request.method))

    async def _async(self, request: httpx.Request) -> None:
        self._sync(request)

    def client(self) -> httpx.Client:
        """A real httpx client whose requests are counted."""
        return httpx.Client(event_hooks={"request": [self._sync]})

    def async_client(self) -> httpx.AsyncClient:
        """A real async httpx client whose requests are counted."""
        return httpx.AsyncClient(event_hooks={"request": [self._async]})

    def sends(self, provider: str) -> int:
        """POSTs that went to ``provider``."""
        return sum(1 for p, m in self.requests if p == provider and m == "POST")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module, reset before each use by the ``emu`` fixtures."""
    with Emulator(progress_delay=0.05, deliver_callbacks=False) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, reset before and after this test."""
    emulator.reset()
    yield emulator
    emulator.reset()


class Received:
    """An endpoint's ``on_event``: collects the verified events it hands on."""

    def __init__(self) -> None:
        self.events: queue.Queue[Any] = queue.Queue()

    def __call__(self, outcome: Any) -> None:
        for event in outcome.events:
            self.events.put(event)

    def until_terminal(self, message_id: str) -> list[StatusEvent]:
        seen: list[StatusEvent] = []
        while True:
            event = self.events.get(timeout=10)
            if isinstance(event, StatusEvent) and event.provider_message_id == message_id:
                seen.append(event)
                if event.status.terminal:
                    return seen

    def inbound(self) -> InboundMessage:
        while True:
            event = self.events.get(timeout=10)
            if isinstance(event, InboundMessage):
                return event
