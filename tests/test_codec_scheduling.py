"""Scheduled sends, cancel and read-back by id in the provider codecs (issue 11).

Requests are checked field by field against fixtures/twilio_scheduling.json and
fixtures/telnyx_scheduling.json, answers are replayed through httpx.MockTransport, and the
scheduling windows are checked at their edges.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from smsbridge import (
    AuthError,
    InvalidRequest,
    MessageNotFound,
    MessageStatus,
    NotCancellable,
    OutboundMessage,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SchedulingUnavailable,
    SendResult,
    UnexpectedError,
    Unsupported,
)
from smsbridge.providers import Telnyx, Twilio, Vonage
from smsbridge.providers._base import Provider
from smsbridge.providers._codes import make_error
from smsbridge.providers._manage import checked_id, parse_time
from smsbridge.providers._shell import transmit
from smsbridge.providers.telnyx import TELNYX_STATUS
from smsbridge.providers.twilio._errors import TWILIO_MESSAGE_CODES, TWILIO_SEND_CODES

FIXTURES = Path(__file__).parent / "fixtures"
TW = json.loads((FIXTURES / "twilio_scheduling.json").read_text())
TX = json.loads((FIXTURES / "telnyx_scheduling.json").read_text())

ACCOUNT = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token-do-not-leak"
SERVICE = "MGfedcba9876543210fedcba9876543210"
SMS_SID = TW["response_201_scheduled"]["sid"]
TELNYX_KEY = "KEY0123456789ABCDEF_fake"
TELNYX_ID = TX["response_200_cancelled"]["id"]

NOW = datetime(2024, 5, 14, 15, 31, tzinfo=timezone.utc)
SEND_AT = datetime(2024, 5, 15, 19, 0, tzinfo=timezone.utc)
BODY = "Your table for two is booked for 8pm."
CEST = timezone(timedelta(hours=2))

Handler = Callable[[httpx.Request], httpx.Response]


def twilio(**kwargs: Any) -> Twilio:
    kwargs.setdefault("messaging_service_sid", SERVICE)
    return Twilio(ACCOUNT, TOKEN, **kwargs)


def telnyx(**kwargs: Any) -> Telnyx:
    kwargs.setdefault("from_", "+13125550100")
    return Telnyx(TELNYX_KEY, **kwargs)


def vonage() -> Vonage:
    return Vonage(api_key="key", api_secret="secret", from_="+14155550100")


def message(**overrides: Any) -> OutboundMessage:
    fields: dict[str, Any] = {"to": "+13125550111", "body": BODY, "send_at": SEND_AT}
    fields.update(overrides)
    return OutboundMessage(**fields)


def form(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode(), keep_blank_values=True, strict_parsing=True)


def pairs(listed: list[list[str]]) -> list[tuple[str, str]]:
    return [(key, value) for key, value in listed]


def answer(status: int, body: Any = None, *, content: bytes | None = None) -> httpx.Response:
    if content is not None:
        return httpx.Response(status, content=content)
    return httpx.Response(status, json=body)


class Recorder:
    """A MockTransport handler that records requests and answers with a canned response."""

    def __init__(self, response: httpx.Response) -> None:
        self.requests: list[httpx.Request] = []
        self.response = response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response


def over_the_wire(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    """``request`` sent through a MockTransport answering ``response``."""
    with httpx.Client(transport=httpx.MockTransport(lambda _: response)) as client:
        return client.send(request)


def cancel(provider: Provider, response: httpx.Response, sid: str) -> SendResult:
    return provider.parse_cancel(over_the_wire(provider.build_cancel_request(sid), response), sid)


def fetch(provider: Provider, response: httpx.Response, sid: str) -> SendResult:
    return provider.parse_fetch(over_the_wire(provider.build_fetch_request(sid), response), sid)


def cancel_error(provider: Provider, response: httpx.Response, sid: str) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        cancel(provider, response, sid)
    return info.value


def fetch_error(provider: Provider, response: httpx.Response, sid: str) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        fetch(provider, response, sid)
    return info.value


def twilio_error(code: int) -> dict[str, Any]:
    return next(e for e in TW["errors"] if e["body"]["code"] == code)


# -- capabilities ------------------------------------------------------------------------


def test_capabilities_declare_windows_cancel_and_fetch() -> None:
    """Twilio holds 15 minutes to 35 days, Telnyx 5 minutes to 5 days; Vonage nothing."""
    tw, tx, vo = Twilio.default_capabilities, Telnyx.default_capabilities, vonage().capabilities
    assert tw.scheduling == (timedelta(seconds=900), timedelta(days=35))
    assert tx.scheduling == (timedelta(minutes=5), timedelta(days=5))
    assert (tw.cancel, tw.fetch, tx.cancel, tx.fetch) == (True, True, True, True)
    assert (vo.scheduling, vo.cancel, vo.fetch) == (None, False, False)
    # What was there before is kept.
    assert (tw.read_back, tw.idempotency, tx.idempotency, tx.read_back) == (
        True,
        False,
        True,
        False,
    )


# -- scheduling_problem ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lead", "problem"),
    [
        (timedelta(seconds=900), "send_at must be more than 15 minutes ahead"),
        # SendAt carries whole seconds: 900.5 s is sent as 900 s, which is refused.
        (
            timedelta(seconds=900, microseconds=500_000),
            "send_at must be more than 15 minutes ahead",
        ),
        (timedelta(seconds=901), None),
        (timedelta(days=1), None),
        (timedelta(days=35), None),
        (timedelta(days=35, seconds=1), "send_at must be at most 35 days ahead"),
        (timedelta(seconds=300), "send_at must be more than 15 minutes ahead"),
        (timedelta(seconds=-60), "send_at must be more than 15 minutes ahead"),
    ],
)
def test_twilio_window_edges(lead: timedelta, problem: str | None) -> None:
    """More than 900 s and at most 35 days ahead, on the whole second SendAt carries."""
    assert twilio().scheduling_problem(NOW + lead, NOW) == problem


def test_twilio_cannot_schedule_without_a_messaging_service() -> None:
    """from_ alone cannot schedule (Twilio would drop SendAt and send at once)."""
    provider = Twilio(ACCOUNT, TOKEN, from_="+13125550100")
    assert provider.scheduling_problem(NOW + timedelta(days=1), NOW) == (
        "scheduling on Twilio needs a messaging service (messaging_service_sid=...); "
        "from_ alone cannot schedule"
    )


@pytest.mark.parametrize(
    ("lead", "problem"),
    [
        (timedelta(minutes=5), "send_at must be more than 5 minutes ahead"),
        # Telnyx holds to the minute: 5 min 30 s ahead is held for 5 minutes ahead.
        (timedelta(minutes=5, seconds=30), "send_at must be more than 5 minutes ahead"),
        (timedelta(minutes=6), None),
        (timedelta(minutes=6, seconds=59), None),
        (timedelta(days=5), None),
        # 5 days and 30 s is cut to 5 days: inside.
        (timedelta(days=5, seconds=30), None),
        (timedelta(days=5, minutes=1), "send_at must be at most 5 days ahead"),
    ],
)
def test_telnyx_window_edges_on_the_minute(lead: timedelta, problem: str | None) -> None:
    """More than 5 minutes and at most 5 days ahead, checked on send_at cut to the minute."""
    assert telnyx().scheduling_problem(NOW + lead, NOW) == problem


def test_telnyx_cuts_to_the_utc_minute_whatever_the_zone() -> None:
    """The same moment in another zone gets the same answer."""
    at = (NOW + timedelta(minutes=5, seconds=30)).astimezone(CEST)
    assert telnyx().scheduling_problem(at, NOW) == "send_at must be more than 5 minutes ahead"
    assert telnyx().scheduling_problem(at + timedelta(seconds=30), NOW) is None


def test_vonage_cannot_schedule() -> None:
    assert vonage().scheduling_problem(NOW + timedelta(days=1), NOW) == (
        "it cannot schedule messages"
    )


# -- scheduled sends: Twilio ------------------------------------------------------------


def test_twilio_scheduled_send_form_matches_the_fixture() -> None:
    """Through the messaging service, with SendAt and ScheduleType=fixed, and no From."""
    recorder = Recorder(answer(201, TW["response_201_scheduled"]))
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        transmit(client, twilio(), message())
    (request,) = recorder.requests
    assert request.method == TW["request_scheduled"]["method"]
    assert str(request.url) == TW["request_scheduled"]["url"]
    assert form(request) == pairs(TW["request_scheduled"]["params"])


def test_twilio_scheduled_send_keeps_a_number_sender_as_from() -> None:
    """A number sender stays as From next to MessagingServiceSid (a number of the pool)."""
    request = twilio(from_="+13125550100").build_request(message())
    assert form(request) == [
        ("To", "+13125550111"),
        ("MessagingServiceSid", SERVICE),
        ("From", "+13125550100"),
        ("Body", BODY),
        ("SendAt", "2024-05-15T19:00:00Z"),
        ("ScheduleType", "fixed"),
    ]


def test_twilio_scheduled_send_with_the_service_as_sender_sends_no_from() -> None:
    request = twilio().build_request(message(from_=SERVICE))
    assert ("MessagingServiceSid", SERVICE) in form(request)
    assert "From" not in dict(form(request))


def test_twilio_send_at_is_utc_in_whole_seconds() -> None:
    """Another zone becomes UTC; microseconds are dropped."""
    at = datetime(2024, 5, 15, 21, 0, 7, 999_999, tzinfo=CEST)
    request = twilio().build_request(message(send_at=at))
    assert dict(form(request))["SendAt"] == "2024-05-15T19:00:07Z"


def test_twilio_unscheduled_send_is_unchanged() -> None:
    """No send_at: no SendAt, and a number sender goes alone as From, as before."""
    request = twilio(from_="+13125550100").build_request(message(send_at=None))
    assert form(request) == [("To", "+13125550111"), ("From", "+13125550100"), ("Body", BODY)]


def test_twilio_scheduled_send_without_a_service_is_refused_before_any_request() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answer(201, TW["response_201_scheduled"])

    provider = Twilio(ACCOUNT, TOKEN, from_="+13125550100")
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(SchedulingUnavailable, match="needs a messaging service"),
    ):
        transmit(client, provider, message())
    assert calls == []


@pytest.mark.parametrize("provider", [twilio(), telnyx()], ids=["twilio", "telnyx"])
def test_naive_send_at_is_an_invalid_request(provider: Provider) -> None:
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        provider.build_request(message(send_at=datetime(2024, 5, 15, 19, 0)))


def test_twilio_scheduled_answer_is_scheduled_with_its_send_at() -> None:
    """Twilio's Message has no send time: the result's is the SendAt sent."""
    at = datetime(2024, 5, 15, 21, 0, 7, 250_000, tzinfo=CEST)
    result = twilio().parse_response(answer(201, TW["response_201_scheduled"]), message(send_at=at))
    assert result.status is MessageStatus.SCHEDULED
    assert result.raw_status == "scheduled"
    assert result.send_at == datetime(2024, 5, 15, 19, 0, 7, tzinfo=timezone.utc)
    assert result.provider_message_id == SMS_SID
    assert result.segments is None  # "0" until Twilio picks a sender
    assert result.error_code is None


def test_twilio_answer_carrying_a_send_time_wins() -> None:
    body = {**TW["response_201_scheduled"], "send_at": "2024-05-15T19:01:00Z"}
    result = twilio().parse_response(answer(201, body), message())
    assert result.send_at == datetime(2024, 5, 15, 19, 1, tzinfo=timezone.utc)


def test_twilio_immediate_answer_has_no_send_at() -> None:
    body = {**TW["response_201_scheduled"], "status": "accepted"}
    result = twilio().parse_response(answer(201, body), message(send_at=None))
    assert (result.status, result.raw_status, result.send_at) == (
        MessageStatus.QUEUED,
        "accepted",
        None,
    )


def test_twilio_read_back_finds_a_scheduled_message() -> None:
    """Reconciling a scheduled send lists by recipient alone and matches on the service: the
    scheduled message has no "from" yet, so a From filter or comparison would miss it (and the
    message would be scheduled twice)."""
    provider, outbound = twilio(from_="+13125550100"), message()
    since = datetime(2024, 5, 14, 15, 31, tzinfo=timezone.utc)
    request = provider.build_lookup_request(outbound, since)
    assert "From" not in dict(request.url.params)
    listing = {"messages": [TW["response_201_scheduled"]]}
    found = provider.parse_lookup(answer(200, listing), outbound, since=since)
    assert found is not None
    assert found.provider_message_id == SMS_SID
    assert found.status is MessageStatus.SCHEDULED
    other_service = {**TW["response_201_scheduled"], "messaging_service_sid": "MG" + "0" * 32}
    listing = {"messages": [other_service]}
    assert provider.parse_lookup(answer(200, listing), outbound, since=since) is None
    other_number = {**TW["response_201_scheduled"], "from": "+13125550199"}
    listing = {"messages": [other_number]}
    assert provider.parse_lookup(answer(200, listing), outbound, since=since) is None


@pytest.mark.parametrize("code", [35111, 35114, 35115, 35117, 35118, 35126])
def test_twilio_scheduling_codes_are_scheduling_unavailable(code: int) -> None:
    error = twilio_error(code)
    with pytest.raises(SchedulingUnavailable) as info:
        twilio().parse_response(answer(error["http_status"], error["body"]), message())
    assert info.value.provider_code == str(code)
    assert info.value.failure == "rejected"
    assert info.value.provider == "twilio"


def test_twilio_20404_on_a_send_is_not_message_not_found() -> None:
    """On Messages.json a 20404 means a wrong account or URL, not a missing message."""
    error = twilio_error(20404)
    with pytest.raises(ProviderError) as info:
        twilio().parse_response(answer(404, error["body"]), message())
    assert type(info.value) is InvalidRequest
    assert "20404" not in TWILIO_SEND_CODES
    assert TWILIO_MESSAGE_CODES["20404"] == "message_not_found"


# -- scheduled sends: Telnyx ------------------------------------------------------------


def test_telnyx_scheduled_send_body_matches_the_fixture() -> None:
    """send_at in UTC, cut to the minute, after the fields an unscheduled send has."""
    at = datetime(2024, 5, 15, 21, 0, 42, 500_000, tzinfo=CEST)
    recorder = Recorder(answer(200, TX["response_200_scheduled"]))
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        transmit(client, telnyx(), message(send_at=at))
    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.telnyx.com/v2/messages"
    assert json.loads(request.content) == TX["request_scheduled_json"]
    assert list(json.loads(request.content)) == list(TX["request_scheduled_json"])


def test_telnyx_scheduled_body_is_byte_identical_on_a_retry() -> None:
    """The Idempotency-Key needs the same bytes every time."""
    provider, outbound = telnyx(), message()
    first, second = provider.build_request(outbound), provider.build_request(outbound)
    assert first.content == second.content
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_telnyx_scheduled_answer_is_scheduled_with_the_minute_held() -> None:
    at = datetime(2024, 5, 15, 21, 0, 42, tzinfo=CEST)
    result = telnyx().parse_response(answer(200, TX["response_200_scheduled"]), message(send_at=at))
    assert result.status is MessageStatus.SCHEDULED
    assert result.raw_status == "scheduled"
    assert result.send_at == SEND_AT
    assert result.provider_message_id == TELNYX_ID


def test_telnyx_answer_carrying_send_at_wins() -> None:
    body = json.loads(json.dumps(TX["response_200_scheduled"]))
    body["data"]["send_at"] = "2024-05-15T19:02:00Z"
    result = telnyx().parse_response(answer(200, body), message())
    assert result.send_at == datetime(2024, 5, 15, 19, 2, tzinfo=timezone.utc)


def test_telnyx_statuses_know_scheduled_and_cancelled() -> None:
    assert TELNYX_STATUS["scheduled"] is MessageStatus.SCHEDULED
    assert TELNYX_STATUS["cancelled"] is MessageStatus.CANCELED


# -- cancel: Twilio ---------------------------------------------------------------------


def test_twilio_cancel_request() -> None:
    """A form POST of Status=canceled to the message's own URL."""
    request = twilio().build_cancel_request(SMS_SID)
    assert request.method == TW["request_cancel"]["method"]
    assert str(request.url) == TW["request_cancel"]["url"]
    assert form(request) == pairs(TW["request_cancel"]["params"])
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"].startswith("Basic ")
    assert request.extensions["timeout"] == twilio().timeout.as_dict()


