"""Telnyx's webhook codec: detection, verification, parsing and the acknowledgement."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

from smsbridge.providers._base import Provider, WebhookCodec
from smsbridge.providers.telnyx._parse import parse_telnyx
from smsbridge.providers.telnyx._provider import Telnyx
from smsbridge.providers.telnyx._verify import SIGNATURE, TIMESTAMP, verify_telnyx
from smsbridge.webhooks._common import is_json
from smsbridge.webhooks._request import WebhookResponse

if TYPE_CHECKING:
    from smsbridge.webhooks._common import Parsed, VerifyContext
    from smsbridge.webhooks._diagnosis import Capture
    from smsbridge.webhooks._request import WebhookRequest

__all__ = ["CODEC", "TelnyxWebhooks"]


_ACK = WebhookResponse(200, MappingProxyType({"Content-Type": "application/json"}), b'{"ok":true}')


class TelnyxWebhooks(WebhookCodec):
    """Telnyx Messaging v2 webhooks: JSON events signed with Ed25519; answered with 200 JSON
    (Telnyx has no inline replies: reply with ``Bridge.send``)."""

    name: ClassVar[str] = Telnyx.name
    signature_headers: ClassVar[tuple[str, ...]] = (SIGNATURE,)
    # Telnyx wants a 2xx within 2 s.
    inline_reply_seconds: ClassVar[float] = 1.5

    def looks_like(self, request: WebhookRequest) -> bool:
        """JSON with ``event_type`` (the v2 envelope), or Telnyx's timestamp header."""
        if is_json(request) and b'"event_type"' in request.body:
            return True
        return TIMESTAMP in request.headers

    def verify(
        self, providers: Sequence[Provider], request: WebhookRequest, context: VerifyContext
    ) -> Parsed:
        """Check the Ed25519 signature against every configured key, then parse."""
        keys = [p.public_key_bytes for p in providers if isinstance(p, Telnyx)]
        verify_telnyx(keys, request, context.now, context.tolerance)
        return parse_telnyx(request.body, context.url)

    def acknowledge(self) -> WebhookResponse:
        """200 with a small JSON body (one shared, immutable answer)."""
        return _ACK

    def check(self, capture: Capture) -> bool:
        """Verify a captured webhook and explain a failure (``smsbridge webhook check``)."""
        from smsbridge.providers.telnyx._check import check_telnyx

        return check_telnyx(capture)


CODEC = TelnyxWebhooks()
