"""Sending: ``asend_many`` and ``send_many`` beside the twilio SDK and a bare aiohttp session.

Every candidate sends the same messages (``{"to": TO, "body": "Your code is 000042"}``, a
fresh body each) to the same loopback server (:mod:`benchmarks._server`, a canned Twilio in
another process), so the CPU time of this process (``time.process_time``, all threads) is the
client's alone. Measured per candidate and round: messages per second (wall clock), client
CPU microseconds per message, and the server's CPU over the same interval (from ``/proc``),
which shows it is not what limits the rate.

Async, concurrency 50:

- ``asend_many``: ``Bridge(Twilio(..., base_url=server))`` with its default async client,
  ``async for item in sms.asend_many(inputs, concurrency=50)``.
- twilio SDK: ``Client(http_client=AsyncTwilioHttpClient())`` with ``client.api.base_url``
  pointed at the server (the SDK's ``Domain.base_url``, what every Api URL is built from), 50
  tasks each awaiting ``client.messages.create_async(to=, from_=, body=)`` in turn.
- bare aiohttp: one ``aiohttp.ClientSession``, 50 tasks posting the bytes Twilio's codec would
  (the same URL, headers and form body, built per message with ``urlencode``) and
  ``json.loads`` of the answer: the floor a hand-written client could reach.
- context: the bare session plus a phonenumbers check of a fresh number and a segment count
  per message (``validating_aiohttp``): the least a sender that validates can spend.
- context: ``asend_many`` on an ``httpx.AsyncClient`` passed as ``async_http_client`` (what
  the bridge uses under trio), to show what the choice of transport is worth. At most 1,000
  messages: it runs at a few hundred a second at this concurrency.

Sync, 16 threads:

- ``send_many``: ``sms.send_many(inputs, concurrency=16)`` with the bridge's defaults (no
  client given: it then sends on its async pool, from an event loop in a helper thread).
- twilio SDK: ``Client.messages.create`` from 16 threads of a ``ThreadPoolExecutor``. The SDK
  mounts a pool of ``min(32, cpus + 4)`` connections for https only; for the loopback's http it
  gets a 16-connection adapter here, so no thread waits for or re-opens a connection.

Each candidate warms up first (a batch of 100 on the same client opens its connections), then
sends N. Rounds interleave the candidates (the order rotated each round); the best round of
each is compared, every round is in the JSON.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from benchmarks._common import Result, Row, child_main, log
from benchmarks._server import FROM, TO, cpu_seconds

CONCURRENCY = 50
THREADS = 16
WARMUP = 100
HTTPX_MESSAGES = 1000


@dataclass
class Run:
    """One candidate's measured batch."""

    n: int
    wall_s: float
    cpu_s: float
    server_cpu_s: float

    @property
    def per_second(self) -> float:
        return self.n / self.wall_s

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.n * 1e6

    @property
    def server_share(self) -> float:
        """The server's CPU over the interval, as a share of one core."""
        return self.server_cpu_s / self.wall_s

    def as_dict(self) -> dict[str, float]:
        return {
            **asdict(self),
            "messages_per_second": self.per_second,
            "client_cpu_us_per_message": self.cpu_us,
            "server_cpu_us_per_message": self.server_cpu_s / self.n * 1e6,
            "server_cpu_share_of_one_core": self.server_share,
        }


def body(i: int) -> str:
    return f"Your code is {i:06d}"


def inputs(n: int, start: int = 0) -> Iterator[dict[str, str]]:
    """``send()``'s keywords for ``n`` messages, made as they are read (as from a file)."""
    for i in range(start, start + n):
        yield {"to": TO, "body": body(i)}


