"""Telnyx's error codes mapped to the stable categories (see docs/errors.md).

``TELNYX_CODES`` holds the codes our research classified (``tests/fixtures/
error_classification.json``, which the tests hold it to). ``TELNYX_MESSAGE_CODES`` is for a
message's own URL (``/v2/messages/{id}``: cancel, fetch), where 10005 ("resource not found",
HTTP 404) means there is no such message; elsewhere it means a wrong path, a bad request.
"""

from __future__ import annotations

from smsbridge.providers._codes import code_table

__all__ = ["TELNYX_CODES", "TELNYX_MESSAGE_CODES"]


TELNYX_CODES = code_table(
    {
        "invalid_recipient": "10001 10002 10016 40001 40012 40301 40310 40319",
        "opted_out": "40300",
        "content_rejected": "40002 40009 40015 40017 40322",
        "invalid_request": "10003 10004 10005 10006 10015 40302 40304 40316 40317 40328",
        "sender_config": (
            "40003 40010 40013 40100 40150 40151 40305 40306 40308 40309 40312 40315 40320 "
            "40321 40329"
        ),
        "auth_or_account": "10009 10010 20002 20006 20012-20017 20100 40311 40313 40314",
        "rate_limited": "10011 40011 40014 40016 40018 40318",
        "provider_unavailable": "10007 10008",
        "carrier_transient": "40004 40005 40006",
        "carrier_route": "40008",
    }
)
"""Telnyx's error codes -> the stable error code they raise or report
(``{"40300": "opted_out", ...}``; docs/errors.md lists them by code). A code not in it is
classified by its HTTP status."""

TELNYX_MESSAGE_CODES = {**TELNYX_CODES, "10005": "message_not_found"}
