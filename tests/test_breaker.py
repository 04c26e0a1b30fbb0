"""Circuit breaker per provider: opens after N failures, skips, probes after cool-down, closes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _routing_kit import TO, Counter, emulator, telnyx, twilio

from smsbridge import Bridge, ProviderUnavailable
from smsbridge.providers import Twilio
from smsbridge.routing import CircuitBreaker, Hooks, breaker_id
from smsbridge.routing._breaker import BreakerRuntime
from smsbridge.routing._engine import run_sync
from smsbridge.stores import MemoryStore
from smsbridge.stores._degrade import DegradeOpen
from smsbridge.testing.emulator import Emulator

__all__ = ["emulator"]

SID = "AC" + "0" * 32


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, reset for this test."""
    emulator.reset()
    yield emulator
    emulator.reset()


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Setup:
    """A bridge (Twilio first, Telnyx second) with a breaker on a hand-moved clock."""

    def __init__(self, emu: Emulator, **options: Any) -> None:
        self.clock = Clock()
        self.changes: list[tuple[str, str, str]] = []
        self.counter = Counter(emu)
        self.store = MemoryStore()
        self.breaker = CircuitBreaker(failures=2, cooldown=30, clock=self.clock)
        self.twilio, self.telnyx = twilio(emu), telnyx(emu)
        self.bridge = Bridge(
            [self.twilio, self.telnyx],
            store=self.store,
            http_client=self.counter.client(),
            retry=None,
            breaker=self.breaker,
            hooks=Hooks(on_breaker_change=lambda *change: self.changes.append(change)),
            **options,
        )

    def send(self) -> str:
        return self.bridge.send(to=TO, body="hello").provider


def test_opens_skips_probes_and_closes(emu: Emulator) -> None:
    """Two 503s open Twilio's breaker; it is skipped; after the cool-down a probe closes it."""
    setup = Setup(emu)
    emu.fault("twilio", "http_error", status=503)
    assert [setup.send(), setup.send()] == ["telnyx", "telnyx"]
    assert setup.changes == [("twilio", "closed", "open")]
    assert setup.breaker.state(setup.store, setup.twilio) == "open"

    result = setup.bridge.send(to=TO, body="skipped twilio")
    assert setup.counter.sends("twilio") == 2  # no third request: skipped while open
    assert [a.provider for a in result.attempts] == ["telnyx"]

    setup.clock.now += 31
    emu.clear_faults()
    assert setup.breaker.state(setup.store, setup.twilio) == "half_open"
    assert setup.send() == "twilio"
    assert setup.changes[1:] == [("twilio", "open", "half_open"), ("twilio", "half_open", "closed")]
    assert setup.breaker.state(setup.store, setup.twilio) == "closed"


def test_failed_probe_reopens_for_another_cooldown(emu: Emulator) -> None:
    """A probe that fails re-opens the breaker, and the provider is skipped again."""
    setup = Setup(emu)
    emu.fault("twilio", "http_error", status=503)
    setup.send()
    setup.send()
    setup.clock.now += 31
    assert setup.send() == "telnyx"  # the probe went to Twilio and failed
    assert setup.counter.sends("twilio") == 3
    assert setup.changes[-2:] == [("twilio", "open", "half_open"), ("twilio", "half_open", "open")]
    setup.clock.now += 10
    setup.send()
    assert setup.counter.sends("twilio") == 3


def test_rejections_do_not_count(emu: Emulator) -> None:
    """An opted-out recipient says nothing about Twilio's health: the breaker stays closed."""
    setup = Setup(emu)
    emu.opt_out("twilio", TO)
    for _ in range(3):
        with pytest.raises(Exception, match="opt"):
            setup.send()
    assert setup.breaker.state(setup.store, setup.twilio) == "closed"
    assert setup.changes == []


def test_success_resets_the_count(emu: Emulator) -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    setup = Setup(emu)
    emu.fault("twilio", "http_error", status=503, times=1)
    setup.send()
    assert setup.send() == "twilio"
    emu.fault("twilio", "http_error", status=503, times=1)
    setup.send()
    assert setup.breaker.state(setup.store, setup.twilio) == "closed"