class Server:
    """What a candidate needs of the loopback server."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.url: str = info["base_url"]
        self.account_sid: str = info["account_sid"]
        self.auth_token: str = info["auth_token"]
        self.pids: list[int] = info["pids"]

    def cpu(self) -> float:
        return cpu_seconds(self.pids)

    def twilio(self) -> Any:
        from smsbridge.providers import Twilio

        return Twilio(self.account_sid, self.auth_token, from_=FROM, base_url=self.url)


def _measure(server: Server, n: int) -> Callable[[int], Run]:
    """Start the clocks; the returned function stops them, given how many were accepted."""
    gc.collect()
    server_cpu, cpu, wall = server.cpu(), time.process_time(), time.perf_counter()

    def stop(ok: int) -> Run:
        run = Run(
            n,
            time.perf_counter() - wall,
            time.process_time() - cpu,
            server.cpu() - server_cpu,
        )
        if ok != n:
            raise RuntimeError(f"{ok} of {n} messages were accepted")
        return run

    return stop


async def _pool(n: int, start: int, one: Callable[[int], Awaitable[bool]]) -> int:
    """``n`` calls of ``one`` from ``CONCURRENCY`` tasks; how many returned true."""
    counter = iter(range(start, start + n))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for i in counter:
            accepted = await one(i)  # not `ok += await ...`: that reads ok before awaiting
            ok += accepted

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return ok


# -- async candidates ---------------------------------------------------------------------------


async def asend_many(server: Server, n: int) -> tuple[Run, dict[str, Any]]:
    """``Bridge.asend_many`` with the bridge's default async client."""
    from smsbridge import Bridge

    sms = Bridge(server.twilio())
    try:
        async for _ in sms.asend_many(inputs(WARMUP), concurrency=CONCURRENCY):
            pass
        stop = _measure(server, n)
        ok = 0
        async for item in sms.asend_many(inputs(n, WARMUP), concurrency=CONCURRENCY):
            ok += item.ok
        run = stop(ok)
        client = sms.async_client
        transport = f"{type(client).__module__}.{type(client).__qualname__}"
    finally:
        await sms.aclose()
    return run, {"transport": transport}


async def asend_many_httpx(server: Server, n: int) -> tuple[Run, dict[str, Any]]:
    """``Bridge.asend_many`` on an ``httpx.AsyncClient`` (the trio default), for context."""
    import httpx

    from smsbridge import Bridge

    n = min(n, HTTPX_MESSAGES)  # at ~200 msg/s a full batch would take most of the run
    client = httpx.AsyncClient(follow_redirects=False)  # as the bridge makes it under trio
    sms = Bridge(server.twilio(), async_http_client=client)
    try:
        async for _ in sms.asend_many(inputs(WARMUP), concurrency=CONCURRENCY):
            pass
        stop = _measure(server, n)
        ok = 0
        async for item in sms.asend_many(inputs(n, WARMUP), concurrency=CONCURRENCY):
            ok += item.ok
        run = stop(ok)
    finally:
        await client.aclose()
    return run, {"transport": "httpx.AsyncClient"}


async def twilio_async(server: Server, n: int) -> tuple[Run, dict[str, Any]]:
    """The twilio SDK's ``create_async`` on its ``AsyncTwilioHttpClient``, 50 tasks."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    http = AsyncTwilioHttpClient()  # its aiohttp session must be made inside the loop
    client = Client(server.account_sid, server.auth_token, http_client=http)
    client.api.base_url = server.url

    async def one(i: int) -> bool:
        message = await client.messages.create_async(to=TO, from_=FROM, body=body(i))
        return bool(message.sid)

    try:
        await _pool(WARMUP, 0, one)
        stop = _measure(server, n)
        run = stop(await _pool(n, WARMUP, one))
    finally:
        await http.close()
    return run, {}


def _codec_target(server: Server) -> tuple[str, dict[str, str], bytes]:
    """The URL, headers and first body Twilio's codec builds, less the framing headers aiohttp
    writes itself (as ``AiohttpSender`` does)."""
    from smsbridge import Bridge

    provider = server.twilio()
    request = provider.build_request(Bridge(provider).message(TO, body(0)))
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    return str(request.url), headers, request.content


async def _post_each(
    server: Server, n: int, url: str, headers: dict[str, str], data: Callable[[int], bytes]
) -> Run:
    """One aiohttp session posting ``data(i)`` from ``CONCURRENCY`` tasks, the answers read."""
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * CONCURRENCY))

    async def one(i: int) -> bool:
        async with session.post(url, data=data(i), headers=headers) as answer:
            payload = json.loads(await answer.read())
            return answer.status == 201 and "sid" in payload

    try:
        await _pool(WARMUP, 0, one)
        stop = _measure(server, n)
        return stop(await _pool(n, WARMUP, one))
    finally:
        await session.close()


async def bare_aiohttp(server: Server, n: int) -> tuple[Run, dict[str, Any]]:
    """One aiohttp session posting what Twilio's codec builds, nothing else."""
    url, headers, first = _codec_target(server)

    def form(i: int) -> bytes:
        return urlencode([("To", TO), ("From", FROM), ("Body", body(i))]).encode()

    assert form(0) == first, "the bare client must post what the codec builds"
    return await _post_each(server, n, url, headers, form), {"headers": sorted(headers)}


