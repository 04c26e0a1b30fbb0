"""Vonage's message statuses mapped to the common vocabulary (``MessageStatus``).

Vonage's status callbacks (developer.vonage.com, "Messages API Status Callbacks"):
``submitted`` means Vonage passed the message to a messaging provider; ``undeliverable`` that
it could not reach the provider at all; ``rejected`` that Vonage could not process it, or the
provider rejected it, or it expired. ``read`` comes from OTT channels only.

``rejected`` is ``FAILED`` (never left Vonage, not charged)
unless its error is one the recipient's carrier or network reports (absent subscriber,
portability, carrier anti-spam, handset busy, network error, unreachable, age restriction,
carrier block, recipient's prepaid credit, not on the network, unsuitable device, unknown
carrier error): the message was handed on, so it is
``UNDELIVERED``. ``undeliverable`` is always ``FAILED``.
"""

from __future__ import annotations

from smsbridge._status import MessageStatus

__all__ = ["CARRIER_REJECTIONS", "VONAGE_STATUS", "status_for"]

VONAGE_STATUS: dict[str, MessageStatus] = {
    "submitted": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "rejected": MessageStatus.FAILED,
    "undeliverable": MessageStatus.FAILED,
}
"""Every status of Vonage's status callbacks -> its ``MessageStatus``; a ``rejected`` with a
carrier's error code is ``undelivered`` instead (see the module docstring)."""

# Error codes (messages-olympus list) a carrier or the recipient's network reports: a
# ``rejected`` carrying one of them happened after the message left Vonage.
CARRIER_REJECTIONS = frozenset(
    str(code)
    for code in (1180, 1190, 1200, 1210, 1220, 1230, 1260, 1270, 1280, 1290, 1300, 1310, 1330)
)


def status_for(raw: str, code: str | None) -> MessageStatus | None:
    """The common status of Vonage's ``raw`` status with error ``code``; ``None`` when the
    status is not one Vonage documents."""
    if raw == "rejected" and code in CARRIER_REJECTIONS:
        return MessageStatus.UNDELIVERED
    return VONAGE_STATUS.get(raw)
