"""SQLiteStore specifics: persistence, several OS processes, WAL, locks, errors, the event loop;
and store_from_url for every URL form."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from smsbridge import ConfigError, StoreUnavailable
from smsbridge.stores import MemoryStore, RedisStore, SQLiteStore, Store, store_from_url


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the test's database file goes."""
    return tmp_path / "state" / "smsbridge.db"


@pytest.fixture
def clock() -> Clock:
    """The injected clock."""
    return Clock()


@pytest.fixture
def store(db: Path, clock: Clock) -> Iterator[SQLiteStore]:
    """An SQLiteStore on a fresh file, on the test's clock."""
    made = SQLiteStore(db, clock=clock)
    yield made
    made.close()


def _rows(path: Path) -> int:
    """How many rows the table holds, expired ones included, read by a separate connection."""
    raw = sqlite3.connect(path)
    try:
        return int(raw.execute("SELECT count(*) FROM smsbridge_kv").fetchone()[0])
    finally:
        raw.close()


@pytest.fixture
def locker(db: Path, store: SQLiteStore) -> Iterator[sqlite3.Connection]:
    """A second connection holding the database's write lock (BEGIN IMMEDIATE) until the end."""
    raw = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    raw.execute("BEGIN IMMEDIATE")
    yield raw
    if raw.in_transaction:
        raw.execute("ROLLBACK")
    raw.close()


# -- persistence and the file ---------------------------------------------------------------


def test_keys_survive_a_restart(db: Path, clock: Clock) -> None:
    """Keys written before close() are there after reopening the file, with their expiry."""
    first = SQLiteStore(db, clock=clock)
    first.claim("idem:1", "sent", None)
    first.set("short", "v", 10)
    first.advance("rank", 4, 100)
    first.incr("count", 100)
    first.incr("count", 100)
    first.close()

    clock.now += 5
    second = SQLiteStore(str(db), clock=clock)
    assert not second.claim("idem:1", "again", None)
    assert second.get("idem:1") == "sent"
    assert second.get("short") == "v"
    assert second.advance("rank", 2, 100) == 4
    assert second.incr("count", 100) == 3
    clock.now += 5
    assert second.get("short") is None
    second.close()


def test_the_parent_directory_is_created(tmp_path: Path) -> None:
    """A path in directories that do not exist yet works: they are created."""
    path = tmp_path / "a" / "b" / "c" / "x.db"
    store = SQLiteStore(path)
    store.set("k", "v", None)
    assert path.is_file()
    store.close()


def test_wal_mode_is_on(db: Path, store: SQLiteStore) -> None:
    """The file is in WAL journal mode, as another connection sees it."""
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_repr_shows_the_path(db: Path, store: SQLiteStore) -> None:
    """repr names the class and the path, and path is the str of what was given."""
    assert repr(store) == f"SQLiteStore({str(db)!r})"
    assert store.path == str(db)


def test_a_memory_database_is_one_database_for_every_thread() -> None:
    """':memory:' works, and a key written from a worker thread is seen from this one."""
    store = SQLiteStore(":memory:")

    async def write() -> None:
        assert await store.aclaim("k", "v", None)

    anyio.run(write)
    assert store.get("k") == "v"
    assert not store.claim("k", "w", None)
    store.close()


def test_expired_rows_are_purged_by_writes(db: Path, store: SQLiteStore, clock: Clock) -> None:
    """Once expired, rows leave the table at the next write, so it does not grow forever."""
    for i in range(200):
        store.set(f"k{i}", "v", 5)
    store.set("forever", "v", None)
    assert _rows(db) == 201
    clock.now += 5
    assert store.get("k0") is None  # ignored on read
    store.set("fresh", "v", 5)
    assert _rows(db) == 2
    assert {store.get("forever"), store.get("fresh")} == {"v"}


