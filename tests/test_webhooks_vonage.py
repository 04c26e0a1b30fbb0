"""Vonage webhooks through ``Bridge.handle_webhook``: HS256 JWT verification and its refusals,
parsing of every fixture, status mapping, duplicates, ordering, references, detection among
all three providers, and tokens minted independently (PyJWT by hand, Vonage's own SDK)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from conftest import require
from cryptography.hazmat.primitives.asymmetric import rsa

from smsbridge import (
    Bridge,
    InboundMessage,
    MalformedWebhook,
    MessageStatus,
    SignatureError,
    StaleWebhook,
    StatusEvent,
    UnknownProvider,
    WebhookRequest,
)
from smsbridge.providers import Telnyx, Twilio, Vonage
from smsbridge.providers.vonage import VONAGE_STATUS, sign_vonage
from smsbridge.providers.vonage._parse import e164
from smsbridge.testing import make_telnyx_keypair, sign_telnyx, sign_twilio
from smsbridge.webhooks import detect

FIXTURES = Path(__file__).parent / "fixtures"
INBOUND = json.loads((FIXTURES / "vonage_inbound.json").read_text())
STATUS = json.loads((FIXTURES / "vonage_status.json").read_text())
SIGNATURES = json.loads((FIXTURES / "vonage_signature.json").read_text())
SECRET = "vonage-signature-secret-0123456789abcdef"
OTHER_SECRET = "another-accounts-signature-secret-98765"
URL = "https://app.example.com/sms/webhook"
NOW = 1715700602
JSON = {"Content-Type": "application/json"}


def vonage(secret: str | None = SECRET) -> Vonage:
    return Vonage("a1b2c3d", "api-secret-value", signature_secret=secret, from_="+447700900001")


def make_bridge(secret: str | None = SECRET, now: float = NOW, **kw: Any) -> Bridge:
    """A bridge with one Vonage account and a fixed clock."""
    bridge = Bridge(vonage(secret), **kw)
    bridge.clock = lambda: now  # type: ignore[attr-defined]
    return bridge


def body_of(document: Any) -> bytes:
    return document if isinstance(document, bytes) else json.dumps(document).encode()


def signed(
    document: Any, *, url: str = URL, issued_at: int = NOW, secret: str = SECRET
) -> WebhookRequest:
    """A JSON POST of ``document`` signed with ``secret`` at ``issued_at``."""
    body = body_of(document)
    headers = sign_vonage(body, signature_secret=secret, issued_at=issued_at)
    return WebhookRequest("POST", url, {**JSON, **headers}, body)


def with_token(document: Any, token: str) -> WebhookRequest:
    return WebhookRequest(
        "POST", URL, {**JSON, "Authorization": f"Bearer {token}"}, body_of(document)
    )


def claims_for(body: bytes, **overrides: Any) -> dict[str, Any]:
    """Vonage's claims for ``body`` (as its docs describe them), with overrides."""
    claims = {
        "iat": NOW,
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "a1b2c3d",
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- verification --------------------------------------------------------------------------------
def test_a_token_minted_by_hand_with_pyjwt_verifies() -> None:
    """A token built with jwt.encode from Vonage's documented claims (not our signer) verifies."""
    body = body_of(INBOUND["sms"])
    token = jwt.encode(claims_for(body), SECRET, algorithm="HS256", headers={"typ": "JWT"})
    outcome = make_bridge().handle_webhook(with_token(body, token))
    assert outcome.provider == "vonage"
    assert isinstance(outcome.event, InboundMessage)


def test_vonage_sdk_accepts_tokens_our_signer_mints() -> None:
    """Vonage's own verifier (vonage_jwt.verify_signature) accepts sign_vonage's tokens, and
    refuses them under another secret; the claims are Vonage's."""
    vonage_jwt = require("vonage_jwt", "bench")
    body = body_of(STATUS["delivered"])
    token = sign_vonage(body, signature_secret=SECRET)["Authorization"].removeprefix("Bearer ")
    assert vonage_jwt.verify_signature(token, SECRET) is True
    assert vonage_jwt.verify_signature(token, OTHER_SECRET) is False
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert set(claims) == set(SIGNATURES["sample_token"]["claims"]) - {"application_id"}
    assert claims["payload_hash"] == hashlib.sha256(body).hexdigest()
    assert abs(claims["iat"] - time.time()) < 60
    assert jwt.get_unverified_header(token) == SIGNATURES["sample_token"]["header"]


def test_the_sdk_vector_without_payload_hash_is_refused() -> None:
    """The SDK's own test token verifies by its HMAC alone, but carries no payload_hash:
    smsbridge refuses it, since it vouches for no body."""
    vonage_jwt = require("vonage_jwt", "bench")
    vector = SIGNATURES["sdk_vector"]
    assert vonage_jwt.verify_signature(vector["token"], vector["secret"]) is True
    bridge = make_bridge(secret=vector["secret"], now=vector["iat"])
    with pytest.raises(SignatureError) as info:
        bridge.handle_webhook(with_token(INBOUND["sms"], vector["token"]))
    assert "payload_hash" in info.value.message


def test_tampered_body_is_refused() -> None:
    """A body changed after signing no longer matches payload_hash: SignatureError (403)."""
    request = signed(INBOUND["sms"])
    tampered = WebhookRequest(
        "POST", URL, dict(request.headers), request.body.replace(b"Hello", b"Jello")
    )
    with pytest.raises(SignatureError) as info:
        make_bridge().handle_webhook(tampered)
    assert (info.value.code, info.value.status_code) == ("invalid_signature", 403)
    assert "payload_hash" in info.value.message


def test_hash_must_be_lower_case_hex_of_the_raw_bytes() -> None:
    """payload_hash covers the exact bytes: re-serialised JSON or an upper-case hash fail."""
    body = body_of(INBOUND["sms"])
    reserialised = json.dumps(INBOUND["sms"], indent=2).encode()
    upper = claims_for(body, payload_hash=hashlib.sha256(body).hexdigest().upper())
    for claims, sent in ((claims_for(body), reserialised), (upper, body)):
        token = jwt.encode(claims, SECRET, algorithm="HS256")
        with pytest.raises(SignatureError):
            make_bridge().handle_webhook(with_token(sent, token))


def test_wrong_secret_is_refused() -> None:
    """A token signed with another secret is refused."""
    with pytest.raises(SignatureError) as info:
        make_bridge().handle_webhook(signed(INBOUND["sms"], secret=OTHER_SECRET))
    assert "signature secret" in info.value.message


def test_alg_none_is_refused() -> None:
    """An unsigned token (alg none) with correct claims is refused."""
    body = body_of(INBOUND["sms"])
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims_for(body)).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        with pytest.raises(SignatureError):
            make_bridge().handle_webhook(with_token(body, token))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_rs256_and_other_algorithms_are_refused() -> None:
    """RS256 (a valid signature by some RSA key) and HS512 (by the right secret) are refused:
    the algorithm is pinned to HS256."""
    body = body_of(INBOUND["sms"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = [
        jwt.encode(claims_for(body), key, algorithm="RS256"),
        jwt.encode(claims_for(body), SECRET, algorithm="HS512"),
    ]
    for token in tokens:
        with pytest.raises(SignatureError) as info:
            make_bridge().handle_webhook(with_token(body, token))
        assert "HS256" in info.value.message


@pytest.mark.parametrize(
    ("offset", "fresh"),
    [(0, True), (-300, True), (300, True), (-301, False), (301, False), (-86400, False)],
)
def test_iat_window_either_way(offset: int, fresh: bool) -> None:
    """iat within 300 s of now, past or future, passes; beyond is StaleWebhook (403)."""
    request = signed(INBOUND["sms"], issued_at=NOW + offset)
    if fresh:
        assert make_bridge().handle_webhook(request).event.provider == "vonage"
    else:
        with pytest.raises(StaleWebhook) as info:
            make_bridge().handle_webhook(request)
        assert (info.value.code, info.value.status_code) == ("stale_webhook", 403)


def test_tolerance_is_configurable_and_exp_is_honoured() -> None:
    """webhook_tolerance narrows the window; a token whose exp has passed is stale."""
    request = signed(INBOUND["sms"], issued_at=NOW - 20)
    with pytest.raises(StaleWebhook):
        make_bridge(webhook_tolerance=10).handle_webhook(request)
    assert make_bridge(webhook_tolerance=30).handle_webhook(request).event
    body = body_of(INBOUND["sms"])
    expired = jwt.encode(claims_for(body, exp=NOW - 1), SECRET, algorithm="HS256")
    with pytest.raises(StaleWebhook):
        make_bridge().handle_webhook(with_token(body, expired))


def test_a_forged_body_is_a_signature_error_even_when_stale() -> None:
    """Authenticity is checked before time: a tampered old webhook is a SignatureError."""
    request = signed(INBOUND["sms"], issued_at=NOW - 3600)
    forged = WebhookRequest("POST", URL, dict(request.headers), request.body + b" ")
    with pytest.raises(SignatureError):
        make_bridge().handle_webhook(forged)


def test_bad_iat_is_refused() -> None:
    """iat missing, a string or a boolean is a SignatureError."""
    body = body_of(INBOUND["sms"])
    for iat in (None, str(NOW), True):
        token = jwt.encode(claims_for(body, iat=iat), SECRET, algorithm="HS256")
        with pytest.raises(SignatureError):
            make_bridge().handle_webhook(with_token(body, token))


def test_missing_repeated_or_malformed_authorization_is_refused() -> None:
    """No header, two headers, another scheme, an empty or garbage token: SignatureError."""
    good = signed(INBOUND["sms"])
    value = good.headers["authorization"]
    variants: list[list[tuple[str, str]]] = [
        [],
        [("Authorization", value), ("authorization", value)],
        [("Authorization", "Basic " + value.removeprefix("Bearer "))],
        [("Authorization", "Bearer")],
        [("Authorization", "Bearer ")],
        [("Authorization", "Bearer not.a.jwt")],
        [("Authorization", "Bearer " + "A" * 5000)],
        [("Authorization", value.removeprefix("Bearer "))],
    ]
    bridge = make_bridge()
    for headers in variants:
        with pytest.raises(SignatureError):
            bridge.handle_webhook(WebhookRequest("POST", URL, [*JSON.items(), *headers], good.body))


def test_lower_case_bearer_is_accepted() -> None:
    """The scheme and the header name are case-insensitive."""
    request = signed(INBOUND["sms"])
    token = request.headers["authorization"].removeprefix("Bearer ")
    headers = {**JSON, "AUTHORIZATION": f"bearer {token}"}
    assert make_bridge().handle_webhook(WebhookRequest("POST", URL, headers, request.body)).event


def test_no_secret_configured_fails_closed() -> None:
    """A Vonage provider without signature_secret refuses even a correctly signed webhook."""
    with pytest.raises(SignatureError) as info:
        make_bridge(secret=None).handle_webhook(signed(INBOUND["sms"]))
    assert "signature_secret" in info.value.message


def test_unsigned_vonage_webhook_is_a_signature_error() -> None:
    """A Vonage-shaped body without a token is recognised, then refused (403), not a 400."""
    request = WebhookRequest("POST", URL, JSON, body_of(INBOUND["sms"]))
    with pytest.raises(SignatureError):
        make_bridge().handle_webhook(request)


def test_two_accounts_on_one_bridge() -> None:
    """With two Vonage accounts, a webhook signed by the second account's secret verifies."""
    bridge = Bridge([vonage(OTHER_SECRET), vonage(SECRET)])
    bridge.clock = lambda: NOW  # type: ignore[attr-defined]
    assert bridge.handle_webhook(signed(INBOUND["sms"])).event
    assert bridge.handle_webhook(signed(INBOUND["mms"], secret=OTHER_SECRET)).event


# -- parsing -------------------------------------------------------------------------------------
def test_inbound_sms_fixture() -> None:
    """An inbound SMS: id, numbers in E.164 with +, text, parts, time and raw."""
    event = make_bridge().handle_webhook(signed(INBOUND["sms"])).event
    assert isinstance(event, InboundMessage)
    assert event.id == "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    assert (event.from_, event.to) == ("+447700900001", "+447700900000")
    assert event.text == "Hello From Vonage!"
    assert event.segments == 2
    assert event.media == ()
    assert event.received_at == datetime(2020, 1, 1, 14, 0, tzinfo=timezone.utc)
    assert event.opt_out is None
    assert event.raw == INBOUND["sms"]


def test_inbound_mms_fixture() -> None:
    """An inbound MMS carries the image URL, and its caption as the text."""
    event = make_bridge().handle_webhook(signed(INBOUND["mms"])).event
    assert isinstance(event, InboundMessage)
    assert [m.url for m in event.media] == ["https://example.com/image.jpg"]
    assert event.text == "Additional text to accompany the image."
    assert (event.from_, event.to) == ("+14155552671", "+14155550100")


def test_short_codes_keep_their_form() -> None:
    """A short code stays as it is; the sender's number gets its +."""
    event = make_bridge().handle_webhook(signed(INBOUND["short_code"])).event
    assert isinstance(event, InboundMessage)
    assert (event.to, event.from_) == ("12345", "+447700900001")


@pytest.mark.parametrize(
    ("wire", "shown"),
    [
        ("447700900000", "+447700900000"),
        ("14155550100", "+14155550100"),
        ("6834002", "+6834002"),  # Niue: a 7-digit E.164 number
        ("12345", "12345"),  # short codes keep their form
        ("12345678", "12345678"),  # 8 digits without a country's number plan: a short code
        ("MyBrand", "MyBrand"),
        ("+447700900000", "+447700900000"),
        ("1" * 16, "1" * 16),
    ],
)
def test_numbers_get_their_plus_back(wire: str, shown: str) -> None:
    """Vonage's numbers without + become E.164; short codes and IDs are left alone."""
    assert e164(wire) == shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [("STOP", "STOP"), (" stop\n", "STOP"), ("Unsubscribe", "STOP"), ("start", "START"),
     ("HELP", "HELP"), ("stop please", None)],
)  # fmt: skip
def test_opt_out_keywords(text: str, expected: str | None) -> None:
    """Inbound texts that are exactly a standard keyword set the opt-out intent."""
    document = copy.deepcopy(INBOUND["sms"])
    document["text"] = text
    event = make_bridge().handle_webhook(signed(document)).event
    assert isinstance(event, InboundMessage)
    assert event.opt_out == expected


@pytest.mark.parametrize(
    ("name", "status", "code", "failure", "provider_code"),
    [
        ("submitted", MessageStatus.SENT, None, None, None),
        ("delivered", MessageStatus.DELIVERED, None, None, None),
        ("rejected_sender", MessageStatus.FAILED, "sender_config", "refused", "1120"),
        ("rejected_carrier", MessageStatus.UNDELIVERED, "content_rejected", "rejected", "1210"),
        ("rejected_throttled", MessageStatus.FAILED, "rate_limited", "refused", "1000"),
        ("undeliverable", MessageStatus.FAILED, None, None, None),
        ("read", MessageStatus.READ, None, None, None),
    ],
)
def test_status_fixtures(
    name: str,
    status: MessageStatus,
    code: str | None,
    failure: str | None,
    provider_code: str | None,
) -> None:
    """Each status callback maps to its common status, with its error classified."""
    document = STATUS[name]
    event = make_bridge().handle_webhook(signed(document)).event
    assert isinstance(event, StatusEvent)
    assert event.provider_message_id == document["message_uuid"]
    assert (event.status, event.raw_status) == (status, document["status"])
    if code is None:
        assert event.error is None
    else:
        assert event.error is not None
        assert (event.error.code, event.error.failure) == (code, failure)
        assert event.error.provider_code == provider_code
        assert document["error"]["detail"] in event.error.message


def test_status_numbers_times_and_reference() -> None:
    """A status event has E.164 numbers (alphanumeric senders as they are), the event time
    and the reference from client_ref."""
    event = make_bridge().handle_webhook(signed(STATUS["submitted"])).event
    assert isinstance(event, StatusEvent)
    assert (event.to, event.from_) == ("+447700900000", "+447700900001")
    assert event.occurred_at == datetime(2020, 1, 1, 14, 0, 3, 10000, tzinfo=timezone.utc)
    assert event.reference == "order-42"
    rejected = make_bridge().handle_webhook(signed(STATUS["rejected_sender"])).event
    assert isinstance(rejected, StatusEvent)
    assert rejected.from_ == "MyBrand"


@pytest.mark.parametrize("raw", sorted(VONAGE_STATUS))
def test_every_vonage_status_maps(raw: str) -> None:
    """Each documented status (without an error) becomes its common status."""
    document = {**STATUS["delivered"], "status": raw}
    event = make_bridge().handle_webhook(signed(document)).event
    assert isinstance(event, StatusEvent)
    assert event.status is VONAGE_STATUS[raw]
    assert event.raw_status == raw


def test_unknown_status_is_kept_raw_and_orders_nothing() -> None:
    """A status Vonage does not document is unknown, keeps its raw form, and neither becomes
    stale nor blocks the known ones."""
    bridge = make_bridge()
    odd = bridge.handle_webhook(signed({**STATUS["delivered"], "status": "buffered"}))
    assert isinstance(odd.event, StatusEvent)
    assert (odd.event.status, odd.event.raw_status) == (MessageStatus.UNKNOWN, "buffered")
    assert not odd.stale
    assert not bridge.handle_webhook(signed(STATUS["submitted"])).stale


def test_reference_falls_back_to_the_callback_url() -> None:
    """Without client_ref, the smsbridge_ref of the callback URL is the reference; with both,
    the signed client_ref wins over the unsigned URL."""
    bridge = make_bridge(public_url="https://app.example.com")
    callback = bridge.status_callback_url("from-url")
    assert callback is not None
    bare = {k: v for k, v in STATUS["delivered"].items() if k != "client_ref"}
    assert bridge.handle_webhook(signed(bare, url=callback)).event.reference == "from-url"
    other = {**STATUS["submitted"], "message_uuid": "another-message"}
    assert bridge.handle_webhook(signed(other, url=callback)).event.reference == "order-42"


def test_unreadable_verified_bodies_are_malformed() -> None:
    """A verified body that is not a JSON object, lacks message_uuid, or is an inbound message
    of another channel is MalformedWebhook (400)."""
    whatsapp = {**INBOUND["sms"], "channel": "whatsapp"}
    documents = (
        b'["message_uuid"]',
        b'{"message_uuid": "x",',
        whatsapp,
        {**INBOUND["sms"], "message_uuid": None},
        {**STATUS["delivered"], "to": 7},
    )
    for document in documents:
        with pytest.raises(MalformedWebhook) as info:
            make_bridge().handle_webhook(signed(document))
        assert info.value.status_code == 400


# -- duplicates, ordering ------------------------------------------------------------------------
def test_a_redelivery_is_a_duplicate() -> None:
    """Vonage retrying the same event (a new token: new jti and iat) is flagged duplicate."""
    bridge = make_bridge()
    first = bridge.handle_webhook(signed(INBOUND["sms"]))
    again = bridge.handle_webhook(signed(INBOUND["sms"], issued_at=NOW + 5))
    assert not first.duplicate
    assert again.duplicate
    assert again.event.id == first.event.id
    status = bridge.handle_webhook(signed(STATUS["delivered"]))
    assert not status.duplicate
    assert bridge.handle_webhook(signed(STATUS["delivered"], issued_at=NOW + 9)).duplicate


def test_late_submitted_after_delivered_is_stale() -> None:
    """submitted arriving after delivered is stale (and not a duplicate); in order, neither is."""
    bridge = make_bridge()
    assert not bridge.handle_webhook(signed(STATUS["delivered"])).stale
    late = bridge.handle_webhook(signed(STATUS["submitted"]))
    assert late.stale
    assert not late.duplicate
    fresh = make_bridge()
    assert not fresh.handle_webhook(signed(STATUS["submitted"])).stale
    assert not fresh.handle_webhook(signed(STATUS["delivered"])).stale


# -- detection among providers -------------------------------------------------------------------
TWILIO_TOKEN = "twilio-auth-token"
TELNYX_PAIR = make_telnyx_keypair(b"\x07" * 32)
TELNYX_EVENT = {
    "data": {
        "event_type": "message.received",
        "id": "telnyx-event-1",
        "occurred_at": "2024-05-14T15:30:02.000+00:00",
        "payload": {
            "id": "telnyx-message-1",
            "to": [{"phone_number": "+13125550100"}],
            "from": {"phone_number": "+13125550111"},
            "text": "hi from telnyx",
        },
    },
    "meta": {"attempt": 1},
}


def all_three() -> Bridge:
    """A bridge with Vonage first, then Telnyx and Twilio (Vonage's shape test runs first)."""
    bridge = Bridge(
        [
            vonage(),
            Telnyx("KEY0123", public_key=TELNYX_PAIR.public_key_b64, from_="+13125550100"),
            Twilio("AC" + "0" * 32, TWILIO_TOKEN, from_="+15017122661"),
        ]
    )
    bridge.clock = lambda: NOW  # type: ignore[attr-defined]
    return bridge


def test_each_provider_webhook_reaches_its_provider() -> None:
    """With all three configured, Vonage, Telnyx and Twilio webhooks are each verified by
    their own provider."""
    bridge = all_three()
    assert bridge.handle_webhook(signed(INBOUND["sms"])).provider == "vonage"
    body = body_of(TELNYX_EVENT)
    telnyx_headers = {**JSON, **sign_telnyx(body, signing_key=TELNYX_PAIR, timestamp=NOW)}
    telnyx = bridge.handle_webhook(WebhookRequest("POST", URL, telnyx_headers, body))
    assert (telnyx.provider, telnyx.event.text) == ("telnyx", "hi from telnyx")
    params = {
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": "+14155552671",
        "To": "+15017122661",
        "Body": "hi from twilio",
    }
    form = urlencode(params).encode()
    twilio_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign_twilio(URL, params, auth_token=TWILIO_TOKEN),
    }
    twilio = bridge.handle_webhook(WebhookRequest("POST", URL, twilio_headers, form))
    assert (twilio.provider, twilio.event.text) == ("twilio", "hi from twilio")


