"""The Vonage codec: requests (Basic and application JWT), answers and every error class,
configuration and secrecy, replayed through httpx.MockTransport (fixtures/vonage_send.json)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import smsbridge
from smsbridge import (
    Bridge,
    ConfigError,
    InvalidRequest,
    MessageStatus,
    OutboundMessage,
    ProviderError,
    SendResult,
    UnexpectedError,
)
from smsbridge.providers import Vonage, names, provider_class
from smsbridge.providers._shell import atransmit, transmit
from smsbridge.providers.vonage import VONAGE_CODES
from smsbridge.providers.vonage._auth import TOKEN_REFRESH, TOKEN_TTL
from smsbridge.providers.vonage._errors import VONAGE_SEND_CODES, send_category

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = json.loads((FIXTURES / "vonage_send.json").read_text())
ERRORS = json.loads((FIXTURES / "vonage_errors.json").read_text())
REQUEST = FIXTURE["request"]
APP_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
API_KEY, API_SECRET = "a1b2c3d", "Sup3rS3cretApiValue"
SIG_SECRET = "sig-secret-0123456789abcdef0123456789"

Handler = Callable[[httpx.Request], httpx.Response]


def _pem(key: Any, *, password: bytes | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = _pem(RSA_KEY)


def basic(**kwargs: Any) -> Vonage:
    """A Vonage provider with Basic auth and the fixture's sender."""
    kwargs.setdefault("from_", "+447700900001")
    return Vonage(API_KEY, API_SECRET, signature_secret=SIG_SECRET, **kwargs)


def app(**kwargs: Any) -> Vonage:
    """A Vonage provider with an application (JWT auth) and the fixture's sender."""
    kwargs.setdefault("from_", "+447700900001")
    return Vonage(application_id=APP_ID, private_key=PEM, signature_secret=SIG_SECRET, **kwargs)


def fixture_message(**overrides: Any) -> OutboundMessage:
    body = REQUEST["json"]
    fields: dict[str, Any] = {
        "to": "+" + body["to"],
        "body": body["text"],
        "reference": body["client_ref"],
        "status_callback": body["webhook_url"],
    }
    fields.update(overrides)
    return OutboundMessage(**fields)


class Recorder:
    """A MockTransport handler that records requests and answers with a canned response."""

    def __init__(self, response: httpx.Response | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.response = response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response or httpx.Response(202, json=FIXTURE["response_202"])


def send(provider: Vonage, message: OutboundMessage, handler: Handler) -> SendResult:
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return transmit(client, provider, message)


def sent_json(provider: Vonage, message: OutboundMessage) -> dict[str, Any]:
    recorder = Recorder()
    send(provider, message, recorder)
    (request,) = recorder.requests
    value = json.loads(request.content)
    assert isinstance(value, dict)
    return value


# -- the request ---------------------------------------------------------------------------------
def test_sms_body_matches_the_fixture() -> None:
    """An SMS is channel sms / message_type text, numbers without +, reference and callback."""
    assert sent_json(basic(), fixture_message()) == REQUEST["json"]


def test_request_line_and_headers() -> None:
    """A JSON POST to https://api.nexmo.com/v1/messages with the fixture's headers."""
    recorder = Recorder()
    send(basic(), fixture_message(), recorder)
    (request,) = recorder.requests
    assert (request.method, str(request.url)) == (REQUEST["method"], REQUEST["url"])
    for name, value in REQUEST["headers"].items():
        assert request.headers[name] == value


def test_mms_carries_one_image_with_the_text_as_caption() -> None:
    """A message with one media URL is channel mms, message_type image, the body its caption."""
    expected = FIXTURE["mms_request_json"]
    message = OutboundMessage(
        to="+" + expected["to"],
        body=expected["image"]["caption"],
        media_urls=(expected["image"]["url"],),
    )
    assert sent_json(basic(from_="+14155550100"), message) == expected
    bare = sent_json(basic(from_="+14155550100"), message.model_copy(update={"body": ""}))
    assert bare["image"] == {"url": expected["image"]["url"]}


def test_optional_fields_are_left_out() -> None:
    """Without reference or status callback there is no client_ref, webhook_url or version."""
    body = sent_json(basic(), OutboundMessage(to="+447700900000", body="hi"))
    assert set(body) == {"to", "from", "channel", "message_type", "text"}


def test_alphanumeric_and_per_message_senders() -> None:
    """An alphanumeric sender goes as it is; a message's own sender wins over the default."""
    assert sent_json(basic(from_="MyBrand"), fixture_message())["from"] == "MyBrand"
    own = sent_json(basic(), fixture_message(from_="+14155550199"))
    assert own["from"] == "14155550199"


def test_unicode_text_is_sent_as_utf8_json() -> None:
    """Non-ASCII text travels as UTF-8 and decodes back unchanged."""
    text = "Grüße 👋 €"
    assert sent_json(basic(), fixture_message(body=text))["text"] == text


def test_no_sender_is_a_config_error() -> None:
    """Without from_ anywhere the send fails before any request, naming VONAGE_FROM."""
    recorder = Recorder()
    with pytest.raises(ConfigError) as info:
        send(basic(from_=None), fixture_message(), recorder)
    assert info.value.variable == "VONAGE_FROM"
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"media_urls": ("https://e.x/a.jpg", "https://e.x/b.jpg")}, "one image"),
        ({"body": "x" * 1001}, "1000 characters"),
        ({"reference": "r" * 101}, "100 characters"),
    ],
)
def test_what_vonage_cannot_carry_is_refused_before_sending(
    overrides: dict[str, Any], words: str
) -> None:
    """Two media, a text over 1000 characters or a reference over 100 are an InvalidRequest
    (rejected) and no request is made."""
    recorder = Recorder()
    with pytest.raises(InvalidRequest) as info:
        send(basic(), fixture_message(**overrides), recorder)
    assert words in info.value.message
    assert info.value.failure == "rejected"
    assert info.value.provider == "vonage"
    assert recorder.requests == []


