"""Bad input of any kind ends in a WebhookError with a stable code, never another exception:
mutated signed requests (hypothesis) and an explicit table of nasty cases."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsbridge import Bridge, WebhookError, WebhookRequest
from smsbridge.providers import Telnyx, Twilio
from smsbridge.testing import make_telnyx_keypair, sign_telnyx, sign_twilio, twilio_json_url
from smsbridge.webhooks import WebhookOutcome, ahandle, handle

TOKEN = "0123456789abcdef0123456789abcdef"
PAIR = make_telnyx_keypair(b"\x11" * 32)
NOW = 1_715_700_602
URL = "https://app.example.com/sms/webhook?smsbridge_ref=order-1"
FORM = "application/x-www-form-urlencoded"
CODES = {
    "invalid_signature",
    "stale_webhook",
    "unknown_provider",
    "malformed_webhook",
    "payload_too_large",
}

TWILIO_INBOUND = [
    ("MessageSid", "MM" + "a" * 32),
    ("AccountSid", "AC" + "0" * 32),
    ("From", "+13125550111"),
    ("To", "+13125550100"),
    ("Body", "Hello – café ☕ & more"),
    ("NumMedia", "1"),
    ("MediaUrl0", "https://api.twilio.com/media/ME1"),
    ("MediaContentType0", "image/jpeg"),
    ("NumSegments", "1"),
]
TWILIO_STATUS = [
    ("MessageSid", "SM" + "b" * 32),
    ("MessageStatus", "undelivered"),
    ("ErrorCode", "30003"),
    ("To", "+13125550111"),
    ("From", "+13125550100"),
    ("RawDlrDoneDate", "2405141532"),
]
TELNYX_FINALIZED: dict[str, Any] = {
    "data": {
        "event_type": "message.finalized",
        "id": "4ee8c3a6-4995-4309-a3c6-38e3db9ea4be",
        "occurred_at": "2024-05-14T15:31:03.870+00:00",
        "payload": {
            "id": "40385f64-5717-4562-b3fc-2c963f66afa6",
            "from": {"phone_number": "+13125550100"},
            "to": [
                {"phone_number": "+13125550111", "status": "delivered"},
                {"phone_number": "+13125550112", "status": "expired"},
            ],
            "errors": [{"code": "40005", "title": "Expired"}],
            "media": [{"url": "https://m.example/1.jpg", "content_type": "image/jpeg"}],
        },
    },
    "meta": {"attempt": 1},
}
TELNYX_RECEIVED: dict[str, Any] = {
    "data": {
        "event_type": "message.received",
        "id": "b301ed3f-1490-491f-995f-6e64e69674d4",
        "occurred_at": "2024-05-14T15:30:02.141+00:00",
        "payload": {
            "id": "84cca175-9755-4859-b67f-4730d7f58aa3",
            "from": {"phone_number": "+13125550111"},
            "to": [{"phone_number": "+13125550100", "status": "webhook_delivered"}],
            "text": "STOP",
            "parts": 1,
            "received_at": "2024-05-14T15:30:01.987+00:00",
        },
    }
}
EVENT_STREAMS = [
    {
        "id": "NO1",
        "type": "com.twilio.messaging.message.delivered",
        "data": {"messageSid": "SM1", "messageStatus": "DELIVERED", "to": "+1", "from": "+2"},
    }
]


def make_bridge(**kw: Any) -> Bridge:
    """Both providers, a fixed clock, a proxy trusted on loopback."""
    twilio = Twilio("AC" + "0" * 32, TOKEN, from_="+13125550100", shared_keys={"wk": "shared"})
    bridge = Bridge(
        [twilio, Telnyx("KEY", public_key=PAIR.public_key_b64)], trusted_proxies=["127.0.0.1"], **kw
    )
    bridge.clock = lambda: NOW  # type: ignore[attr-defined]
    return bridge


# -- signed originals ----------------------------------------------------------------------------
def twilio_form(params: list[tuple[str, str]], url: str = URL, **extra: str) -> WebhookRequest:
    """A signed Twilio form POST."""
    headers = {"Content-Type": FORM, **sign_twilio(url, params, auth_token=TOKEN), **extra}
    return WebhookRequest("POST", url, headers, urlencode(params).encode())


def twilio_json(document: Any) -> WebhookRequest:
    """A signed Twilio JSON POST (bodySHA256 in the URL)."""
    body = json.dumps(document).encode()
    url = twilio_json_url(URL, body)
    headers = {"Content-Type": "application/json", **sign_twilio(url, auth_token=TOKEN, body=body)}
    return WebhookRequest("POST", url, headers, body)


def telnyx(document: Any, *, timestamp: int = NOW, url: str = URL) -> WebhookRequest:
    """A signed Telnyx JSON POST (``document`` may be raw bytes)."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    headers = {
        "Content-Type": "application/json",
        **sign_telnyx(body, signing_key=PAIR, timestamp=timestamp),
    }
    return WebhookRequest("POST", url, headers, body)