def test_twilio_cancel_answer_is_canceled() -> None:
    result = cancel(twilio(), answer(200, TW["response_200_canceled"]), SMS_SID)
    assert result.status is MessageStatus.CANCELED
    assert result.raw_status == "canceled"
    assert result.provider == "twilio"
    assert result.provider_message_id == SMS_SID
    assert result.to == "+13125550111"
    assert result.from_ == SERVICE  # no number picked yet: the service is the sender
    assert result.send_at is None


@pytest.mark.parametrize(
    ("code", "cls"), [(30409, NotCancellable), (20404, MessageNotFound)], ids=str
)
def test_twilio_cancel_errors(code: int, cls: type[ProviderError]) -> None:
    error = twilio_error(code)
    raised = cancel_error(twilio(), answer(error["http_status"], error["body"]), SMS_SID)
    assert type(raised) is cls
    assert raised.provider_code == str(code)
    assert raised.http_status == error["http_status"]
    assert raised.failure == "rejected"
    assert raised.message == error["body"]["message"]


def test_twilio_404_with_an_unknown_code_on_a_message_url_is_not_found() -> None:
    body = {"code": 20999, "message": "gone", "status": 404}
    assert type(cancel_error(twilio(), answer(404, body), SMS_SID)) is MessageNotFound
    assert type(fetch_error(twilio(), answer(404, body), SMS_SID)) is MessageNotFound


