"""Failover through the real HTTP emulator: failure classes decide retry, failover or stop."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from _routing_kit import TELNYX_FROM, TO, TWILIO_FROM, Counter, emu, emulator, telnyx, twilio

from smsbridge import (
    AllProvidersFailed,
    Bridge,
    InvalidRecipient,
    OptedOut,
    OutboundMessage,
    ProviderUnavailable,
    SenderConfig,
)
from smsbridge.providers import Capabilities, Twilio
from smsbridge.routing import ByCountry, CircuitBreaker, Hooks, Retry, Weighted
from smsbridge.testing.emulator import Emulator

__all__ = ["emu", "emulator"]


def _bridge(emu: Emulator, counter: Counter, **options: Any) -> Bridge:
    options.setdefault("sleep", lambda seconds: None)
    return Bridge([twilio(emu), telnyx(emu)], http_client=counter.client(), **options)


def test_primary_503_fails_over_to_secondary_from_its_own_sender(emu: Emulator) -> None:
    """Twilio answers 503: Telnyx sends it from Telnyx's number; both attempts are listed."""
    emu.fault("twilio", "http_error", status=503)
    counter = Counter(emu)
    result = _bridge(emu, counter, retry=None).send(to=TO, body="hello")
    assert result.provider == "telnyx"
    assert result.from_ == TELNYX_FROM
    assert [m["from"] for m in emu.messages("telnyx")] == [TELNYX_FROM]
    assert emu.messages("twilio") == []
    assert [(a.provider, a.failure) for a in result.attempts] == [
        ("twilio", "refused"),
        ("telnyx", None),
    ]
    assert result.attempts[0].error is not None
    assert result.attempts[0].error.http_status == 503
    assert all(a.elapsed > 0 for a in result.attempts)


def test_refused_is_retried_on_the_same_provider_first(emu: Emulator) -> None:
    """One 503 then success: the retry on Twilio sends it, after the computed backoff."""
    emu.fault("twilio", "http_error", status=503, times=1)
    counter, slept = Counter(emu), list[float]()
    bridge = _bridge(emu, counter, retry=Retry(total=2, backoff=0.25), sleep=slept.append)
    result = bridge.send(to=TO, body="hello")
    assert result.provider == "twilio"
    assert result.from_ == TWILIO_FROM
    assert slept == [0.25]
    assert [a.provider for a in result.attempts] == ["twilio", "twilio"]
    assert counter.sends("telnyx") == 0


@pytest.mark.parametrize("kind", ["invalid_recipient", "opted_out"])
def test_rejection_stops_without_failover(emu: Emulator, kind: str) -> None:
    """A 400 invalid-recipient or opted-out answer: one request in total, raised as itself."""
    if kind == "opted_out":
        emu.opt_out("twilio", TO)
    else:
        emu.fault("twilio", "error_code", code=21211)
    counter = Counter(emu)
    expected = OptedOut if kind == "opted_out" else InvalidRecipient
    with pytest.raises(expected) as caught:
        _bridge(emu, counter).send(to=TO, body="hello")
    assert len(counter.requests) == 1
    assert caught.value.failure == "rejected"
    assert caught.value.http_status == 400
    assert [a.provider for a in caught.value.attempts] == ["twilio"]
    assert emu.messages() == []


def test_accept_then_hang_is_ambiguous_and_not_sent_elsewhere(emu: Emulator) -> None:
    """Twilio accepts then never answers: by default no second provider is called."""
    emu.fault("twilio", "accept_then_hang")
    counter = Counter(emu)
    with pytest.raises(ProviderUnavailable) as caught:
        _bridge(emu, counter).send(to=TO, body="hello")
    assert caught.value.failure == "ambiguous"
    assert counter.sends("telnyx") == 0
    assert counter.sends("twilio") == 1
    assert [a.failure for a in caught.value.attempts] == ["ambiguous"]
    assert len(emu.messages("twilio")) == 1  # it was in fact sent: hence no re-send


def test_an_ambiguous_retry_cut_short_by_the_breaker_never_goes_elsewhere(
    emu: Emulator,
) -> None:
    """Telnyx accepts then hangs: its retry is allowed (idempotent), but the failure opened
    its breaker, so the retry is skipped. The message may be at Telnyx: it must not move to
    Twilio (found by the failover soak, benchmarks/soak.py)."""
    emu.fault("telnyx", "accept_then_hang")
    counter = Counter(emu)
    bridge = Bridge(
        [telnyx(emu), twilio(emu)],
        http_client=counter.client(),
        breaker=CircuitBreaker(failures=1, cooldown=60),
        sleep=lambda s: None,
    )
    with pytest.raises(ProviderUnavailable) as caught:
        bridge.send(to=TO, body="hello")
    assert caught.value.failure == "ambiguous"
    assert counter.sends("twilio") == 0
    assert emu.messages("twilio") == []
    assert [a.provider for a in caught.value.attempts] == ["telnyx"]