def originals() -> list[WebhookRequest]:
    """One valid signed request of every kind the endpoint handles."""
    get_url = "https://app.example.com/sms/webhook?" + urlencode(TWILIO_INBOUND)
    shared = sign_twilio(
        URL, TWILIO_STATUS, auth_token=TOKEN, shared_key=("wk", "shared", "HMAC_SHA256")
    )
    return [
        twilio_form(TWILIO_INBOUND),
        twilio_form(TWILIO_STATUS, **{"I-Twilio-Idempotency-Token": "tok"}),
        WebhookRequest("GET", get_url, sign_twilio(get_url, auth_token=TOKEN), b""),
        WebhookRequest(
            "POST", URL, {"Content-Type": FORM, **shared}, urlencode(TWILIO_STATUS).encode()
        ),
        twilio_json(EVENT_STREAMS),
        telnyx(TELNYX_RECEIVED),
        telnyx(TELNYX_FINALIZED),
    ]


ORIGINALS = originals()


def test_originals_are_accepted() -> None:
    """Every unmutated original is handled (the fuzzing starts from valid requests)."""
    bridge = make_bridge()
    for request in ORIGINALS:
        assert isinstance(handle(bridge, request), WebhookOutcome)


# -- mutations -----------------------------------------------------------------------------------
def resign(request: WebhookRequest) -> WebhookRequest:
    """The request with signatures recomputed for its (mutated) content, where possible, so the
    mutation reaches the parsers instead of stopping at the signature check."""
    headers = [
        (k, v)
        for k, v in request.headers.raw()
        if "signature" not in k.lower() and k.lower() != "telnyx-timestamp"
    ]
    if request.headers.get("telnyx-signature-ed25519") is not None:
        headers += list(sign_telnyx(request.body, signing_key=PAIR, timestamp=NOW).items())
    elif request.method == "GET" or "bodySHA256" in request.url:
        headers += list(sign_twilio(request.url, auth_token=TOKEN).items())
    else:
        try:
            params = parse_qsl(request.body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return request
        headers += list(sign_twilio(request.url, params, auth_token=TOKEN).items())
    return WebhookRequest(request.method, request.url, headers, request.body, request.remote_addr)


JUNK_TEXT = st.text(max_size=40) | st.sampled_from(
    ["", " ", "0", "-1", "1e9", "NaN", "９", "é" * 88, "=" * 5]
)
JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[WebhookRequest, bool]:
    """A valid original with one to three random mutations, and whether to re-sign it."""
    request = draw(st.sampled_from(ORIGINALS))
    method, url, body = request.method, request.url, request.body
    headers = list(request.headers.raw())
    remote: str | None = request.remote_addr
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                [
                    "flip",
                    "truncate",
                    "insert",
                    "drop_header",
                    "dup_header",
                    "header_value",
                    "url",
                    "method",
                    "body",
                    "json_value",
                    "content_type",
                    "forwarded",
                ]
            )
        )
        if kind == "flip" and body:
            i = draw(st.integers(0, len(body) - 1))
            body = body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1 :]
        elif kind == "truncate":
            body = body[: draw(st.integers(0, len(body)))]
        elif kind == "insert":
            i = draw(st.integers(0, len(body)))
            body = body[:i] + draw(st.binary(max_size=8)) + body[i:]
        elif kind == "drop_header" and headers:
            headers.pop(draw(st.integers(0, len(headers) - 1)))
        elif kind == "dup_header" and headers:
            headers.append(headers[draw(st.integers(0, len(headers) - 1))])
        elif kind == "header_value" and headers:
            i = draw(st.integers(0, len(headers) - 1))
            headers[i] = (headers[i][0], draw(JUNK_TEXT))
        elif kind == "url":
            url = draw(
                st.sampled_from(
                    [
                        url + draw(st.text(max_size=10)),
                        "http" + url[5:],
                        draw(st.text(max_size=30)),
                        "http://[::1",
                        url.replace("?", "?bodySHA256=&"),
                    ]
                )
            )
        elif kind == "method":
            method = draw(st.sampled_from(["GET", "PUT", "post", "HEAD", ""]))
        elif kind == "body":
            body = draw(
                st.binary(max_size=64) | st.just(b"[" * 50_000) | st.just(b'{"data": 1e999999}')
            )
        elif kind == "json_value":
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                continue
            node = document
            while isinstance(node, dict) and node and draw(st.booleans()):
                key = draw(st.sampled_from(sorted(node)))
                if not isinstance(node[key], (dict, list)):
                    break
                node = node[key] if isinstance(node[key], dict) else node
            if isinstance(node, dict) and node:
                node[draw(st.sampled_from(sorted(node)))] = draw(JSON_VALUE)
            body = json.dumps(document).encode()
        elif kind == "content_type":
            headers = [h for h in headers if h[0].lower() != "content-type"]
            headers.append(
                (
                    "Content-Type",
                    draw(
                        st.sampled_from(
                            [
                                "text/plain",
                                "application/json",
                                FORM,
                                "",
                                "multipart/form-data; boundary=x",
                            ]
                        )
                    ),
                )
            )
        elif kind == "forwarded":
            remote = draw(st.sampled_from(["127.0.0.1", "not-an-ip", "::1", None]))
            headers.append(
                (
                    draw(
                        st.sampled_from(
                            [
                                "X-Forwarded-Proto",
                                "X-Forwarded-Host",
                                "X-Forwarded-Port",
                                "X-Forwarded-Prefix",
                            ]
                        )
                    ),
                    draw(JUNK_TEXT),
                )
            )
    return WebhookRequest(method, url, headers, body, remote), draw(st.booleans())