def test_twilio_unreadable_404_is_not_taken_for_a_missing_message() -> None:
    """An HTML 404 is not Twilio speaking (a wrong base URL): classified by status alone."""
    raised = cancel_error(twilio(), answer(404, content=b"<html>nope</html>"), SMS_SID)
    assert type(raised) is InvalidRequest


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, {"code": 20003, "message": "Authenticate", "status": 401}, AuthError),
        (429, {"code": 20429, "message": "Too Many Requests", "status": 429}, RateLimited),
        (
            503,
            {"code": 20503, "message": "Service unavailable", "status": 503},
            ProviderUnavailable,
        ),
    ],
)
def test_twilio_cancel_other_errors_keep_their_class(
    status: int, body: dict[str, Any], cls: type[ProviderError]
) -> None:
    assert type(cancel_error(twilio(), answer(status, body), SMS_SID)) is cls


def test_twilio_unreadable_2xx_to_a_cancel_may_have_cancelled() -> None:
    with pytest.raises(UnexpectedError) as info:
        cancel(twilio(), answer(200, content=b"not json"), SMS_SID)
    assert info.value.failure == "ambiguous"
    assert info.value.provider_message_id == SMS_SID


# -- cancel: Telnyx ---------------------------------------------------------------------


def test_telnyx_cancel_request() -> None:
    """A DELETE of /v2/messages/{id}, with no body."""
    request = telnyx().build_cancel_request(TELNYX_ID)
    assert request.method == "DELETE"
    assert str(request.url) == f"https://api.telnyx.com/v2/messages/{TELNYX_ID}"
    assert request.content == b""
    assert request.headers["authorization"] == f"Bearer {TELNYX_KEY}"
    assert "idempotency-key" not in request.headers


