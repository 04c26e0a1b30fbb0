"""Parsing helpers both providers share: forms, timestamps, opt-out keywords, errors,
references, and a fast way to build the event models from values already checked."""

from __future__ import annotations

import hashlib
import json
import re
from codecs import escape_decode
from collections.abc import Mapping
from datetime import datetime, timezone
from json.scanner import make_scanner
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl, unquote_plus, unquote_to_bytes

from pydantic import BaseModel

from smsbridge._bridge import REFERENCE_PARAM
from smsbridge._errors import MalformedWebhook
from smsbridge._models import EventError, InboundMessage, Media, MessageStatus, OptOut, StatusEvent
from smsbridge.providers._codes import CATEGORY_CLASSES
from smsbridge.stores._base import DEDUPE_PREFIX

__all__ = [
    "KEYWORDS",
    "MAX_KEY_CHARS",
    "NO_ORDER",
    "OPT_OUT_MAX_LEN",
    "Parsed",
    "build",
    "dedupe_key",
    "event_error",
    "load_json",
    "new_parsed",
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


def new_parsed(
    provider: str,
    events: tuple[InboundMessage | StatusEvent, ...],
    dedupe_key: str,
    order_keys: tuple[tuple[str, int] | None, ...],
) -> Parsed:
    """``Parsed(...)`` without the Python-level ``__new__`` a NamedTuple call runs."""
    return _new_tuple(Parsed, (provider, events, dedupe_key, order_keys))


_new_tuple = tuple.__new__
_new_object = object.__new__
_set = object.__setattr__


def _build_unchecked(cls: type[M], values: dict[str, Any]) -> M:
    # What ``model_construct`` does, minus its per-field default handling: ``values`` holds
    # every field, in declaration order, already checked by the parser.
    model = _new_object(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _build_validated(cls: type[M], values: dict[str, Any]) -> M:
    return cls(**values)


def _fast_path_works() -> bool:
    """True when unchecked building gives models equal to validated ones (pydantic's
    internals are as expected); otherwise every event is validated."""
    values = {"url": "https://example.com/a.jpg", "content_type": None}
    try:
        fast = _build_unchecked(Media, dict(values))
        slow = Media(**values)
        return fast == slow and fast.model_dump() == slow.model_dump() and hash(fast) == hash(slow)
    except Exception:  # any surprise in pydantic's internals: take the validated path
        return False


build = _build_unchecked if _fast_path_works() else _build_validated
"""Build a model from values the parser checked (all fields, in declaration order)."""


def opt_out_from_text(text: str) -> OptOut | None:
    """``"STOP"``, ``"START"`` or ``"HELP"`` when the whole message is one of the keywords."""
    if len(text) > OPT_OUT_MAX_LEN:  # ordinary messages leave here
        return None
    return KEYWORDS.get(text.strip().upper())


# bytes.translate tables for the fast form decoder: keep only the separators; turn both
# separators into NUL and '+' into a space in one pass.
_ONLY_SEPARATORS = bytes(b for b in range(256) if b not in b"&=")
_MARK = bytes.maketrans(b"&=+", b"\x00\x00 ")


def _percent_decode(data: bytes) -> bytes:
    """``unquote_to_bytes(data)``; in C when every ``%`` starts a two-digit hex escape and no
    backslash is present, as in the bodies providers send: ``%XX`` becomes ``\\xXX`` for the
    bytes-escape decoder, which refuses (and we fall back) on anything else."""
    if b"\\" not in data:
        try:
            return escape_decode(data.replace(b"%", b"\\x"))[0]
        except ValueError:
            pass
    return unquote_to_bytes(data)


def _parse_form_general(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name, errors="strict")
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="strict")
        pairs.append((name, value))
    return pairs


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` body into ``(name, value)`` pairs.

    The same result as ``urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)`` with
    strict UTF-8, several times faster on the bodies providers send: when every field is
    ``name=value`` (the separators alternate ``=&=&…=``) and no NUL is present, the whole body
    is marked, percent-decoded and split in a handful of C-level passes.

    Raises:
        MalformedWebhook: the body, or a percent-escape in it, is not valid UTF-8.
    """
    try:
        separators = body.translate(None, _ONLY_SEPARATORS)
        count = len(separators) // 2
        if (
            len(separators) % 2
            and separators == b"=&" * count + b"="
            and b"\x00" not in body
            and b"%00" not in body
        ):
            marked = body.translate(_MARK)
            if b"%" in marked:
                marked = _percent_decode(marked)
            tokens = marked.decode().split("\x00")
            return list(zip(tokens[::2], tokens[1::2], strict=True))
        return _parse_form_general(body.decode())
    except UnicodeDecodeError:
        raise MalformedWebhook("form data is not valid UTF-8") from None


# The C scanner ``json.loads`` ends up in; a decoder instance carries its settings.
_SCAN = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_JSON_SPACE = " \t\n\r"


def load_json(body: bytes) -> Any:
    """``json.loads(body)`` for UTF-8 bodies, calling the C scanner directly (it skips the
    encoding sniffing and whitespace regexes ``loads`` runs around it).

    Raises:
        ValueError: not UTF-8 or not JSON (``UnicodeDecodeError`` is a ``ValueError``).
        RecursionError: nested too deeply.
    """
    text = body.decode()
    try:
        document, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)  # leading whitespace, or the error message json gives
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        return json.loads(text)  # extra data: let json raise its error
    return document


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
    """The :class:`EventError` for a provider error code of a status webhook.

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
    :data:`MAX_KEY_CHARS` become a SHA-256 digest of their parts, so every key is bounded.
    """
    key = f"{DEDUPE_PREFIX}{kind}:{provider}:" + ":".join(parts)
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{DEDUPE_PREFIX}{kind}:{provider}:sha256:{digest}"


def dedupe_key(provider: str, *parts: str) -> str:
    """The store key naming one delivery of a webhook (see :func:`store_key`)."""
    return store_key("seen", provider, *parts)


def status_order_key(
    provider: str, message_id: str, recipient: str | None, status: MessageStatus
) -> tuple[str, int]:
    """The store key of a message+recipient's status rank, and this status's rank."""
    return store_key("rank", provider, message_id, recipient or ""), status.rank
