"""Async HTTP clients side by side: CPU per request against the loopback server.

Why aiohttp carries ``asend_many``: this posts what Twilio's codec builds, 5,000 times from 50
tasks, with each installed candidate, and prints the client's CPU per request (this process,
all its threads: a Rust client's runtime threads count) and requests per second, best of three.

    python benchmarks/bench_clients.py                  # every installed candidate
    python benchmarks/bench_clients.py aiohttp pyreqwest

The candidates besides aiohttp are not dependencies of smsbridge; install them to compare:
``pip install pyreqwest rnet curl_cffi``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._sending import CONCURRENCY, _pool
from benchmarks._server import FROM, TO, LoopbackServer

N, ROUNDS = 5000, 3
One = Callable[[int], Awaitable[bool]]
Close = Callable[[], Any]


def form(i: int) -> bytes:
    return urlencode([("To", TO), ("From", FROM), ("Body", f"Your code is {i:06d}")]).encode()


async def aiohttp_client(url: str, headers: dict[str, str]) -> tuple[One, Close]:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * CONCURRENCY))

    async def one(i: int) -> bool:
        async with session.post(url, data=form(i), headers=headers) as answer:
            return answer.status == 201 and "sid" in json.loads(await answer.read())

    return one, session.close


async def pyreqwest_client(url: str, headers: dict[str, str]) -> tuple[One, Close]:
    from pyreqwest.client import ClientBuilder

    client = ClientBuilder().max_connections(2 * CONCURRENCY).build()

    async def one(i: int) -> bool:
        answer = await client.post(url).headers(headers).body_bytes(form(i)).build().send()
        return answer.status == 201 and "sid" in json.loads(bytes(await answer.bytes()))

    return one, client.close


async def rnet_client(url: str, headers: dict[str, str]) -> tuple[One, Close]:
    import rnet

    client = rnet.Client()

    async def one(i: int) -> bool:
        answer = await client.post(url, headers=headers, body=form(i))
        status = answer.status.as_int() if hasattr(answer.status, "as_int") else answer.status
        return int(status) == 201 and "sid" in json.loads(bytes(await answer.bytes()))

    return one, lambda: None


async def curl_cffi_client(url: str, headers: dict[str, str]) -> tuple[One, Close]:
    from curl_cffi.requests import AsyncSession

    session = AsyncSession(max_clients=CONCURRENCY)

    async def one(i: int) -> bool:
        answer = await session.post(url, data=form(i), headers=headers)
        return answer.status_code == 201 and "sid" in json.loads(answer.content)

    return one, session.close


CANDIDATES = {
    "aiohttp": aiohttp_client,
    "pyreqwest": pyreqwest_client,
    "rnet": rnet_client,
    "curl_cffi": curl_cffi_client,
}


async def measure(name: str, server: LoopbackServer) -> tuple[float, float]:
    """Best (lowest CPU) of ``ROUNDS`` runs: (µs CPU per request, requests per second)."""
    from smsbridge import Bridge
    from smsbridge.providers import Twilio

    info = server.info
    twilio = Twilio(info["account_sid"], info["auth_token"], from_=FROM, base_url=server.base_url)
    request = twilio.build_request(Bridge(twilio).message(TO, "x"))
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    one, close = await CANDIDATES[name](str(request.url), headers)
    try:
        await _pool(200, 0, one)
        best: tuple[float, float] | None = None
        for _ in range(ROUNDS):
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            if await _pool(N, 0, one) != N:
                raise RuntimeError(f"{name}: not every request was accepted")
            run = ((time.process_time() - cpu) / N * 1e6, N / (time.perf_counter() - wall))
            best = run if best is None or run[0] < best[0] else best
        assert best is not None
        return best
    finally:
        closed = close()
        if asyncio.iscoroutine(closed):
            await closed


def main(argv: list[str]) -> int:
    names = argv or list(CANDIDATES)
    with LoopbackServer() as server:
        for name in names:
            try:
                cpu, rate = asyncio.run(measure(name, server))
            except ImportError:
                print(f"{name:10} not installed")
                continue
            print(f"{name:10} {cpu:7.1f} us CPU/request {rate:8.0f} requests/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