class _Bugs(logging.Handler):
    """Collects ERROR records of ``smsbridge.webhooks``: the safety net turning an unexpected
    exception into a 400 logs one, and the fuzz tests count that as a failure."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def no_bug_caught() -> Iterator[None]:
    """Fail if the pipeline's safety net caught an exception inside the block."""
    bugs = _Bugs()
    logger = logging.getLogger("smsbridge.webhooks")
    logger.addHandler(bugs)
    try:
        yield
    finally:
        logger.removeHandler(bugs)
    assert not bugs.records, [r.getMessage() for r in bugs.records]


def outcome_or_webhook_error(call: Callable[[], Any]) -> None:
    """Run ``call``: it returns an outcome or raises a WebhookError with a stable code, and
    never by way of the safety net (which would hide a bug behind a 400)."""
    error: WebhookError | None = None
    try:
        with no_bug_caught():
            result = call()
    except WebhookError as exc:
        error = exc
    if error is not None:
        assert error.code in CODES
        assert error.status_code in (400, 403, 413)
        return
    assert isinstance(result, WebhookOutcome)
    assert result.events
    assert result.response.status_code == 200


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_requests_never_raise_anything_else(case: tuple[WebhookRequest, bool]) -> None:
    """Any mutation of a valid request, re-signed or not, ends in an outcome or a WebhookError."""
    request, signed_again = case
    if signed_again:
        request = resign(request)
    bridge = make_bridge()
    outcome_or_webhook_error(lambda: handle(bridge, request))


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200),
    st.lists(st.tuples(JUNK_TEXT, JUNK_TEXT), max_size=5),
    st.text(max_size=40),
)
def test_arbitrary_requests_never_raise_anything_else(
    body: bytes, headers: list[tuple[str, str]], url: str
) -> None:
    """Random bodies, headers and URLs end in an outcome or a WebhookError."""
    bridge = make_bridge()
    outcome_or_webhook_error(lambda: handle(bridge, WebhookRequest("POST", url, headers, body)))