def test_limits_are_inclusive() -> None:
    """Exactly 1000 characters of text and a 100-character reference are sent."""
    body = sent_json(basic(), fixture_message(body="x" * 1000, reference="r" * 100))
    assert (len(body["text"]), len(body["client_ref"])) == (1000, 100)


def test_can_send_skips_what_vonage_cannot_carry() -> None:
    """Routing skips Vonage for two images or a long text; one image or 1000 characters is fine."""
    vonage = basic()
    assert vonage.can_send(fixture_message(media_urls=("https://e.x/a.jpg",)))
    assert vonage.can_send(fixture_message(body="x" * 1000))
    assert not vonage.can_send(fixture_message(media_urls=("https://e.x/a.jpg",) * 2))
    assert not vonage.can_send(fixture_message(body="x" * 1001))


def test_capabilities() -> None:
    """No idempotency key, no read-back, no scheduling; SMS, MMS and alphanumeric senders."""
    caps = basic().capabilities
    assert (caps.idempotency, caps.read_back, caps.scheduling) == (False, False, None)
    assert (caps.sms, caps.mms, caps.alphanumeric_sender) == (True, True, True)


# -- authentication ------------------------------------------------------------------------------
def test_basic_auth_header() -> None:
    """Basic auth is base64 of api_key:api_secret."""
    recorder = Recorder()
    send(basic(), fixture_message(), recorder)
    scheme, _, value = recorder.requests[0].headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(value).decode() == f"{API_KEY}:{API_SECRET}"
    assert basic().auth == "basic"


def _bearer_claims(request: httpx.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    scheme, _, token = request.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    header = jwt.get_unverified_header(token)
    # Times are checked by the tests themselves (some run on a made-up clock).
    options = {"verify_exp": False, "verify_iat": False}
    claims = jwt.decode(token, RSA_KEY.public_key(), algorithms=["RS256"], options=options)
    return header, claims


def test_application_jwt_claims() -> None:
    """The JWT is RS256 by the application's key with application_id, iat, a UUID jti and a
    short exp; it verifies with the public key."""
    recorder = Recorder()
    vonage = app()
    send(vonage, fixture_message(), recorder)
    header, claims = _bearer_claims(recorder.requests[0])
    assert (header["alg"], header["typ"]) == ("RS256", "JWT")
    assert claims["application_id"] == APP_ID
    assert uuid.UUID(claims["jti"])
    assert claims["exp"] - claims["iat"] == TOKEN_TTL <= 900
    assert abs(claims["iat"] - time.time()) < 60
    assert vonage.auth == "jwt"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    token = recorder.requests[0].headers["Authorization"].split()[1]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["RS256"])