def test_purge_deletes_every_expired_row(db: Path, store: SQLiteStore, clock: Clock) -> None:
    """purge() removes all expired rows at once, reports how many, and keeps live ones."""
    for i in range(1200):
        store.set(f"k{i}", "v", 5)
    store.set("live", "v", 60)
    clock.now += 6
    assert store.purge() == 1200
    assert _rows(db) == 1
    assert store.purge() == 0
    assert store.get("live") == "v"


# -- several processes ----------------------------------------------------------------------

# A racing process: open the store, say "ready"; then for each round named on stdin, claim the
# round's KEYS keys in order, counting a hit after each claim, and answer with one character per
# key: "1" where this process won it, "0" where it lost.
KEYS = 200
RACER = textwrap.dedent(
    f"""
    import sys
    from smsbridge.stores import SQLiteStore

    store = SQLiteStore(sys.argv[1], busy_timeout=30)
    name = sys.argv[2]
    print("ready", flush=True)
    for line in sys.stdin:
        round_ = line.strip()
        won = []
        for i in range({KEYS}):
            won.append("1" if store.claim(f"{{round_}}-{{i}}", name, None) else "0")
            store.incr("hits", None)
        print("".join(won), flush=True)
    store.close()
    """
)


def test_processes_racing_for_keys_have_exactly_one_winner(db: Path, store: SQLiteStore) -> None:
    """Four OS processes claim the same 200 keys at once, three rounds over: every key has
    exactly one winner, whose value is stored, and all 2400 increments count."""
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(db), f"p{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None
            assert racer.stdout.readline().strip() == "ready"
        for round_ in range(3):
            for racer in racers:  # every racer gets the round before any answer is read
                assert racer.stdin is not None
                racer.stdin.write(f"r{round_}\n")
                racer.stdin.flush()
            answers = []
            for racer in racers:
                assert racer.stdout is not None
                answers.append(racer.stdout.readline().strip())
            assert [len(answer) for answer in answers] == [KEYS] * 4
            for i in range(KEYS):
                winners = [n for n, answer in enumerate(answers) if answer[i] == "1"]
                assert len(winners) == 1, (round_, i, winners)
                assert store.get(f"r{round_}-{i}") == f"p{winners[0]}"
    finally:
        # communicate() closes stdin (ending the racers' loop) and collects their stderr.
        errors = [racer.communicate(timeout=60)[1] for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * 4, errors
    assert store.get("hits") == str(4 * 3 * KEYS)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_uses_the_store_safely(store: SQLiteStore) -> None:
    """A store made before a fork works in the child (on its own connection) and the parent."""
    store.set("k", "parent", None)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        code = 1
        try:
            if store.get("k") == "parent" and store.claim("child", "yes", None):
                code = 0
            store.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get("child") == "yes"
    assert not store.claim("child", "again", None)


# -- locks and errors -----------------------------------------------------------------------


def test_a_lock_held_past_the_busy_timeout_is_store_unavailable(
    db: Path, store: SQLiteStore, clock: Clock
) -> None:
    """While another connection holds the write lock, every write raises StoreUnavailable
    (not a sqlite3 error) once the busy timeout is over; reads still work (WAL)."""
    store.set("k", "v", None)
    quick = SQLiteStore(db, clock=clock, busy_timeout=0.05)
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    calls: list[Callable[[], object]] = [
        lambda: quick.claim("n", "v", 1),
        lambda: quick.set("k", "w", 1),
        lambda: quick.delete("k"),
        lambda: quick.advance("r", 1, 1),
        lambda: quick.incr("c", 1),
        quick.purge,
    ]
    try:
        for call in calls:
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert not isinstance(caught.value, sqlite3.Error)
            assert caught.value.__cause__ is None
            assert caught.value.code == "store_unavailable"
            assert "locked" in caught.value.message
        assert quick.get("k") == "v"
    finally:
        raw.execute("ROLLBACK")
        raw.close()
    assert quick.claim("n", "v", 1)  # the lock is gone: it works again
    quick.close()


@pytest.mark.anyio
async def test_async_twins_raise_store_unavailable_on_a_lock(db: Path, clock: Clock) -> None:
    """The async twins raise StoreUnavailable too when the lock outlasts the busy timeout."""
    quick = SQLiteStore(db, clock=clock, busy_timeout=0.05)
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable):
            await quick.aclaim("k", "v", 1)
        with pytest.raises(StoreUnavailable):
            await quick.aincr("c", 1)
        with pytest.raises(StoreUnavailable):
            await quick.aset("k", "v", 1)
        assert await quick.aget("k") is None
    finally:
        raw.execute("ROLLBACK")
        raw.close()
    assert await quick.aclaim("k", "v", 1)
    await quick.aclose()


