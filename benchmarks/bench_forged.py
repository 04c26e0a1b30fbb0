"""What a forged webhook costs to refuse: CPU per request, by body size and signature shape.

A forger needs no secret to make the endpoint parse a large form: only a signature header. This
measures ``Bridge.handle_webhook`` (the framework-free pipeline every adapter calls) on forged
Twilio form bodies, in CPU seconds per request (``time.process_time``), best of a few rounds.

Run it in this checkout, and against an older checkout to compare::

    python benchmarks/bench_forged.py
    PYTHONPATH=/path/to/old/checkout python benchmarks/bench_forged.py

The bridge is built with its default ``max_body_size``: that default is part of what is
measured. Adapters also refuse an over-limit ``Content-Length`` before reading the body at all;
that saving (the read) is not in these figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode

from smsbridge import Bridge, WebhookError, WebhookRequest
from smsbridge.providers import Twilio

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://app.example.com/sms/webhook"
MIB = 1 << 20


def forged_form(size: int, signature: str) -> WebhookRequest:
    """A Twilio-looking form of about ``size`` bytes, many short fields, a wrong signature."""
    pairs: list[tuple[str, str]] = [
        ("MessageSid", "SM" + "a" * 32),
        ("AccountSid", "AC" + "0" * 32),
    ]
    filler = urlencode(pairs)
    index = 0
    while len(filler) < size - 32:
        pairs.append((f"Field{index}", "x" * 40))
        filler += f"&Field{index}=" + "x" * 40
        index += 1
    body = filler.encode()[:size]
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return WebhookRequest("POST", URL, headers, body)


def cpu_per_call(call: Callable[[], object], rounds: int = 5, number: int = 20) -> float:
    """Least CPU seconds per call over ``rounds`` rounds of ``number`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(number):
            call()
        best = min(best, (time.process_time() - start) / number)
    return best


def main() -> None:
    logging.getLogger("smsbridge").addHandler(logging.NullHandler())
    logging.getLogger("smsbridge").propagate = False
    bridge = Bridge(Twilio("AC" + "0" * 32, TOKEN, from_="+15017122661"))
    print(f"default max_body_size: {bridge.max_body_size} bytes")
    shaped = "A" * 27 + "="  # base64 of 20 bytes, like a real HMAC-SHA1 signature
    cases = [
        ("1 MiB, well-formed wrong signature", forged_form(MIB, shaped)),
        ("1 MiB, signature not base64 of a digest", forged_form(MIB, "x" * 100)),
        ("60 KiB, well-formed wrong signature", forged_form(60 * 1024, shaped)),
        ("60 KiB, signature not base64 of a digest", forged_form(60 * 1024, "x" * 100)),
    ]
    print(f"{'case':45} {'CPU per request':>16}  answer")
    for name, request in cases:
        answer = ""

        def call(request: WebhookRequest = request) -> None:
            nonlocal answer
            try:
                bridge.handle_webhook(request)
                answer = "accepted?!"
            except WebhookError as exc:
                answer = f"{exc.status_code} {exc.code}"

        seconds = cpu_per_call(call)
        print(f"{name:45} {seconds * 1e6:13.1f} µs  {answer}")


if __name__ == "__main__":
    main()
