"""Twilio reconciliation: after an ambiguous failure, read back before any re-send."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from _routing_kit import TO, TWILIO_FROM, Counter, emu, emulator, telnyx, twilio

from smsbridge import Bridge, OutboundMessage, ProviderUnavailable
from smsbridge.providers import Twilio
from smsbridge.providers._base import LookupInconclusive
from smsbridge.testing.emulator import Emulator

__all__ = ["emu", "emulator"]


def _bridge(emu: Emulator, counter: Counter, *, reconcile: bool = True) -> Bridge:
    return Bridge(
        [twilio(emu), telnyx(emu)],
        http_client=counter.client(),
        sleep=lambda seconds: None,
        retry=None,
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


def test_a_read_back_miss_after_a_timeout_is_no_proof(emu: Emulator) -> None:
    """A send that times out, then a read-back that does not show it: that proves nothing (a
    provider still handling the request can accept it after the read-back), so the send is
    reported ambiguous and goes nowhere else. (The emulator's slow answer here is a 503 that
    records nothing, so the read-back really misses.)"""
    emu.fault("twilio", "latency", seconds=1.0, times=1)
    emu.fault("twilio", "http_error", status=503, times=1)
    counter = Counter(emu)
    slow = Twilio(
        emu.twilio_account_sid,
        emu.twilio_auth_token,
        from_=TWILIO_FROM,
        base_url=emu.twilio_url,
        timeout=httpx.Timeout(0.2, connect=1.0),
    )
    sms = Bridge(
        [slow, telnyx(emu)],
        http_client=counter.client(),
        sleep=lambda seconds: None,
        retry=None,
        reconcile=True,
    )
    with pytest.raises(ProviderUnavailable) as caught:
        sms.send(to=TO, body="timed out")
    assert caught.value.failure == "ambiguous"
    assert counter.requests == [("twilio", "POST"), ("twilio", "GET")]  # read back, nothing
    assert emu.messages("telnyx") == []


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


def test_a_longer_body_containing_this_one_is_not_a_match(emu: Emulator) -> None:
    """An earlier "Payment of $1000 received" is not taken for "Payment of $100": the 502 that
    was not accepted fails over, and both messages go out once each."""
    counter = Counter(emu)
    bridge = _bridge(emu, counter)
    bridge.send(to=TO, body="Payment of $1000 received")
    emu.fault("twilio", "http_error", status=502, times=1)
    result = bridge.send(to=TO, body="Payment of $100")
    assert result.provider == "telnyx"
    assert [m["text"] for m in emu.messages("twilio")] == ["Payment of $1000 received"]
    assert [m["text"] for m in emu.messages("telnyx")] == ["Payment of $100"]


def test_a_media_only_message_compares_its_media(emu: Emulator) -> None:
    """A media-only message is never matched on recipient and sender alone: an earlier MMS
    with other media is not reported as this one (Twilio does not list media URLs, so the
    read-back cannot tell and the failure stays ambiguous: nothing is sent twice)."""
    counter = Counter(emu)
    bridge = _bridge(emu, counter)
    bridge.send(to=TO, media_urls=["https://example.com/a.jpg"])
    emu.fault("twilio", "http_error", status=502, times=1)
    with pytest.raises(ProviderUnavailable) as caught:
        bridge.send(to=TO, media_urls=["https://example.com/b.jpg"])
    assert caught.value.failure == "ambiguous"
    assert counter.sends("telnyx") == 0
    assert len(emu.messages("twilio")) == 1


def test_a_media_message_with_another_count_is_absent(emu: Emulator) -> None:
    """An earlier message with a different number of media is not this one: the 502 that was
    not accepted fails over."""
    counter = Counter(emu)
    bridge = _bridge(emu, counter)
    bridge.send(to=TO, body="pics", media_urls=["https://example.com/a.jpg"])
    emu.fault("twilio", "http_error", status=502, times=1)
    photos = ["https://example.com/a.jpg", "https://example.com/b.jpg"]
    result = bridge.send(to=TO, body="pics", media_urls=photos)
    assert result.provider == "telnyx"
    assert emu.messages("telnyx")[0]["media_urls"] == photos


def test_accept_then_503_is_read_back_before_failover(emu: Emulator) -> None:
    """Twilio accepts the message and answers 503: with reconcile on, the read-back finds it
    and nothing else is sent (one message at the emulator)."""
    emu.fault("twilio", "http_error", status=503, accept=True, times=1)
    counter = Counter(emu)
    result = _bridge(emu, counter).send(to=TO, body="your code is 8080")
    assert len(emu.messages()) == 1
    assert result.provider == "twilio"
    assert result.provider_message_id == emu.messages("twilio")[0]["id"]
    assert counter.sends("telnyx") == 0
    assert ("twilio", "GET") in counter.requests


def test_accept_then_503_without_reconcile_trusts_http(emu: Emulator) -> None:
    """Without the option a 503 is refused, as HTTP says: it fails over, so a provider that
    accepted before answering 503 has the message too (the documented assumption)."""
    emu.fault("twilio", "http_error", status=503, accept=True, times=1)
    counter = Counter(emu)
    result = _bridge(emu, counter, reconcile=False).send(to=TO, body="your code is 8081")
    assert result.provider == "telnyx"
    assert len(emu.messages()) == 2
    assert ("twilio", "GET") not in counter.requests


def test_a_plain_503_is_read_back_then_fails_over(emu: Emulator) -> None:
    """A 503 that was not accepted: the read-back finds nothing and Telnyx sends it."""
    emu.fault("twilio", "http_error", status=503, times=1)
    counter = Counter(emu)
    result = _bridge(emu, counter).send(to=TO, body="hello 503")
    assert result.provider == "telnyx"
    assert emu.messages("twilio") == []
    assert ("twilio", "GET") in counter.requests


# -- the read-back's decisions, on answers built here (codec unit tests) ---------------------

START = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)


def _listing(*items: dict[str, object], date: datetime | None = START) -> httpx.Response:
    headers = {"Date": format_datetime(date, usegmt=True)} if date is not None else {}
    return httpx.Response(200, json={"messages": list(items)}, headers=headers)


def _item(body: str, created: datetime, **extra: object) -> dict[str, object]:
    return {
        "sid": "SM" + "1" * 32,
        "to": TO,
        "from": TWILIO_FROM,
        "body": body,
        "num_media": "0",
        "status": "queued",
        "direction": "outbound-api",
        "date_created": format_datetime(created, usegmt=True),
        **extra,
    }


@pytest.fixture
def provider(emulator: Emulator) -> Twilio:
    """A Twilio codec (the emulator only lends it credentials)."""
    return twilio(emulator)


@contextlib.contextmanager
def freeze_clock(now: datetime) -> Iterator[None]:
    """Make the codec's ``time.time()`` read ``now`` (the read-back compares it to Date)."""
    original = time.time
    time.time = lambda: now.timestamp()
    try:
        yield
    finally:
        time.time = original


