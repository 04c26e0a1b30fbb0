"""The data smsbridge passes around: immutable pydantic models.

Outbound: ``OutboundMessage`` goes in, ``SendResult`` (with one ``Attempt`` per
provider tried) comes out. Inbound: webhooks become ``InboundMessage`` or
``StatusEvent``. Statuses of every provider map into one ``MessageStatus`` (defined,
free of pydantic, in ``smsbridge._status``).

Defining any pydantic model loads ``pydantic.main`` and ``pydantic.fields``, which cost more
than the rest of getting ready to send: so this module is imported where a model is built or
read (sending, receiving), never by ``import smsbridge`` nor by building a ``Bridge`` over its
providers. Modules on that path name the models under ``TYPE_CHECKING`` and import them in
the function that builds one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from smsbridge._errors import Failure, SmsBridgeError
from smsbridge._status import MessageStatus

__all__ = [
    "Attempt",
    "EventError",
    "InboundMessage",
    "Media",
    "MessageStatus",
    "OptOut",
    "OutboundMessage",
    "SegmentInfo",
    "SendResult",
    "StatusEvent",
]

Encoding = Literal["GSM-7", "UCS-2"]
OptOut = Literal["STOP", "START", "HELP"]


class _Frozen(BaseModel):
    # defer_build: each model's validator and serializer are built at its first use, not at
    # import. Building all of them at import cost about 14 ms, mostly pydantic's one-off
    # plug-in discovery through importlib.metadata (about 10 ms, paid by the first model
    # built); each model then takes about half a millisecond, and a process that only sends
    # (or only receives) never builds the other models.
    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )


class SegmentInfo(_Frozen):
    """How a text travels as SMS: its encoding and how many segments it takes.

    Attributes:
        encoding: ``"GSM-7"``, or ``"UCS-2"`` when a character is outside GSM-7.
        segments: the number of SMS the text is sent as (billed as).
        units: septets for GSM-7 (an extension character such as ``€`` takes two), UTF-16
            code units for UCS-2.
        characters: the text's length in characters.

    Examples:
        >>> import smsbridge
        >>> smsbridge.segments("Hello €")
        SegmentInfo(encoding='GSM-7', segments=1, units=8, characters=7)
    """

    encoding: Encoding
    segments: int
    units: int = Field(description="septets for GSM-7, UTF-16 code units for UCS-2")
    characters: int


class OutboundMessage(_Frozen):
    """A message to send, after normalisation (``to`` is E.164).

    ``Bridge.message`` builds one from ``send``'s arguments without sending it;
    ``Bridge.send_many`` also takes them as input.

    Examples:
        >>> message = sms.message(to="(415) 555-2671", region="US", body="Your order shipped")
        >>> message.to, message.segments.encoding, message.is_mms
        ('+14155552671', 'GSM-7', False)
    """

    to: str
    body: str = ""
    from_: str | None = None
    media_urls: tuple[str, ...] = ()
    reference: str | None = None
    idempotency_key: str | None = None
    status_callback: str | None = Field(
        default=None,
        description="explicit status webhook URL; overrides the one built from public_url",
    )
    segments: SegmentInfo | None = None
    send_at: datetime | None = Field(
        default=None, description="when to send it (timezone-aware); None: now"
    )
    message_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        description="our own id for this message, stable across retries (Telnyx Idempotency-Key)",
    )

    @property
    def is_mms(self) -> bool:
        """True when the message carries media."""
        return bool(self.media_urls)


class Attempt(_Frozen):
    """One try at one provider: what happened and how long it took.

    A ``SendResult`` or an error's ``attempts`` hold one per request, in order.

    Examples:
        With ``sms = Bridge([twilio, telnyx], retry=None)`` and Twilio answering 503:

        >>> result = sms.send(to="+14155552671", body="Your order shipped")
        >>> [(attempt.provider, attempt.ok, attempt.failure) for attempt in result.attempts]
        [('twilio', False, 'refused'), ('telnyx', True, None)]
    """

    provider: str
    error: SmsBridgeError | None = None
    elapsed: float = 0.0
    provider_message_id: str | None = None

    @property
    def failure(self) -> Failure | None:
        """The error's failure class, or ``None`` for a success."""
        return self.error.failure if self.error is not None else None

    @property
    def ok(self) -> bool:
        """True when this attempt sent the message."""
        return self.error is None

    @field_serializer("error")
    def _error_as_data(self, error: SmsBridgeError | None) -> dict[str, Any] | None:
        # Exceptions are not JSON: dump the fields an operator reads (never secrets).
        if error is None:
            return None
        return {
            "code": error.code,
            "failure": error.failure,
            "message": error.message,
            "provider_code": error.provider_code,
            "http_status": error.http_status,
            "retry_after": error.retry_after,
        }


