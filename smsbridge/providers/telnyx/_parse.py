"""Verified Telnyx webhooks into common events.

``message.received`` is an inbound message; ``message.sent`` and ``message.finalized`` give one
status event per recipient in ``payload.to[]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smsbridge._errors import MalformedWebhook
from smsbridge._models import InboundMessage, Media, MessageStatus, StatusEvent
from smsbridge.providers.telnyx._errors import TELNYX_CODES
from smsbridge.providers.telnyx._statuses import TELNYX_STATUS
from smsbridge.webhooks._common import (
    NO_ORDER,
    OPT_OUT_MAX_LEN,
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

__all__ = ["parse_telnyx"]

NAME = "telnyx"
_STATUS_EVENTS = frozenset({"message.sent", "message.finalized"})
# ``expired`` depends on where the message expired (protocols.md section 6).
_EXPIRED = {"40005": MessageStatus.UNDELIVERED, "40014": MessageStatus.FAILED}


def _dict(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise MalformedWebhook(f"Telnyx webhook {what} is not an object", provider=NAME)
    return value


def _phone(value: Any, what: str) -> str | None:
    if value is None:
        return None
    return text_field(_dict(value, what), "phone_number")


def _media(payload: dict[str, Any]) -> tuple[Media, ...]:
    items = payload.get("media")
    if not items:
        return ()
    if type(items) is not list:
        raise MalformedWebhook("Telnyx payload.media is not a list", provider=NAME)
    media = []
    for item in items:
        item = _dict(item, "media item")
        url, content_type = require_text(item, "url"), text_field(item, "content_type")
        media.append(build(Media, {"url": url, "content_type": content_type or None}))
    return tuple(media)


def _inbound(payload: dict[str, Any], data: dict[str, Any], raw: dict[str, Any]) -> InboundMessage:
    # Each check has an inline test for the usual shape; the helpers it falls back to give
    # the exact result (or the typed error) for anything else.
    recipients = payload.get("to")
    if type(recipients) is not list or not recipients:
        raise MalformedWebhook("Telnyx inbound message has no recipient", provider=NAME)
    first, sender = recipients[0], payload.get("from")
    to = first.get("phone_number") if type(first) is dict else None
    if type(to) is not str:
        to = _phone(first, "payload.to[0]")
    from_ = sender.get("phone_number") if type(sender) is dict else None
    if type(from_) is not str:
        from_ = _phone(sender, "payload.from")
    if not to or not from_:
        raise MalformedWebhook("Telnyx inbound message lacks a phone number", provider=NAME)
    text = payload.get("text")
    if type(text) is not str:
        text = text_field(payload, "text") or ""
    message_id = payload.get("id")
    if type(message_id) is not str or not message_id:
        message_id = require_text(payload, "id")
    parts = payload.get("parts")
    # occurred_at is only the fallback: read when received_at is absent or unreadable.
    received = parse_iso(payload.get("received_at")) or parse_iso(data.get("occurred_at"))
    values = {
        "provider": NAME,
        "id": message_id,
        "from_": from_,
        "to": to,
        "text": text,
        "media": _media(payload) if payload.get("media") else (),
        "segments": parts if type(parts) is int else None,
        "received_at": received,
        "opt_out": opt_out_from_text(text) if len(text) <= OPT_OUT_MAX_LEN else None,
        "raw": raw,
    }
    return build(InboundMessage, values)


def _error(payload: dict[str, Any]) -> tuple[str | None, str]:
    errors = payload.get("errors")
    if not errors:
        return None, ""
    if type(errors) is not list:
        raise MalformedWebhook("Telnyx payload.errors is not a list", provider=NAME)
    first = _dict(errors[0], "errors[0]")
    code = first.get("code")
    if type(code) not in (str, int, type(None)):
        raise MalformedWebhook("Telnyx error code is not a code", provider=NAME)
    parts = [first[k] for k in ("title", "detail") if type(first.get(k)) is str and first[k]]
    return (str(code) if code not in (None, "") else None), " - ".join(parts)


def _statuses(
    payload: dict[str, Any], occurred: datetime | None, url: str, raw: dict[str, Any]
) -> tuple[list[StatusEvent], list[tuple[str, int] | None]]:
    message_id = require_text(payload, "id")
    recipients = payload.get("to")
    if type(recipients) is not list or not recipients:
        raise MalformedWebhook("Telnyx status has no recipients", provider=NAME)
    code, detail = _error(payload)
    sender = _phone(payload.get("from"), "payload.from")
    reference = reference_from(url)
    error = event_error(TELNYX_CODES, code, detail)
    events, order = [], []
    for recipient in recipients:
        recipient = _dict(recipient, "payload.to[]")
        raw_status = require_text(recipient, "status")
        known = TELNYX_STATUS.get(raw_status)
        status = known or MessageStatus.UNKNOWN
        if raw_status == "expired":
            status = _EXPIRED.get(code or "", status)
        to = text_field(recipient, "phone_number")
        values = {
            "provider": NAME,
            "provider_message_id": message_id,
            "status": status,
            "raw_status": raw_status,
            "to": to,
            "from_": sender,
            "error": error,
            "occurred_at": occurred,
            "reference": reference,
            "raw": raw,
        }
        events.append(build(StatusEvent, values))
        # A status we do not know must not block the ones we do.
        order.append(status_order_key(NAME, message_id, to, status) if known else None)
    return events, order


def parse_telnyx(body: bytes, url: str) -> Parsed:
    """Events of a verified Telnyx webhook.

    Raises:
        MalformedWebhook: not JSON, not the v2 envelope, or an event type other than
            ``message.received``, ``message.sent`` and ``message.finalized``.
    """
    try:
        document = load_json(body)
    except (ValueError, RecursionError):
        raise MalformedWebhook("Telnyx body is not valid JSON", provider=NAME) from None
    if type(document) is not dict:
        document = _dict(document, "body")
    data = document.get("data")
    if type(data) is not dict:
        data = _dict(data, "data")
    event_type, event_id, payload = data.get("event_type"), data.get("id"), data.get("payload")
    if type(event_type) is not str or not event_type:
        event_type = require_text(data, "event_type")
    if type(event_id) is not str or not event_id:
        event_id = require_text(data, "id")
    if type(payload) is not dict:
        payload = _dict(payload, "data.payload")
    if event_type == "message.received":
        inbound = _inbound(payload, data, document)
        key = dedupe_key(NAME, event_id, "received")
        return Parsed(NAME, (inbound,), key, NO_ORDER)
    if event_type not in _STATUS_EVENTS:
        raise MalformedWebhook("unsupported Telnyx event type", provider=NAME)
    occurred = parse_iso(data.get("occurred_at"))
    events, order = _statuses(payload, occurred, url, document)
    key = dedupe_key(NAME, event_id, event_type, events[0].raw_status)
    return Parsed(NAME, tuple(events), key, tuple(order))
