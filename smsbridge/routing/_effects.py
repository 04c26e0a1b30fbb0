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

__all__ = [
    "ASYNC_OPS",
    "IDEMPOTENT_WRITES",
    "Effect",
    "Fetch",
    "Interrupted",
    "Plan",
    "Sleep",
    "StoreOp",
    "Transmit",
]

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

ASYNC_OPS = {
    name: "a" + name
    for name in ("claim", "get", "set", "delete", "advance", "incr", "reserve", "pause")
}

# Store writes that can simply be done again: a driver interrupted in the middle of one finishes
# it before telling the plan (a claim cannot be redone; the plan deals with that itself).
IDEMPOTENT_WRITES = frozenset({"set", "delete"})


class Interrupted(Exception):
    """Thrown into a plan when its driver was interrupted (task cancellation, Ctrl-C).

    The plan may yield store operations to end an idempotency claim (the driver runs them
    shielded from the cancellation) and must then let this propagate; the driver re-raises
    ``original`` once the plan is done.

    Attributes:
        original: the cancellation or ``KeyboardInterrupt`` itself.
        written: the interrupted effect was a request that may have started to leave.
    """

    def __init__(self, original: BaseException, *, written: bool) -> None:
        super().__init__(f"interrupted by {type(original).__name__}")
        self.original = original
        self.written = written
