"""Twilio webhooks through ``Bridge.handle_webhook``: signature vectors, parsing of every
fixture, status mapping, duplicates, ordering, references, public URLs and proxies."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from smsbridge import (
    Bridge,
    ConfigError,
    InboundMessage,
    MalformedWebhook,
    MessageStatus,
    SignatureError,
    StatusEvent,
    WebhookRequest,
)
from smsbridge.providers import Twilio
from smsbridge.providers.twilio import TwilioAlgorithm
from smsbridge.providers.twilio._verify import string_to_sign
from smsbridge.stores import MemoryStore
from smsbridge.testing import sign_twilio, twilio_json_url
from smsbridge.webhooks import explain_twilio_signature

FIXTURES = Path(__file__).parent / "fixtures"
SIGNATURES = json.loads((FIXTURES / "twilio_signature.json").read_text())
INBOUND = {
    c["name"]: c for c in json.loads((FIXTURES / "twilio_inbound.json").read_text())["cases"]
}
STATUS = {c["name"]: c for c in json.loads((FIXTURES / "twilio_status.json").read_text())["cases"]}
STATUS_MAP = json.loads((FIXTURES / "status_map.json").read_text())
SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "0123456789abcdef0123456789abcdef"
FORM = "application/x-www-form-urlencoded"
URL = "https://app.example.com/sms/webhook"
NOW = 1715700602.0


def make_bridge(token: str = TOKEN, **kwargs: Any) -> Bridge:
    """A bridge with one Twilio account and a fixed clock."""
    shared = kwargs.pop("shared_keys", None)
    bridge = Bridge(Twilio(SID, token, from_="+13125550100", shared_keys=shared), **kwargs)
    bridge.clock = lambda: NOW  # type: ignore[attr-defined]
    return bridge


def form_request(
    url: str,
    params: Any,
    token: str = TOKEN,
    *,
    signature: str | None = None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    remote_addr: str | None = None,
    sign_url: str | None = None,
) -> WebhookRequest:
    """A form POST (or GET) to ``url``, signed over ``sign_url`` (default ``url``)."""
    pairs = list(params.items()) if isinstance(params, dict) else [tuple(p) for p in params]
    if method == "GET":
        sig = signature or sign_twilio(sign_url or url, auth_token=token)["X-Twilio-Signature"]
        return WebhookRequest("GET", url, {"X-Twilio-Signature": sig, **(headers or {})}, b"")
    if signature is None:
        signature = sign_twilio(sign_url or url, pairs, auth_token=token)["X-Twilio-Signature"]
    all_headers = {"Content-Type": FORM, "X-Twilio-Signature": signature, **(headers or {})}
    return WebhookRequest(method, url, all_headers, urlencode(pairs).encode(), remote_addr)


def fixture_request(case: dict[str, Any], **headers: str) -> WebhookRequest:
    """The fixture's exact request: its raw body and its recorded signature."""
    return WebhookRequest(
        case["method"],
        case["url"],
        {
            "Content-Type": case["content_type"],
            "X-Twilio-Signature": case["x_twilio_signature"],
            **headers,
        },
        case["raw_body"].encode(),
    )


def status_params(status: str, sid: str = "SM" + "a" * 32, **extra: str) -> list[tuple[str, str]]:
    """The params of a status callback."""
    params = [
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", "+13125550111"),
        ("MessageSid", sid),
        ("AccountSid", SID),
        ("From", "+13125550100"),
        ("ApiVersion", "2010-04-01"),
    ]
    return params + list(extra.items())


def verifies(bridge: Bridge, request: WebhookRequest) -> bool:
    """True when the signature is accepted (content may still be refused afterwards)."""
    try:
        bridge.handle_webhook(request)
    except SignatureError:
        return False
    except MalformedWebhook:
        return True  # verified, then refused as content (e.g. a voice webhook)
    return True


# -- signature vectors -------------------------------------------------------------------------
OFFICIAL = SIGNATURES["official_vectors"]


