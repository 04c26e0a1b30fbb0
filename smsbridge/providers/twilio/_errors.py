"""Twilio's error codes mapped to the stable categories (see docs/errors.md)."""

from __future__ import annotations

from smsbridge.providers._codes import code_table

__all__ = ["TWILIO_CODES"]

TWILIO_CODES = code_table(
    {
        "invalid_recipient": "21211 21614 30005 30006",
        "opted_out": "21610 30004",
        "content_rejected": "30007",
        "invalid_request": "21602 21617",
        "sender_config": "21408 21606 21612 30010 30032 30034",
        "auth_or_account": "20003 30002",
        "rate_limited": "20429 14107 30001 30022 30023",
        "provider_unavailable": "20500 20503",
        "carrier_transient": "30003 30009",
        "carrier_route": "30008",
    }
)