# -- the explicit table --------------------------------------------------------------------------
def _with(
    request: WebhookRequest,
    *,
    url: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    remote_addr: str | None = None,
) -> WebhookRequest:
    """``request`` with some parts replaced."""
    return WebhookRequest(
        request.method,
        request.url if url is None else url,
        list(request.headers.raw()) if headers is None else headers,
        request.body if body is None else body,
        request.remote_addr if remote_addr is None else remote_addr,
    )


def _twilio_sig() -> str:
    return ORIGINALS[0].headers["X-Twilio-Signature"]


def _telnyx_headers(**override: str) -> list[tuple[str, str]]:
    base = dict(sign_telnyx(b"{}", signing_key=PAIR, timestamp=NOW))
    base.update(override)
    return [("Content-Type", "application/json"), *base.items()]


NASTY: list[tuple[str, Callable[[], WebhookRequest], str | None]] = [
    ("empty request", lambda: WebhookRequest("POST", "", {}, b""), "unknown_provider"),
    (
        "plain text",
        lambda: WebhookRequest("POST", URL, {"Content-Type": "text/plain"}, b"hi"),
        "unknown_provider",
    ),
    (
        "twilio wrong content type",
        lambda: _with(
            ORIGINALS[0],
            headers=[("Content-Type", "text/plain"), ("X-Twilio-Signature", _twilio_sig())],
        ),
        "invalid_signature",
    ),
    (
        "twilio truncated body",
        lambda: _with(ORIGINALS[0], body=ORIGINALS[0].body[:-7]),
        "invalid_signature",
    ),
    (
        "twilio non-UTF-8 body",
        lambda: _with(ORIGINALS[0], body=b"Body=\xff\xfe&MessageSid=SM1"),
        "malformed_webhook",
    ),
    (
        "twilio invalid percent escape",
        lambda: WebhookRequest(
            "POST", URL, {"Content-Type": FORM, "X-Twilio-Signature": _twilio_sig()}, b"Body=%FF%FE"
        ),
        "malformed_webhook",
    ),
    (
        "twilio repeated signature",
        lambda: _with(
            ORIGINALS[0],
            headers=[*ORIGINALS[0].headers.raw(), ("x-twilio-signature", _twilio_sig())],
        ),
        "invalid_signature",
    ),
    (
        "twilio missing signature",
        lambda: _with(ORIGINALS[0], headers=[("Content-Type", FORM)]),
        "invalid_signature",
    ),
    (
        "twilio signature not ASCII",
        lambda: _with(
            ORIGINALS[0], headers=[("Content-Type", FORM), ("X-Twilio-Signature", "é" * 28)]
        ),
        "invalid_signature",
    ),
    (
        "twilio huge NumMedia",
        lambda: twilio_form(
            [("MessageSid", "SM1"), ("From", "+1"), ("To", "+2"), ("NumMedia", "9" * 30)]
        ),
        "malformed_webhook",
    ),
    (
        "twilio NumMedia 1000",
        lambda: twilio_form(
            [("MessageSid", "SM1"), ("From", "+1"), ("To", "+2"), ("NumMedia", "1000")]
        ),
        "malformed_webhook",
    ),
    (
        "twilio empty MessageStatus",
        lambda: twilio_form([("MessageSid", "SM1"), ("MessageStatus", "")]),
        "malformed_webhook",
    ),
    (
        "twilio voice webhook",
        lambda: twilio_form([("CallSid", "CA1"), ("From", "+1")]),
        "malformed_webhook",
    ),
    (
        "twilio bodySHA256 twice",
        lambda: _with(ORIGINALS[4], url=ORIGINALS[4].url + "&bodySHA256=00"),
        "invalid_signature",
    ),
    (
        "twilio bodySHA256 empty",
        lambda: _with(ORIGINALS[4], url=URL + "&bodySHA256="),
        "invalid_signature",
    ),
    ("twilio JSON not events", lambda: twilio_json({"hello": "world"}), "malformed_webhook"),
    ("twilio JSON empty list", lambda: twilio_json([]), "malformed_webhook"),
    ("twilio JSON list of numbers", lambda: twilio_json([1, 2]), "malformed_webhook"),
    (
        "twilio JSON data null",
        lambda: twilio_json({"type": "com.twilio.messaging.message.sent", "data": None}),
        "malformed_webhook",
    ),
    (
        "twilio JSON errorCode object",
        lambda: twilio_json(
            {
                "type": "com.twilio.messaging.message.failed",
                "data": {"messageSid": "SM1", "errorCode": {}},
            }
        ),
        "malformed_webhook",
    ),
    (
        "twilio unknown algorithm",
        lambda: _with(
            ORIGINALS[0],
            headers=[
                *ORIGINALS[0].headers.raw(),
                ("X-Twilio-Webhooks-Signature-Settings", "key=wk,algorithm=MD5"),
            ],
        ),
        "invalid_signature",
    ),
    (
        "twilio settings repeated",
        lambda: _with(
            ORIGINALS[3],
            headers=[
                *ORIGINALS[3].headers.raw(),
                ("X-Twilio-Webhooks-Signature-Settings", "key=wk,algorithm=HMAC_SHA256"),
            ],
        ),
        "invalid_signature",
    ),
    ("invalid IPv6 URL", lambda: _with(ORIGINALS[0], url="http://[::1/sms"), "invalid_signature"),
    (
        "trusted proxy, bad port",
        lambda: _with(
            ORIGINALS[0],
            remote_addr="127.0.0.1",
            headers=[*ORIGINALS[0].headers.raw(), ("X-Forwarded-Port", "99999")],
        ),
        "malformed_webhook",
    ),
    (
        "trusted proxy, bad host",
        lambda: _with(
            ORIGINALS[0],
            remote_addr="127.0.0.1",
            headers=[*ORIGINALS[0].headers.raw(), ("X-Forwarded-Host", "[::1")],
        ),
        "invalid_signature",
    ),
    ("garbage remote address", lambda: _with(ORIGINALS[0], remote_addr="unix:/tmp/sock"), None),
    (
        "huge header",
        lambda: _with(
            ORIGINALS[5], headers=[*ORIGINALS[5].headers.raw(), ("X-Pad", "x" * 1_000_000)]
        ),
        "payload_too_large",
    ),
    ("huge body", lambda: _with(ORIGINALS[5], body=b"{" * (2 << 20)), "payload_too_large"),
    (
        "telnyx non-numeric timestamp",
        lambda: _with(ORIGINALS[5], headers=_telnyx_headers(**{"telnyx-timestamp": "soon"})),
        "invalid_signature",
    ),
    (
        "telnyx non-ASCII digits",
        lambda: _with(ORIGINALS[5], headers=_telnyx_headers(**{"telnyx-timestamp": "١٧١٥٧٠٠٦٠٢"})),
        "invalid_signature",
    ),
    (
        "telnyx negative timestamp",
        lambda: _with(ORIGINALS[5], headers=_telnyx_headers(**{"telnyx-timestamp": "-1715700602"})),
        "invalid_signature",
    ),
    (
        "telnyx huge timestamp",
        lambda: _with(ORIGINALS[5], headers=_telnyx_headers(**{"telnyx-timestamp": "9" * 5000})),
        "invalid_signature",
    ),
    ("telnyx old timestamp", lambda: telnyx(TELNYX_RECEIVED, timestamp=NOW - 301), "stale_webhook"),
    (
        "telnyx future timestamp",
        lambda: telnyx(TELNYX_RECEIVED, timestamp=NOW + 301),
        "stale_webhook",
    ),
    (
        "telnyx bad base64",
        lambda: _with(ORIGINALS[5], headers=_telnyx_headers(**{"telnyx-signature-ed25519": "%%%"})),
        "invalid_signature",
    ),
    (
        "telnyx short signature",
        lambda: _with(
            ORIGINALS[5], headers=_telnyx_headers(**{"telnyx-signature-ed25519": "AAAA"})
        ),
        "invalid_signature",
    ),
    (
        "telnyx wrong-length base64",
        lambda: _with(
            ORIGINALS[5], headers=_telnyx_headers(**{"telnyx-signature-ed25519": "A" * 84 + "===="})
        ),
        "invalid_signature",
    ),
    (
        "telnyx missing timestamp",
        lambda: _with(
            ORIGINALS[5],
            headers=[h for h in ORIGINALS[5].headers.raw() if h[0] != "telnyx-timestamp"],
        ),
        "invalid_signature",
    ),
    (
        "telnyx truncated body",
        lambda: _with(ORIGINALS[5], body=ORIGINALS[5].body[:-1]),
        "invalid_signature",
    ),
    ("telnyx non-UTF-8 body", lambda: telnyx(b'{"data": "\xff"}'), "malformed_webhook"),
    ("telnyx JSON array", lambda: telnyx([]), "malformed_webhook"),
    ("telnyx JSON string", lambda: telnyx("data"), "malformed_webhook"),
    ("telnyx data is a list", lambda: telnyx({"data": []}), "malformed_webhook"),
    (
        "telnyx event_type number",
        lambda: telnyx({"data": {"event_type": 5, "id": "x", "payload": {}}}),
        "malformed_webhook",
    ),
    ("telnyx deep nesting", lambda: telnyx(b"[" * 30_000 + b"]" * 30_000), "malformed_webhook"),
    (
        "telnyx huge integer",
        lambda: telnyx(b'{"data": ' + b"1" * 10_000 + b"}"),
        "malformed_webhook",
    ),
    (
        "telnyx to[] of strings",
        lambda: telnyx(
            {"data": {**TELNYX_FINALIZED["data"], "payload": {"id": "m", "to": ["+1"]}}}
        ),
        "malformed_webhook",
    ),
    (
        "telnyx status not a string",
        lambda: telnyx(
            {"data": {**TELNYX_FINALIZED["data"], "payload": {"id": "m", "to": [{"status": 3}]}}}
        ),
        "malformed_webhook",
    ),
    (
        "telnyx media not a list",
        lambda: telnyx(
            {
                "data": {
                    **TELNYX_RECEIVED["data"],
                    "payload": {**TELNYX_RECEIVED["data"]["payload"], "media": "x"},
                }
            }
        ),
        "malformed_webhook",
    ),
    (
        "telnyx errors[0] a string",
        lambda: telnyx(
            {
                "data": {
                    **TELNYX_FINALIZED["data"],
                    "payload": {**TELNYX_FINALIZED["data"]["payload"], "errors": ["boom"]},
                }
            }
        ),
        "malformed_webhook",
    ),
    (
        "telnyx from not an object",
        lambda: telnyx(
            {
                "data": {
                    **TELNYX_RECEIVED["data"],
                    "payload": {**TELNYX_RECEIVED["data"]["payload"], "from": "+1"},
                }
            }
        ),
        "malformed_webhook",
    ),
    (
        "twilio bodySHA256 with Host: [",
        lambda: WebhookRequest(
            "POST",
            "http://[/sms/webhook?bodySHA256=" + "0" * 64,
            {"Content-Type": "application/json", "X-Twilio-Signature": "A" * 27 + "="},
            b"{}",
        ),
        "malformed_webhook",
    ),
    (
        "twilio lone surrogate in the URL path",
        lambda: _with(ORIGINALS[0], url="https://app.example.com/sms/\udc80webhook"),
        "malformed_webhook",
    ),
    (
        "telnyx lone surrogate in the URL query",
        lambda: _with(ORIGINALS[5], url=URL + "&x=\ud800"),
        "malformed_webhook",
    ),
    (
        "lone surrogate in a forwarded host from a trusted proxy",
        lambda: _with(
            ORIGINALS[0],
            headers=[*ORIGINALS[0].headers.raw(), ("X-Forwarded-Host", "\udcff.example")],
            remote_addr="127.0.0.1",
        ),
        "malformed_webhook",
    ),
    (
        "twilio signature header that is not base64 of a digest",
        lambda: _with(
            ORIGINALS[0],
            headers=[("Content-Type", FORM), ("X-Twilio-Signature", "not*base64*at*all*but*28chr")],
        ),
        "invalid_signature",
    ),
    (
        "twilio signature of the wrong length",
        lambda: _with(
            ORIGINALS[0], headers=[("Content-Type", FORM), ("X-Twilio-Signature", "AAAA")]
        ),
        "invalid_signature",
    ),
    (
        "telnyx NaN parts",
        lambda: telnyx(json.dumps(TELNYX_RECEIVED).replace('"parts": 1', '"parts": NaN').encode()),
        None,
    ),
]


