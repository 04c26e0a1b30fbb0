"""The receiving half of ``Bridge``: its public URL as providers reach it
(the webhook endpoint, each message's status-callback URL), the providers whose webhooks it
accepts, and ``handle_webhook``/``ahandle_webhook`` into the provider-blind pipeline
(``smsbridge.webhooks``, imported at the first webhook).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.providers._base import Provider
    from smsbridge.routing._policy import Policy
    from smsbridge.webhooks._handle import WebhookPipeline
    from smsbridge.webhooks._outcome import WebhookOutcome
    from smsbridge.webhooks._request import WebhookRequest

__all__ = ["DEFAULT_MAX_BODY", "REFERENCE_PARAM", "Receiving"]

#: The query parameter carrying a send's ``reference`` on its status-callback URL.
REFERENCE_PARAM = "smsbridge_ref"

# The largest webhooks: a Twilio inbound form with a 1600-character body of 4-byte characters,
# every one percent-encoded (19,200 bytes), ten media URLs and some thirty other fields; a
# Telnyx message.received with a 10-part text written as \u escapes and ten media objects.
# Both stay under 24 KiB; 64 KiB leaves room, and forged bodies cost little to refuse.
DEFAULT_MAX_BODY = 64 * 1024
"""The default ``max_body_size``: larger webhook bodies are refused (413) unread."""


class Receiving:
    """What ``Bridge`` receives with; its constructor sets these."""

    policy: Policy
    receive_only: tuple[Provider, ...]
    public_url: str | None
    public_endpoint: str | None
    webhook_path: str

    @property
    def providers(self) -> tuple[Provider, ...]:
        """Every provider the policy can use, in preference order, without repeats."""
        return tuple(self.policy.providers())

    @property
    def webhook_providers(self) -> tuple[Provider, ...]:
        """The providers whose webhooks this bridge accepts: every sender, then the
        receive-only ones."""
        senders = self.providers
        return senders + tuple(p for p in self.receive_only if p not in senders)

    @functools.cached_property
    def webhook_pipeline(self) -> WebhookPipeline:
        """This bridge's webhook pipeline, prepared at the first webhook: its receiving
        providers grouped by webhook codec (the providers a bridge holds do not change)."""
        from smsbridge.webhooks._handle import WebhookPipeline

        return WebhookPipeline(cast("Bridge", self))  # a Receiving is always a Bridge

    @property
    def webhook_url(self) -> str | None:
        """The webhook endpoint's full public URL (``None`` without ``public_url``)."""
        base = self.public_url
        return None if base is None else self.public_endpoint or base + self.webhook_path

    def status_callback_url(self, reference: str | None) -> str | None:
        """The status webhook URL for a send, carrying ``reference``; ``None`` without
        ``public_url`` (the provider's configured webhooks then apply)."""
        url = self.webhook_url
        if url is None:
            return None
        if reference is not None:
            url += f"?{REFERENCE_PARAM}={quote(reference, safe='')}"
        return url

    def handle_webhook(self, request: WebhookRequest) -> WebhookOutcome:
        """Verify, parse and acknowledge one webhook (see ``smsbridge.webhooks``).

        Raises:
            WebhookError: ``SignatureError``/``StaleWebhook`` (403), ``UnknownProvider``/
                ``MalformedWebhook`` (400), ``PayloadTooLarge`` (413); nothing else.
        """
        return self.webhook_pipeline.handle(request)

    async def ahandle_webhook(self, request: WebhookRequest) -> WebhookOutcome:
        """Async twin of ``handle_webhook``."""
        return await self.webhook_pipeline.ahandle(request)
