"""GCRA reservations, the arithmetic ``Store.reserve`` and ``Store.pause`` share.

Pure functions of the stored values and ``now``: each store reads and writes its keys around
them inside its own atomic section (a lock, an SQLite transaction). ``RedisStore`` runs the
same arithmetic as Lua, on the server's clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from smsbridge.stores._base import RATE_KEY_MARGIN

__all__ = ["held_until", "reservation"]


def _tat(stored: str | None, now: float) -> float:
    """A bucket's theoretical arrival time: the stored one, or now if it is past or absent."""
    if stored is None:
        return now
    try:
        return max(float(stored), now)
    except ValueError:
        return now  # not a time (not ours): the bucket starts afresh


def reservation(
    now: float, stored: Sequence[str | None], buckets: Sequence[tuple[str, float, int]]
) -> tuple[float, list[tuple[str, str, float]]]:
    """The wait for the next slot all ``buckets`` allow, and the writes that reserve it.

    Args:
        now: the store's clock.
        stored: each bucket's stored value (``None``: absent), in the order of ``buckets``.
        buckets: ``(key, interval, burst)`` each.

    Returns:
        ``(seconds to wait, [(key, value, ttl), ...])``.
    """
    tats = [_tat(value, now) for value in stored]
    slot = now
    for tat, (_, interval, burst) in zip(tats, buckets, strict=True):
        slot = max(slot, tat - (burst - 1) * interval)
    writes = []
    for tat, (key, interval, _) in zip(tats, buckets, strict=True):
        new = max(tat, slot) + interval
        writes.append((key, repr(new), new - now + RATE_KEY_MARGIN))
    return slot - now, writes


def held_until(now: float, stored: str | None, seconds: float) -> tuple[str, float] | None:
    """The ``(value, ttl)`` that holds a bucket ``seconds`` from ``now``; ``None`` when it is
    already held at least that long."""
    until = now + seconds
    if until <= _tat(stored, now):
        return None
    return repr(until), seconds + RATE_KEY_MARGIN