@pytest.mark.parametrize("wrapped", [False, True], ids=["as-documented", "in-data"])
def test_telnyx_cancel_answer_is_canceled(wrapped: bool) -> None:
    """Telnyx's 'cancelled' is the common 'canceled'; both answer shapes are read."""
    body = TX["response_200_cancelled"]
    result = cancel(telnyx(), answer(200, {"data": body} if wrapped else body), TELNYX_ID)
    assert result.status is MessageStatus.CANCELED
    assert result.raw_status == "cancelled"
    assert result.provider_message_id == TELNYX_ID
    assert (result.to, result.from_, result.segments) == ("+18665550001", "+18445550001", 1)
    assert result.error_code is None


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (TX["error_not_found"]["http_status"], TX["error_not_found"]["body"], MessageNotFound),
        (404, {"errors": [{"code": "99999", "title": "Not found"}]}, MessageNotFound),
        (
            TX["error_too_late_illustrative"]["http_status"],
            TX["error_too_late_illustrative"]["body"],
            NotCancellable,
        ),
        (400, {"errors": [{"code": "99999", "title": "Cannot cancel"}]}, NotCancellable),
        (409, {"errors": [{"title": "Conflict"}]}, NotCancellable),
        (401, {"errors": [{"code": "10009", "title": "Authentication failed"}]}, AuthError),
        (429, {"errors": [{"code": "10011", "title": "Too many requests"}]}, RateLimited),
        (500, {"errors": [{"code": "99999", "title": "Oops"}]}, ProviderUnavailable),
    ],
)
def test_telnyx_cancel_errors(status: int, body: dict[str, Any], cls: type[ProviderError]) -> None:
    raised = cancel_error(telnyx(), answer(status, body), TELNYX_ID)
    assert type(raised) is cls
    assert raised.http_status == status
    assert raised.provider == "telnyx"


