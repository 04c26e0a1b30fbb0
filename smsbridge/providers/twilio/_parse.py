"""Verified Twilio webhooks into common events.

Form webhooks (the usual kind): an inbound SMS/MMS has no ``MessageStatus``; a status callback
has one, plus ``ErrorCode`` on failures and ``RawDlrDoneDate`` (``YYMMDDhhmm``, UTC) on most
delivery reports. JSON webhooks (Event Streams, signed with ``bodySHA256``) carry one
CloudEvent or a list of them: ``com.twilio.messaging.message.<status>`` and
``com.twilio.messaging.inbound-message.received``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from smsbridge._errors import MalformedWebhook
from smsbridge._models import InboundMessage, Media, MessageStatus, StatusEvent
from smsbridge.providers.twilio._errors import TWILIO_CODES
from smsbridge.providers.twilio._statuses import TWILIO_STATUS
from smsbridge.webhooks._common import (
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

__all__ = ["parse_twilio_form", "parse_twilio_json"]

NAME = "twilio"
_INBOUND_STATUSES = frozenset({"received", "receiving"})
_OPT_TYPES = frozenset({"STOP", "START", "HELP"})
_MAX_MEDIA = 100


def _int(raw: Mapping[str, Any], name: str) -> int | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    raise MalformedWebhook(f"Twilio field {name!r} is not a whole number", provider=NAME)


def _dlr_date(value: str | None) -> datetime | None:
    if not value or len(value) != 10 or not value.isascii() or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%y%m%d%H%M").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _media(raw: Mapping[str, str]) -> tuple[Media, ...]:
    count = _int(raw, "NumMedia")
    if not count:
        if "MediaUrl0" not in raw:
            return ()
        count = 0
        while f"MediaUrl{count}" in raw and count < _MAX_MEDIA:
            count += 1
    if count > _MAX_MEDIA:
        raise MalformedWebhook("Twilio NumMedia is out of range", provider=NAME)
    media = []
    for index in range(count):
        url = raw.get(f"MediaUrl{index}")
        if not url:
            raise MalformedWebhook(f"Twilio webhook lacks MediaUrl{index}", provider=NAME)
        content_type = raw.get(f"MediaContentType{index}") or None
        media.append(build(Media, {"url": url, "content_type": content_type}))
    return tuple(media)


def _inbound(raw: dict[str, str], sid: str, now: datetime) -> InboundMessage:
    text = raw.get("Body", "")
    opt_type = raw.get("OptOutType", "").upper()
    values = {
        "provider": NAME,
        "id": sid,
        "from_": require_text(raw, "From"),
        "to": require_text(raw, "To"),
        "text": text,
        "media": _media(raw),
        "segments": _int(raw, "NumSegments"),
        "received_at": now,
        "opt_out": opt_type if opt_type in _OPT_TYPES else opt_out_from_text(text),
        "raw": raw,
    }
    return build(InboundMessage, values)


def _status(
    sid: str,
    raw_status: str,
    people: tuple[str | None, str | None],
    url: str,
    occurred: datetime | None,
    error: tuple[str | None, str],
    raw: dict[str, Any],
) -> StatusEvent:
    values = {
        "provider": NAME,
        "provider_message_id": sid,
        "status": TWILIO_STATUS.get(raw_status.lower(), MessageStatus.UNKNOWN),
        "raw_status": raw_status,
        "to": people[0],
        "from_": people[1],
        "error": event_error(TWILIO_CODES, error[0], error[1]),
        "occurred_at": occurred,
        "reference": reference_from(url),
        "raw": raw,
    }
    return build(StatusEvent, values)


def _order(event: StatusEvent) -> tuple[str, int] | None:
    if event.raw_status.lower() not in TWILIO_STATUS:
        return None  # a status we do not know must not block the ones we do
    return status_order_key(NAME, event.provider_message_id, event.to, event.status)


def parse_twilio_form(params: list[tuple[str, str]], url: str, now: datetime) -> Parsed:
    """Events of a verified form (or GET) webhook.

    The de-duplication key is made of signed fields only: ``MessageSid`` for an inbound
    message; ``MessageSid``, status and ``ErrorCode`` for a status callback. Twilio's
    ``I-Twilio-Idempotency-Token`` header is not covered by the signature, so it is not used:
    a captured webhook replayed with a new token is still a duplicate.

    Args:
        params: the webhook's params, in order.
        url: the signed URL (its query may carry the bridge's reference).
        now: the time of receipt (inbound messages carry no timestamp of their own).

    Raises:
        MalformedWebhook: a required field is missing or a number is not a number.
    """
    raw = dict(params)
    sid = raw.get("MessageSid") or raw.get("SmsMessageSid") or raw.get("SmsSid")
    if not sid:
        raise MalformedWebhook("Twilio webhook has no MessageSid", provider=NAME)
    raw_status = raw.get("MessageStatus")
    if raw_status is None or raw_status.lower() in _INBOUND_STATUSES:
        event: InboundMessage | StatusEvent = _inbound(raw, sid, now)
        return Parsed(NAME, (event,), dedupe_key(NAME, sid, "received"), (None,))
    if not raw_status:
        raise MalformedWebhook("Twilio status callback has an empty MessageStatus", provider=NAME)
    people = (text_field(raw, "To"), text_field(raw, "From"))
    occurred = _dlr_date(raw.get("RawDlrDoneDate")) or now
    error = (raw.get("ErrorCode") or None, raw.get("ErrorMessage", ""))
    status = _status(sid, raw_status, people, url, occurred, error, raw)
    # The error code is part of the key too: two reports that differ in it are two webhooks.
    key = dedupe_key(NAME, sid, raw_status.lower(), error[0] or "")
    return Parsed(NAME, (status,), key, (_order(status),))


def _cloud_event(item: Any, url: str, now: datetime) -> InboundMessage | StatusEvent:
    if not isinstance(item, dict):
        raise MalformedWebhook("Twilio event is not an object", provider=NAME)
    kind = require_text(item, "type")
    data = item.get("data")
    if not isinstance(data, dict):
        raise MalformedWebhook("Twilio event has no data object", provider=NAME)
    sid = require_text(data, "messageSid")
    occurred = parse_iso(data.get("timestamp")) or now
    if kind == "com.twilio.messaging.inbound-message.received":
        text = text_field(data, "body") or ""
        values = {
            "provider": NAME,
            "id": sid,
            "from_": require_text(data, "from"),
            "to": require_text(data, "to"),
            "text": text,
            "media": (),
            "segments": _int(data, "numSegments"),
            "received_at": occurred,
            "opt_out": opt_out_from_text(text),
            "raw": item,
        }
        return build(InboundMessage, values)
    prefix = "com.twilio.messaging.message."
    if not kind.startswith(prefix):
        raise MalformedWebhook("unsupported Twilio event type", provider=NAME)
    raw_status = text_field(data, "messageStatus") or kind[len(prefix) :]
    code = data.get("errorCode")
    if isinstance(code, bool) or not isinstance(code, (str, int, type(None))):
        raise MalformedWebhook("Twilio errorCode is not a code", provider=NAME)
    callback = data.get("statusCallBackUrl")
    ref_url = callback if isinstance(callback, str) and callback else url
    people = (text_field(data, "to"), text_field(data, "from"))
    error = (str(code) if code else None, "")
    return _status(sid, raw_status, people, ref_url, occurred, error, item)


def parse_twilio_json(body: bytes, url: str, now: datetime) -> Parsed:
    """Events of a verified JSON (Event Streams) webhook: one CloudEvent or a list of them.

    The de-duplication key is made of the CloudEvent ids (the body is signed through
    ``bodySHA256``).

    Raises:
        MalformedWebhook: not JSON, or not messaging CloudEvents.
    """
    try:
        document = load_json(body)
    except (ValueError, RecursionError):
        raise MalformedWebhook("Twilio JSON body is not valid JSON", provider=NAME) from None
    items = document if isinstance(document, list) else [document]
    if not items:
        raise MalformedWebhook("Twilio JSON body holds no events", provider=NAME)
    events = tuple(_cloud_event(item, url, now) for item in items)
    ids = ",".join(str(item.get("id", "")) for item in items)
    first = events[0]
    status = first.raw_status if isinstance(first, StatusEvent) else "received"
    key = dedupe_key(NAME, ids or first.provider_message_id, status.lower())
    order = tuple(_order(e) if isinstance(e, StatusEvent) else None for e in events)
    return Parsed(NAME, events, key, order)
