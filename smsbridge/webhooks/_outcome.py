"""The result of handling one webhook: the events, the flags, and the answer to give."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from smsbridge.webhooks._request import WebhookResponse

if TYPE_CHECKING:
    from smsbridge._models import InboundMessage, StatusEvent
    from smsbridge.providers._base import WebhookCodec

__all__ = ["Event", "WebhookOutcome"]

Event = Union["InboundMessage", "StatusEvent"]


@dataclass(frozen=True)
class WebhookOutcome:
    """A verified, parsed webhook and the answer to give the provider.

    Examples:
        >>> from smsbridge import InboundMessage, WebhookResponse
        >>> def on_webhook(request: WebhookRequest) -> WebhookResponse:
        ...     outcome = sms.handle_webhook(request)
        ...     if outcome.duplicate or outcome.stale:
        ...         return outcome.response  # acknowledged, not acted on again
        ...     if isinstance(outcome.event, InboundMessage):
        ...         return outcome.reply("Thanks, we got your message.")  # TwiML on Twilio
        ...     record_status(outcome.event)
        ...     return outcome.response

    Attributes:
        provider: the provider's name (``Provider.name``).
        events: every event the webhook carried (a Telnyx status names one per recipient).
        response: the provider's default acknowledgement (200 with empty TwiML for Twilio,
            200 JSON for the others).
        duplicate: the same webhook was handled before (a provider retry): acknowledge it,
            do not act on it again. ``events`` are still parsed.
        stale: every status event is older than a status already seen for its message and
            recipient (a late ``sent`` after ``delivered``): do not apply it.
        stale_flags: one flag per event, for webhooks carrying several recipients.
        codec: the provider's webhook codec, which builds ``reply`` answers.
    """

    provider: str
    events: tuple[Event, ...]
    response: WebhookResponse
    duplicate: bool = False
    stale: bool = False
    stale_flags: tuple[bool, ...] = ()
    codec: WebhookCodec | None = field(default=None, repr=False, compare=False)

    @property
    def event(self) -> Event:
        """The first (usually the only) event."""
        return self.events[0]

    def reply(self, text: str | None) -> WebhookResponse:
        """The answer carrying a reply SMS to an inbound message.

        Where the provider takes inline replies (Twilio) the reply goes into the answer
        (TwiML ``<Message>``, escaped; ``None`` gives the empty ``<Response/>``). Others have
        none: this returns the plain acknowledgement and the application sends the reply
        itself with ``Bridge.send``.
        """
        return self.response if self.codec is None else self.codec.reply(text)
