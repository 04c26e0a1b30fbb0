"""Twilio's Message Scheduling, as the emulator plays it (the rest of Twilio: ``.twilio``, and
its resource and webhook formats: ``._payloads_twilio``).

* Create: the usual ``POST .../Messages.json`` with ``ScheduleType=fixed``, ``SendAt`` (ISO 8601
  UTC, ``YYYY-MM-DDTHH:MM:SSZ``) and a ``MessagingServiceSid``; the message starts ``scheduled``
  (``from`` null, ``num_segments`` "0", ``date_sent`` null) and at ``SendAt`` goes ``queued →
  sent → delivered`` with the usual status callbacks.
* Window: more than 300 seconds and at most 35 days ahead of the emulator's clock.
* Cancel: ``POST .../Messages/{Sid}.json`` with ``Status=canceled`` while ``scheduled``: 200 and
  the Message resource, ``status`` ``canceled``, and a ``canceled`` status callback (Twilio does
  not document one either way; an application wants to hear that its message will not go).
  Otherwise 400, error 30409.

Codes (Twilio's error pages give 35114, 35115 and 35117 one shared description, "Scheduling
does not support this timestamp"; which one answers which case is the emulator's choice):

=====  ==================================================================================
35111  ``ScheduleType=fixed`` without ``SendAt``
35114  ``SendAt`` 300 seconds or less ahead (too soon, or in the past)
35115  ``SendAt`` more than 35 days ahead
35117  ``SendAt`` not an ISO 8601 date-time
35118  scheduling without a ``MessagingServiceSid`` (an old support article says Twilio then
       drops the scheduling and sends at once; the error page, followed here, says 35118)
35126  a ``ScheduleType`` other than ``fixed``, or ``SendAt`` without ``ScheduleType`` (Twilio's
       behaviour for the latter is undocumented; refusing it beats silently sending now)
30409  cancelling a message that is not ``scheduled`` (any more)
=====  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from smsbridge.testing.emulator._common import Request, Response, json_response
from smsbridge.testing.emulator._schedule import parse_instant

if TYPE_CHECKING:
    from smsbridge.testing.emulator.twilio import TwilioPersonality

__all__ = ["CANCELED", "SCHEDULED", "WINDOW", "cancel", "send_at"]

SCHEDULED = "scheduled"
CANCELED = "canceled"  # one l: Twilio's spelling
WINDOW = (timedelta(seconds=300), timedelta(days=35))
ERRORS = {
    "30409": "This message cannot be canceled",
    "35111": "SendAt timestamp is missing: ScheduleType 'fixed' needs a SendAt",
    "35114": "Scheduling does not support this timestamp: SendAt must be more than 300 seconds "
    "in the future",
    "35115": "Scheduling does not support this timestamp: SendAt must be at most 35 days "
    "(3024000 seconds) in the future",
    "35117": "Scheduling does not support this timestamp: SendAt must be an ISO 8601 date-time "
    "in UTC, YYYY-MM-DDTHH:MM:SSZ",
    "35118": "MessagingServiceSid is required to schedule a message",
    "35126": "The ScheduleType value provided is not supported: it must be 'fixed', with a SendAt",
}


def send_at(params: Mapping[str, str], now: datetime) -> datetime | Response | None:
    """When a create request asks its message to go: ``None`` (now), the ``SendAt`` moment, or
    the error answer to a scheduling request Twilio would refuse."""
    kind, raw = params.get("ScheduleType"), params.get("SendAt")
    if kind is None and raw is None:
        return None
    if kind != "fixed":
        return _error("35126")
    if not raw:
        return _error("35111")
    if not params.get("MessagingServiceSid"):
        return _error("35118")
    moment = parse_instant(raw)
    if moment is None:
        return _error("35117")
    lead = moment - now
    if lead <= WINDOW[0]:
        return _error("35114")
    if lead > WINDOW[1]:
        return _error("35115")
    return moment


def cancel(api: TwilioPersonality, message_id: str, request: Request) -> Response:
    """Answer ``POST .../Messages/{Sid}.json``: ``Status=canceled`` cancels a scheduled message.

    The emulator supports no other update (Twilio's ``Body=""`` redaction answers 20001).
    """
    # Imported here: twilio.py and _payloads_twilio.py both import this module.
    from smsbridge.testing.emulator._payloads_twilio import render
    from smsbridge.testing.emulator.twilio import error

    form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    if form.get("Status") != CANCELED:
        return error(20001, "Invalid parameter: the emulator only updates Status to canceled")
    outcome = api.state.cancel(api.name, message_id, CANCELED, announce=api.status_callback)
    if outcome == "not_found":
        return error(20404, f"The requested resource {request.path} was not found")
    if isinstance(outcome, str):  # not cancellable: released already, or never scheduled
        return _error("30409")
    return json_response(200, render(outcome, api.account_sid))


def _error(code: str) -> Response:
    from smsbridge.testing.emulator.twilio import error

    return error(code, ERRORS[code], 400)
