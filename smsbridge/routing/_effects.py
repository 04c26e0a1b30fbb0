"""The effects a routing plan asks its driver to perform.

The routing logic (breaker, idempotency, retries, failover) is written once, as generators
that *yield* these values and receive the outcome back: a result is sent in, a failure is
thrown in. ``_engine`` holds two small drivers, one performing the effects with blocking calls
and one with ``await``, so the sync and async paths share every decision.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    import httpx

    from smsbridge._models import OutboundMessage
    from smsbridge.providers._base import Provider

__all__ = ["ASYNC_OPS", "Effect", "Fetch", "Plan", "Sleep", "StoreOp", "Transmit"]

T = TypeVar("T")


class StoreOp(NamedTuple):
    """Call store method ``op`` (the sync name; the async driver calls its ``a`` twin)."""

    op: str
    args: tuple[Any, ...]


class Transmit(NamedTuple):
    """Send ``message`` through ``provider``; the answer is a ``SendResult`` or a thrown
    ``ProviderError``."""

    provider: Provider
    message: OutboundMessage


class Fetch(NamedTuple):
    """Send a raw request (a reconciliation read-back) and return the response."""

    request: httpx.Request


class Sleep(NamedTuple):
    """Wait ``seconds``."""

    seconds: float


Effect = StoreOp | Transmit | Fetch | Sleep
Plan = Generator[Effect, Any, T]

ASYNC_OPS = {name: "a" + name for name in ("claim", "get", "set", "delete", "advance", "incr")}