def test_telnyx_cancel_refusal_not_in_telnyx_shape_keeps_its_http_reading() -> None:
    """A 400 that is not Telnyx's error body (a proxy's page) is not called too late."""
    raised = cancel_error(telnyx(), answer(400, content=b"<html>bad</html>"), TELNYX_ID)
    assert type(raised) is InvalidRequest


# -- fetch ------------------------------------------------------------------------------


def test_twilio_fetch_request() -> None:
    request = twilio().build_fetch_request(SMS_SID)
    assert request.method == "GET"
    assert str(request.url) == TW["request_fetch"]["url"]
    assert request.content == b""
    assert request.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("fixture", "status", "raw", "code", "from_", "segments"),
    [
        ("response_200_delivered", MessageStatus.DELIVERED, "delivered", None, "+13125550100", 1),
        (
            "response_200_undelivered",
            MessageStatus.UNDELIVERED,
            "undelivered",
            "30003",
            "+13125550100",
            1,
        ),
        ("response_201_scheduled", MessageStatus.SCHEDULED, "scheduled", None, SERVICE, None),
    ],
)
def test_twilio_fetch_answers(
    fixture: str,
    status: MessageStatus,
    raw: str,
    code: str | None,
    from_: str,
    segments: int | None,
) -> None:
    result = fetch(twilio(), answer(200, TW[fixture]), SMS_SID)
    assert (result.status, result.raw_status, result.error_code) == (status, raw, code)
    assert result.segments == segments
    assert result.to == "+13125550111"
    assert result.provider_message_id == SMS_SID
    assert result.from_ == from_
    assert result.send_at is None  # Twilio's Message carries no send time
    assert result.raw == TW[fixture]


