"""Scheduled sends, cancel and fetch through the Bridge, against the emulator over HTTP: the
window each provider declares decides where a message can go, before any request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from _routing_kit import TELNYX_FROM, TO, telnyx

from smsbridge import (
    Bridge,
    InvalidRequest,
    MessageNotFound,
    MessageStatus,
    NotCancellable,
    SchedulingUnavailable,
    Unsupported,
)
from smsbridge.providers import Twilio, Vonage
from smsbridge.testing.emulator import Emulator

SERVICE = "MG" + "5" * 32


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(progress_delay=0.01, deliver_callbacks=False) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, reset (clock included) before and after the test."""
    emulator.reset()
    yield emulator
    emulator.wait_idle(5)
    emulator.reset()


def twilio(emu: Emulator, **kw: Any) -> Twilio:
    """Twilio sending through a messaging service, as scheduling needs."""
    kw.setdefault("messaging_service_sid", SERVICE)
    return Twilio(emu.twilio_account_sid, emu.twilio_auth_token, base_url=emu.twilio_url, **kw)


def vonage(emu: Emulator) -> Vonage:
    return Vonage(
        emu.vonage_api_key, emu.vonage_api_secret, from_="+15017122663", base_url=emu.vonage_url
    )


def later(**delta: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(**delta)


def test_a_scheduled_send_is_held_then_sent(emu: Emulator) -> None:
    """The result says scheduled, with the time; the message goes out when its time comes."""
    when = later(hours=2)
    with Bridge(twilio(emu)) as sms:
        result = sms.send(to=TO, body="Reminder", send_at=when)
        assert result.status is MessageStatus.SCHEDULED
        assert result.send_at == when.replace(microsecond=0)
        assert sms.fetch(result).status is MessageStatus.SCHEDULED
        emu.advance(2 * 3600 + 1)
        assert emu.wait_idle(5)
        assert sms.fetch(result).status is MessageStatus.DELIVERED


def test_scheduling_goes_to_a_provider_whose_window_holds_it(emu: Emulator) -> None:
    """Only providers that can hold the message until then are tried, in policy order."""
    no_service = Twilio(
        emu.twilio_account_sid, emu.twilio_auth_token, from_="+15017122661", base_url=emu.twilio_url
    )
    with Bridge([no_service, telnyx(emu)]) as sms:
        soon = sms.send(to=TO, body="in an hour", send_at=later(hours=1))
    assert soon.provider == "telnyx"  # Twilio without a messaging service cannot schedule
    with Bridge([telnyx(emu), twilio(emu)]) as sms:
        far = sms.send(to=TO, body="in ten days", send_at=later(days=10))
    assert far.provider == "twilio"  # past Telnyx's 5 days
    assert far.status is MessageStatus.SCHEDULED


def test_no_provider_can_hold_it(emu: Emulator) -> None:
    """Each configured provider's reason, before any request."""
    no_service = Twilio(
        emu.twilio_account_sid, emu.twilio_auth_token, from_="+15017122661", base_url=emu.twilio_url
    )
    sms = Bridge([no_service, telnyx(emu), vonage(emu)])
    with sms, pytest.raises(SchedulingUnavailable) as caught:
        sms.send(to=TO, body="x", send_at=later(days=40))
    text = str(caught.value)
    assert "twilio: scheduling on Twilio needs a messaging service" in text
    assert "telnyx: send_at must be at most 5 days ahead" in text
    assert "vonage: it cannot schedule messages" in text
    assert caught.value.code == "scheduling_unavailable"
    assert caught.value.failure == "rejected"
    assert emu.messages() == []


@pytest.mark.parametrize(
    ("send_at", "words"),
    [
        (datetime(2030, 1, 1, 9), "timezone-aware"),
        (later(minutes=-1), "not in the future"),
        ("2030-01-01T09:00:00Z", "must be a datetime"),
    ],
)
def test_bad_send_at_is_refused_before_any_request(emu: Emulator, send_at: Any, words: str) -> None:
    with Bridge(twilio(emu)) as sms, pytest.raises(InvalidRequest, match=words):
        sms.send(to=TO, body="x", send_at=send_at)
    assert emu.messages() == []


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_cancel_fetch_and_cancel_again(emu: Emulator, name: str) -> None:
    """A cancelled message reads back canceled (Telnyx's 'cancelled' too); cancelling twice
    returns it again; an unknown id and a sent message are typed errors."""
    provider = twilio(emu) if name == "twilio" else telnyx(emu)
    with Bridge(provider) as sms:
        result = sms.send(to=TO, body="cancel me", send_at=later(hours=3))
        canceled = sms.cancel(result)
        assert canceled.status is MessageStatus.CANCELED
        assert sms.cancel(result).status is MessageStatus.CANCELED
        fetched = sms.fetch(name, result.provider_message_id)
        assert fetched.status is MessageStatus.CANCELED
        assert fetched.raw_status in ("canceled", "cancelled")

        sent = sms.send(to=TO, body="now")
        assert emu.wait_idle(5)
        with pytest.raises(NotCancellable):
            sms.cancel(sent)
        unknown = "SM" + "0" * 32 if name == "twilio" else "40000000-0000-4000-8000-000000000000"
        with pytest.raises(MessageNotFound):
            sms.fetch(name, unknown)
    assert [m["status"] for m in emu.messages(name) if m["text"] == "cancel me"] == [
        "canceled" if name == "twilio" else "cancelled"
    ]


def test_a_provider_that_cannot_is_refused_before_any_request(emu: Emulator) -> None:
    with Bridge(vonage(emu)) as sms:
        for call in (sms.fetch, sms.cancel):
            with pytest.raises(Unsupported, match="vonage cannot"):
                call("vonage", "0f7b2a5e-0000-4000-8000-000000000000")
        with pytest.raises(InvalidRequest):
            sms.fetch("vonage")  # a provider name needs an id


def test_scheduled_items_of_send_many(emu: Emulator) -> None:
    when = later(hours=1)
    with Bridge(telnyx(emu)) as sms:
        items = list(
            sms.send_many(
                [{"to": TO, "body": f"later {i}", "send_at": when} for i in range(3)]
                + [{"to": TO, "body": "naive", "send_at": datetime(2030, 1, 1)}]
            )
        )
    by_index = {item.index: item for item in items}
    assert all(by_index[i].result.status is MessageStatus.SCHEDULED for i in range(3))  # type: ignore[union-attr]
    assert by_index[3].error is not None
    assert by_index[3].error.code == "invalid_request"
    assert {m["from"] for m in emu.messages("telnyx")} == {TELNYX_FROM}


@pytest.mark.anyio
async def test_async_twins(emu: Emulator) -> None:
    """asend with send_at, acancel and afetch, on asyncio and trio."""
    async with Bridge([telnyx(emu), twilio(emu)]) as sms:
        result = await sms.asend(to=TO, body="async later", send_at=later(hours=1))
        assert result.status is MessageStatus.SCHEDULED
        assert (await sms.afetch(result)).status is MessageStatus.SCHEDULED
        assert (await sms.acancel(result)).status is MessageStatus.CANCELED
        assert (await sms.acancel(result)).status is MessageStatus.CANCELED
        with pytest.raises(MessageNotFound):
            await sms.afetch("twilio", "SM" + "0" * 32)


def test_an_idempotent_scheduled_send_replays_with_its_time(emu: Emulator) -> None:
    """The same key returns the stored scheduled result, time included; the same key with
    another time is another message, refused."""
    when = later(hours=4)
    with Bridge(telnyx(emu)) as sms:
        first = sms.send(to=TO, body="once", send_at=when, idempotency_key="k-1")
        again = sms.send(to=TO, body="once", send_at=when, idempotency_key="k-1")
        assert again.provider_message_id == first.provider_message_id
        assert again.status is MessageStatus.SCHEDULED
        assert again.send_at == first.send_at
        with pytest.raises(InvalidRequest, match="different message"):
            sms.send(to=TO, body="once", send_at=when + timedelta(hours=1), idempotency_key="k-1")
    assert len(emu.messages("telnyx")) == 1
