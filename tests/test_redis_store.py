"""RedisStore against a real redis-server: what it writes in Redis, prefixes, outages.

The semantics every store shares are tested on all three in test_stores.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from _redis_server import RedisServer

from smsbridge import ConfigError, StoreUnavailable
from smsbridge.stores import RedisStore


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    """A RedisStore on the test's own redis-server."""
    made = RedisStore(redis_server.url, prefix="t:")
    yield made
    made.close()


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain redis client on the same server, to look under the hood."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


def test_ping(store: RedisStore) -> None:
    """ping() is True while the server answers."""
    assert store.ping()


def test_claim_is_set_if_absent(store: RedisStore, raw: redis.Redis) -> None:
    """The first claim wins; later ones fail and leave the value alone."""
    assert store.claim("k", "first", 60)
    assert not store.claim("k", "second", 60)
    assert store.get("k") == "first"
    assert raw.get("t:k") == "first"
    assert 0 < raw.pttl("t:k") <= 60_000


def test_set_get_delete_and_ttl(store: RedisStore, raw: redis.Redis) -> None:
    """set overwrites (with or without expiry), delete removes, get of nothing is None."""
    assert store.get("missing") is None
    store.set("k", "a", None)
    assert raw.pttl("t:k") == -1
    store.set("k", "b", 2.5)
    assert store.get("k") == "b"
    assert 0 < raw.pttl("t:k") <= 2_500
    store.delete("k")
    assert store.get("k") is None
    store.delete("k")  # deleting nothing is fine


def test_advance_only_moves_forward(store: RedisStore, raw: redis.Redis) -> None:
    """advance returns the previous rank and only ever raises the stored one."""
    assert store.advance("s", 2, 60) is None
    assert store.advance("s", 1, 60) == 2
    assert store.get("s") == "2"
    assert store.advance("s", 4, 60) == 2
    assert store.get("s") == "4"
    assert 0 < raw.pttl("t:s") <= 60_000


def test_incr_counts_and_expires_from_creation(store: RedisStore, raw: redis.Redis) -> None:
    """incr counts from 1; the expiry is set when the counter is created, not renewed."""
    assert store.incr("c", 60) == 1
    raw.pexpire("t:c", 5_000)  # shorten it: a renewing incr would put it back to 60 s
    assert store.incr("c", 60) == 2
    assert 0 < raw.pttl("t:c") <= 5_000
    assert store.incr("n", None) == 1
    assert raw.pttl("t:n") == -1


def test_prefixes_keep_stores_apart(redis_server: RedisServer) -> None:
    """Two prefixes on one database never see each other's keys."""
    one, two = RedisStore(redis_server.url, prefix="a:"), RedisStore(redis_server.url, prefix="b:")
    assert one.claim("k", "1", None)
    assert two.claim("k", "2", None)
    assert (one.get("k"), two.get("k")) == ("1", "2")
    one.close()
    two.close()


def test_unreachable_redis_raises_store_unavailable(redis_server: RedisServer) -> None:
    """A closed port: every operation raises StoreUnavailable, never leaking the password."""
    port = redis_server.port
    redis_server.stop()
    store = RedisStore(f"redis://:hunter2@127.0.0.1:{port}/0", connect_timeout=0.5)
    for call in (
        lambda: store.claim("k", "v", 1),
        lambda: store.get("k"),
        lambda: store.set("k", "v", 1),
        lambda: store.delete("k"),
        lambda: store.advance("k", 1, 1),
        lambda: store.incr("k", 1),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert "hunter2" not in str(caught.value)
        assert caught.value.code == "store_unavailable"
    assert "hunter2" not in repr(store)


@pytest.mark.anyio
async def test_async_unreachable_redis_raises_store_unavailable(
    redis_server: RedisServer,
) -> None:
    """The async twins raise StoreUnavailable too."""
    port = redis_server.port
    redis_server.stop()
    store = RedisStore(f"redis://127.0.0.1:{port}/0", connect_timeout=0.5)
    with pytest.raises(StoreUnavailable):
        await store.aclaim("k", "v", 1)
    with pytest.raises(StoreUnavailable):
        await store.aincr("k", 1)
    await store.aclose()


def test_store_recovers_after_a_restart(redis_server: RedisServer) -> None:
    """Stopped: StoreUnavailable; started again on the same port: the same store works."""
    store = RedisStore(redis_server.url)
    store.set("k", "v", None)
    redis_server.stop()
    with pytest.raises(StoreUnavailable):
        store.get("k")
    redis_server.start()
    assert store.claim("k", "fresh", None)  # the restart lost the data (no persistence)
    assert store.get("k") == "fresh"
    store.close()


def test_bad_url_is_a_config_error() -> None:
    """A URL redis-py cannot read is a ConfigError, not a crash at the first send."""
    with pytest.raises(ConfigError):
        RedisStore("http://not-redis")
