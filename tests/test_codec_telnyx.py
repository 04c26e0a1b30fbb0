"""The Telnyx codec, replayed through httpx.MockTransport against fixtures/telnyx_send.json."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsbridge import (
    AuthError,
    ConfigError,
    InvalidRecipient,
    InvalidRequest,
    MessageStatus,
    OptedOut,
    OutboundMessage,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SenderConfig,
    SendResult,
)
from smsbridge.providers import Telnyx
from smsbridge.providers._checks import DEFAULT_TIMEOUT
from smsbridge.providers._shell import atransmit, transmit

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "telnyx_send.json").read_text())
REQUEST = FIXTURE["request"]
API_KEY = REQUEST["headers"]["Authorization"].removeprefix("Bearer ")
PROFILE = REQUEST["json"]["messaging_profile_id"]
# Body keys the codec does not set: smsbridge's message model has no such options.
UNSUPPORTED = {"webhook_failover_url", "use_profile_webhooks", "subject"}
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")

Handler = Callable[[httpx.Request], httpx.Response]


def fixture_message(**overrides: Any) -> OutboundMessage:
    body = REQUEST["json"]
    fields: dict[str, Any] = {
        "to": body["to"],
        "body": body["text"],
        "from_": body["from"],
        "status_callback": body["webhook_url"],
    }
    fields.update(overrides)
    return OutboundMessage(**fields)


def telnyx(**kwargs: Any) -> Telnyx:
    return Telnyx(API_KEY, **kwargs)


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
        return httpx.Response(200, json=FIXTURE["response_200"])


def send(provider: Telnyx, message: OutboundMessage, handler: Handler) -> SendResult:
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return transmit(client, provider, message)


def send_error(provider: Telnyx, message: OutboundMessage, handler: Handler) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        send(provider, message, handler)
    return info.value


def body_of(request: httpx.Request) -> dict[str, Any]:
    value = json.loads(request.content)
    assert isinstance(value, dict)
    return value


def supported(expected: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in expected.items() if k not in UNSUPPORTED}


def test_json_body_matches_the_fixture() -> None:
    """The JSON body has exactly the fixture's keys and values (minus unsupported options)."""
    recorder = Recorder()
    send(telnyx(messaging_profile_id=PROFILE), fixture_message(), recorder)
    (request,) = recorder.requests
    assert body_of(request) == supported(REQUEST["json"])
    assert request.method == REQUEST["method"]


def test_headers_match_the_fixture() -> None:
    """Bearer auth, content type and accept are the fixture's."""
    recorder = Recorder()
    send(telnyx(), fixture_message(), recorder)
    headers = recorder.requests[0].headers
    for name, value in REQUEST["headers"].items():
        assert headers[name] == value


def test_url_is_the_documented_path() -> None:
    """The request goes to the fixture's /v2/messages URL."""
    recorder = Recorder()
    send(telnyx(), fixture_message(), recorder)
    assert str(recorder.requests[0].url) == REQUEST["url"]


def test_base_url_override_keeps_the_documented_path() -> None:
    """A base_url replaces scheme, host and port; the path stays /v2/messages."""
    recorder = Recorder()
    send(telnyx(base_url="http://127.0.0.1:8766"), fixture_message(), recorder)
    assert str(recorder.requests[0].url) == "http://127.0.0.1:8766/v2/messages"


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.telnyx.com/v2",
        "https://api.telnyx.com/v2/",
        "http://127.0.0.1:8766/?x=1",
        "https://user:pw@api.telnyx.com",
        "ftp://api.telnyx.com",
        "https://",
        "http://127.0.0.1:99999",
    ],
)
def test_base_url_with_a_path_is_a_config_error(base_url: str) -> None:
    """A base_url with a path (such as Telnyx's own /v2), a query, credentials, another scheme
    or a bad port is a ConfigError naming TELNYX_BASE_URL, never echoing the URL."""
    with pytest.raises(ConfigError) as info:
        telnyx(base_url=base_url)
    assert info.value.variable == "TELNYX_BASE_URL"
    assert "pw" not in str(info.value)


