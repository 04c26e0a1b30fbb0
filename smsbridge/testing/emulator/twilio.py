"""The emulator's Twilio: the 2010-04-01 Messages API, status callbacks and inbound webhooks.

* API: ``POST``/``GET .../Accounts/{sid}/Messages.json`` (send, list with ``To``/``From``/
  ``DateSent`` filters and pages), ``GET .../Messages/{sid}.json``; Basic auth with the account
  SID and auth token, or an API key (``twilio_api_keys``). Scheduling (``SendAt``) and cancel
  (``POST .../Messages/{sid}.json``, ``Status=canceled``): ``._schedule_twilio``.
* Webhooks: form-encoded, signed with ``X-Twilio-Signature`` (the auth token, or a SharedKey:
  ``twilio_shared_key``), with an ``I-Twilio-Idempotency-Token``.
* Wire formats (the Message resource, status callback and inbound webhook params):
  ``._payloads_twilio``.
* Options: ``twilio_account_sid``, ``twilio_auth_token``, ``twilio_api_keys``,
  ``twilio_shared_key`` (and ``twilio_port``); attributes ``emu.twilio_account_sid``,
  ``emu.twilio_auth_token`` (and ``emu.twilio_url``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any, ClassVar
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from smsbridge._models import MessageStatus
from smsbridge.providers.twilio._signer import sign_twilio
from smsbridge.providers.twilio._signing import TwilioAlgorithm
from smsbridge.providers.twilio._statuses import TWILIO_STATUS
from smsbridge.testing.emulator import _schedule_twilio as scheduling
from smsbridge.testing.emulator._common import (
    MessageRecord,
    Request,
    Response,
    Step,
    gateway_error,
    is_e164,
    is_sender,
    json_response,
    new_uuid,
    segments,
)
from smsbridge.testing.emulator._delivery import Builder, Delivery
from smsbridge.testing.emulator._faults import Fault
from smsbridge.testing.emulator._payloads_twilio import (
    API_VERSION,
    inbound_params,
    new_sid,
    render,
    status_params,
)
from smsbridge.testing.emulator._personality import Personality
from smsbridge.testing.emulator._state import EmulatorState

__all__ = ["PERSONALITY", "TwilioPersonality"]

DEFAULT_ACCOUNT_SID = "AC" + "e1" * 16
# Fake credentials of the emulated account: they open nothing but this local emulator.
DEFAULT_AUTH_TOKEN = "emulator0auth0token0not0a0secret"  # noqa: S105
POOL_NUMBER = "+15005550006"  # the sender of messages sent through a Messaging Service

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
_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)(?P<rest>/.*)?$")
_MESSAGES = re.compile(r"^/Messages\.json$")
_DATE_FILTERS = ("DateSent", "DateSent>", "DateSent<")
_MESSAGE = re.compile(r"^/Messages/(?P<id>[^/]+)\.json$")


class TwilioPersonality(Personality):
    """Answers Twilio Messages API requests from the shared emulator state.

    Examples:
        Its options are ``Emulator`` keywords, its account the emulator's attributes:

        >>> from smsbridge.testing import Emulator
        >>> with Emulator(twilio_auth_token="test-token") as emu:
        ...     print(emu.twilio_auth_token, emu.twilio_url.startswith("http://127.0.0.1:"))
        test-token True
    """

    name: ClassVar[str] = "twilio"
    title: ClassVar[str] = "Twilio"
    rank: ClassVar[int] = 10
    path_prefixes: ClassVar[tuple[str, ...]] = (f"/{API_VERSION}/",)
    options: ClassVar[Mapping[str, Any]] = {
        "twilio_account_sid": DEFAULT_ACCOUNT_SID,
        "twilio_auth_token": DEFAULT_AUTH_TOKEN,
        "twilio_api_keys": None,  # {"SK...": secret}: API keys accepted besides the token
        "twilio_shared_key": None,  # (sid, secret, algorithm): sign webhooks with a SharedKey
    }
    secret_options: ClassVar[tuple[str, ...]] = ("twilio_auth_token",)
    cli_options: ClassVar[Mapping[str, str]] = {
        "twilio_account_sid": "account SID the emulator accepts",
        "twilio_auth_token": "auth token the emulator accepts and signs with",
    }
    statuses: ClassVar[Mapping[str, MessageStatus]] = TWILIO_STATUS
    delivery_failures: ClassVar[Mapping[str, str | None]] = {
        "undelivered": "30003",
        "failed": "30003",
    }
    example_error_code: ClassVar[str] = "21610"

    def __init__(self, state: EmulatorState, options: Mapping[str, Any]) -> None:
        super().__init__(state, options)
        self.account_sid: str = options["twilio_account_sid"]
        self.auth_token: str = options["twilio_auth_token"]
        self.api_keys: dict[str, str] = dict(options["twilio_api_keys"] or {})
        self.shared_key: tuple[str, str, TwilioAlgorithm] | None = options["twilio_shared_key"]

    # -- the account ----------------------------------------------------------------------------

    def attributes(self) -> Mapping[str, str]:
        """``twilio_account_sid`` and the (fake) ``twilio_auth_token`` that signs webhooks."""
        return {"twilio_account_sid": self.account_sid, "twilio_auth_token": self.auth_token}

    def environment(self, base_url: str) -> dict[str, str]:
        """``TWILIO_BASE_URL``, ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM``."""
        return {
            "TWILIO_BASE_URL": base_url,
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM": POOL_NUMBER,
        }

    def info(self, base_url: str) -> dict[str, Any]:
        """The base URL, account SID, auth token and the SIDs of the accepted API keys."""
        return {
            "base_url": base_url,
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "api_key_sids": sorted(self.api_keys),
        }

    # -- the API --------------------------------------------------------------------------------

    def is_send(self, request: Request) -> bool:
        """Whether ``request`` creates a message (the requests faults match by default)."""
        match = _ACCOUNT.match(request.path)
        return bool(request.method == "POST" and match and _MESSAGES.match(match["rest"] or ""))

    def handle(self, request: Request) -> Response:
        """Route an authenticated request under ``/2010-04-01``."""
        match = _ACCOUNT.match(request.path)
        if match is None:
            return error(20404, f"The requested resource {request.path} was not found")
        denied = self._authenticate(request, match["sid"])
        if denied is not None:
            return denied
        rest = match["rest"] or ""
        if _MESSAGES.match(rest):
            if request.method == "POST":
                return self._create(request)
            if request.method == "GET":
                return self._list(request)
            return error(20004)
        found = _MESSAGE.match(rest)
        if found:
            if request.method == "POST":  # an update: Status=canceled cancels a scheduled message
                return scheduling.cancel(self, found["id"], request)
            if request.method != "GET":
                return error(20004)
            record = self.state.get_message(self.name, found["id"])
            if record is None:
                return error(20404, f"The requested resource {request.path} was not found")
            return json_response(200, render(record, self.account_sid))
        return error(20404, f"The requested resource {request.path} was not found")

    def edge_fault(self, fault: Fault) -> Response:
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

    def _authenticate(self, request: Request, path_sid: str) -> Response | None:
        header = request.header("authorization") or ""
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic" or not user:
            return error(20003, "Authentication Error - No credentials provided")
        expected = self.api_keys.get(user)
        if user == self.account_sid:
            expected = self.auth_token
        if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
            return error(20003)
        if path_sid != self.account_sid:
            return error(20003, "Authenticate: credentials do not grant access to this account")
        return None

    def _create(self, request: Request) -> Response:
        content_type = request.header("content-type") or ""
        pairs: list[tuple[str, str]] = []
        if content_type.startswith("application/x-www-form-urlencoded"):
            pairs = parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        params: dict[str, str] = {}
        for name, value in pairs:
            params.setdefault(name, value)
        media = tuple(value for name, value in pairs if name == "MediaUrl" and value)
        to, from_ = params.get("To", ""), params.get("From", "")
        service, body = params.get("MessagingServiceSid", ""), params.get("Body", "")
        callback = params.get("StatusCallback", "")
        if not to:
            return error(21604)
        if not is_e164(to):
            return error(21211, f"Invalid 'To' Phone Number: {to}")
        if not from_ and not service:
            return error(21603)
        if from_ and not is_sender(from_):
            return error(21212, f"Invalid 'From' Phone Number: {from_}")
        if not body and not media:
            return error(21602)
        if len(body) > 1600:
            return error(21617)
        if callback and not _valid_callback(callback):
            return error(21609)
        send_at = scheduling.send_at(params, self.state.now())
        if isinstance(send_at, Response):
            return send_at
        if self.state.is_opted_out(self.name, to):
            return error(21610)
        terminal, failing = self.state.faults.take_message(self.name)
        if terminal is not None and terminal.kind == "error_code":
            params_ = terminal.params
            return error(params_["code"], params_["message"], params_["status"])
        encoding, count = segments(body)
        record = MessageRecord(
            provider=self.name,
            id=new_sid("MM" if media else "SM"),
            to=to,
            from_=from_ or POOL_NUMBER,
            text=body,
            media_urls=media,
            status=scheduling.SCHEDULED if send_at else "accepted" if service else "queued",
            created_at=self.state.now(),
            send_at=send_at,
            callback_url=callback or None,
            sender_pool=service or None,
            encoding=encoding,
            segments=1 if media else count,
        )
        self.state.add_message(record)
        steps = [Step("queued")] if service else []
        if failing is None:
            steps += [Step("sent"), Step("delivered")]
        elif failing.params["status"] == "failed":
            steps += [Step("failed", failing.params["code"])]
        else:
            steps += [Step("sent"), Step("undelivered", failing.params["code"])]
        # A scheduled message takes its steps (queued first: it has a service) at SendAt.
        (self.state.hold if send_at else self.state.progress)(record, steps, self.status_callback)
        if terminal is not None and terminal.kind == "accept_then_hang":
            return Response(action="hang")
        if terminal is not None:  # http_error with accept=True: accepted, but the answer is lost
            return self.edge_fault(terminal)
        return json_response(201, render(record, self.account_sid))

    def _list(self, request: Request) -> Response:
        query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        try:
            page = int(query.get("Page", "0"))
            size = min(1000, int(query.get("PageSize", "50")))
            bounds = {k: _parse_date(query[k]) for k in _DATE_FILTERS if query.get(k)}
        except ValueError:
            return error(20001)
        if page < 0 or size < 1:
            return error(20001)
        records = [
            r
            for r in self.state.list_messages(self.name)
            if query.get("To", r.to) == r.to
            and query.get("From", r.from_) == r.from_
            and _in_bounds(r, bounds)
        ]
        records.sort(key=lambda r: r.created_at, reverse=True)
        chosen = records[page * size : (page + 1) * size]
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(number: int) -> str:
            return f"{base}?{urlencode({**filters, 'PageSize': size, 'Page': number})}"

        more = len(records) > (page + 1) * size
        return json_response(
            200,
            {
                "messages": [render(r, self.account_sid) for r in chosen],
                "end": page * size + max(0, len(chosen) - 1),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": page * size,
                "uri": page_uri(page),
            },
        )

    # -- webhooks -------------------------------------------------------------------------------

    def status_callback(self, record: MessageRecord, step: Step) -> Delivery | None:
        """The signed ``StatusCallback`` of a message that asked for one."""
        if not record.callback_url:
            return None
        params = status_params(record, step, self.account_sid)
        builder = self._form_builder(params)
        return Delivery(
            self.name, "status", step.status, record.id, (record.callback_url,), builder
        )

    def inbound(
        self, from_: str, to: str, text: str, media_urls: tuple[str, ...], url: str
    ) -> Delivery:
        """The webhook Twilio sends when a handset texts one of our numbers."""
        sid, params = inbound_params(from_, to, text, media_urls, self.account_sid)
        return Delivery(self.name, "inbound", "received", sid, (url,), self._form_builder(params))

    def _form_builder(self, params: list[tuple[str, str]]) -> Builder:
        """Build each attempt of a form-encoded callback: signed, with one idempotency token."""
        body = urlencode(params).encode()
        # One token per callback: a retry of the same callback would carry the same one.
        token = new_uuid()
        auth_token, shared_key = self.auth_token, self.shared_key

        def build(url: str, attempt: int) -> tuple[bytes, dict[str, str]]:
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1",
                "I-Twilio-Idempotency-Token": token,
                **sign_twilio(url, params, auth_token=auth_token, shared_key=shared_key),
            }
            return body, headers

        return build


# -- errors and request parameters (resources and webhooks: ._payloads_twilio) ------------------


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


def _parse_date(value: str) -> date | datetime:
    """``YYYY-MM-DD`` or an ISO 8601 datetime (``Z`` allowed), as the SDK serialises them."""
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _valid_callback(url: str) -> bool:
    """An absolute http(s) URL whose host has no underscore (Twilio refuses those)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and bool(host) and "_" not in host


def _in_bounds(record: MessageRecord, bounds: dict[str, date | datetime]) -> bool:
    # Twilio filters on date_sent; a message not sent yet is matched on its creation time so a
    # client reconciling an ambiguous send still finds it.
    moment = record.sent_at or record.created_at
    for key, bound in bounds.items():
        value: date | datetime = moment if isinstance(bound, datetime) else moment.date()
        if key == "DateSent" and value != bound:
            return False
        if key == "DateSent>" and value < bound:
            return False
        if key == "DateSent<" and value > bound:
            return False
    return True


PERSONALITY = TwilioPersonality
"""The personality this module gives the emulator (found by ``discover``)."""