@pytest.mark.parametrize(("name", "build", "code"), NASTY, ids=[n for n, _, _ in NASTY])
def test_nasty_cases(name: str, build: Callable[[], WebhookRequest], code: str | None) -> None:
    """Each nasty request gets its stable code (or, where noted, is handled normally)."""
    bridge = make_bridge()
    request = build()
    if code is None:
        with no_bug_caught():
            assert isinstance(handle(bridge, request), WebhookOutcome)
        return
    with pytest.raises(WebhookError) as info, no_bug_caught():
        handle(bridge, request)
    assert info.value.code == code, info.value


@pytest.mark.anyio
async def test_async_twin_refuses_alike() -> None:
    """ahandle gives the same codes as handle on a sample of the nasty table."""
    for name, build, code in NASTY[:12] + NASTY[-8:]:
        bridge = make_bridge()
        if code is None:
            assert isinstance(await ahandle(bridge, build()), WebhookOutcome)
            continue
        with pytest.raises(WebhookError) as info:
            await ahandle(bridge, build())
        assert info.value.code == code, name


# -- URLs and headers, not only bodies ------------------------------------------------------------
# Every character, lone surrogates included (a server decoding bytes with surrogateescape hands
# those over), and the characters that matter in URLs and headers.
ANY_CHAR = st.characters(exclude_categories=())
URL_PIECE = st.text(ANY_CHAR, max_size=12) | st.sampled_from(
    ["[", "]", "[::1", "::", "%", "%zz", "@", ":", ":99999", "#", "?", "\r\n", " ", "\udc80"]
)
HEADER_NAMES = st.sampled_from(
    [
        "Host",
        "X-Forwarded-Host",
        "X-Forwarded-Proto",
        "X-Forwarded-Port",
        "X-Forwarded-Prefix",
        "X-Twilio-Signature",
        "X-Twilio-Webhooks-Signature-Settings",
        "I-Twilio-Idempotency-Token",
        "telnyx-signature-ed25519",
        "telnyx-timestamp",
        "Content-Type",
    ]
) | st.text(ANY_CHAR, min_size=1, max_size=10)


