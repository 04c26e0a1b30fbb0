"""Twilio's error codes mapped to the stable categories (see docs/errors.md).

Three tables, by where an answer comes from:

* ``TWILIO_CODES``: the send and delivery codes our research classified
  (``tests/fixtures/error_classification.json``, which the tests hold it to);
* ``TWILIO_SEND_CODES``: those plus the codes of scheduled sends and cancels (protocols.md
  section 13), what every answer of the Messages API is classified with;
* ``TWILIO_MESSAGE_CODES``: for a message's own URL (cancel, fetch), where 20404 ("resource
  not found") means there is no such message. On ``Messages.json`` itself it would mean a
  wrong account or base URL, so the send table leaves 20404 to the HTTP status.
"""

from __future__ import annotations

from smsbridge.providers._codes import code_table

__all__ = ["TWILIO_CODES", "TWILIO_MESSAGE_CODES", "TWILIO_SEND_CODES"]

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
"""Twilio's send and delivery error codes -> the stable error code they raise or report
(``{"21610": "opted_out", ...}``; docs/errors.md lists them by code). A code not in it is
classified by its HTTP status."""

# 35111: ScheduleType=fixed without SendAt; 35114, 35115, 35117: SendAt outside the window or
# not in Twilio's format; 35118: scheduling without a messaging service; 35126: a ScheduleType
# Twilio does not know. 30409: the message is past "scheduled", too late to cancel.
_SCHEDULING_CODES = code_table(
    {
        "scheduling_unavailable": "35111 35114 35115 35117 35118 35126",
        "not_cancellable": "30409",
    }
)

TWILIO_SEND_CODES = {**TWILIO_CODES, **_SCHEDULING_CODES}
TWILIO_MESSAGE_CODES = {**TWILIO_SEND_CODES, "20404": "message_not_found"}