def official_cases() -> list[Any]:
    """(name, url, params, token, signature, body) for every valid official case."""
    out = []
    for case in OFFICIAL["cases"]:
        signature = case.get("signature") or case.get("expected")
        if not signature or case.get("valid") is False:
            continue
        params = case.get("params_multi") or case.get("params") or OFFICIAL["params"]
        out.append(
            (case["name"], case["url"], params, OFFICIAL["auth_token"], signature, case.get("body"))
        )
    legacy = OFFICIAL["legacy_vector"]
    out.append(
        ("legacy", legacy["url"], legacy["params"], legacy["auth_token"], legacy["expected"], None)
    )
    return out


@pytest.mark.parametrize(("name", "url", "params", "token", "signature", "body"), official_cases())
def test_official_vectors_verify(
    name: str, url: str, params: Any, token: str, signature: str, body: str | None
) -> None:
    """Every valid official Twilio vector (form, duplicate keys, ports, JSON body) verifies."""
    bridge = make_bridge(token)
    if body is not None:
        request = WebhookRequest(
            "POST",
            url,
            {"Content-Type": "application/json", "X-Twilio-Signature": signature},
            body.encode(),
        )
    else:
        pairs = params if isinstance(params, list) else list(params.items())
        request = form_request(url, pairs, token, signature=signature)
    assert verifies(bridge, request), name


@pytest.mark.parametrize("case", SIGNATURES["derived_vectors"]["cases"], ids=lambda c: c["name"])
def test_derived_vectors_verify(case: dict[str, Any]) -> None:
    """Every derived vector (GET, query + form, JSON event, empty and unicode values) verifies."""
    token = case.get("auth_token", OFFICIAL["auth_token"])
    bridge = make_bridge(token)
    if "body" in case:
        headers = {"Content-Type": "application/json", "X-Twilio-Signature": case["expected"]}
        request = WebhookRequest("POST", case["url"], headers, case["body"].encode())
    elif case["name"] == "json_body_with_443_variant":
        # Signed over the :443 form; received without the port, with the official JSON body.
        url = case["url"].replace(":443", "")
        body = next(c for c in OFFICIAL["cases"] if c["name"] == "validate_json_body")["body"]
        headers = {"Content-Type": "application/json", "X-Twilio-Signature": case["expected"]}
        request = WebhookRequest("POST", url, headers, body.encode())
    else:
        method = case.get("method", "POST")
        request = form_request(
            case["url"], case["params"], token, signature=case["expected"], method=method
        )
    assert verifies(bridge, request)


@pytest.mark.parametrize(
    "case", SIGNATURES["derived_vectors"]["negative_cases"], ids=lambda c: c["name"]
)
def test_negative_vectors_are_refused(case: dict[str, Any]) -> None:
    """Every invalid vector (tampered param, query, token, body hash, scheme) is refused."""
    bridge = make_bridge(case["auth_token"])
    if "body" in case:
        headers = {"Content-Type": "application/json", "X-Twilio-Signature": case["signature"]}
        request = WebhookRequest("POST", case["url"], headers, case["body"].encode())
    else:
        request = form_request(
            case["url"], case["params"], case["auth_token"], signature=case["signature"]
        )
    with pytest.raises(SignatureError) as info:
        bridge.handle_webhook(request)
    assert info.value.code == "invalid_signature"
    assert info.value.status_code == 403


def test_string_to_sign_matches_the_vectors() -> None:
    """The fast string-to-sign equals the official and derived vectors' strings."""
    assert (
        string_to_sign(OFFICIAL["url"], list(OFFICIAL["params"].items()))
        == OFFICIAL["string_to_sign"]
    )
    for case in OFFICIAL["cases"] + SIGNATURES["derived_vectors"]["cases"]:
        if "string_to_sign" in case:
            params = case.get("params_multi") or list(case["params"].items())
            assert string_to_sign(case["url"], [tuple(p) for p in params]) == case["string_to_sign"]


