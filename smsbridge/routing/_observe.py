"""Observability: structured log records and the hooks a user connects to metrics.

Log records go to the ``smsbridge.routing`` logger with ``extra`` fields a JSON formatter can
pick up: ``provider``, ``attempt`` (1-based, over the whole send), ``failure`` (the class:
``rejected`` / ``refused`` / ``ambiguous``), ``code``, ``provider_code``, ``http_status``,
``elapsed`` (seconds) and ``message_id`` (smsbridge's id of the message). Never a secret, a
message body or a recipient number.

Hooks are plain callables. One that raises is logged and otherwise ignored: a metrics bug
must not turn a sent message into an error (which a caller might retry: a double send).

Every event also goes to OpenTelemetry (``smsbridge.telemetry``) from here, the one place
the routing reports what happened: each call costs one check of a module global when
telemetry is off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smsbridge import _telemetry as telemetry

if TYPE_CHECKING:
    from smsbridge._errors import SmsBridgeError
    from smsbridge._models import Attempt, OutboundMessage
    from smsbridge.providers._base import Provider
    from smsbridge.routing._breaker import BreakerState

__all__ = ["Hooks", "log"]

log = logging.getLogger("smsbridge.routing")

OnAttempt = Callable[["Attempt"], Any]
OnFailover = Callable[[str, str, "SmsBridgeError"], Any]
OnBreakerChange = Callable[[str, "BreakerState", "BreakerState"], Any]


def _error_fields(error: SmsBridgeError | None) -> dict[str, Any]:
    if error is None:
        return {"failure": None, "code": None, "provider_code": None, "http_status": None}
    return {
        "failure": error.failure,
        "code": error.code,
        "provider_code": error.provider_code,
        "http_status": error.http_status,
    }


@dataclass(frozen=True)
class Hooks:
    """The user's callbacks, called after the event and never allowed to break a send.

    Attributes:
        on_attempt: ``(attempt)`` after every request to a provider, failed or not.
        on_failover: ``(from_provider, to_provider, error)`` when the router moves on to
            another provider after ``error``.
        on_breaker_change: ``(provider, old_state, new_state)`` when this process changes a
            breaker (``"closed"``, ``"open"``, ``"half_open"``).

    Examples:
        >>> from collections import Counter
        >>> from smsbridge.routing import Hooks
        >>> failovers = Counter()
        >>> def count_failover(old: str, new: str, error: SmsBridgeError) -> None:
        ...     failovers[(old, new, error.code)] += 1
        >>> sms = Bridge([twilio, telnyx], hooks=Hooks(on_failover=count_failover))
    """

    on_attempt: OnAttempt | None = None
    on_failover: OnFailover | None = None
    on_breaker_change: OnBreakerChange | None = None

    def _call(self, name: str, hook: Callable[..., Any] | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:
            log.exception("the %s hook raised; ignored", name, extra={"hook": name})

    def attempt(self, attempt: Attempt, number: int, message: OutboundMessage) -> None:
        """Log one attempt, report it to telemetry and call ``on_attempt``."""
        telemetry.attempt(attempt, number, message)
        if attempt.error is None and not log.isEnabledFor(logging.DEBUG):
            self._call("on_attempt", self.on_attempt, attempt)
            return
        fields = {
            "provider": attempt.provider,
            "attempt": number,
            "elapsed": attempt.elapsed,
            "message_id": message.message_id,
            **_error_fields(attempt.error),
        }
        if attempt.error is None:
            log.debug("sent through %s", attempt.provider, extra=fields)
        else:
            log.warning(
                "send attempt %d through %s failed (%s, %s)",
                number,
                attempt.provider,
                attempt.error.failure,
                attempt.error.code,
                extra=fields,
            )
        self._call("on_attempt", self.on_attempt, attempt)

    def failover(self, old: str, new: str, error: SmsBridgeError, message: OutboundMessage) -> None:
        """Log a move to another provider, report it and call ``on_failover``."""
        telemetry.failover(old, new, error)
        log.info(
            "failing over from %s to %s after %s",
            old,
            new,
            error.code,
            extra={
                "provider": new,
                "from_provider": old,
                "message_id": message.message_id,
                **_error_fields(error),
            },
        )
        self._call("on_failover", self.on_failover, old, new, error)

    def skipped(self, provider: Provider, message: OutboundMessage) -> None:
        """Log a provider skipped because its breaker is open (a span event)."""
        telemetry.skipped(provider.name)
        log.info(
            "skipping %s: circuit breaker open",
            provider.name,
            extra={"provider": provider.name, "message_id": message.message_id},
        )

    def breaker(self, provider: Provider, old: BreakerState, new: BreakerState) -> None:
        """Log a breaker change, report it and call ``on_breaker_change``."""
        telemetry.breaker(provider.name, old, new)
        level = logging.WARNING if new == "open" else logging.INFO
        log.log(
            level,
            "circuit breaker of %s: %s -> %s",
            provider.name,
            old,
            new,
            extra={"provider": provider.name, "breaker_from": old, "breaker_to": new},
        )
        self._call("on_breaker_change", self.on_breaker_change, provider.name, old, new)

    def waited(self, provider: Provider, seconds: float) -> None:
        """Report the time a send spent on its rate-limit slot (reservation and wait)."""
        telemetry.rate_wait(provider.name, seconds)
