"""Every exception smsbridge raises, in one tree.

::

    SmsBridgeError                      base; .code .message .provider .provider_code .http_status
    │                                        .failure .retry_after .docs_url .attempts
    ├── ConfigError                     code "config"           a missing or malformed setting
    ├── InvalidPhoneNumber (ValueError) code "invalid_phone_number"
    ├── MessageTooLong (ValueError)     code "message_too_long" body over 1600 characters
    ├── ProviderError                   a provider (or the way to it) said no; code = category
    │   ├── InvalidRecipient            "invalid_recipient"     rejected
    │   ├── OptedOut                    "opted_out"             rejected
    │   ├── ContentRejected             "content_rejected"      rejected
    │   ├── InvalidRequest              "invalid_request"       rejected
    │   ├── CarrierTransient            "carrier_transient"     rejected (never sent elsewhere)
    │   ├── SenderConfig                "sender_config"         refused
    │   ├── AuthError                   "auth_or_account"       refused
    │   ├── RateLimited                 "rate_limited"          refused; .retry_after
    │   ├── CarrierRoute                "carrier_route"         refused
    │   ├── ProviderUnavailable         "provider_unavailable"  refused or ambiguous
    │   ├── SchedulingUnavailable       "scheduling_unavailable" rejected: no provider can hold
    │   │                                    the message until send_at (each one's reason)
    │   ├── NotCancellable              "not_cancellable"       rejected: too late to cancel
    │   ├── MessageNotFound             "message_not_found"     rejected: no such message id
    │   └── Unsupported                 "unsupported"           rejected: the provider cannot
    │                                        do this (cancel, read back, schedule)
    ├── AllProvidersFailed              every candidate refused; code/failure of the last attempt
    ├── StoreUnavailable                code "store_unavailable" the shared store cannot be reached
    ├── IdempotencyConflict             code "idempotency_in_flight" same key still being sent
    ├── SendInterrupted                 code "send_interrupted" cancelled after the request may
    │                                        have been written (ambiguous)
    ├── UnexpectedError                 code "unexpected_error" a surprise (a bug, an odd answer);
    │                                        .failure says whether it may have gone out
    └── WebhookError                    .status_code is the HTTP answer to give
        ├── SignatureError              "invalid_signature"     403
        ├── StaleWebhook                "stale_webhook"         403
        ├── UnknownProvider             "unknown_provider"      400
        ├── MalformedWebhook            "malformed_webhook"     400
        └── PayloadTooLarge             "payload_too_large"     413

``failure`` is the class of failure that drives retries and failover:

* ``"rejected"``: about this message (bad recipient, opted out, content, bad request). Never
  retried, never sent through another provider.
* ``"refused"``: provably not accepted, and the provider's side (connection refused, 401/403,
  429, sender not provisioned, 503). Safe to retry and to fail over.
* ``"ambiguous"``: the provider may have accepted it (read timeout after the request was written,
  connection reset, 500/502/504). Re-sending risks a duplicate.

Errors never carry secrets: messages are built from provider codes, titles and our own words.
All errors pickle, so task queues can carry them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from smsbridge._models import Attempt

__all__ = [
    "AllProvidersFailed",
    "AuthError",
    "CarrierRoute",
    "CarrierTransient",
    "ConfigError",
    "ContentRejected",
    "Failure",
    "IdempotencyConflict",
    "InvalidPhoneNumber",
    "InvalidRecipient",
    "InvalidRequest",
    "MalformedWebhook",
    "MessageNotFound",
    "MessageTooLong",
    "NotCancellable",
    "OptedOut",
    "PayloadTooLarge",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "SchedulingUnavailable",
    "SendInterrupted",
    "SenderConfig",
    "SignatureError",
    "SmsBridgeError",
    "StaleWebhook",
    "StoreUnavailable",
    "UnexpectedError",
    "UnknownProvider",
    "Unsupported",
    "WebhookError",
]

Failure = Literal["rejected", "refused", "ambiguous"]

# The error catalog on the published docs site (built from docs/errors.md; pyproject's
# Documentation URL + "errors/"): a docs_url is this + "#" + the code with "_" as "-".
DOCS_BASE = "https://smsbridge.github.io/smsbridge/errors/"


class SmsBridgeError(Exception):
    """Base of every smsbridge error.

    Attributes:
        code: stable short string naming the kind of error (an anchor in docs/errors.md).
        message: readable explanation, never containing secrets.
        provider: provider name (``"twilio"``, ``"telnyx"``) or ``None``.
        provider_code: the provider's own error code as a string, where it gave one.
        http_status: HTTP status of the provider's answer, where there was one.
        failure: ``"rejected"``, ``"refused"`` or ``"ambiguous"`` (or ``None`` for errors that
            are not about sending).
        retry_after: seconds the provider asked us to wait, where it said.
        attempts: what the router tried before giving up (empty for a direct error).

    Examples:
        Catch it to handle every smsbridge error in one place; branch on ``code`` or
        ``failure``:

        >>> import smsbridge
        >>> try:
        ...     smsbridge.to_e164("12345", region="US")
        ... except smsbridge.SmsBridgeError as exc:
        ...     print(exc.code, exc.failure)
        invalid_phone_number rejected
    """

    code: str = "error"
    default_failure: ClassVar[Failure | None] = None

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        provider_code: str | None = None,
        http_status: int | None = None,
        failure: Failure | None = None,
        retry_after: float | None = None,
        attempts: tuple[Attempt, ...] = (),
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.provider_code = provider_code
        self.http_status = http_status
        self.failure: Failure | None = failure or self.default_failure
        self.retry_after = retry_after
        self.attempts = tuple(attempts)
        self._extra = dict(extra)
        for key, value in extra.items():
            setattr(self, key, value)

    @property
    def docs_url(self) -> str:
        """Link to this error's entry in the error catalog (docs/errors.md, on the docs site)."""
        return f"{DOCS_BASE}#{self.code.replace('_', '-')}"

    def _kwargs(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "provider_code": self.provider_code,
            "http_status": self.http_status,
            "failure": self.failure,
            "retry_after": self.retry_after,
            **self._extra,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only attributes are lost by Exception's default pickling; rebuild through a
        # helper that passes them back as keywords. ``attempts`` travels as state, after the
        # error itself is memoised, because the last attempt usually refers back to this error.
        return (
            _rebuild,
            (type(self), self.message, self._kwargs()),
            {"attempts": self.attempts, "code": self.code},
        )

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.attempts = tuple(state.get("attempts", ()))
        if state.get("code", self.code) != self.code:
            self.code = state["code"]

    def __str__(self) -> str:
        parts = [self.message]
        if self.provider:
            parts.append(f"provider={self.provider}")
        if self.provider_code:
            parts.append(f"provider_code={self.provider_code}")
        if self.http_status is not None:
            parts.append(f"http_status={self.http_status}")
        return f"[{self.code}] " + "; ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, failure={self.failure!r})"
        )


