"""The Twilio codec, replayed through httpx.MockTransport against fixtures/twilio_send.json."""

from __future__ import annotations

import base64
import email.utils
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from smsbridge import (
    AuthError,
    InvalidRecipient,
    MessageStatus,
    OptedOut,
    OutboundMessage,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SendResult,
)
from smsbridge import segments as count_segments
from smsbridge.providers import Twilio
from smsbridge.providers._checks import DEFAULT_TIMEOUT
from smsbridge.providers._shell import atransmit, transmit

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "twilio_send.json").read_text())
REQUEST = FIXTURE["request"]
SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token-do-not-leak"
SERVICE = "MGfedcba9876543210fedcba9876543210"
# Parameters the codec does not set (ValidityPeriod is not part of smsbridge's message model).
UNSUPPORTED = {"ValidityPeriod"}

Handler = Callable[[httpx.Request], httpx.Response]


def _param(name: str) -> str:
    return str(next(value for key, value in REQUEST["params"] if key == name))


def fixture_message(**overrides: Any) -> OutboundMessage:
    fields: dict[str, Any] = {
        "to": _param("To"),
        "body": _param("Body"),
        "from_": _param("From"),
        "media_urls": tuple(v for k, v in REQUEST["params"] if k == "MediaUrl"),
        "status_callback": _param("StatusCallback"),
    }
    fields.update(overrides)
    return OutboundMessage(**fields)


def twilio(**kwargs: Any) -> Twilio:
    return Twilio(SID, TOKEN, **kwargs)


class Recorder:
    """A MockTransport handler that records requests and answers with a canned response."""

    def __init__(self, response: httpx.Response | Exception | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.response = response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.response, Exception):
            raise self.response
        if self.response is not None:
            return self.response
        return httpx.Response(201, json=FIXTURE["response_201"])


def send(provider: Twilio, message: OutboundMessage, handler: Handler) -> SendResult:
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return transmit(client, provider, message)


def send_error(provider: Twilio, message: OutboundMessage, handler: Handler) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        send(provider, message, handler)
    return info.value


def form(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode(), keep_blank_values=True, strict_parsing=True)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_form_fields_match_the_fixture() -> None:
    """The form carries exactly the fixture's fields and values (minus unsupported ones)."""
    recorder = Recorder()
    send(twilio(), fixture_message(), recorder)
    (request,) = recorder.requests
    expected = [(k, v) for k, v in REQUEST["params"] if k not in UNSUPPORTED]
    assert sorted(form(request)) == sorted(map(tuple, expected))
    assert request.method == REQUEST["method"]
    assert request.headers["content-type"] == REQUEST["content_type"]


def test_form_encoding_matches_the_fixture_raw_body() -> None:
    """Every encoded key=value pair is byte-identical to the fixture's raw body."""
    recorder = Recorder()
    send(twilio(), fixture_message(), recorder)
    pairs = recorder.requests[0].content.decode().split("&")
    raw_pairs = REQUEST["raw_body"].split("&")
    assert pairs
    for pair in pairs:
        assert pair in raw_pairs


def test_media_url_is_repeated_in_order() -> None:
    """Each media URL is its own MediaUrl field, in the caller's order."""
    recorder = Recorder()
    urls = ("https://example.com/a.jpg", "https://example.com/b.png", "https://example.com/c.gif")
    send(twilio(), fixture_message(media_urls=urls), recorder)
    assert [v for k, v in form(recorder.requests[0]) if k == "MediaUrl"] == list(urls)


def test_sms_without_media_or_callback_sends_no_such_fields() -> None:
    """A plain SMS has neither MediaUrl nor StatusCallback."""
    recorder = Recorder()
    send(twilio(), fixture_message(media_urls=(), status_callback=None), recorder)
    keys = [k for k, _ in form(recorder.requests[0])]
    assert keys == ["To", "From", "Body"]


def test_status_callback_is_sent() -> None:
    """The message's status callback URL becomes StatusCallback."""
    recorder = Recorder()
    send(twilio(), fixture_message(status_callback="https://app.example/cb?ref=a%2Fb"), recorder)
    assert dict(form(recorder.requests[0]))["StatusCallback"] == "https://app.example/cb?ref=a%2Fb"


def test_messaging_service_without_from() -> None:
    """Without a sender the messaging service SID is sent instead of From."""
    recorder = Recorder()
    message = OutboundMessage(to="+13125550111", body="Hi")
    send(twilio(messaging_service_sid=SERVICE), message, recorder)
    expected = FIXTURE["request_messaging_service_no_from"]["params"]
    assert form(recorder.requests[0]) == [tuple(p) for p in expected]


def test_message_sender_equal_to_service_sid_goes_as_service() -> None:
    """A per-message sender that is the service SID is sent as MessagingServiceSid."""
    recorder = Recorder()
    message = OutboundMessage(to="+13125550111", body="Hi", from_=SERVICE)
    send(twilio(from_="+13125550100", messaging_service_sid=SERVICE), message, recorder)
    fields = dict(form(recorder.requests[0]))
    assert fields["MessagingServiceSid"] == SERVICE
    assert "From" not in fields


