"""``smsbridge demo``: the whole library working end to end, offline, as a readable timeline.

It starts the emulator and a webhook endpoint on free loopback ports, builds a bridge with
Twilio and Telnyx pointed at the emulator, and checks every step as it shows it. The exit code
is non-zero when any step did not behave as shown.
"""

from __future__ import annotations

import argparse
import logging
import queue
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smsbridge._errors import ProviderError, SmsBridgeError

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.routing import Retry
    from smsbridge.testing.emulator import Emulator
    from smsbridge.webhooks import WebhookOutcome

__all__ = ["EXAMPLES", "NEXT_PAGE", "add_arguments", "run_demo"]

NEXT_PAGE = "https://smsbridge.github.io/smsbridge/quickstart/"
"""The page the demo ends by pointing at: the same steps in your own application."""

TWILIO_NUMBER = "+15005550006"
TELNYX_NUMBER = "+15005550007"
HANDSET = "+14155552671"


EXAMPLES = ("smsbridge demo", "smsbridge demo --fast")
"""Shown at the end of ``smsbridge demo --help``."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``smsbridge demo`` to ``parser``."""
    parser.add_argument(
        "--fast",
        action="store_true",
        help="shorter pauses between status steps (0.15 s instead of 0.4 s)",
    )


class Timeline:
    """Prints steps with the time since the start and counts the checks that failed."""

    def __init__(self, out: Any = None) -> None:
        self.start = time.monotonic()
        self.failures: list[str] = []
        self.out = out or sys.stdout

    def say(self, text: str, mark: str = " ") -> None:
        print(f"{time.monotonic() - self.start:6.2f}s {mark} {text}", file=self.out, flush=True)

    def step(self, title: str) -> None:
        print(file=self.out)
        self.say(f"== {title}")

    def check(self, ok: bool, text: str) -> bool:
        self.say(text, "✓" if ok else "✗")
        if not ok:
            self.failures.append(text)
        return ok


class Events:
    """Collects verified webhook outcomes from the endpoint thread."""

    def __init__(self) -> None:
        self.queue: queue.Queue[WebhookOutcome] = queue.Queue()

    def __call__(self, outcome: WebhookOutcome) -> str | None:
        self.queue.put(outcome)
        event = outcome.event
        # An inbound message gets an inline reply (TwiML for Twilio; Telnyx ignores bodies).
        return "Got it, thanks!" if type(event).__name__ == "InboundMessage" else None

    def wait(self, match: Callable[[Any], bool], timeout: float = 5.0) -> Any | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                outcome = self.queue.get(timeout=left)
            except queue.Empty:
                return None
            for event in outcome.events:
                if match(event):
                    return event
        return None


def _bridge(emulator: Emulator, public_url: str, *, hang_timeout: float) -> Bridge:
    import httpx

    from smsbridge._bridge import Bridge
    from smsbridge.providers import Telnyx, Twilio

    twilio = Twilio(
        emulator.twilio_account_sid,
        emulator.twilio_auth_token,
        from_=TWILIO_NUMBER,
        base_url=emulator.twilio_url,
        timeout=httpx.Timeout(hang_timeout, connect=2.0),
    )
    telnyx = Telnyx(
        emulator.telnyx_api_key,
        public_key=emulator.telnyx_public_key,
        from_=TELNYX_NUMBER,
        base_url=emulator.telnyx_url,
        timeout=httpx.Timeout(hang_timeout, connect=2.0),
    )
    return Bridge([twilio, telnyx], public_url=public_url)


def _wait_status(t: Timeline, events: Events, provider: str, message_id: str) -> None:
    seen: list[str] = []
    while True:
        event = events.wait(
            lambda e: (
                getattr(e, "provider_message_id", None) == message_id and hasattr(e, "status")
            ),
            timeout=5.0,
        )
        if event is None:
            t.check(False, f"{provider} status callbacks stopped after {seen or 'nothing'}")
            return
        seen.append(event.status.value)
        t.check(
            True,
            f"{provider} callback verified: raw {event.raw_status!r} -> {event.status.value}"
            + (f" (reference={event.reference})" if event.reference else ""),
        )
        if event.status.terminal:
            t.check(event.status.value == "delivered", f"{provider} message delivered")
            return