def test_at_least_once_sends_through_the_secondary(emu: Emulator) -> None:
    """With delivery="at_least_once" the ambiguous Twilio send is re-sent by Telnyx."""
    emu.fault("twilio", "accept_then_hang")
    counter = Counter(emu)
    bridge = _bridge(emu, counter, retry=None, delivery="at_least_once")
    result = bridge.send(to=TO, body="hello")
    assert result.provider == "telnyx"
    assert [(a.provider, a.failure) for a in result.attempts] == [
        ("twilio", "ambiguous"),
        ("telnyx", None),
    ]
    assert len(emu.messages("telnyx")) == 1


def test_telnyx_ambiguous_is_retried_safely_on_telnyx(emu: Emulator) -> None:
    """Telnyx's Idempotency-Key makes a retry after accept-then-hang replay, not re-send."""
    emu.fault("telnyx", "accept_then_hang", times=1)
    counter = Counter(emu)
    bridge = Bridge([telnyx(emu), twilio(emu)], http_client=counter.client(), sleep=lambda s: None)
    result = bridge.send(to=TO, body="hello")
    assert result.provider == "telnyx"
    assert counter.sends("telnyx") == 2
    assert counter.sends("twilio") == 0
    assert len(emu.messages("telnyx")) == 1
    assert result.provider_message_id == emu.messages("telnyx")[0]["id"]


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_rate_limit_delay_comes_from_the_provider(emu: Emulator, provider: str) -> None:
    """A 429 with Retry-After (Twilio) or x-ratelimit-reset (Telnyx): that delay, then success."""
    emu.fault(provider, "rate_limit", retry_after=7, times=1)
    counter, slept = Counter(emu), list[float]()
    make = {"twilio": twilio, "telnyx": telnyx}[provider]
    bridge = Bridge(make(emu), http_client=counter.client(), sleep=slept.append)
    result = bridge.send(to=TO, body="hello")
    assert slept == [7.0]
    assert result.provider == provider
    assert [a.error.code if a.error else None for a in result.attempts] == ["rate_limited", None]


def test_rate_limit_longer_than_allowed_fails_over_at_once(emu: Emulator) -> None:
    """A Retry-After beyond max_retry_after is not waited for: the secondary sends now."""
    emu.fault("twilio", "rate_limit", retry_after=600)
    counter, slept = Counter(emu), list[float]()
    result = _bridge(emu, counter, retry=Retry(max_retry_after=30), sleep=slept.append).send(
        to=TO, body="hello"
    )
    assert slept == []
    assert result.provider == "telnyx"


def test_every_provider_refused_is_all_providers_failed(emu: Emulator) -> None:
    """Both refuse: AllProvidersFailed, reading like the last attempt, listing every attempt."""
    emu.fault("twilio", "http_error", status=503)
    emu.fault("telnyx", "rate_limit", retry_after=3)
    counter = Counter(emu)
    with pytest.raises(AllProvidersFailed) as caught:
        _bridge(emu, counter, retry=None).send(to=TO, body="hello")
    error = caught.value
    assert (error.code, error.failure, error.retry_after) == ("rate_limited", "refused", 3.0)
    assert [a.provider for a in error.attempts] == ["twilio", "telnyx"]
    assert "twilio" in str(error)
    assert "telnyx" in str(error)
    assert emu.messages() == []


def test_connection_refused_fails_over(emu: Emulator) -> None:
    """A provider that refuses connections is skipped over, and nothing is sent twice."""
    emu.fault("twilio", "refuse")
    counter = Counter(emu)
    result = _bridge(emu, counter, retry=None).send(to=TO, body="hello")
    assert result.provider == "telnyx"
    assert result.attempts[0].error is not None
    assert result.attempts[0].error.failure == "refused"
    assert len(emu.messages()) == 1


def test_named_sender_only_uses_its_owner(emu: Emulator) -> None:
    """send(from_=Telnyx's number) skips Twilio, which does not own that number."""
    counter = Counter(emu)
    result = _bridge(emu, counter).send(to=TO, body="hello", from_=TELNYX_FROM)
    assert result.provider == "telnyx"
    assert counter.sends("twilio") == 0


def test_unknown_sender_fails_before_any_request(emu: Emulator) -> None:
    """A sender no provider owns: SenderConfig, no request at all."""
    counter = Counter(emu)
    with pytest.raises(SenderConfig):
        _bridge(emu, counter).send(to=TO, body="hello", from_="+15550001111")
    assert counter.requests == []


def test_any_sender_fails_over_from_the_secondarys_own_number(emu: Emulator) -> None:
    """With any_sender, a failover from the named sender's owner uses the other's number."""
    emu.fault("twilio", "http_error", status=503)
    counter = Counter(emu)
    bridge = _bridge(emu, counter, retry=None, any_sender=True)
    result = bridge.send(to=TO, body="hello", from_=TWILIO_FROM)
    assert result.provider == "telnyx"
    assert emu.messages("telnyx")[0]["from"] == TELNYX_FROM


def test_mms_skips_a_provider_without_mms(emu: Emulator) -> None:
    """Capabilities filter candidates: the MMS goes to the provider that can send it."""
    counter = Counter(emu)
    bridge = Bridge(
        [twilio(emu, capabilities=Capabilities(mms=False)), telnyx(emu)],
        http_client=counter.client(),
    )
    result = bridge.send(to=TO, body="pic", media_urls=["https://example.com/a.jpg"])
    assert result.provider == "telnyx"
    assert counter.sends("twilio") == 0


