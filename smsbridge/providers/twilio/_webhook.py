"""Twilio's webhook codec: detection, verification, parsing, and TwiML answers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar
from xml.sax.saxutils import escape

from smsbridge.providers._base import Provider, WebhookCodec
from smsbridge.providers.twilio._parse import parse_twilio_form, parse_twilio_json
from smsbridge.providers.twilio._provider import Twilio
from smsbridge.providers.twilio._verify import SETTINGS, SIGNATURE, verify_twilio
from smsbridge.webhooks._common import FORM, media_type
from smsbridge.webhooks._request import WebhookResponse

if TYPE_CHECKING:
    from smsbridge.webhooks._common import Parsed, VerifyContext
    from smsbridge.webhooks._diagnosis import Capture
    from smsbridge.webhooks._request import WebhookRequest

__all__ = ["CODEC", "TwilioWebhooks", "twiml"]

_XML_DECL = b'<?xml version="1.0" encoding="UTF-8"?>'
# Characters XML 1.0 cannot carry at all, even escaped: dropped from replies.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Headers Twilio sends with webhooks besides the signature (detection without one).
_TELLTALE = ("i-twilio-idempotency-token", SETTINGS)


def twiml(text: str | None = None) -> WebhookResponse:
    """A 200 TwiML answer: empty ``<Response/>``, or one ``<Message>`` with ``text`` escaped."""
    if text is None:
        body = _XML_DECL + b"<Response/>"
    else:
        message = escape(_NOT_XML.sub("", text))
        body = _XML_DECL + f"<Response><Message>{message}</Message></Response>".encode()
    return WebhookResponse(200, MappingProxyType({"Content-Type": "text/xml"}), body)


_ACK = twiml()


class TwilioWebhooks(WebhookCodec):
    """Twilio's messaging webhooks: form posts (or Event Streams JSON) signed with HMAC over
    the public URL; answered with TwiML, which can carry an inline reply."""

    name: ClassVar[str] = Twilio.name
    signature_headers: ClassVar[tuple[str, ...]] = (SIGNATURE,)
    # Twilio waits 15 s for an answer.
    inline_reply_seconds: ClassVar[float] = 12.0

    def looks_like(self, request: WebhookRequest) -> bool:
        """Form data (or a GET query) with ``MessageSid``/``AccountSid``, or a header only
        Twilio sends."""
        if request.method in ("GET", "HEAD"):
            if "MessageSid=" in request.url or "AccountSid=" in request.url:
                return True
        elif media_type(request) in ("", FORM) and (
            b"MessageSid=" in request.body or b"AccountSid=" in request.body
        ):
            return True
        return any(request.headers.first(name) is not None for name in _TELLTALE)

    def verify(
        self, providers: Sequence[Provider], request: WebhookRequest, context: VerifyContext
    ) -> Parsed:
        """Check the HMAC against every configured account's keys, then parse."""
        keys = [p.webhook_keys for p in providers if isinstance(p, Twilio)]
        _, params = verify_twilio(keys, request, context.url)
        when = datetime.fromtimestamp(context.now, timezone.utc)
        if params is None:
            return parse_twilio_json(request.body, context.url, when)
        return parse_twilio_form(params, context.url, when)

    def acknowledge(self) -> WebhookResponse:
        """200 with an empty TwiML ``<Response/>`` (one shared, immutable answer)."""
        return _ACK

    def reply(self, text: str | None) -> WebhookResponse:
        """TwiML with ``text`` as a ``<Message>`` (escaped); ``None`` gives the empty answer."""
        return twiml(text)

    def check(self, capture: Capture) -> bool:
        """Verify a captured webhook and explain a failure (``smsbridge webhook check``)."""
        from smsbridge.providers.twilio._check import check_twilio

        return check_twilio(capture)


CODEC = TwilioWebhooks()
