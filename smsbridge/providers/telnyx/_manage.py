"""Telnyx: cancelling a scheduled message and reading one back by its id (sans-I/O).

Both use ``/v2/messages/{id}``: a GET reads the message (``{"data": {...}}``); a DELETE
cancels it, which Telnyx allows only while it is ``scheduled`` and more than a minute before
its ``send_at``, and answers with the message, now ``cancelled`` (its API reference shows the
object without the ``data`` wrapper; both shapes are read). An unknown id is 10005 (HTTP 404).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx

from smsbridge._errors import InvalidRequest
from smsbridge._status import MessageStatus
from smsbridge.providers._codes import recast
from smsbridge.providers._manage import (
    NOT_FOUND,
    checked_id,
    parse_time,
    text,
    unreadable_answer,
)
from smsbridge.providers.telnyx._errors import TELNYX_MESSAGE_CODES
from smsbridge.providers.telnyx._statuses import TELNYX_STATUS

if TYPE_CHECKING:
    from smsbridge._models import SendResult
    from smsbridge.providers.telnyx._provider import Telnyx

__all__ = [
    "cancel_request",
    "error_code",
    "fetch_request",
    "first_recipient",
    "parse_cancel",
    "parse_fetch",
    "sender",
]

# Telnyx message ids are UUIDs (its API reference types the path parameter so).
_MESSAGE_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def first_recipient(data: dict[str, Any]) -> dict[str, Any]:
    """``to[0]``: the recipient and its status (a message has one ``to``)."""
    to = data.get("to")
    return to[0] if isinstance(to, list) and to and isinstance(to[0], dict) else {}


def sender(data: dict[str, Any]) -> str | None:
    """The sending number: ``from.phone_number`` (or a plain ``from``)."""
    value = data.get("from")
    return text(value.get("phone_number") if isinstance(value, dict) else value)


def error_code(data: dict[str, Any]) -> str | None:
    """The code of the message's first error (``errors[0].code``), if it failed."""
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return text(errors[0].get("code"))
    return None


def _url(telnyx: Telnyx, provider_message_id: str) -> httpx.URL:
    message_id = checked_id(telnyx.name, provider_message_id, _MESSAGE_ID, "a UUID")
    return telnyx._endpoint(f"/v2/messages/{message_id}")


def _headers(telnyx: Telnyx) -> dict[str, str]:
    # No Content-Type: neither request has a body.
    return {
        "Authorization": telnyx._headers["Authorization"],
        "Accept": "application/json",
    }


def cancel_request(telnyx: Telnyx, provider_message_id: str) -> httpx.Request:
    """The DELETE that cancels a scheduled message."""
    url = _url(telnyx, provider_message_id)
    return telnyx._request(url, method="DELETE", headers=_headers(telnyx))


def fetch_request(telnyx: Telnyx, provider_message_id: str) -> httpx.Request:
    """The GET of one message."""
    url = _url(telnyx, provider_message_id)
    return telnyx._request(url, method="GET", headers=_headers(telnyx))


def parse_cancel(telnyx: Telnyx, response: httpx.Response, provider_message_id: str) -> SendResult:
    """The cancelled message.

    Telnyx documents no code for "too late to cancel". The DELETE carries nothing but an id
    already checked to be a UUID, so a Telnyx error answer that would otherwise read as a bad
    request (a code classified invalid_request, or an unknown code with a 4xx other than 401,
    403, 404 and 429) can only be about the message's state: it is NotCancellable. A 404 is
    MessageNotFound; an answer that is not Telnyx's error shape keeps its HTTP reading.
    """
    payload = telnyx._json(response)
    result = _accepted(telnyx, response, payload, provider_message_id, "cancel")
    if result is not None:
        return result
    error = telnyx.error_from(response, payload, TELNYX_MESSAGE_CODES, NOT_FOUND)
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if type(error) is InvalidRequest and errors and response.status_code != 404:
        error = recast(error, "not_cancellable")
    raise error


def parse_fetch(telnyx: Telnyx, response: httpx.Response, provider_message_id: str) -> SendResult:
    """The message as Telnyx has it. Raises MessageNotFound (10005 or a 404), or the
    answer's other typed error."""
    payload = telnyx._json(response)
    result = _accepted(telnyx, response, payload, provider_message_id, "fetch")
    if result is not None:
        return result
    raise telnyx.error_from(response, payload, TELNYX_MESSAGE_CODES, NOT_FOUND)


def _accepted(
    telnyx: Telnyx, response: httpx.Response, payload: Any, provider_message_id: str, what: str
) -> SendResult | None:
    """The result of a 2xx answer, ``None`` for an error answer.

    Raises:
        UnexpectedError: a 2xx answer without a readable message.
    """
    if not 200 <= response.status_code < 300:
        return None
    if isinstance(payload, dict):
        data = payload.get("data", payload)
        if isinstance(data, dict) and data.get("id"):
            default = MessageStatus.CANCELED if what == "cancel" else MessageStatus.UNKNOWN
            return _result(telnyx, data, default)
    raise unreadable_answer(telnyx.name, response.status_code, provider_message_id, what)


def _result(telnyx: Telnyx, data: dict[str, Any], default: MessageStatus) -> SendResult:
    """A message payload as a result. A status word smsbridge does not know maps to
    ``default`` (canceled for a cancel's answer, unknown for a fetch) and stays readable in
    ``raw_status``."""
    first = first_recipient(data)
    raw_status = text(first.get("status"))
    status = TELNYX_STATUS.get(raw_status or "", default)
    parts = data.get("parts")
    from smsbridge._models import SendResult  # at first use: see smsbridge._models

    return SendResult(
        provider=telnyx.name,
        provider_message_id=str(data["id"]),
        status=status,
        to=str(first.get("phone_number") or ""),
        from_=sender(data),
        segments=parts if isinstance(parts, int) and parts > 0 else None,
        encoding=data.get("encoding") if data.get("encoding") in ("GSM-7", "UCS-2") else None,
        # The payload Telnyx documents has no send time; read one where an answer has it.
        send_at=parse_time(data.get("send_at")) if status is MessageStatus.SCHEDULED else None,
        raw_status=raw_status,
        error_code=error_code(data),
        raw=data,
    )