@st.composite
def odd_urls_and_headers(draw: st.DrawFn) -> tuple[WebhookRequest, bool]:
    """A valid original whose URL is rebuilt from odd pieces and whose headers get odd names
    and values (lone surrogates, brackets, CR/LF), and whether to re-sign it."""
    request = draw(st.sampled_from(ORIGINALS))
    scheme = draw(st.sampled_from(["https", "http", "", "ftp", "HTTPS"]))
    host = draw(URL_PIECE | st.just("app.example.com"))
    path = "/" + draw(URL_PIECE)
    query = request.url.partition("?")[2]
    if draw(st.booleans()):
        query += draw(st.sampled_from(["&", "&bodySHA256=", "&bodySHA256=0&bodySHA256=1", ""]))
        query += draw(URL_PIECE)
    url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
    headers = list(request.headers.raw())
    for _ in range(draw(st.integers(0, 3))):
        headers.append((draw(HEADER_NAMES), draw(st.text(ANY_CHAR, max_size=30) | URL_PIECE)))
    remote = draw(st.sampled_from(["127.0.0.1", None, "::1", "\udc80", "[::1]"]))
    return WebhookRequest(request.method, url, headers, request.body, remote), draw(st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_urls_and_headers())
def test_odd_urls_and_headers_never_raise_anything_else(case: tuple[WebhookRequest, bool]) -> None:
    """Any URL and any headers, signed again or not, end in an outcome or a WebhookError."""
    request, signed_again = case
    if signed_again:
        with contextlib.suppress(Exception):  # the signer itself may refuse such a URL
            request = resign(request)
    bridge = make_bridge(public_url=None)
    outcome_or_webhook_error(lambda: handle(bridge, request))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_urls_and_headers())
def test_odd_urls_behind_a_public_url_never_raise_anything_else(
    case: tuple[WebhookRequest, bool],
) -> None:
    """The same with a configured public_url (the path and query come from the request)."""
    request, _ = case
    bridge = make_bridge(public_url="https://app.example.com")
    outcome_or_webhook_error(lambda: handle(bridge, request))
