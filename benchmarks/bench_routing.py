"""Routing overhead: what the router adds to a send.

1. **Overhead per message** (policy decision + breaker + store, ``MemoryStore``): a send
   through the router (``send_sync``) minus a direct ``transmit`` on the same provider, both on
   an in-memory HTTP stub so the network is out of the picture. Target: under 20 µs. Measured
   twice: with the codec's work canned (the router alone), and with Twilio's real codec.
2. **Primary's breaker open**: on the same emulator (real HTTP on 127.0.0.1), a send through
   ``Bridge([twilio, telnyx])`` whose Twilio breaker is open vs a direct send to Telnyx.
   Target: at most 1.1x. The emulator runs in a child process; rounds alternate between the
   two and the best of each is compared.

Usage::

    python benchmarks/bench_routing.py            # 7 rounds of 5000 stub sends; 400 x 7 on HTTP
    python benchmarks/bench_routing.py --quick    # smaller N, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from smsbridge import Bridge, MessageStatus, OutboundMessage, SendResult
from smsbridge.providers import Telnyx, Twilio
from smsbridge.providers._shell import transmit
from smsbridge.routing import ByCountry, CircuitBreaker, Weighted
from smsbridge.routing._engine import send_sync
from smsbridge.stores import MemoryStore
from smsbridge.testing.emulator import Emulator

TO = "+14155552671"
SID = "AC" + "0" * 32
_TWILIO_ANSWER = json.dumps(
    {"sid": "SM" + "0" * 32, "status": "queued", "to": TO, "from": "+15017122661"}
).encode()


class StubClient:
    """A sync sender answering every request with a canned Twilio 201, without I/O."""

    def send(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, content=_TWILIO_ANSWER, request=request)


class CannedTwilio(Twilio):
    """Twilio with the codec work done once: isolates what the router itself costs."""

    def __init__(self) -> None:
        super().__init__(SID, "token", from_="+15017122661", base_url="http://stub")
        self._canned_request = httpx.Request("POST", "http://stub/Messages.json")
        self._canned_result = SendResult(
            provider="twilio", provider_message_id="SM1", status=MessageStatus.QUEUED, to=TO
        )

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        return self._canned_request

    def parse_response(self, response: httpx.Response, message: OutboundMessage) -> SendResult:
        return self._canned_result


class CannedClient:
    """A sync sender returning one prepared response."""

    def __init__(self) -> None:
        self._response = httpx.Response(201, content=b"{}")

    def send(self, request: httpx.Request) -> httpx.Response:
        return self._response


def _per_call(fn: Callable[[], Any], n: int) -> float:
    """Seconds per call of one run of ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _added(routed: Callable[[], Any], direct: Callable[[], Any], n: int, rounds: int) -> float:
    """Microseconds ``routed`` costs over ``direct``: best of alternating rounds of each, so
    noise from other processes inflates neither side more than the other."""
    best_routed = best_direct = float("inf")
    for _ in range(rounds):
        best_direct = min(best_direct, _per_call(direct, n))
        best_routed = min(best_routed, _per_call(routed, n))
    return (best_routed - best_direct) * 1e6


def overhead(n: int, rounds: int, *, canned: bool) -> list[tuple[str, float]]:
    """Microseconds the router adds per message over a direct ``transmit``."""
    client: Any = CannedClient() if canned else StubClient()
    twilio = (
        CannedTwilio() if canned else Twilio(SID, "t", from_="+15017122661", base_url="http://s")
    )
    telnyx = Telnyx("KEY0123", from_="+15017122662", base_url="http://stub")
    message = OutboundMessage(to=TO, body="Your code is 123456")

    def direct() -> None:
        transmit(client, twilio, message)

    rows = []
    configs: list[tuple[str, Any, dict[str, Any]]] = [
        ("Failover([twilio, telnyx]) + breaker", [twilio, telnyx], {}),
        ("same, breaker off", [twilio, telnyx], {"breaker": None}),
        ("Weighted({twilio: 3, telnyx: 0}) + breaker", Weighted({twilio: 3, telnyx: 0}), {}),
        ("ByCountry({'US': ..., '*': ...}) + breaker", ByCountry({"US": twilio, "*": telnyx}), {}),
    ]
    for label, policy, options in configs:
        bridge = Bridge(policy, store=MemoryStore(), http_client=client, **options)
        rows.append((label, _added(partial(send_sync, bridge, message), direct, n, rounds)))
    keyed = Bridge([twilio, telnyx], store=MemoryStore(), http_client=client)
    counter = iter(range(10**9))

    def with_key() -> None:
        send_sync(keyed, message.model_copy(update={"idempotency_key": f"k{next(counter)}"}))

    rows.append(("+ idempotency key (claim + record)", _added(with_key, direct, n, rounds)))
    return rows


