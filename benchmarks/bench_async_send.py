"""Client CPU per request of ``Bridge.asend``: ``httpx.AsyncClient`` vs ``AiohttpSender``.

The server runs in a separate process, so the CPU time measured here (``time.process_time``
of this process) is the client's alone. Each run sends N messages at a fixed concurrency
through ``Bridge.asend`` and reports CPU milliseconds per request and requests per second, then
the ratios between the two transports.

Usage::

    python benchmarks/bench_async_send.py                       # the emulator, N=2000, c=50
    python benchmarks/bench_async_send.py --server minimal      # a bare asyncio HTTP server
    python benchmarks/bench_async_send.py --raw                 # transports only, no Bridge

``--server emulator`` measures against ``smsbridge.testing.Emulator`` (real Twilio/Telnyx
formats, full validation; its own speed may cap req/s). ``--server minimal`` answers every
request with a canned provider response, so req/s reflects the client more closely.
``--raw`` sends the codec's request straight through the transport, isolating it from the
bridge's own work (validation, routing, models).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from smsbridge import Bridge
from smsbridge.providers import Telnyx, Twilio
from smsbridge.providers._base import Provider
from smsbridge.providers._shell import AsyncSender
from smsbridge.transports import AiohttpSender

TO = "+14155552671"
FROM = "+13125550100"
MINIMAL_TWILIO_SID = "AC" + "0" * 32
MINIMAL_TOKEN = "bench-token"  # the minimal server checks no credentials


# -- servers (run in a child process) -----------------------------------------------------------

_TWILIO_ANSWER = json.dumps(
    {"sid": "SM" + "0" * 32, "status": "queued", "to": TO, "from": FROM, "num_segments": "1"}
).encode()
_TELNYX_ANSWER = json.dumps(
    {
        "data": {
            "id": "40385f64-5717-4562-b3fc-2c963f66afa6",
            "to": [{"phone_number": TO, "status": "queued"}],
            "from": {"phone_number": FROM},
            "parts": 1,
            "encoding": "GSM-7",
        }
    }
).encode()


async def _minimal_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            twilio = head.startswith(b"POST /2010-04-01/")
            body = _TWILIO_ANSWER if twilio else _TELNYX_ANSWER
            status = b"201 Created" if twilio else b"200 OK"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve_minimal() -> None:
    """A bare HTTP/1.1 keep-alive server answering every request with a canned success."""

    async def main() -> None:
        server = await asyncio.start_server(_minimal_connection, "127.0.0.1", 0, backlog=512)
        port = server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        info = {
            "twilio": {"base_url": url, "account_sid": MINIMAL_TWILIO_SID, "auth_token": "x"},
            "telnyx": {"base_url": url, "api_key": MINIMAL_TOKEN},
        }
        print(json.dumps(info), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
        server.close()

    asyncio.run(main())


def serve_emulator() -> None:
    """The smsbridge emulator, one listener, no status progress or callbacks."""
    from smsbridge.testing import Emulator

    with Emulator(progress_delay=3600, deliver_callbacks=False, separate_ports=False) as emu:
        info = emu.info()
        print(json.dumps({"twilio": info["twilio"], "telnyx": info["telnyx"]}), flush=True)
        sys.stdin.read()


# -- client ------------------------------------------------------------------------------------


def make_provider(info: dict[str, Any], name: str) -> Provider:
    if name == "twilio":
        t = info["twilio"]
        return Twilio(t["account_sid"], t["auth_token"], from_=FROM, base_url=t["base_url"])
    return Telnyx(info["telnyx"]["api_key"], from_=FROM, base_url=info["telnyx"]["base_url"])


async def run(
    send: Callable[[int], Awaitable[Any]], n: int, concurrency: int, warmup: int
) -> tuple[float, float]:
    """CPU seconds and wall seconds for ``n`` calls of ``send`` at ``concurrency``."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await send(i)

    for i in range(warmup):  # open the pool's connections outside the measurement
        await send(i)
    await asyncio.gather(*(send(i) for i in range(concurrency)))

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - cpu, time.perf_counter() - wall


async def measure(kind: str, info: dict[str, Any], args: argparse.Namespace) -> dict[str, float]:
    provider = make_provider(info, args.provider)
    client: AsyncSender = (
        AiohttpSender(limit=args.concurrency * 2)
        if kind == "aiohttp"
        else httpx.AsyncClient(limits=httpx.Limits(max_connections=args.concurrency * 2))
    )
    try:
        if args.raw:
            from smsbridge.providers._shell import atransmit

            sms = Bridge(provider)
            message = sms.message(TO, "Your code is 123456")

            async def send(i: int) -> Any:
                return await atransmit(client, provider, message)

        else:
            sms = Bridge(provider, async_http_client=client)

            async def send(i: int) -> Any:
                return await sms.asend(to=TO, body=f"Your code is {i:06d}")

        cpu, wall = await run(send, args.n, args.concurrency, args.warmup)
    finally:
        await client.aclose()
    return {"cpu_ms_per_request": cpu / args.n * 1000, "requests_per_second": args.n / wall}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per transport")
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--server", choices=["emulator", "minimal"], default="emulator")
    parser.add_argument("--provider", choices=["twilio", "telnyx"], default="twilio")
    parser.add_argument("--raw", action="store_true", help="transport only, without Bridge")
    parser.add_argument("--rounds", type=int, default=1, help="alternate runs; best of each")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", choices=["emulator", "minimal"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "minimal":
        serve_minimal()
        return 0
    if args.serve == "emulator":
        serve_emulator()
        return 0

    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve", args.server],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        results: dict[str, dict[str, float]] = {}
        for _ in range(args.rounds):
            for kind in ("httpx", "aiohttp"):
                got = asyncio.run(measure(kind, info, args))
                best = results.get(kind)
                if best is None or got["cpu_ms_per_request"] < best["cpu_ms_per_request"]:
                    results[kind] = got
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)

    h, a = results["httpx"], results["aiohttp"]
    ratios = {
        "cpu_per_request_httpx_over_aiohttp": h["cpu_ms_per_request"] / a["cpu_ms_per_request"],
        "requests_per_second_aiohttp_over_httpx": a["requests_per_second"]
        / h["requests_per_second"],
    }
    settings = {
        "n": args.n,
        "concurrency": args.concurrency,
        "server": args.server,
        "provider": args.provider,
        "path": "transport only" if args.raw else "Bridge.asend",
    }
    if args.json:
        print(json.dumps({"settings": settings, "results": results, "ratios": ratios}, indent=2))
        return 0
    print(", ".join(f"{k}={v}" for k, v in settings.items()))
    print(f"{'transport':<10} {'CPU ms/request':>15} {'requests/s':>12}")
    for kind, row in results.items():
        print(f"{kind:<10} {row['cpu_ms_per_request']:>15.3f} {row['requests_per_second']:>12.0f}")
    print(
        f"httpx uses {ratios['cpu_per_request_httpx_over_aiohttp']:.2f}x the CPU per request; "
        f"aiohttp does {ratios['requests_per_second_aiohttp_over_httpx']:.2f}x the requests/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
