"""The provider-independent parts of the webhook endpoint: the request and response types,
detection, size limits, error answers, URLs, and the fast paths proven equal to slow ones."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbridge import (
    Bridge,
    InboundMessage,
    MalformedWebhook,
    PayloadTooLarge,
    SignatureError,
    StaleWebhook,
    StatusEvent,
    UnknownProvider,
    WebhookError,
    WebhookOutcome,
    WebhookRequest,
    WebhookResponse,
)
from smsbridge.providers import Telnyx, Twilio
from smsbridge.providers.twilio._signing import twilio_string_to_sign
from smsbridge.providers.twilio._verify import string_to_sign
from smsbridge.testing import make_telnyx_keypair, sign_telnyx, sign_twilio
from smsbridge.webhooks import Headers, detect, error_response, public_url_for
from smsbridge.webhooks._common import parse_form
from smsbridge.webhooks._urls import path_and_query, port_variants

TOKEN = "0123456789abcdef0123456789abcdef"
PAIR = make_telnyx_keypair(b"\x03" * 32)
URL = "https://app.example.com/sms/webhook"


def both(**kwargs: Any) -> Bridge:
    """A bridge with a Twilio and a Telnyx account."""
    return Bridge(
        [
            Twilio("AC" + "0" * 32, TOKEN, from_="+15550001"),
            Telnyx("K", public_key=PAIR.public_key_b64),
        ],
        **kwargs,
    )


# -- request and response types ----------------------------------------------------------------
def test_headers_are_case_insensitive_and_keep_repeats() -> None:
    """Lookups ignore case; repeated fields are all kept, in order."""
    headers = Headers([("X-A", "1"), ("x-a", "2"), ("Content-Type", "text/plain")])
    assert headers["x-A"] == "1"
    assert headers.get_all("X-A") == ["1", "2"]
    assert "CONTENT-TYPE" in headers
    assert headers.get("missing") is None
    assert len(headers) == 2
    assert headers.raw()[1] == ("x-a", "2")


def test_headers_accept_dicts_bytes_and_lists() -> None:
    """Mappings, (bytes) pairs and multi-dict lists all normalise to str fields."""
    assert Headers({"A": "1"}).get_all("a") == ["1"]
    assert Headers([(b"A", b"\xe9")])["a"] == "é"
    assert Headers({"A": ["1", "2"]}).get_all("a") == ["1", "2"]
    assert Headers({"A": "1", "a": "2"}).get_all("A") == ["1", "2"]
    with pytest.raises(TypeError):
        Headers({"A": 1})  # type: ignore[arg-type]


def test_request_is_frozen_and_its_repr_hides_values() -> None:
    """WebhookRequest cannot be changed, upper-cases the method, and never shows header values."""
    request = WebhookRequest("post", URL, {"X-Twilio-Signature": "secret-sig"}, bytearray(b"a=1"))
    assert request.method == "POST"
    assert request.body == b"a=1"
    with pytest.raises(AttributeError):
        request.url = "x"  # type: ignore[misc]
    assert "secret-sig" not in repr(request)
    assert "a=1" not in repr(request)
    with pytest.raises(TypeError):
        WebhookRequest("POST", URL, {}, "text body")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (SignatureError("bad"), 403),
        (StaleWebhook("old"), 403),
        (UnknownProvider("who"), 400),
        (MalformedWebhook("what"), 400),
        (PayloadTooLarge("big"), 413),
    ],
)
def test_error_responses(error: WebhookError, status: int) -> None:
    """Each error answers its status with {"error": {"code", "message"}} as JSON."""
    response = error_response(error)
    assert response == WebhookResponse.for_error(error)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == {"error": {"code": error.code, "message": error.message}}


# -- detection and limits ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "headers", "body", "url", "expected"),
    [
        ("POST", {"X-Twilio-Signature": "x"}, b"", URL, "twilio"),
        ("POST", {"telnyx-signature-ed25519": "x"}, b"", URL, "telnyx"),
        (
            "POST",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"MessageSid=SM1",
            URL,
            "twilio",
        ),
        ("POST", {}, b"AccountSid=AC1&Body=x", URL, "twilio"),
        ("GET", {}, b"", URL + "?MessageSid=SM1", "twilio"),
        (
            "POST",
            {"Content-Type": "application/json"},
            b'{"data":{"event_type":"x"}}',
            URL,
            "telnyx",
        ),
        (
            "POST",
            {"Content-Type": "application/json", "telnyx-timestamp": "1"},
            b"{}",
            URL,
            "telnyx",
        ),
    ],
)
def test_detection(
    method: str, headers: dict[str, str], body: bytes, url: str, expected: str
) -> None:
    """Signature headers decide first; otherwise content type and shape."""
    assert detect(WebhookRequest(method, url, headers, body)) == expected


@pytest.mark.parametrize(
    "request_",
    [
        WebhookRequest("POST", URL, {"Content-Type": "text/plain"}, b"hello"),
        WebhookRequest("POST", URL, {"Content-Type": "application/json"}, b'{"type": "x"}'),
        WebhookRequest("GET", URL, {}, b""),
    ],
)
def test_unrecognisable_requests_are_unknown_provider(request_: WebhookRequest) -> None:
    """A request that looks like neither provider is UnknownProvider."""
    with pytest.raises(UnknownProvider):
        both().handle_webhook(request_)


def test_unsigned_webhook_of_a_known_shape_is_a_signature_error() -> None:
    """A Twilio-shaped form without a signature is detected, then refused as unsigned."""
    request = WebhookRequest(
        "POST", URL, {"Content-Type": "application/x-www-form-urlencoded"}, b"MessageSid=SM1"
    )
    with pytest.raises(SignatureError):
        both().handle_webhook(request)


def test_body_over_the_limit_is_refused_first() -> None:
    """A body over max_body_size is PayloadTooLarge (413) before anything else is looked at."""
    bridge = Bridge(Twilio("AC" + "0" * 32, TOKEN, from_="+15550001"), max_body_size=10)
    with pytest.raises(PayloadTooLarge) as info:
        bridge.handle_webhook(WebhookRequest("POST", URL, {}, b"x" * 11))
    assert info.value.status_code == 413
    with pytest.raises(UnknownProvider):
        bridge.handle_webhook(WebhookRequest("POST", URL, {}, b"x" * 10))


def test_huge_headers_are_refused() -> None:
    """Headers plus URL beyond the size limit are PayloadTooLarge, whatever they contain."""
    with pytest.raises(PayloadTooLarge):
        both().handle_webhook(
            WebhookRequest("POST", URL, {"X-Twilio-Signature": "a" * 70_000}, b"")
        )


# -- URLs --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h.example/a/b?x=1#f", "/a/b?x=1"),
        ("https://h.example", "/"),
        ("https://h.example?x=1", "/?x=1"),
        ("/relative?q", "/relative?q"),
    ],
)
def test_path_and_query(url: str, expected: str) -> None:
    """The path and query of a URL, fragment dropped, always starting with a slash."""
    assert path_and_query(url) == expected


@pytest.mark.parametrize(
    ("url", "variants"),
    [
        ("https://h.example/p?a=1", ["https://h.example/p?a=1", "https://h.example:443/p?a=1"]),
        ("http://h.example/p", ["http://h.example/p", "http://h.example:80/p"]),
        ("https://h.example:1234/p", ["https://h.example:1234/p", "https://h.example/p"]),
        ("https://[::1]:8443/p", ["https://[::1]:8443/p", "https://[::1]/p"]),
    ],
)
def test_port_variants(url: str, variants: list[str]) -> None:
    """Twilio's two port forms: any port stripped, and the default port added when absent."""
    assert port_variants(url) == variants