def test_mms_sends_media_urls_and_type() -> None:
    """An MMS carries media_urls in order and type MMS, as in the fixture."""
    expected = FIXTURE["request_mms"]["json"]
    recorder = Recorder()
    message = OutboundMessage(
        to=expected["to"],
        from_=expected["from"],
        body=expected["text"],
        media_urls=tuple(expected["media_urls"]),
    )
    send(telnyx(), message, recorder)
    assert body_of(recorder.requests[0]) == supported(expected)


def test_two_media_urls_keep_their_order() -> None:
    """Several media URLs are sent as one list in the caller's order."""
    recorder = Recorder()
    urls = ("https://example.com/b.png", "https://example.com/a.jpg")
    send(telnyx(), fixture_message(media_urls=urls), recorder)
    assert body_of(recorder.requests[0])["media_urls"] == list(urls)


def test_messaging_profile_without_from() -> None:
    """Without a sender the profile id is sent and no 'from' (number pool, variant a)."""
    expected = FIXTURE["request_number_pool_variant_a"]
    recorder = Recorder()
    message = OutboundMessage(to=expected["json"]["to"], body=expected["json"]["text"])
    send(telnyx(messaging_profile_id=PROFILE), message, recorder)
    sent = body_of(recorder.requests[0])
    assert "from" not in sent
    assert {k: v for k, v in sent.items() if k != "type"} == expected["json"]
    assert str(recorder.requests[0].url) == expected["url"]


def test_neither_from_nor_profile_is_a_config_error() -> None:
    """A send with no sender and no profile raises ConfigError naming TELNYX_FROM."""
    with pytest.raises(ConfigError) as info:
        telnyx().build_request(OutboundMessage(to="+13125550111", body="Hi"))
    assert info.value.variable == "TELNYX_FROM"


def test_no_status_callback_means_no_webhook_url() -> None:
    """Without a status callback the profile's webhooks apply: no webhook_url key."""
    recorder = Recorder()
    send(telnyx(), fixture_message(status_callback=None), recorder)
    assert "webhook_url" not in body_of(recorder.requests[0])


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (None, DEFAULT_TIMEOUT.as_dict()),
        (2.5, {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}),
        (
            httpx.Timeout(30.0, connect=1.0),
            {"connect": 1.0, "read": 30.0, "write": 30.0, "pool": 30.0},
        ),
    ],
)
def test_timeout_extension_carries_the_configured_timeout(
    configured: float | httpx.Timeout | None, expected: dict[str, float]
) -> None:
    """Every request carries the configured timeout as httpx's timeout extension."""
    recorder = Recorder()
    send(telnyx(timeout=configured), fixture_message(), recorder)
    assert recorder.requests[0].extensions["timeout"] == expected


def test_idempotency_key_is_the_callers_key() -> None:
    """A caller's key that Telnyx accepts is sent as it is."""
    recorder = Recorder()
    send(telnyx(), fixture_message(idempotency_key="otp-9f1c"), recorder)
    assert recorder.requests[0].headers["idempotency-key"] == "otp-9f1c"


@pytest.mark.parametrize("key", ["order 42/é", "a" * 300, "x!y", "abc\n", ""])
def test_idempotency_key_outside_the_charset_is_digested(key: str) -> None:
    """A key Telnyx would refuse becomes a stable digest inside its charset."""
    message = fixture_message(idempotency_key=key or None)
    first = telnyx().build_request(message).headers["idempotency-key"]
    second = telnyx().build_request(message).headers["idempotency-key"]
    assert IDEMPOTENCY_KEY.match(first)
    assert first == second
    if key:
        assert first != key


def test_idempotency_key_is_stable_for_a_message_and_differs_between_messages() -> None:
    """A retry of one message repeats its key and its exact bytes; another message differs."""
    provider = telnyx()
    message = fixture_message()
    first, second = provider.build_request(message), provider.build_request(message)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert IDEMPOTENCY_KEY.match(first.headers["idempotency-key"])
    assert first.content == second.content
    other = provider.build_request(fixture_message())
    assert other.headers["idempotency-key"] != first.headers["idempotency-key"]


def test_same_idempotency_key_gives_the_same_header_across_messages() -> None:
    """Two message objects with one idempotency key share the header (a resend after restart)."""
    provider = telnyx()
    a = provider.build_request(fixture_message(idempotency_key="order:42"))
    b = provider.build_request(fixture_message(idempotency_key="order:42"))
    assert a.headers["idempotency-key"] == b.headers["idempotency-key"] == "order:42"


