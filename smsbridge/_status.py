"""The one status vocabulary of every provider: ``MessageStatus``.

A plain ``str`` enum, apart from the pydantic models of ``smsbridge._models`` (which
re-exports it): each provider's status map is built when the provider is imported, and
getting a bridge ready to send must not load pydantic's model machinery (``pydantic.main``
and ``pydantic.fields``), which the first model built or used loads.
"""

from __future__ import annotations

import enum

__all__ = ["MessageStatus"]


class MessageStatus(str, enum.Enum):
    """One status vocabulary for every provider (see docs/webhooks.md for the mapping).

    A ``str`` enum: a status compares equal to its value. ``rank`` orders a message's life, so
    a late status is recognised as stale; ``terminal`` says no later status is expected.

    Examples:
        >>> from smsbridge import MessageStatus
        >>> MessageStatus("delivered") is MessageStatus.DELIVERED
        True
        >>> MessageStatus.DELIVERED == "delivered", str(MessageStatus.DELIVERED)
        (True, 'delivered')
        >>> MessageStatus.SENT.terminal, MessageStatus.DELIVERED.terminal
        (False, True)
        >>> MessageStatus.SENT.rank < MessageStatus.DELIVERED.rank
        True
    """

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELED = "canceled"
    RECEIVED = "received"

    @property
    def terminal(self) -> bool:
        """True when no later status is expected for the message."""
        return self in _TERMINAL

    @property
    def rank(self) -> int:
        """Position in a message's life; a status never moves to a lower rank."""
        return _RANK[self]

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.UNKNOWN,
        MessageStatus.CANCELED,
        MessageStatus.RECEIVED,
    }
)
# read follows delivered; every other terminal status shares the last rank below read.
_RANK = {
    MessageStatus.SCHEDULED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.UNKNOWN: 4,
    MessageStatus.CANCELED: 4,
    MessageStatus.RECEIVED: 4,
    MessageStatus.READ: 5,
}
