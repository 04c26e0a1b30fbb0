"""Vonage's webhook codec: detection, verification, parsing and the acknowledgement."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

from smsbridge.providers._base import Provider, WebhookCodec
from smsbridge.providers.vonage._parse import parse_vonage
from smsbridge.providers.vonage._provider import Vonage
from smsbridge.providers.vonage._verify import verify_vonage
from smsbridge.webhooks._common import is_json
from smsbridge.webhooks._request import WebhookResponse

if TYPE_CHECKING:
    from smsbridge.webhooks._common import Parsed, VerifyContext
    from smsbridge.webhooks._request import WebhookRequest

__all__ = ["CODEC", "VonageWebhooks"]


_ACK = WebhookResponse(200, MappingProxyType({"Content-Type": "text/plain; charset=utf-8"}), b"")


class VonageWebhooks(WebhookCodec):
    """Vonage Messages API webhooks: JSON signed with an HS256 JWT; answered with an empty
    200 (Vonage has no inline replies: reply with ``Bridge.send``).

    Vonage sends no header of its own (``Authorization`` is everyone's), so it is recognised
    by shape alone: a JSON body with a ``message_uuid`` key and without Telnyx's
    ``event_type``. Twilio posts forms (or signs with its own header), Telnyx wraps every
    event in ``data.event_type``: neither has that shape.
    """

    name: ClassVar[str] = Vonage.name
    signature_headers: ClassVar[tuple[str, ...]] = ()

    def looks_like(self, request: WebhookRequest) -> bool:
        """JSON with a ``message_uuid`` key and no ``event_type`` key."""
        body = request.body
        return b'"message_uuid"' in body and b'"event_type"' not in body and is_json(request)

    def verify(
        self, providers: Sequence[Provider], request: WebhookRequest, context: VerifyContext
    ) -> Parsed:
        """Check the JWT against every configured signature secret, then parse."""
        secrets = [p.signature_secret for p in providers if isinstance(p, Vonage)]
        verify_vonage(secrets, request, context.now, context.tolerance)
        return parse_vonage(request.body, context.url)

    def acknowledge(self) -> WebhookResponse:
        """200 with an empty body: all Vonage asks for."""
        return WebhookResponse(200, {"Content-Type": "text/plain; charset=utf-8"}, b"")


CODEC = VonageWebhooks()