def test_json_event_body_parses_into_a_status() -> None:
    """The JSON (Event Streams) vector verifies via bodySHA256 and becomes a delivered status."""
    case = next(c for c in SIGNATURES["derived_vectors"]["cases"] if c["name"] == "json_event_body")
    bridge = make_bridge(case["auth_token"])
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": case["expected"]}
    outcome = bridge.handle_webhook(
        WebhookRequest("POST", case["url"], headers, case["body"].encode())
    )
    event = outcome.event
    assert isinstance(event, StatusEvent)
    assert event.status is MessageStatus.DELIVERED
    assert event.provider_message_id == "SM9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3"


def test_json_body_without_body_hash_is_refused() -> None:
    """A JSON body whose URL has no bodySHA256 cannot be verified: SignatureError."""
    body = b'{"type": "com.twilio.messaging.message.sent"}'
    signature = sign_twilio(URL, auth_token=TOKEN)["X-Twilio-Signature"]
    request = WebhookRequest(
        "POST", URL, {"Content-Type": "application/json", "X-Twilio-Signature": signature}, body
    )
    with pytest.raises(SignatureError):
        make_bridge().handle_webhook(request)


def test_event_streams_list_gives_one_event_each() -> None:
    """A list of CloudEvents becomes one event per item: statuses and inbound messages."""
    events = [
        {
            "id": "NO1",
            "type": "com.twilio.messaging.message.failed",
            "data": {
                "messageSid": "SM1",
                "messageStatus": "FAILED",
                "errorCode": 30007,
                "to": "+1555",
                "from": "+1666",
            },
        },
        {
            "id": "NO2",
            "type": "com.twilio.messaging.inbound-message.received",
            "data": {
                "messageSid": "SM2",
                "from": "+1555",
                "to": "+1666",
                "body": "stop",
                "timestamp": "2025-01-01T00:00:00.000Z",
            },
        },
    ]
    body = json.dumps(events).encode()
    url = twilio_json_url(URL, body)
    headers = {"Content-Type": "application/json", **sign_twilio(url, auth_token=TOKEN, body=body)}
    outcome = make_bridge().handle_webhook(WebhookRequest("POST", url, headers, body))
    failed, inbound = outcome.events
    assert isinstance(failed, StatusEvent)
    assert isinstance(inbound, InboundMessage)
    assert failed.status is MessageStatus.FAILED
    assert failed.raw_status == "FAILED"
    assert failed.error is not None
    assert failed.error.code == "content_rejected"
    assert inbound.opt_out == "STOP"
    assert inbound.received_at == datetime(2025, 1, 1, tzinfo=timezone.utc)


# -- SharedKey signatures ----------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["HMAC_SHA256", "HMAC_SHA1"])
def test_shared_key_signature_verifies(algorithm: TwilioAlgorithm) -> None:
    """A webhook signed with a configured SharedKey verifies, with SHA-256 or SHA-1."""
    bridge = make_bridge(shared_keys={"wk_1": "shared-secret"})
    params = status_params("delivered")
    headers = sign_twilio(
        URL, params, auth_token=TOKEN, shared_key=("wk_1", "shared-secret", algorithm)
    )
    request = form_request(
        URL,
        params,
        headers=dict(headers.items()),
        signature=headers["X-Twilio-Signature"],
    )
    assert bridge.handle_webhook(request).event.status is MessageStatus.DELIVERED


def test_shared_key_not_configured_is_refused() -> None:
    """A SharedKey id the provider does not know is a SignatureError, never a fallback."""
    params = status_params("delivered")
    headers = sign_twilio(
        URL, params, auth_token=TOKEN, shared_key=("wk_9", "other", "HMAC_SHA256")
    )
    request = form_request(URL, params, headers=headers, signature=headers["X-Twilio-Signature"])
    with pytest.raises(SignatureError):
        make_bridge(shared_keys={"wk_1": "shared-secret"}).handle_webhook(request)


def test_unknown_signature_algorithm_is_refused() -> None:
    """An algorithm the verifier does not know fails, even when the auth token would match."""
    params = status_params("delivered")
    request = form_request(
        URL,
        params,
        headers={"X-Twilio-Webhooks-Signature-Settings": "key=wk_1,algorithm=HMAC_SHA512"},
    )
    with pytest.raises(SignatureError):
        make_bridge(shared_keys={"wk_1": "s"}).handle_webhook(request)


