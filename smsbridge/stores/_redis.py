"""``RedisStore``: the store shared by every process and machine (``pip install smsbridge[redis]``).

Every operation is atomic in Redis: ``claim`` is ``SET NX PX``; ``advance``, ``incr`` (with
its expiry set only when the counter is created), ``reserve`` and ``pause`` are Lua scripts, so
no two processes can interleave inside them. The rate-limit scripts read the server's ``TIME``,
not the caller's clock: every machine then shares one clock, however far theirs drift. An
unreachable Redis (or any Redis error) raises ``StoreUnavailable``; what that
means for each use is in docs/failover.md.

Sync calls use ``redis.Redis``. Async calls use ``redis.asyncio.Redis`` under asyncio (one
client per event loop) and the sync client in a worker thread under other backends (trio),
which ``redis.asyncio`` does not support.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from smsbridge._errors import ConfigError, StoreUnavailable
from smsbridge._redact import redact_url
from smsbridge.stores._base import RATE_KEY_MARGIN

__all__ = ["RedisStore"]

T = TypeVar("T")

# Raise the stored number to ARGV[1] if lower or absent; return the previous value.
_ADVANCE = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or (tonumber(cur) or -1) < tonumber(ARGV[1]) then
  if ARGV[2] == '' then
    redis.call('SET', KEYS[1], ARGV[1])
  else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  end
end
return cur
"""

# Count one; the expiry starts when the counter is created (as MemoryStore does).
_INCR = """
local v = redis.call('INCR', KEYS[1])
if v == 1 and ARGV[1] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return v
"""


# The clock of the rate-limit scripts: the server's, in seconds. Redis before 5 must be told to
# replicate a script's effects rather than the script, which reading TIME requires.
_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local margin = tonumber(ARGV[1])
local function tat(key)
  local v = tonumber(redis.call('GET', key) or '')
  if v == nil or v < now then return now end
  return v
end
local function store(key, value)
  redis.call('SET', key, string.format('%.6f', value), 'PX',
    math.ceil((value - now + margin) * 1000))
end
"""

# GCRA reservation over KEYS; ARGV[2k], ARGV[2k+1]: interval and burst of KEYS[k]. Returns the
# wait as a string (a Lua number would come back truncated to an integer).
_RESERVE = (
    _NOW
    + """
local tats, slot = {}, now
for i, key in ipairs(KEYS) do
  tats[i] = tat(key)
  local allowed = tats[i] - (tonumber(ARGV[2 * i + 1]) - 1) * tonumber(ARGV[2 * i])
  if allowed > slot then slot = allowed end
end
for i, key in ipairs(KEYS) do
  store(key, math.max(tats[i], slot) + tonumber(ARGV[2 * i]))
end
return string.format('%.6f', slot - now)
"""
)

# Hold KEYS[1] until ARGV[2] seconds from now, unless it is held longer already.
_PAUSE = (
    _NOW
    + """
