"""``MemoryStore``: the in-process default store (one process, lost on restart)."""

from __future__ import annotations

import heapq
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from smsbridge._errors import ConfigError
from smsbridge.stores._base import DEDUPE_PREFIX
from smsbridge.stores._gcra import held_until, reservation

__all__ = ["MemoryStore"]

# The expiry heap is rebuilt from the live keys once it holds this many more entries than
# there are keys (stale entries of keys set again, deleted or dropped by the cap).
_HEAP_SLACK = 1024


class MemoryStore:
    """A thread-safe dict with expiry, implementing ``Store``.

    Fine for one process; use ``SQLiteStore`` to share state between
    the processes of one machine, ``RedisStore`` between machines.

    Webhook de-duplication and status-ordering keys (those starting with
    ``smsbridge.stores._base.DEDUPE_PREFIX``) are capped at ``max_dedupe_keys``: when one more
    would go over, the oldest of them (by first insertion) are dropped. A flood of distinct,
    genuine webhooks therefore cannot grow memory without bound before their TTL runs out; a
    dropped key costs at most one duplicate or out-of-order webhook handled as new. Every other
    key (idempotency keys, circuit breakers) is never dropped before its TTL, because forgetting
    an idempotency key could send a message twice.

    Examples:
        >>> from smsbridge.stores import MemoryStore
        >>> store = MemoryStore(max_dedupe_keys=10_000)
        >>> store.claim("idem:order-42", "pending", 60)
        True

    Args:
        clock: monotonic seconds (injectable so tests can move time).
        max_dedupe_keys: most de-duplication keys kept at once (a positive int).

    Raises:
        ConfigError: ``max_dedupe_keys`` is not a positive int.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_dedupe_keys: int = 100_000,
    ) -> None:
        if (
            isinstance(max_dedupe_keys, bool)
            or not isinstance(max_dedupe_keys, int)
            or max_dedupe_keys < 1
        ):
            raise ConfigError(
                "MemoryStore max_dedupe_keys must be a positive int", variable="max_dedupe_keys"
            )
        self.max_dedupe_keys = max_dedupe_keys
        self._data: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        # (expiry, key) for every TTL set; popped as time passes, so expired keys leave the
        # dict in O(log n) per write instead of piling up (webhook ids arrive by the million).
        self._expiries: list[tuple[float, str]] = []
        # De-duplication keys present in ``_data``, oldest first (O(1) to drop the oldest).
        self._dedupe: OrderedDict[str, None] = OrderedDict()

    def _drop(self, key: str) -> None:
        del self._data[key]
        if key.startswith(DEDUPE_PREFIX):
            self._dedupe.pop(key, None)

    def _live(self, key: str, now: float) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= now:
            self._drop(key)
            return None
        return value

    def _put(self, key: str, value: str, ttl: float | None, now: float) -> None:
        expires = None if ttl is None else now + ttl
        if key.startswith(DEDUPE_PREFIX) and key not in self._data:
            self._dedupe[key] = None
            while len(self._dedupe) > self.max_dedupe_keys:
                oldest, _ = self._dedupe.popitem(last=False)
                del self._data[oldest]  # its heap entry, if any, is skipped when it comes up
        self._data[key] = (value, expires)
        expiries = self._expiries
        if expires is not None:
            heapq.heappush(expiries, (expires, key))
        while expiries and expiries[0][0] <= now:
            when, old = heapq.heappop(expiries)
            item = self._data.get(old)
            # The key may have been set again since: only drop it if this expiry is its own.
            if item is not None and item[1] == when:
                self._drop(old)
        if len(expiries) > 2 * len(self._data) + _HEAP_SLACK:
            # Stale entries (keys dropped by the cap, deleted, or set again) would otherwise
            # stay until their own expiry: a day of distinct webhooks under a cap of 100 000
            # keys must not keep millions of them.
            self._expiries = [(exp, k) for k, (_, exp) in self._data.items() if exp is not None]
            heapq.heapify(self._expiries)

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
            if key in self._data:
                self._drop(key)

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

    def reserve(self, buckets: Sequence[tuple[str, float, int]]) -> float:
        """Reserve the next slot every bucket allows; return the seconds to wait (GCRA, see
        ``Store.reserve``), on this store's clock."""
        with self._lock:
            now = self._clock()
            stored = [self._live(key, now) for key, _, _ in buckets]
            wait, writes = reservation(now, stored, buckets)
            for key, value, ttl in writes:
                self._put(key, value, ttl, now)
            return wait

    def pause(self, key: str, seconds: float) -> None:
        """Hold the bucket at ``key`` until ``seconds`` from now (unless held longer)."""
        with self._lock:
            now = self._clock()
            held = held_until(now, self._live(key, now), seconds)
            if held is not None:
                self._put(key, held[0], held[1], now)

    # The async twins do the same work: a dict operation under a lock never blocks long.
    async def aclaim(self, key: str, value: str, ttl: float | None) -> bool:
        """Async twin of ``claim``."""
        return self.claim(key, value, ttl)

    async def aget(self, key: str) -> str | None:
        """Async twin of ``get``."""
        return self.get(key)

    async def aset(self, key: str, value: str, ttl: float | None) -> None:
        """Async twin of ``set``."""
        self.set(key, value, ttl)

    async def adelete(self, key: str) -> None:
        """Async twin of ``delete``."""
        self.delete(key)

    async def aadvance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Async twin of ``advance``."""
        return self.advance(key, rank, ttl)

    async def aincr(self, key: str, ttl: float | None) -> int:
        """Async twin of ``incr``."""
        return self.incr(key, ttl)

    async def areserve(self, buckets: Sequence[tuple[str, float, int]]) -> float:
        """Async twin of ``reserve``."""
        return self.reserve(buckets)

    async def apause(self, key: str, seconds: float) -> None:
        """Async twin of ``pause``."""
        self.pause(key, seconds)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._data)})"
