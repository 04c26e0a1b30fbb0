"""Twilio wire formats for the emulator: error bodies, the Message resource, webhook params."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from smsbridge.testing._emulator_common import (
    MessageRecord,
    Response,
    Step,
    content_type_of,
    gateway_error,
    json_response,
    new_uuid,
    now,
    rfc2822,
    segments,
    twilio_sid,
)
from smsbridge.testing._emulator_delivery import Builder
from smsbridge.testing._emulator_faults import Fault
from smsbridge.testing._emulator_state import Config
from smsbridge.testing._signers import sign_twilio

__all__ = [
    "API_VERSION",
    "edge_fault_response",
    "error",
    "form_builder",
    "inbound_params",
    "render",
    "status_params",
]

API_VERSION = "2010-04-01"

ERRORS: dict[str, tuple[int, str]] = {
    "20001": (400, "Invalid parameter"),
    "20003": (401, "Authenticate"),
    "20004": (405, "Method not allowed"),
    "20404": (404, "The requested resource was not found"),
    "20429": (429, "Too Many Requests"),
    "20500": (500, "An internal server error has occurred"),
    "20503": (503, "Service unavailable"),
    "21211": (400, "Invalid 'To' Phone Number"),
    "21212": (400, "Invalid 'From' Phone Number"),
    "21408": (400, "Permission to send an SMS has not been enabled for the region"),
    "21602": (400, "Message body is required."),
    "21603": (400, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."),
    "21604": (400, "A 'To' phone number is required."),
    "21609": (400, "Invalid 'StatusCallback'"),
    "21606": (400, "The 'From' phone number is not a valid, SMS-capable Twilio phone number"),
    "21610": (400, "Attempt to send to unsubscribed recipient"),
    "21612": (400, "The 'To' phone number is not currently reachable via SMS"),
    "21614": (400, "'To' number is not a valid mobile number"),
    "21617": (400, "The concatenated message body exceeds the 1600 character limit"),
}
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


def error(code: str | int, message: str | None = None, status: int | None = None) -> Response:
    """A Twilio error response ``{code, message, more_info, status}``."""
    default_status, default_message = ERRORS.get(str(code), (400, f"Error {code}"))
    status = status or default_status
    body = {
        "code": int(code),
        "message": message or default_message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = [("WWW-Authenticate", 'Basic realm="Twilio API"')] if status == 401 else []
    return json_response(status, body, headers)


def edge_fault_response(fault: Fault) -> Response:
    """The answer to an injected ``http_error`` or ``rate_limit`` fault."""
    if fault.kind == "rate_limit":
        retry_after = fault.params["retry_after"]
        response = error(20429)
        response.headers.append(("Retry-After", str(max(0, round(retry_after)))))
        return response
    status = int(fault.params["status"])
    if status in (502, 504):
        return gateway_error(status)
    return error(20500 if status == 500 else 20503, status=status)


def render(record: MessageRecord, account: str) -> dict[str, Any]:
    """The Message resource as Twilio shows it (counts as strings, RFC 2822 dates)."""
    uri = f"/2010-04-01/Accounts/{account}/Messages/{record.id}.json"
    accepted = record.status == "accepted"
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
        "from": None if accepted else record.from_,
        "messaging_service_sid": record.sender_pool,
        "num_media": str(len(record.media_urls)),
        "num_segments": "0" if accepted else str(record.segments),
        "price": f"-{0.0079 * record.segments:.5f}" if priced else None,
        "price_unit": "USD",
        "sid": record.id,
        "status": record.status,
        "subresource_uris": {"media": uri[: -len(".json")] + "/Media.json"},
        "to": record.to,
        "uri": uri,
    }


def status_params(record: MessageRecord, step: Step, account: str) -> list[tuple[str, str]]:
    """The form params of a status callback, in the order Twilio sends them."""
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
    """The message SID and form params of an inbound-message webhook."""
    sid = twilio_sid("MM" if media_urls else "SM")
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


def form_builder(params: list[tuple[str, str]], config: Config) -> Builder:
    """Build each attempt of a form-encoded callback: signed, with one idempotency token."""
    body = urlencode(params).encode()
    # One token per callback: a retry of the same callback would carry the same one.
    token = new_uuid()

    def build(url: str, attempt: int) -> tuple[bytes, dict[str, str]]:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": token,
            **sign_twilio(
                url,
                params,
                auth_token=config.twilio_auth_token,
                shared_key=config.twilio_shared_key,
            ),
        }
        return body, headers

    return build


_COUNTRIES = {"+1": "US", "+44": "GB", "+33": "FR", "+49": "DE", "+61": "AU"}


def _country(number: str) -> str:
    """Twilio's geo lookup, reduced to a few country codes (other fields stay empty)."""
    return next((c for prefix, c in _COUNTRIES.items() if number.startswith(prefix)), "")
