"""Twilio's message statuses mapped to the common vocabulary (``MessageStatus``)."""

from __future__ import annotations

from smsbridge._status import MessageStatus

__all__ = ["TWILIO_STATUS"]

# Every status in Twilio's message_enum_status, mapped to the common vocabulary.
TWILIO_STATUS: dict[str, MessageStatus] = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.SCHEDULED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    # In the enum without a documented meaning: some recipients got it, so it counts as delivered.
    "partially_delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.CANCELED,
    "receiving": MessageStatus.RECEIVED,
    "received": MessageStatus.RECEIVED,
    "read": MessageStatus.READ,
}
"""Every status of Twilio's ``message_enum_status`` -> its ``MessageStatus``
(``{"undelivered": MessageStatus.UNDELIVERED, ...}``); events keep Twilio's word as
``raw_status``."""
