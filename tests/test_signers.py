"""The test signers mint exactly the signatures Twilio and Telnyx send (official vectors)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from smsbridge.providers.telnyx._verify import signed_message as telnyx_message
from smsbridge.providers.twilio._signing import twilio_signature
from smsbridge.testing import (
    TelnyxKeyPair,
    make_telnyx_keypair,
    sign_telnyx,
    sign_twilio,
    twilio_json_url,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


TWILIO_VECTORS = _load("twilio_signature.json")["official_vectors"]
TELNYX_VECTORS = _load("telnyx_signature.json")


def test_twilio_official_vector() -> None:
    """Signing the official URL and params with token 12345 gives Twilio's published signature."""
    case = TWILIO_VECTORS["cases"][0]
    headers = sign_twilio(case["url"], case["params"], auth_token=TWILIO_VECTORS["auth_token"])
    assert headers == {"X-Twilio-Signature": case["expected"]}


def test_twilio_repeated_params_are_sorted_and_deduplicated() -> None:
    """Pairs with a repeated name sign like Twilio's MultiDict vector."""
    case = TWILIO_VECTORS["cases"][1]
    pairs = [tuple(pair) for pair in case["params_multi"]]
    headers = sign_twilio(case["url"], pairs, auth_token=TWILIO_VECTORS["auth_token"])
    assert headers["X-Twilio-Signature"] == case["expected"]


@pytest.mark.parametrize("fixture", ["twilio_status.json", "twilio_inbound.json"])
def test_twilio_fixture_webhooks(fixture: str) -> None:
    """Every recorded status and inbound webhook fixture is reproduced from its params."""
    for case in _load(fixture)["cases"]:
        pairs = [tuple(pair) for pair in case["params"]]
        headers = sign_twilio(case["url"], pairs, auth_token=case["auth_token"])
        assert headers["X-Twilio-Signature"] == case["x_twilio_signature"], case["name"]


def test_twilio_get_request_signs_the_url_alone() -> None:
    """Without params the signature covers the URL only (GET webhooks)."""
    url = "https://app.test/hook?MessageSid=SM1&To=%2B1"
    assert sign_twilio(url, auth_token="tok") == sign_twilio(url, {}, auth_token="tok")
    assert sign_twilio(url, auth_token="tok")["X-Twilio-Signature"] == twilio_signature("tok", url)


def test_twilio_json_body_official_vector() -> None:
    """A JSON body is signed over the URL with bodySHA256 appended, matching the official case."""
    body_case, signed_case = TWILIO_VECTORS["cases"][7], TWILIO_VECTORS["cases"][8]
    body = body_case["body"].encode()
    url = twilio_json_url("https://mycompany.com/myapp.php?foo=1&bar=2", body)
    assert url == signed_case["url"]
    assert url.endswith("bodySHA256=" + body_case["expected_body_sha256_hex"])
    headers = sign_twilio(url, auth_token=TWILIO_VECTORS["auth_token"], body=body)
    assert headers["X-Twilio-Signature"] == signed_case["signature"]


def test_twilio_json_url_without_query() -> None:
    """A URL without a query string gets ``?bodySHA256=``."""
    url = twilio_json_url("https://app.test/hook", b"{}")
    assert url == "https://app.test/hook?bodySHA256=" + hashlib.sha256(b"{}").hexdigest()


def test_twilio_json_body_needs_matching_url() -> None:
    """Signing a JSON body over a URL without (or with a wrong) bodySHA256 is refused."""
    with pytest.raises(ValueError, match="twilio_json_url"):
        sign_twilio("https://app.test/hook", auth_token="tok", body=b"{}")
    wrong = twilio_json_url("https://app.test/hook", b"{}")
    with pytest.raises(ValueError, match="bodySHA256"):
        sign_twilio(wrong, auth_token="tok", body=b'{"a":1}')
    with pytest.raises(ValueError, match="params or body"):
        sign_twilio(wrong, {"A": "1"}, auth_token="tok", body=b"{}")


def test_twilio_shared_key_signature() -> None:
    """A SharedKey signs with HMAC-SHA256 of its secret and announces itself in a header."""
    params = {"MessageSid": "SM1", "MessageStatus": "sent"}
    headers = sign_twilio(
        "https://app.test/s",
        params,
        auth_token="not-used",
        shared_key=("KH123", "secret", "HMAC_SHA256"),
    )
    assert headers["X-Twilio-Webhooks-Signature-Settings"] == "key=KH123,algorithm=HMAC_SHA256"
    expected = twilio_signature("secret", "https://app.test/s", params, "HMAC_SHA256")
    assert headers["X-Twilio-Signature"] == expected
    assert len(expected) == 44


def test_telnyx_fixture_keypair() -> None:
    """The fixture's seed yields the fixture's public key."""
    seed = bytes.fromhex(TELNYX_VECTORS["keypair"]["seed_hex"])
    pair = make_telnyx_keypair(seed)
    assert pair.public_key_b64 == TELNYX_VECTORS["keypair"]["public_key_base64"]


@pytest.mark.parametrize("case", TELNYX_VECTORS["cases"], ids=lambda c: c["name"])
def test_telnyx_fixture_signatures(case: dict[str, Any]) -> None:
    """Ed25519 is deterministic, so signing a fixture body at its timestamp reproduces it."""
    seed = bytes.fromhex(TELNYX_VECTORS["keypair"]["seed_hex"])
    stamp = int(case["headers"]["telnyx-timestamp"])
    headers = sign_telnyx(case["raw_body"].encode(), signing_key=seed, timestamp=stamp)
    assert headers == case["headers"]


def test_telnyx_accepts_each_key_form_and_verifies() -> None:
    """A SigningKey, a TelnyxKeyPair and a raw seed sign identically, and nacl verifies it."""
    seed = b"\x07" * 32
    pair = make_telnyx_keypair(seed)
    body = b'{"data":{"event_type":"message.sent"}}'
    forms: list[nacl.signing.SigningKey | TelnyxKeyPair | bytes] = [
        seed,
        pair,
        nacl.signing.SigningKey(seed),
    ]
    signed = [sign_telnyx(body, signing_key=form, timestamp=1_700_000_000) for form in forms]
    assert signed[0] == signed[1] == signed[2]
    verify = nacl.signing.VerifyKey(base64.b64decode(pair.public_key_b64))
    signature = base64.b64decode(signed[0]["telnyx-signature-ed25519"])
    assert len(signature) == 64
    verify.verify(telnyx_message("1700000000", body), signature)


def test_telnyx_timestamp_defaults_to_now() -> None:
    """Without a timestamp the current Unix time is signed."""
    headers = sign_telnyx(b"{}", signing_key=make_telnyx_keypair())
    assert abs(int(headers["telnyx-timestamp"]) - time.time()) < 5


def test_keypair_repr_hides_private_key_and_seeds_differ() -> None:
    """The repr shows the public key only; random key pairs differ; a bad seed is refused."""
    first, second = make_telnyx_keypair(), make_telnyx_keypair()
    assert isinstance(first, TelnyxKeyPair)
    assert first.public_key_b64 != second.public_key_b64
    assert "***" in repr(first)
    assert first.public_key_b64 in repr(first)
    assert base64.b64encode(bytes(first.signing_key)).decode() not in repr(first)
    with pytest.raises(ValueError, match="32 bytes"):
        make_telnyx_keypair(b"short")
