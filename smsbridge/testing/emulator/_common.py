"""Plumbing shared by the emulator's pieces: request/response values, message records, formats.

Nothing here knows about sockets: the server turns bytes into a ``Request``, the
personality modules turn a request into a ``Response``, and the server writes it (or hangs,
or drops the connection, as the response's ``action`` says). Nothing here knows about a
particular provider either.
"""

from __future__ import annotations

import json
import mimetypes
import os
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal

from smsbridge._segments import segments as count_segments

Action = Literal["answer", "hang", "close"]

# E.164: a plus, a non-zero country code digit, 8 to 15 digits in all.
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
# Alphanumeric sender IDs: 1-11 letters, digits or spaces with at least one letter.
_ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")


STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})


@dataclass(frozen=True)
class Request:
    """One HTTP request as the emulator sees it (header names lower-cased)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        return self.headers.get(name.lower())


@dataclass
class Response:
    """What to do with a request: answer it (possibly late), hang, or drop the connection."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    action: Action = "answer"
    delay: float = 0.0


def json_response(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    """A JSON response with ``obj`` serialised compactly."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    return Response(status=status, body=body, headers=list(headers or ()))


def gateway_error(status: int) -> Response:
    """The HTML page an edge proxy answers with for 502/504: realistic, and not JSON."""
    reason = {502: "Bad Gateway", 504: "Gateway Time-out"}.get(status, "Error")
    page = (
        f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
    )
    return Response(status=status, body=page.encode(), content_type="text/html")


def is_e164(number: str) -> bool:
    """Whether ``number`` looks like +E.164."""
    return bool(_E164.match(number))


def is_sender(sender: str) -> bool:
    """Whether ``sender`` can be a From: E.164, a short code, or an alphanumeric sender ID."""
    return bool(_E164.match(sender) or _SHORT_CODE.match(sender) or _ALPHA_SENDER.match(sender))


def segments(text: str) -> tuple[str, int]:
    """``(encoding, segment count)`` of an SMS body, as the providers report them."""
    info = count_segments(text)
    return info.encoding, info.segments


def content_type_of(url: str) -> str:
    """A plausible media content type for ``url``, from its extension."""
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    return guessed or "application/octet-stream"


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(moment: datetime | None) -> str | None:
    """An RFC 2822 date: ``Tue, 14 May 2024 15:31:00 +0000`` (UTC, locale-independent)."""
    if moment is None:
        return None
    # Formatted by hand: strftime's %a/%b follow the locale, email.utils is several times slower.
    m = moment.astimezone(timezone.utc)
    return (
        f"{_DAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month - 1]} {m.year:04d} "
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} +0000"
    )


def iso_millis(moment: datetime | None) -> str | None:
    """An ISO 8601 date with milliseconds: ``2024-05-14T15:31:00.102+00:00``."""
    return None if moment is None else moment.isoformat(timespec="milliseconds")


# Ids must be unique, not secret. os.urandom is a system call per id, which costs more than the
# rest of a send in some sandboxes; one generator seeded from it is plenty.
_ids = random.Random(os.urandom(32))  # noqa: S311


def random_bits(bits: int) -> int:
    """A random integer of ``bits`` bits, for ids (unique, not secret)."""
    return _ids.getrandbits(bits)


def new_uuid() -> str:
    """A random (version 4) UUID string."""
    return str(uuid.UUID(int=_ids.getrandbits(128), version=4))


@dataclass(frozen=True)
class Step:
    """One scheduled status change of an accepted message; a ``quiet`` one sends no webhook
    (a status the provider shows on read-back but never announces)."""

    status: str
    error_code: str | None = None
    quiet: bool = False


@dataclass
class MessageRecord:
    """An accepted outbound message and everything that happened to it since."""

    provider: str
    id: str
    to: str
    from_: str | None
    text: str
    media_urls: tuple[str, ...]
    status: str
    created_at: datetime
    callback_url: str | None = None
    failover_url: str | None = None
    sender_pool: str | None = None
    idempotency_key: str | None = None
    encoding: str = "GSM-7"
    segments: int = 1
    error_code: str | None = None
    sent_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    send_at: datetime | None = None  # a scheduled message's time (kept after it is sent)
    held: bool = False  # waiting for send_at: cancellable, not yet released
    history: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def snapshot(self) -> MessageRecord:
        """A copy that later status changes will not touch (cheaper than ``deepcopy``)."""
        return replace(self, history=list(self.history), extra=dict(self.extra))

    def summary(self) -> dict[str, Any]:
        """The provider-neutral view ``Emulator.messages()`` returns. ``status`` is the
        provider's own word (``scheduled``, ``canceled`` or ``cancelled``, ...); ``raw_status``
        repeats it under the name ``SendResult`` gives it; ``send_at`` is ISO 8601 or ``None``."""
        return {
            "provider": self.provider,
            "id": self.id,
            "to": self.to,
            "from": self.from_,
            "text": self.text,
            "media_urls": list(self.media_urls),
            "status": self.status,
            "raw_status": self.status,
            "send_at": None if self.send_at is None else self.send_at.isoformat(),
            "error_code": self.error_code,
            "statuses": list(self.history),
            "callback_url": self.callback_url,
            "sender_pool": self.sender_pool,
            "idempotency_key": self.idempotency_key,
            "segments": self.segments,
            "encoding": self.encoding,
            "created_at": self.created_at.isoformat(),
        }