def test_settings_header_without_algorithm_means_the_auth_token() -> None:
    """A settings header naming no algorithm falls back to HMAC-SHA1 with the auth token."""
    params = status_params("sent")
    request = form_request(
        URL, params, headers={"X-Twilio-Webhooks-Signature-Settings": "key=wk_1"}
    )
    assert make_bridge().handle_webhook(request).event.status is MessageStatus.SENT


def test_signature_header_problems_are_refused() -> None:
    """A missing, empty, repeated or oversized X-Twilio-Signature is a SignatureError."""
    params = status_params("sent")
    good = form_request(URL, params)
    signature = good.headers["X-Twilio-Signature"]
    body = good.body
    variants = [
        [("Content-Type", FORM), ("X-Twilio-Signature", "")],
        [
            ("Content-Type", FORM),
            ("X-Twilio-Signature", signature),
            ("x-twilio-signature", signature),
        ],
        [("Content-Type", FORM), ("X-Twilio-Signature", signature * 10)],
    ]
    bridge = make_bridge()
    for headers in variants:
        with pytest.raises(SignatureError):
            bridge.handle_webhook(WebhookRequest("POST", URL, headers, body))


def test_two_accounts_on_one_bridge() -> None:
    """With two Twilio accounts configured, a webhook signed by either one verifies."""
    second = Twilio("AC" + "1" * 32, "second-token", from_="+13125550199")
    bridge = Bridge([Twilio(SID, TOKEN, from_="+13125550100"), second])
    request = form_request(URL, status_params("sent"), token="second-token")
    assert bridge.handle_webhook(request).event.status is MessageStatus.SENT
    with pytest.raises(SignatureError):
        bridge.handle_webhook(form_request(URL, status_params("sent"), token="third-token"))


# -- parsing every fixture ---------------------------------------------------------------------
def test_inbound_sms_fixture() -> None:
    """The plain SMS fixture becomes an InboundMessage with ids, numbers, text and segments."""
    outcome = make_bridge().handle_webhook(fixture_request(INBOUND["sms_basic"]))
    event = outcome.event
    assert isinstance(event, InboundMessage)
    assert outcome.provider == event.provider == "twilio"
    assert event.id == "SM1f0e5d2c3b4a59687766554433221100"
    assert (event.from_, event.to) == ("+13125550111", "+13125550100")
    assert event.text == "Yes, 3pm works for me – thanks!"
    assert event.segments == 1
    assert event.media == ()
    assert event.opt_out is None
    assert event.received_at == datetime.fromtimestamp(NOW, timezone.utc)
    assert event.raw == dict(INBOUND["sms_basic"]["params"])
    assert outcome.events == (event,)
    assert not outcome.duplicate
    assert not outcome.stale


def test_inbound_mms_fixture() -> None:
    """The MMS fixture carries its media URL and content type."""
    event = make_bridge().handle_webhook(fixture_request(INBOUND["mms_one_image"])).event
    assert isinstance(event, InboundMessage)
    assert len(event.media) == 1
    assert event.media[0].url.endswith("/Media/ME0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert event.media[0].content_type == "image/jpeg"


def test_inbound_stop_fixture() -> None:
    """OptOutType=STOP is reported as the opt-out intent."""
    event = (
        make_bridge().handle_webhook(fixture_request(INBOUND["sms_stop_advanced_opt_out"])).event
    )
    assert isinstance(event, InboundMessage)
    assert event.opt_out == "STOP"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("stop", "STOP"),
        ("  Unsubscribe \n", "STOP"),
        ("QUIT", "STOP"),
        ("StopAll", "STOP"),
        ("cancel", "STOP"),
        ("end", "STOP"),
        ("start", "START"),
        ("yes", "START"),
        ("UNSTOP", "START"),
        ("help", "HELP"),
        ("Info", "HELP"),
        ("stop it", None),
        ("please stop", None),
        ("", None),
    ],
)
def test_opt_out_keywords_from_text(body: str, expected: str | None) -> None:
    """The standard keywords, as the whole trimmed body in any case, set the opt-out intent."""
    params = [
        ("MessageSid", "SM" + "b" * 32),
        ("From", "+15550001"),
        ("To", "+15550002"),
        ("Body", body),
    ]
    event = make_bridge().handle_webhook(form_request(URL, params)).event
    assert isinstance(event, InboundMessage)
    assert event.opt_out == expected


