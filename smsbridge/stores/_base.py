"""The store protocol: the small set of atomic operations smsbridge keeps shared state with.

Idempotency keys, circuit-breaker health, webhook de-duplication and the last known status of
each message all live behind it. Every operation is atomic on its own, so several processes
sharing one store (SQLite on one machine, Redis across machines) agree. Each has an async twin
named with an ``a`` prefix.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["DEDUPE_PREFIX", "Store"]

#: Every webhook de-duplication and status-ordering key starts with this. A store may treat such
#: keys as a bounded cache (:class:`~smsbridge.stores.MemoryStore` drops the oldest past a cap):
#: losing one means at worst a duplicate or out-of-order webhook is handled as new, never that a
#: message is sent twice. Idempotency and breaker keys do not start with it.
DEDUPE_PREFIX = "smsbridge:wh:"


@runtime_checkable
class Store(Protocol):
    """Shared state for idempotency, breakers, webhook duplicates and status ordering.

    Values are strings; ``ttl`` is in seconds (``None``: no expiry).
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

    async def aclaim(self, key: str, value: str, ttl: float | None) -> bool:
        """Async twin of :meth:`claim`."""
        ...

    async def aget(self, key: str) -> str | None:
        """Async twin of :meth:`get`."""
        ...

    async def aset(self, key: str, value: str, ttl: float | None) -> None:
        """Async twin of :meth:`set`."""
        ...

    async def adelete(self, key: str) -> None:
        """Async twin of :meth:`delete`."""
        ...

    async def aadvance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Async twin of :meth:`advance`."""
        ...

    async def aincr(self, key: str, ttl: float | None) -> int:
        """Async twin of :meth:`incr`."""
        ...