def test_public_url_for_rules() -> None:
    """public_url wins; forwarded headers count only from trusted proxies; else the URL as seen."""
    seen = "http://10.0.0.2:8000/sms/webhook?x=1"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "a.example, b.example"}
    request = WebhookRequest("POST", seen, headers, b"", remote_addr="10.0.0.9")
    bridge = both()
    assert public_url_for(bridge, request) == seen
    bridge = both(trusted_proxies=("10.0.0.0/24",))
    assert public_url_for(bridge, request) == "https://b.example/sms/webhook?x=1"
    bridge = both(trusted_proxies=("::ffff:10.0.0.9",))
    mapped = WebhookRequest("POST", seen, headers, b"", remote_addr="::ffff:10.0.0.9")
    assert public_url_for(bridge, mapped) == "https://b.example/sms/webhook?x=1"
    bridge.public_url = "https://public.example/base"
    assert public_url_for(bridge, request) == "https://public.example/base/sms/webhook?x=1"


def test_bad_forwarded_port_is_malformed() -> None:
    """A trusted proxy sending a non-numeric X-Forwarded-Port gives MalformedWebhook."""
    bridge = Bridge(
        Twilio("AC" + "0" * 32, TOKEN, from_="+15550001"), trusted_proxies=["127.0.0.1"]
    )
    request = WebhookRequest(
        "POST",
        URL,
        {"X-Twilio-Signature": "x", "X-Forwarded-Port": "http"},
        b"",
        remote_addr="127.0.0.1",
    )
    with pytest.raises(MalformedWebhook):
        bridge.handle_webhook(request)