def _send_steps(t: Timeline, sms: Bridge, emulator: Emulator, events: Events) -> None:
    t.step("1. A normal send goes out through the first provider (Twilio)")
    result = sms.send(
        to="(415) 555-2671", region="US", body="Your code is 123456", reference="order-42"
    )
    t.check(
        result.provider == "twilio" and result.to == HANDSET,
        f"sent via {result.provider} from {result.from_} to {result.to} "
        f"({result.segments} {result.encoding} segment), id {result.provider_message_id}",
    )
    t.step("2. Status callbacks arrive, verified and mapped to common statuses")
    _wait_status(t, events, "twilio", result.provider_message_id)

    t.step("3. Twilio is down (HTTP 503): the message fails over to Telnyx, from Telnyx's number")
    emulator.fault("twilio", "http_error", status=503)
    try:
        result = sms.send(to=HANDSET, body="Your table is ready", reference="order-43")
    finally:
        emulator.clear_faults("twilio")
    attempts = ", ".join(
        f"{a.provider}: {'ok' if a.error is None else a.error.code + '/' + str(a.failure)}"
        for a in result.attempts
    )
    t.check(
        result.provider == "telnyx" and result.from_ == TELNYX_NUMBER,
        f"sent via {result.provider} from {result.from_}; attempts: {attempts}",
    )
    retried = _retry_note(result.attempts, sms.routing.retry)
    if retried:
        t.say(retried)
    _wait_status(t, events, "telnyx", result.provider_message_id)


def _retry_note(attempts: Any, retry: Retry | None) -> str | None:
    """Why a provider appears more than once among the attempts, or ``None`` if none does."""
    tries: dict[str, int] = {}
    for attempt in attempts:
        tries[attempt.provider] = tries.get(attempt.provider, 0) + 1
    repeated = [(name, count) for name, count in tries.items() if count > 1]
    if not repeated:
        return None
    name, count = repeated[0]
    times = "twice" if count == 2 else f"{count} times"
    again = "again"
    if retry is not None and retry.backoff:
        again = f"again {retry.backoff:g} s later"
    return (
        f"    why {name} {times}: a 503 means nothing was sent, so the bridge tried {name} "
        f"{again} before failing over (Bridge's retry= setting, by default Retry(total=1): "
        "one retry per provider; see the failover guide)"
    )


def _inbound_from(provider: str) -> Callable[[Any], bool]:
    return lambda event: getattr(event, "provider", None) == provider and hasattr(event, "text")


def _inbound_steps(t: Timeline, emulator: Emulator, events: Events) -> None:
    t.step("4. A handset replies through each provider: verified and parsed")
    for provider, number in (("twilio", TWILIO_NUMBER), ("telnyx", TELNYX_NUMBER)):
        answer = emulator.inbound(
            provider, from_=HANDSET, to=number, text=f"Thanks via {provider}!"
        )
        event = events.wait(_inbound_from(provider))
        text = getattr(event, "text", "")
        t.check(
            event is not None and event.from_ == HANDSET and event.to == number,
            f"{provider} inbound from {getattr(event, 'from_', '?')}: {text!r}",
        )
        body = str(answer.get("body", ""))
        if provider == "twilio":
            t.check(
                answer.get("status_code") == 200 and "<Message>Got it, thanks!</Message>" in body,
                f"the app replied inline with TwiML: {body[body.find('<Response') :]}",
            )
        else:
            t.check(answer.get("status_code") == 200, "Telnyx got its 200 acknowledgement")


def _rejected_step(t: Timeline, sms: Bridge, emulator: Emulator) -> None:
    t.step("5. The recipient opted out at Twilio: rejected, and never sent through Telnyx")
    opted_out = "+14155550199"
    emulator.opt_out("twilio", opted_out)
    before = len(emulator.messages("telnyx"))
    try:
        sms.send(to=opted_out, body="Weekly offers")
    except ProviderError as exc:
        t.check(
            exc.code == "opted_out" and exc.failure == "rejected",
            f"send raised {exc.code} ({exc.failure}), Twilio code {exc.provider_code}",
        )
    else:
        t.check(False, "the send to an opted-out recipient should have been rejected")
    t.check(len(emulator.messages("telnyx")) == before, "Telnyx was not tried")


