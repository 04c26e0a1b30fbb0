"""What each fast path in ``smsbridge.webhooks._speedups`` saves, and what its plain
alternative would cost.

Run: ``python benchmarks/bench_speedups.py`` (add ``--quick`` for a fast smoke run,
``--context`` for pass (b) alone).

Two passes, each the minimum over many interleaved rounds (see ``bench_webhooks._bench``):

(a) Alone, on the fixture bodies: ``parse_qsl_bytes`` against ``parse_qsl(body.decode(),
    keep_blank_values=True, errors="strict")`` on every Twilio form fixture, and
    ``json_loads_utf8`` against ``json.loads(body.decode())`` on every Telnyx event fixture
    and the ~1.6 KB body of ``bench_webhooks``; the request headers of a Telnyx webhook (build,
    size, detection and the two signature lookups) with :class:`smsbridge.webhooks.Headers`
    against ``httpx.Headers``; and an event model built by validation against
    ``model_construct``.
(b) Inside the call that matters, ``Bridge.handle_webhook``, with each fast path on and then
    replaced by its plain version (Twilio inbound for the form, Telnyx message.received for
    JSON), the order rotated every round. Parts of a call cost more inside it than alone (see
    ``bench_webhooks``), so this is the saving the rule in ``_speedups`` ("several per cent of
    the call") is judged by. It is noisy on a shared machine: run it more than once.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from bench_webhooks import _bench, _telnyx_body, _telnyx_requests, _twilio_case

import smsbridge.providers.telnyx._parse as telnyx_parse
import smsbridge.webhooks._common as common
from smsbridge import Bridge, InboundMessage, WebhookRequest
from smsbridge.providers import Telnyx, Twilio
from smsbridge.testing import make_telnyx_keypair
from smsbridge.webhooks import Headers
from smsbridge.webhooks._speedups import json_loads_utf8, parse_qsl_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
US = 1e6


def plain_form(body: bytes) -> list[tuple[str, str]]:
    """What :func:`parse_qsl_bytes` replaces."""
    return parse_qsl(body.decode(), keep_blank_values=True, errors="strict")


def plain_json(body: bytes) -> Any:
    """What :func:`json_loads_utf8` replaces."""
    return json.loads(body.decode())


def _forms() -> list[bytes]:
    return [
        case["raw_body"].encode()
        for name in ("twilio_inbound.json", "twilio_status.json")
        for case in json.loads((FIXTURES / name).read_text())["cases"]
    ]


def _events() -> list[bytes]:
    bodies = []
    for name in (
        "telnyx_message_received.json",
        "telnyx_message_sent.json",
        "telnyx_message_finalized.json",
    ):
        for value in json.loads((FIXTURES / name).read_text()).values():
            if isinstance(value, dict) and "data" in value:
                bodies.append(json.dumps(value, separators=(",", ":")).encode())
    return bodies


def _each(func: Callable[[bytes], object], bodies: list[bytes]) -> Callable[[int], object]:
    return lambda _: [func(body) for body in bodies]


def alone(number: int, repeat: int) -> list[tuple[str, str, float, float]]:
    """``(what, on what, fast us, plain us)`` rows, each part on its own."""
    forms, events, big = _forms(), _events(), _telnyx_body(1)
    sms = _twilio_case()["raw_body"].encode()
    for body in forms:
        assert parse_qsl_bytes(body) == plain_form(body)
    for body in [*events, big]:
        assert json_loads_utf8(body) == plain_json(body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "telnyx-webhooks",
        "telnyx-signature-ed25519": "A" * 88,
        "telnyx-timestamp": "1715700000",
    }

    def ours(_: int) -> object:
        h = Headers(headers)
        return (
            h.size,
            "telnyx-signature-ed25519" in h,
            h.get_all("telnyx-signature-ed25519"),
            h.get_all("telnyx-timestamp"),
        )

    def theirs(_: int) -> object:
        h = httpx.Headers(headers)
        size = sum(len(k) + len(v) for k, v in h.raw)
        sig = "telnyx-signature-ed25519"
        return size, sig in h, h.get_list(sig), h.get_list("telnyx-timestamp")

    now = datetime.now(timezone.utc)
    values = {
        "provider": "telnyx",
        "id": "84cca175-9755-4859-b67f-4730d7f58aa3",
        "from_": "+13125550111",
        "to": "+13125550100",
        "text": "Yes, 3pm works for me",
        "media": (),
        "segments": 1,
        "received_at": now,
        "opt_out": None,
        "raw": json.loads(big),
    }
    funcs = {
        "form fast": _each(parse_qsl_bytes, forms),
        "form plain": _each(plain_form, forms),
        "sms fast": lambda _: parse_qsl_bytes(sms),
        "sms plain": lambda _: plain_form(sms),
        "events fast": _each(json_loads_utf8, events),
        "events plain": _each(plain_json, events),
        "big fast": lambda _: json_loads_utf8(big),
        "big plain": lambda _: plain_json(big),
        "headers fast": ours,
        "headers plain": theirs,
        "model fast": lambda _: InboundMessage(**values),
        "model plain": lambda _: InboundMessage.model_construct(**values),
    }
    t = _bench(funcs, number, repeat)
    return [
        (
            "parse_qsl_bytes / parse_qsl",
            f"{len(forms)} Twilio fixtures, per body",
            t["form fast"] / len(forms),
            t["form plain"] / len(forms),
        ),
        ("", "sms_basic (21 params)", t["sms fast"], t["sms plain"]),
        (
            "json_loads_utf8 / json.loads",
            f"{len(events)} Telnyx fixtures, per body",
            t["events fast"] / len(events),
            t["events plain"] / len(events),
        ),
        ("", f"bench_webhooks body ({len(big)} B)", t["big fast"], t["big plain"]),
        (
            "Headers / httpx.Headers",
            "a Telnyx webhook's headers",
            t["headers fast"],
            t["headers plain"],
        ),
        ("cls(**values) / model_construct", "InboundMessage", t["model fast"], t["model plain"]),
    ]


def _switching(
    handle: Callable[[int], object], module: Any, name: str, plain: Any
) -> tuple[Callable[[int], object], Callable[[int], object]]:
    """The call with ``module.name`` as it is, and with it replaced by ``plain``; both set
    the name before the call and put it back after, so they carry the same overhead."""
    fast = getattr(module, name)

    def using(value: Any) -> Callable[[int], object]:
        def call(i: int) -> object:
            setattr(module, name, value)
            try:
                return handle(i)
            finally:
                setattr(module, name, fast)

        return call

    return using(fast), using(plain)


def _bench_rotating(
    funcs: dict[str, Callable[[int], object]], number: int, repeat: int
) -> dict[str, float]:
    """:func:`bench_webhooks._bench`, with the order of the functions rotated every round:
    the one that runs first after another workload finds the caches coldest."""
    names = list(funcs)
    best = dict.fromkeys(names, float("inf"))
    gc.collect()
    gc.freeze()
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            func = funcs[name]
            start = time.perf_counter()
            for i in range(number):
                func(i)
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


def in_context(number: int, repeat: int) -> list[tuple[str, str, float, float]]:
    """``(what, call, us with the fast path, us with the plain version)`` rows."""
    case = _twilio_case()
    twilio = Bridge(Twilio("AC0123456789abcdef0123456789abcdef", case["auth_token"]))
    body, url = case["raw_body"].encode(), case["url"]
    base = {"Content-Type": case["content_type"], "X-Twilio-Signature": case["x_twilio_signature"]}
    tw_headers = [
        {**base, "I-Twilio-Idempotency-Token": f"{i}"} for i in range(number * repeat * 2)
    ]
    tw_calls = iter(range(len(tw_headers)))

    def twilio_handle(_: int) -> object:
        request = WebhookRequest("POST", url, tw_headers[next(tw_calls)], body)
        return twilio.handle_webhook(request).response

    pair = make_telnyx_keypair(b"\x07" * 32)
    telnyx = Bridge(Telnyx("KEY0123", public_key=pair.public_key_b64))
    tx_url = "https://example.com/webhooks/telnyx"
    tx_requests = _telnyx_requests(pair, number * repeat * 2, 0)
    tx_calls = iter(range(len(tx_requests)))

    def telnyx_handle(_: int) -> object:
        headers, raw = tx_requests[next(tx_calls)]
        return telnyx.handle_webhook(WebhookRequest("POST", tx_url, headers, raw)).response

    form_fast, form_plain = _switching(twilio_handle, common, "parse_qsl_bytes", plain_form)
    json_fast, json_plain = _switching(telnyx_handle, telnyx_parse, "load_json", plain_json)
    funcs = {"form fast": form_fast, "form plain": form_plain}
    funcs |= {"json fast": json_fast, "json plain": json_plain}
    t = _bench_rotating(funcs, number, repeat)
    return [
        ("form fast path", "Twilio inbound handle_webhook", t["form fast"], t["form plain"]),
        ("JSON fast path", "Telnyx received handle_webhook", t["json fast"], t["json plain"]),
    ]


def main(argv: list[str]) -> int:
    """Run both passes (``--context``: pass (b) only) and print what each fast path saves."""
    number, repeat = (100, 5) if "--quick" in argv else (100, 60)
    if "--context" not in argv:
        print(f"{'(a) alone: fast / plain':32} {'on':36} {'fast':>8} {'plain':>8} {'saved':>8}")
        for what, on, fast, plain in alone(number, repeat):
            saved = plain - fast
            print(f"{what:32} {on:36} {fast * US:6.2f}us {plain * US:6.2f}us {saved * US:6.2f}us")
        print()
    print(f"{'(b) in the call':32} {'call':36} {'fast':>8} {'plain':>8} {'saved':>8}  share")
    for what, on, fast, plain in in_context(number, repeat):
        saved = plain - fast
        print(
            f"{what:32} {on:36} {fast * US:6.2f}us {plain * US:6.2f}us {saved * US:6.2f}us"
            f"  {saved / plain:5.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