def test_status_fixtures() -> None:
    """Every status fixture maps its status, error category, failure class and DLR date."""
    expected = {
        "sent": (MessageStatus.SENT, None, None),
        "delivered": (MessageStatus.DELIVERED, None, None),
        "undelivered_unreachable": (MessageStatus.UNDELIVERED, "carrier_transient", "rejected"),
        "undelivered_filtered": (MessageStatus.UNDELIVERED, "content_rejected", "rejected"),
        "failed_unregistered": (MessageStatus.FAILED, "sender_config", "refused"),
    }
    assert set(expected) == set(STATUS)
    for name, case in STATUS.items():
        outcome = make_bridge().handle_webhook(fixture_request(case))
        event = outcome.event
        assert isinstance(event, StatusEvent), name
        status, code, failure = expected[name]
        assert event.status is status
        assert event.raw_status == dict(case["params"])["MessageStatus"]
        assert event.provider_message_id == "SM9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3"
        assert (event.to, event.from_) == ("+13125550111", "+13125550100")
        if code is None:
            assert event.error is None
        else:
            assert event.error is not None
            assert (event.error.code, event.error.failure) == (code, failure)
            assert event.error.provider_code == dict(case["params"])["ErrorCode"]
        assert event.raw == dict(case["params"])
    delivered = make_bridge().handle_webhook(fixture_request(STATUS["delivered"])).event
    assert delivered.occurred_at == datetime(2024, 5, 14, 15, 31, tzinfo=timezone.utc)


@pytest.mark.parametrize(("raw", "common"), sorted(STATUS_MAP["twilio"].items()))
def test_every_twilio_status_maps(raw: str, common: str) -> None:
    """Each raw Twilio status in status_map.json becomes its common status."""
    outcome = make_bridge().handle_webhook(form_request(URL, status_params(raw)))
    event = outcome.event
    if raw in ("received", "receiving"):
        assert isinstance(event, InboundMessage)  # an inbound message's own status
    else:
        assert isinstance(event, StatusEvent)
        assert event.status.value == common
        assert event.raw_status == raw


def test_unknown_error_code_keeps_the_provider_code() -> None:
    """An error code outside the table is reported as provider_error with its own code."""
    event = (
        make_bridge()
        .handle_webhook(form_request(URL, status_params("failed", ErrorCode="39999")))
        .event
    )
    assert isinstance(event, StatusEvent)
    assert event.error is not None
    assert (event.error.code, event.error.provider_code, event.error.failure) == (
        "provider_error",
        "39999",
        None,
    )


def test_get_inbound_reads_the_query() -> None:
    """A GET webhook signs the URL alone and its params come from the query string."""
    query = urlencode(
        [
            ("MessageSid", "SM" + "c" * 32),
            ("From", "+15550001"),
            ("To", "+15550002"),
            ("Body", "hi there"),
        ]
    )
    event = make_bridge().handle_webhook(form_request(f"{URL}?{query}", [], method="GET")).event
    assert isinstance(event, InboundMessage)
    assert event.text == "hi there"


def test_signed_content_that_is_not_a_message_is_malformed() -> None:
    """A verified webhook without MessageSid (a voice call) or with a bad number is malformed."""
    bridge = make_bridge()
    for params in (
        [("CallSid", "CA1"), ("From", "+1")],
        [("MessageSid", "SM1"), ("From", "+1"), ("To", "+2"), ("NumMedia", "two")],
        [("MessageSid", "SM1"), ("From", "+1"), ("To", "+2"), ("NumMedia", "1")],
        [("MessageSid", "SM1"), ("To", "+2")],
    ):
        with pytest.raises(MalformedWebhook) as info:
            bridge.handle_webhook(form_request(URL, params))
        assert info.value.status_code == 400


