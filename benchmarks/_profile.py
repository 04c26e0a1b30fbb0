"""Where ``asend_many``'s time goes: cProfile of one batch against the loopback server.

Usage::

    python -m benchmarks._profile                 # 5,000 messages, top 15 by tottime and cumtime
    python -m benchmarks._profile -n 20000 --limit 30 --dump asend.prof

Prints the top functions by own time (``tottime``) and by cumulative time, then the own time
summed by where the code lives (smsbridge, aiohttp and its helpers, httpx, pydantic, anyio,
asyncio, the rest of the standard library, C built-ins), so it is plain how much of a message's
cost is smsbridge's to cut. cProfile itself roughly doubles the time of small Python
functions: compare entries with each other, not with the benchmark's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sysconfig
from collections import defaultdict
from typing import Any

from benchmarks._sending import CONCURRENCY, WARMUP, Server, inputs
from benchmarks._server import LoopbackServer

GROUPS = (
    ("smsbridge", ("/smsbridge/",)),
    (
        "aiohttp (+yarl, multidict, propcache, aiosignal)",
        ("/aiohttp/", "/yarl/", "/multidict/", "/propcache/", "/aiosignal/", "/frozenlist/"),
    ),
    ("httpx (+httpcore, h11)", ("/httpx/", "/httpcore/", "/h11/")),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("anyio", ("/anyio/",)),
    ("asyncio", ("/asyncio/",)),
)


def group_of(filename: str) -> str:
    """Which part of the stack a profiled function belongs to."""
    for name, marks in GROUPS:
        if any(mark in filename for mark in marks):
            return name
    if filename == "~" or filename.startswith("<"):
        return "C built-ins (socket, select, ...)"
    if filename.startswith(sysconfig.get_paths()["stdlib"]):
        return "other standard library"
    return "other"


async def _profiled(
    server: Server, n: int, profile: cProfile.Profile, trust_env: bool | None
) -> None:
    from smsbridge import Bridge
    from smsbridge.transports import AiohttpSender

    # None: the bridge's default async client; else an AiohttpSender made here.
    client = None if trust_env is None else AiohttpSender(trust_env=trust_env)
    sms = Bridge(server.twilio(), async_http_client=client)
    try:
        async for _ in sms.asend_many(inputs(WARMUP), concurrency=CONCURRENCY):
            pass
        profile.enable()
        ok = 0
        async for item in sms.asend_many(inputs(n, WARMUP), concurrency=CONCURRENCY):
            ok += item.ok
        profile.disable()
        assert ok == n, f"{ok} of {n} accepted"
    finally:
        await sms.aclose()
        if client is not None:
            await client.aclose()


def by_group(stats: pstats.Stats) -> dict[str, float]:
    """Own time (tottime) summed by :func:`group_of`."""
    totals: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        totals[group_of(filename)] += tottime
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def top_of(stats: pstats.Stats, group: str, limit: int) -> list[str]:
    """The ``limit`` functions of ``group`` with the most own time, as lines."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    mine = [
        (tottime, cumtime, calls, f"{filename.rpartition('site-packages/')[2]}:{line}({name})")
        for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in raw.items()
        if group_of(filename) == group
    ]
    mine.sort(reverse=True)
    return [
        f"  {tot:7.3f} {cum:7.3f} {calls:8d}  {where.replace('/work/main/', '')}"
        for tot, cum, calls, where in mine[:limit]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._profile")
    parser.add_argument("-n", type=int, default=5000, help="messages profiled")
    parser.add_argument("--limit", type=int, default=15, help="entries per listing")
    parser.add_argument("--dump", help="also write the raw profile here (pstats format)")
    parser.add_argument(
        "--trust-env",
        choices=["default", "on", "off"],
        default="default",
        help="the bridge's default async client, or an AiohttpSender with trust_env on/off",
    )
    args = parser.parse_args()
    trust_env = {"default": None, "on": True, "off": False}[args.trust_env]
    profile = cProfile.Profile()
    with LoopbackServer() as server:
        asyncio.run(_profiled(Server(server.info), args.n, profile, trust_env))
    if args.dump:
        profile.dump_stats(args.dump)
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats(key).print_stats(args.limit)
        print(out.getvalue().replace(sysconfig.get_paths()["purelib"] + "/", ""))
    stats = pstats.Stats(profile)
    for group in ("smsbridge", GROUPS[1][0]):
        print(f"top {args.limit} by own time in {group}:  tottime cumtime    calls")
        print("\n".join(top_of(stats, group, args.limit)) + "\n")
    total = sum(by_group(stats).values())
    print(f"own time by origin, {args.n} messages ({total / args.n * 1e6:.0f} us/msg profiled):")
    for name, seconds in by_group(stats).items():
        share, per_message = seconds / total, seconds / args.n * 1e6
        print(f"  {name:50} {seconds:7.3f} s  {share:5.1%}  {per_message:6.1f} us/msg")


if __name__ == "__main__":
    main()
