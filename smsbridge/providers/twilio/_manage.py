"""Twilio: cancelling a scheduled message and reading one back by its SID (sans-I/O).

Both use the message's own URL, ``/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json``:
a GET reads it; a form POST of ``Status=canceled`` cancels it, which Twilio allows only while
it is ``scheduled`` (afterwards it answers 30409). An unknown SID is 20404 (HTTP 404).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from smsbridge._status import MessageStatus
from smsbridge.providers._manage import (
    NOT_FOUND,
    checked_id,
    parse_time,
    text,
    unreadable_answer,
)
from smsbridge.providers.twilio._errors import TWILIO_MESSAGE_CODES
from smsbridge.providers.twilio._statuses import TWILIO_STATUS

if TYPE_CHECKING:
    from smsbridge._models import SendResult
    from smsbridge.providers.twilio._provider import Twilio

__all__ = ["cancel_request", "count", "fetch_request", "parse_cancel", "parse_fetch"]

# Message SIDs: "SM" (SMS) or "MM" (MMS) and 32 hex digits.
_MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}")
_CANCEL_BODY = urlencode([("Status", "canceled")]).encode()


def count(value: Any) -> int | None:
    """A count Twilio sends as a string (``num_segments``); ``None`` when absent, unreadable
    or 0 (a message sent through a messaging service shows 0 until a sender is picked)."""
    try:
        return int(value or 0) or None
    except (TypeError, ValueError):
        return None


def _url(twilio: Twilio, provider_message_id: str) -> httpx.URL:
    sid = checked_id(
        twilio.name, provider_message_id, _MESSAGE_SID, "'SM' or 'MM' and 32 hex digits"
    )
    return twilio._endpoint(f"/2010-04-01/Accounts/{twilio.account_sid}/Messages/{sid}.json")


def cancel_request(twilio: Twilio, provider_message_id: str) -> httpx.Request:
    """The form POST that moves a scheduled message to ``canceled``."""
    return twilio._request(
        _url(twilio, provider_message_id),
        content=_CANCEL_BODY,
        headers={
            "Authorization": twilio._authorization,
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


def fetch_request(twilio: Twilio, provider_message_id: str) -> httpx.Request:
    """The GET of one message."""
    return twilio._request(
        _url(twilio, provider_message_id),
        method="GET",
        headers={"Authorization": twilio._authorization, "Accept": "application/json"},
    )


def parse_cancel(twilio: Twilio, response: httpx.Response, provider_message_id: str) -> SendResult:
    """The cancelled message. Raises NotCancellable (30409), MessageNotFound (20404 or a
    404), or the answer's other typed error."""
    return _parse(twilio, response, provider_message_id, "cancel", MessageStatus.CANCELED)


def parse_fetch(twilio: Twilio, response: httpx.Response, provider_message_id: str) -> SendResult:
    """The message as Twilio has it. Raises MessageNotFound (20404 or a 404), or the
    answer's other typed error."""
    return _parse(twilio, response, provider_message_id, "fetch", MessageStatus.UNKNOWN)


def _parse(
    twilio: Twilio,
    response: httpx.Response,
    provider_message_id: str,
    what: str,
    default: MessageStatus,
) -> SendResult:
    payload = twilio._json(response)
    ok = 200 <= response.status_code < 300
    if ok and isinstance(payload, dict) and payload.get("sid"):
        return _result(twilio, payload, default)
    if ok:
        raise unreadable_answer(twilio.name, response.status_code, provider_message_id, what)
    raise twilio.error_from(response, payload, TWILIO_MESSAGE_CODES, NOT_FOUND)


def _result(twilio: Twilio, payload: dict[str, Any], default: MessageStatus) -> SendResult:
    """A Message object as a result. A status word smsbridge does not know maps to
    ``default`` (canceled for a cancel's answer, unknown for a fetch) and stays readable in
    ``raw_status``."""
    raw_status = text(payload.get("status"))
    status = TWILIO_STATUS.get(raw_status or "", default)
    from smsbridge._models import SendResult  # at first use: see smsbridge._models

    return SendResult(
        provider=twilio.name,
        provider_message_id=str(payload["sid"]),
        status=status,
        to=str(payload.get("to") or ""),
        # A message sent through a messaging service has no "from" until a sender is picked.
        from_=text(payload.get("from")) or text(payload.get("messaging_service_sid")),
        segments=count(payload.get("num_segments")),
        # Twilio's Message has no send time of its own; read one if a future version adds it.
        send_at=parse_time(payload.get("send_at")) if status is MessageStatus.SCHEDULED else None,
        raw_status=raw_status,
        error_code=text(payload.get("error_code")),
        raw=payload,
    )
