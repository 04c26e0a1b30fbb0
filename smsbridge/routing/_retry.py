"""``Retry``: how often, and after how long, a provider is tried again.

A ``Retry`` is an immutable value. ``Retry.increment`` returns a new value with one
more failure in its history; ``Retry.delay`` computes how long to wait before the next try.
Nothing here sleeps: the sync engine sleeps with ``time.sleep`` and the async one with
``anyio.sleep``, both injectable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from smsbridge._errors import ConfigError

if TYPE_CHECKING:
    from smsbridge._errors import SmsBridgeError

__all__ = ["RETRY_ON", "Retry"]

# Refused errors worth repeating on the same provider. An auth or sender-config refusal will
# not change in a second, so those go straight to the next provider.
RETRY_ON = frozenset({"rate_limited", "provider_unavailable", "carrier_route"})
"""The error codes ``Retry`` repeats on the same provider by default: ``rate_limited``,
``provider_unavailable`` and ``carrier_route``. Any other failure moves on to the next provider
(refused) or ends the send (rejected, or ambiguous without an idempotency guarantee)."""


@dataclass(frozen=True)
class Retry:
    """Retries of one provider before the router moves on to the next.

    Examples:
        >>> from smsbridge.routing import Retry
        >>> sms = Bridge([twilio, telnyx], retry=Retry(total=2, backoff=0.5))

        The router keeps one value per provider and adds each failure to it:

        >>> from smsbridge import ProviderUnavailable
        >>> error = ProviderUnavailable("Service unavailable", http_status=503, failure="refused")
        >>> retry = Retry(total=2, backoff=0.5).increment(error)  # a new value
        >>> retry.should_retry(error), retry.exhausted, retry.delay()
        (True, False, 0.5)

    Args:
        total: retries allowed per provider after its first try (0: never retry).
        backoff: delay before the first retry, in seconds; doubled for each further one.
        max_backoff: ceiling of the computed (exponential) delay.
        jitter: fraction of the computed delay that is randomised (0: exact; 1: "full jitter",
            anywhere between 0 and the delay), so many clients do not retry in step.
        max_retry_after: the longest ``Retry-After`` / ``x-ratelimit-reset`` honoured; a
            provider asking for more is not waited for (the router fails over instead).
        retry_on: error codes (``"rate_limited"``, ...) that are retried on the same provider.
        history: the errors so far, oldest first.
    """

    total: int = 1
    backoff: float = 0.5
    max_backoff: float = 10.0
    jitter: float = 0.0
    max_retry_after: float = 30.0
    retry_on: frozenset[str] = RETRY_ON
    history: tuple[SmsBridgeError, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.total < 0:
            raise ConfigError("Retry total must be 0 or more", variable="retry")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ConfigError("Retry delays must be 0 or more", variable="retry")
        if not 0.0 <= self.jitter <= 1.0:
            raise ConfigError("Retry jitter must be between 0 and 1", variable="retry")

    @property
    def attempts(self) -> int:
        """Failures recorded so far."""
        return len(self.history)

    @property
    def exhausted(self) -> bool:
        """True when the failures so far used up every retry."""
        return len(self.history) > self.total

    def increment(self, error: SmsBridgeError) -> Retry:
        """A new value with ``error`` appended to the history (this one is unchanged)."""
        return replace(self, history=(*self.history, error))

    def reset(self) -> Retry:
        """The same settings with an empty history (a fresh provider)."""
        return replace(self, history=()) if self.history else self

    def should_retry(self, error: SmsBridgeError) -> bool:
        """Whether ``error`` is of a kind this value retries on the same provider."""
        return error.code in self.retry_on

    def backoff_for(self, retry_number: int) -> float:
        """The exponential delay before retry number ``retry_number`` (1 for the first)."""
        if retry_number < 1:
            return 0.0
        # Cap the exponent: 2.0 ** 1100 overflows, and the ceiling applies long before.
        return min(self.max_backoff, self.backoff * 2.0 ** min(retry_number - 1, 64))

    def delay(self, rand: float = 0.0) -> float | None:
        """Seconds to wait before the next try, or ``None`` when it is not worth waiting.

        A ``retry_after`` on the last error is honoured exactly (up to ``max_retry_after``;
        beyond that the answer is ``None``, so the router tries another provider instead).
        Otherwise the delay is exponential in the number of failures, capped by
        ``max_backoff``, with its ``jitter`` fraction scaled by ``rand`` (in ``[0, 1)``).
        """
        if not self.history:
            return 0.0
        asked = self.history[-1].retry_after
        if asked is not None:
            return asked if asked <= self.max_retry_after else None
        base = self.backoff_for(len(self.history))
        return base * (1.0 - self.jitter * rand)

    def __repr__(self) -> str:
        return (
            f"Retry(total={self.total}, backoff={self.backoff}, max_backoff={self.max_backoff}, "
            f"jitter={self.jitter}, history={len(self.history)})"
        )