def _rebuild(cls: type[SmsBridgeError], message: str, kwargs: dict[str, Any]) -> SmsBridgeError:
    return cls(message, **kwargs)


class ConfigError(SmsBridgeError):
    """A setting is missing or malformed; ``variable`` names it.

    Examples:
        >>> from smsbridge import Bridge, ConfigError
        >>> try:
        ...     Bridge.from_env({})
        ... except ConfigError as exc:
        ...     print(exc.variable)
        SMSBRIDGE_PROVIDERS
    """

    code = "config"
    variable: str | None

    def __init__(self, message: str, *, variable: str | None = None, **kw: Any) -> None:
        super().__init__(message, variable=variable, **kw)

    def __str__(self) -> str:
        # Provider constructors word their messages in keyword terms ("account_sid"); the text
        # must still name the setting the user has to fix (TWILIO_ACCOUNT_SID).
        text = super().__str__()
        variable = getattr(self, "variable", None)
        if variable and variable not in self.message:
            text += f"; variable={variable}"
        return text


class InvalidPhoneNumber(SmsBridgeError, ValueError):
    """Text that is not a valid phone number; ``reason`` says why in one stable word.

    Raised before any request. It is also a ``ValueError``.

    Examples:
        >>> import smsbridge
        >>> try:
        ...     smsbridge.to_e164("555", region="US")
        ... except smsbridge.InvalidPhoneNumber as exc:
        ...     print(exc.reason)
        too_short
    """

    code = "invalid_phone_number"
    default_failure = "rejected"
    reason: str

    def __init__(self, message: str, *, reason: str = "invalid", **kw: Any) -> None:
        super().__init__(message, reason=reason, **kw)


