"""Webhooks: the per-call cost of ``Bridge.handle_webhook`` beside each vendor's own verifier.

Twilio and Telnyx are measured by :mod:`benchmarks.bench_webhooks` (see its docstring for
exactly what each call includes): ``handle_webhook`` on an inbound SMS against
``RequestValidator.validate``, and on a ~1.6 KB ``message.received`` against a bare PyNaCl
``VerifyKey.verify`` and the telnyx SDK's ``client.webhooks.unwrap``. Its targets are kept:
Twilio <= 0.5x the validator, Telnyx <= 1.6x the bare Ed25519 check and >= 5x faster than
the SDK.

Vonage is added here: ``handle_webhook`` on the inbound SMS of the ``vonage_inbound`` fixture
(each with its own ``message_uuid``, signed by ``smsbridge.testing.sign_vonage``: an HS256 JWT
with the body's SHA-256) against vonage-jwt's ``verify_signature`` of the same token. That
verifier checks the JWT's HMAC only; ``handle_webhook`` also checks the algorithm, the claims,
``iat`` against the clock and the body's hash, then parses, de-duplicates and answers. No target
was set for Vonage: the row is context.

Each figure is the least time per call over many interleaved rounds (``bench_webhooks._bench``),
the way bench_webhooks measures, so a noisy machine slows the candidates alike.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

from benchmarks._common import Result, Row, child_main, log
from benchmarks.bench_webhooks import FIXTURES, _bench, bench_telnyx, bench_twilio

VONAGE_SECRET = "vonage-signature-secret-0123456789abcdef"


def bench_vonage(number: int, repeat: int) -> dict[str, float]:
    """Vonage inbound through handle_webhook vs vonage_jwt.verify_signature."""
    import vonage_jwt  # type: ignore[import-untyped]

    from smsbridge import Bridge, WebhookRequest
    from smsbridge.providers import Vonage
    from smsbridge.testing import sign_vonage

    template = json.loads((FIXTURES / "vonage_inbound.json").read_text())["sms"]
    bridge = Bridge(
        Vonage("a1b2c3d", "api-secret-value", signature_secret=VONAGE_SECRET, from_="+447700900001")
    )
    url = "https://app.example.com/sms/webhook"
    requests: list[tuple[dict[str, str], bytes]] = []
    for i in range(number * repeat):
        event = copy.deepcopy(template)
        event["message_uuid"] = f"aaaaaaaa-bbbb-cccc-dddd-{i:012d}"
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Vonage-Webhooks"}
        headers.update(sign_vonage(body, signature_secret=VONAGE_SECRET))
        requests.append((headers, body))
    tokens = [h["Authorization"].removeprefix("Bearer ") for h, _ in requests]
    counters = {name: iter(range(len(requests))) for name in ("handle", "verify")}

    def smsbridge_handle(_: int) -> object:
        headers, body = requests[next(counters["handle"])]
        return bridge.handle_webhook(WebhookRequest("POST", url, headers, body)).response

    def sdk_verify(_: int) -> object:
        return vonage_jwt.verify_signature(tokens[next(counters["verify"])], VONAGE_SECRET)

    first = bridge.handle_webhook(WebhookRequest("POST", url, *requests[0]))
    assert first.event.provider == "vonage"
    assert vonage_jwt.verify_signature(tokens[0], VONAGE_SECRET)
    funcs = {"handle_webhook": smsbridge_handle, "verify_signature": sdk_verify}
    return _bench(funcs, number, repeat)


def run(quick: bool, server: dict[str, Any] | None = None) -> Result:
    """All three providers; 60 rounds of 100 calls each (5 with ``quick``)."""
    # A refused webhook is logged; none should be, but a stray log line must not cost time.
    logging.getLogger("smsbridge").addHandler(logging.NullHandler())
    logging.getLogger("smsbridge").propagate = False
    number, repeat = (100, 5) if quick else (100, 60)
    tw = bench_twilio(number, repeat)
    log(f"webhooks twilio: {tw['handle_webhook'] * 1e6:.1f} us")
    tx, size = bench_telnyx(number, repeat)
    log(f"webhooks telnyx: {tx['handle_webhook'] * 1e6:.1f} us")
    vo = bench_vonage(number, repeat)
    log(f"webhooks vonage: {vo['handle_webhook'] * 1e6:.1f} us")
    us = 1e6
    rows = [
        Row(
            "webhook, Twilio inbound",
            "handle_webhook",
            tw["handle_webhook"] * us,
            "twilio RequestValidator.validate",
            tw["validate"] * us,
            "us/call",
            "<=",
            0.5,
        ),
        Row(
            f"webhook, Telnyx {size} B",
            "handle_webhook",
            tx["handle_webhook"] * us,
            "nacl VerifyKey.verify",
            tx["verify"] * us,
            "us/call",
            "<=",
            1.6,
        ),
        Row(
            f"webhook, Telnyx {size} B",
            "telnyx client.webhooks.unwrap",
            tx["unwrap"] * us,
            "handle_webhook",
            tx["handle_webhook"] * us,
            "us/call",
            ">=",
            5,
        ),
        Row(
            "webhook, Vonage inbound",
            "handle_webhook",
            vo["handle_webhook"] * us,
            "vonage_jwt.verify_signature",
            vo["verify_signature"] * us,
            "us/call",
            note="context: no target set; the SDK checks the HMAC only",
        ),
    ]
    figures = {
        "calls_per_round": number,
        "rounds": repeat,
        "seconds_per_call": {"twilio": tw, "telnyx": tx, "vonage": vo},
        "telnyx_body_bytes": size,
    }
    return Result("webhooks", rows, figures)


if __name__ == "__main__":
    child_main("_webhooks", run)
