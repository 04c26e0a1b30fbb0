"""One endpoint for every SMS webhook: detect the provider, verify, parse, acknowledge.

Examples:
    One endpoint for every provider, in any framework: build a ``WebhookRequest`` from the
    framework's request (method, full URL, headers, raw body), and turn the ``WebhookResponse``
    into the framework's response. The adapters in ``smsbridge.contrib`` do both.

    >>> from smsbridge import WebhookError
    >>> from smsbridge.webhooks import WebhookRequest, WebhookResponse, error_response
    >>> def endpoint(request: WebhookRequest) -> WebhookResponse:
    ...     try:
    ...         outcome = sms.handle_webhook(request)
    ...     except WebhookError as exc:
    ...         return error_response(exc)  # 400 / 403 / 413 with a stable code
    ...     if not (outcome.duplicate or outcome.stale):
    ...         handle_event(outcome.event)
    ...     return outcome.response

The steps, in order: the body size (``PayloadTooLarge``); which provider sent it, by signature
header then by shape, asking each configured provider's webhook codec (``UnknownProvider``,
also for a provider not configured on the bridge);
the signature over the public URL (``SignatureError``, ``StaleWebhook``), with no secret
configured meaning rejection; the content (``MalformedWebhook``); then duplicates and status
ordering through the bridge's store. See docs/webhooks.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbridge._lazy import module_getattr as _module_getattr
from smsbridge.webhooks._handle import ahandle, error_response, handle
from smsbridge.webhooks._outcome import WebhookOutcome
from smsbridge.webhooks._receivers import detect
from smsbridge.webhooks._request import Headers, WebhookRequest, WebhookResponse
from smsbridge.webhooks._urls import public_url_for

if TYPE_CHECKING:
    from smsbridge.providers.twilio._verify import explain_twilio_signature

__all__ = [
    "Headers",
    "WebhookOutcome",
    "WebhookRequest",
    "WebhookResponse",
    "ahandle",
    "detect",
    "error_response",
    "explain_twilio_signature",
    "handle",
    "public_url_for",
]

# Kept here for existing imports; it lives with the rest of Twilio's webhook code.
_EXPLAIN = "smsbridge.providers.twilio._verify:explain_twilio_signature"
__getattr__ = _module_getattr(__name__, {"explain_twilio_signature": _EXPLAIN})
