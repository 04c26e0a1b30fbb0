"""Per-call cost of ``Bridge.handle_webhook`` beside the official SDKs' verifiers.

Run: ``python benchmarks/bench_webhooks.py`` (add ``--quick`` for a fast smoke run).

Measured, each as the minimum over several repeats of many calls (``time.perf_counter``), with
the candidates interleaved so a noisy machine slows them alike:

(a) Twilio inbound SMS (21 params, the ``sms_basic`` fixture): ``handle_webhook`` (building the
    ``WebhookRequest`` from headers and raw body, verifying, parsing the body and the event,
    de-duplicating in a ``MemoryStore``, building the TwiML answer) against
    ``twilio.request_validator.RequestValidator.validate`` alone on already-parsed params.
    Target: ratio <= 0.5.
(b) Telnyx ``message.received`` (about 1.6 KB): ``handle_webhook`` against a bare PyNaCl
    ``VerifyKey.verify`` of the same signed message (target: ratio <= 1.3) and against the telnyx
    SDK's ``client.webhooks.unwrap`` (Ed25519 since telnyx 4.x; target: at least 5x faster).

Every webhook in a run is distinct (its own idempotency token or event id), as in production,
so the store takes a new key on each call.
"""

from __future__ import annotations

import copy
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing

from smsbridge import Bridge, WebhookRequest
from smsbridge.providers import Telnyx, Twilio
from smsbridge.testing import make_telnyx_keypair, sign_telnyx

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def _twilio_case() -> dict[str, Any]:
    cases = json.loads((FIXTURES / "twilio_inbound.json").read_text())["cases"]
    return next(c for c in cases if c["name"] == "sms_basic")


_TEXT = (
    "Hi, this is Dana from unit 4B. The heating has been off since last night and the "
    "thermostat shows an error code E3. Could someone come by today? I am home until 5pm, "
    "otherwise tomorrow morning works too. The side door code is 4471. Thanks a lot! "
)
_TELNYX_TEMPLATE = json.loads((FIXTURES / "telnyx_message_received.json").read_text())["sms"]


def _telnyx_body(index: int) -> bytes:
    """A compact ~1.6 KB message.received body (the fixture's SMS with a long text, as a
    four-part message), with its own event id."""
    event = copy.deepcopy(_TELNYX_TEMPLATE)
    event["data"]["id"] = f"b301ed3f-1490-491f-995f-{index:012d}"
    payload = event["data"]["payload"]
    payload["text"] = (_TEXT * 3)[:590]
    payload["parts"] = 4
    payload["tags"] = ["tenant", "maintenance"]
    return json.dumps(event, separators=(",", ":")).encode()


def _bench(funcs: dict[str, Callable[[int], object]], number: int, repeat: int) -> dict[str, float]:
    """Seconds per call of each function: the minimum over ``repeat`` rounds of ``number``
    calls, the functions interleaved round by round."""
    best = dict.fromkeys(funcs, float("inf"))
    # The pre-built requests would otherwise make every full collection walk them all, a
    # cost of the benchmark's own heap rather than of the code measured.
    gc.collect()
    gc.freeze()
    for _ in range(repeat):
        for name, func in funcs.items():
            start = time.perf_counter()
            for i in range(number):
                func(i)
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


def bench_twilio(number: int, repeat: int) -> dict[str, float]:
    """Twilio inbound through handle_webhook vs RequestValidator.validate."""
    from twilio.request_validator import RequestValidator

    case = _twilio_case()
    token = case["auth_token"]
    bridge = Bridge(Twilio("AC0123456789abcdef0123456789abcdef", token, from_="+13125550100"))
    body = case["raw_body"].encode()
    base = {
        "Host": "example.com",
        "Content-Type": case["content_type"],
        "User-Agent": "TwilioProxy/1.1",
        "Accept": "*/*",
        "X-Twilio-Signature": case["x_twilio_signature"],
    }
    headers = [
        {**base, "I-Twilio-Idempotency-Token": f"{r}-{i}-7f0c9d"}
        for r in range(repeat)
        for i in range(number)
    ]
    params = dict(case["params"])
    validator = RequestValidator(token)
    url, signature = case["url"], case["x_twilio_signature"]
    assert validator.validate(url, params, signature)
    counter = iter(range(len(headers)))

    def smsbridge_handle(_: int) -> object:
        request = WebhookRequest("POST", url, headers[next(counter)], body)
        return bridge.handle_webhook(request).response

    def twilio_validate(_: int) -> object:
        return validator.validate(url, params, signature)

    outcome = bridge.handle_webhook(WebhookRequest("POST", url, headers[0], body))
    assert outcome.event.text.startswith("Yes, 3pm")
    return _bench({"handle_webhook": smsbridge_handle, "validate": twilio_validate}, number, repeat)


