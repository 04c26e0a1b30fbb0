"""A circuit breaker per provider, with its state in the store so every process agrees.

States: *closed* (used normally), *open* (skipped), *half-open* (one probe allowed). Keys, under
the store's own prefix, per provider:

* ``breaker:<id>:fails``: consecutive refused/ambiguous failures (counter; expires ``window``
  seconds after the first of a run, so a slow trickle of failures does not add up forever).
  A success resets it.
* ``breaker:<id>:open``: wall-clock time the breaker opened; absent when closed.
* ``breaker:<id>:probe``: claimed (SET NX) by the one caller allowed to probe after the
  cool-down; expires after ``probe_timeout`` so a probe that died frees the slot.

To keep the store (a Redis round trip) off the path of ordinary sends, each bridge keeps a
little local knowledge (``BreakerRuntime``): what it last read of a breaker, trusted for
``refresh`` seconds (so a breaker another process opened is seen within that time), and when
it last reset the failure count (it writes the reset at once after failures it saw itself,
otherwise at most once per ``refresh`` seconds).

The times in the store are wall-clock (``time.time``) because they are compared across
processes and machines: keep clocks in sync (NTP) and the cool-down is honoured to within
their skew.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from smsbridge._errors import ConfigError, StoreUnavailable
from smsbridge.routing._effects import Plan, StoreOp

if TYPE_CHECKING:
    from smsbridge._errors import SmsBridgeError
    from smsbridge.providers._base import Provider
    from smsbridge.stores._base import Store
    from smsbridge.stores._degrade import DegradeOpen

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "BreakerState", "CircuitBreaker", "Verdict", "breaker_id"]

BreakerState = Literal["closed", "open", "half_open"]
"""A circuit breaker's state: ``"closed"`` (the provider is used), ``"open"`` (it is skipped)
or ``"half_open"`` (one probe is let through after the cool-down). ``Hooks.on_breaker_change``
receives the old and the new one."""
CLOSED: BreakerState = "closed"
OPEN: BreakerState = "open"
HALF_OPEN: BreakerState = "half_open"

# What allow() decided: "closed" (go), "probe" (go, and this call decides the breaker),
# "skip" (open: do not use), "unknown" (the store is down: go, degraded open).
Verdict = Literal["closed", "probe", "skip", "unknown"]

Notify = Callable[["Provider", BreakerState, BreakerState], None]


def breaker_id(provider: Provider) -> str:
    """A stable id for ``provider``'s breaker: the same configuration gives the same id in
    every process (``Provider.breaker_key``:
    name plus a digest of its endpoint, account and sender; no secrets)."""
    return provider.breaker_key


def keys_of(provider: Provider) -> tuple[str, str, str]:
    """The store keys ``(fails, open, probe)`` of ``provider``'s breaker."""
    base = "breaker:" + provider.breaker_key
    return base + ":fails", base + ":open", base + ":probe"


class BreakerRuntime:
    """One bridge's local side of its breakers: store outage handling, change reports, and
    the short-lived knowledge that keeps the store off the path of ordinary sends.

    Args:
        guard: degrades breakers open while the store is down (logged once per outage).
        notify: called ``(provider, old_state, new_state)`` on every change this bridge makes.
    """

    def __init__(self, guard: DegradeOpen, notify: Notify | None = None) -> None:
        self.guard = guard
        self.notify: Notify = notify or (lambda provider, old, new: None)
        # open key -> (monotonic time until which it is trusted, the open mark read)
        self.seen: dict[str, tuple[float, str | None]] = {}
        # fails key -> monotonic time of this bridge's last reset; absent after a failure
        self.resets: dict[str, float] = {}