async def validating_aiohttp(server: Server, n: int) -> tuple[Run, dict[str, Any]]:
    """The bare session plus the least a careful sender does: check a fresh number, count segments.

    Each message goes to a different number (a bulk job's usual case), parsed and validated with
    phonenumbers (no cache can help), and its body's segments are counted. Nothing else of
    smsbridge runs: this is the floor under the ``<= 1.25x`` target, measured.
    """
    import phonenumbers

    from smsbridge._segments import segments

    url, headers, _ = _codec_target(server)

    def checked_form(i: int) -> bytes:
        number = phonenumbers.parse(f"+1415555{i % 10000:04d}", None)
        if not phonenumbers.is_valid_number(number):
            raise ValueError(f"not a valid number: {number}")
        to = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        text = body(i)
        segments(text)
        return urlencode([("To", to), ("From", FROM), ("Body", text)]).encode()

    return await _post_each(server, n, url, headers, checked_form), {}


# -- sync candidates ----------------------------------------------------------------------------


def send_many(server: Server, n: int) -> tuple[Run, dict[str, Any]]:
    """``Bridge.send_many(concurrency=16)`` with the bridge's defaults (no client given)."""
    from smsbridge import Bridge

    sms = Bridge(server.twilio())
    try:
        for _ in sms.send_many(inputs(WARMUP), concurrency=THREADS):
            pass
        stop = _measure(server, n)
        ok = sum(item.ok for item in sms.send_many(inputs(n, WARMUP), concurrency=THREADS))
        run = stop(ok)
    finally:
        sms.close()
    return run, {}


def twilio_sync(server: Server, n: int) -> tuple[Run, dict[str, Any]]:
    """The twilio SDK's ``Client.messages.create`` from a 16-thread pool."""
    from requests.adapters import HTTPAdapter
    from twilio.rest import Client

    client = Client(server.account_sid, server.auth_token)
    client.api.base_url = server.url
    client.http_client.session.mount("http://", HTTPAdapter(pool_maxsize=THREADS))

    def worker(counter: Iterator[int]) -> int:
        ok = 0
        for i in counter:  # a range iterator steps atomically under the GIL
            ok += bool(client.messages.create(to=TO, from_=FROM, body=body(i)).sid)
        return ok

    def pool(executor: ThreadPoolExecutor, count: int, start: int) -> int:
        counter = iter(range(start, start + count))
        futures = [executor.submit(worker, counter) for _ in range(THREADS)]
        return sum(f.result() for f in futures)

    with ThreadPoolExecutor(THREADS) as executor:
        pool(executor, WARMUP, 0)
        stop = _measure(server, n)
        run = stop(pool(executor, n, WARMUP))
    client.http_client.session.close()
    return run, {"pool_maxsize": THREADS}


# -- the benchmark ------------------------------------------------------------------------------

AsyncCandidate = Callable[[Server, int], Coroutine[Any, Any, tuple[Run, dict[str, Any]]]]
SyncCandidate = Callable[[Server, int], tuple[Run, dict[str, Any]]]
ASYNC: dict[str, AsyncCandidate] = {
    "asend_many": asend_many,
    "twilio_create_async": twilio_async,
    "bare_aiohttp": bare_aiohttp,
    "validating_aiohttp": validating_aiohttp,
    "asend_many_httpx": asend_many_httpx,
}
SYNC: dict[str, SyncCandidate] = {"send_many": send_many, "twilio_create_16_threads": twilio_sync}