def bench_telnyx(number: int, repeat: int) -> tuple[dict[str, float], int]:
    """Telnyx message.received through handle_webhook vs VerifyKey.verify vs SDK unwrap."""
    import telnyx

    pair = make_telnyx_keypair(b"\x07" * 32)
    bridge = Bridge(Telnyx("KEY0123", public_key=pair.public_key_b64))
    verify_key = nacl.signing.VerifyKey(bytes(pair.signing_key.verify_key))
    client = telnyx.Telnyx(api_key="KEY0123", public_key=pair.public_key_b64)
    stamp = int(time.time())
    requests = []
    for i in range(number * repeat):
        body = _telnyx_body(i)
        headers = {"Content-Type": "application/json", "User-Agent": "telnyx-webhooks"}
        headers.update(sign_telnyx(body, signing_key=pair, timestamp=stamp))
        requests.append((headers, body))
    size = len(requests[0][1])
    url = "https://example.com/webhooks/telnyx"
    messages = [
        (
            h["telnyx-timestamp"].encode() + b"|" + b,
            __import__("base64").b64decode(h["telnyx-signature-ed25519"]),
        )
        for h, b in requests
    ]
    texts = [(b.decode(), h) for h, b in requests]
    counters = {name: iter(range(len(requests))) for name in ("handle", "verify", "unwrap")}

    def smsbridge_handle(_: int) -> object:
        headers, body = requests[next(counters["handle"])]
        return bridge.handle_webhook(WebhookRequest("POST", url, headers, body)).response

    def nacl_verify(_: int) -> object:
        message, signature = messages[next(counters["verify"])]
        return verify_key.verify(message, signature)

    def sdk_unwrap(_: int) -> object:
        text, headers = texts[next(counters["unwrap"])]
        return client.webhooks.unwrap(text, headers=headers)

    outcome = bridge.handle_webhook(WebhookRequest("POST", url, requests[0][0], requests[0][1]))
    assert outcome.event.provider == "telnyx"
    client.webhooks.unwrap(texts[0][0], headers=texts[0][1])
    funcs = {"handle_webhook": smsbridge_handle, "verify": nacl_verify, "unwrap": sdk_unwrap}
    return _bench(funcs, number, repeat), size


def main(argv: list[str]) -> int:
    """Run both benchmarks and print a table of per-call costs and ratios."""
    quick = "--quick" in argv
    # Small batches, many rounds, interleaved: the minimum of each then shows the code's own
    # cost even on a machine busy with other work.
    number, repeat = (100, 5) if quick else (100, 60)
    tw = bench_twilio(number, repeat)
    tx, size = bench_telnyx(number, repeat)
    us = 1e6
    rows = [
        ("Twilio inbound, 21 params", "handle_webhook", tw["handle_webhook"] * us, ""),
        ("", "RequestValidator.validate", tw["validate"] * us, ""),
        ("", "ratio handle/validate", tw["handle_webhook"] / tw["validate"], "target <= 0.5"),
        (f"Telnyx message.received, {size} B", "handle_webhook", tx["handle_webhook"] * us, ""),
        ("", "VerifyKey.verify", tx["verify"] * us, ""),
        ("", "telnyx client.webhooks.unwrap", tx["unwrap"] * us, ""),
        ("", "ratio handle/verify", tx["handle_webhook"] / tx["verify"], "target <= 1.3"),
        ("", "speed-up unwrap/handle", tx["unwrap"] / tx["handle_webhook"], "target >= 5"),
    ]
    print(f"{'payload':34} {'measure':32} {'value':>10}  note")
    for payload, measure, value, note in rows:
        unit = "x" if measure.startswith(("ratio", "speed")) else "us"
        print(f"{payload:34} {measure:32} {value:>8.2f}{unit:>2}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
