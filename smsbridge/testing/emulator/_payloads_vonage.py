"""What the emulator's Vonage sends: its status and inbound webhooks (Messages API v1).

* ``status_body``: a status webhook (``submitted``, ``delivered``, ``rejected``,
  ``undeliverable``; an RFC 7807 ``error`` object for a failed delivery), echoing
  ``client_ref``.
* ``inbound_body``: an inbound SMS, or an MMS with one object per media kind.
* Numbers in E.164 without the ``+`` and timestamps with milliseconds, as Vonage writes them;
  the documentation addresses its error ``type`` URLs point at (``ERRORS_URL``,
  ``MESSAGES_URL``: the personality's problem answers use them too).

Apart from ``.vonage`` (routing, authentication, validation, the account) because these are
the provider's formats, not its behaviour.
"""

from __future__ import annotations

from typing import Any

from smsbridge.testing.emulator._common import (
    MessageRecord,
    Step,
    content_type_of,
    new_uuid,
    now,
    segments,
)

__all__ = [
    "DELIVERY_ERRORS",
    "ERRORS_URL",
    "MESSAGES_URL",
    "inbound_body",
    "status_body",
]

ERRORS_URL = "https://developer.vonage.com/api-errors"
MESSAGES_URL = ERRORS_URL + "/messages"
# Titles of the error codes a status webhook may carry (the Messages API error list).
DELIVERY_ERRORS = {
    "1180": "Absent subscriber temporary",
    "1210": "Anti-spam rejection",
    "1220": "Handset busy",
    "1230": "Network error",
    "1240": "Illegal number (recipient opted out with STOP)",
    "1250": "Unroutable",
    "1260": "Destination unreachable",
}


def _wire(number: str) -> str:
    """A number as Vonage writes it: E.164 without the ``+``."""
    return number[1:] if number.startswith("+") else number


def _timestamp() -> str:
    """Now as Vonage writes it: ``2020-01-01T14:00:03.010Z``."""
    moment = now()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def status_body(record: MessageRecord, step: Step) -> dict[str, Any]:
    """A status webhook (Messages API v1) of ``record`` having reached ``step``.

    Args:
        record: the message (its ``channel`` and ``client_ref`` are in ``record.extra``).
        step: the status it reached (and its error code, if it failed).

    Returns:
        The webhook's JSON object.
    """
    channel = record.extra.get("channel", "sms")
    body: dict[str, Any] = {
        "message_uuid": record.id,
        "to": _wire(record.to),
        "from": _wire(record.from_ or ""),
        "timestamp": _timestamp(),
        "status": step.status,
        "channel": channel,
    }
    if record.extra.get("client_ref") is not None:
        body["client_ref"] = record.extra["client_ref"]
    if step.status in ("submitted", "delivered"):
        body["usage"] = {"currency": "EUR", "price": f"{0.0333 * record.segments:.4f}"}
        body["destination"] = {"network_code": "310260"}
    if step.status == "submitted" and channel == "sms":
        body["sms"] = {"count_total": str(record.segments)}
    if step.error_code:
        code = step.error_code
        body["error"] = {
            "type": f"{MESSAGES_URL}#{code}",
            "title": code,
            "detail": DELIVERY_ERRORS.get(code, "Delivery failed"),
            "instance": new_uuid(),
        }
    return body


def _media_kind(url: str) -> str:
    """The inbound MMS object a media URL goes in: ``image``, ``video``, ``audio``, ``vcard``…"""
    content_type = content_type_of(url)
    if content_type in ("text/vcard", "text/x-vcard"):
        return "vcard"
    major = content_type.partition("/")[0]
    return major if major in ("image", "video", "audio") else "file"


def inbound_body(from_: str, to: str, text: str, media_urls: tuple[str, ...]) -> dict[str, Any]:
    """An inbound SMS (or, with media, MMS) webhook: a handset texted one of our numbers.

    Args:
        from_: the handset that texted.
        to: our number it texted.
        text: the message body (an MMS's ``text``, and its image's ``caption``).
        media_urls: its media (an MMS when not empty).

    Returns:
        The webhook's JSON object, with a new ``message_uuid``.
    """
    body: dict[str, Any] = {
        "channel": "mms" if media_urls else "sms",
        "message_uuid": new_uuid(),
        "to": _wire(to),
        "from": _wire(from_),
        "timestamp": _timestamp(),
    }
    if not media_urls:
        _, count = segments(text)
        keyword = text.split()[0].upper() if text.split() else ""
        body.update(text=text, message_type="text")
        body["sms"] = {"num_messages": str(count), "keyword": keyword}
        body["usage"] = {"price": "0.0057", "currency": "EUR"}
        return body
    kinds: dict[str, dict[str, str]] = {}
    for url in media_urls:  # one object per kind, as Vonage sends them
        kinds.setdefault(_media_kind(url), {"url": url})
    body["message_type"] = next(iter(kinds))
    if text:
        body["text"] = text
        if "image" in kinds:
            kinds["image"]["caption"] = text
    body.update(kinds)
    return body
