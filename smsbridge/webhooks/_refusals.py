"""Refused webhooks are visible: each one logged at WARNING, rate-limited per error code.

A webhook the pipeline refuses (400, 403, 413) is answered and forgotten by the provider, so
the application's own log is the only place a misconfiguration shows: a wrong ``public_url``
makes every genuine Twilio webhook fail its signature check. Each refusal is logged on the
``smsbridge.webhooks`` logger with its code, a hint of what to check, and the URL it was
verified against (scheme, host and path only: a query string may carry tokens). A flood of
forgeries must not flood the log either, so each code is logged at most once per ``interval``
seconds; the next record says how many were left out in between.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from smsbridge._errors import WebhookError
from smsbridge._redact import redact_url

__all__ = ["HINTS", "REFUSALS", "RefusalLog", "log"]

log = logging.getLogger("smsbridge.webhooks")

HINTS: dict[str, str] = {
    "invalid_signature": (
        "check the provider's secret (TWILIO_AUTH_TOKEN, TELNYX_PUBLIC_KEY) and the URL it "
        "signs: set public_url to what the provider calls, or list your proxies in "
        "trusted_proxies; `smsbridge webhook check` on a captured request shows which URL "
        "would match"
    ),
    "stale_webhook": (
        "the signed timestamp is outside the tolerance: a replay, or this machine's clock is "
        "off (check NTP)"
    ),
    "unknown_provider": (
        "the request matches no configured provider: is that provider configured on this "
        "bridge (SMSBRIDGE_PROVIDERS, or SMSBRIDGE_RECEIVE_ONLY for one you only receive "
        "from), and is this URL the webhook endpoint?"
    ),
    "malformed_webhook": (
        "the signed content is not a messaging webhook smsbridge reads (another product's "
        "webhook sent to this URL?)"
    ),
    "payload_too_large": (
        "the body is over max_body_size; provider webhooks are a few KB, so this is unlikely "
        "to come from a provider"
    ),
}


class RefusalLog:
    """Logs refused webhooks, each error code at most once per ``interval`` seconds.

    Thread-safe. Each ``Bridge`` has one (``bridge.refusal_log``); other
    bridge-like objects share ``REFUSALS``.

    Args:
        interval: seconds between two records of the same code.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self, *, interval: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        # code -> (when it was last logged, refusals left out since)
        self._last: dict[str, tuple[float, int]] = {}

    def refused(self, error: WebhookError, url: Callable[[], str | None]) -> bool:
        """Log ``error`` unless its code was logged within ``interval``; True when logged.

        ``url`` is called only when the record is written: it gives the URL the signature
        was checked against (or ``None``).
        """
        now = self._clock()
        with self._lock:
            last = self._last.get(error.code)
            if last is not None and now - last[0] < self.interval:
                self._last[error.code] = (last[0], last[1] + 1)
                return False
            left_out = last[1] if last is not None else 0
            self._last[error.code] = (now, 0)
        checked = _safe(url)
        extra: dict[str, Any] = {
            "code": error.code,
            "status_code": error.status_code,
            "provider": error.provider,
            "left_out": left_out,
        }
        text = f"webhook refused ({error.status_code} {error.code}): {error.message}"
        if checked:
            text += f"; checked against {redact_url(checked)}"
        text += f"; hint: {HINTS.get(error.code, 'see docs/errors.md')}"
        if left_out:
            text += f" ({left_out} more with this code since the last record)"
        log.warning(text, extra=extra)
        return True


def _safe(url: Callable[[], str | None]) -> str | None:
    try:
        return url()
    except Exception:  # the URL of a refused request may not even parse
        return None


REFUSALS = RefusalLog()
"""The refusal log of objects without a ``refusal_log`` of their own."""