def test_twilio_fetch_of_an_unknown_status_word_is_unknown_with_the_word() -> None:
    body = {**TW["response_200_delivered"], "status": "paused"}
    result = fetch(twilio(), answer(200, body), SMS_SID)
    assert (result.status, result.raw_status) == (MessageStatus.UNKNOWN, "paused")


def test_twilio_fetch_not_found() -> None:
    error = twilio_error(20404)
    raised = fetch_error(twilio(), answer(404, error["body"]), SMS_SID)
    assert type(raised) is MessageNotFound
    assert raised.provider_code == "20404"


def test_telnyx_fetch_request() -> None:
    request = telnyx().build_fetch_request(TELNYX_ID)
    assert request.method == "GET"
    assert str(request.url) == f"https://api.telnyx.com/v2/messages/{TELNYX_ID}"
    assert request.content == b""


@pytest.mark.parametrize(
    ("fixture", "status", "raw", "code"),
    [
        ("response_200_delivered", MessageStatus.DELIVERED, "delivered", None),
        ("response_200_delivery_failed", MessageStatus.UNDELIVERED, "delivery_failed", "40008"),
        ("response_200_scheduled", MessageStatus.SCHEDULED, "scheduled", None),
    ],
)
def test_telnyx_fetch_answers(
    fixture: str, status: MessageStatus, raw: str, code: str | None
) -> None:
    result = fetch(telnyx(), answer(200, TX[fixture]), TELNYX_ID)
    assert (result.status, result.raw_status, result.error_code) == (status, raw, code)
    assert (result.to, result.from_, result.segments) == ("+13125550111", "+13125550100", 1)
    assert result.encoding == "GSM-7"
    assert result.provider_message_id == TELNYX_ID


def test_telnyx_fetch_of_a_scheduled_message_reads_its_send_at() -> None:
    body = json.loads(json.dumps(TX["response_200_scheduled"]))
    body["data"]["send_at"] = "2024-05-15T19:00:00Z"
    assert fetch(telnyx(), answer(200, body), TELNYX_ID).send_at == SEND_AT


def test_telnyx_fetch_not_found() -> None:
    error = TX["error_not_found"]
    raised = fetch_error(telnyx(), answer(error["http_status"], error["body"]), TELNYX_ID)
    assert type(raised) is MessageNotFound
    assert raised.provider_code == "10005"


def test_telnyx_unreadable_2xx_to_a_fetch() -> None:
    with pytest.raises(UnexpectedError):
        fetch(telnyx(), answer(200, {"data": {}}), TELNYX_ID)


# -- Vonage: none of it -----------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.build_cancel_request("x"),
        lambda p: p.parse_cancel(httpx.Response(200), "x"),
        lambda p: p.build_fetch_request("x"),
        lambda p: p.parse_fetch(httpx.Response(200), "x"),
    ],
    ids=["build_cancel", "parse_cancel", "build_fetch", "parse_fetch"],
)
def test_vonage_cannot_cancel_or_fetch(call: Callable[[Provider], Any]) -> None:
    with pytest.raises(Unsupported) as info:
        call(vonage())
    assert info.value.provider == "vonage"
    assert info.value.failure == "rejected"