# -- duplicates, ordering ----------------------------------------------------------------------
def test_duplicate_delivery_is_flagged_and_still_parsed() -> None:
    """The same webhook twice: the second is duplicate=True and still carries its event."""
    bridge = make_bridge()
    first = bridge.handle_webhook(fixture_request(INBOUND["sms_basic"]))
    second = bridge.handle_webhook(fixture_request(INBOUND["sms_basic"]))
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.event == first.event
    assert second.response.status_code == 200


def test_a_replay_with_a_new_idempotency_token_is_still_a_duplicate() -> None:
    """I-Twilio-Idempotency-Token is not signed: a captured webhook replayed with a new token
    is recognised as the same delivery (the key comes from signed fields only)."""
    store = MemoryStore()
    bridge = make_bridge(store=store)
    token = {"I-Twilio-Idempotency-Token": "tok-1"}
    assert not bridge.handle_webhook(fixture_request(INBOUND["sms_basic"], **token)).duplicate
    for forged in ("tok-2", "", "x" * 5000):
        replay = fixture_request(INBOUND["sms_basic"], **{"I-Twilio-Idempotency-Token": forged})
        assert bridge.handle_webhook(replay).duplicate
    assert bridge.handle_webhook(fixture_request(INBOUND["sms_basic"])).duplicate
    assert not any("tok-" in key for key in store._data)


def test_status_duplicates_key_on_sid_status_and_error_code() -> None:
    """The same status twice is a duplicate; a different status or error code is not."""
    bridge = make_bridge()
    assert not bridge.handle_webhook(form_request(URL, status_params("sent"))).duplicate
    assert bridge.handle_webhook(form_request(URL, status_params("sent"))).duplicate
    failed = [*status_params("undelivered"), ("ErrorCode", "30003")]
    other = [*status_params("undelivered"), ("ErrorCode", "30005")]
    assert not bridge.handle_webhook(form_request(URL, failed)).duplicate
    assert bridge.handle_webhook(form_request(URL, failed)).duplicate
    assert not bridge.handle_webhook(form_request(URL, other)).duplicate


def test_every_store_key_is_bounded() -> None:
    """A genuine webhook with a huge MessageSid still leaves only short keys in the store."""
    store = MemoryStore()
    bridge = make_bridge(store=store)
    huge = "SM" + "f" * 20_000
    params = [("MessageSid", huge), ("MessageStatus", "sent"), ("To", "+1" + "5" * 3000)]
    bridge.handle_webhook(form_request(URL, params))
    inbound = [("MessageSid", huge), ("From", "+15550001"), ("To", "+15550002"), ("Body", "x")]
    bridge.handle_webhook(form_request(URL, inbound))
    assert len(store._data) == 3
    assert all(len(key) <= 200 for key in store._data)


def test_later_statuses_are_never_swallowed_and_late_ones_are_stale() -> None:
    """sent then delivered are both new; a late sent after delivered is stale, not duplicate."""
    bridge = make_bridge()
    sent = bridge.handle_webhook(form_request(URL, status_params("sent")))
    delivered = bridge.handle_webhook(form_request(URL, status_params("delivered")))
    assert not (sent.duplicate)
    assert not (sent.stale)
    assert not (delivered.duplicate)
    assert not delivered.stale
    store = MemoryStore()
    bridge = make_bridge(store=store)
    bridge.handle_webhook(form_request(URL, status_params("delivered")))
    late = bridge.handle_webhook(form_request(URL, status_params("sent")))
    assert late.stale
    assert not late.duplicate
    assert late.stale_flags == (True,)
    assert late.event.status is MessageStatus.SENT