def test_application_wins_over_basic_when_both_are_given() -> None:
    """With both an application and a key and secret, sends use the JWT."""
    recorder = Recorder()
    vonage = Vonage(API_KEY, API_SECRET, application_id=APP_ID, private_key=PEM, from_="MyBrand")
    send(vonage, fixture_message(), recorder)
    assert recorder.requests[0].headers["Authorization"].startswith("Bearer ")


def test_token_is_reused_until_shortly_before_it_expires() -> None:
    """One token serves requests until TOKEN_REFRESH seconds before exp; then a new one."""
    vonage = app()
    now = [1_800_000_000.0]
    assert vonage._token is not None
    vonage._token._clock = lambda: now[0]
    recorder = Recorder()
    send(vonage, fixture_message(), recorder)
    now[0] += TOKEN_TTL - TOKEN_REFRESH - 1
    send(vonage, fixture_message(), recorder)
    now[0] += 1
    send(vonage, fixture_message(), recorder)
    tokens = [r.headers["Authorization"] for r in recorder.requests]
    assert tokens[0] == tokens[1] != tokens[2]
    first, last = _bearer_claims(recorder.requests[0])[1], _bearer_claims(recorder.requests[2])[1]
    assert first["iat"] == 1_800_000_000
    assert last["iat"] == 1_800_000_000 + TOKEN_TTL - TOKEN_REFRESH
    assert first["jti"] != last["jti"]


# -- answers -------------------------------------------------------------------------------------
def test_202_becomes_a_queued_send_result() -> None:
    """202 {"message_uuid"} is a SendResult: queued, with ids, numbers and reference."""
    message = fixture_message(segments=smsbridge.segments(REQUEST["json"]["text"]))
    result = send(basic(), message, Recorder())
    assert result.provider == "vonage"
    assert result.provider_message_id == FIXTURE["response_202"]["message_uuid"]
    assert result.status is MessageStatus.QUEUED
    assert (result.to, result.from_) == ("+447700900000", "+447700900001")
    assert result.reference == "order-42"
    assert (result.segments, result.encoding) == (1, "GSM-7")
    assert result.raw == FIXTURE["response_202"]


def test_2xx_without_message_uuid_is_accepted_and_unexpected() -> None:
    """A 2xx Vonage answer without message_uuid is UnexpectedError(accepted=True): never resent."""
    with pytest.raises(UnexpectedError) as info:
        send(basic(), fixture_message(), Recorder(httpx.Response(202, json={"id": "x"})))
    assert info.value.accepted
    assert info.value.failure == "ambiguous"


@pytest.mark.parametrize("case", FIXTURE["errors"], ids=lambda c: c["name"])
def test_every_error_maps_to_its_class(case: dict[str, Any]) -> None:
    """Each documented error answer becomes its typed error, code, failure and retry_after."""
    response = httpx.Response(case["status"], json=case["body"], headers=case.get("headers"))
    with pytest.raises(ProviderError) as info:
        send(basic(), fixture_message(), Recorder(response))
    error = info.value
    assert type(error).__name__ == case["class"]
    assert (error.code, error.failure) == (case["code"], case["failure"])
    assert (error.provider_code, error.http_status) == (case["provider_code"], case["status"])
    assert error.provider == "vonage"
    assert error.retry_after == case.get("retry_after")
    assert case["body"]["title"] in error.message


def test_invalid_parameters_are_named_in_the_message() -> None:
    """A 422's invalid_parameters names appear in the error message."""
    case = next(c for c in FIXTURE["errors"] if c["name"] == "invalid_params")
    with pytest.raises(InvalidRequest) as info:
        send(basic(), fixture_message(), Recorder(httpx.Response(422, json=case["body"])))
    assert "invalid: text" in info.value.message


@pytest.mark.parametrize(
    ("status", "code", "failure"),
    [
        (402, "auth_or_account", "refused"),
        (401, "auth_or_account", "refused"),
        (429, "rate_limited", "refused"),
        (500, "provider_unavailable", "ambiguous"),
        (502, "provider_unavailable", "ambiguous"),
        (503, "provider_unavailable", "refused"),
        (504, "provider_unavailable", "ambiguous"),
        (400, "invalid_request", "rejected"),
    ],
)
def test_unreadable_error_bodies_are_classified_by_status(
    status: int, code: str, failure: str
) -> None:
    """A proxy's HTML page is classified by its HTTP status alone (402 is the account)."""
    response = httpx.Response(status, text="<html>oops</html>", headers={"Retry-After": "3"})
    with pytest.raises(ProviderError) as info:
        send(basic(), fixture_message(), Recorder(response))
    assert (info.value.code, info.value.failure) == (code, failure)
    assert info.value.retry_after == 3.0
    assert info.value.provider_code is None