@pytest.mark.anyio
async def test_async_twins_do_not_block_the_event_loop(
    db: Path, store: SQLiteStore, locker: sqlite3.Connection
) -> None:
    """An aclaim waiting for another connection's lock waits in a worker thread: a ticker task
    on the same loop keeps ticking meanwhile, and the claim succeeds once the lock goes."""
    ticks = 0
    results: list[bool] = []

    async def claimer() -> None:
        results.append(await store.aclaim("k", "v", None))

    async def ticker() -> None:
        nonlocal ticks
        while not results:
            ticks += 1
            await anyio.sleep(0.001)

    async with anyio.create_task_group() as group:
        group.start_soon(claimer)
        group.start_soon(ticker)
        while ticks < 20:
            await anyio.sleep(0.001)
        assert results == []  # still waiting for the lock, yet the loop ran 20 ticks
        locker.execute("COMMIT")
    assert results == [True]
    assert ticks >= 20
    assert store.get("k") == "v"


def test_a_closed_store_raises_store_unavailable(store: SQLiteStore) -> None:
    """After close() every operation raises StoreUnavailable; closing again is fine."""
    store.close()
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.get("k")
    with pytest.raises(StoreUnavailable, match="closed"):
        store.claim("k", "v", 1)


@pytest.mark.anyio
async def test_aclose_closes(store: SQLiteStore) -> None:
    """aclose() closes the store like close()."""
    await store.aclose()
    with pytest.raises(StoreUnavailable):
        await store.aget("k")


def _a_directory(tmp_path: Path) -> Path:
    return tmp_path


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("not a directory")
    return tmp_path / "plain" / "x.db"


def _not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not an SQLite database, whatever its name says\n" * 100)
    return path


@pytest.mark.parametrize("make", [_a_directory, _under_a_file, _not_a_database])
def test_an_unopenable_path_is_a_config_error(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    """A directory, a path under a regular file, or a file that is not a database: ConfigError
    naming the store setting, at construction."""
    path = make(tmp_path)
    with pytest.raises(ConfigError) as caught:
        SQLiteStore(path)
    assert caught.value.variable == "store"
    assert not isinstance(caught.value, sqlite3.Error)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"busy_timeout": -1},
        {"busy_timeout": float("nan")},
        {"busy_timeout": "5"},
        {"busy_timeout": True},
        {"synchronous": "OFF"},
    ],
)
def test_bad_options_are_config_errors(db: Path, kwargs: dict[str, object]) -> None:
    """An out-of-range busy_timeout or an unknown synchronous mode is a ConfigError."""
    with pytest.raises(ConfigError) as caught:
        SQLiteStore(db, **kwargs)  # type: ignore[arg-type]
    assert caught.value.variable == "store"


@pytest.mark.parametrize("path", ["", 42, None])
def test_a_bad_path_is_a_config_error(path: object) -> None:
    """An empty path or something that is not a path at all is a ConfigError."""
    with pytest.raises(ConfigError):
        SQLiteStore(path)  # type: ignore[arg-type]