class SendResult(_Frozen):
    """What a provider said when it accepted a message.

    ``status`` is usually ``queued`` (``scheduled`` with ``send_at``); later statuses arrive
    as ``StatusEvent`` webhooks, or from ``Bridge.fetch``.

    Examples:
        >>> result = sms.send(to="+14155552671", body="Your code is 123456", reference="order-42")
        >>> print(result.provider, result.status, result.segments, result.reference)
        twilio queued 1 order-42
    """

    provider: str
    provider_message_id: str
    status: MessageStatus
    to: str
    from_: str | None = None
    segments: int | None = None
    encoding: Encoding | None = None
    reference: str | None = None
    attempts: tuple[Attempt, ...] = ()
    warnings: tuple[str, ...] = ()
    send_at: datetime | None = Field(
        default=None, description="when a scheduled message is to go out (status scheduled)"
    )
    raw_status: str | None = Field(
        default=None, description="the provider's own status word, as it said it"
    )
    error_code: str | None = Field(
        default=None, description="the provider's error code for a failed message, if any"
    )
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class Media(_Frozen):
    """One attachment of an inbound MMS.

    Examples:
        With ``event`` an ``InboundMessage`` from ``sms.handle_webhook(request).event``:

        >>> for media in event.media:
        ...     print(media.content_type, media.url)
        image/jpeg https://api.twilio.com/2010-04-01/Accounts/AC.../Media/ME...
    """

    url: str
    content_type: str | None = None


class EventError(_Frozen):
    """Why a message failed, as reported in a status webhook.

    ``code`` and ``failure`` are the stable ones of docs/errors.md; ``provider_code`` is the
    provider's own.

    Examples:
        With ``event`` the ``StatusEvent`` of a Twilio callback for an undelivered message:

        >>> print(event.status, event.error.code, event.error.provider_code)
        undelivered invalid_recipient 30006
    """

    code: str
    failure: Failure | None = None
    provider_code: str | None = None
    message: str = ""


class InboundMessage(_Frozen):
    """A message a handset sent to one of our numbers.

    ``opt_out`` is ``"STOP"``, ``"START"`` or ``"HELP"`` when the text is one of the carriers'
    opt-out, opt-in or help keywords (``STOP``, ``UNSUBSCRIBE``, ``START``, ...), or Twilio
    flagged it as one (``OptOutType``).

    Examples:
        >>> event = sms.handle_webhook(request).event  # a Twilio inbound SMS
        >>> print(event.provider, event.from_, event.to, event.text)
        twilio +14155552671 +15017122661 Is my order on its way?
    """

    provider: str
    id: str
    from_: str
    to: str
    text: str = ""
    media: tuple[Media, ...] = ()
    segments: int | None = None
    received_at: datetime | None = None
    opt_out: OptOut | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def provider_message_id(self) -> str:
        """Alias of ``id`` so both event types share the name."""
        return self.id


class StatusEvent(_Frozen):
    """A delivery-status update for a message we sent.

    ``reference`` is the one given to ``send``, whichever provider sent the message.

    Examples:
        >>> event = sms.handle_webhook(request).event  # a Twilio status callback
        >>> print(event.provider, event.status, event.raw_status, event.reference)
        twilio delivered delivered order-42
        >>> event.status.terminal
        True
    """

    provider: str
    provider_message_id: str
    status: MessageStatus
    raw_status: str
    to: str | None = None
    from_: str | None = None
    error: EventError | None = None
    occurred_at: datetime | None = None
    reference: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