def test_send_category_puts_the_http_status_first() -> None:
    """#1000 is a rate limit on a 429 and the provider on a 500; unknown 4xx fragments are
    invalid_request; 422 fragments follow the send table."""
    assert send_category(429, "1000") == "rate_limited"
    assert send_category(500, "1000") == "provider_unavailable"
    assert send_category(402, "1120") == "auth_or_account"
    assert send_category(422, "9999") == "invalid_request"
    for fragment, category in VONAGE_SEND_CODES.items():
        assert send_category(422, fragment) == category


def test_code_tables_follow_the_fixture() -> None:
    """The status-webhook table and the send table are exactly the fixture's."""
    expected = {code: entry["category"] for code, entry in ERRORS["status_codes"].items()}
    assert expected == VONAGE_CODES
    fragments = {k: v for k, v in ERRORS["send_fragments"].items() if not k.startswith("_")}
    assert fragments == VONAGE_SEND_CODES


@pytest.mark.anyio
async def test_async_send_matches_sync() -> None:
    """atransmit builds the same request and reads the same answer."""
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        result = await atransmit(client, basic(), fixture_message())
    assert result.provider_message_id == FIXTURE["response_202"]["message_uuid"]
    assert json.loads(recorder.requests[0].content) == REQUEST["json"]


# -- configuration -------------------------------------------------------------------------------
def environ(**extra: str) -> dict[str, str]:
    return {
        "SMSBRIDGE_PROVIDERS": "vonage",
        "VONAGE_APPLICATION_ID": APP_ID,
        "VONAGE_PRIVATE_KEY": PEM,
        "VONAGE_SIGNATURE_SECRET": SIG_SECRET,
        "VONAGE_FROM": "+447700900001",
        **extra,
    }


def test_registry_and_lazy_export() -> None:
    """ "vonage" is a registered provider name, and smsbridge.providers.Vonage is its class."""
    assert "vonage" in names()
    assert provider_class("vonage") is Vonage
    assert Vonage.name == "vonage"


def test_from_config_with_variables() -> None:
    """Bridge.from_config reads the VONAGE_ variables, timeout and base URL included."""
    bridge = Bridge.from_config(
        environ(VONAGE_TIMEOUT="2.5", VONAGE_BASE_URL="http://127.0.0.1:8080/")
    )
    (vonage,) = bridge.providers
    assert isinstance(vonage, Vonage)
    assert (vonage.auth, vonage.application_id, vonage.from_) == ("jwt", APP_ID, "+447700900001")
    assert vonage.signature_secret == SIG_SECRET
    assert vonage.timeout.read == 2.5
    assert vonage.base_url == "http://127.0.0.1:8080"
    assert str(vonage.build_request(fixture_message()).url) == "http://127.0.0.1:8080/v1/messages"


