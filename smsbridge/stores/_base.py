"""The store protocol: the small set of atomic operations smsbridge keeps shared state with.

Idempotency keys, circuit-breaker health, webhook de-duplication, the last known status of
each message and shared rate limits all live behind it. Every operation is atomic on its own,
so several processes sharing one store (SQLite on one machine, Redis across machines) agree.
Each has an async twin named with an ``a`` prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["DEDUPE_PREFIX", "RATE_KEY_MARGIN", "Store"]

#: Every webhook de-duplication and status-ordering key starts with this. A store may treat such
#: keys as a bounded cache (``MemoryStore`` drops the oldest past a cap):
#: losing one means at worst a duplicate or out-of-order webhook is handled as new, never that a
#: message is sent twice. Idempotency and breaker keys do not start with it.
DEDUPE_PREFIX = "smsbridge:wh:"

#: Seconds a rate bucket's key outlives the moment it stops mattering (its theoretical arrival
#: time): once that has passed, a missing key and the stored time mean the same thing.
RATE_KEY_MARGIN = 1.0


@runtime_checkable
class Store(Protocol):
    """Shared state for idempotency, breakers, webhook duplicates and status ordering.

    Values are strings; ``ttl`` is in seconds (``None``: no expiry).

    ``reserve`` and ``pause`` keep rate-limit buckets (GCRA: one *theoretical arrival
    time* per key, the moment the bucket would be empty again). They read the clock inside
    the atomic operation, and every process sharing the store must read the same clock:
    Redis uses the server's ``TIME``, SQLite the machine's wall clock, memory a monotonic one.

    Examples:
        ``MemoryStore``, ``SQLiteStore`` and ``RedisStore`` implement it; the protocol is
        runtime-checkable:

        >>> from smsbridge.stores import MemoryStore, Store
        >>> store = MemoryStore()
        >>> isinstance(store, Store)
        True
        >>> store.claim("order-42:confirmation", "sent", ttl=3600)
        True
        >>> store.claim("order-42:confirmation", "sent", ttl=3600)  # already claimed
        False
        >>> store.get("order-42:confirmation")
        'sent'
    """

    def claim(self, key: str, value: str, ttl: float | None) -> bool:
        """Set ``key`` only if absent (SET NX); True when this caller got it."""
        ...

    def get(self, key: str) -> str | None:
        """The value at ``key``, or ``None``."""
        ...

    def set(self, key: str, value: str, ttl: float | None) -> None:
        """Set ``key`` unconditionally."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        ...

    def advance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Raise the number at ``key`` to ``rank`` if it is lower (or absent).

        Returns the previous value (``None`` if absent). The caller compares: a previous value
        above ``rank`` means the update is stale.
        """
        ...

    def incr(self, key: str, ttl: float | None) -> int:
        """Add one to the counter at ``key`` (0 if absent) and return the new value."""
        ...

    def reserve(self, buckets: Sequence[tuple[str, float, int]]) -> float:
        """Reserve the next slot every bucket allows, atomically; return the seconds to wait.

        Each bucket is ``(key, interval, burst)``: one message per ``interval`` seconds, up to
        ``burst`` at once after a quiet spell. For each, ``tat = max(stored, now)``, and the
        bucket allows a message from ``tat - (burst - 1) * interval``; the slot is the latest
        of those moments and now. Every bucket then stores ``max(tat, slot) + interval``,
        expiring ``RATE_KEY_MARGIN`` seconds after it. The slot is always taken: every caller
        gets its own, so concurrent callers never exceed any bucket's rate.

        Returns:
            ``slot - now`` (0.0 when the message may go at once).
        """
        ...

    def pause(self, key: str, seconds: float) -> None:
        """Hold the bucket at ``key`` for ``seconds``: ``stored = max(stored, now + seconds)``
        (a provider's ``Retry-After``)."""
        ...

    async def aclaim(self, key: str, value: str, ttl: float | None) -> bool:
        """Async twin of ``claim``."""
        ...

    async def aget(self, key: str) -> str | None:
        """Async twin of ``get``."""
        ...

    async def aset(self, key: str, value: str, ttl: float | None) -> None:
        """Async twin of ``set``."""
        ...

    async def adelete(self, key: str) -> None:
        """Async twin of ``delete``."""
        ...

    async def aadvance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Async twin of ``advance``."""
        ...

    async def aincr(self, key: str, ttl: float | None) -> int:
        """Async twin of ``incr``."""
        ...

    async def areserve(self, buckets: Sequence[tuple[str, float, int]]) -> float:
        """Async twin of ``reserve``."""
        ...

    async def apause(self, key: str, seconds: float) -> None:
        """Async twin of ``pause``."""
        ...
