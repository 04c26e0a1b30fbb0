"""Twilio reconciliation: after an ambiguous failure, read back before any re-send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from _routing_kit import TO, TWILIO_FROM, Counter, emulator, telnyx, twilio

from smsbridge import Bridge, OutboundMessage, ProviderUnavailable
from smsbridge.testing._emulator import Emulator

__all__ = ["emulator"]


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, reset for this test."""
    emulator.reset()
    yield emulator
    emulator.reset()


def _bridge(emu: Emulator, counter: Counter, *, reconcile: bool = True) -> Bridge:
    return Bridge(
        [twilio(emu), telnyx(emu)],
        http_client=counter.client(),
        sleep=lambda seconds: None,
        retry=0,
        reconcile=reconcile,
    )


def test_read_back_finds_the_accepted_message(emu: Emulator) -> None:
    """Accept-then-hang, then the read-back finds it: success, no re-send anywhere."""
    emu.fault("twilio", "accept_then_hang")
    counter = Counter(emu)
    result = _bridge(emu, counter).send(to=TO, body="your code is 4321")
    sent = emu.messages("twilio")
    assert len(sent) == 1
    assert emu.messages("telnyx") == []
    assert result.provider == "twilio"
    assert result.provider_message_id == sent[0]["id"]
    assert [(a.provider, a.failure) for a in result.attempts] == [
        ("twilio", "ambiguous"),
        ("twilio", None),
    ]
    assert ("twilio", "GET") in counter.requests


def test_read_back_not_found_allows_failover(emu: Emulator) -> None:
    """A 502 that was not accepted: the read-back finds nothing, so Telnyx sends it."""
    emu.fault("twilio", "http_error", status=502)
    counter = Counter(emu)
    result = _bridge(emu, counter).send(to=TO, body="hello")
    assert result.provider == "telnyx"
    assert len(emu.messages("telnyx")) == 1
    assert emu.messages("twilio") == []


def test_without_reconcile_the_502_stops(emu: Emulator) -> None:
    """The same 502 without the option: ambiguous, at most once, nothing else tried."""
    emu.fault("twilio", "http_error", status=502)
    counter = Counter(emu)
    with pytest.raises(ProviderUnavailable) as caught:
        _bridge(emu, counter, reconcile=False).send(to=TO, body="hello")
    assert caught.value.failure == "ambiguous"
    assert counter.sends("telnyx") == 0


def test_lookup_matches_recipient_sender_body_and_time(emu: Emulator) -> None:
    """parse_lookup ignores other bodies and messages older than ``since``."""
    provider = twilio(emu)
    with httpx.Client() as client:
        client.send(provider.build_request(OutboundMessage(to=TO, body="other text")))
        message = OutboundMessage(to=TO, body="the one")
        since = datetime.now(timezone.utc) - timedelta(seconds=5)
        request = provider.build_lookup_request(message, since)
        assert request.method == "GET"
        assert request.url.params["To"] == TO
        assert request.url.params["From"] == TWILIO_FROM
        assert provider.parse_lookup(client.send(request), message, since=since) is None
        client.send(provider.build_request(message))
        found = provider.parse_lookup(client.send(request), message, since=since)
        assert found is not None
        assert found.provider == "twilio"
        later = datetime.now(timezone.utc) + timedelta(minutes=5)
        assert provider.parse_lookup(client.send(request), message, since=later) is None