def test_hooks_see_attempts_and_failover(emu: Emulator) -> None:
    """on_attempt sees every request and on_failover the move; a raising hook breaks nothing."""
    emu.fault("twilio", "http_error", status=503)
    seen: list[Any] = []

    def broken(*args: Any) -> None:
        raise RuntimeError("metrics backend down")

    counter = Counter(emu)
    bridge = _bridge(
        emu,
        counter,
        retry=None,
        hooks=Hooks(
            on_attempt=lambda attempt: seen.append(("attempt", attempt.provider, attempt.failure)),
            on_failover=lambda old, new, error: seen.append(("failover", old, new, error.code)),
            on_breaker_change=broken,
        ),
        breaker=None,
    )
    result = bridge.send(to=TO, body="hello")
    assert result.provider == "telnyx"
    assert seen == [
        ("attempt", "twilio", "refused"),
        ("failover", "twilio", "telnyx", "provider_unavailable"),
        ("attempt", "telnyx", None),
    ]
    bridge_broken = _bridge(emu, Counter(emu), retry=None, hooks=Hooks(on_attempt=broken))
    assert bridge_broken.send(to=TO, body="again").provider == "telnyx"


def test_logs_carry_structured_fields_and_no_secrets(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Failure logs have provider/attempt/failure/elapsed extras and never a credential."""
    emu.fault("twilio", "http_error", status=503)
    caplog.set_level(logging.DEBUG, logger="smsbridge")
    _bridge(emu, Counter(emu), retry=None).send(to=TO, body="secret code 123456")
    failed = [r for r in caplog.records if getattr(r, "failure", None) == "refused"]
    assert failed, "a failed attempt is logged"
    record = failed[0]
    assert (record.provider, record.attempt, record.code) == (  # type: ignore[attr-defined]
        "twilio",
        1,
        "provider_unavailable",
    )
    assert record.elapsed > 0  # type: ignore[attr-defined]
    everything = " ".join(f"{r.getMessage()} {sorted(vars(r).items())!r}" for r in caplog.records)
    for secret in (emu.twilio_auth_token, emu.telnyx_api_key, "123456"):
        assert secret not in everything


@pytest.mark.anyio
async def test_async_failover_and_ambiguous_stop(emu: Emulator) -> None:
    """asend: a 503 fails over; an accept-then-hang stops with an ambiguous error."""
    emu.fault("twilio", "http_error", status=503, times=1)
    counter = Counter(emu)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async with Bridge(
        [twilio(emu), telnyx(emu)],
        async_http_client=counter.async_client(),
        retry=None,
        async_sleep=fake_sleep,
    ) as bridge:
        result = await bridge.asend(to=TO, body="hello")
        assert result.provider == "telnyx"
        assert [a.provider for a in result.attempts] == ["twilio", "telnyx"]
        emu.fault("twilio", "accept_then_hang", times=1)
        with pytest.raises(ProviderUnavailable) as caught:
            await bridge.asend(to=TO, body="again")
        assert caught.value.failure == "ambiguous"
    assert counter.sends("telnyx") == 1
    assert slept == []


def test_by_country_real_sends_reach_different_providers(emu: Emulator) -> None:
    """Through the emulator, +44 goes out through Telnyx and +1 through Twilio."""
    counter = Counter(emu)
    bridge = Bridge(ByCountry({"GB": telnyx(emu), "US": twilio(emu)}), http_client=counter.client())
    assert bridge.send(to="+442079460018", body="hello UK").provider == "telnyx"
    assert bridge.send(to=TO, body="hello US").provider == "twilio"
    assert [m["to"] for m in emu.messages("telnyx")] == ["+442079460018"]
    assert [m["to"] for m in emu.messages("twilio")] == [TO]


def test_weighted_real_sends_follow_the_seeded_draws(emu: Emulator) -> None:
    """Real sends through Weighted go where an identically seeded policy says they go."""
    tw, tx = twilio(emu), telnyx(emu)
    expected = Weighted({tw: 1, tx: 1}, random=random.Random(5))
    predicted = [expected.candidates(OutboundMessage(to=TO, body="x"))[0].name for _ in range(12)]
    bridge = Bridge(
        Weighted({tw: 1, tx: 1}, random=random.Random(5)), http_client=Counter(emu).client()
    )
    sent = [bridge.send(to=TO, body=f"n{i}").provider for i in range(12)]
    assert sent == predicted
    assert {"twilio", "telnyx"} == set(sent)
    assert len(emu.messages("twilio")) == sent.count("twilio")


def test_unknown_bridge_option_is_a_type_error() -> None:
    """A misspelt routing option is Python's own TypeError, naming Bridge and the argument."""
    with pytest.raises(
        TypeError, match=r"Bridge\.__init__\(\) got an unexpected keyword argument 'retries'"
    ):
        Bridge(Twilio("AC" + "0" * 32, "token", from_=TWILIO_FROM), retries=3)  # type: ignore[call-arg]
