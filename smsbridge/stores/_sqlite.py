"""``SQLiteStore``: a persistent store in one SQLite file, shared by the processes of one machine.

Schema: one table, created on first use::

    CREATE TABLE smsbridge_kv (
        key     TEXT PRIMARY KEY,
        value   TEXT NOT NULL,
        expires REAL              -- wall-clock seconds (time.time()); NULL: never expires
    );
    CREATE INDEX smsbridge_kv_expires ON smsbridge_kv (expires);

A row whose ``expires`` is at or before now counts as absent: reads filter it out, and every
write first deletes a bounded batch of expired rows (through the index, so it costs next to
nothing when there are none), so the table holds the live keys plus a short backlog.
``SQLiteStore.purge`` deletes all of them at once.

Why several processes can share the file: the database is in WAL mode, so readers never wait
for a writer; every write runs in a ``BEGIN IMMEDIATE`` transaction, which takes SQLite's
single write lock before it reads anything, so a compound operation (claim, advance, incr:
read, decide, write) cannot interleave with another process's write; of two processes claiming
one key, the second reads the first's committed row and loses. A process that finds the lock
taken waits up to ``busy_timeout`` seconds. Expiry uses wall-clock time, which every process
on the machine shares; so do rate-limit reservations (``reserve``, ``pause``: GCRA, one row per
bucket, read and written in one such transaction).

WAL needs shared memory between the processes, so the file must be on a local filesystem, not
a network share; for several machines use ``RedisStore``.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

from smsbridge._errors import ConfigError, StoreUnavailable
from smsbridge.stores._gcra import held_until, reservation

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS smsbridge_kv"
    " (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL)",
    "CREATE INDEX IF NOT EXISTS smsbridge_kv_expires ON smsbridge_kv (expires)",
)
_LIVE = "SELECT value FROM smsbridge_kv WHERE key = ? AND (expires IS NULL OR expires > ?)"
_PUT = "INSERT OR REPLACE INTO smsbridge_kv (key, value, expires) VALUES (?, ?, ?)"
# Expired rows deleted by each write. Every write adds at most one row, so deleting up to this
# many keeps up with any rate of expiry, while a write after a long quiet spell stays short.
_PURGE_BATCH = 500
_PURGE_SOME = (
    "DELETE FROM smsbridge_kv WHERE rowid IN"
    " (SELECT rowid FROM smsbridge_kv WHERE expires <= ? LIMIT ?)"
)
_PURGE_ALL = "DELETE FROM smsbridge_kv WHERE expires <= ?"
# Serialises the reopening after a fork (rare: once per store per child process).
_FORK_GUARD = threading.Lock()
# SQLITE_BUSY and SQLITE_LOCKED: another connection holds the lock (a transient state).
_BUSY_CODES = (5, 6)


def _expires(now: float, ttl: float | None) -> float | None:
    return None if ttl is None else now + ttl


def _is_busy(exc: sqlite3.Error) -> bool:
    # sqlite_errorcode exists from Python 3.11; the message is the fallback before that.
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (int(code) & 0xFF) in _BUSY_CODES
    return "locked" in str(exc) or "busy" in str(exc)


class SQLiteStore:
    """The ``Store`` protocol in an SQLite file, sync and async.

    Persistent (keys survive a restart) and shared by every process on the machine that opens
    the same file; standard library only. Thread-safe. The async twins run the blocking call in
    a worker thread (``anyio.to_thread``), on asyncio and trio alike.

    Any SQLite error while operating (the database locked for longer than ``busy_timeout``, a
    disk I/O error, a read-only or corrupt file) raises ``StoreUnavailable``,
    as an unreachable Redis does; so does any use after ``close``.

    Examples:
        >>> from smsbridge import Bridge
        >>> from smsbridge.stores import SQLiteStore
        >>> store = SQLiteStore("/var/lib/myapp/smsbridge.db")
        >>> sms = Bridge([twilio, telnyx], store=store)  # the same file in every worker

    Args:
        path: the database file (``str`` or path-like); its directory is created if missing.
            ``":memory:"`` gives a private in-memory database (one process, lost on close).
        clock: wall-clock seconds, shared by the processes (injectable for tests).
        busy_timeout: seconds to wait for another process's write lock before giving up with
            ``StoreUnavailable``.
        synchronous: ``"FULL"`` (default) syncs every commit to disk, so a claim survives a
            power cut; ``"NORMAL"`` is faster and still survives a crash of the process.

    Raises:
        ConfigError: (``variable="store"``) the file cannot be opened or created, or is not an
            SQLite database, or an option is out of range.
        StoreUnavailable: the database was locked by another process for all of
            ``busy_timeout`` while it was being set up.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 5.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        try:
            self.path = os.fspath(path)
        except TypeError:
            raise ConfigError(
                "SQLiteStore path must be a str or path-like", variable="store"
            ) from None
        if not isinstance(self.path, str) or not self.path:
            raise ConfigError("SQLiteStore path must be a non-empty str", variable="store")
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, (int, float))
            or not math.isfinite(busy_timeout)
            or busy_timeout < 0
        ):
            raise ConfigError(
                "SQLiteStore busy_timeout must be a number of seconds >= 0", variable="store"
            )
        if synchronous not in ("FULL", "NORMAL"):
            raise ConfigError(
                "SQLiteStore synchronous must be 'FULL' or 'NORMAL'", variable="store"
            )
        self.busy_timeout = float(busy_timeout)
        self.synchronous = synchronous
        self._clock = clock
        self._memory = self.path == ":memory:"
        # One connection per store, used by one thread at a time under ``_lock``, rather than
        # one per thread: every operation is a few indexed statements (microseconds), so
        # queueing on a Python lock costs nothing measurable and hands over at once, where
        # threads competing through SQLite's lock would poll its busy handler; close() closes
        # exactly one connection, threads that come and go (thread-per-request servers) leak
        # none, and ":memory:" means one database for the whole store. Processes still
        # compete through SQLite's own locking, as they must.
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        if not self._memory:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"SQLiteStore cannot create the directory of {self.path} "
                    f"({type(exc).__name__})",
                    variable="store",
                ) from None
        self._conn: sqlite3.Connection = self._open()

    # -- plumbing ------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        """Connect, switch to WAL and create the table; errors are configuration errors."""
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # autocommit: transactions are the explicit BEGINs below
                check_same_thread=False,  # one thread at a time, under self._lock
            )
            if not self._memory:
                mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
                if mode != "wal":
                    conn.close()
                    raise ConfigError(
                        f"SQLiteStore could not put {self.path} in WAL mode (it stays "
                        f"{mode!r}); is it on a network filesystem?",
                        variable="store",
                    )
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            for statement in _SCHEMA:
                conn.execute(statement)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            if _is_busy(exc):
                raise self._unavailable(exc) from None
            raise ConfigError(
                f"SQLiteStore cannot open {self.path} ({type(exc).__name__}: {exc})",
                variable="store",
            ) from None
        return conn

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(
            f"SQLite store at {self.path} is unavailable ({type(exc).__name__}: {exc})"
        )

    def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` on the connection, one thread at a time; SQLite errors become
        ``StoreUnavailable``."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            if self._closed:
                raise StoreUnavailable(f"SQLite store at {self.path} is closed")
            try:
                return op(self._conn)
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from None

    def _after_fork(self) -> None:
        # SQLite connections must not cross a fork (parent and child would both use one open
        # file and its lock state): a forked child (gunicorn, celery prefork) opens its own.
        # The lock is replaced too, as a thread of the parent may have held it at the fork.
        with _FORK_GUARD:
            if self._pid == os.getpid():
                return  # another thread of this child got here first
            self._lock = threading.Lock()
            if not self._memory and not self._closed:
                try:
                    self._conn = self._open()
                except ConfigError as exc:
                    raise StoreUnavailable(exc.message) from None
            self._pid = os.getpid()

    def _write(self, body: Callable[[sqlite3.Connection, float], T], *, purge: bool = True) -> T:
        """``body(conn, now)`` in one ``BEGIN IMMEDIATE`` transaction, after a bounded purge."""

        def transaction(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = self._clock()  # read once the write lock is ours, not before waiting
                if purge:
                    conn.execute(_PURGE_SOME, (now, _PURGE_BATCH))
                result = body(conn, now)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the original error says more
                        conn.execute("ROLLBACK")
                raise
            return result

        return self._run(transaction)

    @staticmethod
    def _current(conn: sqlite3.Connection, key: str, now: float) -> str | None:
        row = conn.execute(_LIVE, (key, now)).fetchone()
        return None if row is None else str(row[0])

    # -- the Store protocol ------------------------------------------------------------
    def claim(self, key: str, value: str, ttl: float | None) -> bool:
        """Set ``key`` only if absent (or expired); True when this caller got it."""

        def body(conn: sqlite3.Connection, now: float) -> bool:
            if self._current(conn, key, now) is not None:
                return False
            conn.execute(_PUT, (key, value, _expires(now, ttl)))
            return True

        return self._write(body)

    def get(self, key: str) -> str | None:
        """The value at ``key``, or ``None`` (also when it has expired)."""
        return self._run(lambda conn: self._current(conn, key, self._clock()))

    def set(self, key: str, value: str, ttl: float | None) -> None:
        """Set ``key`` unconditionally, with a new expiry (``None``: none)."""

        def body(conn: sqlite3.Connection, now: float) -> None:
            conn.execute(_PUT, (key, value, _expires(now, ttl)))

        self._write(body)

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self._run(lambda conn: conn.execute("DELETE FROM smsbridge_kv WHERE key = ?", (key,)))

    def advance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Raise the number at ``key`` to ``rank`` if lower; return the previous value.

        The expiry is renewed only when the number is raised.
        """

        def body(conn: sqlite3.Connection, now: float) -> int | None:
            current = self._current(conn, key, now)
            previous = None if current is None else int(current)
            if previous is None or previous < rank:
                conn.execute(_PUT, (key, str(rank), _expires(now, ttl)))
            return previous

        return self._write(body)

    def incr(self, key: str, ttl: float | None) -> int:
        """Add one to the counter at ``key`` and return it (the TTL starts at creation)."""

        def body(conn: sqlite3.Connection, now: float) -> int:
            current = self._current(conn, key, now)
            if current is None:
                conn.execute(_PUT, (key, "1", _expires(now, ttl)))
                return 1
            value = int(current) + 1
            conn.execute("UPDATE smsbridge_kv SET value = ? WHERE key = ?", (str(value), key))
            return value

        return self._write(body)

    def reserve(self, buckets: Sequence[tuple[str, float, int]]) -> float:
        """Reserve the next slot every bucket allows; return the seconds to wait (GCRA, see
        ``Store.reserve``), in one transaction."""

        def body(conn: sqlite3.Connection, now: float) -> float:
            stored = [self._current(conn, key, now) for key, _, _ in buckets]
            wait, writes = reservation(now, stored, buckets)
            for key, value, ttl in writes:
                conn.execute(_PUT, (key, value, now + ttl))
            return wait

        return self._write(body)

    def pause(self, key: str, seconds: float) -> None:
        """Hold the bucket at ``key`` until ``seconds`` from now (unless held longer)."""

        def body(conn: sqlite3.Connection, now: float) -> None:
            held = held_until(now, self._current(conn, key, now), seconds)
            if held is not None:
                conn.execute(_PUT, (key, held[0], now + held[1]))

        self._write(body)

    async def aclaim(self, key: str, value: str, ttl: float | None) -> bool:
        """Async twin of ``claim`` (in a worker thread)."""
        return await _in_thread(self.claim, key, value, ttl)

    async def aget(self, key: str) -> str | None:
        """Async twin of ``get`` (in a worker thread)."""
        return await _in_thread(self.get, key)

    async def aset(self, key: str, value: str, ttl: float | None) -> None:
        """Async twin of ``set`` (in a worker thread)."""
        await _in_thread(self.set, key, value, ttl)

    async def adelete(self, key: str) -> None:
        """Async twin of ``delete`` (in a worker thread)."""
        await _in_thread(self.delete, key)

    async def aadvance(self, key: str, rank: int, ttl: float | None) -> int | None:
        """Async twin of ``advance`` (in a worker thread)."""
        return await _in_thread(self.advance, key, rank, ttl)

    async def aincr(self, key: str, ttl: float | None) -> int:
        """Async twin of ``incr`` (in a worker thread)."""
        return await _in_thread(self.incr, key, ttl)

    async def areserve(self, buckets: Sequence[tuple[str, float, int]]) -> float:
        """Async twin of ``reserve`` (in a worker thread)."""
        return await _in_thread(self.reserve, buckets)

    async def apause(self, key: str, seconds: float) -> None:
        """Async twin of ``pause`` (in a worker thread)."""
        await _in_thread(self.pause, key, seconds)

    # -- maintenance and lifecycle -------------------------------------------------------
    def purge(self) -> int:
        """Delete every expired row now and return how many went.

        Writes already purge as they go; this is for a database that is mostly read, or to
        shrink it before a backup.
        """

        def body(conn: sqlite3.Connection, now: float) -> int:
            return conn.execute(_PURGE_ALL, (now,)).rowcount

        return self._write(body, purge=False)

    def close(self) -> None:
        """Close the connection; later operations raise ``StoreUnavailable``.

        Closing twice is fine.
        """
        if self._pid != os.getpid():
            # A forked child that never used the store: the connection and the lock are the
            # parent's (the lock may even be held); leave both alone.
            self._closed = True
            return
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    async def aclose(self) -> None:
        """Async twin of ``close`` (in a worker thread, as it may wait for the lock)."""
        await _in_thread(self.close)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"


async def _in_thread(fn: Callable[..., T], *args: object) -> T:
    """Run a blocking call in a worker thread, so the event loop keeps running meanwhile."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args)