# -- message ids are checked before they reach a URL ------------------------------------

BAD_IDS = [
    "",
    "..",
    "a/b",
    "a?b",
    "a#b",
    "a%2Fb",
    "a b",
    " " + SMS_SID,
    SMS_SID + "\n",
    SMS_SID + "/../../Calls",
    "../" + SMS_SID,
    "x" * 65,
]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("provider", [twilio(), telnyx()], ids=["twilio", "telnyx"])
@pytest.mark.parametrize("build", ["build_cancel_request", "build_fetch_request"])
def test_bad_ids_are_invalid_requests(provider: Provider, build: str, bad: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        getattr(provider, build)(bad)
    assert info.value.failure == "rejected"
    assert info.value.provider == provider.name


@pytest.mark.parametrize("bad", [None, 123, b"SM"])
def test_ids_that_are_not_text_are_invalid(bad: Any) -> None:
    with pytest.raises(InvalidRequest):
        twilio().build_fetch_request(bad)


@pytest.mark.parametrize(
    ("sid", "ok"),
    [
        (SMS_SID, True),
        ("MM" + "0123456789abcdef" * 2, True),
        ("SM" + "0123456789ABCDEF" * 2, True),
        ("AC" + "0123456789abcdef" * 2, False),  # an account, not a message
        ("SM" + "0123456789abcdef" * 2 + "0", False),
        ("SM" + "0123456789abcdeg" * 2, False),
        ("sm" + "0123456789abcdef" * 2, False),
    ],
)
def test_twilio_ids_are_message_sids(sid: str, ok: bool) -> None:
    if ok:
        assert twilio().build_fetch_request(sid).url.path.endswith(f"/Messages/{sid}.json")
    else:
        with pytest.raises(InvalidRequest, match="'SM' or 'MM'"):
            twilio().build_fetch_request(sid)


@pytest.mark.parametrize(
    ("message_id", "ok"),
    [
        (TELNYX_ID, True),
        (TELNYX_ID.upper(), True),
        (TELNYX_ID.replace("-", ""), False),
        (TELNYX_ID + "0", False),
        ("msg_123", False),
    ],
)
def test_telnyx_ids_are_uuids(message_id: str, ok: bool) -> None:
    if ok:
        assert telnyx().build_cancel_request(message_id).url.path == f"/v2/messages/{message_id}"
    else:
        with pytest.raises(InvalidRequest, match="UUID"):
            telnyx().build_cancel_request(message_id)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("a" * 64, True), ("a" * 65, False), ("a.b:c_d-e", True), ("a..b", False), (".a", False)],
)
def test_checked_id_without_a_shape(value: str, ok: bool) -> None:
    """The rule every provider gets: one short, plain path segment."""
    if ok:
        assert checked_id("acme", value) == value
    else:
        with pytest.raises(InvalidRequest):
            checked_id("acme", value)


def test_a_bad_id_is_shown_shortened_in_the_error() -> None:
    with pytest.raises(InvalidRequest) as info:
        twilio().build_cancel_request("/" * 500)
    assert len(info.value.message) < 200


# -- shared helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-15T19:00:00Z", SEND_AT),
        ("2024-05-15T21:00:00+02:00", SEND_AT),
        ("2024-05-15T19:00:00.000+00:00", SEND_AT),
        ("Wed, 15 May 2024 19:00:00 +0000", SEND_AT),
        ("2024-05-15T19:00:00", None),  # no zone: no moment
        ("soon", None),
        ("", None),
        (None, None),
        (1715799600, None),
    ],
)
def test_parse_time(value: Any, expected: datetime | None) -> None:
    assert parse_time(value) == expected


def test_by_status_applies_only_to_codes_the_table_does_not_know() -> None:
    known = make_error(
        "twilio",
        {"1": "auth_or_account"},
        provider_code="1",
        http_status=404,
        detail="d",
        by_status={404: "message_not_found"},
    )
    unknown = make_error(
        "twilio",
        {},
        provider_code="2",
        http_status=404,
        detail="d",
        by_status={404: "message_not_found"},
    )
    assert (type(known), type(unknown)) == (AuthError, MessageNotFound)
