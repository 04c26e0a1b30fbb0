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

DOCS_BASE = "https://github.com/smsbridge/smsbridge/blob/main/docs/errors.md"


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
        """Link to this error's entry in docs/errors.md."""
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
    """A setting is missing or malformed; ``variable`` names it."""

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
    """Text that is not a valid phone number; ``reason`` says why in one stable word."""

    code = "invalid_phone_number"
    default_failure = "rejected"
    reason: str

    def __init__(self, message: str, *, reason: str = "invalid", **kw: Any) -> None:
        super().__init__(message, reason=reason, **kw)


class MessageTooLong(SmsBridgeError, ValueError):
    """A body longer than the 1600 characters both providers accept."""

    code = "message_too_long"
    default_failure = "rejected"


class ProviderError(SmsBridgeError):
    """A provider, or the network on the way to it, did not accept a message."""

    code = "provider_error"


class InvalidRecipient(ProviderError):
    """The recipient cannot receive this message (bad number, landline, unreachable)."""

    code = "invalid_recipient"
    default_failure = "rejected"


class OptedOut(ProviderError):
    """The recipient opted out (STOP); never sent through another provider."""

    code = "opted_out"
    default_failure = "rejected"


class ContentRejected(ProviderError):
    """The content was blocked (spam filter, prohibited content)."""

    code = "content_rejected"
    default_failure = "rejected"


class InvalidRequest(ProviderError):
    """The request itself was malformed: a bug on our side or the caller's."""

    code = "invalid_request"
    default_failure = "rejected"


class CarrierTransient(ProviderError):
    """A carrier-side temporary failure; retry later, never through another provider."""

    code = "carrier_transient"
    # The message reached the carrier network: sending it elsewhere risks a duplicate.
    default_failure = "rejected"


class SenderConfig(ProviderError):
    """This provider's sender is not set up for this message (number, registration, region)."""

    code = "sender_config"
    default_failure = "refused"


class AuthError(ProviderError):
    """Credentials were refused or the account is suspended."""

    code = "auth_or_account"
    default_failure = "refused"


class RateLimited(ProviderError):
    """The provider asked us to slow down; ``retry_after`` says for how long, when it did."""

    code = "rate_limited"
    default_failure = "refused"


class CarrierRoute(ProviderError):
    """The provider's route to the carrier failed; another provider may have another route."""

    code = "carrier_route"
    default_failure = "refused"


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed internally.

    ``failure`` is ``"refused"`` when the request provably never got in (connection refused,
    503) and ``"ambiguous"`` when it may have (timeout after writing, reset, 500/502/504).
    """

    code = "provider_unavailable"
    default_failure = "ambiguous"


class SchedulingUnavailable(ProviderError):
    """No configured provider can hold the message until its ``send_at``; the message says
    why for each (no scheduling, needs a messaging service, outside its window). Raised before
    any request."""

    code = "scheduling_unavailable"
    default_failure = "rejected"


class NotCancellable(ProviderError):
    """The message can no longer be cancelled: it is sending or sent (or too close to its
    time), so it may go out."""

    code = "not_cancellable"
    default_failure = "rejected"


class MessageNotFound(ProviderError):
    """The provider knows no message with that id (on this account)."""

    code = "message_not_found"
    default_failure = "rejected"


class Unsupported(ProviderError):
    """The provider cannot do what was asked (cancel, read back, schedule a message)."""

    code = "unsupported"
    default_failure = "rejected"


class AllProvidersFailed(SmsBridgeError):
    """Every candidate provider refused the message; ``attempts`` lists them all."""

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
        """Link to the entry for all_providers_failed in docs/errors.md."""
        return f"{DOCS_BASE}#all-providers-failed"


class StoreUnavailable(SmsBridgeError):
    """The shared store (Redis) cannot be reached; idempotent sends refuse rather than risk a
    double send."""

    code = "store_unavailable"
    default_failure = "refused"


class IdempotencyConflict(SmsBridgeError):
    """A send with the same idempotency key is still in flight and did not finish in time."""

    code = "idempotency_in_flight"
    default_failure = "refused"


class SendInterrupted(SmsBridgeError):
    """A send was cancelled or interrupted (task cancellation, Ctrl-C) after its request may
    have been written.

    The cancellation itself propagates unchanged; this error is what a later send with the
    same idempotency key raises, since the first one may have gone out.
    """

    code = "send_interrupted"
    default_failure = "ambiguous"


class UnexpectedError(SmsBridgeError):
    """Something smsbridge did not expect: an answer of an unexpected shape, or a bug.

    The original exception is chained as ``__cause__``. ``failure`` says what it means for the
    message: ``"rejected"`` when nothing was sent, ``"ambiguous"`` when it may have gone out.
    ``accepted`` is True when the provider answered 2xx (the message was accepted, but the
    answer could not be read); ``provider_message_id`` holds its id when one could be found.
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
    """An incoming webhook was not accepted; ``status_code`` is the HTTP status to answer."""

    code = "webhook_error"
    status_code: ClassVar[int] = 400


class SignatureError(WebhookError):
    """The signature is missing, malformed or does not match (or no secret is configured)."""

    code = "invalid_signature"
    status_code = 403


class StaleWebhook(WebhookError):
    """The webhook's timestamp is outside the tolerance window (a replay or a skewed clock)."""

    code = "stale_webhook"
    status_code = 403


class UnknownProvider(WebhookError):
    """The request matches no configured provider."""

    code = "unknown_provider"
    status_code = 400


class MalformedWebhook(WebhookError):
    """The request is signed correctly but its content cannot be understood."""

    code = "malformed_webhook"
    status_code = 400


class PayloadTooLarge(WebhookError):
    """The body is larger than the configured limit."""

    code = "payload_too_large"
    status_code = 413