def _ambiguous_step(t: Timeline, sms: Bridge, emulator: Emulator) -> None:
    t.step("6. Twilio accepts the message but never answers: it is NOT re-sent elsewhere")
    before = len(emulator.messages("telnyx"))
    accepted_before = len(emulator.messages("twilio"))
    emulator.fault("twilio", "accept_then_hang", times=1)
    try:
        sms.send(to=HANDSET, body="Payment received")
    except ProviderError as exc:
        t.check(
            exc.failure == "ambiguous", f"send raised {exc.code} ({exc.failure}): {exc.message}"
        )
    else:
        t.check(False, "the send should have ended in an ambiguous failure")
    finally:
        emulator.clear_faults("twilio")
    t.check(
        len(emulator.messages("twilio")) == accepted_before + 1,
        "the emulator shows Twilio recorded the message",
    )
    t.check(
        len(emulator.messages("telnyx")) == before,
        "Telnyx was not asked to send it again (at-most-once)",
    )


def _forgery_step(t: Timeline, endpoint_url: str) -> None:
    import httpx

    t.step("7. A forged webhook is rejected")
    body = b"MessageSid=SM00000000000000000000000000000000&From=%2B14155552671&Body=free+money"
    response = httpx.post(
        endpoint_url,
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "Zm9yZ2VkIHNpZ25hdHVyZSE=",
        },
    )
    code = response.json().get("error", {}).get("code") if response.content else None
    t.check(
        response.status_code == 403 and code == "invalid_signature",
        f"forged Twilio webhook answered {response.status_code} {code}",
    )


def _replay_step(t: Timeline, endpoint_url: str, auth_token: str, events: Events) -> None:
    import httpx

    from smsbridge.testing import sign_twilio

    t.step("8. A provider delivers the same webhook twice: acknowledged, handed on once")

    params = {
        "MessageSid": "SM" + "ab" * 16,
        "AccountSid": "AC" + "e1" * 16,
        "From": TWILIO_NUMBER,
        "To": HANDSET,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
    }
    headers = {
        **sign_twilio(endpoint_url, params, auth_token=auth_token),
        "I-Twilio-Idempotency-Token": "demo-replay-1",
    }
    codes = [httpx.post(endpoint_url, data=params, headers=headers).status_code for _ in range(2)]
    first = events.wait(lambda e: getattr(e, "provider_message_id", None) == params["MessageSid"])
    again = events.wait(
        lambda e: getattr(e, "provider_message_id", None) == params["MessageSid"], timeout=0.5
    )
    t.check(codes == [200, 200], f"both deliveries acknowledged with {codes}")
    t.check(first is not None and again is None, "the application saw the event exactly once")


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every step behaved as shown."""
    import httpx

    from smsbridge.cli._endpoint import WebhookEndpoint
    from smsbridge.testing.emulator import Emulator

    t = Timeline()
    events = Events()
    if not getattr(args, "debug", False):
        # The timeline shows every attempt; the routing warnings would only repeat it.
        logging.getLogger("smsbridge").setLevel(logging.ERROR)
    delay = 0.15 if getattr(args, "fast", False) else 0.4
    t.say("starting the provider emulator and a webhook endpoint on 127.0.0.1")
    with Emulator(port=0, progress_delay=delay) as emulator:
        endpoint = WebhookEndpoint(None, events).start()
        try:
            public = endpoint.url
            sms = _bridge(emulator, public, hang_timeout=1.0)
            endpoint.bridge = sms
            hook = public + sms.webhook_path
            for provider in ("twilio", "telnyx"):
                emulator.set_webhook(provider, "*", hook)
            t.say(f"emulator at {emulator.url}; webhook endpoint at {hook}")
            with sms:
                try:
                    _send_steps(t, sms, emulator, events)
                    _inbound_steps(t, emulator, events)
                    _rejected_step(t, sms, emulator)
                    _ambiguous_step(t, sms, emulator)
                    _forgery_step(t, hook)
                    _replay_step(t, hook, emulator.twilio_auth_token, events)
                except (SmsBridgeError, httpx.HTTPError) as exc:
                    t.check(False, f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            endpoint.stop()
    print(file=t.out)
    if t.failures:
        t.say(f"{len(t.failures)} step(s) did not behave as shown", "✗")
    else:
        t.say("every step behaved as shown", "✓")
    print(
        f"\nNext: do the same in your own app (sending, the webhook endpoint, failover, tests "
        f"against this emulator):\n  {NEXT_PAGE}",
        file=t.out,
        flush=True,
    )
    return 1 if t.failures else 0
