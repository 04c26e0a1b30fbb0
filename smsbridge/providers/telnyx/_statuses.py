"""Telnyx's message statuses mapped to the common vocabulary (``MessageStatus``)."""

from __future__ import annotations

from smsbridge._status import MessageStatus

__all__ = ["TELNYX_STATUS"]

# Per-recipient statuses (outbound and inbound) mapped to the common vocabulary. ``expired``
# depends on the error code (40005 left Telnyx -> undelivered); see the webhook parser.
TELNYX_STATUS: dict[str, MessageStatus] = {
    # A message sent with send_at waits as "scheduled"; cancelling it makes it "cancelled"
    # (Telnyx's spelling; the common vocabulary, like Twilio, says "canceled").
    "scheduled": MessageStatus.SCHEDULED,
    "cancelled": MessageStatus.CANCELED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "delivery_failed": MessageStatus.UNDELIVERED,
    "sending_failed": MessageStatus.FAILED,
    "expired": MessageStatus.FAILED,
    "delivery_unconfirmed": MessageStatus.UNKNOWN,
    "webhook_delivered": MessageStatus.RECEIVED,
    "received": MessageStatus.RECEIVED,
}
"""Every per-recipient status of Telnyx -> its ``MessageStatus``
(``{"delivery_failed": MessageStatus.UNDELIVERED, ...}``); events keep Telnyx's word as
``raw_status``. ``expired`` after error 40005 is read as ``undelivered`` by the webhook
parser."""
