"""Reading the time of a scheduled send: ``smsbridge send --at`` and a CSV's ``send_at`` cells.

The time must carry its UTC offset (``2026-12-24T09:00:00+01:00``, or ``Z`` for UTC). A time
without one is refused rather than read in the local zone: the machine running the command is
often not in the recipients' zone (a server in UTC, a laptop abroad), and a message sent an
hour early or late cannot be taken back. The library refuses naive datetimes for the same
reason; refusing here says so in the command's own terms.
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["SendAtError", "check_future", "format_time", "parse_send_at"]

_EXAMPLE = "2026-12-24T09:00:00+01:00"


class SendAtError(ValueError):
    """A time that cannot schedule a message: unreadable, without a UTC offset, or past."""


def parse_send_at(text: str, what: str = "--at") -> datetime:
    """``text`` (ISO 8601 with a UTC offset; a trailing ``Z`` is UTC) as an aware datetime.

    Args:
        text: the time as the user wrote it.
        what: how the messages name where it came from (``--at``, ``send_at``).

    Raises:
        SendAtError: not an ISO 8601 date and time, or one without a UTC offset.
    """
    written = text.strip()
    # Python 3.10's fromisoformat does not read "Z" (3.11 does): spell it as the offset.
    spelled = written[:-1] + "+00:00" if written[-1:] in ("Z", "z") else written
    try:
        when = datetime.fromisoformat(spelled)
    except ValueError:
        raise SendAtError(
            f"{what} {written!r} is not an ISO 8601 date and time with a UTC offset, "
            f"like {_EXAMPLE} or 2026-12-24T08:00:00Z"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        # A date alone reads as midnight: suggest a whole time rather than "DATE+01:00".
        shown = written if "T" in written.upper() or " " in written else _EXAMPLE[:-6]
        raise SendAtError(
            f"{what} {written!r} has no UTC offset: add one, like {shown}+01:00 or {shown}Z "
            "(smsbridge does not guess the time zone)"
        )
    return when


def check_future(when: datetime, what: str = "--at", now: datetime | None = None) -> datetime:
    """``when``, if it is after ``now`` (default: the clock now).

    Raises:
        SendAtError: it is not in the future (naming the time now, in UTC, for comparison).
    """
    now = now or datetime.now(timezone.utc)
    if when <= now:
        raise SendAtError(
            f"{what} {format_time(when)} is in the past (it is now {format_time(now)}): "
            "give a future time"
        )
    return when


def format_time(when: datetime) -> str:
    """``when`` in UTC to the second, as the providers schedule it: ``2026-12-24T08:00:00Z``."""
    return f"{when.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