def test_from_config_with_a_nested_mapping_and_basic_auth() -> None:
    """A nested mapping of keyword arguments works too."""
    bridge = Bridge.from_config(
        {"providers": ["vonage"], "vonage": {"api_key": API_KEY, "api_secret": API_SECRET}}
    )
    (vonage,) = bridge.providers
    assert isinstance(vonage, Vonage)
    assert (vonage.auth, vonage.api_key, vonage.signature_secret) == ("basic", API_KEY, None)


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bridge.from_env reads the same variables from the environment."""
    for name, value in environ(VONAGE_API_KEY=API_KEY, VONAGE_API_SECRET=API_SECRET).items():
        monkeypatch.setenv(name, value)
    (vonage,) = Bridge.from_env().providers
    assert isinstance(vonage, Vonage)
    assert vonage.auth == "jwt"
    assert vonage.api_key == API_KEY


def test_private_key_from_a_file_and_from_one_line_text(tmp_path: Path) -> None:
    """VONAGE_PRIVATE_KEY may name a PEM file, or hold the PEM with its newlines as \\n."""
    path = tmp_path / "private.key"
    path.write_text(PEM)
    one_line = PEM.replace("\n", "\\n")
    for value in (str(path), one_line):
        vonage = Vonage(application_id=APP_ID, private_key=value, from_="MyBrand")
        recorder = Recorder()
        send(vonage, fixture_message(), recorder)
        assert _bearer_claims(recorder.requests[0])[1]["application_id"] == APP_ID


BASIC_SETTINGS = {"VONAGE_API_KEY": API_KEY, "VONAGE_API_SECRET": API_SECRET}


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({}, "VONAGE_APPLICATION_ID"),
        ({"VONAGE_APPLICATION_ID": APP_ID}, "VONAGE_PRIVATE_KEY"),
        ({"VONAGE_PRIVATE_KEY": PEM}, "VONAGE_APPLICATION_ID"),
        ({"VONAGE_API_KEY": API_KEY}, "VONAGE_API_SECRET"),
        ({"VONAGE_API_SECRET": API_SECRET}, "VONAGE_API_KEY"),
        ({**BASIC_SETTINGS, "VONAGE_API_SECRET": "has space"}, "VONAGE_API_SECRET"),
        ({**BASIC_SETTINGS, "VONAGE_SIGNATURE_SECRET": "a\nb"}, "VONAGE_SIGNATURE_SECRET"),
        ({**BASIC_SETTINGS, "VONAGE_TIMEOUT": "soon"}, "VONAGE_TIMEOUT"),
        ({**BASIC_SETTINGS, "VONAGE_FROM": "+1"}, "VONAGE_FROM"),
        ({**BASIC_SETTINGS, "VONAGE_BASE_URL": "https://api.nexmo.com/v1"}, "VONAGE_BASE_URL"),
    ],
)
def test_missing_or_bad_settings_name_their_variable(
    settings: dict[str, str], variable: str
) -> None:
    """Each missing credential or malformed setting is a ConfigError naming its variable."""
    with pytest.raises(ConfigError) as info:
        Bridge.from_config({"SMSBRIDGE_PROVIDERS": "vonage", **settings})
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_key_alone_is_fine_with_an_application() -> None:
    """With an application, VONAGE_API_KEY may be set without its secret."""
    vonage = Vonage(API_KEY, application_id=APP_ID, private_key=PEM)
    assert (vonage.auth, vonage.api_key) == ("jwt", API_KEY)


@pytest.mark.parametrize(
    "bad_key",
    [
        "-----BEGIN PRIVATE KEY-----\nnot really a key\n-----END PRIVATE KEY-----\n",
        _pem(ec.generate_private_key(ec.SECP256R1())),
        _pem(RSA_KEY, password=b"pass-phrase"),
        "/nonexistent/dir/private.key",
        "just-some-text-that-is-no-key",
    ],
    ids=["not-pem", "ec-key", "encrypted", "missing-file", "text"],
)
def test_unusable_private_key_is_a_config_error_that_hides_it(bad_key: str) -> None:
    """A key that is not a readable, unencrypted RSA PEM is refused naming VONAGE_PRIVATE_KEY,
    and the error never shows it."""
    with pytest.raises(ConfigError) as info:
        Vonage(application_id=APP_ID, private_key=bad_key)
    assert info.value.variable == "VONAGE_PRIVATE_KEY"
    for text in (str(info.value), repr(info.value), info.value.message):
        assert bad_key not in text
        assert "not really a key" not in text


def test_reprs_and_errors_hide_secrets() -> None:
    """Secrets appear in no repr: provider, its token, the bridge, or a credential error."""
    for vonage in (basic(), app()):
        shown = repr(vonage) + repr(vonage._token) + repr(Bridge(vonage))
        for secret in (API_SECRET, SIG_SECRET, PEM, PEM.splitlines()[1]):
            assert secret not in shown
        assert "***" in repr(vonage)
    with pytest.raises(ConfigError) as info:
        Vonage(API_KEY, "secret with\nnewline")
    assert "secret with" not in str(info.value)


def test_a_missing_pyjwt_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PyJWT, constructing Vonage is a ConfigError naming the extra to install."""
    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(ConfigError) as info:
        Vonage(API_KEY, API_SECRET)
    assert "pip install 'smsbridge[vonage]'" in str(info.value)


def test_importing_the_provider_does_not_import_pyjwt() -> None:
    """Importing Vonage (and its webhook codec, as detection does) leaves PyJWT unimported."""
    code = (
        "import sys\n"
        "from smsbridge.providers import Vonage\n"
        "Vonage.webhook_codec()\n"
        "print('jwt' in sys.modules, 'cryptography' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]
