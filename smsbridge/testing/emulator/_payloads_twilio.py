"""What the emulator's Twilio sends: the Message resource and its webhooks' form params.

* ``render``: the Message resource of the 2010-04-01 API (a create, fetch, list or cancel
  answer), counts as strings and dates in RFC 2822, as Twilio writes them.
* ``status_params``: a ``StatusCallback``'s form params, in the order Twilio sends them.
* ``inbound_params``: an inbound-message webhook's form params, with a new message SID.

Apart from ``.twilio`` (routing, authentication, validation, the account) because these are
the provider's formats, not its behaviour; and ``._schedule_twilio`` renders the resource of a
cancelled message without importing the personality module, which imports it.
"""

from __future__ import annotations

from typing import Any

from smsbridge.testing.emulator._common import (
    MessageRecord,
    Step,
    content_type_of,
    now,
    random_bits,
    rfc2822,
    segments,
)
from smsbridge.testing.emulator._schedule_twilio import CANCELED, SCHEDULED

__all__ = [
    "API_VERSION",
    "DELIVERY_ERRORS",
    "inbound_params",
    "new_sid",
    "render",
    "status_params",
]

API_VERSION = "2010-04-01"
# ``error_message`` of a message that failed after acceptance.
DELIVERY_ERRORS = {
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered",
    "30008": "Unknown error",
    "30034": "Message from an unregistered number",
}

_COUNTRIES = {"+1": "US", "+44": "GB", "+33": "FR", "+49": "DE", "+61": "AU"}


def render(record: MessageRecord, account: str) -> dict[str, Any]:
    """The Message resource as Twilio shows it (counts as strings, RFC 2822 dates).

    Args:
        record: the message.
        account: the account SID the resource belongs to (its ``account_sid`` and ``uri``).

    Returns:
        The resource's JSON object.
    """
    uri = f"/2010-04-01/Accounts/{account}/Messages/{record.id}.json"
    # No sender is picked (nor segments counted) before the message leaves the service queue.
    unsent = record.status in ("accepted", SCHEDULED, CANCELED)
    code = record.error_code
    priced = record.sent_at is not None
    return {
        "account_sid": account,
        "api_version": API_VERSION,
        "body": record.text,
        "date_created": rfc2822(record.created_at),
        "date_sent": rfc2822(record.sent_at),
        "date_updated": rfc2822(record.updated_at or record.created_at),
        "direction": "outbound-api",
        "error_code": int(code) if code else None,
        "error_message": DELIVERY_ERRORS.get(code) if code else None,
        "from": None if unsent else record.from_,
        "messaging_service_sid": record.sender_pool,
        "num_media": str(len(record.media_urls)),
        "num_segments": "0" if unsent else str(record.segments),
        "price": f"-{0.0079 * record.segments:.5f}" if priced else None,
        "price_unit": "USD",
        "sid": record.id,
        "status": record.status,
        "subresource_uris": {"media": uri[: -len(".json")] + "/Media.json"},
        "to": record.to,
        "uri": uri,
    }


def status_params(record: MessageRecord, step: Step, account: str) -> list[tuple[str, str]]:
    """The form params of a status callback, in the order Twilio sends them.

    Args:
        record: the message whose status changed.
        step: the status it reached (and its error code, if it failed).
        account: the account SID (``AccountSid``).

    Returns:
        The ``(name, value)`` pairs, in the order Twilio sends them.
    """
    params = [
        ("SmsSid", record.id),
        ("SmsStatus", step.status),
        ("MessageStatus", step.status),
        ("To", record.to),
    ]
    if record.sender_pool:
        params.append(("MessagingServiceSid", record.sender_pool))
    params += [
        ("MessageSid", record.id),
        ("AccountSid", account),
        ("From", record.from_ or ""),
        ("ApiVersion", API_VERSION),
    ]
    if step.error_code:
        params.append(("ErrorCode", step.error_code))
    if step.status in ("delivered", "undelivered"):
        params.append(("RawDlrDoneDate", now().strftime("%y%m%d%H%M")))
    return params


def inbound_params(
    from_: str, to: str, text: str, media_urls: tuple[str, ...], account: str
) -> tuple[str, list[tuple[str, str]]]:
    """The message SID and form params of an inbound-message webhook.

    Args:
        from_: the handset that texted.
        to: our number it texted.
        text: the message body.
        media_urls: its media (an MMS when not empty).
        account: the account SID (``AccountSid``).

    Returns:
        The new message's SID, and the ``(name, value)`` pairs in the order Twilio sends them.
    """
    sid = new_sid("MM" if media_urls else "SM")
    _, count = segments(text)
    params = [
        ("ToCountry", _country(to)), ("ToState", ""), ("SmsMessageSid", sid),
        ("NumMedia", str(len(media_urls))), ("ToCity", ""), ("FromZip", ""), ("SmsSid", sid),
        ("FromState", ""), ("SmsStatus", "received"), ("FromCity", ""), ("Body", text),
        ("FromCountry", _country(from_)), ("To", to), ("ToZip", ""),
        ("NumSegments", str(count)), ("ReferralNumMedia", "0"), ("MessageSid", sid),
        ("AccountSid", account), ("From", from_),
    ]  # fmt: skip
    for index, media_url in enumerate(media_urls):
        params += [(f"MediaContentType{index}", content_type_of(media_url))]
        params += [(f"MediaUrl{index}", media_url)]
    params.append(("ApiVersion", API_VERSION))
    return sid, params


def new_sid(prefix: str) -> str:
    """A Twilio-style SID: two letters and 32 hex digits.

    Args:
        prefix: the two letters (``SM`` for an SMS, ``MM`` for an MMS).

    Returns:
        A new random SID.
    """
    return f"{prefix}{random_bits(128):032x}"


def _country(number: str) -> str:
    """Twilio's geo lookup, reduced to a few country codes (other fields stay empty)."""
    return next((c for prefix, c in _COUNTRIES.items() if number.startswith(prefix)), "")