local until_ = now + tonumber(ARGV[2])
if until_ > tat(KEYS[1]) then store(KEYS[1], until_) end
return 1
"""
)


# Seconds an asyncio call waits for a free pooled connection (``max_connections`` of them, 50
# unless given) before the store counts as unavailable.
_POOL_WAIT = 5.0

# The scripts of the asyncio clients, in the order _aclient() returns them after the client.
_SCRIPTS = (_ADVANCE, _INCR, _RESERVE, _PAUSE)


def _reserve_args(buckets: Sequence[tuple[str, float, int]]) -> list[float | int]:
    args: list[float | int] = [RATE_KEY_MARGIN]
    for _, interval, burst in buckets:
        args += [interval, burst]  # redis-py writes a float with repr: every digit
    return args


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, int(ttl * 1000))


def _ms_arg(ttl: float | None) -> str:
    ms = _ms(ttl)
    return "" if ms is None else str(ms)


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking store call in a worker thread (event loops redis.asyncio cannot use)."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args)


class RedisStore:
    """The ``Store`` protocol on Redis, sync and async.

    Examples:
        >>> from smsbridge.stores import RedisStore
        >>> sms = Bridge([twilio, telnyx], store=RedisStore("redis://redis.internal:6379/0"))

    Args:
        url: a redis-py URL (``redis://``, ``rediss://``, ``unix://``); credentials in it are
            never shown in messages or reprs.
        prefix: put before every key, so several applications can share one database.
        socket_timeout: seconds to wait for an answer before the store counts as unavailable.
        connect_timeout: seconds to wait for a connection.
        **redis_options: passed to ``redis.Redis.from_url`` (and its asyncio twin).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "smsbridge:",
        socket_timeout: float = 1.0,
        connect_timeout: float = 1.0,
        **redis_options: Any,
    ) -> None:
        try:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigError(
                "RedisStore needs the redis package: pip install 'smsbridge[redis]'",
                variable="store",
            ) from None
        self.url = redact_url(url, unreadable="<unparsable redis url>")
        self.prefix = prefix
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "decode_responses": True,
            # One quick reconnect covers a pooled connection that a Redis restart broke;
            # more would only delay the StoreUnavailable an outage deserves.
            "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
            **redis_options,
        }
        self._options = options
        self._url = url
        try:
            self._client = redis.Redis.from_url(url, **options)
        except ValueError:
            raise ConfigError("RedisStore url is not a valid Redis URL", variable="store") from None
        self._advance = self._client.register_script(_ADVANCE)
        self._incr = self._client.register_script(_INCR)
        self._reserve = self._client.register_script(_RESERVE)
        self._pause = self._client.register_script(_PAUSE)
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    # -- plumbing ------------------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"redis at {self.url} is unavailable ({type(exc).__name__})")

    def _do(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise self._unavailable(exc) from None

    def _aclient(self) -> Any | None:
        """The asyncio client of the running loop, or ``None`` off asyncio (use a thread)."""
        import sniffio

        if sniffio.current_async_library() != "asyncio":
            return None
        loop = asyncio.get_running_loop()
        found = self._aclients.get(loop)
        if found is None:
            import redis.asyncio

            # A blocking pool: past its size a call waits for a free connection, where the
            # default pool fails at once (MaxConnectionsError, at 100): 150 concurrent sends
            # would find the store "unavailable" and run without breakers or rate limits.
            options = {"timeout": _POOL_WAIT, **self._options}
            pool = redis.asyncio.BlockingConnectionPool.from_url(self._url, **options)
            client = redis.asyncio.Redis(connection_pool=pool)
            found = (client, *(client.register_script(s) for s in _SCRIPTS))
            self._aclients[loop] = found
        return found

    async def _await(self, pending: Awaitable[T]) -> T:
        try:
            return await pending
        except self._errors as exc:
            raise self._unavailable(exc) from None

    # -- the Store protocol ------------------------------------------------------------
    def claim(self, key: str, value: str, ttl: float | None) -> bool:
        """Set ``key`` only if absent (``SET NX``); True when this caller got it."""
        return bool(self._do(self._client.set, self.prefix + key, value, nx=True, px=_ms(ttl)))

    def get(self, key: str) -> str | None:
        """The value at ``key``, or ``None``."""
        value = self._do(self._client.get, self.prefix + key)
        # decode_responses=True: redis-py hands back str, never bytes.
        return None if value is None else str(value)

    def set(self, key: str, value: str, ttl: float | None) -> None:
        """Set ``key`` unconditionally."""
        self._do(self._client.set, self.prefix + key, value, px=_ms(ttl))

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self._do(self._client.delete, self.prefix + key)

    def advance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Raise the number at ``key`` to ``rank`` if lower; return the previous value."""
        previous = self._do(self._advance, keys=[self.prefix + key], args=[rank, _ms_arg(ttl)])
        return None if previous is None else int(previous)

    def incr(self, key: str, ttl: float | None) -> int:
        """Add one to the counter at ``key`` and return it (the TTL starts at creation)."""
        return int(self._do(self._incr, keys=[self.prefix + key], args=[_ms_arg(ttl)]))

    def reserve(self, buckets: Sequence[tuple[str, float, int]]) -> float:
        """Reserve the next slot every bucket allows; return the seconds to wait (GCRA, see
        ``Store.reserve``), on the server's clock."""
        keys = [self.prefix + key for key, _, _ in buckets]
        return float(self._do(self._reserve, keys=keys, args=_reserve_args(buckets)))

    def pause(self, key: str, seconds: float) -> None:
        """Hold the bucket at ``key`` until ``seconds`` from now on the server's clock (unless
        held longer)."""
        self._do(self._pause, keys=[self.prefix + key], args=[RATE_KEY_MARGIN, seconds])

    async def aclaim(self, key: str, value: str, ttl: float | None) -> bool:
        """Async twin of ``claim``."""
        found = self._aclient()
        if found is None:
            return await _in_thread(self.claim, key, value, ttl)
        client = found[0]
        return bool(await self._await(client.set(self.prefix + key, value, nx=True, px=_ms(ttl))))

    async def aget(self, key: str) -> str | None:
        """Async twin of ``get``."""
        found = self._aclient()
        if found is None:
            return await _in_thread(self.get, key)
        value: str | None = await self._await(found[0].get(self.prefix + key))
        return value

    async def aset(self, key: str, value: str, ttl: float | None) -> None:
        """Async twin of ``set``."""
        found = self._aclient()
        if found is None:
            await _in_thread(self.set, key, value, ttl)
        else:
            await self._await(found[0].set(self.prefix + key, value, px=_ms(ttl)))

    async def adelete(self, key: str) -> None:
        """Async twin of ``delete``."""
        found = self._aclient()
        if found is None:
            await _in_thread(self.delete, key)
        else:
            await self._await(found[0].delete(self.prefix + key))

    async def aadvance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Async twin of ``advance``."""
        found = self._aclient()
        if found is None:
            return await _in_thread(self.advance, key, rank, ttl)
        previous = await self._await(found[1](keys=[self.prefix + key], args=[rank, _ms_arg(ttl)]))
        return None if previous is None else int(previous)

    async def aincr(self, key: str, ttl: float | None) -> int:
        """Async twin of ``incr``."""
        found = self._aclient()
        if found is None:
            return await _in_thread(self.incr, key, ttl)
        return int(await self._await(found[2](keys=[self.prefix + key], args=[_ms_arg(ttl)])))

    async def areserve(self, buckets: Sequence[tuple[str, float, int]]) -> float:
        """Async twin of ``reserve``."""
        found = self._aclient()
        if found is None:
            return await _in_thread(self.reserve, buckets)
        keys = [self.prefix + key for key, _, _ in buckets]
        return float(await self._await(found[3](keys=keys, args=_reserve_args(buckets))))

    async def apause(self, key: str, seconds: float) -> None:
        """Async twin of ``pause``."""
        found = self._aclient()
        if found is None:
            await _in_thread(self.pause, key, seconds)
        else:
            args = [RATE_KEY_MARGIN, seconds]
            await self._await(found[4](keys=[self.prefix + key], args=args))

    # -- lifecycle -----------------------------------------------------------------------
    def ping(self) -> bool:
        """True when Redis answers; ``StoreUnavailable`` when it does not."""
        return bool(self._do(self._client.ping))

    def close(self) -> None:
        """Close the sync client's connections."""
        self._client.close()

    async def aclose(self) -> None:
        """Close the running loop's async client (and the sync one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        found = self._aclients.pop(loop, None) if loop is not None else None
        if found is not None:
            await found[0].aclose(close_connection_pool=True)
        self.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"
