"""smsbridge: send and receive SMS/MMS through Twilio, Telnyx and Vonage behind one interface.

Examples:
    >>> from smsbridge import Bridge
    >>> from smsbridge.providers import Twilio
    >>> twilio = Twilio(
    ...     "AC0123456789abcdef0123456789abcdef", "your_auth_token", from_="+15017122661"
    ... )
    >>> with Bridge(twilio) as sms:
    ...     result = sms.send(to="+14155552671", body="Your code is 123456")

Names load on first use, so ``import smsbridge`` costs almost nothing: pydantic, httpx and the
provider codecs are imported when something needs them. The pydantic models (``SendResult``,
``OutboundMessage``, ...) load with the first one used; ``MessageStatus`` is a plain enum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbridge._errors import (
    AllProvidersFailed,
    AuthError,
    CarrierRoute,
    CarrierTransient,
    ConfigError,
    ContentRejected,
    IdempotencyConflict,
    InvalidPhoneNumber,
    InvalidRecipient,
    InvalidRequest,
    MalformedWebhook,
    MessageNotFound,
    MessageTooLong,
    NotCancellable,
    OptedOut,
    PayloadTooLarge,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SchedulingUnavailable,
    SenderConfig,
    SendInterrupted,
    SignatureError,
    SmsBridgeError,
    StaleWebhook,
    StoreUnavailable,
    UnexpectedError,
    UnknownProvider,
    Unsupported,
    WebhookError,
)
from smsbridge._lazy import module_getattr as _module_getattr

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import (
        Attempt,
        EventError,
        InboundMessage,
        Media,
        OutboundMessage,
        SegmentInfo,
        SendResult,
        StatusEvent,
    )
    from smsbridge._phone import to_e164
    from smsbridge._segments import segments
    from smsbridge._status import MessageStatus
    from smsbridge.webhooks import WebhookOutcome, WebhookRequest, WebhookResponse

__version__ = "0.1.0"

__all__ = [
    "AllProvidersFailed",
    "Attempt",
    "AuthError",
    "Bridge",
    "CarrierRoute",
    "CarrierTransient",
    "ConfigError",
    "ContentRejected",
    "EventError",
    "IdempotencyConflict",
    "InboundMessage",
    "InvalidPhoneNumber",
    "InvalidRecipient",
    "InvalidRequest",
    "MalformedWebhook",
    "Media",
    "MessageNotFound",
    "MessageStatus",
    "MessageTooLong",
    "NotCancellable",
    "OptedOut",
    "OutboundMessage",
    "PayloadTooLarge",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "SchedulingUnavailable",
    "SegmentInfo",
    "SendInterrupted",
    "SendResult",
    "SenderConfig",
    "SignatureError",
    "SmsBridgeError",
    "StaleWebhook",
    "StatusEvent",
    "StoreUnavailable",
    "UnexpectedError",
    "UnknownProvider",
    "Unsupported",
    "WebhookError",
    "WebhookOutcome",
    "WebhookRequest",
    "WebhookResponse",
    "segments",
    "to_e164",
]

_LAZY = {
    "Attempt": "smsbridge._models:Attempt",
    "Bridge": "smsbridge._bridge:Bridge",
    "EventError": "smsbridge._models:EventError",
    "InboundMessage": "smsbridge._models:InboundMessage",
    "Media": "smsbridge._models:Media",
    "MessageStatus": "smsbridge._status:MessageStatus",
    "OutboundMessage": "smsbridge._models:OutboundMessage",
    "SegmentInfo": "smsbridge._models:SegmentInfo",
    "SendResult": "smsbridge._models:SendResult",
    "StatusEvent": "smsbridge._models:StatusEvent",
    "WebhookOutcome": "smsbridge.webhooks:WebhookOutcome",
    "WebhookRequest": "smsbridge.webhooks:WebhookRequest",
    "WebhookResponse": "smsbridge.webhooks:WebhookResponse",
    "segments": "smsbridge._segments:segments",
    "to_e164": "smsbridge._phone:to_e164",
}

__getattr__ = _module_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