def test_url_is_the_documented_path() -> None:
    """The request goes to the fixture's Messages.json URL."""
    recorder = Recorder()
    send(twilio(), fixture_message(), recorder)
    assert str(recorder.requests[0].url) == REQUEST["url"]


def test_base_url_override_keeps_the_documented_path() -> None:
    """A base_url replaces scheme, host and port; the path stays the documented one."""
    recorder = Recorder()
    send(twilio(base_url="http://127.0.0.1:8765/"), fixture_message(), recorder)
    assert str(recorder.requests[0].url) == (
        f"http://127.0.0.1:8765/2010-04-01/Accounts/{SID}/Messages.json"
    )


def test_basic_auth_with_account_sid_and_token() -> None:
    """Without an API key the Basic credentials are the account SID and auth token."""
    recorder = Recorder()
    send(twilio(), fixture_message(), recorder)
    assert recorder.requests[0].headers["authorization"] == basic(SID, TOKEN)


def test_basic_auth_with_api_key_and_secret() -> None:
    """With an API key, Basic auth uses the key SID and secret; the URL keeps the account."""
    recorder = Recorder()
    key = "SK" + "a" * 32
    send(twilio(api_key=key, api_secret="key-secret"), fixture_message(), recorder)
    request = recorder.requests[0]
    assert request.headers["authorization"] == basic(key, "key-secret")
    assert f"/Accounts/{SID}/" in request.url.path


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (None, DEFAULT_TIMEOUT.as_dict()),
        (3.5, {"connect": 3.5, "read": 3.5, "write": 3.5, "pool": 3.5}),
        (
            httpx.Timeout(20.0, connect=2.0),
            {"connect": 2.0, "read": 20.0, "write": 20.0, "pool": 20.0},
        ),
    ],
)
def test_timeout_extension_carries_the_configured_timeout(
    configured: float | httpx.Timeout | None, expected: dict[str, float]
) -> None:
    """Every request carries the configured timeout as httpx's timeout extension."""
    recorder = Recorder()
    send(twilio(timeout=configured), fixture_message(), recorder)
    assert recorder.requests[0].extensions["timeout"] == expected


def test_success_is_parsed_into_a_send_result() -> None:
    """A 201 Message object becomes a SendResult with sid, status, numbers and segments."""
    body = FIXTURE["response_201"]
    result = send(twilio(), fixture_message(reference="order-42"), Recorder())
    assert result.provider == "twilio"
    assert result.provider_message_id == body["sid"]
    assert result.status is MessageStatus.QUEUED
    assert result.to == body["to"]
    assert result.from_ == body["from"]
    assert result.segments == int(body["num_segments"])
    assert result.reference == "order-42"
    assert result.raw == body


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("accepted", MessageStatus.QUEUED),
        ("scheduled", MessageStatus.SCHEDULED),
        ("queued", MessageStatus.QUEUED),
        ("sending", MessageStatus.SENDING),
        ("sent", MessageStatus.SENT),
    ],
)
def test_initial_status_is_mapped(raw: str, expected: MessageStatus) -> None:
    """Twilio's initial statuses map into MessageStatus."""
    body = {**FIXTURE["response_201"], "status": raw}
    result = send(twilio(), fixture_message(), Recorder(httpx.Response(201, json=body)))
    assert result.status is expected


def test_zero_segments_from_a_service_falls_back_on_our_count() -> None:
    """num_segments "0" (a messaging service, not yet split) is replaced by our own count."""
    body = {**FIXTURE["response_201"], "num_segments": "0"}
    segments = count_segments(_param("Body"))
    message = fixture_message(segments=segments)
    result = send(twilio(), message, Recorder(httpx.Response(201, json=body)))
    assert result.segments == segments.segments == 1
    assert result.encoding == "GSM-7"


EXPECTED_ERRORS: dict[int, tuple[type[ProviderError], str, str]] = {
    21211: (InvalidRecipient, "invalid_recipient", "rejected"),
    21610: (OptedOut, "opted_out", "rejected"),
    20003: (AuthError, "auth_or_account", "refused"),
    20429: (RateLimited, "rate_limited", "refused"),
}


@pytest.mark.parametrize("example", FIXTURE["errors"], ids=lambda e: str(e["body"]["code"]))
def test_fixture_errors_are_mapped(example: dict[str, Any]) -> None:
    """Every error example maps to its class, code, failure, provider code and HTTP status."""
    response = httpx.Response(example["http_status"], json=example["body"])
    error = send_error(twilio(), fixture_message(), Recorder(response))
    cls, code, failure = EXPECTED_ERRORS[example["body"]["code"]]
    assert type(error) is cls
    assert error.code == code
    assert error.failure == failure
    assert error.provider == "twilio"
    assert error.provider_code == str(example["body"]["code"])
    assert error.http_status == example["http_status"]
    assert example["body"]["message"] in error.message
    assert error.retry_after is None


