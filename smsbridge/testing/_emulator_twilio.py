"""The emulator's Twilio: the 2010-04-01 Messages API, status callbacks and inbound webhooks."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from datetime import date, datetime, timezone
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from smsbridge.testing._emulator_common import (
    MessageRecord,
    Request,
    Response,
    Step,
    is_e164,
    is_sender,
    json_response,
    now,
    segments,
    twilio_sid,
)
from smsbridge.testing._emulator_delivery import Delivery
from smsbridge.testing._emulator_state import EmulatorState
from smsbridge.testing._emulator_twilio_wire import (
    edge_fault_response,
    error,
    form_builder,
    inbound_params,
    render,
    status_params,
)

__all__ = ["TwilioApi"]

_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)(?P<rest>/.*)?$")
_MESSAGES = re.compile(r"^/Messages\.json$")
_DATE_FILTERS = ("DateSent", "DateSent>", "DateSent<")
_MESSAGE = re.compile(r"^/Messages/(?P<id>[^/]+)\.json$")


def _parse_date(value: str) -> date | datetime:
    """``YYYY-MM-DD`` or an ISO 8601 datetime (``Z`` allowed), as the SDK serialises them."""
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class TwilioApi:
    """Answers Twilio Messages API requests from the shared emulator state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.config = state.config

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
            if request.method != "GET":
                return error(20004)
            record = self.state.get_message("twilio", found["id"])
            if record is None:
                return error(20404, f"The requested resource {request.path} was not found")
            return json_response(200, render(record, self.config.twilio_account_sid))
        return error(20404, f"The requested resource {request.path} was not found")

    def _authenticate(self, request: Request, path_sid: str) -> Response | None:
        header = request.header("authorization") or ""
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic" or not user:
            return error(20003, "Authentication Error - No credentials provided")
        expected = self.config.twilio_api_keys.get(user)
        if user == self.config.twilio_account_sid:
            expected = self.config.twilio_auth_token
        if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
            return error(20003)
        if path_sid != self.config.twilio_account_sid:
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
        if self.state.is_opted_out("twilio", to):
            return error(21610)
        terminal, failing = self.state.faults.take_message("twilio")
        if terminal is not None and terminal.kind == "error_code":
            params_ = terminal.params
            return error(params_["code"], params_["message"], params_["status"])
        encoding, count = segments(body)
        record = MessageRecord(
            provider="twilio",
            id=twilio_sid("MM" if media else "SM"),
            to=to,
            from_=from_ or self.config.twilio_pool_number,
            text=body,
            media_urls=media,
            status="accepted" if service else "queued",
            created_at=now(),
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
        self.state.progress(record, steps, self._status_callback)
        if terminal is not None and terminal.kind == "accept_then_hang":
            return Response(action="hang")
        if terminal is not None:  # http_error with accept=True: accepted, but the answer is lost
            return edge_fault_response(terminal)
        return json_response(201, render(record, self.config.twilio_account_sid))

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
            for r in self.state.list_messages("twilio")
            if query.get("To", r.to) == r.to
            and query.get("From", r.from_) == r.from_
            and _in_bounds(r, bounds)
        ]
        records.sort(key=lambda r: r.created_at, reverse=True)
        chosen = records[page * size : (page + 1) * size]
        base = f"/2010-04-01/Accounts/{self.config.twilio_account_sid}/Messages.json"
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(number: int) -> str:
            return f"{base}?{urlencode({**filters, 'PageSize': size, 'Page': number})}"

        more = len(records) > (page + 1) * size
        return json_response(
            200,
            {
                "messages": [render(r, self.config.twilio_account_sid) for r in chosen],
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

    def _status_callback(self, record: MessageRecord, step: Step) -> Delivery | None:
        if not record.callback_url:
            return None
        params = status_params(record, step, self.config.twilio_account_sid)
        builder = form_builder(params, self.config)
        return Delivery("twilio", "status", step.status, record.id, (record.callback_url,), builder)

    def inbound(
        self, from_: str, to: str, text: str, media_urls: tuple[str, ...], url: str
    ) -> Delivery:
        """The webhook Twilio sends when a handset texts one of our numbers."""
        account = self.config.twilio_account_sid
        sid, params = inbound_params(from_, to, text, media_urls, account)
        return Delivery(
            "twilio", "inbound", "received", sid, (url,), form_builder(params, self.config)
        )


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
