"""Routing settings: the typed routing arguments of ``Bridge``, validated.

=====================  =====================================================================
argument               meaning
=====================  =====================================================================
``retry``              ``Retry`` (``None``: no retries)
``breaker``            ``CircuitBreaker``, or ``None`` for none
``hooks``              ``Hooks`` (``on_attempt``, ``on_failover``,
                       ``on_breaker_change``)
``idempotency_ttl``    seconds an idempotency key is remembered (default 24 h)
``idempotency_wait``   seconds a repeated key waits for the send in flight (default 10)
``reconcile``          read back recent messages after an ambiguous failure or any 5xx,
                       before any re-send, on providers that support it (Twilio). Default
                       ``False``
``reconcile_delay``    seconds to wait before that read-back (default 1)
``any_sender``         ``send(from_=...)`` may use providers that do not own that sender;
                       they send from their own (default ``False``: owners only)
``rate_limits``        ``RateLimits`` per provider and sender, shared
                       through the store (default ``None``: none, and no store call for them)
``sleep``              how the sync engine waits (default ``time.sleep``)
``async_sleep``        how the async engine waits (default ``anyio.sleep``)
``random``             ``() -> float`` in [0, 1) for retry jitter (default ``random.random``)
=====================  =====================================================================

Deprecated spellings, accepted with a ``DeprecationWarning`` until the next release:
``retry=<int>`` (use ``Retry(total=n)``), ``retry=False`` and ``breaker=False`` (use ``None``),
and
``on_attempt=``/``on_failover=``/``on_breaker_change=`` (use ``hooks=Hooks(...)``).
"""

from __future__ import annotations

import dataclasses
import os
import random as _random
import sys
import time
import types
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from smsbridge._errors import ConfigError
from smsbridge.routing._breaker import BreakerRuntime, CircuitBreaker
from smsbridge.routing._observe import Hooks
from smsbridge.routing._rates import RateLimits
from smsbridge.routing._retry import Retry
from smsbridge.stores._degrade import DegradeOpen

if TYPE_CHECKING:
    from smsbridge.providers._base import Provider

__all__ = ["RoutingSettings"]

_RATE_OPS = ("reserve", "pause", "areserve", "apause")


async def _anyio_sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{name} must be a number of seconds >= 0", variable=name)
    return float(value)


def _callable(name: str, value: Any) -> Any:
    if not callable(value):
        raise ConfigError(f"{name} must be callable", variable=name)
    return value


