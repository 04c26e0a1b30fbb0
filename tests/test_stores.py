"""The Store protocol's semantics, checked the same way on MemoryStore, SQLiteStore and
RedisStore (a real redis-server).

Time: MemoryStore and SQLiteStore run on an injected clock. For Redis, "time passes" by
shortening the remaining PTTL of every key of the test by that much (deleting those it would
expire), which is what the passing of time does to them; the margins left (a second or more)
dwarf the real milliseconds the test takes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
import redis
from _redis_server import RedisServer

from smsbridge.stores import MemoryStore, RedisStore, SQLiteStore, Store


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """A store under test, and a way to let time pass for it."""

    kind: str
    store: Store
    pass_time: Callable[[float], None]


def _redis_passer(client: redis.Redis, prefix: str) -> Callable[[float], None]:
    def pass_time(seconds: float) -> None:
        ms = int(seconds * 1000)
        for key in client.scan_iter(match=prefix + "*"):
            left = int(client.pttl(key))
            if left < 0:  # -1: no expiry; -2: already gone
                continue
            if left <= ms:
                client.delete(key)
            else:
                client.pexpire(key, left - ms)

    return pass_time


@pytest.fixture(params=["memory", "sqlite", "redis"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each store in turn, with its clock (or Redis's PTTLs) under the test's control."""
    if request.param == "memory":
        clock = Clock(1000.0)
        yield Harness(
            "memory", MemoryStore(clock=clock), lambda s: setattr(clock, "now", clock.now + s)
        )
    elif request.param == "sqlite":
        clock = Clock(1_700_000_000.0)
        store = SQLiteStore(tmp_path / "store.db", clock=clock)
        yield Harness("sqlite", store, lambda s: setattr(clock, "now", clock.now + s))
        store.close()
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        made = RedisStore(server.url, prefix="t:")
        client = redis.Redis.from_url(server.url, decode_responses=True)
        yield Harness("redis", made, _redis_passer(client, "t:"))
        client.close()
        made.close()


async def _aclose(store: Store) -> None:
    """Close a store's async resources (the asyncio Redis client of this loop), if it has any."""
    aclose = getattr(store, "aclose", None)
    if aclose is not None:
        await aclose()


def test_is_a_store(harness: Harness) -> None:
    """Every store satisfies the runtime-checkable Store protocol."""
    assert isinstance(harness.store, Store)


def test_first_claim_wins(harness: Harness) -> None:
    """Only the first claim of a key wins, and the value stays the winner's."""
    store = harness.store
    assert store.claim("k", "first", 60) is True
    assert store.claim("k", "second", 60) is False
    assert store.claim("k", "third", None) is False
    assert store.get("k") == "first"


def test_a_claimed_key_expires_and_can_be_claimed_again(harness: Harness) -> None:
    """A claimed key lives for its TTL, then reads as absent and the next claim wins."""
    store = harness.store
    assert store.claim("k", "a", 10)
    harness.pass_time(9)
    assert store.get("k") == "a"
    assert not store.claim("k", "b", 10)
    harness.pass_time(1)
    assert store.get("k") is None
    assert store.claim("k", "c", 10)
    assert store.get("k") == "c"


def test_a_losing_claim_leaves_the_expiry_alone(harness: Harness) -> None:
    """A failed claim with a longer TTL does not extend the winner's expiry."""
    store = harness.store
    assert store.claim("k", "a", 10)
    harness.pass_time(6)
    assert not store.claim("k", "b", 1000)
    harness.pass_time(4)
    assert store.get("k") is None


def test_without_ttl_nothing_expires(harness: Harness) -> None:
    """Keys written with ttl=None stay however much time passes, writes included."""
    store = harness.store
    store.set("s", "v", None)
    assert store.claim("c", "v", None)
    assert store.advance("a", 3, None) is None
    assert store.incr("n", None) == 1
    harness.pass_time(10**6)
    store.set("other", "v", 1)  # a write, which is when stores sweep expired keys
    assert (store.get("s"), store.get("c"), store.get("a"), store.get("n")) == ("v", "v", "3", "1")


def test_set_get_delete(harness: Harness) -> None:
    """set overwrites, get of a missing key is None, delete removes (and ignores a missing key)."""
    store = harness.store
    assert store.get("missing") is None
    store.set("k", "a", None)
    store.set("k", "b", 60)
    assert store.get("k") == "b"
    store.delete("k")
    assert store.get("k") is None
    store.delete("k")
    store.delete("never-there")
    assert store.claim("k", "after-delete", 60)


def test_set_replaces_the_expiry(harness: Harness) -> None:
    """Each set brings its own expiry: None makes the key permanent, a TTL makes it expire."""
    store = harness.store
    store.set("k", "a", 5)
    store.set("k", "b", None)
    harness.pass_time(10)
    assert store.get("k") == "b"
    store.set("k", "c", 5)
    harness.pass_time(4)
    assert store.get("k") == "c"
    harness.pass_time(1)
    assert store.get("k") is None