def serve_emulator() -> None:
    """Run the emulator until stdin closes (in a child process: its threads must not share
    the measuring process's GIL). Prints its info as one JSON line."""
    with Emulator(progress_delay=3600, deliver_callbacks=False) as emu:
        print(json.dumps(emu.info()), flush=True)
        sys.stdin.read()


def breaker_open_ratio(n: int, rounds: int) -> tuple[float, float, float]:
    """(router ms, direct ms, ratio) per send with the primary's breaker open."""
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        return _ratio(info, n, rounds)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)


def _ratio(info: dict[str, Any], n: int, rounds: int) -> tuple[float, float, float]:
    tw, tx = info["twilio"], info["telnyx"]
    twilio = Twilio(
        tw["account_sid"], tw["auth_token"], from_="+15017122661", base_url=tw["base_url"]
    )
    telnyx = Telnyx(tx["api_key"], from_="+15017122662", base_url=tx["base_url"])
    store = MemoryStore()
    breaker = CircuitBreaker(failures=1, cooldown=3600)
    store.set(breaker.keys(twilio)[1], repr(time.time()), None)  # open Twilio's breaker
    with httpx.Client() as client:
        bridge = Bridge([twilio, telnyx], store=store, breaker=breaker, http_client=client)
        message = OutboundMessage(to=TO, body="Your code is 123456")
        assert send_sync(bridge, message).provider == "telnyx"

        def routed() -> None:
            send_sync(bridge, message)

        def direct() -> None:
            transmit(client, telnyx, message)

        for _ in range(100):  # warm the connection pool and both code paths
            routed()
            direct()
        best = {"routed": float("inf"), "direct": float("inf")}
        for index in range(rounds):
            order = [("routed", routed), ("direct", direct)]
            if index % 2:
                order.reverse()
            for name, fn in order:
                best[name] = min(best[name], _per_call(fn, n))
    return best["routed"] * 1e3, best["direct"] * 1e3, best["routed"] / best["direct"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller N for a smoke run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_emulator()
        return
    random.seed(0)
    n, sends, rounds = (2000, 100, 3) if args.quick else (5000, 400, 7)

    print(f"Routing overhead per message, MemoryStore ({rounds} rounds of {n}; target < 20 µs)")
    print(f"{'configuration':<44} {'canned codec':>13} {'real codec':>11}")
    hot = overhead(n, rounds, canned=True)
    cold = overhead(n // 4, rounds, canned=False)
    for (label, micros), (_, real) in zip(hot, cold, strict=True):
        print(f"{label:<44} {micros:>10.2f} µs {real:>8.2f} µs")
    print("(canned codec: the router alone; real codec: Twilio's codec on a stub HTTP client")
    print(" around it, which evicts the router's code and data from the CPU caches)")
    print()
    routed, direct, ratio = breaker_open_ratio(sends, rounds)
    print(f"Primary's breaker open, emulator process on 127.0.0.1 ({sends} sends x {rounds})")
    print(f"{'send':<42} {'ms/send':>12}")
    print(f"{'router (twilio skipped) -> telnyx':<42} {routed:>12.3f}")
    print(f"{'direct to telnyx':<42} {direct:>12.3f}")
    print(f"{'ratio (target <= 1.10)':<42} {ratio:>12.3f}")


if __name__ == "__main__":
    main()
