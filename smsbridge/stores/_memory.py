"""``MemoryStore``: the in-process default store (one process, lost on restart)."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

__all__ = ["MemoryStore"]


class MemoryStore:
    """A thread-safe dict with expiry, implementing :class:`~smsbridge.stores.Store`.

    Fine for one process; use :class:`~smsbridge.stores.RedisStore` to share state between
    processes and machines.

    Args:
        clock: monotonic seconds (injectable so tests can move time).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        # (expiry, key) for every TTL set; popped as time passes, so expired keys leave the
        # dict in O(log n) per write instead of piling up (webhook ids arrive by the million).
        self._expiries: list[tuple[float, str]] = []

    def _live(self, key: str, now: float) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= now:
            del self._data[key]
            return None
        return value

    def _put(self, key: str, value: str, ttl: float | None, now: float) -> None:
        expires = None if ttl is None else now + ttl
        self._data[key] = (value, expires)
        if expires is not None:
            heapq.heappush(self._expiries, (expires, key))
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            when, old = heapq.heappop(expiries)
            item = self._data.get(old)
            # The key may have been set again since: only drop it if this expiry is its own.
            if item is not None and item[1] == when:
                del self._data[old]

    def claim(self, key: str, value: str, ttl: float | None) -> bool:
        """Set ``key`` only if absent; True when this caller got it."""
        with self._lock:
            now = self._clock()
            if self._live(key, now) is not None:
                return False
            self._put(key, value, ttl, now)
            return True

    def get(self, key: str) -> str | None:
        """The value at ``key``, or ``None``."""
        with self._lock:
            return self._live(key, self._clock())

    def set(self, key: str, value: str, ttl: float | None) -> None:
        """Set ``key`` unconditionally."""
        with self._lock:
            self._put(key, value, ttl, self._clock())

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        with self._lock:
            self._data.pop(key, None)

    def advance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Raise the number at ``key`` to ``rank`` if lower; return the previous value."""
        with self._lock:
            now = self._clock()
            current = self._live(key, now)
            previous = int(current) if current is not None else None
            if previous is None or previous < rank:
                self._put(key, str(rank), ttl, now)
            return previous

    def incr(self, key: str, ttl: float | None) -> int:
        """Add one to the counter at ``key`` and return it (the TTL starts at creation)."""
        with self._lock:
            now = self._clock()
            current = self._live(key, now)
            if current is None:
                self._put(key, "1", ttl, now)
                return 1
            value = int(current) + 1
            self._data[key] = (str(value), self._data[key][1])
            return value

    # The async twins do the same work: a dict operation under a lock never blocks long.
    async def aclaim(self, key: str, value: str, ttl: float | None) -> bool:
        """Async twin of :meth:`claim`."""
        return self.claim(key, value, ttl)

    async def aget(self, key: str) -> str | None:
        """Async twin of :meth:`get`."""
        return self.get(key)

    async def aset(self, key: str, value: str, ttl: float | None) -> None:
        """Async twin of :meth:`set`."""
        self.set(key, value, ttl)

    async def adelete(self, key: str) -> None:
        """Async twin of :meth:`delete`."""
        self.delete(key)

    async def aadvance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Async twin of :meth:`advance`."""
        return self.advance(key, rank, ttl)

    async def aincr(self, key: str, ttl: float | None) -> int:
        """Async twin of :meth:`incr`."""
        return self.incr(key, ttl)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._data)})"
