"""The result of handling one webhook: the events, the flags, and the answer to give."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union
from xml.sax.saxutils import escape

from smsbridge.webhooks._request import WebhookResponse

if TYPE_CHECKING:
    from smsbridge._models import InboundMessage, StatusEvent

__all__ = ["Event", "WebhookOutcome", "ack", "twiml"]

Event = Union["InboundMessage", "StatusEvent"]

_XML_DECL = b'<?xml version="1.0" encoding="UTF-8"?>'
_EMPTY_TWIML = _XML_DECL + b"<Response/>"
_TELNYX_ACK = b'{"ok":true}'
_JSON = "application/json"
_XML = "text/xml"
_new = object.__new__
# Characters XML 1.0 cannot carry at all, even escaped: dropped from replies.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def twiml(text: str | None = None) -> WebhookResponse:
    """A 200 TwiML answer: empty ``<Response/>``, or one ``<Message>`` with ``text`` escaped."""
    if text is None:
        body = _EMPTY_TWIML
    else:
        message = escape(_NOT_XML.sub("", text))
        body = _XML_DECL + f"<Response><Message>{message}</Message></Response>".encode()
    return WebhookResponse(200, {"Content-Type": "text/xml"}, body)


def ack(provider: str) -> WebhookResponse:
    """The plain acknowledgement ``provider`` expects (empty TwiML for Twilio, 200 JSON else)."""
    # Built field by field into the instance dict: the frozen dataclass's __init__ goes
    # through object.__setattr__ per field, and this runs per webhook.
    response = _new(WebhookResponse)
    if provider == "twilio":
        fields = {"status_code": 200, "headers": {"Content-Type": _XML}, "body": _EMPTY_TWIML}
    else:
        fields = {"status_code": 200, "headers": {"Content-Type": _JSON}, "body": _TELNYX_ACK}
    response.__dict__.update(fields)
    return response


@dataclass(frozen=True)
class WebhookOutcome:
    """A verified, parsed webhook and the answer to give the provider.

    Example:
        >>> outcome = sms.handle_webhook(request)
        >>> if not (outcome.duplicate or outcome.stale):
        ...     process(outcome.event)
        >>> return outcome.response          # or outcome.reply("Thanks!") for an inbound SMS

    Attributes:
        provider: ``"twilio"`` or ``"telnyx"``.
        events: every event the webhook carried (a Telnyx status names one per recipient).
        response: the default acknowledgement: 200 with empty TwiML (``text/xml``) for
            Twilio, 200 JSON for Telnyx.
        duplicate: the same webhook was handled before (a provider retry): acknowledge it,
            do not act on it again. ``events`` are still parsed.
        stale: every status event is older than a status already seen for its message and
            recipient (a late ``sent`` after ``delivered``): do not apply it.
        stale_flags: one flag per event, for webhooks carrying several recipients.
    """

    provider: str
    events: tuple[Event, ...]
    response: WebhookResponse
    duplicate: bool = False
    stale: bool = False
    stale_flags: tuple[bool, ...] = ()

    @classmethod
    def _make(
        cls,
        provider: str,
        events: tuple[Event, ...],
        duplicate: bool,
        stale: bool,
        stale_flags: tuple[bool, ...],
    ) -> WebhookOutcome:
        # The per-webhook constructor: one __dict__ update instead of six frozen setattrs.
        outcome = _new(cls)
        outcome.__dict__.update(
            {
                "provider": provider,
                "events": events,
                "response": ack(provider),
                "duplicate": duplicate,
                "stale": stale,
                "stale_flags": stale_flags,
            }
        )
        return outcome

    @property
    def event(self) -> Event:
        """The first (usually the only) event."""
        return self.events[0]

    def reply(self, text: str | None) -> WebhookResponse:
        """The answer carrying a reply SMS to an inbound message.

        For Twilio the reply goes inline as TwiML ``<Message>`` (escaped; ``None`` gives the
        empty ``<Response/>``). Telnyx has no inline replies: this returns the plain 200 and
        the application sends the reply itself with ``Bridge.send``.
        """
        if self.provider == "twilio":
            return twiml(text)
        return ack(self.provider)