@dataclass
class RoutingSettings:
    """The routing part of a bridge's configuration, validated: ``Bridge.routing``.

    ``Bridge(...)`` builds it from its routing keywords (``retry``, ``breaker``, ``hooks``,
    ``idempotency_ttl``, ``idempotency_wait``, ``reconcile``, ``reconcile_delay``,
    ``any_sender``, ``rate_limits``, ``sleep``, ``async_sleep``, ``random``), which are
    documented on ``Bridge``; read it to see what a bridge was configured with.

    Examples:
        >>> from smsbridge.routing import Retry
        >>> sms = Bridge([twilio, telnyx], retry=Retry(total=3), idempotency_wait=5)
        >>> sms.routing.retry.total, sms.routing.idempotency_wait, sms.routing.reconcile
        (3, 5.0, False)
    """

    retry: Retry = field(default_factory=Retry)
    breaker: CircuitBreaker | None = field(default_factory=CircuitBreaker)
    idempotency_ttl: float = 86_400.0
    idempotency_wait: float = 10.0
    reconcile: bool = False
    reconcile_delay: float = 1.0
    any_sender: bool = False
    rate_limits: RateLimits | None = None
    hooks: Hooks = field(default_factory=Hooks)
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = _anyio_sleep
    random: Callable[[], float] = _random.random
    breaker_guard: DegradeOpen = field(default_factory=lambda: DegradeOpen("circuit breaker"))
    breaker_runtime: BreakerRuntime = field(init=False)
    rate_guard: DegradeOpen = field(default_factory=lambda: DegradeOpen("rate limits"))

    def __post_init__(self) -> None:
        self.breaker_runtime = BreakerRuntime(self.breaker_guard, self.hooks.breaker)

    @classmethod
    def build(
        cls,
        *,
        retry: Retry | int | None,
        breaker: CircuitBreaker | bool | None,
        hooks: Hooks | None,
        idempotency_ttl: float,
        idempotency_wait: float,
        reconcile: bool,
        reconcile_delay: float,
        any_sender: bool,
        sleep: Callable[[float], None] | None,
        async_sleep: Callable[[float], Awaitable[None]] | None,
        random: Callable[[], float] | None,
        on_attempt: Any = None,
        on_failover: Any = None,
        on_breaker_change: Any = None,
        rate_limits: RateLimits | None = None,
        store: Any = None,
        providers: tuple[Provider, ...] = (),
    ) -> RoutingSettings:
        """Validate the bridge's routing arguments (see the module docstring).

        ``store`` and ``providers`` (the bridge's) are only checked against ``rate_limits``:
        the store must keep rate buckets, and every provider named must be one of them.

        Raises:
            ConfigError: naming the argument that is out of range or of the wrong type.
        """
        if isinstance(retry, int) and not isinstance(retry, bool):
            _deprecated("retry=<int>", "retry=Retry(total=n)")
            retry = Retry(total=retry)
        elif retry is False:
            _deprecated("retry=False", "retry=None")
            retry = Retry(total=0)
        elif retry is None:
            retry = Retry(total=0)
        elif not isinstance(retry, Retry):
            raise ConfigError("retry must be a Retry or None", variable="retry")
        if breaker is False:
            _deprecated("breaker=False", "breaker=None")
            breaker = None
        elif breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise ConfigError("breaker must be a CircuitBreaker or None", variable="breaker")
        if hooks is None:
            hooks = Hooks()
        elif not isinstance(hooks, Hooks):
            raise ConfigError("hooks must be a smsbridge.routing.Hooks", variable="hooks")
        loose = {"on_attempt": on_attempt, "on_failover": on_failover}
        loose["on_breaker_change"] = on_breaker_change
        given = {name: _callable(name, value) for name, value in loose.items() if value}
        if given:
            _deprecated(", ".join(f"{name}=" for name in given), "hooks=Hooks(...)")
            hooks = dataclasses.replace(hooks, **given)
        settings = cls(
            retry=retry,
            breaker=breaker,
            idempotency_ttl=_seconds("idempotency_ttl", idempotency_ttl),
            idempotency_wait=_seconds("idempotency_wait", idempotency_wait),
            reconcile=bool(reconcile),
            reconcile_delay=_seconds("reconcile_delay", reconcile_delay),
            any_sender=bool(any_sender),
            rate_limits=_rate_limits(rate_limits, store, providers),
            hooks=hooks,
        )
        for name, value in (("sleep", sleep), ("async_sleep", async_sleep), ("random", random)):
            if value is not None:
                setattr(settings, name, _callable(name, value))
        if settings.idempotency_ttl <= 0:
            raise ConfigError("idempotency_ttl must be positive", variable="idempotency_ttl")
        return settings


def _rate_limits(limits: Any, store: Any, providers: tuple[Provider, ...]) -> RateLimits | None:
    if limits is None:
        return None
    if not isinstance(limits, RateLimits):
        raise ConfigError(
            "rate_limits must be a smsbridge.routing.RateLimits or None", variable="rate_limits"
        )
    if store is not None and not all(callable(getattr(store, op, None)) for op in _RATE_OPS):
        raise ConfigError(
            f"rate_limits needs a store with reserve() and pause(); {type(store).__name__} "
            "has not got them (MemoryStore, SQLiteStore and RedisStore have)",
            variable="rate_limits",
        )
    names = {provider.name for provider in providers}
    unknown = sorted(set(limits.providers) - names) if names else []
    if unknown:
        raise ConfigError(
            f"rate_limits names provider {unknown[0]!r}, which this bridge does not send "
            f"through (it has {', '.join(sorted(names))})",
            variable="rate_limits",
        )
    return limits


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"Bridge({old}) is deprecated and will be removed in the next release; use {new}",
        DeprecationWarning,
        stacklevel=_outside_smsbridge(),
    )


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _outside_smsbridge() -> int:
    """The ``stacklevel`` of the first caller outside smsbridge, so the warning names the
    user's line whether they called ``Bridge(...)``, ``Bridge.from_env(...)`` or a helper."""
    level = 1
    frame: types.FrameType | None = sys._getframe(1)
    inside = _PACKAGE + os.sep
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        level, frame = level + 1, frame.f_back
    return level
