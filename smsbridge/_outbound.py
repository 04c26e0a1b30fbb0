"""From what a caller gives ``Bridge.send`` to an ``OutboundMessage``: checks
of text arguments and media URLs, and the warnings a result carries.

Bad arguments are the caller's bug, but still a typed ``InvalidRequest`` with a
stable code: a stray ``TypeError`` or pydantic ``ValidationError`` from deep inside would be
neither.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from smsbridge._errors import InvalidRequest
from smsbridge._phone import to_e164
from smsbridge._segments import WARN_SEGMENTS, check_body

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage, SendResult

__all__ = [
    "MAX_MEDIA",
    "build_message",
    "check_text",
    "checked_media",
    "checked_send_at",
    "with_warnings",
]

log = logging.getLogger("smsbridge")


def build_message(
    to: str,
    body: str,
    *,
    from_: str | None,
    media_urls: Iterable[str],
    region: str | None,
    reference: str | None,
    idempotency_key: str | None,
    status_callback: str | None,
    default_callback: Callable[[str | None], str | None],
    send_at: datetime | None = None,
) -> OutboundMessage:
    """The checked, normalised message (see ``Bridge.message``); ``default_callback`` gives
    the status webhook URL for a ``reference`` when ``status_callback`` is not given."""
    media = checked_media(media_urls)
    if body is None:  # an MMS with media only, written the obvious way
        body = ""
    check_text(
        body=body,
        from_=from_,
        reference=reference,
        idempotency_key=idempotency_key,
        status_callback=status_callback,
    )
    if status_callback is not None and not _is_media_url(status_callback):
        # The provider calls this URL: a CR/LF or space in it would reach that request.
        raise InvalidRequest(
            "status_callback must be an absolute http(s) URL with a host and no spaces or "
            "control characters",
            failure="rejected",
        )
    info = check_body(body)
    if not body and not media:
        raise InvalidRequest("a message needs a body or media_urls", failure="rejected")
    from smsbridge._models import OutboundMessage  # at first use: see smsbridge._models

    return OutboundMessage(
        to=to_e164(to, region),
        body=body,
        from_=from_,
        media_urls=media,
        reference=reference,
        idempotency_key=idempotency_key,
        status_callback=status_callback or default_callback(reference),
        segments=info,
        send_at=checked_send_at(send_at),
    )


def checked_send_at(send_at: datetime | None, now: datetime | None = None) -> datetime | None:
    """``send_at`` in UTC, if it is an aware ``datetime`` in the future (``None`` stays).

    Raises:
        InvalidRequest: not a ``datetime``, a naive one (whose zone would be a guess), or one
            not after ``now``.
    """
    if send_at is None:
        return None
    if not isinstance(send_at, datetime):
        raise InvalidRequest(
            f"send_at must be a datetime, not {type(send_at).__name__}", failure="rejected"
        )
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise InvalidRequest(
            "send_at must be timezone-aware (datetime(..., tzinfo=timezone.utc)): a naive time "
            "would be read in some zone by guess",
            failure="rejected",
        )
    moment = send_at.astimezone(timezone.utc)
    if moment <= (now or datetime.now(timezone.utc)):
        raise InvalidRequest(
            f"send_at {moment.isoformat()} is not in the future", failure="rejected"
        )
    return moment


def with_warnings(result: SendResult, message: OutboundMessage) -> SendResult:
    """``result`` with a warning (also logged) when the body takes many segments."""
    info = message.segments
    if info is None or info.segments <= WARN_SEGMENTS:
        return result
    text = f"body takes {info.segments} {info.encoding} segments (over {WARN_SEGMENTS})"
    log.warning(text, extra={"segments": info.segments, "encoding": info.encoding})
    return result.model_copy(update={"warnings": (text,)})


def check_text(**values: Any) -> None:
    """Each value is ``None`` or a string that can travel (no lone surrogate).

    Raises:
        InvalidRequest: naming the first argument that is not.
    """
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRequest(
                f"{name} must be a str, not {type(value).__name__}", failure="rejected"
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate (from a bad decode) cannot travel in any request.
                raise InvalidRequest(
                    f"{name} is not valid Unicode text (it holds a lone surrogate)",
                    failure="rejected",
                ) from None


# Twilio's documented maximum (MediaUrl, 10 per message); Telnyx's media_urls take no more.
MAX_MEDIA = 10
# Whitespace or control characters in a URL end up in a form field or JSON string the
# provider then fetches: refuse them rather than guess what the caller meant.
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\s]")


def checked_media(media_urls: Iterable[str]) -> tuple[str, ...]:
    """``media_urls`` as a tuple of at most ``MAX_MEDIA`` absolute http(s) URLs.

    Raises:
        InvalidRequest: one string instead of a list, too many, or a URL that is not usable.
    """
    if isinstance(media_urls, (str, bytes)):
        # tuple("https://...") would send one URL per character.
        raise InvalidRequest(
            "media_urls must be a list of URLs, not one string", failure="rejected"
        )
    try:
        media = tuple(media_urls)
    except TypeError:
        raise InvalidRequest("media_urls must be a list of URLs", failure="rejected") from None
    if len(media) > MAX_MEDIA:
        raise InvalidRequest(
            f"a message takes at most {MAX_MEDIA} media URLs, not {len(media)}",
            failure="rejected",
        )
    for index, url in enumerate(media):
        if not _is_media_url(url):
            raise InvalidRequest(
                f"media_urls[{index}] must be an absolute http(s) URL with a host and no "
                "spaces or control characters",
                failure="rejected",
            )
    return media


def _is_media_url(url: object) -> bool:
    if not isinstance(url, str) or len(url) > 2048 or _URL_UNSAFE.search(url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    try:
        url.encode("utf-8")  # non-ASCII is fine (an IRI); a lone surrogate is not
    except UnicodeEncodeError:
        return False
    return True
