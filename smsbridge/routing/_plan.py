"""The send, written once as a plan: a generator of effects (see ``_effects``).

Order of a send: idempotency claim -> candidates -> for each provider: breaker check, rate
limits (a reserved slot, waited for), request, (on an ambiguous failure: optional read-back),
decision (retry / next / stop) -> record the outcome for the key. Decisions are the pure
functions of ``_decide``; this module sequences them and keeps the attempt log.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import httpx

from smsbridge._errors import ProviderError, SmsBridgeError, UnexpectedError
from smsbridge._models import Attempt
from smsbridge.providers._base import LookupInconclusive
from smsbridge.routing import _idempotency as idem
from smsbridge.routing import _rates as rates
from smsbridge.routing._decide import decide, outcome, select
from smsbridge.routing._effects import Fetch, Interrupted, Plan, Sleep, Transmit

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.providers._base import Provider
    from smsbridge.routing._breaker import Verdict
    from smsbridge.routing._retry import Retry
    from smsbridge.routing._settings import RoutingSettings

__all__ = ["send_plan"]


class _Run:
    """The attempt log of one send, and what is known about whether it went out."""

    __slots__ = (
        "ambiguous",
        "attempts",
        "bridge",
        "checking",
        "last",
        "message",
        "result",
        "settings",
        "skipped",
        "stopped",
    )

    def __init__(self, bridge: Bridge, settings: RoutingSettings, message: OutboundMessage) -> None:
        self.bridge = bridge
        self.settings = settings
        self.message = message
        self.attempts: list[Attempt] = []
        self.skipped: list[str] = []
        self.stopped: SmsBridgeError | None = None
        self.ambiguous: SmsBridgeError | None = None
        self.last: tuple[str, SmsBridgeError] | None = None
        self.result: SendResult | None = None
        # True while a failure that may hide an accepted message is being read back.
        self.checking = False

    def record(
        self,
        provider: Provider,
        error: SmsBridgeError | None,
        elapsed: float,
        pmid: str | None = None,
    ) -> None:
        attempt = Attempt(
            provider=provider.name, error=error, elapsed=elapsed, provider_message_id=pmid
        )
        self.attempts.append(attempt)
        self.settings.hooks.attempt(attempt, len(self.attempts), self.message)

    def finish(self, result: SendResult) -> SendResult:
        self.result = result.model_copy(update={"attempts": tuple(self.attempts)})
        return self.result

    @property
    def may_have_sent(self) -> bool:
        """An attempt succeeded, or one may have gone out: an unresolved ambiguous failure,
        or a failure whose read-back has not answered yet."""
        return self.result is not None or self.ambiguous is not None or self.checking

    def unexpected(self, exc: Exception) -> UnexpectedError:
        """The typed error for an exception nothing expected, saying whether it went out."""
        if self.result is not None:
            result = self.result
            return UnexpectedError(
                f"the message was sent through {result.provider}, then smsbridge failed "
                f"unexpectedly ({type(exc).__name__})",
                provider=result.provider,
                failure="ambiguous",
                accepted=True,
                provider_message_id=result.provider_message_id,
                attempts=tuple(self.attempts),
            )
        sent = self.ambiguous is not None
        return UnexpectedError(
            f"smsbridge failed unexpectedly ({type(exc).__name__}); "
            + ("the message may have been sent" if sent else "nothing was sent"),
            failure="ambiguous" if sent else "rejected",
            attempts=tuple(self.attempts),
        )


def send_plan(
    bridge: Bridge, settings: RoutingSettings, message: OutboundMessage, *, job: str | None = None
) -> Plan[SendResult]:
    """Send ``message`` through the bridge's policy, honouring its idempotency key.

    ``job`` names the bulk job the message belongs to: a key another run left pending is
    then reported as ambiguous at once instead of waited for (see ``_idempotency.begin``).
    """
    run = _Run(bridge, settings, message)
    if message.idempotency_key is None:
        return _route(run)
    return _keyed(run, job)


def _keyed(run: _Run, job: str | None) -> Plan[SendResult]:
    """The send with its idempotency claim, ended whatever happens once it is taken.

    Success records the result; a typed failure records or releases the key by its class; an
    interruption (cancellation, Ctrl-C) records it as ambiguous when the request may have been
    written and releases it otherwise; any other exception ends the claim by what may have
    gone out and surfaces as ``UnexpectedError``, chained to it.
    """
    message, settings = run.message, run.settings
    ttl, fp = settings.idempotency_ttl, idem.fingerprint(message)
    replay = yield from idem.begin(
        message, fp, ttl=ttl, wait=settings.idempotency_wait, delivery=run.bridge.delivery, job=job
    )
    if replay is not None:
        return replay
    try:
        result = yield from _route(run)
    except SmsBridgeError as exc:
        yield from idem.finish_failed(message, fp, exc, ttl=ttl)
        raise
    except Interrupted as stop:
        may_have_sent = stop.written or run.may_have_sent
        yield from idem.finish_interrupted(message, fp, may_have_sent=may_have_sent, ttl=ttl)
        raise
    except Exception as exc:
        error = run.unexpected(exc)
        if run.result is not None:
            yield from idem.finish_sent(message, fp, run.result, ttl=ttl)
        else:
            yield from idem.finish_failed(message, fp, error, ttl=ttl)
        raise error from exc
    yield from idem.finish_sent(message, fp, result, ttl=ttl)
    return result


def _route(run: _Run) -> Plan[SendResult]:
    # The success path stays in this one generator (it runs for every message); failures
    # are handled by _failed, created only when one happens.
    bridge, settings, message = run.bridge, run.settings, run.message
    breaker, runtime = settings.breaker, settings.breaker_runtime
    limits = settings.rate_limits
    now = datetime.now(timezone.utc) if message.send_at is not None else None
    chosen = select(bridge.policy, message, any_sender=settings.any_sender, now=now)
    for provider, outgoing in chosen:
        retry = settings.retry
        started = time.time()
        first = True
        while True:
            verdict: Verdict = "closed"
            if breaker is not None:
                known = breaker.known(provider, runtime)
                verdict = known or (yield from breaker.allow(provider, runtime))
                if verdict == "skip":
                    run.skipped.append(provider.name)
                    settings.hooks.skipped(provider, message)
                    break
            if first and run.last is not None:
                settings.hooks.failover(run.last[0], provider.name, run.last[1], message)
            first = False
            if limits is not None:
                held = time.perf_counter()
                yield from rates.acquire(limits, provider, outgoing, settings.rate_guard)
                settings.hooks.waited(provider, time.perf_counter() - held)
            start = time.perf_counter()
            try:
                result: SendResult = yield Transmit(provider, outgoing)
            except SmsBridgeError as exc:
                found, retry, again = yield from _failed(
                    run, provider, outgoing, exc, verdict, retry, started, start
                )
                if found is not None:
                    return found
                if again:
                    continue
                break
            run.record(provider, None, time.perf_counter() - start, result.provider_message_id)
            sent = run.finish(result)
            if breaker is not None and breaker.must_record_success(provider, verdict, runtime):
                yield from breaker.succeeded(provider, verdict, runtime)
            return sent
        if run.stopped is not None:
            break
        if run.ambiguous is not None and bridge.delivery != "at_least_once":
            # The provider may have the message: never try another, whatever ended the tries
            # here (a retry the decision allowed can still be cut short by an open breaker).
            break
    raise outcome(run.attempts, stopped=run.stopped, ambiguous=run.ambiguous, skipped=run.skipped)


def _failed(
    run: _Run,
    provider: Provider,
    message: OutboundMessage,
    exc: SmsBridgeError,
    verdict: Verdict,
    retry: Retry,
    started: float,
    start: float,
) -> Plan[tuple[SendResult | None, Retry, bool]]:
    """After a failed request: record it, maybe read back, decide.

    Returns ``(result found by a read-back or None, the retry value, retry this provider)``.
    """
    settings, breaker = run.settings, run.settings.breaker
    run.record(provider, exc, time.perf_counter() - start)
    run.last = (provider.name, exc)
    if isinstance(exc, UnexpectedError):
        # Not the provider's fault, and nothing to retry: stop, and if the provider accepted
        # the message, it went out (the key is recorded as sent).
        run.stopped = exc
        if exc.failure == "ambiguous":
            run.ambiguous = exc
        return None, retry, False
    busy = exc.code == "rate_limited" and exc.retry_after is not None
    if busy and settings.rate_limits is not None:
        # Every process slows down, not only this one; never for longer than the retry
        # policy would wait (past that the router fails over, and so should the others).
        seconds = min(exc.retry_after or 0.0, retry.max_retry_after)
        yield from rates.pause(
            settings.rate_limits, provider, message, seconds, settings.rate_guard
        )
    if breaker is not None and not (busy and _waits_out(exc, retry, verdict)):
        yield from breaker.failed(provider, verdict, exc, settings.breaker_runtime)
    failure = exc.failure
    if _needs_read_back(provider, exc):
        run.checking = True  # an interruption during the read-back leaves it "may have sent"
        found = yield from _reconcile(run, provider, message, started)
        run.checking = False
        if found is not None and found is not _NOT_FOUND:
            run.record(provider, None, time.perf_counter() - start, found.provider_message_id)
            return run.finish(found), retry, False
        if found is _NOT_FOUND and _finished(exc):
            failure = "refused"  # the provider was done with the request and does not have it
        elif failure == "ambiguous":
            # No answer (a timeout, a reset): the provider may still be handling the request,
            # so a read-back that does not show it yet proves nothing.
            run.ambiguous = exc
    decision = decide(
        exc,
        retry,
        failure=failure,
        idempotent=provider.capabilities.idempotency,
        delivery=run.bridge.delivery,
        tainted=run.ambiguous is not None,
        rand=settings.random(),
    )
    if decision.action == "retry":
        if decision.delay > 0:
            yield Sleep(decision.delay)
        return None, decision.retry, True
    if decision.action == "stop":
        run.stopped = exc
    return None, decision.retry, False


def _waits_out(exc: SmsBridgeError, retry: Retry, verdict: Verdict) -> bool:
    """Whether the retry policy waits out this 429's ``Retry-After`` and tries again.

    Such a 429 does not count toward the circuit breaker: the provider is healthy, only busy,
    and many senders hitting one burst would otherwise open the breaker together. A probe's
    429 still counts (one caller; the breaker stays open for another cool-down).
    """
    if verdict == "probe" or not retry.should_retry(exc):
        return False
    after = retry.increment(exc)
    return not after.exhausted and after.delay() is not None


def _needs_read_back(provider: Provider, exc: SmsBridgeError) -> bool:
    """Whether the message may be at the provider despite ``exc``: an ambiguous failure, or
    any 5xx from a provider without idempotency keys (a 503 is *refused* by HTTP's word, but
    a provider may have accepted the message before failing; with ``reconcile=True`` that is
    checked rather than assumed)."""
    if exc.failure == "ambiguous":
        return True
    idempotent = provider.capabilities.idempotency
    return exc.http_status is not None and exc.http_status >= 500 and not idempotent


def _finished(exc: SmsBridgeError) -> bool:
    """Whether the provider answered the request, so a read-back can stand for its outcome.

    Without an answer (a read timeout, a reset) the provider may still be handling the request
    when the read-back runs, and accept it a moment later: the soak saw exactly that.
    """
    return exc.http_status is not None


_NOT_FOUND: Any = object()


def _reconcile(
    run: _Run, provider: Provider, message: OutboundMessage, started: float
) -> Plan[Any]:
    """After a failure that may hide an accepted message, read back whether it was accepted.

    Returns the found ``SendResult``, ``_NOT_FOUND`` when the read-back answered and showed no
    such message, or ``None`` when there is no answer (not enabled, not supported, failed, or
    a message that looks the same but cannot be told apart for sure).
    """
    if not run.settings.reconcile or not provider.capabilities.read_back:
        return None
    if run.settings.reconcile_delay > 0:
        yield Sleep(run.settings.reconcile_delay)
    since = datetime.fromtimestamp(started, timezone.utc)
    try:
        response = yield Fetch(provider.build_lookup_request(message, since))
        found = provider.parse_lookup(response, message, since=since)
    except (ProviderError, LookupInconclusive, httpx.TransportError, OSError) as exc:
        from smsbridge.routing._observe import log

        log.warning(
            "read-back after a failure gave no certain answer (%s); the failure stands",
            type(exc).__name__,
            extra={"provider": provider.name, "message_id": run.message.message_id},
        )
        return None
    return found if found is not None else _NOT_FOUND