class MessageTooLong(SmsBridgeError, ValueError):
    """A body longer than the 1600 characters both providers accept.

    Raised before any request. It is also a ``ValueError``.

    Examples:
        >>> try:
        ...     sms.send(to="+14155552671", body="x" * 1601)
        ... except MessageTooLong as exc:
        ...     print(exc.code)
        message_too_long
    """

    code = "message_too_long"
    default_failure = "rejected"


class ProviderError(SmsBridgeError):
    """A provider, or the network on the way to it, did not accept a message.

    Only its subclasses are raised; catch it to handle any failed send, deciding by
    ``failure``.

    Examples:
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except ProviderError as exc:
        ...     if exc.failure == "rejected":  # about this message: it fails anywhere
        ...         mark_number_bad(exc.code)
        ...     elif exc.failure == "refused":  # nothing went out: try again later
        ...         retry_later(delay=exc.retry_after or 30)
        ...     else:  # "ambiguous": it may have gone out; check before sending again
        ...         flag_for_review(exc)
    """

    code = "provider_error"


class InvalidRecipient(ProviderError):
    """The recipient cannot receive this message (bad number, landline, unreachable).

    Examples:
        With ``sms`` a bridge over the emulator's Twilio (``emu``):

        >>> _ = emu.fault("twilio", "error_code", code="21211")
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except InvalidRecipient as exc:
        ...     print(exc.code, exc.failure, exc.provider_code)
        invalid_recipient rejected 21211
    """

    code = "invalid_recipient"
    default_failure = "rejected"


class OptedOut(ProviderError):
    """The recipient opted out (STOP); never sent through another provider.

    Examples:
        With ``sms`` a bridge over the emulator's Twilio (``emu``):

        >>> emu.opt_out("twilio", "+14155552671")
        >>> try:
        ...     sms.send(to="+14155552671", body="Sale starts today")
        ... except OptedOut as exc:
        ...     print(exc.code, exc.provider, exc.provider_code)
        opted_out twilio 21610
    """

    code = "opted_out"
    default_failure = "rejected"


class ContentRejected(ProviderError):
    """The content was blocked (spam filter, prohibited content).

    Examples:
        With ``sms`` a bridge over the emulator's Telnyx (``emu``):

        >>> _ = emu.fault("telnyx", "error_code", code="40322")
        >>> try:
        ...     sms.send(to="+14155552671", body="Sale starts today")
        ... except ContentRejected as exc:
        ...     print(exc.code, exc.provider_code)
        content_rejected 40322
    """

    code = "content_rejected"
    default_failure = "rejected"


class InvalidRequest(ProviderError):
    """The request itself was malformed: a bug on our side or the caller's.

    Examples:
        With ``sms`` a bridge over the emulator's Twilio (``emu``):

        >>> _ = emu.fault("twilio", "error_code", code="21602")
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except InvalidRequest as exc:
        ...     print(exc.code, exc.provider_code, exc.http_status)
        invalid_request 21602 400
    """

    code = "invalid_request"
    default_failure = "rejected"


class CarrierTransient(ProviderError):
    """A carrier-side temporary failure; retry later, never through another provider.

    Its ``failure`` is ``"rejected"``: the message reached the carrier network, so sending it
    through another provider could deliver it twice.

    Examples:
        With ``sms`` a bridge over the emulator's Twilio (``emu``):

        >>> _ = emu.fault("twilio", "error_code", code="30003")
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except CarrierTransient as exc:
        ...     print(exc.code, exc.failure)
        carrier_transient rejected
    """

    code = "carrier_transient"
    # The message reached the carrier network: sending it elsewhere risks a duplicate.
    default_failure = "rejected"


class SenderConfig(ProviderError):
    """This provider's sender is not set up for this message (number, registration, region).

    Another provider, with its own sender, may send it: the router fails over.

    Examples:
        With ``sms`` a bridge over the emulator's Twilio (``emu``) alone:

        >>> _ = emu.fault("twilio", "error_code", code="21606")
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except SenderConfig as exc:
        ...     print(exc.code, exc.failure)
        sender_config refused
    """

    code = "sender_config"
    default_failure = "refused"