def _rate_limited(headers: dict[str, str]) -> httpx.Response:
    example = next(e for e in FIXTURE["errors"] if e["http_status"] == 429)
    return httpx.Response(429, json=example["body"], headers=headers)


def test_retry_after_in_seconds() -> None:
    """Retry-After in seconds becomes retry_after."""
    error = send_error(twilio(), fixture_message(), Recorder(_rate_limited({"Retry-After": "7"})))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0


def test_retry_after_as_http_date() -> None:
    """Retry-After as an HTTP date becomes the seconds until that date."""
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    error = send_error(twilio(), fixture_message(), Recorder(_rate_limited({"Retry-After": when})))
    assert error.retry_after is not None
    assert 3500 < error.retry_after <= 3600


def test_unreadable_retry_after_is_ignored() -> None:
    """A Retry-After that is neither seconds nor a date leaves retry_after unset."""
    response = _rate_limited({"Retry-After": "soon"})
    error = send_error(twilio(), fixture_message(), Recorder(response))
    assert isinstance(error, RateLimited)
    assert error.retry_after is None


def test_non_json_502_from_a_proxy_is_ambiguous() -> None:
    """An HTML 502 from a proxy is ProviderUnavailable, ambiguous, with no provider code."""
    response = httpx.Response(502, text="<html><body>Bad Gateway</body></html>")
    error = send_error(twilio(), fixture_message(), Recorder(response))
    assert type(error) is ProviderUnavailable
    assert error.failure == "ambiguous"
    assert error.http_status == 502
    assert error.provider_code is None


def test_503_is_refused() -> None:
    """A 503 (service unavailable) is ProviderUnavailable, refused."""
    response = httpx.Response(503, text="Service Unavailable")
    error = send_error(twilio(), fixture_message(), Recorder(response))
    assert type(error) is ProviderUnavailable
    assert error.failure == "refused"
    assert error.http_status == 503


def test_20500_is_ambiguous_and_20503_refused() -> None:
    """Twilio's own 20500 may have been processed; 20503 was not."""
    body = {"code": 20500, "message": "Internal Server Error", "status": 500}
    error = send_error(twilio(), fixture_message(), Recorder(httpx.Response(500, json=body)))
    assert (type(error), error.failure, error.provider_code) == (
        ProviderUnavailable,
        "ambiguous",
        "20500",
    )
    body = {"code": 20503, "message": "Service Unavailable", "status": 503}
    error = send_error(twilio(), fixture_message(), Recorder(httpx.Response(503, json=body)))
    assert (type(error), error.failure, error.provider_code) == (
        ProviderUnavailable,
        "refused",
        "20503",
    )


def test_200_without_a_sid_is_an_error() -> None:
    """A 200 whose body is not a Message object is not taken for a success."""
    response = httpx.Response(200, json={"unexpected": True})
    error = send_error(twilio(), fixture_message(), Recorder(response))
    assert isinstance(error, ProviderError)
    assert error.http_status == 200


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (httpx.ConnectError("connection refused"), "refused"),
        (httpx.ConnectTimeout("connect timed out"), "refused"),
        (httpx.PoolTimeout("pool exhausted"), "refused"),
        (httpx.ReadTimeout("read timed out"), "ambiguous"),
        (httpx.RemoteProtocolError("server disconnected"), "ambiguous"),
        (httpx.ReadError("connection reset"), "ambiguous"),
        (httpx.WriteError("broken pipe"), "ambiguous"),
        (httpx.DecodingError("bad gzip in the answer"), "ambiguous"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v,
)
def test_transport_errors_are_classified(exc: Exception, failure: str) -> None:
    """Failures before the request left are refused; after it was written, ambiguous."""
    error = send_error(twilio(), fixture_message(), Recorder(exc))
    assert type(error) is ProviderUnavailable
    assert error.failure == failure
    assert error.provider == "twilio"
    assert error.http_status is None


@pytest.mark.anyio
async def test_async_shell_sends_the_same_request_and_classifies_errors() -> None:
    """The async shell sends the same bytes and classifies a read timeout as ambiguous."""
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        result = await atransmit(client, twilio(), fixture_message())
    assert result.provider_message_id == FIXTURE["response_201"]["sid"]
    sync_recorder = Recorder()
    send(twilio(), fixture_message(), sync_recorder)
    assert form(recorder.requests[0]) == form(sync_recorder.requests[0])
    failing = Recorder(httpx.ReadTimeout("read timed out"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(failing)) as client:
        with pytest.raises(ProviderUnavailable) as info:
            await atransmit(client, twilio(), fixture_message())
    assert info.value.failure == "ambiguous"


def test_repr_hides_the_token_and_api_secret() -> None:
    """The provider's repr shows neither the auth token nor the API secret."""
    provider = twilio(api_key="SK" + "b" * 32, api_secret="api-secret-do-not-leak")
    text = repr(provider)
    assert TOKEN not in text
    assert "api-secret-do-not-leak" not in text
    assert "Twilio(" in text
