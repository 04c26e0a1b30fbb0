"""Idempotency keys on one process (MemoryStore): one send per key, replay, wait, release."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from _routing_kit import TO, Counter, emu, emulator, telnyx, twilio

from smsbridge import (
    Bridge,
    IdempotencyConflict,
    InvalidRecipient,
    InvalidRequest,
    ProviderUnavailable,
    SendResult,
)
from smsbridge.routing._idempotency import store_key
from smsbridge.stores import MemoryStore
from smsbridge.testing.emulator import Emulator

__all__ = ["emu", "emulator"]


def _bridge(emu: Emulator, counter: Counter, store: MemoryStore, **options: Any) -> Bridge:
    options.setdefault("sleep", lambda seconds: None)
    return Bridge([twilio(emu), telnyx(emu)], store=store, http_client=counter.client(), **options)


def test_same_key_twice_sends_once(emu: Emulator) -> None:
    """The second send with the key returns the first result without a request."""
    counter, store = Counter(emu), MemoryStore()
    bridge = _bridge(emu, counter, store)
    first = bridge.send(to=TO, body="code 1", idempotency_key="otp-1")
    second = bridge.send(to=TO, body="code 1", idempotency_key="otp-1")
    assert counter.sends("twilio") == 1
    assert len(emu.messages()) == 1
    assert second.provider_message_id == first.provider_message_id
    assert (second.provider, second.status, second.to) == (first.provider, first.status, first.to)
    assert second.attempts == ()  # nothing was tried this time
    assert len(first.attempts) == 1


def test_key_reused_for_another_message_is_rejected(emu: Emulator) -> None:
    """A key already used for a different body is an InvalidRequest, and nothing is sent."""
    counter, store = Counter(emu), MemoryStore()
    bridge = _bridge(emu, counter, store)
    bridge.send(to=TO, body="code 1", idempotency_key="otp-2")
    with pytest.raises(InvalidRequest) as caught:
        bridge.send(to=TO, body="code 2", idempotency_key="otp-2")
    assert caught.value.failure == "rejected"
    assert counter.sends("twilio") == 1


def test_a_rejected_send_releases_its_key(emu: Emulator) -> None:
    """Nothing was sent after a rejection, so the same key may try again later."""
    emu.fault("twilio", "error_code", code=21211, times=1)
    counter, store = Counter(emu), MemoryStore()
    bridge = _bridge(emu, counter, store)
    with pytest.raises(InvalidRecipient):
        bridge.send(to=TO, body="hi", idempotency_key="otp-3")
    assert store.get(store_key("otp-3")) is None
    result = bridge.send(to=TO, body="hi", idempotency_key="otp-3")
    assert result.provider == "twilio"
    assert counter.sends("twilio") == 2


def test_ambiguous_blocks_a_resend_of_the_key(emu: Emulator) -> None:
    """After an ambiguous failure, repeating the key raises again and sends nothing."""
    emu.fault("twilio", "accept_then_hang", times=1)
    counter, store = Counter(emu), MemoryStore()
    bridge = _bridge(emu, counter, store)
    with pytest.raises(ProviderUnavailable) as first:
        bridge.send(to=TO, body="hi", idempotency_key="otp-4")
    assert first.value.failure == "ambiguous"
    with pytest.raises(ProviderUnavailable) as again:
        bridge.send(to=TO, body="hi", idempotency_key="otp-4")
    assert again.value.failure == "ambiguous"
    assert again.value.provider == "twilio"
    assert "may have been sent" in again.value.message
    assert counter.sends("twilio") == 1
    assert counter.sends("telnyx") == 0


def test_at_least_once_takes_over_an_ambiguous_key(emu: Emulator) -> None:
    """With at_least_once, repeating an ambiguous key sends again (the opt-in)."""
    emu.fault("twilio", "accept_then_hang", times=1)
    counter, store = Counter(emu), MemoryStore()
    bridge = _bridge(emu, counter, store, retry=None)
    with pytest.raises(ProviderUnavailable):
        bridge.send(to=TO, body="hi", idempotency_key="otp-5")
    eager = _bridge(emu, counter, store, retry=None, delivery="at_least_once")
    result = eager.send(to=TO, body="hi", idempotency_key="otp-5")
    assert result.provider == "twilio"
    assert counter.sends("twilio") == 2
    assert eager.send(to=TO, body="hi", idempotency_key="otp-5").attempts == ()


def test_in_flight_key_waits_then_replays_or_gives_up(emu: Emulator) -> None:
    """A repeat while the first is in flight waits for it (bounded) instead of sending."""
    emu.fault("twilio", "latency", seconds=0.4, times=1)
    counter, store = Counter(emu), MemoryStore()
    slow = Bridge([twilio(emu)], store=store, http_client=counter.client())
    results: list[SendResult] = []
    worker = threading.Thread(
        target=lambda: results.append(slow.send(to=TO, body="hi", idempotency_key="otp-6"))
    )
    worker.start()
    while store.get(store_key("otp-6")) is None:
        threading.Event().wait(0.005)
    impatient = Bridge([twilio(emu)], store=store, http_client=counter.client(), idempotency_wait=0)
    with pytest.raises(IdempotencyConflict) as caught:
        impatient.send(to=TO, body="hi", idempotency_key="otp-6")
    assert caught.value.failure == "refused"
    patient = Bridge([twilio(emu)], store=store, http_client=counter.client())
    replayed = patient.send(to=TO, body="hi", idempotency_key="otp-6")
    worker.join()
    assert replayed.provider_message_id == results[0].provider_message_id
    assert counter.sends("twilio") == 1


def test_keys_expire_after_the_ttl(emu: Emulator) -> None:
    """idempotency_ttl bounds the memory: after it, the key sends again."""
    now = [0.0]
    counter, store = Counter(emu), MemoryStore(clock=lambda: now[0])
    bridge = _bridge(emu, counter, store, idempotency_ttl=60)
    bridge.send(to=TO, body="hi", idempotency_key="otp-7")
    now[0] = 59
    bridge.send(to=TO, body="hi", idempotency_key="otp-7")
    now[0] = 61
    bridge.send(to=TO, body="hi", idempotency_key="otp-7")
    assert counter.sends("twilio") == 2


def test_long_keys_are_digested() -> None:
    """Keys longer than 200 characters are stored under a digest of fixed length."""
    assert store_key("k" * 1000) != store_key("k" * 999)
    assert len(store_key("k" * 1000)) < 100
    assert store_key("short") == "idem:short"


@pytest.mark.anyio
async def test_async_same_key_twice_sends_once(emu: Emulator) -> None:
    """asend honours the key exactly like send."""
    counter, store = Counter(emu), MemoryStore()
    async with Bridge(
        [twilio(emu), telnyx(emu)], store=store, async_http_client=counter.async_client()
    ) as bridge:
        first = await bridge.asend(to=TO, body="hi", idempotency_key="otp-8")
        second = await bridge.asend(to=TO, body="hi", idempotency_key="otp-8")
    assert second.provider_message_id == first.provider_message_id
    assert counter.sends("twilio") == 1
