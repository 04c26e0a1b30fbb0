"""The OpenTelemetry instrumentation behind ``smsbridge.telemetry``.

Everything here is called from the places the events already are: the routing engine opens a
send's span (``send``), the routing hooks (``routing._observe``) report attempts,
failovers, skips, breaker changes and rate-limit waits, and the webhook pipeline's entry points
are wrapped (``traced_webhook``). ``opentelemetry`` is imported at the first send or
webhook, and only when telemetry is on; until then, and when it is off, each call is one check
of a module global.

Attributes never carry a phone number, a body, a media URL, a credential nor an error's text
(a provider's error text may quote the recipient's number): only provider names, outcomes,
failure classes, error codes, HTTP statuses, attempt numbers and smsbridge's own
``message_id`` (a random UUID).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec

if TYPE_CHECKING:
    from smsbridge._errors import SmsBridgeError
    from smsbridge._models import Attempt, OutboundMessage, SendResult
    from smsbridge.webhooks._outcome import WebhookOutcome

__all__ = [
    "METRICS",
    "SPAN_ATTEMPT",
    "SPAN_SEND",
    "SPAN_WEBHOOK",
    "atraced_webhook",
    "attempt",
    "breaker",
    "configure",
    "enabled",
    "failover",
    "rate_wait",
    "send",
    "skipped",
    "traced_webhook",
]

SPAN_SEND = "smsbridge.send"
"""The name of the span of one send (``Bridge.send``/``asend``, each message of a bulk send),
from the call to its result or error."""
SPAN_ATTEMPT = "smsbridge.attempt"
"""The name of the span of one request to a provider, a child of the send's span."""
SPAN_WEBHOOK = "smsbridge.webhook"
"""The name of the span of one webhook handled (``Bridge.handle_webhook``/``ahandle_webhook``)."""

METRICS: dict[str, tuple[str, str, str]] = {
    "smsbridge.messages": ("counter", "{message}", "Sends finished, by provider/outcome/code"),
    "smsbridge.attempts": ("counter", "{attempt}", "Requests to providers, by outcome/code"),
    "smsbridge.failovers": ("counter", "{failover}", "Moves from one provider to the next"),
    "smsbridge.breaker.changes": ("counter", "{change}", "Circuit breaker state changes"),
    "smsbridge.rate_limit.wait": ("histogram", "s", "Time a send waited for its rate limits"),
    "smsbridge.webhooks": ("counter", "{webhook}", "Webhooks handled, by provider/code"),
    "smsbridge.send.duration": ("histogram", "s", "Duration of a send, all attempts included"),
}
"""Every metric smsbridge emits: ``name -> (instrument, unit, description)``, the instrument
being ``"counter"`` or ``"histogram"``. Their attributes are in docs/observability.md."""