def test_values_and_keys_round_trip(harness: Harness) -> None:
    """Any str goes in and comes back unchanged: empty, unicode, long, odd keys."""
    store = harness.store
    values = {"empty": "", "uni:ключ 🔑": "héllo → 世界", "long": "x" * 10_000, "sp ace": " a b "}
    for key, value in values.items():
        store.set(key, value, 60)
    assert {key: store.get(key) for key in values} == values
    assert not store.claim("empty", "taken?", 60)  # an empty value is still a value


def test_advance_only_moves_forward_and_returns_the_previous_rank(harness: Harness) -> None:
    """advance returns the previous rank (None at first) and only ever raises the stored one."""
    store = harness.store
    assert store.advance("m", 2, 60) is None
    assert store.get("m") == "2"
    assert store.advance("m", 4, 60) == 2
    assert store.advance("m", 3, 60) == 4
    assert store.get("m") == "4"
    assert store.advance("m", 4, 60) == 4
    assert store.get("m") == "4"
    assert store.advance("m", 5, 60) == 4
    assert store.get("m") == "5"


def test_advance_renews_the_expiry_only_when_it_raises(harness: Harness) -> None:
    """Raising the rank sets a new expiry; a stale rank leaves the expiry where it was."""
    store = harness.store
    assert store.advance("m", 2, 10) is None
    harness.pass_time(6)
    assert store.advance("m", 3, 10) == 2  # expires 10 s from now
    harness.pass_time(6)
    assert store.get("m") == "3"
    assert store.advance("m", 1, 1000) == 3  # stale: no renewal
    harness.pass_time(4)
    assert store.get("m") is None
    assert store.advance("m", 1, 10) is None


def test_incr_counts_from_one(harness: Harness) -> None:
    """incr starts a missing counter at 1 and adds one per call, per key."""
    store = harness.store
    assert [store.incr("c", 60) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert store.incr("other", 60) == 1
    assert store.get("c") == "5"


def test_incr_expiry_starts_when_the_counter_is_created(harness: Harness) -> None:
    """The counter's TTL runs from its first incr; later incrs do not extend it."""
    store = harness.store
    assert store.incr("c", 10) == 1
    harness.pass_time(6)
    assert store.incr("c", 10) == 2
    harness.pass_time(3)
    assert store.incr("c", 10) == 3
    harness.pass_time(1)
    assert store.get("c") is None
    assert store.incr("c", 10) == 1


def test_concurrent_claims_from_threads_have_one_winner(harness: Harness) -> None:
    """Twenty threads claiming one key at once: exactly one wins, and their incrs add up."""
    store = harness.store
    barrier = threading.Barrier(20)
    wins: list[bool] = []

    def work() -> None:
        barrier.wait()
        wins.append(store.claim("race", "x", 60))
        store.incr("hits", 60)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1
    assert len(wins) == 20
    assert store.get("hits") == "20"


@pytest.mark.anyio
async def test_async_twins_behave_like_the_sync_calls(harness: Harness) -> None:
    """Every async twin reads and writes the same data with the same semantics."""
    store = harness.store
    try:
        assert await store.aget("k") is None
        assert await store.aclaim("k", "v", 10) is True
        assert await store.aclaim("k", "w", 10) is False
        assert await store.aget("k") == "v"
        assert store.get("k") == "v"
        await store.aset("k", "z", None)
        assert store.get("k") == "z"
        assert await store.aadvance("r", 3, 30) is None
        assert await store.aadvance("r", 2, 30) == 3
        assert await store.aadvance("r", 7, 30) == 3
        assert store.get("r") == "7"
        assert [await store.aincr("c", 10) for _ in range(3)] == [1, 2, 3]
        await store.adelete("k")
        assert await store.aget("k") is None
        await store.adelete("k")
        assert await store.aclaim("t", "v", 10)
        harness.pass_time(10)
        assert await store.aget("t") is None
        assert await store.aincr("c", 10) == 1
    finally:
        await _aclose(store)


@pytest.mark.anyio
async def test_concurrent_async_claims_have_one_winner(harness: Harness) -> None:
    """Ten tasks claiming one key together: exactly one wins, and their aincrs add up."""
    store = harness.store
    wins: list[bool] = []

    async def work(n: int) -> None:
        wins.append(await store.aclaim("race", f"task-{n}", 60))
        await store.aincr("hits", 60)

    try:
        async with anyio.create_task_group() as group:
            for n in range(10):
                group.start_soon(work, n)
        assert wins.count(True) == 1
        assert len(wins) == 10
        assert await store.aget("hits") == "10"
    finally:
        await _aclose(store)
