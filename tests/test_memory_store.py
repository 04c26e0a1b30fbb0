"""MemoryStore: the in-process Store, with expiry on an injectable clock."""

from __future__ import annotations

import pytest

from smsbridge.stores import MemoryStore, Store


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


def test_is_a_store(store: MemoryStore) -> None:
    """MemoryStore satisfies the Store protocol."""
    assert isinstance(store, Store)


def test_claim_is_first_come(store: MemoryStore) -> None:
    """Only the first claim of a key wins; the value stays the winner's."""
    assert store.claim("k", "a", 10)
    assert not store.claim("k", "b", 10)
    assert store.get("k") == "a"


def test_keys_expire(store: MemoryStore, clock: Clock) -> None:
    """A key is gone once its TTL has passed, and can be claimed again."""
    store.claim("k", "a", 10)
    clock.now += 10
    assert store.get("k") is None
    assert store.claim("k", "b", 10)


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


def test_no_ttl_never_expires(store: MemoryStore, clock: Clock) -> None:
    """A key set without a TTL stays."""
    store.set("k", "v", None)
    clock.now += 10**9
    store.set("other", "v", 1)
    assert store.get("k") == "v"


def test_advance_only_moves_forward(store: MemoryStore) -> None:
    """advance raises the rank and reports the previous one; a lower rank changes nothing."""
    assert store.advance("m", 2, 60) is None
    assert store.advance("m", 4, 60) == 2
    assert store.advance("m", 3, 60) == 4
    assert store.get("m") == "4"


def test_incr_counts_within_the_window(store: MemoryStore, clock: Clock) -> None:
    """incr counts up and starts over when the window from the first increment has passed."""
    assert [store.incr("c", 10) for _ in range(3)] == [1, 2, 3]
    clock.now += 10
    assert store.incr("c", 10) == 1


def test_delete(store: MemoryStore) -> None:
    """delete removes a key; deleting a missing key is fine."""
    store.set("k", "v", None)
    store.delete("k")
    store.delete("k")
    assert store.get("k") is None


@pytest.mark.anyio
async def test_async_twins(store: MemoryStore) -> None:
    """The async twins read and write the same data."""
    assert await store.aclaim("k", "a", 10)
    assert not await store.aclaim("k", "b", 10)
    assert await store.aget("k") == "a"
    await store.aset("k", "c", 10)
    assert await store.aadvance("m", 1, 10) is None
    assert await store.aincr("c", 10) == 1
    await store.adelete("k")
    assert await store.aget("k") is None
