"""Memory: the peak of ``asend_many`` over 100,000 messages against over 1,000.

Memory that grows with the number of messages (a list of tasks, results kept, a dict per
message never freed) shows as a higher peak for the long run; memory that depends only on the
concurrency (50 sends in flight, the connection pool, the item buffer) is the same for both.

Each size runs in a fresh child process, twice:

- **tracemalloc** (the figure the target is judged by): the bridge is built and a warm-up
  batch of 100 is sent first (lazy imports done, connections open), then tracing starts and
  the measured batch is sent from a generator, each item dropped as it arrives. The figure is
  tracemalloc's peak over that phase: the most memory allocated during sending and alive at
  once. Python-level only, and exact, so it is not blurred by the allocator's arenas.
- **RSS**: the same without tracemalloc (which slows sending down several times): the resident
  set before the batch and its peak during it (the kernel's high-water mark, reset before the
  batch through ``/proc/self/clear_refs`` where allowed, else ``ru_maxrss`` over the whole
  process). It includes what tracemalloc cannot see (C allocations, fragmentation), and is
  coarse (pages, arenas kept by the allocator). This run also gives the wall time of 100,000.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from benchmarks._common import Result, Row, log
from benchmarks._sending import CONCURRENCY, WARMUP, Server, inputs

MIB = 1 << 20


def _rss_bytes(field: str) -> int | None:
    """``VmRSS`` or ``VmHWM`` of this process, from ``/proc/self/status``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_rss_peak() -> bool:
    """Reset the kernel's RSS high-water mark (Linux: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


async def _send(server: Server, n: int, mode: str) -> dict[str, Any]:
    from smsbridge import Bridge

    sms = Bridge(server.twilio())
    try:
        async for _ in sms.asend_many(inputs(WARMUP), concurrency=CONCURRENCY):
            pass
        gc.collect()
        figures: dict[str, Any] = {"n": n, "mode": mode}
        if mode == "tracemalloc":
            tracemalloc.start()
        else:
            figures["rss_before"] = _rss_bytes("VmRSS")
            figures["rss_peak_method"] = "VmHWM" if _reset_rss_peak() else "ru_maxrss"
        ok = 0
        start = time.perf_counter()
        async for item in sms.asend_many(inputs(n, WARMUP), concurrency=CONCURRENCY):
            ok += item.ok
        figures["seconds"] = time.perf_counter() - start
        if mode == "tracemalloc":
            figures["traced_peak"] = tracemalloc.get_traced_memory()[1]
            figures["traced_after"] = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        else:
            hwm = _rss_bytes("VmHWM") if figures["rss_peak_method"] == "VmHWM" else None
            # ru_maxrss is in KiB on Linux.
            figures["rss_peak"] = hwm or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            figures["rss_after"] = _rss_bytes("VmRSS")
        if ok != n:
            raise RuntimeError(f"{ok} of {n} messages were accepted")
    finally:
        await sms.aclose()
    return figures


def _child(server_info: dict[str, Any], n: int, mode: str) -> dict[str, Any]:
    """Run one size in a fresh process; its figures."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks._memory",
            "--child",
            str(n),
            mode,
            "--server",
            json.dumps(server_info),
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return figures


def run(quick: bool, server_info: dict[str, Any] | None) -> Result:
    """1,000 vs 100,000 (quick: 200 vs 2,000), tracemalloc and RSS, each in its own process."""
    if server_info is None:
        raise SystemExit("the memory benchmark needs --server (the loopback server's line)")
    small, large = (200, 2000) if quick else (1000, 100_000)
    got: dict[str, dict[str, Any]] = {}
    for mode in ("tracemalloc", "rss"):
        for n in (small, large):
            figures = _child(server_info, n, mode)
            got[f"{mode}_{n}"] = figures
            peak = figures["traced_peak"] if mode == "tracemalloc" else figures["rss_peak"]
            log(
                f"memory {mode:11} {n:>7} messages: peak {peak / MIB:7.2f} MiB, "
                f"{figures['seconds']:6.1f} s ({n / figures['seconds']:.0f} msg/s)"
            )
    t_small, t_large = got[f"tracemalloc_{small}"], got[f"tracemalloc_{large}"]
    r_small, r_large = got[f"rss_{small}"], got[f"rss_{large}"]
    label = f"asend_many memory, {large:,} vs {small:,}"
    rows = [
        Row(
            label,
            f"traced peak, {large:,} msgs",
            t_large["traced_peak"] / MIB,
            f"traced peak, {small:,} msgs",
            t_small["traced_peak"] / MIB,
            "MiB",
            "<=",
            1.2,
        ),
        Row(
            label,
            f"RSS peak, {large:,} msgs",
            r_large["rss_peak"] / MIB,
            f"RSS peak, {small:,} msgs",
            r_small["rss_peak"] / MIB,
            "MiB",
            note=f"context; whole process ({r_large['rss_peak_method']})",
        ),
    ]
    figures = {
        "small": small,
        "large": large,
        "runs": got,
        "large_seconds_without_tracemalloc": r_large["seconds"],
        "large_seconds_with_tracemalloc": t_large["seconds"],
        "rss_growth_small": r_small["rss_peak"] - r_small["rss_before"],
        "rss_growth_large": r_large["rss_peak"] - r_large["rss_before"],
    }
    return Result("memory", rows, figures)


def main() -> None:
    """``--child N MODE --server JSON`` measures one size; otherwise the whole benchmark."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._memory")
    parser.add_argument("--child", nargs=2, metavar=("N", "MODE"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--server", help="the loopback server's JSON line")
    args = parser.parse_args()
    server_info = json.loads(args.server) if args.server else None
    if args.child:
        assert server_info is not None
        n, mode = int(args.child[0]), args.child[1]
        print(json.dumps(asyncio.run(_send(Server(server_info), n, mode))))
        return
    print(json.dumps(run(args.quick, server_info).as_dict()))


if __name__ == "__main__":
    main()
