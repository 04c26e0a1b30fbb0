"""What the provider codecs share for scheduled sends, cancel and read-back by id (sans-I/O).

Message ids come from callers (a stored ``provider_message_id``, a command-line argument), so
they are checked before they become part of a URL path: ``checked_id`` lets through only
short ids made of letters, digits and ``_ . : -``, never ``/``, ``?``, ``#``, ``%``, ``..`` or
whitespace, and a provider may demand its own shape on top.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from smsbridge._errors import InvalidRequest, UnexpectedError

__all__ = ["NOT_FOUND", "checked_id", "parse_time", "text", "unreadable_answer", "utc"]

# Any id that may go into a URL path: one path segment that cannot climb (no "/", no ".."),
# start a query or fragment, or smuggle an escape ("%"). 64 characters cover every provider's
# ids (Twilio 34, Telnyx 36, Vonage 36) with room to spare.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")

# On a message's own URL (cancel, fetch), a 404 whose code the provider's table does not know
# means the message does not exist on this account.
NOT_FOUND: Mapping[int, str] = {404: "message_not_found"}


def checked_id(
    provider: str, value: object, shape: re.Pattern[str] | None = None, shape_text: str = ""
) -> str:
    """``value`` when it is a message id that is safe in a URL path and, when ``shape`` is
    given, matches it in full.

    Raises:
        InvalidRequest: anything else (before any request is built), naming ``shape_text``.
    """
    if (
        isinstance(value, str)
        and _SAFE_ID.fullmatch(value) is not None
        and ".." not in value
        and (shape is None or shape.fullmatch(value) is not None)
    ):
        return value
    shown = repr(value) if len(repr(value)) <= 72 else repr(value)[:69] + "..."
    expected = f" (expected {shape_text})" if shape_text else ""
    raise InvalidRequest(f"{shown} is not a {provider} message id{expected}", provider=provider)


def text(value: Any) -> str | None:
    """A field as text (Twilio's ``error_code`` is a number), ``None`` when absent or empty."""
    return None if value is None or value == "" else str(value)


def utc(provider: str, send_at: datetime) -> datetime:
    """``send_at`` in UTC.

    Raises:
        InvalidRequest: ``send_at`` has no time zone, so the moment it names is unknown.
    """
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise InvalidRequest(
            "send_at must be timezone-aware (a naive datetime names no moment)", provider=provider
        )
    return send_at.astimezone(timezone.utc)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 (``2024-05-14T15:31:00Z``) or RFC 2822 (``Tue, 14 May 2024 15:31:00
    +0000``) timestamp as an aware UTC ``datetime``; ``None`` when absent, unreadable or
    without a time zone."""
    if not isinstance(value, str) or not value:
        return None
    try:
        # fromisoformat reads "Z" only from Python 3.11 on.
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None or when.utcoffset() is None:
        return None
    return when.astimezone(timezone.utc)


def unreadable_answer(
    provider: str, status: int, provider_message_id: str, what: str
) -> UnexpectedError:
    """The error for a 2xx answer to a cancel or fetch whose body the codec cannot read: the
    provider said yes, so the operation may have happened (a cancel may have taken effect)."""
    return UnexpectedError(
        f"{provider} answered HTTP {status} to the {what} of {provider_message_id} but its "
        "answer could not be read",
        provider=provider,
        http_status=status,
        failure="ambiguous",
        accepted=True,
        provider_message_id=provider_message_id,
    )