@dataclass(frozen=True)
class CircuitBreaker:
    """Skip a provider that keeps failing; probe it again after a cool-down.

    Examples:
        >>> from smsbridge.routing import CircuitBreaker
        >>> sms = Bridge([twilio, telnyx], breaker=CircuitBreaker(failures=5, cooldown=30))

        With ``store=RedisStore(...)`` every process shares each provider's breaker.

    Args:
        failures: consecutive refused or ambiguous failures that open the breaker.
        cooldown: seconds the breaker stays open before one probe is let through.
        window: seconds a run of failures may span (counted from its first failure).
        probe_timeout: seconds a probe holds the half-open slot (default: ``cooldown``).
        refresh: seconds a bridge trusts what it last read of a breaker (see the module
            docstring); 0 reads the store before every request.
        clock: wall-clock seconds, shared by every process (injectable for tests).
    """

    failures: int = 5
    cooldown: float = 30.0
    window: float = 60.0
    probe_timeout: float | None = None
    refresh: float = 1.0
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        if self.failures < 1:
            raise ConfigError("CircuitBreaker failures must be 1 or more", variable="breaker")
        if self.cooldown <= 0 or self.window <= 0 or self.refresh < 0:
            raise ConfigError("CircuitBreaker times must be positive", variable="breaker")

    @property
    def _open_ttl(self) -> float:
        # The open mark outlives any sensible cool-down, but not a provider removed for good.
        return max(86_400.0, self.cooldown * 10)

    @staticmethod
    def keys(provider: Provider) -> tuple[str, str, str]:
        """The store keys ``(fails, open, probe)`` of ``provider``'s breaker."""
        return keys_of(provider)

    # -- the plan steps (driven sync or async by the engine) --------------------------------
    def known(self, provider: Provider, runtime: BreakerRuntime) -> Verdict | None:
        """The verdict from what this bridge read recently, or ``None``: ask the store.

        A plain call, not a plan: it is on the path of every send.
        """
        entry = runtime.seen.get(keys_of(provider)[1])
        if entry is None or time.monotonic() >= entry[0]:
            return None
        if entry[1] is None:
            return "closed"
        if self.clock() < _float(entry[1]) + self.cooldown:
            return "skip"
        return None  # cool-down over: the store decides who probes

    def allow(self, provider: Provider, runtime: BreakerRuntime) -> Plan[Verdict]:
        """Whether ``provider`` may be used now (reads the store)."""
        guard = runtime.guard
        if not guard.should_try():
            return "unknown"
        _, open_key, probe_key = keys_of(provider)
        try:
            opened = yield StoreOp("get", (open_key,))
            if self.refresh > 0:
                runtime.seen[open_key] = (time.monotonic() + self.refresh, opened)
            if opened is None:
                guard.recovered()
                return "closed"
            now = self.clock()
            if now < _float(opened) + self.cooldown:
                guard.recovered()
                return "skip"
            timeout = self.probe_timeout if self.probe_timeout is not None else self.cooldown
            claimed = yield StoreOp("claim", (probe_key, repr(now), timeout))
        except StoreUnavailable as exc:
            guard.failed(exc)
            return "unknown"
        guard.recovered()
        if not claimed:
            return "skip"
        runtime.notify(provider, OPEN, HALF_OPEN)
        return "probe"

    def must_record_success(
        self, provider: Provider, verdict: Verdict, runtime: BreakerRuntime
    ) -> bool:
        """Whether a success must be written to the store (usually not: the count was reset
        recently and this bridge saw no failure since)."""
        if verdict == "probe":
            return True
        if verdict == "unknown" and not runtime.guard.should_try():
            return False
        last = runtime.resets.get(keys_of(provider)[0])
        return last is None or time.monotonic() - last >= self.refresh

    def succeeded(
        self, provider: Provider, verdict: Verdict, runtime: BreakerRuntime
    ) -> Plan[None]:
        """Record a success: reset the failure count; a successful probe closes the breaker."""
        if not self.must_record_success(provider, verdict, runtime):
            return
        fails_key, open_key, probe_key = keys_of(provider)
        runtime.resets[fails_key] = time.monotonic()
        try:
            yield StoreOp("delete", (fails_key,))
            if verdict == "probe":
                yield StoreOp("delete", (open_key,))
                yield StoreOp("delete", (probe_key,))
                runtime.seen.pop(open_key, None)
        except StoreUnavailable as exc:
            runtime.guard.failed(exc)
            return
        runtime.guard.recovered()
        if verdict == "probe":
            runtime.notify(provider, HALF_OPEN, CLOSED)

    def failed(
        self, provider: Provider, verdict: Verdict, error: SmsBridgeError, runtime: BreakerRuntime
    ) -> Plan[None]:
        """Record a failure: count it; open the breaker at the threshold; a failed probe
        re-opens it for another cool-down. Rejected errors say nothing about the provider."""
        if error.failure not in ("refused", "ambiguous"):
            return
        guard = runtime.guard
        if verdict == "unknown" and not guard.should_try():
            return
        fails_key, open_key, probe_key = keys_of(provider)
        runtime.resets.pop(fails_key, None)  # the next success resets the count at once
        runtime.seen.pop(open_key, None)  # this failure may change the state: read it again
        change: tuple[BreakerState, BreakerState] | None = None
        try:
            count = yield StoreOp("incr", (fails_key, self.window))
            if verdict == "probe":
                yield StoreOp("set", (open_key, repr(self.clock()), self._open_ttl))
                yield StoreOp("delete", (probe_key,))
                change = (HALF_OPEN, OPEN)
            elif count >= self.failures and (
                yield StoreOp("claim", (open_key, repr(self.clock()), self._open_ttl))
            ):
                # Only the caller whose claim wins reports the change: the others just count.
                change = (CLOSED, OPEN)
        except StoreUnavailable as exc:
            guard.failed(exc)
            return
        guard.recovered()
        if change is not None:
            runtime.notify(provider, *change)

    def read_state(self, provider: Provider) -> Plan[BreakerState]:
        """The breaker's state as stored (no side effects)."""
        open_key = self.keys(provider)[1]
        opened = yield StoreOp("get", (open_key,))
        if opened is None:
            return CLOSED
        if self.clock() < _float(opened) + self.cooldown:
            return OPEN
        return HALF_OPEN

    def clear(self, provider: Provider) -> Plan[None]:
        """Forget everything about ``provider``'s breaker (closed, no failures)."""
        for key in self.keys(provider):
            yield StoreOp("delete", (key,))

    # -- inspection, for operators and tests ----------------------------------------------
    def state(self, store: Store, provider: Provider) -> BreakerState:
        """``provider``'s breaker state in ``store``: ``"closed"``, ``"open"``, ``"half_open"``."""
        from smsbridge.routing._engine import run_sync

        return run_sync(self.read_state(provider), store)

    async def astate(self, store: Store, provider: Provider) -> BreakerState:
        """Async twin of ``state``."""
        from smsbridge.routing._engine import run_async

        return await run_async(self.read_state(provider), store)

    def reset(self, store: Store, provider: Provider) -> None:
        """Close ``provider``'s breaker and forget its failures."""
        from smsbridge.routing._engine import run_sync

        run_sync(self.clear(provider), store)

    async def areset(self, store: Store, provider: Provider) -> None:
        """Async twin of ``reset``."""
        from smsbridge.routing._engine import run_async

        await run_async(self.clear(provider), store)


def _float(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        # Not ours or corrupted: treat as opened long ago, so the next call probes.
        return 0.0
