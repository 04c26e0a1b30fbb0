"""Verified Vonage webhooks (Messages API v1) into common events.

A body with ``status`` is a status callback: one ``StatusEvent`` (any channel: ``read``
comes from OTT channels only). Without it, an inbound SMS or MMS: one ``InboundMessage``
(inbound messages of other channels are refused: smsbridge speaks SMS). Numbers come without
``+`` and leave with it; short codes and alphanumeric senders stay as they are.

De-duplication keys are ``message_uuid`` and the status (inbound: ``received``), read from
the body, which ``payload_hash`` signs. Not the token's ``jti``: it is signed too, but names
the delivery attempt, and a retry is a new attempt, presumably with a new token; the body it
repeats is what identifies the event. Repeats of the same status for one message (one per
part of a long SMS) collapse into one as well, which is what the application wants.
"""

from __future__ import annotations

from typing import Any

from smsbridge._errors import MalformedWebhook
from smsbridge._models import InboundMessage, Media, MessageStatus, StatusEvent
from smsbridge._phone import country_of
from smsbridge.providers.vonage._errors import VONAGE_CODES, code_from_type
from smsbridge.providers.vonage._statuses import status_for
from smsbridge.webhooks._common import (
    NO_ORDER,
    Parsed,
    build,
    dedupe_key,
    event_error,
    load_json,
    opt_out_from_text,
    parse_iso,
    reference_from,
    require_text,
    status_order_key,
    text_field,
)

__all__ = ["parse_vonage"]

NAME = "vonage"
_CHANNELS = frozenset({"sms", "mms"})
# Inbound MMS content: one object per kind, each with a ``url``.
_MEDIA_KINDS = ("image", "video", "audio", "vcard", "file")


def _dict(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise MalformedWebhook(f"Vonage webhook {what} is not an object", provider=NAME)
    return value


def e164(value: str) -> str:
    """``+`` and the digits for a number Vonage sends without it; anything else unchanged.

    Up to six digits is a short code; seven or eight only become a number when they start
    with a country code (country codes are short, and so are some short codes).
    """
    if not value.isascii() or not value.isdigit() or len(value) > 15:
        return value
    if len(value) >= 9 or (len(value) >= 7 and country_of("+" + value) is not None):
        return "+" + value
    return value


def _number(payload: dict[str, Any], name: str) -> str:
    value = require_text(payload, name)
    return e164(value)


def _media(payload: dict[str, Any]) -> tuple[Media, ...]:
    media = []
    for kind in _MEDIA_KINDS:
        item = payload.get(kind)
        if item is not None:
            url = require_text(_dict(item, kind), "url")
            media.append(build(Media, {"url": url, "content_type": None}))
    return tuple(media)


def _count(value: Any) -> int | None:
    """A part count Vonage sends as a number or a string of digits."""
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 4:
        return int(value)
    return None


def _inbound(payload: dict[str, Any]) -> Parsed:
    message_id = require_text(payload, "message_uuid")
    text = text_field(payload, "text")
    media = _media(payload)
    if text is None and media:
        image = payload.get("image")
        text = text_field(image, "caption") if type(image) is dict else None
    text = text or ""
    sms = payload.get("sms")
    values = {
        "provider": NAME,
        "id": message_id,
        "from_": _number(payload, "from"),
        "to": _number(payload, "to"),
        "text": text,
        "media": media,
        "segments": _count(sms.get("num_messages")) if type(sms) is dict else None,
        "received_at": parse_iso(payload.get("timestamp")),
        "opt_out": opt_out_from_text(text),
        "raw": payload,
    }
    event = build(InboundMessage, values)
    return Parsed(NAME, (event,), dedupe_key(NAME, message_id, "received"), NO_ORDER)


def _error(payload: dict[str, Any]) -> tuple[str | None, str]:
    """The error code (``type`` fragment, else a numeric ``title``) and its description."""
    error = payload.get("error")
    if error is None:
        return None, ""
    error = _dict(error, "error")
    title = error.get("title")
    code = code_from_type(error.get("type"))
    if code is None and type(title) in (int, str) and str(title).isdigit():
        code = str(title)
    parts = [str(error[k]) for k in ("title", "detail") if type(error.get(k)) in (str, int)]
    return code, " - ".join(p for p in parts if p and p != code)


def _status(payload: dict[str, Any], url: str) -> Parsed:
    message_id = require_text(payload, "message_uuid")
    raw_status = require_text(payload, "status")
    code, detail = _error(payload)
    known = status_for(raw_status, code)
    status = known or MessageStatus.UNKNOWN
    to = payload.get("to")
    to = e164(to) if type(to) is str else text_field(payload, "to")
    sender = payload.get("from")
    sender = e164(sender) if type(sender) is str else text_field(payload, "from")
    # client_ref is in the signed body; the callback URL is not signed: it is the fallback.
    reference = text_field(payload, "client_ref") or reference_from(url)
    values = {
        "provider": NAME,
        "provider_message_id": message_id,
        "status": status,
        "raw_status": raw_status,
        "to": to,
        "from_": sender,
        "error": event_error(VONAGE_CODES, code, detail),
        "occurred_at": parse_iso(payload.get("timestamp")),
        "reference": reference,
        "raw": payload,
    }
    event = build(StatusEvent, values)
    # A status we do not know must not block the ones we do.
    order = status_order_key(NAME, message_id, to, status) if known else None
    key = dedupe_key(NAME, message_id, raw_status)
    return Parsed(NAME, (event,), key, (order,))


def parse_vonage(body: bytes, url: str) -> Parsed:
    """Events of a verified Vonage webhook.

    Raises:
        MalformedWebhook: not a JSON object, an inbound message of a channel other than SMS
            or MMS, or a required field (``message_uuid``, ``status``, inbound ``to`` and
            ``from``) missing or not a string.
    """
    try:
        payload = load_json(body)
    except (ValueError, RecursionError):
        raise MalformedWebhook("Vonage body is not valid JSON", provider=NAME) from None
    payload = _dict(payload, "body")
    if "status" in payload:
        # Whatever the channel: a status of a message this account sent is reported.
        return _status(payload, url)
    channel = payload.get("channel")
    if channel is not None and channel not in _CHANNELS:
        raise MalformedWebhook(
            "unsupported Vonage inbound channel (SMS and MMS only)", provider=NAME
        )
    return _inbound(payload)