def test_every_breaker_open_raises_without_a_request(emu: Emulator) -> None:
    """All candidates open: a refused ProviderUnavailable, and no request is made."""
    setup = Setup(emu)
    emu.fault("twilio", "http_error", status=503)
    emu.fault("telnyx", "http_error", status=503)
    for _ in range(2):
        with pytest.raises(Exception, match="refused"):
            setup.send()
    before = len(setup.counter.requests)
    with pytest.raises(ProviderUnavailable) as caught:
        setup.send()
    assert caught.value.failure == "refused"
    assert "circuit breaker open" in caught.value.message
    assert len(setup.counter.requests) == before


def test_only_one_probe_at_a_time() -> None:
    """In half-open, the first caller gets the probe and the next is told to skip."""
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=5, clock=clock, refresh=0)
    store = MemoryStore()
    provider = Twilio(SID, "token", from_="+15017122661")
    changes: list[tuple[str, str]] = []
    runtime = BreakerRuntime(DegradeOpen("test"), lambda p, old, new: changes.append((old, new)))

    error = ProviderUnavailable("503", failure="refused")
    run_sync(breaker.failed(provider, "closed", error, runtime), store)
    assert run_sync(breaker.allow(provider, runtime), store) == "skip"
    clock.now += 6
    assert run_sync(breaker.allow(provider, runtime), store) == "probe"
    assert run_sync(breaker.allow(provider, runtime), store) == "skip"
    assert changes == [("closed", "open"), ("open", "half_open")]
    breaker.reset(store, provider)
    assert breaker.state(store, provider) == "closed"


def test_recent_reads_spare_the_store() -> None:
    """Within ``refresh`` seconds a bridge trusts what it read; a failure makes it read again."""
    breaker = CircuitBreaker(failures=3, refresh=60)
    store = MemoryStore()
    provider = Twilio(SID, "token", from_="+15017122661")
    runtime = BreakerRuntime(DegradeOpen("test"))
    assert breaker.known(provider, runtime) is None
    assert run_sync(breaker.allow(provider, runtime), store) == "closed"
    assert breaker.known(provider, runtime) == "closed"
    store.set(breaker.keys(provider)[1], repr(breaker.clock()), None)  # another process opens it
    assert breaker.known(provider, runtime) == "closed"  # not seen yet: at most ``refresh`` late
    error = ProviderUnavailable("503", failure="refused")
    run_sync(breaker.failed(provider, "closed", error, runtime), store)
    assert breaker.known(provider, runtime) is None
    assert run_sync(breaker.allow(provider, runtime), store) == "skip"
    assert breaker.known(provider, runtime) == "skip"


def test_breaker_ids_are_stable_and_distinct() -> None:
    """The same configuration gives the same id in any process; another account another id."""
    one = Twilio(SID, "secret-token", from_="+15017122661")
    two = Twilio(SID, "secret-token", from_="+15017122661")
    other = Twilio(SID, "secret-token", from_="+15017122669")
    assert breaker_id(one) == breaker_id(two)
    assert breaker_id(one) != breaker_id(other)
    assert breaker_id(one).startswith("twilio:")
    assert "secret" not in breaker_id(one)


@pytest.mark.anyio
async def test_async_breaker_opens_and_skips(emu: Emulator) -> None:
    """asend shares the logic: two failures open the breaker, the third send skips Twilio."""
    clock = Clock()
    counter = Counter(emu)
    emu.fault("twilio", "http_error", status=503)
    async with Bridge(
        [twilio(emu), telnyx(emu)],
        async_http_client=counter.async_client(),
        retry=None,
        breaker=CircuitBreaker(failures=2, cooldown=30, clock=clock),
    ) as bridge:
        for _ in range(3):
            result = await bridge.asend(to=TO, body="hello")
            assert result.provider == "telnyx"
    assert counter.sends("twilio") == 2