class AuthError(ProviderError):
    """Credentials were refused or the account is suspended.

    Examples:
        With ``sms`` a bridge over the emulator's Twilio (``emu``) alone:

        >>> _ = emu.fault("twilio", "error_code", code="20003", status=401)
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except AuthError as exc:
        ...     print(exc.code, exc.failure, exc.http_status)
        auth_or_account refused 401
    """

    code = "auth_or_account"
    default_failure = "refused"


class RateLimited(ProviderError):
    """The provider asked us to slow down; ``retry_after`` says for how long, when it did.

    By default the bridge waits that long and tries again (``smsbridge.routing.Retry``), and
    moves on to the next provider when the retries are used up or the wait would be longer
    than ``Retry.max_retry_after``. It raises this when the only provider stays rate limited;
    with several, ``AllProvidersFailed``, whose ``code`` is the last attempt's.

    Examples:
        With ``sms = Bridge(twilio, retry=None)``, ``twilio`` pointed at the emulator (``emu``):

        >>> _ = emu.fault("twilio", "rate_limit", retry_after=30)
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except RateLimited as exc:
        ...     print(exc.code, exc.http_status, exc.retry_after)
        rate_limited 429 30.0
    """

    code = "rate_limited"
    default_failure = "refused"


class CarrierRoute(ProviderError):
    """The provider's route to the carrier failed; another provider may have another route.

    Examples:
        With ``sms`` a bridge over the emulator's Twilio (``emu``) alone:

        >>> _ = emu.fault("twilio", "error_code", code="30008")
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except CarrierRoute as exc:
        ...     print(exc.code, exc.failure)
        carrier_route refused
    """

    code = "carrier_route"
    default_failure = "refused"


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed internally.

    ``failure`` is ``"refused"`` when the request provably never got in (connection refused,
    503) and ``"ambiguous"`` when it may have (timeout after writing, reset, 500/502/504).

    Examples:
        With ``sms = Bridge(twilio, retry=None)``, ``twilio`` pointed at the emulator (``emu``):

        >>> _ = emu.fault("twilio", "http_error", status=500)
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except ProviderUnavailable as exc:
        ...     print(exc.code, exc.failure, exc.http_status)
        provider_unavailable ambiguous 500
    """

    code = "provider_unavailable"
    default_failure = "ambiguous"


class SchedulingUnavailable(ProviderError):
    """No configured provider can hold the message until its ``send_at``.

    The message says why for each provider (no scheduling, needs a messaging service, outside
    its window). Raised before any request.

    Examples:
        >>> from datetime import datetime, timedelta, timezone
        >>> later = datetime.now(timezone.utc) + timedelta(days=60)  # past every window
        >>> try:
        ...     sms.send(to="+14155552671", body="Happy new year", send_at=later)
        ... except SchedulingUnavailable as exc:
        ...     print(exc.code, exc.attempts)
        scheduling_unavailable ()
    """

    code = "scheduling_unavailable"
    default_failure = "rejected"


class NotCancellable(ProviderError):
    """The message can no longer be cancelled: it is sending or sent (or too close to its
    time), so it may go out.

    Examples:
        With ``sms`` a bridge over the emulator's Twilio:

        >>> result = sms.send(to="+14155552671", body="Your order shipped")  # not scheduled
        >>> try:
        ...     sms.cancel(result)
        ... except NotCancellable as exc:
        ...     print(exc.code)
        not_cancellable
    """

    code = "not_cancellable"
    default_failure = "rejected"


class MessageNotFound(ProviderError):
    """The provider knows no message with that id (on this account).

    Examples:
        With ``sms`` a bridge over the emulator's Twilio:

        >>> try:
        ...     sms.fetch("twilio", "SM" + "0" * 32)
        ... except MessageNotFound as exc:
        ...     print(exc.code, exc.provider_code, exc.http_status)
        message_not_found 20404 404
    """

    code = "message_not_found"
    default_failure = "rejected"


class Unsupported(ProviderError):
    """The provider cannot do what was asked (cancel, read back, schedule a message).

    Raised before any request.

    Examples:
        With ``sms`` a bridge over ``Vonage(...)``, which cannot cancel messages:

        >>> try:
        ...     sms.cancel("vonage", "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab")
        ... except Unsupported as exc:
        ...     print(exc.code, exc.provider)
        unsupported vonage
    """

    code = "unsupported"
    default_failure = "rejected"


class AllProvidersFailed(SmsBridgeError):
    """Every candidate provider refused the message; ``attempts`` lists them all.

    Its ``code``, ``failure``, ``retry_after``, ``provider_code`` and ``http_status`` are
    those of the last attempt's error, the one that decided the outcome.

    Examples:
        >>> _ = emu.fault("twilio", "http_error", status=503)
        >>> _ = emu.fault("telnyx", "http_error", status=503)
        >>> sms = Bridge([twilio, telnyx], retry=None)  # both pointed at the emulator
        >>> try:
        ...     sms.send(to="+14155552671", body="Your order shipped")
        ... except AllProvidersFailed as exc:
        ...     print(exc.code, exc.failure, [attempt.provider for attempt in exc.attempts])
        provider_unavailable refused ['twilio', 'telnyx']
    """

    code = "all_providers_failed"

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        # Read like the single provider that decided the outcome: the last attempt's error.
        last = self.attempts[-1].error if self.attempts else None
        if last is not None:
            self.code = last.code
            self.failure = last.failure
            self.retry_after = last.retry_after
            self.provider_code = last.provider_code
            self.http_status = last.http_status

    @property
    def docs_url(self) -> str:
        """Link to the error catalog's entry for ``all_providers_failed`` (docs/errors.md)."""
        return f"{DOCS_BASE}#all-providers-failed"