def test_importing_the_stores_does_not_import_sqlite3() -> None:
    """`import smsbridge.stores` (and store_from_url) leave sqlite3 unloaded until used."""
    code = (
        "import sys, smsbridge, smsbridge.stores\n"
        "from smsbridge.stores import store_from_url\n"
        "store_from_url('memory:')\n"
        "print('sqlite3' in sys.modules)\n"
        "from smsbridge.stores import SQLiteStore\n"
        "print('sqlite3' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["False", "True"]


# -- store_from_url -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["memory:", "memory://", "MEMORY:", "  memory:\n"])
def test_memory_urls(url: str) -> None:
    """memory: and memory:// (any case, surrounding whitespace ignored) give a MemoryStore."""
    assert isinstance(store_from_url(url), MemoryStore)


def test_sqlite_url_with_four_slashes_is_absolute(tmp_path: Path) -> None:
    """sqlite:////abs/path.db opens /abs/path.db."""
    store = store_from_url(f"sqlite:///{tmp_path}/abs.db")  # tmp_path starts with "/"
    assert isinstance(store, SQLiteStore)
    assert store.path == str(tmp_path / "abs.db")
    assert (tmp_path / "abs.db").is_file()
    store.close()


def test_sqlite_url_with_three_slashes_is_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sqlite:///tmp/x.db is tmp/x.db under the working directory, not /tmp/x.db."""
    monkeypatch.chdir(tmp_path)
    store = store_from_url("sqlite:///tmp/x.db")
    assert isinstance(store, SQLiteStore)
    assert store.path == "tmp/x.db"
    assert (tmp_path / "tmp" / "x.db").is_file()
    store.close()


def test_sqlite_url_path_is_percent_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Percent-escapes in a sqlite URL's path are decoded (%20 is a space)."""
    monkeypatch.chdir(tmp_path)
    store = store_from_url("SQLITE:///my%20data/sms.db")
    assert isinstance(store, SQLiteStore)
    assert (tmp_path / "my data" / "sms.db").is_file()
    store.close()


def test_sqlite_memory_url() -> None:
    """sqlite:///:memory: gives an in-memory SQLiteStore that works."""
    store = store_from_url("sqlite:///:memory:")
    assert isinstance(store, SQLiteStore)
    assert store.path == ":memory:"
    assert store.claim("k", "v", None)
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@localhost:6379/0",
        "rediss://user:hunter2@redis.example:6380/1",
        "unix:///var/run/redis.sock?db=2",
        "REDIS://localhost",
    ],
)
def test_redis_urls(url: str) -> None:
    """redis://, rediss:// and unix:// give a RedisStore on that URL, password hidden."""
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    assert isinstance(store, Store)
    assert "hunter2" not in repr(store)
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "hunter2",
        ":hunter2",
        "http://user:hunter2@example.com/",
        "postgres://app:hunter2@db/sms",
        "sqlite:",
        "sqlite:hunter2.db",
        "sqlite://",
        "sqlite:///",
        "sqlite:////",
        "sqlite://hunter2@host/x.db",
        "sqlite:///x.db?password=hunter2",
        "sqlite:///x.db#hunter2",
        "memory://hunter2",
        "memory:hunter2",
        "redis:hunter2@localhost",
        "redis://:hunter2@[::1/0",
        "redis://:hunter2@localhost:notaport/0",
        None,
        42,
        b"memory:",
    ],
)
def test_bad_urls_are_config_errors_naming_the_variable(url: object) -> None:
    """Anything else is a ConfigError whose variable and message name SMSBRIDGE_STORE and
    which never repeats a password from the URL."""
    with pytest.raises(ConfigError) as caught:
        store_from_url(url)  # type: ignore[arg-type]
    error = caught.value
    assert error.variable == "SMSBRIDGE_STORE"
    assert "SMSBRIDGE_STORE" in error.message
    for text in (str(error), repr(error), error.message):
        assert "hunter2" not in text


def test_the_variable_name_is_the_callers(tmp_path: Path) -> None:
    """variable= names the setting in the error, also for an unopenable SQLite file."""
    with pytest.raises(ConfigError) as caught:
        store_from_url("nope://x", variable="MYAPP_STORE")
    assert caught.value.variable == "MYAPP_STORE"
    assert "MYAPP_STORE" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        store_from_url(f"sqlite:///{tmp_path}", variable="MYAPP_STORE")  # a directory
    assert caught.value.variable == "MYAPP_STORE"
    assert "MYAPP_STORE" in caught.value.message
