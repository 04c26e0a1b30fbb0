"""The pure routing decisions: retry, move on, or stop, by failure class."""

from __future__ import annotations

from smsbridge import (
    AllProvidersFailed,
    Attempt,
    InvalidRecipient,
    ProviderUnavailable,
    RateLimited,
    SenderConfig,
)
from smsbridge._bridge import Delivery
from smsbridge._errors import Failure, SmsBridgeError
from smsbridge.routing import Retry
from smsbridge.routing._decide import Decision, decide, outcome


def _go(
    error: SmsBridgeError,
    retry: Retry | None = None,
    *,
    failure: Failure | None = None,
    idempotent: bool = False,
    delivery: Delivery = "at_most_once",
    tainted: bool = False,
) -> Decision:
    return decide(
        error,
        retry or Retry(total=1),
        failure=failure or error.failure,
        idempotent=idempotent,
        delivery=delivery,
        tainted=tainted,
    )


def test_rejected_stops_at_once() -> None:
    """A rejection is neither retried nor failed over."""
    assert _go(InvalidRecipient("bad number")).action == "stop"


def test_refused_retries_then_moves_on() -> None:
    """A transient refusal is retried on the same provider, then the router moves on."""
    error = ProviderUnavailable("503", failure="refused")
    first = _go(error)
    assert (first.action, first.delay) == ("retry", 0.5)
    second = _go(error, first.retry)
    assert second.action == "next"


def test_sender_config_moves_on_without_retry() -> None:
    """A refusal that a retry cannot fix goes straight to the next provider."""
    assert _go(SenderConfig("not provisioned")).action == "next"


def test_retry_after_sets_the_delay() -> None:
    """The provider's Retry-After is the delay before the retry."""
    decision = _go(RateLimited("429", retry_after=4.0))
    assert (decision.action, decision.delay) == ("retry", 4.0)


def test_ambiguous_stops_by_default() -> None:
    """At most once: an ambiguous failure is not re-sent anywhere."""
    assert _go(ProviderUnavailable("timeout", failure="ambiguous")).action == "stop"


def test_ambiguous_retries_an_idempotent_provider_only() -> None:
    """With an idempotency guarantee the same provider is retried, then routing stops."""
    error = ProviderUnavailable("timeout", failure="ambiguous")
    first = _go(error, idempotent=True)
    assert first.action == "retry"
    assert _go(error, first.retry, idempotent=True).action == "stop"


def test_at_least_once_moves_on_after_ambiguous() -> None:
    """The opt-in re-sends: after the retries, the next provider is tried."""
    error = ProviderUnavailable("timeout", failure="ambiguous")
    assert _go(error, Retry(total=0), delivery="at_least_once").action == "next"


def test_refusal_after_an_ambiguous_attempt_stops() -> None:
    """Once an attempt was ambiguous, a later refusal does not move the message elsewhere."""
    error = ProviderUnavailable("503", failure="refused")
    assert _go(error, Retry(total=0), tainted=True).action == "stop"


def test_read_back_not_found_acts_as_refused() -> None:
    """An ambiguous error that a read-back resolved as not sent is handled like a refusal."""
    error = ProviderUnavailable("timeout", failure="ambiguous")
    assert _go(error, Retry(total=0), failure="refused").action == "next"


def test_outcome_all_refused_is_all_providers_failed() -> None:
    """Several providers that all refused give AllProvidersFailed reading like the last one."""
    one = ProviderUnavailable("503", provider="twilio", failure="refused")
    two = RateLimited("429", provider="telnyx", retry_after=3.0)
    attempts = [Attempt(provider="twilio", error=one), Attempt(provider="telnyx", error=two)]
    error = outcome(attempts, stopped=None, ambiguous=None, skipped=[])
    assert isinstance(error, AllProvidersFailed)
    assert (error.code, error.failure, error.retry_after) == ("rate_limited", "refused", 3.0)
    assert "twilio" in error.message
    assert "telnyx" in error.message
    assert len(error.attempts) == 2


def test_outcome_single_provider_raises_its_own_error() -> None:
    """One provider retried until it gave up raises its own last error."""
    errors = [ProviderUnavailable("503", provider="twilio", failure="refused") for _ in range(2)]
    attempts = [Attempt(provider="twilio", error=e) for e in errors]
    error = outcome(attempts, stopped=None, ambiguous=None, skipped=[])
    assert error is errors[-1]
    assert error.attempts == tuple(attempts)


def test_outcome_ambiguous_wins_over_later_refusals() -> None:
    """If any attempt may have sent it, the error raised says ambiguous."""
    ambiguous = ProviderUnavailable("timeout", provider="telnyx", failure="ambiguous")
    refused = ProviderUnavailable("503", provider="telnyx", failure="refused")
    attempts = [
        Attempt(provider="telnyx", error=ambiguous),
        Attempt(provider="telnyx", error=refused),
    ]
    error = outcome(attempts, stopped=refused, ambiguous=ambiguous, skipped=[])
    assert error is ambiguous
    assert error.failure == "ambiguous"


def test_outcome_everything_skipped() -> None:
    """All breakers open: a refused ProviderUnavailable naming them, with no attempts."""
    error = outcome([], stopped=None, ambiguous=None, skipped=["twilio", "telnyx"])
    assert isinstance(error, ProviderUnavailable)
    assert error.failure == "refused"
    assert error.attempts == ()
    assert "twilio, telnyx" in error.message