class StoreUnavailable(SmsBridgeError):
    """The shared store (Redis) cannot be reached; idempotent sends refuse rather than risk a
    double send.

    Examples:
        >>> from smsbridge.stores import RedisStore
        >>> sms = Bridge(twilio, store=RedisStore("redis://127.0.0.1:1/0"))  # nothing there
        >>> try:
        ...     sms.send(to="+14155552671", body="Your code is 123456", idempotency_key="otp-9f1c")
        ... except StoreUnavailable as exc:
        ...     print(exc.code, exc.failure)
        store_unavailable refused
    """

    code = "store_unavailable"
    default_failure = "refused"


class IdempotencyConflict(SmsBridgeError):
    """A send with the same idempotency key is still in flight and did not finish in time.

    A repeated key waits up to ``Bridge(idempotency_wait=...)`` seconds for the first send
    (in this process or another sharing the store) before raising this. Nothing was sent by
    this call.

    Examples:
        >>> try:
        ...     result = sms.send(to="+14155552671", body="Your code", idempotency_key="otp-9f1c")
        ... except IdempotencyConflict as exc:
        ...     retry_later(delay=5)  # the first send has not finished: ask again later
    """

    code = "idempotency_in_flight"
    default_failure = "refused"


class SendInterrupted(SmsBridgeError):
    """A send was cancelled or interrupted (task cancellation, Ctrl-C) after its request may
    have been written.

    The cancellation itself propagates unchanged; this error is what a later send with the
    same idempotency key raises, since the first one may have gone out.

    Examples:
        The same send again after a Ctrl-C interrupted it:

        >>> try:
        ...     sms.send(to="+14155552671", body="Your code", idempotency_key="otp-9f1c")
        ... except SendInterrupted as exc:
        ...     print(exc.code, exc.failure)  # check before sending it under a new key
        send_interrupted ambiguous
    """

    code = "send_interrupted"
    default_failure = "ambiguous"


class UnexpectedError(SmsBridgeError):
    """Something smsbridge did not expect: an answer of an unexpected shape, or a bug.

    The original exception is chained as ``__cause__``. ``failure`` says what it means for the
    message: ``"rejected"`` when nothing was sent, ``"ambiguous"`` when it may have gone out.
    ``accepted`` is True when the provider answered 2xx (the message was accepted, but the
    answer could not be read); ``provider_message_id`` holds its id when one could be found.

    Examples:
        >>> try:
        ...     result = sms.send(to="+14155552671", body="Your order shipped")
        ... except UnexpectedError as exc:
        ...     if exc.accepted:  # the provider took it; its answer could not be read
        ...         record_sent(exc.provider, exc.provider_message_id)
        ...     raise
    """

    code = "unexpected_error"
    default_failure = "ambiguous"
    accepted: bool
    provider_message_id: str | None

    def __init__(
        self,
        message: str,
        *,
        accepted: bool = False,
        provider_message_id: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, accepted=accepted, provider_message_id=provider_message_id, **kw)


