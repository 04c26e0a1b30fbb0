"""Routing: policies that choose providers, retries, circuit breakers, and the send engine.

Policies (``Failover``, ``Weighted``, ``ByCountry``) nest and are used
wherever a provider is. The engine behind ``Bridge.send`` / ``Bridge.asend`` tries their
candidates in order, deciding by each failure's class (``rejected`` / ``refused`` /
``ambiguous``), with a ``Retry`` per provider, a ``CircuitBreaker`` per provider
(state in the bridge's store), idempotency keys and ``RateLimits`` (per provider and
sender, shared through the store). Bridge options that configure it are
listed in ``smsbridge.routing._settings`` and docs/failover.md.
"""

from __future__ import annotations

from smsbridge.routing._breaker import BreakerState, CircuitBreaker, breaker_id
from smsbridge.routing._observe import Hooks
from smsbridge.routing._policy import ByCountry, Failover, Policy, Weighted, as_policy
from smsbridge.routing._rates import RateLimits
from smsbridge.routing._retry import RETRY_ON, Retry
from smsbridge.routing._settings import RoutingSettings

__all__ = [
    "RETRY_ON",
    "BreakerState",
    "ByCountry",
    "CircuitBreaker",
    "Failover",
    "Hooks",
    "Policy",
    "RateLimits",
    "Retry",
    "RoutingSettings",
    "Weighted",
    "as_policy",
    "breaker_id",
]