def test_a_dead_store_does_not_lose_webhooks(caplog: pytest.LogCaptureFixture) -> None:
    """When the store is unreachable the webhook is still handled, unflagged, with a warning."""
    from smsbridge import StoreUnavailable

    class DeadStore(MemoryStore):
        def claim(self, key: str, value: str, ttl: float | None) -> bool:
            raise StoreUnavailable("redis is down")

    outcome = make_bridge(store=DeadStore()).handle_webhook(
        form_request(URL, status_params("sent"))
    )
    assert not outcome.duplicate
    assert outcome.event.status is MessageStatus.SENT
    assert "store unavailable" in caplog.text


def test_a_store_outage_is_logged_once_and_its_end_noted(caplog: pytest.LogCaptureFixture) -> None:
    """Many webhooks during one outage log one warning; the first success after it logs info."""
    import logging

    from smsbridge import StoreUnavailable

    class FlakyStore(MemoryStore):
        down = True

        def claim(self, key: str, value: str, ttl: float | None) -> bool:
            if self.down:
                raise StoreUnavailable("redis is down")
            return super().claim(key, value, ttl)

    store = FlakyStore()
    bridge = make_bridge(store=store)
    bridge.dedupe_guard.recheck = 0.0  # try the store on every webhook
    caplog.set_level(logging.INFO, logger="smsbridge")
    statuses = ["queued", "sending", "sent"]
    outcomes = [bridge.handle_webhook(form_request(URL, status_params(s))) for s in statuses]
    assert [o.event.status.value for o in outcomes] == statuses
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    store.down = False
    bridge.handle_webhook(form_request(URL, status_params("delivered")))
    assert any("reachable again" in r.getMessage() for r in caplog.records)


# -- references, public URL, proxies -----------------------------------------------------------
def test_reference_round_trip() -> None:
    """The reference the bridge put in the status-callback URL comes back on the status event."""
    bridge = make_bridge(public_url="https://app.example.com/")
    message = bridge.message("+14155552671", "hi", reference="order 42/ü&x=1")
    assert message.status_callback is not None
    internal = message.status_callback.replace("https://app.example.com", "http://127.0.0.1:8000")
    request = form_request(internal, status_params("delivered"), sign_url=message.status_callback)
    event = bridge.handle_webhook(request).event
    assert isinstance(event, StatusEvent)
    assert event.reference == "order 42/ü&x=1"


def test_public_url_is_what_is_verified() -> None:
    """Behind a proxy the public_url is checked, not the internal URL the app saw."""
    internal = "http://127.0.0.1:8000/sms/webhook?tenant=acme"
    public = "https://hooks.example.com/base/sms/webhook?tenant=acme"
    request = form_request(internal, status_params("sent"), sign_url=public)
    assert make_bridge(public_url="https://hooks.example.com/base").handle_webhook(request).event
    with pytest.raises(SignatureError):
        make_bridge().handle_webhook(request)


@pytest.mark.parametrize("proxies", [["10.0.0.7"], ["10.0.0.0/8"], ["192.0.2.1", "10.0.0.0/24"]])
def test_forwarded_headers_from_trusted_proxies(proxies: list[str]) -> None:
    """X-Forwarded-Proto/Host/Port/Prefix rebuild the signed URL when the peer is trusted."""
    public = "https://hooks.example.com:8443/api/sms/webhook"
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hooks.example.com",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/api",
    }
    request = form_request(
        "http://10.0.0.2:8000/sms/webhook",
        status_params("sent"),
        sign_url=public,
        headers=forwarded,
        remote_addr="10.0.0.7",
    )
    assert make_bridge(trusted_proxies=proxies).handle_webhook(request).event


def test_forwarded_headers_are_ignored_from_anyone_else() -> None:
    """The same forwarded headers from an unlisted peer, or with no proxies listed, are refused."""
    public = "https://evil.example.com/sms/webhook"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example.com"}
    request = form_request(
        "http://10.0.0.2:8000/sms/webhook",
        status_params("sent"),
        sign_url=public,
        headers=forwarded,
        remote_addr="203.0.113.9",
    )
    with pytest.raises(SignatureError):
        make_bridge(trusted_proxies=["10.0.0.0/8"]).handle_webhook(request)
    with pytest.raises(SignatureError):
        make_bridge().handle_webhook(request)


