"""``DegradeOpen``: run store operations that may fail open while the store is down.

Some uses of the store are safety nets rather than guarantees: the circuit breaker (skipping a
failing provider) and webhook de-duplication. When the store is unreachable those carry on as
if it had no state (breakers closed, every webhook new) and log the outage once, not once per
message. Idempotent sends are the opposite: they fail with ``StoreUnavailable`` rather
than risk a double send, so they never go through this helper.

Example (webhook de-duplication)::

    dedupe = DegradeOpen("webhook de-duplication")
    first_time = dedupe.call(store.claim, key, "1", ttl, default=True)
    first_time = await dedupe.acall(store.aclaim, key, "1", ttl, default=True)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from smsbridge._errors import StoreUnavailable

__all__ = ["DegradeOpen"]

T = TypeVar("T")

log = logging.getLogger("smsbridge.stores")


class DegradeOpen:
    """Store calls that return a default while the store is unreachable.

    The first failure of an outage is logged as a warning and the first success after it as
    info; failures in between are silent. Thread-safe; one instance per purpose.

    While the store is down, ``should_try`` says to leave it alone for ``recheck``
    seconds at a time, so an unreachable store (a connect timeout per call) does not slow
    every message down.

    Args:
        purpose: what the state is for, in a few words (``"circuit breaker"``); used in logs.
        recheck: seconds between tries while the store is down.
        logger: where to log (default ``smsbridge.stores``).
        clock: monotonic seconds (injectable for tests).

    Examples:
        Webhook de-duplication that carries on while Redis is down (every webhook then counts
        as new):

        >>> from smsbridge.stores import DegradeOpen, RedisStore
        >>> store = RedisStore("redis://redis.internal:6379/0")
        >>> dedupe = DegradeOpen("webhook de-duplication")
        >>> first_time = dedupe.call(store.claim, f"seen:{event_id}", "1", 86_400, default=True)
    """

    def __init__(
        self,
        purpose: str,
        *,
        recheck: float = 2.0,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.purpose = purpose
        self.recheck = float(recheck)
        self._log = logger or log
        self._clock = clock
        self._lock = threading.Lock()
        self._down = False
        self._next_try = 0.0

    @property
    def down(self) -> bool:
        """True between a failure and the next success."""
        return self._down

    def should_try(self) -> bool:
        """False while the store is down and the next recheck is not due yet."""
        return not self._down or self._clock() >= self._next_try

    def failed(self, error: StoreUnavailable) -> None:
        """Note a failure; logs only the first of an outage."""
        self._next_try = self._clock() + self.recheck
        if self._down:
            return
        with self._lock:
            first, self._down = not self._down, True
        if first:
            self._log.warning(
                "store unavailable: %s continues without shared state until it is back (%s)",
                self.purpose,
                error.message,
                extra={"purpose": self.purpose, "code": error.code},
            )

    def recovered(self) -> None:
        """Note a success; logs only the first after an outage."""
        if not self._down:
            return
        with self._lock:
            was, self._down = self._down, False
        if was:
            self._log.info(
                "store reachable again: %s uses shared state again",
                self.purpose,
                extra={"purpose": self.purpose},
            )

    def call(self, fn: Callable[..., T], *args: Any, default: T) -> T:
        """``fn(*args)``, or ``default`` if the store is unavailable (or left alone for now)."""
        if not self.should_try():
            return default
        try:
            value = fn(*args)
        except StoreUnavailable as exc:
            self.failed(exc)
            return default
        self.recovered()
        return value

    async def acall(self, fn: Callable[..., Awaitable[T]], *args: Any, default: T) -> T:
        """``await fn(*args)``, or ``default`` if the store is unavailable (or left alone)."""
        if not self.should_try():
            return default
        try:
            value = await fn(*args)
        except StoreUnavailable as exc:
            self.failed(exc)
            return default
        self.recovered()
        return value

    def __repr__(self) -> str:
        return f"DegradeOpen({self.purpose!r}, down={self._down})"