def _lookup(provider: Twilio, response: httpx.Response, body: str, **kw: Any) -> Any:
    message = OutboundMessage(to=TO, body=body, **kw)
    with freeze_clock(START):
        return provider.parse_lookup(response, message, since=START)


def test_lookup_needs_the_whole_body(provider: Twilio) -> None:
    """Equality, not containment; Twilio's trial prefix is the only text allowed around it."""
    later = START + timedelta(seconds=1)
    assert (
        _lookup(provider, _listing(_item("Payment of $1000 received", later)), "Payment of $100")
        is None
    )
    trial = _item("Sent from your Twilio trial account - Payment of $100", later)
    assert _lookup(provider, _listing(trial), "Payment of $100") is not None
    assert (
        _lookup(provider, _listing(_item("Payment of $100", later)), "Payment of $100") is not None
    )


def test_lookup_window_is_on_the_providers_clock(provider: Twilio) -> None:
    """An identical message created well before the first request is another message; the
    Date header moves the window onto Twilio's clock when the clocks differ."""
    old = _item("hi", START - timedelta(seconds=10))
    assert _lookup(provider, _listing(old), "hi") is None
    # Twilio's clock runs an hour ahead: its "now" is START + 1 h, and so is the message.
    ahead = START + timedelta(hours=1)
    assert _lookup(provider, _listing(_item("hi", ahead), date=ahead), "hi") is not None
    assert _lookup(provider, _listing(_item("hi", START), date=ahead), "hi") is None
    # Without a Date header the clocks cannot be compared: a minute of difference is allowed.
    undated = _listing(_item("hi", START - timedelta(seconds=30)), date=None)
    assert _lookup(provider, undated, "hi") is not None


def test_lookup_cannot_tell_media_or_dates_apart(provider: Twilio) -> None:
    """A matching message with media, or without a readable date, is inconclusive; so is a
    full page whose oldest message is still inside the window."""
    later = START + timedelta(seconds=1)
    mms = _item("", later, num_media="1")
    with pytest.raises(LookupInconclusive):
        _lookup(provider, _listing(mms), "", media_urls=("https://example.com/a.jpg",))
    undated = {**_item("hi", later), "date_created": "not a date"}
    with pytest.raises(LookupInconclusive):
        _lookup(provider, _listing(undated), "hi")
    page = [_item(f"other {i}", later) for i in range(50)]
    with pytest.raises(LookupInconclusive):
        _lookup(provider, _listing(*page), "hi")
    page[-1] = _item("older", START - timedelta(minutes=5))
    assert _lookup(provider, _listing(*page), "hi") is None
