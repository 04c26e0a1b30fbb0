"""RecordingProvider: the in-memory provider applications use in their unit tests."""

from __future__ import annotations

import pytest

from smsbridge import OptedOut, ProviderUnavailable
from smsbridge.providers import Capabilities
from smsbridge.testing import RecordingProvider


def test_records_what_is_sent() -> None:
    """A send through its bridge is recorded, normalised, and answered as queued."""
    fake = RecordingProvider(from_="+15550001111")
    with fake.bridge() as sms:
        result = sms.send(to="(415) 555-2671", region="US", body="hi", reference="r-1")
    assert result.provider == "recording"
    assert result.status.value == "queued"
    assert result.reference == "r-1"
    assert [(m.to, m.body) for m in fake.sent] == [("+14155552671", "hi")]


def test_fail_next_raises_the_typed_error() -> None:
    """fail_next makes the next send fail like a provider would, then sends again."""
    fake = RecordingProvider()
    fake.fail_next(503)
    with fake.bridge(retry=None) as sms:
        with pytest.raises(ProviderUnavailable) as info:
            sms.send(to="+14155552671", body="hi")
        assert info.value.failure == "refused"
        assert fake.sent == []
        sms.send(to="+14155552671", body="again")
    assert [m.body for m in fake.sent] == ["again"]


def test_fail_next_with_a_status_maps_like_unknown_codes() -> None:
    """An HTTP 400 without a known code is an invalid request, never retried."""
    fake = RecordingProvider()
    fake.fail_next(400)
    with fake.bridge() as sms, pytest.raises(Exception) as info:
        sms.send(to="+14155552671", body="hi")
    assert getattr(info.value, "code", None) == "invalid_request"
    assert not isinstance(info.value, OptedOut)


def test_capabilities_filter_routing() -> None:
    """A recording provider without MMS is skipped for a message with media."""
    sms_only = RecordingProvider("sms-only", capabilities=Capabilities(mms=False))
    full = RecordingProvider("full")
    with RecordingProvider.routed([sms_only, full]) as sms:
        result = sms.send(to="+14155552671", media_urls=["https://e.test/a.jpg"])
        text = sms.send(to="+14155552671", body="plain")
    assert (result.provider, text.provider) == ("full", "sms-only")
    assert [m.media_urls for m in full.sent] == [("https://e.test/a.jpg",)]
    assert [m.body for m in sms_only.sent] == ["plain"]


@pytest.mark.anyio
async def test_async_send_is_recorded() -> None:
    """asend records the message too."""
    fake = RecordingProvider()
    async with fake.bridge() as sms:
        await sms.asend(to="+14155552671", body="async")
    assert [m.body for m in fake.sent] == ["async"]