class WebhookError(SmsBridgeError):
    """An incoming webhook was not accepted; ``status_code`` is the HTTP status to answer.

    ``Bridge.handle_webhook`` raises only this and its subclasses, each with a stable
    ``code``.

    Examples:
        >>> from smsbridge import WebhookError, WebhookRequest, WebhookResponse
        >>> def endpoint(request: WebhookRequest) -> WebhookResponse:
        ...     try:
        ...         outcome = sms.handle_webhook(request)
        ...     except WebhookError as exc:
        ...         return WebhookResponse.for_error(exc)  # 400, 403 or 413, naming exc.code
        ...     handle_event(outcome.event)
        ...     return outcome.response
    """

    code = "webhook_error"
    status_code: ClassVar[int] = 400


class SignatureError(WebhookError):
    """The signature is missing, malformed or does not match (or no secret is configured).

    Examples:
        With ``sms`` a bridge over ``Telnyx(..., public_key=pair.public_key_b64)``, ``url`` its
        webhook endpoint's public URL and ``body`` a Telnyx webhook:

        >>> from smsbridge.testing import make_telnyx_keypair, sign_telnyx
        >>> headers = sign_telnyx(body, signing_key=make_telnyx_keypair())  # another key
        >>> try:
        ...     sms.handle_webhook(WebhookRequest("POST", url, headers, body))
        ... except SignatureError as exc:
        ...     print(exc.status_code, exc.code)
        403 invalid_signature
    """

    code = "invalid_signature"
    status_code = 403


class StaleWebhook(WebhookError):
    """The webhook's timestamp is outside the tolerance window (a replay or a skewed clock).

    The window is ``Bridge(webhook_tolerance=...)``, 300 seconds by default.

    Examples:
        With ``sms`` a bridge over ``Telnyx(..., public_key=pair.public_key_b64)``, ``url`` its
        webhook endpoint's public URL and ``body`` a Telnyx webhook:

        >>> import time
        >>> from smsbridge.testing import sign_telnyx
        >>> headers = sign_telnyx(body, signing_key=pair, timestamp=int(time.time()) - 3600)
        >>> try:
        ...     sms.handle_webhook(WebhookRequest("POST", url, headers, body))
        ... except StaleWebhook as exc:
        ...     print(exc.status_code, exc.code)
        403 stale_webhook
    """

    code = "stale_webhook"
    status_code = 403


class UnknownProvider(WebhookError):
    """The request matches no configured provider.

    Examples:
        >>> request = WebhookRequest("POST", url, {"Content-Type": "text/plain"}, b"hello")
        >>> try:
        ...     sms.handle_webhook(request)
        ... except UnknownProvider as exc:
        ...     print(exc.status_code, exc.code)
        400 unknown_provider
    """

    code = "unknown_provider"
    status_code = 400


class MalformedWebhook(WebhookError):
    """The request is signed correctly but its content cannot be understood.

    Examples:
        With ``sms`` a bridge over ``Telnyx(..., public_key=pair.public_key_b64)`` and ``url``
        its webhook endpoint's public URL:

        >>> from smsbridge.testing import sign_telnyx
        >>> headers = sign_telnyx(b"{}", signing_key=pair)  # signed, but not an event
        >>> try:
        ...     sms.handle_webhook(WebhookRequest("POST", url, headers, b"{}"))
        ... except MalformedWebhook as exc:
        ...     print(exc.status_code, exc.code)
        400 malformed_webhook
    """

    code = "malformed_webhook"
    status_code = 400


class PayloadTooLarge(WebhookError):
    """The body is larger than the configured limit.

    The limit is ``Bridge(max_body_size=...)``, 64 KiB by default; the body is refused before
    anything else is read.

    Examples:
        >>> body = b"x" * 70_000
        >>> request = WebhookRequest("POST", url, {"Content-Type": "application/json"}, body)
        >>> try:
        ...     sms.handle_webhook(request)
        ... except PayloadTooLarge as exc:
        ...     print(exc.status_code, exc.code)
        413 payload_too_large
    """

    code = "payload_too_large"
    status_code = 413
