"""MemoryStore specifics: its expiry heap and its cap on de-duplication keys.

The semantics every store shares are tested on all three in test_stores.py.
"""

from __future__ import annotations

import pytest

from smsbridge import ConfigError
from smsbridge.stores import MemoryStore
from smsbridge.stores._base import DEDUPE_PREFIX


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryStore:
    return MemoryStore(clock=clock)


def test_expired_keys_leave_memory(store: MemoryStore, clock: Clock) -> None:
    """Writes after the expiry remove expired keys, so the store does not grow forever."""
    for i in range(100):
        store.set(f"k{i}", "v", 5)
    clock.now += 6
    store.set("fresh", "v", 5)
    assert len(store) == 1


def test_a_key_set_again_keeps_its_new_expiry(store: MemoryStore, clock: Clock) -> None:
    """Re-setting a key with a later expiry is not undone by the old expiry."""
    store.set("k", "old", 5)
    clock.now += 3
    store.set("k", "new", 50)
    clock.now += 3
    store.set("other", "v", 5)  # a write runs the expiry sweep
    assert store.get("k") == "new"


# -- the cap on de-duplication keys -------------------------------------------------------


def wh(n: int) -> str:
    """A webhook de-duplication key."""
    return f"{DEDUPE_PREFIX}twilio:SM{n}:delivered"


def test_the_default_cap() -> None:
    """By default, up to 100 000 de-duplication keys are kept."""
    assert MemoryStore().max_dedupe_keys == 100_000


def test_oldest_dedupe_keys_are_dropped_past_the_cap(clock: Clock) -> None:
    """Past max_dedupe_keys, the oldest de-duplication keys go first, newest stay."""
    store = MemoryStore(clock=clock, max_dedupe_keys=3)
    for n in range(1, 5):
        assert store.claim(wh(n), "1", 3600)
    assert store.get(wh(1)) is None
    assert [store.get(wh(n)) for n in (2, 3, 4)] == ["1", "1", "1"]
    assert len(store) == 3
    assert store.claim(wh(1), "1", 3600)  # forgotten: handled as new (the documented cost)
    assert store.get(wh(2)) is None
    assert [store.get(wh(n)) for n in (1, 3, 4)] == ["1", "1", "1"]


def test_idempotency_and_breaker_keys_are_never_dropped(clock: Clock) -> None:
    """However many de-duplication keys arrive, other keys stay until their own TTL."""
    store = MemoryStore(clock=clock, max_dedupe_keys=2)
    for n in range(50):
        assert store.claim(f"idem:key-{n}", "pending", 86_400)
        store.incr(f"breaker:twilio:abc{n}:fails", 60)
        store.set(f"other:{n}", "v", None)
    for n in range(1000):
        store.claim(wh(n), "1", 86_400)
    assert all(store.get(f"idem:key-{n}") == "pending" for n in range(50))
    assert all(store.get(f"breaker:twilio:abc{n}:fails") == "1" for n in range(50))
    assert all(store.get(f"other:{n}") == "v" for n in range(50))
    assert [n for n in range(1000) if store.get(wh(n)) is not None] == [998, 999]
    assert len(store) == 152


def test_updating_a_dedupe_key_keeps_its_place(clock: Clock) -> None:
    """Order is by first insertion: raising a status rank does not make the key newer."""
    store = MemoryStore(clock=clock, max_dedupe_keys=2)
    rank = f"{DEDUPE_PREFIX}rank:twilio:SM1:"
    store.advance(rank, 1, 3600)
    store.claim(wh(2), "1", 3600)
    assert store.advance(rank, 5, 3600) == 1
    store.claim(wh(3), "1", 3600)
    assert store.get(rank) is None
    assert (store.get(wh(2)), store.get(wh(3))) == ("1", "1")


def test_expired_and_deleted_dedupe_keys_free_their_places(clock: Clock) -> None:
    """Keys that expired or were deleted no longer count towards the cap."""
    store = MemoryStore(clock=clock, max_dedupe_keys=2)
    store.claim(wh(1), "1", 5)
    store.claim(wh(2), "1", 5)
    clock.now += 5
    store.claim(wh(3), "1", 60)
    store.claim(wh(4), "1", 60)
    assert (store.get(wh(3)), store.get(wh(4))) == ("1", "1")
    store.delete(wh(3))
    store.claim(wh(5), "1", 60)
    assert (store.get(wh(4)), store.get(wh(5))) == ("1", "1")
    assert len(store) == 2


def test_a_flood_of_webhooks_keeps_memory_bounded(clock: Clock) -> None:
    """50 000 distinct webhooks with a day-long TTL under a cap of 10: the keys and the
    expiry heap both stay small (the heap drops entries of keys the cap dropped)."""
    store = MemoryStore(clock=clock, max_dedupe_keys=10)
    for n in range(50_000):
        store.claim(wh(n), "1", 86_400)
    assert len(store) == 10
    assert len(store._expiries) <= 2 * 10 + 1024 + 1
    assert all(store.get(wh(n)) == "1" for n in range(49_990, 50_000))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10", None])
def test_max_dedupe_keys_must_be_a_positive_int(bad: object) -> None:
    """Anything but a positive int is a ConfigError naming max_dedupe_keys."""
    with pytest.raises(ConfigError) as caught:
        MemoryStore(max_dedupe_keys=bad)  # type: ignore[arg-type]
    assert caught.value.variable == "max_dedupe_keys"