def test_vonage_never_claims_other_providers_shapes() -> None:
    """An unsigned Telnyx body (even with a Bearer header) or Twilio form is not Vonage's; an
    unsigned Vonage body is."""
    telnyx_like = WebhookRequest(
        "POST", URL, {**JSON, "Authorization": "Bearer x"}, body_of(TELNYX_EVENT)
    )
    assert detect(telnyx_like) == "telnyx"
    with pytest.raises(SignatureError) as info:
        all_three().handle_webhook(telnyx_like)
    assert info.value.provider == "telnyx"
    twilio_like = WebhookRequest(
        "POST", URL, {"Content-Type": "application/x-www-form-urlencoded"},
        b"MessageSid=SM1&message_uuid=x",
    )  # fmt: skip
    assert detect(twilio_like) == "twilio"
    assert detect(WebhookRequest("POST", URL, JSON, body_of(STATUS["delivered"]))) == "vonage"
    # A Vonage body is JSON: the same bytes as a form (or untyped) are not Vonage's.
    with pytest.raises(UnknownProvider):
        detect(WebhookRequest("POST", URL, {}, body_of(STATUS["delivered"])))


def test_a_bridge_without_vonage_does_not_take_vonage_webhooks() -> None:
    """A Vonage webhook at a bridge with only Telnyx and Twilio is UnknownProvider (400)."""
    bridge = Bridge(
        [
            Telnyx("KEY0123", public_key=TELNYX_PAIR.public_key_b64),
            Twilio("AC" + "0" * 32, TWILIO_TOKEN, from_="+15017122661"),
        ]
    )
    with pytest.raises(UnknownProvider) as info:
        bridge.handle_webhook(signed(INBOUND["sms"]))
    assert info.value.status_code == 400


# -- answers and async ---------------------------------------------------------------------------
def test_vonage_gets_an_empty_200() -> None:
    """The acknowledgement is a 200 with an empty body; a reply is the same plain answer."""
    outcome = make_bridge().handle_webhook(signed(INBOUND["sms"]))
    assert (outcome.response.status_code, outcome.response.body) == (200, b"")
    assert "Content-Type" in outcome.response.headers
    reply = outcome.reply("Thanks!")
    assert (reply.status_code, reply.body) == (200, b"")


@pytest.mark.anyio
async def test_async_handle_matches_sync() -> None:
    """ahandle_webhook verifies, parses, de-duplicates and orders like the sync one."""
    bridge = make_bridge()
    delivered = await bridge.ahandle_webhook(signed(STATUS["delivered"]))
    again = await bridge.ahandle_webhook(signed(STATUS["delivered"], issued_at=NOW + 1))
    late = await bridge.ahandle_webhook(signed(STATUS["submitted"]))
    assert delivered.event.status is MessageStatus.DELIVERED
    assert again.duplicate
    assert late.stale
    with pytest.raises(StaleWebhook):
        await bridge.ahandle_webhook(signed(INBOUND["sms"], issued_at=NOW - 3600))