def test_success_is_parsed_into_a_send_result() -> None:
    """A 200 with data becomes a SendResult with id, status, numbers, parts and encoding."""
    data = FIXTURE["response_200"]["data"]
    result = send(telnyx(), fixture_message(reference="order-42"), Recorder())
    assert result.provider == "telnyx"
    assert result.provider_message_id == data["id"]
    assert result.status is MessageStatus.QUEUED
    assert result.to == data["to"][0]["phone_number"]
    assert result.from_ == data["from"]["phone_number"]
    assert result.segments == data["parts"]
    assert result.encoding == data["encoding"]
    assert result.reference == "order-42"
    assert result.raw == data


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", MessageStatus.QUEUED),
        ("sending", MessageStatus.SENDING),
        ("sent", MessageStatus.SENT),
    ],
)
def test_initial_status_is_mapped(raw: str, expected: MessageStatus) -> None:
    """The recipient's status maps into MessageStatus."""
    payload = json.loads(json.dumps(FIXTURE["response_200"]))
    payload["data"]["to"][0]["status"] = raw
    result = send(telnyx(), fixture_message(), Recorder(httpx.Response(200, json=payload)))
    assert result.status is expected


EXPECTED_ERRORS: dict[str, tuple[type[ProviderError], str, str]] = {
    "10009": (AuthError, "auth_or_account", "refused"),
    "10011": (RateLimited, "rate_limited", "refused"),
    "40310": (InvalidRecipient, "invalid_recipient", "rejected"),
    "40300": (OptedOut, "opted_out", "rejected"),
    "40305": (SenderConfig, "sender_config", "refused"),
}


@pytest.mark.parametrize("example", FIXTURE["errors"], ids=lambda e: e["body"]["errors"][0]["code"])
def test_fixture_errors_are_mapped(example: dict[str, Any]) -> None:
    """Every error example maps to its class, code, failure, provider code and HTTP status."""
    first = example["body"]["errors"][0]
    response = httpx.Response(
        example["http_status"], json=example["body"], headers=example.get("headers", {})
    )
    error = send_error(telnyx(), fixture_message(), Recorder(response))
    cls, code, failure = EXPECTED_ERRORS[first["code"]]
    assert type(error) is cls
    assert error.code == code
    assert error.failure == failure
    assert error.provider == "telnyx"
    assert error.provider_code == first["code"]
    assert error.http_status == example["http_status"]
    assert first["title"] in error.message
    if "headers" in example:
        assert error.retry_after == float(example["headers"]["x-ratelimit-reset"])
    else:
        assert error.retry_after is None


def _rate_limited(headers: dict[str, str]) -> httpx.Response:
    example = next(e for e in FIXTURE["errors"] if e["http_status"] == 429)
    return httpx.Response(429, json=example["body"], headers=headers)


def test_retry_after_seconds_wins_over_ratelimit_reset() -> None:
    """Retry-After, when present, is used before x-ratelimit-reset."""
    response = _rate_limited({"Retry-After": "4", "x-ratelimit-reset": "9"})
    error = send_error(telnyx(), fixture_message(), Recorder(response))
    assert error.retry_after == 4.0


def test_retry_after_zero_is_kept() -> None:
    """Retry-After 0 means "now", not "look elsewhere"."""
    response = _rate_limited({"Retry-After": "0", "x-ratelimit-reset": "9"})
    error = send_error(telnyx(), fixture_message(), Recorder(response))
    assert error.retry_after == 0.0


def test_retry_after_as_http_date() -> None:
    """Retry-After as an HTTP date becomes the seconds until that date."""
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    error = send_error(telnyx(), fixture_message(), Recorder(_rate_limited({"Retry-After": when})))
    assert error.retry_after is not None
    assert 60 < error.retry_after <= 120


def test_ratelimit_reset_on_a_non_429_is_not_a_wait() -> None:
    """x-ratelimit-reset on an ordinary 400 does not turn into retry_after."""
    example = next(e for e in FIXTURE["errors"] if e["body"]["errors"][0]["code"] == "40310")
    response = httpx.Response(400, json=example["body"], headers={"x-ratelimit-reset": "30"})
    error = send_error(telnyx(), fixture_message(), Recorder(response))
    assert isinstance(error, InvalidRecipient)
    assert error.retry_after is None


