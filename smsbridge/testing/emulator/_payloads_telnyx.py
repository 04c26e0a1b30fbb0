"""What the emulator's Telnyx sends: the message record and its signed webhook envelopes.

* ``payload``: an outbound message as Messaging v2 shows it: the ``data`` of a send or fetch
  answer, a cancel's whole answer, the ``payload`` of ``message.sent`` / ``message.finalized``.
* ``inbound_payload``: the ``payload`` of a ``message.received`` event.
* ``envelope_builder``: an event's ``{"data", "meta"}`` envelope, signed with Ed25519, for each
  delivery attempt.

Apart from ``.telnyx`` (routing, authentication, validation, idempotency, the account) because
these are the provider's formats, not its behaviour; and ``._schedule_telnyx`` answers a cancel
with the message without importing the personality module, which imports it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from smsbridge.providers.telnyx._signer import TelnyxKeyPair, sign_telnyx
from smsbridge.testing.emulator._common import (
    MessageRecord,
    content_type_of,
    iso_millis,
    new_uuid,
    now,
)
from smsbridge.testing.emulator._delivery import Builder

__all__ = [
    "DEFAULT_PROFILE_ID",
    "DELIVERY_ERRORS",
    "ORGANIZATION_ID",
    "envelope_builder",
    "inbound_payload",
    "payload",
]

# Fake account identifiers, stable so that snapshots and demos read the same every run.
DEFAULT_PROFILE_ID = "4001e7a1-0000-4000-8000-00000000e1e1"
ORGANIZATION_ID = "0e1a7000-0000-4000-8000-00000000e1e1"
# Titles of errors reported after acceptance (``message.finalized`` ``errors[]``).
DELIVERY_ERRORS: dict[str, tuple[str, str]] = {
    "40001": ("Not routable", "The destination number is not routable."),
    "40002": ("Blocked as spam - temporary", "The message was flagged as spam."),
    "40003": ("Blocked as spam - permanent", "The message was flagged as spam."),
    "40004": ("Rejected by destination", "The destination rejected the message."),
    "40005": ("Message expired during transmission", "The message expired in transit."),
    "40006": ("Recipient server unavailable", "The recipient's carrier was unavailable."),
    "40008": ("Undeliverable", "The recipient carrier did not accept the message."),
    "40014": ("Message expired in queue", "The message expired before it could be sent."),
}


def payload(record: MessageRecord, *, event: bool = False) -> dict[str, Any]:
    """An outbound message as Telnyx shows it (the ``data`` of a send, or an event payload).

    Args:
        record: the message.
        event: for a webhook event's ``payload``: with the ``tcr_campaign_*`` fields events
            carry, without the API answer's ``smart_encoding_applied`` and ``wait_seconds``.

    Returns:
        The message's JSON object.
    """
    final = record.completed_at is not None
    errors = []
    if record.error_code:
        title, detail = DELIVERY_ERRORS.get(record.error_code, ("Delivery failed", ""))
        errors.append({"code": record.error_code, "title": title, "detail": detail})
    cost = {"amount": f"{0.004 * record.segments:.4f}", "currency": "USD"}
    body: dict[str, Any] = {
        "record_type": "message",
        "direction": "outbound",
        "id": record.id,
        "type": "MMS" if record.media_urls else "SMS",
        "messaging_profile_id": record.sender_pool or DEFAULT_PROFILE_ID,
        "organization_id": ORGANIZATION_ID,
        "from": {"phone_number": record.from_, "carrier": "Telnyx", "line_type": "Wireless"},
        "to": [
            {
                "phone_number": record.to,
                "status": record.status,
                "carrier": "Emulated Wireless",
                "line_type": "Wireless",
            }
        ],
        "cc": [],
        "text": record.text,
        "subject": record.extra.get("subject"),
        "media": [
            {"url": url, "content_type": content_type_of(url), "size": None, "sha256": None}
            for url in record.media_urls
        ],
        "webhook_url": record.callback_url,
        "webhook_failover_url": record.failover_url,
        "encoding": record.encoding,
        "parts": record.segments,
        "tags": list(record.extra.get("tags", [])),
        "cost": cost if final else None,
        "cost_breakdown": {
            "carrier_fee": {"amount": f"{0.003 * record.segments:.4f}", "currency": "USD"},
            "rate": {"amount": f"{0.001 * record.segments:.4f}", "currency": "USD"},
        }
        if final
        else None,
        "received_at": iso_millis(record.created_at),
        "sent_at": iso_millis(record.sent_at),
        "completed_at": iso_millis(record.completed_at),
        "valid_until": iso_millis(record.created_at + timedelta(hours=4)),
        "errors": errors,
        "smart_encoding_applied": False,
        "wait_seconds": 0.0,
    }
    if record.send_at is not None:
        body["send_at"] = iso_millis(record.send_at)
    if event:
        body.update(
            tcr_campaign_billable=True,
            tcr_campaign_id="CEMULATOR",
            tcr_campaign_registered="REGISTERED",
        )
        del body["smart_encoding_applied"], body["wait_seconds"]
    return body


def inbound_payload(
    from_: str, to: str, text: str, media_urls: tuple[str, ...], url: str, encoding: str, parts: int
) -> dict[str, Any]:
    """The payload of a ``message.received`` event: a handset texted one of our numbers.

    Args:
        from_: the handset that texted.
        to: our number it texted.
        text: the message body.
        media_urls: its media (an MMS when not empty).
        url: the webhook URL the event goes to (its ``webhook_url``).
        encoding: the body's encoding (``GSM-7`` or ``UCS-2``; ``None`` is shown for an MMS).
        parts: the body's segment count.

    Returns:
        The payload's JSON object, with a new message id.
    """
    received = now()
    return {
        "cc": [],
        "completed_at": None,
        "cost": None,
        "cost_breakdown": None,
        "direction": "inbound",
        "encoding": None if media_urls else encoding,
        "errors": [],
        "from": {"carrier": "Emulated Wireless", "line_type": "Wireless", "phone_number": from_},
        "id": new_uuid(),
        "media": [
            {"url": u, "content_type": content_type_of(u), "size": None, "hash_sha256": None}
            for u in media_urls
        ],
        "messaging_profile_id": DEFAULT_PROFILE_ID,
        "organization_id": ORGANIZATION_ID,
        "parts": parts,
        "received_at": iso_millis(received),
        "record_type": "message",
        "sent_at": None,
        "subject": "",
        "tags": [],
        "text": text,
        "to": [
            {
                "carrier": "Telnyx",
                "line_type": "Wireless",
                "phone_number": to,
                "status": "webhook_delivered",
            }
        ],
        "type": "MMS" if media_urls else "SMS",
        "valid_until": None,
        "webhook_failover_url": None,
        "webhook_url": url,
    }


def envelope_builder(event_type: str, body: dict[str, Any], keys: TelnyxKeyPair) -> Builder:
    """Build each delivery attempt of one event: same event id, its attempt number, signed.

    Args:
        event_type: ``message.sent``, ``message.finalized`` or ``message.received``.
        body: the event's ``payload``.
        keys: the Ed25519 key pair that signs each attempt.

    Returns:
        A builder of ``(body, headers)`` for a URL and attempt number.
    """
    event_id = new_uuid()
    occurred_at = iso_millis(now())

    def build(url: str, attempt: int) -> tuple[bytes, dict[str, str]]:
        envelope = {
            "data": {
                "event_type": event_type,
                "id": event_id,
                "occurred_at": occurred_at,
                "payload": body,
                "record_type": "event",
            },
            "meta": {"attempt": attempt, "delivered_to": url},
        }
        raw = json.dumps(envelope, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "telnyx-webhooks",
            **sign_telnyx(raw, signing_key=keys),
        }
        return raw, headers

    return build
