"""Routing settings: what ``Bridge(..., **options)`` accepts beyond its own arguments.

=====================  =====================================================================
option                 meaning
=====================  =====================================================================
``retry``              :class:`Retry` (or an int: retries per provider; 0 or ``None``: none)
``breaker``            :class:`CircuitBreaker`, or ``None`` / ``False`` for none
``idempotency_ttl``    seconds an idempotency key is remembered (default 24 h)
``idempotency_wait``   seconds a repeated key waits for the send in flight (default 10)
``reconcile``          read back recent messages after an ambiguous failure or any 5xx,
                       before any re-send, on providers that support it (Twilio). Default
                       ``False``
``reconcile_delay``    seconds to wait before that read-back (default 1)
``any_sender``         ``send(from_=...)`` may use providers that do not own that sender;
                       they send from their own (default ``False``: owners only)
``on_attempt``         hook ``(attempt)``; see :class:`~smsbridge.routing.Hooks`
``on_failover``        hook ``(from_provider, to_provider, error)``
``on_breaker_change``  hook ``(provider, old_state, new_state)``
``sleep``              how the sync engine waits (default ``time.sleep``)
``async_sleep``        how the async engine waits (default ``anyio.sleep``)
``random``             ``() -> float`` in [0, 1) for retry jitter (default ``random.random``)
=====================  =====================================================================
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smsbridge._errors import ConfigError
from smsbridge.routing._breaker import BreakerRuntime, CircuitBreaker
from smsbridge.routing._observe import Hooks
from smsbridge.routing._retry import Retry
from smsbridge.stores._degrade import DegradeOpen

__all__ = ["OPTIONS", "RoutingSettings"]

OPTIONS = (
    "any_sender",
    "async_sleep",
    "breaker",
    "idempotency_ttl",
    "idempotency_wait",
    "on_attempt",
    "on_breaker_change",
    "on_failover",
    "random",
    "reconcile",
    "reconcile_delay",
    "retry",
    "sleep",
)


async def _anyio_sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


def _positive(options: Mapping[str, Any], name: str, default: float) -> float:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{name} must be a number of seconds >= 0", variable=name)
    return float(value)


def _callable(options: Mapping[str, Any], name: str) -> Any:
    value = options.get(name)
    if value is not None and not callable(value):
        raise ConfigError(f"{name} must be callable", variable=name)
    return value


@dataclass
class RoutingSettings:
    """The routing part of a bridge's configuration (see the module docstring)."""

    retry: Retry = field(default_factory=Retry)
    breaker: CircuitBreaker | None = field(default_factory=CircuitBreaker)
    idempotency_ttl: float = 86_400.0
    idempotency_wait: float = 10.0
    reconcile: bool = False
    reconcile_delay: float = 1.0
    any_sender: bool = False
    hooks: Hooks = field(default_factory=Hooks)
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = _anyio_sleep
    random: Callable[[], float] = _random.random
    breaker_guard: DegradeOpen = field(default_factory=lambda: DegradeOpen("circuit breaker"))
    breaker_runtime: BreakerRuntime = field(init=False)

    def __post_init__(self) -> None:
        self.breaker_runtime = BreakerRuntime(self.breaker_guard, self.hooks.breaker)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RoutingSettings:
        """Validate ``Bridge`` options; an unknown name is a :class:`ConfigError`."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigError(
                f"unknown Bridge option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}",
                variable=unknown[0],
            )
        retry = options.get("retry", Retry())
        if retry is None or retry is False:
            retry = Retry(total=0)
        elif isinstance(retry, int) and not isinstance(retry, bool):
            retry = Retry(total=retry)
        elif not isinstance(retry, Retry):
            raise ConfigError("retry must be a Retry, an int or None", variable="retry")
        breaker = options.get("breaker", CircuitBreaker())
        if breaker is False:
            breaker = None
        elif breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise ConfigError("breaker must be a CircuitBreaker or None", variable="breaker")
        settings = cls(
            retry=retry,
            breaker=breaker,
            idempotency_ttl=_positive(options, "idempotency_ttl", 86_400.0),
            idempotency_wait=_positive(options, "idempotency_wait", 10.0),
            reconcile=bool(options.get("reconcile", False)),
            reconcile_delay=_positive(options, "reconcile_delay", 1.0),
            any_sender=bool(options.get("any_sender", False)),
            hooks=Hooks(
                on_attempt=_callable(options, "on_attempt"),
                on_failover=_callable(options, "on_failover"),
                on_breaker_change=_callable(options, "on_breaker_change"),
            ),
        )
        for name in ("sleep", "async_sleep", "random"):
            value = _callable(options, name)
            if value is not None:
                setattr(settings, name, value)
        if settings.idempotency_ttl <= 0:
            raise ConfigError("idempotency_ttl must be positive", variable="idempotency_ttl")
        return settings
