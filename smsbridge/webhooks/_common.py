"""What every provider's webhook codec shares: the verification context, the parsed result,
and parsing helpers (forms, JSON, timestamps, opt-out keywords, errors, references, store
keys). The form and JSON decoders run through the fast paths of ``._speedups``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel

from smsbridge._errors import MalformedWebhook
from smsbridge._models import (
    EventError,
    InboundMessage,
    Media,
    MessageStatus,
    OptOut,
    StatusEvent,
)
from smsbridge._receiving import REFERENCE_PARAM
from smsbridge.providers._codes import CATEGORY_CLASSES
from smsbridge.stores._base import DEDUPE_PREFIX
from smsbridge.webhooks._speedups import (
    construct_checked,
    construct_works,
    json_loads_utf8,
    parse_qsl_bytes,
)

if TYPE_CHECKING:
    from smsbridge.webhooks._request import WebhookRequest

__all__ = [
    "FORM",
    "KEYWORDS",
    "MAX_KEY_CHARS",
    "NO_ORDER",
    "OPT_OUT_MAX_LEN",
    "Parsed",
    "VerifyContext",
    "build",
    "dedupe_key",
    "event_error",
    "is_json",
    "load_json",
    "media_type",
    "opt_out_from_text",
    "parse_form",
    "parse_iso",
    "reference_from",
    "require_text",
    "status_order_key",
    "store_key",
    "text_field",
]

M = TypeVar("M", bound=BaseModel)

# The industry-standard keyword sets (CTIA; both providers honour them). The whole trimmed body
# must be the keyword, case-insensitively.
KEYWORDS: dict[str, OptOut] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "STOP"),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "START"),
    **dict.fromkeys(("HELP", "INFO"), "HELP"),
}
# Longer messages are never a keyword, however much whitespace surrounds it: callers on a hot
# path test this before calling opt_out_from_text.
OPT_OUT_MAX_LEN = max(map(len, KEYWORDS)) + 32


FORM = "application/x-www-form-urlencoded"


def media_type(request: WebhookRequest) -> str:
    """The request's media type, lower-case, without parameters (``""`` when absent)."""
    value = request.headers.first("content-type") or ""
    return value.split(";", 1)[0].strip().lower()


def is_json(request: WebhookRequest) -> bool:
    """Whether the request says its body is JSON (``application/json`` or ``*+json``)."""
    kind = media_type(request)
    return kind == "application/json" or kind.endswith("+json")


class VerifyContext(NamedTuple):
    """What a codec checks a webhook against, besides the provider's secrets.

    Attributes:
        url: the public URL the provider called (what it signed, where it signs the URL).
        now: the bridge's clock, in Unix seconds, for signed timestamps.
        tolerance: seconds a signed timestamp may be from ``now``, either way.
    """

    url: str
    now: float
    tolerance: float


class Parsed(NamedTuple):
    """A verified webhook's events, before de-duplication and ordering.

    Attributes:
        provider: the provider's name.
        events: the parsed events.
        dedupe_key: store key of this delivery (the same on a provider's retry, and made of
            signed content only, so the same on a replay with changed unsigned headers).
        order_keys: per event, ``(store key of its message+recipient, status rank)``, or
            ``None`` when the event takes no part in ordering.
    """

    provider: str
    events: tuple[InboundMessage | StatusEvent, ...]
    dedupe_key: str
    order_keys: tuple[tuple[str, int] | None, ...]


NO_ORDER: tuple[None] = (None,)
"""``order_keys`` of a webhook with one event that takes no part in ordering."""


def _validated(cls: type[M], values: dict[str, Any]) -> M:
    return cls(**values)


_MEDIA = {"url": "https://example.com/a.jpg", "content_type": None}
build: Callable[[type[M], dict[str, Any]], M] = (
    construct_checked if construct_works(Media, _MEDIA) else _validated
)
"""Build an event model from the values the parser checked (every field, in declaration
order): ``construct_checked`` where pydantic allows it,
else ``cls(**values)``."""


