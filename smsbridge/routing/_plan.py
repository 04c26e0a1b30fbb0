"""The send, written once as a plan: a generator of effects (see ``_effects``).

Order of a send: idempotency claim -> candidates -> for each provider: breaker check, request,
(on an ambiguous failure: optional read-back), decision (retry / next / stop) -> record the
outcome for the key. Decisions are the pure functions of ``_decide``; this module sequences
them and keeps the attempt log.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import httpx

from smsbridge._errors import ProviderError, SmsBridgeError
from smsbridge._models import Attempt
from smsbridge.routing import _idempotency as idem
from smsbridge.routing._decide import decide, outcome, select
from smsbridge.routing._effects import Fetch, Plan, Sleep, Transmit

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.providers._base import Provider
    from smsbridge.routing._breaker import Verdict
    from smsbridge.routing._retry import Retry
    from smsbridge.routing._settings import RoutingSettings

__all__ = ["send_plan"]

# A read-back looks for messages created since shortly before the first request: clocks differ.
_SKEW = timedelta(seconds=60)


class _Run:
    """The attempt log of one send."""

    __slots__ = (
        "ambiguous",
        "attempts",
        "bridge",
        "last",
        "message",
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
        return result.model_copy(update={"attempts": tuple(self.attempts)})


def send_plan(
    bridge: Bridge, settings: RoutingSettings, message: OutboundMessage
) -> Plan[SendResult]:
    """Send ``message`` through the bridge's policy, honouring its idempotency key."""
    if message.idempotency_key is None:
        return _route(bridge, settings, message)
    return _keyed(bridge, settings, message)


def _keyed(bridge: Bridge, settings: RoutingSettings, message: OutboundMessage) -> Plan[SendResult]:
    ttl, fp = settings.idempotency_ttl, idem.fingerprint(message)
    replay = yield from idem.begin(
        message, fp, ttl=ttl, wait=settings.idempotency_wait, delivery=bridge.delivery
    )
    if replay is not None:
        return replay
    try:
        result = yield from _route(bridge, settings, message)
    except SmsBridgeError as exc:
        yield from idem.finish_failed(message, fp, exc, ttl=ttl)
        raise
    yield from idem.finish_sent(message, fp, result, ttl=ttl)
    return result


def _route(bridge: Bridge, settings: RoutingSettings, message: OutboundMessage) -> Plan[SendResult]:
    # The success path stays in this one generator (it runs for every message); failures
    # are handled by _failed, created only when one happens.
    run = _Run(bridge, settings, message)
    breaker, runtime = settings.breaker, settings.breaker_runtime
    for provider, outgoing in select(bridge.policy, message, any_sender=settings.any_sender):
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
            start = time.perf_counter()
            try:
                result: SendResult = yield Transmit(provider, outgoing)
            except ProviderError as exc:
                found, retry, again = yield from _failed(
                    run, provider, outgoing, exc, verdict, retry, started, start
                )
                if found is not None:
                    return found
                if again:
                    continue
                break
            run.record(provider, None, time.perf_counter() - start, result.provider_message_id)
            if breaker is not None and breaker.must_record_success(provider, verdict, runtime):
                yield from breaker.succeeded(provider, verdict, runtime)
            return run.finish(result)
        if run.stopped is not None:
            break
    raise outcome(run.attempts, stopped=run.stopped, ambiguous=run.ambiguous, skipped=run.skipped)


def _failed(
    run: _Run,
    provider: Provider,
    message: OutboundMessage,
    exc: ProviderError,
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
    if breaker is not None:
        yield from breaker.failed(provider, verdict, exc, settings.breaker_runtime)
    failure = exc.failure
    if failure == "ambiguous":
        since = datetime.fromtimestamp(started, timezone.utc) - _SKEW
        found = yield from _reconcile(run, provider, message, since)
        if found is not None and found is not _NOT_FOUND:
            run.record(provider, None, time.perf_counter() - start, found.provider_message_id)
            return run.finish(found), retry, False
        if found is _NOT_FOUND:
            failure = "refused"
        else:
            run.ambiguous = exc
    decision = decide(
        exc,
        retry,
        failure=failure,
        idempotent=bool(getattr(provider, "idempotent_retries", False)),
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


_NOT_FOUND: Any = object()


def _reconcile(
    run: _Run, provider: Provider, message: OutboundMessage, since: datetime
) -> Plan[Any]:
    """After an ambiguous failure, read back whether the provider accepted the message.

    Returns the found ``SendResult``, ``_NOT_FOUND`` when the read-back answered and showed no
    such message, or ``None`` when there is no answer (not enabled, not supported, failed).
    """
    build = getattr(provider, "build_lookup_request", None)
    parse = getattr(provider, "parse_lookup", None)
    if not run.settings.reconcile or build is None or parse is None:
        return None
    if run.settings.reconcile_delay > 0:
        yield Sleep(run.settings.reconcile_delay)
    try:
        response = yield Fetch(build(message, since))
        found = parse(response, message, since=since)
    except (ProviderError, httpx.TransportError, OSError) as exc:
        from smsbridge.routing._observe import log

        log.warning(
            "read-back after an ambiguous failure did not answer (%s); still ambiguous",
            type(exc).__name__,
            extra={"provider": provider.name, "message_id": run.message.message_id},
        )
        return None
    return found if found is not None else _NOT_FOUND
