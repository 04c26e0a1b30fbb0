"""Retry: an immutable value that counts failures and computes delays without sleeping."""

from __future__ import annotations

import pytest

from smsbridge import ConfigError, ProviderUnavailable, RateLimited, SenderConfig
from smsbridge.routing import Retry


def _unavailable() -> ProviderUnavailable:
    return ProviderUnavailable("down", provider="twilio", failure="refused", http_status=503)


def test_increment_returns_a_new_value_with_history() -> None:
    """increment() leaves the original untouched and returns a value with the error appended."""
    first = Retry(total=2)
    error = _unavailable()
    second = first.increment(error)
    assert first.history == ()
    assert second.history == (error,)
    assert second is not first
    assert second.attempts == 1
    with pytest.raises(AttributeError):
        first.total = 5  # type: ignore[misc]


def test_exhausted_after_total_retries() -> None:
    """With total=2 the first failure and two retries' failures exhaust the value."""
    retry = Retry(total=2)
    states = []
    for _ in range(3):
        retry = retry.increment(_unavailable())
        states.append(retry.exhausted)
    assert states == [False, False, True]


def test_zero_total_is_exhausted_at_the_first_failure() -> None:
    """total=0 means never retry."""
    assert Retry(total=0).increment(_unavailable()).exhausted


def test_exponential_backoff_capped() -> None:
    """Delays double from ``backoff`` and stop at ``max_backoff``."""
    retry = Retry(total=10, backoff=0.5, max_backoff=3.0)
    delays = []
    for _ in range(5):
        retry = retry.increment(_unavailable())
        delays.append(retry.delay())
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_huge_retry_counts_do_not_overflow() -> None:
    """A large failure number still gives the ceiling, not an OverflowError."""
    assert Retry(backoff=1.0, max_backoff=7.0).backoff_for(5000) == 7.0


def test_jitter_scales_within_bounds() -> None:
    """With jitter, rand=0 gives the full delay and rand near 1 gives (1 - jitter) of it."""
    retry = Retry(backoff=2.0, jitter=0.5).increment(_unavailable())
    assert retry.delay(0.0) == 2.0
    assert retry.delay(0.999999) == pytest.approx(1.0, abs=1e-5)


def test_retry_after_is_honoured_exactly() -> None:
    """A Retry-After from the provider replaces the computed backoff (no jitter)."""
    error = RateLimited("slow down", provider="twilio", retry_after=7.0)
    retry = Retry(backoff=0.1, jitter=1.0).increment(error)
    assert retry.delay(0.7) == 7.0


def test_retry_after_beyond_the_limit_is_not_waited_for() -> None:
    """A Retry-After above max_retry_after gives None: move on instead of waiting."""
    error = RateLimited("slow down", provider="twilio", retry_after=120.0)
    assert Retry(max_retry_after=30.0).increment(error).delay() is None


def test_should_retry_only_transient_refusals() -> None:
    """Rate limits and unavailability are retried; a sender misconfiguration is not."""
    retry = Retry()
    assert retry.should_retry(RateLimited("x"))
    assert retry.should_retry(_unavailable())
    assert not retry.should_retry(SenderConfig("not provisioned"))


def test_reset_clears_history() -> None:
    """reset() keeps the settings and forgets the failures."""
    retry = Retry(total=3, backoff=1.5).increment(_unavailable())
    fresh = retry.reset()
    assert fresh.history == ()
    assert fresh.total == 3
    assert fresh.backoff == 1.5


@pytest.mark.parametrize(
    "kwargs", [{"total": -1}, {"backoff": -1.0}, {"jitter": 1.5}, {"max_retry_after": -2.0}]
)
def test_bad_settings_are_config_errors(kwargs: dict[str, float]) -> None:
    """Nonsense settings raise ConfigError naming the retry option."""
    with pytest.raises(ConfigError) as caught:
        Retry(**kwargs)  # type: ignore[arg-type]
    assert caught.value.variable == "retry"