def _rounds(
    candidates: dict[str, Callable[[], tuple[Run, dict[str, Any]]]], rounds: int, label: str
) -> tuple[dict[str, Run], dict[str, list[dict[str, Any]]]]:
    """Every candidate once per round, the order rotated; the best round of each."""
    names = list(candidates)
    best: dict[str, Run] = {}
    every: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            run, extra = candidates[name]()
            every[name].append({**run.as_dict(), **extra})
            log(
                f"{label} round {r + 1}/{rounds} {name:26} {run.per_second:8.0f} msg/s "
                f"{run.cpu_us:7.1f} us CPU/msg  server {run.server_share:4.0%} of a core"
            )
            if name not in best or run.per_second > best[name].per_second:
                best[name] = run
    return best, every


def run(quick: bool, server_info: dict[str, Any] | None) -> Result:
    """Both halves, async then sync, against the server in ``server_info``."""
    if server_info is None:
        raise SystemExit("the sending benchmark needs --server (the loopback server's line)")
    server = Server(server_info)
    n_async, n_sync, rounds = (400, 300, 1) if quick else (5000, 3000, 3)

    def async_call(f: AsyncCandidate) -> Callable[[], tuple[Run, dict[str, Any]]]:
        return lambda: asyncio.run(f(server, n_async))

    def sync_call(f: SyncCandidate) -> Callable[[], tuple[Run, dict[str, Any]]]:
        return lambda: f(server, n_sync)

    a, a_rounds = _rounds({k: async_call(f) for k, f in ASYNC.items()}, rounds, "async")
    s, s_rounds = _rounds({k: sync_call(f) for k, f in SYNC.items()}, rounds, "sync")

    ours, sdk, bare = a["asend_many"], a["twilio_create_async"], a["bare_aiohttp"]
    fastest = max(a.values(), key=lambda r: r.per_second)
    rows = [
        Row(
            "async send, c=50",
            "asend_many",
            ours.per_second,
            "twilio create_async",
            sdk.per_second,
            "msg/s",
            ">=",
            1.2,
        ),
        Row(
            "async send, c=50",
            "asend_many",
            ours.cpu_us,
            "bare aiohttp session",
            bare.cpu_us,
            "us CPU/msg",
            "<=",
            1.25,
        ),
        Row(
            "async send, c=50",
            "bare aiohttp session",
            bare.per_second,
            "asend_many",
            ours.per_second,
            "msg/s",
            note="context: the server keeps up with a faster client",
        ),
        Row(
            "async send, c=50",
            "twilio create_async",
            sdk.cpu_us,
            "asend_many",
            ours.cpu_us,
            "us CPU/msg",
            note="context: CPU per message of the SDK",
        ),
        Row(
            "async send, c=50",
            "bare session + E.164 check + segments",
            a["validating_aiohttp"].cpu_us,
            "bare aiohttp session",
            bare.cpu_us,
            "us CPU/msg",
            note="context: the floor under the 1.25x target (docs/performance.md)",
        ),
        Row(
            "async send, c=50",
            "asend_many on httpx.AsyncClient",
            a["asend_many_httpx"].cpu_us,
            "asend_many (default client)",
            ours.cpu_us,
            "us CPU/msg",
            note="context: the transport the bridge does not use on asyncio",
        ),
        Row(
            "sync send, 16 threads",
            "send_many",
            s["send_many"].per_second,
            "twilio create, 16 threads",
            s["twilio_create_16_threads"].per_second,
            "msg/s",
            ">=",
            1.5,
        ),
        Row(
            "sync send, 16 threads",
            "send_many",
            s["send_many"].cpu_us,
            "twilio create, 16 threads",
            s["twilio_create_16_threads"].cpu_us,
            "us CPU/msg",
            note="context: threads included",
        ),
        Row(
            "loopback server",
            "server CPU/msg, fastest run",
            fastest.server_cpu_s / fastest.n * 1e6,
            "client CPU/msg, same run",
            fastest.cpu_us,
            "us CPU/msg",
            note=f"context: server busy {fastest.server_share:.0%} of one core in that run",
        ),
    ]
    figures = {
        "messages_async": n_async,
        "messages_sync": n_sync,
        "rounds": rounds,
        "concurrency": CONCURRENCY,
        "threads": THREADS,
        "warmup": WARMUP,
        "server_workers": len(server.pids),
        "best": {name: run.as_dict() for name, run in {**a, **s}.items()},
        "rounds_detail": {**a_rounds, **s_rounds},
    }
    return Result("sending", rows, figures)


if __name__ == "__main__":
    child_main("_sending", run)
