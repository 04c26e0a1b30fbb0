"""Telnyx wire formats for the emulator: error bodies, message payloads, webhook envelopes."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

from smsbridge.testing._emulator_common import (
    MessageRecord,
    Response,
    content_type_of,
    gateway_error,
    iso_millis,
    json_response,
    new_uuid,
    now,
)
from smsbridge.testing._emulator_delivery import Builder
from smsbridge.testing._emulator_faults import Fault
from smsbridge.testing._signers import TelnyxKeyPair, sign_telnyx

__all__ = ["edge_fault_response", "envelope_builder", "error", "inbound_payload", "payload"]

# Fake account identifiers, stable so that snapshots and demos read the same every run.
DEFAULT_PROFILE_ID = "4001e7a1-0000-4000-8000-00000000e1e1"
ORGANIZATION_ID = "0e1a7000-0000-4000-8000-00000000e1e1"

ERRORS: dict[str, tuple[int, str, str]] = {
    "10003": (400, "Invalid URL", "The URL provided is not valid."),
    "10004": (400, "Missing required parameter", "A required parameter is missing."),
    "10005": (404, "Resource not found", "The requested resource or URL could not be found."),
    "10007": (500, "Unexpected error", "An unexpected error occurred."),
    "10009": (
        401,
        "Authentication failed",
        "The required authentication headers were either invalid or not included in the request.",
    ),
    "10011": (
        429,
        "Too many requests",
        "You have exceeded the maximum number of allowed requests.",
    ),
    "10015": (400, "Bad Request", "The request could not be understood."),
    "40300": (400, "Blocked due to STOP message", "Messages cannot be sent due to a block rule."),
    "40305": (400, "Invalid 'from' address", "The 'from' address is not a valid sender."),
    "40310": (400, "Invalid 'to' address", "The 'to' address should be in +E.164 format."),
}
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


def error(
    code: str,
    detail: str | None = None,
    *,
    status: int | None = None,
    pointer: str | None = None,
    title: str | None = None,
) -> Response:
    """A Telnyx error response ``{"errors": [{code, title, detail, source?, meta}]}``."""
    default_status, default_title, default_detail = ERRORS.get(
        code, (400, f"Error {code}", "The request was rejected.")
    )
    item: dict[str, Any] = {
        "code": code,
        "title": title or default_title,
        "detail": detail or default_detail,
    }
    if pointer:
        item["source"] = {"pointer": pointer}
    item["meta"] = {"url": f"https://developers.telnyx.com/docs/overview/errors/{code}"}
    return json_response(status or default_status, {"errors": [item]})


def edge_fault_response(fault: Fault) -> Response:
    """The answer to an injected ``http_error`` or ``rate_limit`` fault."""
    if fault.kind == "rate_limit":
        response = error("10011")
        reset = str(max(0, math.ceil(fault.params["retry_after"])))
        response.headers += [
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", reset),
        ]
        return response
    status = int(fault.params["status"])
    if status in (502, 504):
        return gateway_error(status)
    detail = "The service is temporarily unavailable." if status == 503 else None
    return error("10007", detail, status=status)


def payload(record: MessageRecord, *, event: bool = False) -> dict[str, Any]:
    """An outbound message as Telnyx shows it (the ``data`` of a send, or an event payload)."""
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
    """The payload of a ``message.received`` event: a handset texted one of our numbers."""
    received = now()
    return {
        "cc": [],
        "completed_at": None,
        "cost": None,
        "cost_breakdown": None,
        "direction": "inbound",
        "encoding": None if media_urls else encoding,
        "errors": [],
        "from": {
            "carrier": "Emulated Wireless",
            "line_type": "Wireless",
            "phone_number": from_,
        },
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
    """Build each delivery attempt of one event: same event id, its attempt number, signed."""
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