def opt_out_from_text(text: str) -> OptOut | None:
    """``"STOP"``, ``"START"`` or ``"HELP"`` when the whole message is one of the keywords."""
    if len(text) > OPT_OUT_MAX_LEN:  # ordinary messages leave here
        return None
    return KEYWORDS.get(text.strip().upper())


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` body into ``(name, value)`` pairs:
    ``urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)`` with strict UTF-8
    (through the fast path in ``smsbridge.webhooks._speedups``).

    Raises:
        MalformedWebhook: the body, or a percent-escape in it, is not valid UTF-8.
    """
    try:
        return parse_qsl_bytes(body)
    except UnicodeDecodeError:
        raise MalformedWebhook("form data is not valid UTF-8") from None


load_json = json_loads_utf8
"""``json.loads(body.decode())`` (through the fast path in ``smsbridge.webhooks._speedups``).

Raises:
    ValueError: not UTF-8 or not JSON (``UnicodeDecodeError`` is a ``ValueError``).
    RecursionError: nested too deeply.
"""


_FRACTION = re.compile(r"\.(\d+)")


def parse_iso(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (UTC when no offset); ``None`` when absent
    or unreadable (the raw text stays in ``raw``)."""
    if type(value) is not str or not value or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        # Python 3.10 reads neither "Z" nor fractions other than 3 or 6 digits.
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def event_error(
    table: Mapping[str, str], provider_code: str | None, message: str = ""
) -> EventError | None:
    """The ``EventError`` for a provider error code of a status webhook.

    A known code gets its category (the stable ``code``) and that category's failure class;
    an unknown one gets ``code="provider_error"`` and no failure class.
    """
    if not provider_code:
        return None
    category = table.get(provider_code)
    if category is None:
        return EventError(code="provider_error", provider_code=provider_code, message=message)
    failure = CATEGORY_CLASSES[category].default_failure
    return EventError(code=category, failure=failure, provider_code=provider_code, message=message)


def reference_from(url: str) -> str | None:
    """The ``smsbridge_ref`` the bridge put in the status-callback URL, if any."""
    if REFERENCE_PARAM not in url:
        return None
    query = url.split("?", 1)[1] if "?" in url else ""
    for name, value in parse_qsl(query.split("#", 1)[0], keep_blank_values=True):
        if name == REFERENCE_PARAM:
            return value
    return None


def require_text(mapping: Mapping[str, Any], name: str) -> str:
    """``mapping[name]``, which must be a non-empty string.

    Raises:
        MalformedWebhook: the value is missing, empty or not a string.
    """
    value = mapping.get(name)
    if type(value) is not str or not value:
        raise MalformedWebhook(f"webhook field {name!r} is missing or not a string")
    return value


def text_field(mapping: Mapping[str, Any], name: str) -> str | None:
    """``mapping[name]`` when it is a string; ``None`` when absent or null.

    Raises:
        MalformedWebhook: the value is of another type.
    """
    value = mapping.get(name)
    if value is None or type(value) is str:
        return value
    raise MalformedWebhook(f"webhook field {name!r} is not a string")


# Store keys longer than this are digested: a key's parts come from a verified body, but a
# provider's values have no documented length limit, and no store should hold a huge key.
MAX_KEY_CHARS = 200


def store_key(kind: str, provider: str, *parts: str) -> str:
    """A de-duplication or ordering store key: ``DEDUPE_PREFIX`` + kind, provider and parts.

    Its parts must come from content the signature covers (never from an unsigned header), so
    a replayed webhook gets the key of the original whatever else was changed. Keys past
    ``MAX_KEY_CHARS`` become a SHA-256 digest of their parts, so every key is bounded.
    """
    key = f"{DEDUPE_PREFIX}{kind}:{provider}:" + ":".join(parts)
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{DEDUPE_PREFIX}{kind}:{provider}:sha256:{digest}"


def dedupe_key(provider: str, *parts: str) -> str:
    """The store key naming one delivery of a webhook (see ``store_key``)."""
    return store_key("seen", provider, *parts)


def status_order_key(
    provider: str, message_id: str, recipient: str | None, status: MessageStatus
) -> tuple[str, int]:
    """The store key of a message+recipient's status rank, and this status's rank."""
    return store_key("rank", provider, message_id, recipient or ""), status.rank
