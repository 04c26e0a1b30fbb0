"""One sender process of the soak (``python -m benchmarks._soak_sender CONFIG_JSON``).

It builds ``Bridge([twilio, telnyx, vonage], store=...)`` on the emulator's variables, sends
its share of the messages with ``send_many(job=...)`` and writes one JSON line per item to
its output file: what the bridge *reported*, which :mod:`benchmarks.soak` later checks against
what the emulator *accepted*. Each line is flushed at once, so a crash loses no report and the
parent can follow the progress (it restarts Redis at the middle of the run).

Every message has its own body, ``soak-<run>-<index>``: the emulator's records are matched to
the reports by body, the only field a duplicate cannot hide.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx

from smsbridge import Bridge
from smsbridge.providers import Telnyx, Twilio, Vonage
from smsbridge.routing import CircuitBreaker, Retry
from smsbridge.stores import store_from_url

__all__ = ["body", "main"]


def body(run: str, index: int) -> str:
    """The text of message ``index`` of ``run`` (unique across the run's processes)."""
    return f"soak-{run}-{index}"


def _bridge(config: dict[str, Any]) -> Bridge:
    env = config["env"]
    # A short read timeout makes accept-then-hang and slow answers end quickly (as read
    # timeouts, the ambiguous case) so the soak spends its time on sends, not on waiting.
    timeout = httpx.Timeout(config["read_timeout"], connect=1.0)
    providers = [
        Twilio(
            env["TWILIO_ACCOUNT_SID"],
            env["TWILIO_AUTH_TOKEN"],
            from_=env["TWILIO_FROM"],
            base_url=env["TWILIO_BASE_URL"],
            timeout=timeout,
        ),
        Telnyx(
            env["TELNYX_API_KEY"],
            from_=env["TELNYX_FROM"],
            base_url=env["TELNYX_BASE_URL"],
            timeout=timeout,
        ),
        # Basic auth, as the emulator's environment() configures it (a JWT would need the PEM).
        Vonage(
            api_key=env["VONAGE_API_KEY"],
            api_secret=env["VONAGE_API_SECRET"],
            from_=env["VONAGE_FROM"],
            base_url=env["VONAGE_BASE_URL"],
            timeout=timeout,
        ),
    ]
    return Bridge(
        providers,
        store=store_from_url(config["store"]),
        # Short waits: the chaos flips every fraction of a second, so long backoffs and
        # cool-downs would only idle. The guarantees under test do not depend on them.
        retry=Retry(total=1, backoff=0.05, max_retry_after=2),
        breaker=CircuitBreaker(failures=5, cooldown=0.5, window=10),
        reconcile=config["reconcile"],
        reconcile_delay=0.2,
    )


def _inputs(config: dict[str, Any]) -> Iterator[dict[str, str]]:
    """This process's messages: indices ``process, process + P, ...`` until the count or the
    deadline (wall clock, shared with the parent) is reached."""
    run, process, processes = config["run"], config["process"], config["processes"]
    total, deadline = config["messages"], config["deadline"]
    index = process
    while (total is None or index < total) and (deadline is None or time.time() < deadline):
        yield {"to": f"+1415555{index % 10000:04d}", "body": body(run, index)}
        index += processes


def _attempts(attempts: Any) -> list[list[Any]]:
    """Each attempt as ``[provider, code, failure, http_status]`` (``None`` for a success)."""
    out = []
    for attempt in attempts:
        error = attempt.error
        out.append(
            [
                attempt.provider,
                error.code if error else None,
                error.failure if error else None,
                error.http_status if error else None,
            ]
        )
    return out


def main(argv: list[str]) -> int:
    """Send this process's share and write the items; see the module docstring."""
    config = json.loads(argv[0])
    process, processes = config["process"], config["processes"]
    with open(config["output"], "w") as out, _bridge(config) as sms:
        items = sms.send_many(
            _inputs(config),
            concurrency=config["concurrency"],
            job=f"soak-{config['run']}-p{process}",
        )
        for item in items:
            result, error = item.result, item.error
            line = {
                "index": process + processes * item.index,  # back to the run's numbering
                "ok": item.ok,
                "provider": result.provider if result else None,
                "provider_message_id": result.provider_message_id if result else None,
                "failure": error.failure if error else None,
                "code": error.code if error else None,
                "attempts": _attempts(result.attempts if result else error.attempts),  # type: ignore[union-attr]
            }
            out.write(json.dumps(line) + "\n")
            out.flush()
            if error is not None and not error.attempts:
                # Nothing was tried: every breaker is open. The pool would drain the whole
                # input in that instant; a pause here (the pool waits for its consumer) keeps
                # the load on the providers, where the faults are, as an application backs off.
                time.sleep(0.02)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
