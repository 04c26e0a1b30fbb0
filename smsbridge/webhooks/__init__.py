"""One endpoint for every SMS webhook: detect the provider, verify, parse, acknowledge.

Example:
    >>> request = WebhookRequest("POST", "https://app.example.com/sms/webhook", headers, body)
    >>> try:
    ...     outcome = sms.handle_webhook(request)
    ... except WebhookError as exc:
    ...     return error_response(exc)                  # 400 / 403 / 413 with a stable code
    >>> if not (outcome.duplicate or outcome.stale):
    ...     handle_event(outcome.event)
    >>> return outcome.response

The steps, in order: the body size (``PayloadTooLarge``); which provider sent it, by signature
header then by shape (``UnknownProvider``, also for a provider not configured on the bridge);
the signature over the public URL (``SignatureError``, ``StaleWebhook``), with no secret
configured meaning rejection; the content (``MalformedWebhook``); then duplicates and status
ordering through the bridge's store. See docs/webhooks.md.
"""

from __future__ import annotations

from smsbridge.webhooks._handle import ahandle, detect, error_response, handle
from smsbridge.webhooks._outcome import WebhookOutcome
from smsbridge.webhooks._request import Headers, WebhookRequest, WebhookResponse
from smsbridge.webhooks._twilio import explain_twilio_signature
from smsbridge.webhooks._urls import public_url_for

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