def test_code_wins_over_http_status() -> None:
    """A known code is classified on the code whatever the status (403xx come as 400/403/422)."""
    body = {"errors": [{"code": "40300", "title": "Blocked due to STOP message"}]}
    for status in (400, 403, 422):
        error = send_error(telnyx(), fixture_message(), Recorder(httpx.Response(status, json=body)))
        assert type(error) is OptedOut
        assert error.http_status == status


def test_unknown_code_falls_back_on_http_status() -> None:
    """An unknown code on a 422 is an invalid request; on a 403, an auth error."""
    body = {"errors": [{"code": "99999", "title": "Something new"}]}
    error = send_error(telnyx(), fixture_message(), Recorder(httpx.Response(422, json=body)))
    assert (type(error), error.provider_code) == (InvalidRequest, "99999")
    error = send_error(telnyx(), fixture_message(), Recorder(httpx.Response(403, json=body)))
    assert type(error) is AuthError


def test_non_json_502_from_a_proxy_is_ambiguous() -> None:
    """An HTML 502 from a proxy is ProviderUnavailable, ambiguous, with no provider code."""
    response = httpx.Response(502, text="<html>502 Bad Gateway</html>")
    error = send_error(telnyx(), fixture_message(), Recorder(response))
    assert type(error) is ProviderUnavailable
    assert error.failure == "ambiguous"
    assert error.http_status == 502
    assert error.provider_code is None


def test_503_is_refused() -> None:
    """A 503 is ProviderUnavailable, refused."""
    error = send_error(telnyx(), fixture_message(), Recorder(httpx.Response(503, text="down")))
    assert type(error) is ProviderUnavailable
    assert error.failure == "refused"


def test_10007_on_500_is_ambiguous() -> None:
    """Telnyx's unexpected error on a 500 may have been processed: ambiguous."""
    body = {"errors": [{"code": "10007", "title": "Unexpected error"}]}
    error = send_error(telnyx(), fixture_message(), Recorder(httpx.Response(500, json=body)))
    assert (type(error), error.failure, error.provider_code) == (
        ProviderUnavailable,
        "ambiguous",
        "10007",
    )


def test_200_without_data_id_is_an_error() -> None:
    """A 200 without data.id is not taken for a success."""
    error = send_error(
        telnyx(), fixture_message(), Recorder(httpx.Response(200, json={"data": {}}))
    )
    assert isinstance(error, ProviderError)


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (httpx.ConnectError("connection refused"), "refused"),
        (httpx.ConnectTimeout("connect timed out"), "refused"),
        (httpx.ReadTimeout("read timed out"), "ambiguous"),
        (httpx.RemoteProtocolError("server disconnected"), "ambiguous"),
        (httpx.ReadError("connection reset"), "ambiguous"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v,
)
def test_transport_errors_are_classified(exc: Exception, failure: str) -> None:
    """Failures before the request left are refused; after it was written, ambiguous."""
    error = send_error(telnyx(), fixture_message(), Recorder(exc))
    assert type(error) is ProviderUnavailable
    assert error.failure == failure
    assert error.provider == "telnyx"


@pytest.mark.anyio
async def test_async_shell_sends_the_same_request_and_classifies_errors() -> None:
    """The async shell sends the same JSON and classifies a connect error as refused."""
    recorder = Recorder()
    message = fixture_message()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        result = await atransmit(client, telnyx(), message)
    assert result.provider_message_id == FIXTURE["response_200"]["data"]["id"]
    assert recorder.requests[0].content == telnyx().build_request(message).content
    failing = Recorder(httpx.ConnectError("refused"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(failing)) as client:
        with pytest.raises(ProviderUnavailable) as info:
            await atransmit(client, telnyx(), message)
    assert info.value.failure == "refused"


def test_public_key_must_be_32_bytes_of_base64() -> None:
    """A public key that is not base64 of 32 bytes is a ConfigError naming TELNYX_PUBLIC_KEY."""
    for bad in ("not base64!", "AAAA", "A" * 44 + "=="):
        with pytest.raises(ConfigError) as info:
            telnyx(public_key=bad)
        assert info.value.variable == "TELNYX_PUBLIC_KEY"


def test_repr_hides_the_api_key() -> None:
    """The provider's repr does not show the API key."""
    assert API_KEY not in repr(telnyx())
    assert "Telnyx(" in repr(telnyx())
