"""Rate limits shared by every process that sends: per provider and per sender, in the store.

A send draws one slot from each bucket that applies to it (its provider's, its sender's) before
its request leaves. Buckets are GCRA (the generic cell rate algorithm): one number per bucket,
its *theoretical arrival time*, kept in the store and moved by one atomic store operation, so
every process on every machine sharing the store shares one budget.

The store operation is a *reservation* (``Store.reserve``):
it always takes the next free slot and answers how long to wait for it, so N concurrent
senders get N distinct slots and never exceed the rate, and none of them polls. The send
sleeps that long, then sends. A ``429`` with ``Retry-After`` pauses the buckets
(``Store.pause``) so every process slows down, not just
the one that was told.

Store keys (under the store's own prefix): ``rate:p:<provider name>`` and
``rate:s:<provider name>:<sender>``.

Rate limits are not a safety property (idempotency is): when the store cannot be reached the
send goes ahead without them, logged once per outage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from smsbridge._errors import ConfigError, StoreUnavailable
from smsbridge.routing._effects import Plan, Sleep, StoreOp

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage
    from smsbridge.providers._base import Provider
    from smsbridge.stores._degrade import DegradeOpen

__all__ = ["PROVIDER_KEY", "SENDER_KEY", "Bucket", "RateLimits", "acquire", "pause", "sender_of"]

PROVIDER_KEY = "rate:p:"
SENDER_KEY = "rate:s:"

#: ``(store key, seconds between messages, burst)``: one bucket as the store sees it.
Bucket = tuple[str, float, int]


def _rate(value: Any, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(
            f"RateLimits {where} must be a positive number of messages per second",
            variable="rate_limits",
        )
    return float(value)


def _rates(value: Any, what: str) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"RateLimits {what} must be a mapping of names to messages per second",
            variable="rate_limits",
        )
    checked: dict[str, float] = {}
    for name, rate in value.items():
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ConfigError(
                f"RateLimits {what} keys must be non-empty names without spaces around them",
                variable="rate_limits",
            )
        checked[name] = _rate(rate, f"{what}[{name!r}]")
    # A private copy behind a read-only view: the value cannot change after validation.
    return MappingProxyType(checked)


@dataclass(frozen=True)
class RateLimits:
    """How fast messages may leave, per provider and per sender, shared through the store.

    Examples:
        >>> from smsbridge.routing import RateLimits
        >>> from smsbridge.stores import RedisStore
        >>> sms = Bridge(
        ...     [twilio, telnyx],
        ...     store=RedisStore("redis://redis.internal:6379/0"),
        ...     rate_limits=RateLimits(
        ...         providers={twilio.name: 100},       # the account-wide cap
        ...         senders={"+15017122661": 1},        # a US long code
        ...         sender_default=3,                   # every other sender
        ...     ),
        ... )

    Args:
        providers: messages per second per provider name (``Provider.name``, as in
            ``SMSBRIDGE_PROVIDERS``), over all of its senders.
        senders: messages per second per sender, as the message is sent from: an E.164 number,
            a short code, an alphanumeric id, or a messaging service / profile id for a
            provider that sends from a pool.
        sender_default: messages per second of every sender not in ``senders`` (``None``:
            unlimited).
        burst: messages a bucket lets through at once after a quiet spell (1: strictly
            spaced). Over any stretch of ``t`` seconds a bucket allows at most
            ``burst + rate * t`` messages.
        headroom: the fraction by which sends are paced under each rate (default 0.02: 50/s
            is paced at one message every 20.4 ms). Requests reach the provider with a few
            milliseconds of jitter, so a sender paced at exactly the limit is, now and then,
            seen above it; the default absorbs 20 ms of jitter per second of sending. 0 paces
            at exactly the rate.

    Raises:
        ConfigError: (``variable="rate_limits"``) a rate that is not a positive number, a
            name that is empty, a burst below 1, or a headroom outside [0, 1).
    """

    providers: Mapping[str, float] = field(default_factory=dict)
    senders: Mapping[str, float] = field(default_factory=dict)
    sender_default: float | None = None
    burst: int = 1
    headroom: float = 0.02

    def __post_init__(self) -> None:
        object.__setattr__(self, "providers", _rates(self.providers, "providers"))
        object.__setattr__(self, "senders", _rates(self.senders, "senders"))
        if self.sender_default is not None:
            object.__setattr__(self, "sender_default", _rate(self.sender_default, "sender_default"))
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise ConfigError(
                "RateLimits burst must be an int of 1 or more", variable="rate_limits"
            )
        headroom = self.headroom
        if isinstance(headroom, bool) or not isinstance(headroom, (int, float)):
            headroom = -1.0
        if not 0.0 <= headroom < 1.0:
            raise ConfigError(
                "RateLimits headroom must be a fraction in [0, 1)", variable="rate_limits"
            )
        object.__setattr__(self, "headroom", float(headroom))

    def __hash__(self) -> int:
        return hash(
            (
                tuple(sorted(self.providers.items())),
                tuple(sorted(self.senders.items())),
                self.sender_default,
                self.burst,
                self.headroom,
            )
        )

    def buckets(self, provider: Provider, message: OutboundMessage) -> tuple[Bucket, ...]:
        """The buckets a send of ``message`` through ``provider`` draws on (may be none)."""
        found: list[Bucket] = []
        spacing = 1.0 + self.headroom
        per_provider = self.providers.get(provider.name)
        if per_provider is not None:
            found.append((PROVIDER_KEY + provider.name, spacing / per_provider, self.burst))
        if self.senders or self.sender_default is not None:
            sender = sender_of(provider, message)
            if sender is not None:
                per_sender = self.senders.get(sender, self.sender_default)
                if per_sender is not None:
                    key = f"{SENDER_KEY}{provider.name}:{sender}"
                    found.append((key, spacing / per_sender, self.burst))
        return tuple(found)

    def __repr__(self) -> str:
        return (
            f"RateLimits(providers={dict(self.providers)!r}, senders={dict(self.senders)!r}, "
            f"sender_default={self.sender_default!r}, burst={self.burst!r}, "
            f"headroom={self.headroom!r})"
        )


def sender_of(provider: Provider, message: OutboundMessage) -> str | None:
    """The sender a send goes out from: the message's ``from_``, else the provider's own, else
    the last non-empty part of its ``identity`` (a
    messaging service or profile that picks the number itself); ``None`` when there is none."""
    if message.from_:
        return message.from_
    if provider.from_:
        return provider.from_
    for part in reversed(provider.identity()):
        if part:
            return part
    return None


# -- the plan steps (driven sync or async by the engine) --------------------------------------
def acquire(
    limits: RateLimits, provider: Provider, message: OutboundMessage, guard: DegradeOpen
) -> Plan[None]:
    """Reserve a slot in every bucket the send draws on, then wait for it.

    One store operation for all of them, so the slot is the first moment *every* bucket
    allows: reserving them one by one would let the provider's wait push a send past the
    sender's slot and bunch up sends from that sender afterwards.
    """
    buckets = limits.buckets(provider, message)
    if not buckets or not guard.should_try():
        return
    try:
        wait = yield StoreOp("reserve", (buckets,))
    except StoreUnavailable as exc:
        guard.failed(exc)  # send anyway: a rate limit is not worth an outage
        return
    guard.recovered()
    if wait > 0:
        yield Sleep(wait)


def pause(
    limits: RateLimits,
    provider: Provider,
    message: OutboundMessage,
    seconds: float,
    guard: DegradeOpen,
) -> Plan[None]:
    """Hold every bucket of this send for ``seconds`` (a provider's ``Retry-After``), so every
    process waits it out rather than only the one that was told."""
    buckets = limits.buckets(provider, message)
    if not buckets or seconds <= 0 or not guard.should_try():
        return
    try:
        for key, interval, burst in buckets:
            # The bucket lets ``burst`` through at once when it is due; pushing it a burst
            # further makes the first send after the pause wait the full ``seconds``.
            yield StoreOp("pause", (key, seconds + (burst - 1) * interval))
    except StoreUnavailable as exc:
        guard.failed(exc)
        return
    guard.recovered()