def test_bad_trusted_proxy_entry_is_a_config_error() -> None:
    """A trusted_proxies entry that is not an IP or CIDR is reported as ConfigError."""
    request = form_request(URL, status_params("sent"), remote_addr="10.0.0.1")
    with pytest.raises(ConfigError):
        make_bridge(trusted_proxies=["proxy.internal"]).handle_webhook(request)


def test_explain_finds_the_variant_that_matches() -> None:
    """explain_twilio_signature lists URL variants and marks the one the signature was made for."""
    public = "https://hooks.example.com/api/sms/webhook/"
    request = form_request(
        "http://10.0.0.2:8000/sms/webhook",
        status_params("sent"),
        sign_url=public,
        headers={"X-Forwarded-Host": "hooks.example.com", "X-Forwarded-Prefix": "/api"},
    )
    results = explain_twilio_signature(request, TOKEN)
    assert results[0] == ("http://10.0.0.2:8000/sms/webhook", False)
    assert [url for url, ok in results if ok] == [public]
    assert not any(ok for _, ok in explain_twilio_signature(request, "wrong-token"))


def test_explain_with_shared_keys_and_without_signature() -> None:
    """SharedKey signatures are explained with shared_keys; no signature header matches nothing."""
    params = status_params("sent")
    headers = sign_twilio(URL, params, auth_token=TOKEN, shared_key=("wk", "sec", "HMAC_SHA256"))
    request = form_request(URL, params, headers=headers, signature=headers["X-Twilio-Signature"])
    assert explain_twilio_signature(request, TOKEN, {"wk": "sec"})[0] == (URL, True)
    assert explain_twilio_signature(request, TOKEN)[0] == (URL, False)
    bare = WebhookRequest("POST", URL, {"Content-Type": FORM}, request.body)
    assert all(not ok for _, ok in explain_twilio_signature(bare, TOKEN))


# -- responses ---------------------------------------------------------------------------------
def test_twilio_gets_empty_twiml_and_inline_replies() -> None:
    """The ack is 200 empty TwiML (text/xml); a reply goes inline as an escaped <Message>."""
    outcome = make_bridge().handle_webhook(fixture_request(INBOUND["sms_basic"]))
    assert outcome.response.status_code == 200
    assert outcome.response.headers["Content-Type"] == "text/xml"
    assert outcome.response.body == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
    reply = outcome.reply("Fish & <chips>\x00 ok")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/xml"
    assert reply.body.endswith(
        b"<Response><Message>Fish &amp; &lt;chips&gt; ok</Message></Response>"
    )
    assert outcome.reply(None).body == outcome.response.body


# -- async -------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_async_handle_matches_sync() -> None:
    """ahandle_webhook verifies, parses and de-duplicates like handle_webhook, on both backends."""
    bridge = make_bridge()
    first = await bridge.ahandle_webhook(fixture_request(STATUS["delivered"]))
    again = await bridge.ahandle_webhook(fixture_request(STATUS["delivered"]))
    late = await bridge.ahandle_webhook(fixture_request(STATUS["sent"]))
    assert first.event.status is MessageStatus.DELIVERED
    assert not first.duplicate
    assert again.duplicate
    assert late.stale
    with pytest.raises(SignatureError):
        await bridge.ahandle_webhook(form_request(URL, status_params("sent"), token="nope"))


def test_a_late_scheduled_status_never_overrides_a_later_one() -> None:
    """Twilio's 'scheduled' callback is a message's first status; arriving after 'queued' (or
    any later one) it is stale, never taken as the latest."""
    bridge = make_bridge()
    first = bridge.handle_webhook(form_request(URL, status_params("scheduled")))
    assert first.event.status is MessageStatus.SCHEDULED
    assert not first.stale
    assert not bridge.handle_webhook(form_request(URL, status_params("queued"))).stale

    bridge = make_bridge()
    assert not bridge.handle_webhook(form_request(URL, status_params("queued"))).stale
    late = bridge.handle_webhook(form_request(URL, status_params("scheduled")))
    assert late.stale
    assert not late.duplicate
    assert late.event.status is MessageStatus.SCHEDULED