# -- fast paths equal the reference implementations --------------------------------------------
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), max_size=8), st.text(max_size=20))
def test_string_to_sign_equals_the_shared_primitive(pairs: list[tuple[str, str]], url: str) -> None:
    """The verifier's fast string-to-sign equals the signer's for any params."""
    assert string_to_sign(url, pairs) == twilio_string_to_sign(url, pairs)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), max_size=8), st.booleans())
def test_parse_form_equals_parse_qsl(pairs: list[tuple[str, str]], raw_joins: bool) -> None:
    """The fast form decoder equals urllib's parse_qsl on encoded and odd-shaped bodies."""
    from urllib.parse import quote_plus

    if raw_joins:  # unencoded names and values: '=' and '&' inside them make odd shapes
        body = "&".join(f"{k}={v}" for k, v in pairs)
    else:
        body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)
    data = body.encode("utf-8", "surrogatepass")
    try:
        expected = parse_qsl(data.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(MalformedWebhook):
            parse_form(data)
        return
    assert parse_form(data) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_parse_form_on_any_bytes(data: bytes) -> None:
    """On arbitrary bytes the decoder equals parse_qsl or refuses with MalformedWebhook."""
    try:
        expected = parse_qsl(data.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(MalformedWebhook):
            parse_form(data)
        return
    assert parse_form(data) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="%0123456789aAfFgG=&+\\xé\x00 ", max_size=40))
def test_parse_form_on_escape_heavy_text(text: str) -> None:
    """Bodies dense in percent escapes, backslashes and NULs decode exactly as parse_qsl does."""
    data = text.encode()
    try:
        expected = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(MalformedWebhook):
            parse_form(data)
        return
    assert parse_form(data) == expected


def _events() -> list[Any]:
    twilio = both()
    params = [
        ("MessageSid", "MM1"),
        ("From", "+1"),
        ("To", "+2"),
        ("Body", "hi"),
        ("NumMedia", "1"),
        ("MediaUrl0", "https://m/1"),
        ("MediaContentType0", "image/png"),
        ("NumSegments", "2"),
    ]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign_twilio(URL, params, auth_token=TOKEN),
    }
    from urllib.parse import urlencode

    inbound = twilio.handle_webhook(
        WebhookRequest("POST", URL, headers, urlencode(params).encode())
    ).event
    status_params = [
        ("MessageSid", "SM1"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
        ("To", "+2"),
        ("From", "+1"),
        ("RawDlrDoneDate", "2405141531"),
    ]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign_twilio(URL, status_params, auth_token=TOKEN),
    }
    status = twilio.handle_webhook(
        WebhookRequest("POST", URL, headers, urlencode(status_params).encode())
    ).event
    document = {
        "data": {
            "event_type": "message.finalized",
            "id": "e1",
            "occurred_at": "2024-05-14T15:31:03Z",
            "payload": {
                "id": "m1",
                "from": {"phone_number": "+1"},
                "errors": [{"code": "40008"}],
                "to": [{"phone_number": "+2", "status": "delivery_failed"}],
            },
        }
    }
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", **sign_telnyx(body, signing_key=PAIR)}
    telnyx = twilio.handle_webhook(WebhookRequest("POST", URL, headers, body)).event
    return [inbound, status, telnyx]


def test_fast_built_events_equal_validated_ones() -> None:
    """Events built without validation equal the same data validated by pydantic."""
    for event in _events():
        cls = type(event)
        assert cls in (InboundMessage, StatusEvent)
        assert cls.model_validate(event.model_dump()) == event
        assert event.model_dump() == cls(**dict(event)).model_dump()
        with pytest.raises(Exception):  # frozen like any other instance
            event.provider = "x"


def test_outcome_is_immutable() -> None:
    """A WebhookOutcome cannot be modified after handling."""
    outcome = WebhookOutcome("telnyx", (), WebhookResponse(200, {}, b""))
    with pytest.raises(AttributeError):
        outcome.duplicate = True  # type: ignore[misc]