# Seconds, not OpenTelemetry's default buckets (0 to 10,000: made for milliseconds).
_BUCKETS = {
    "smsbridge.rate_limit.wait": (0.0, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    "smsbridge.send.duration": (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
}

P = ParamSpec("P")

# None: follow whether opentelemetry-api is importable; True/False: as configured.
_wanted: bool | None = None
_tracer_provider: Any = None
_meter_provider: Any = None
# What the first send or webhook found: _UNSET until then, None when telemetry is off.
_UNSET: Any = object()
_state: _Instruments | None = _UNSET
# The send in progress in this thread or task, for the routing hooks to report under.
_current: ContextVar[_Send | None] = ContextVar("smsbridge_send", default=None)


def configure(
    *, enabled: bool | None = None, tracer_provider: Any = None, meter_provider: Any = None
) -> None:
    """Switch telemetry on or off, or report to given providers instead of the global ones.

    Args:
        enabled: ``None`` (the default): on when ``opentelemetry-api`` is importable;
            ``False``: off, and opentelemetry is not imported; ``True``: on, and an error now
            if the package is missing.
        tracer_provider: an OpenTelemetry ``TracerProvider`` (default: the global one).
        meter_provider: an OpenTelemetry ``MeterProvider`` (default: the global one).

    Raises:
        ConfigError: ``enabled=True`` without ``opentelemetry-api`` installed.
    """
    global _wanted, _tracer_provider, _meter_provider, _state
    _wanted, _tracer_provider, _meter_provider = enabled, tracer_provider, meter_provider
    _state = _UNSET
    if enabled and _active() is None:
        from smsbridge._errors import ConfigError

        raise ConfigError(
            "telemetry needs opentelemetry-api: pip install 'smsbridge[otel]'",
            variable="telemetry",
        )


def enabled() -> bool:
    """Whether sends and webhooks are reported (resolving the default on first call)."""
    return _active() is not None


class _Instruments:
    """The tracer, the meter's instruments and the API pieces a send needs, made once."""

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace

        import smsbridge

        version = smsbridge.__version__
        self.trace = trace
        self.context = context
        self.tracer = trace.get_tracer("smsbridge", version, tracer_provider=_tracer_provider)
        # Without an SDK every span is a no-op that still costs a microsecond to make; the
        # global provider is looked at once a second until the application installs one.
        self.tracing = _tracer_provider is not None
        self.checked = -1.0
        meter = metrics.get_meter("smsbridge", version, meter_provider=_meter_provider)
        made: dict[str, Any] = {}
        for name, (kind, unit, description) in METRICS.items():
            if kind == "counter":
                made[name] = meter.create_counter(name, unit=unit, description=description)
                continue
            try:  # the advisory is in opentelemetry-api 1.23 and later
                made[name] = meter.create_histogram(
                    name,
                    unit=unit,
                    description=description,
                    explicit_bucket_boundaries_advisory=list(_BUCKETS[name]),
                )
            except TypeError:
                made[name] = meter.create_histogram(name, unit=unit, description=description)
        self.messages = made["smsbridge.messages"]
        self.attempts = made["smsbridge.attempts"]
        self.failovers = made["smsbridge.failovers"]
        self.breaker_changes = made["smsbridge.breaker.changes"]
        self.rate_wait = made["smsbridge.rate_limit.wait"]
        self.webhooks = made["smsbridge.webhooks"]
        self.duration = made["smsbridge.send.duration"]


def _active() -> _Instruments | None:
    """The instruments, or ``None`` when telemetry is off; decided at the first use."""
    global _state
    if _state is not _UNSET:
        return _state
    if _wanted is False:
        _state = None
        return None
    try:
        _state = _Instruments()
    except ImportError:
        _state = None
    return _state


def _sdk_installed(ins: _Instruments) -> bool:
    """Whether the global tracer provider is a real one yet (looked at once a second)."""
    now = time.monotonic()
    if now - ins.checked < 1.0:
        return False
    ins.checked = now
    ins.tracing = not isinstance(ins.trace.get_tracer_provider(), ins.trace.ProxyTracerProvider)
    return ins.tracing


def _error_status(span: Any, ins: _Instruments, code: str) -> None:
    # The code only: an exception's text may quote a phone number or a provider's message.
    span.set_status(ins.trace.Status(ins.trace.StatusCode.ERROR, code))


def _error_attributes(error: SmsBridgeError, attributes: dict[str, Any]) -> None:
    attributes["smsbridge.failure"] = error.failure or ""
    attributes["smsbridge.code"] = error.code
    if error.provider_code is not None:
        attributes["smsbridge.provider_code"] = str(error.provider_code)
    if error.http_status is not None:
        attributes["http.response.status_code"] = error.http_status


# -- a send ----------------------------------------------------------------------------------
class _Off:
    """The watch of a send when telemetry is off: does nothing, as cheaply as possible."""

    __slots__ = ()

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def done(self, result: SendResult) -> SendResult:
        return result


_OFF = _Off()


class _Send:
    """One send's span and metrics: opened on entry, ended on every way out (a result, an
    error, a cancellation or an interruption).

    Without an SDK the span does not record, and only what the metrics need is computed: this
    runs for every message, and must cost next to nothing then (docs/observability.md).
    """

    __slots__ = (
        "attempts",
        "ins",
        "message_id",
        "otel_token",
        "provider",
        "result",
        "span",
        "started",
        "token",
    )

    def __init__(self, ins: _Instruments, message: OutboundMessage) -> None:
        self.ins = ins
        self.message_id = message.message_id
        self.attempts = 0
        self.provider: str | None = None
        self.result: SendResult | None = None

    def __enter__(self) -> _Send:
        ins = self.ins
        if ins.tracing or _sdk_installed(ins):
            span = ins.tracer.start_span(SPAN_SEND)
        else:
            span = ins.trace.INVALID_SPAN
        self.span = span
        self.otel_token = None
        if span.is_recording():
            span.set_attribute("smsbridge.message_id", self.message_id)
            # Current while the send runs, so an HTTP client's own instrumentation nests
            # under it (without an SDK nothing would record under it: not worth the cost).
            self.otel_token = ins.context.attach(ins.trace.set_span_in_context(span))
        self.token = _current.set(self)
        self.started = time.perf_counter()
        return self

    def done(self, result: SendResult) -> SendResult:
        """Note the send's result (only a send that returns one has succeeded)."""
        self.result = result
        return result

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self.started
        ins, span = self.ins, self.span
        _current.reset(self.token)
        if self.otel_token is not None:
            ins.context.detach(self.otel_token)
        result = self.result
        if exc is None and result is not None:
            # No request in this send: the idempotency key's first result, given again.
            labels = {
                "provider": result.provider,
                "outcome": "sent" if self.attempts else "replayed",
            }
            if span.is_recording():
                span.set_attributes(
                    {
                        "smsbridge.provider": labels["provider"],
                        "smsbridge.outcome": labels["outcome"],
                        "smsbridge.attempts": self.attempts,
                    }
                )
        else:
            labels = self._failed(exc)
        span.end()
        ins.duration.record(elapsed, labels)
        ins.messages.add(1, labels)

    def _failed(self, exc: BaseException | None) -> dict[str, str]:
        """End-of-send attributes of a failed or interrupted send; returns its labels."""
        from smsbridge._errors import SmsBridgeError

        ins, span = self.ins, self.span
        attributes: dict[str, Any] = {}
        if isinstance(exc, SmsBridgeError):
            outcome, code = "failed", exc.code
            _error_attributes(exc, attributes)
        elif isinstance(exc, Exception) or exc is None:
            outcome, code = "failed", "unexpected"
        else:  # cancelled or interrupted: the plan ended the send's idempotency claim
            outcome, code = "interrupted", "interrupted"
        provider = self.provider or "none"
        attributes["smsbridge.provider"] = provider
        attributes["smsbridge.outcome"] = outcome
        attributes["smsbridge.code"] = code
        attributes["smsbridge.attempts"] = self.attempts
        attributes["error.type"] = type(exc).__name__ if exc is not None else "unknown"
        span.set_attributes(attributes)
        _error_status(span, ins, code)
        return {"provider": provider, "outcome": outcome, "code": code}


def send(message: OutboundMessage) -> _Send | _Off:
    """The context manager around one send (the routing engine's): a span and its metrics."""
    ins = _state if _state is not _UNSET else _active()
    return _OFF if ins is None else _Send(ins, message)


# -- what the routing hooks report (smsbridge.routing._observe) ------------------------------
def attempt(attempt: Attempt, number: int, message: OutboundMessage) -> None:
    """One request to a provider, after the fact: counted, and a child span of the send."""
    ins = _state
    if ins is None or ins is _UNSET:
        return
    error = attempt.error
    labels = {"provider": attempt.provider, "outcome": "ok" if error is None else "failed"}
    if error is not None:
        labels["code"] = error.code
        labels["failure"] = error.failure or ""
    ins.attempts.add(1, labels)
    current = _current.get()
    if current is None:
        return
    current.attempts += 1
    current.provider = attempt.provider
    parent = current.span
    if not parent.is_recording():
        return
    end = time.time_ns()
    attributes: dict[str, Any] = {
        "smsbridge.provider": attempt.provider,
        "smsbridge.attempt": number,
        "smsbridge.message_id": message.message_id,
        "smsbridge.outcome": labels["outcome"],
    }
    if error is not None:
        _error_attributes(error, attributes)
    # Made after the request, with its measured start: the attempt log is the one source.
    span = ins.tracer.start_span(
        SPAN_ATTEMPT,
        context=ins.trace.set_span_in_context(parent),
        kind=ins.trace.SpanKind.CLIENT,
        attributes=attributes,
        start_time=end - int(attempt.elapsed * 1e9),
    )
    if error is not None:
        _error_status(span, ins, error.code)
    span.end(end_time=end)


def failover(old: str, new: str, error: SmsBridgeError) -> None:
    """The router moved on from ``old`` to ``new`` after ``error``."""
    ins = _state
    if ins is None or ins is _UNSET:
        return
    ins.failovers.add(1, {"from_provider": old, "to_provider": new, "code": error.code})
    current = _current.get()
    if current is not None:
        event = {"smsbridge.from_provider": old, "smsbridge.provider": new}
        current.span.add_event("failover", {**event, "smsbridge.code": error.code})


def skipped(provider: str) -> None:
    """A provider was passed over because its circuit breaker is open."""
    current = _current.get()
    if current is not None:
        current.span.add_event("breaker_open", {"smsbridge.provider": provider})


def breaker(provider: str, old: str, new: str) -> None:
    """This process changed a provider's circuit breaker."""
    ins = _active()
    if ins is not None:
        ins.breaker_changes.add(1, {"provider": provider, "from_state": old, "to_state": new})


def rate_wait(provider: str, seconds: float) -> None:
    """A send waited ``seconds`` for its rate-limit slot (0 when it was free at once)."""
    ins = _state
    if ins is not None and ins is not _UNSET:
        ins.rate_wait.record(seconds, {"provider": provider})


# -- a webhook -------------------------------------------------------------------------------
def _webhook_end(ins: _Instruments, span: Any, outcome: Any, exc: BaseException | None) -> None:
    attributes: dict[str, Any] = {}
    if outcome is not None:
        provider = outcome.provider
        code = "duplicate" if outcome.duplicate else "stale" if outcome.stale else "accepted"
        attributes["smsbridge.events"] = len(outcome.events)
        attributes["http.response.status_code"] = outcome.response.status_code
    else:
        from smsbridge._errors import WebhookError

        provider = getattr(exc, "provider", None) or "unknown"
        if isinstance(exc, WebhookError):
            code = exc.code
            attributes["http.response.status_code"] = exc.status_code
        else:
            code = "unexpected" if isinstance(exc, Exception) else "interrupted"
        attributes["error.type"] = type(exc).__name__
        _error_status(span, ins, code)
    attributes["smsbridge.provider"] = provider
    attributes["smsbridge.code"] = code
    span.set_attributes(attributes)
    span.end()
    ins.webhooks.add(1, {"provider": provider, "code": code})


def traced_webhook(handle: Callable[P, WebhookOutcome]) -> Callable[P, WebhookOutcome]:
    """Wrap the webhook pipeline's sync entry point in a ``smsbridge.webhook`` span."""

    @functools.wraps(handle)
    def traced(*args: P.args, **kwargs: P.kwargs) -> WebhookOutcome:
        ins = _active()
        if ins is None:
            return handle(*args, **kwargs)
        span = ins.tracer.start_span(SPAN_WEBHOOK)
        try:
            outcome = handle(*args, **kwargs)
        except BaseException as exc:
            _webhook_end(ins, span, None, exc)
            raise
        _webhook_end(ins, span, outcome, None)
        return outcome

    return traced


def atraced_webhook(
    handle: Callable[P, Awaitable[WebhookOutcome]],
) -> Callable[P, Awaitable[WebhookOutcome]]:
    """Async twin of ``traced_webhook``."""

    @functools.wraps(handle)
    async def traced(*args: P.args, **kwargs: P.kwargs) -> WebhookOutcome:
        ins = _active()
        if ins is None:
            return await handle(*args, **kwargs)
        span = ins.tracer.start_span(SPAN_WEBHOOK)
        try:
            outcome = await handle(*args, **kwargs)
        except BaseException as exc:
            _webhook_end(ins, span, None, exc)
            raise
        _webhook_end(ins, span, outcome, None)
        return outcome

    return traced
