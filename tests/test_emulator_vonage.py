"""The emulator's Vonage, driven by the library's own Vonage provider and webhook code.

Sends go through a real :class:`Bridge` (Basic auth from ``Emulator.environment()``, and an
application JWT with the emulator's key); status callbacks and inbound messages, signed with
the emulator's signature secret, reach a real endpoint on 127.0.0.1 and verify through
``Bridge.handle_webhook``; faults map to the library's error classes; failover runs across
Twilio, Telnyx and Vonage; and Vonage's own SDK verifier accepts the emulator's webhooks.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from _routing_kit import Received
from conftest import require
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from smsbridge import (
    AuthError,
    Bridge,
    MessageStatus,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SenderConfig,
    SendResult,
)
from smsbridge.cli._endpoint import WebhookEndpoint
from smsbridge.providers import Telnyx, Twilio, Vonage
from smsbridge.testing import Emulator

HANDSET = "+14155552671"
VONAGE_FROM = "+15005550008"  # the emulator's VONAGE_FROM
# Short enough for accept-then-hang tests to end quickly, long enough for a loaded machine.
TIMEOUT = httpx.Timeout(0.6, connect=2.0)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(progress_delay=0.02) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    emulator.reset()
    yield emulator
    emulator.reset()


def vonage(emu: Emulator, **kw: Any) -> Vonage:
    """The library's Vonage on the emulator, with Basic auth (as ``environment()`` sets it)."""
    kw.setdefault("from_", VONAGE_FROM)
    kw.setdefault("timeout", TIMEOUT)
    return Vonage(
        emu.vonage_api_key,
        emu.vonage_api_secret,
        signature_secret=emu.vonage_signature_secret,
        base_url=emu.vonage_url,
        **kw,
    )


def app_vonage(emu: Emulator, **kw: Any) -> Vonage:
    """The library's Vonage authenticating with an application JWT."""
    kw.setdefault("application_id", emu.vonage_application_id)
    kw.setdefault("private_key", emu.vonage_private_key)
    return Vonage(
        signature_secret=emu.vonage_signature_secret,
        from_=VONAGE_FROM,
        base_url=emu.vonage_url,
        timeout=TIMEOUT,
        **kw,
    )


def post(emu: Emulator, body: Any, auth: Any = None) -> httpx.Response:
    """A raw send to the emulator's Vonage."""
    auth = auth or (emu.vonage_api_key, emu.vonage_api_secret)
    return httpx.post(emu.vonage_url + "/v1/messages", json=body, auth=auth, timeout=5)


SMS = {"channel": "sms", "message_type": "text", "to": "14155552671", "from": "15005550008"}


# -- the account and the API ------------------------------------------------------------------


def test_environment_configures_a_bridge_that_sends_through_vonage(emu: Emulator) -> None:
    """``Bridge.from_env(environment())`` has Vonage after the others; it sends and is recorded."""
    env = emu.environment()
    order = env["SMSBRIDGE_PROVIDERS"].split(",")
    assert order.index("twilio") < order.index("telnyx") < order.index("vonage")
    assert (env["VONAGE_BASE_URL"], env["VONAGE_FROM"]) == (emu.vonage_url, VONAGE_FROM)
    with Bridge.from_env(env) as bridge:
        provider = bridge.provider("vonage")
        assert isinstance(provider, Vonage)
        assert provider.auth == "basic"
        with Bridge(provider, retry=None) as sms:
            result = sms.send(to=HANDSET, body="hello from vonage", reference="order-1")
    assert isinstance(result, SendResult)
    assert (result.provider, result.status, result.from_) == (
        "vonage",
        MessageStatus.QUEUED,
        VONAGE_FROM,
    )
    assert emu.wait_idle()
    [message] = emu.messages("vonage")
    assert message["id"] == result.provider_message_id
    assert (message["to"], message["from"], message["text"]) == (
        HANDSET,
        VONAGE_FROM,
        "hello from vonage",
    )
    assert message["statuses"] == ["accepted", "submitted", "delivered"]


def test_application_jwt_is_accepted_only_for_this_application(emu: Emulator) -> None:
    """An RS256 token from the emulator's key and application id sends; others are 401."""
    with Bridge(app_vonage(emu), retry=None) as sms:
        assert sms.send(to=HANDSET, body="jwt").provider == "vonage"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for provider in (
        app_vonage(emu, application_id="00000000-0000-4000-8000-000000000000"),
        app_vonage(emu, private_key=pem),
    ):
        with Bridge(provider, retry=None) as sms, pytest.raises(AuthError) as caught:
            sms.send(to=HANDSET, body="jwt")
        assert (caught.value.http_status, caught.value.failure) == (401, "refused")
    assert len(emu.messages("vonage")) == 1


def test_wrong_basic_credentials_are_an_auth_error(emu: Emulator) -> None:
    """A wrong API secret: 401 with an RFC 7807 body, raised as AuthError."""
    bad = Vonage(emu.vonage_api_key, "wrong-secret", from_=VONAGE_FROM, base_url=emu.vonage_url)
    with Bridge(bad, retry=None) as sms, pytest.raises(AuthError) as caught:
        sms.send(to=HANDSET, body="hi")
    assert (caught.value.http_status, caught.value.provider_code) == (401, "unauthorized")
    answer = post(emu, SMS | {"text": "x"}, auth=(emu.vonage_api_key, "wrong-secret"))
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("#unauthorized")
    assert emu.messages() == []


@pytest.mark.parametrize(
    ("change", "code", "parameter"),
    [
        ({"text": ""}, "1150", "text"),
        ({"text": "x" * 1001}, "1150", "text"),
        ({"text": "x", "channel": "whatsapp"}, "1150", "channel"),
        ({"text": "x", "message_type": "image"}, "1150", "message_type"),
        ({"text": "x", "to": "+14155552671"}, "110", "to"),
        ({"text": "x", "from": "not a sender!"}, "1120", "from"),
        ({"text": "x", "client_ref": "r" * 101}, "1060", None),
        ({"text": "x", "webhook_url": "ftp://x"}, "1150", "webhook_url"),
        ({"channel": "mms", "message_type": "image", "image": {}}, "1150", "image.url"),
    ],
)
def test_invalid_sends_are_422_problems(
    emu: Emulator, change: dict[str, Any], code: str, parameter: str | None
) -> None:
    """Vonage's validation: 422, the code in the ``type`` fragment, the parameter named."""
    answer = post(emu, SMS | change)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith(f"#{code}")
    assert {"title", "detail", "instance"} <= set(problem)
    names = [p["name"] for p in problem.get("invalid_parameters", [])]
    assert names == ([parameter] if parameter else [])
    assert emu.messages() == []


def test_limits_are_inclusive_and_mms_is_accepted(emu: Emulator) -> None:
    """1000 characters of text, a 100-character client_ref and an image MMS are accepted."""
    assert post(emu, SMS | {"text": "x" * 1000, "client_ref": "r" * 100}).status_code == 202
    mms = {**SMS, "channel": "mms", "message_type": "image"}
    answer = post(emu, mms | {"image": {"url": "https://e.test/a.jpg", "caption": "hi"}})
    assert answer.status_code == 202
    assert set(answer.json()) == {"message_uuid"}
    assert [m["media_urls"] for m in emu.messages("vonage")] == [[], ["https://e.test/a.jpg"]]


def test_error_code_fault_maps_through_the_provider(emu: Emulator) -> None:
    """An injected #1120 (illegal sender) is a 422 the library reads as SenderConfig."""
    emu.fault("vonage", "error_code", code=1120, times=1)
    with Bridge(vonage(emu), retry=None) as sms, pytest.raises(SenderConfig) as caught:
        sms.send(to=HANDSET, body="hi")
    assert (caught.value.http_status, caught.value.provider_code) == (422, "1120")
    assert emu.messages() == []


def test_info_attributes_and_repr(emu: Emulator) -> None:
    """The fake account is exposed by info() and attributes, and hidden in repr()."""
    info = emu.info()["vonage"]
    assert info["base_url"] == emu.vonage_url
    assert (info["api_key"], info["api_secret"]) == (emu.vonage_api_key, emu.vonage_api_secret)
    assert info["application_id"] == emu.vonage_application_id
    assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert emu.vonage_api_secret not in repr(emu)
    assert "vonage_signature_secret=***" in repr(emu)
    assert "vonage" in emu.providers


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "failure"), [(503, "refused"), (500, "ambiguous")])
def test_http_errors_are_provider_unavailable(emu: Emulator, status: int, failure: str) -> None:
    """A 503 provably refused the send; a 500 may have accepted it."""
    emu.fault("vonage", "http_error", status=status, times=1)
    with Bridge(vonage(emu), retry=None) as sms, pytest.raises(ProviderError) as caught:
        sms.send(to=HANDSET, body="hi")
    error = caught.value
    assert isinstance(error, ProviderUnavailable)
    assert (error.http_status, error.failure) == (status, failure)
    assert emu.messages() == []


def test_rate_limit_carries_retry_after(emu: Emulator) -> None:
    """429 with Retry-After becomes RateLimited with it; retry_after=0 sends no header."""
    emu.fault("vonage", "rate_limit", retry_after=7, times=1)
    with Bridge(vonage(emu), retry=None) as sms, pytest.raises(RateLimited) as caught:
        sms.send(to=HANDSET, body="hi")
    assert (caught.value.http_status, caught.value.retry_after) == (429, 7.0)
    assert caught.value.failure == "refused"
    emu.fault("vonage", "rate_limit", retry_after=0, times=1)
    answer = post(emu, SMS | {"text": "x"})
    assert answer.status_code == 429
    assert "retry-after" not in answer.headers
    assert answer.json()["title"] == "Rate Limit Hit"


def test_refused_connection_is_refused(emu: Emulator) -> None:
    """The provider down (connection refused): ProviderUnavailable, refused, nothing sent."""
    emu.fault("vonage", "refuse")
    with Bridge(vonage(emu), retry=None) as sms, pytest.raises(ProviderUnavailable) as caught:
        sms.send(to=HANDSET, body="hi")
    assert caught.value.failure == "refused"
    assert "ConnectError" in str(caught.value)
    assert [(a.provider, a.failure) for a in caught.value.attempts] == [("vonage", "refused")]
    emu.clear_faults()
    assert emu.messages() == []


def test_accept_then_hang_is_ambiguous_and_sent_once(emu: Emulator) -> None:
    """Vonage has no idempotency key: an ambiguous send is not retried, even with retries on."""
    emu.fault("vonage", "accept_then_hang", times=1)
    counter = Counter(emu)
    bridge = Bridge(vonage(emu), http_client=counter.client(), sleep=lambda s: None)
    with bridge, pytest.raises(ProviderUnavailable) as caught:
        bridge.send(to=HANDSET, body="hi")
    assert caught.value.failure == "ambiguous"
    assert counter.sends("vonage") == 1
    assert len(emu.messages("vonage")) == 1


# -- failover across the three providers ------------------------------------------------------


class Counter:
    """Counts the POSTs an httpx client sends, per provider (by the emulator's ports)."""

    def __init__(self, emu: Emulator) -> None:
        self._ports = {httpx.URL(getattr(emu, f"{p}_url")).port: p for p in emu.providers}
        self.posts: list[str] = []

    def _hook(self, request: httpx.Request) -> None:
        if request.method == "POST":
            self.posts.append(self._ports.get(request.url.port, "?"))

    def client(self) -> httpx.Client:
        return httpx.Client(event_hooks={"request": [self._hook]})

    def sends(self, provider: str) -> int:
        return self.posts.count(provider)


def three(emu: Emulator, counter: Counter, order: tuple[str, ...], **options: Any) -> Bridge:
    """A bridge over the three emulated providers in ``order``."""
    make = {
        "twilio": lambda: Twilio(
            emu.twilio_account_sid,
            emu.twilio_auth_token,
            from_="+15005550006",
            base_url=emu.twilio_url,
            timeout=TIMEOUT,
        ),
        "telnyx": lambda: Telnyx(
            emu.telnyx_api_key, from_="+15005550007", base_url=emu.telnyx_url, timeout=TIMEOUT
        ),
        "vonage": lambda: vonage(emu),
    }
    options.setdefault("sleep", lambda seconds: None)
    return Bridge([make[name]() for name in order], http_client=counter.client(), **options)


def test_failover_through_twilio_and_telnyx_ends_on_vonage(emu: Emulator) -> None:
    """Twilio and Telnyx down: Vonage sends from its own number; all three attempts listed."""
    emu.fault("twilio", "refuse")
    emu.fault("telnyx", "refuse")
    counter = Counter(emu)
    with three(emu, counter, ("twilio", "telnyx", "vonage"), retry=None) as bridge:
        result = bridge.send(to=HANDSET, body="failover")
    assert (result.provider, result.from_) == ("vonage", VONAGE_FROM)
    assert [(a.provider, a.failure) for a in result.attempts] == [
        ("twilio", "refused"),
        ("telnyx", "refused"),
        ("vonage", None),
    ]
    assert result.attempts[-1].provider_message_id == result.provider_message_id
    emu.clear_faults()
    assert [m["provider"] for m in emu.messages()] == ["vonage"]
    assert counter.sends("vonage") == 1


def test_ambiguous_vonage_after_failover_is_not_sent_elsewhere(emu: Emulator) -> None:
    """Twilio and Telnyx refuse, Vonage accepts then hangs: ambiguous, sent exactly once."""
    emu.fault("twilio", "refuse")
    emu.fault("telnyx", "refuse")
    emu.fault("vonage", "accept_then_hang")
    counter = Counter(emu)
    with (
        three(emu, counter, ("twilio", "telnyx", "vonage")) as bridge,
        pytest.raises(ProviderUnavailable) as caught,
    ):
        bridge.send(to=HANDSET, body="once")
    assert caught.value.failure == "ambiguous"
    assert [(a.provider, a.failure) for a in caught.value.attempts][-1] == ("vonage", "ambiguous")
    assert {a.provider for a in caught.value.attempts} == {"twilio", "telnyx", "vonage"}
    assert counter.sends("vonage") == 1
    emu.clear_faults()
    assert [m["provider"] for m in emu.messages()] == ["vonage"]


def test_ambiguous_vonage_first_is_not_re_sent_by_the_others(emu: Emulator) -> None:
    """Vonage first answers 500 after accepting: Twilio and Telnyx are never called."""
    emu.fault("vonage", "http_error", status=500, accept=True)
    counter = Counter(emu)
    with (
        three(emu, counter, ("vonage", "twilio", "telnyx")) as bridge,
        pytest.raises(ProviderUnavailable) as caught,
    ):
        bridge.send(to=HANDSET, body="once")
    assert [(a.provider, a.failure) for a in caught.value.attempts] == [("vonage", "ambiguous")]
    assert counter.posts == ["vonage"]
    assert [m["provider"] for m in emu.messages()] == ["vonage"]


# -- webhooks through a real endpoint ---------------------------------------------------------


@pytest.fixture
def wired(emu: Emulator) -> Iterator[tuple[Bridge, Received]]:
    """A Vonage bridge whose webhook endpoint is served on 127.0.0.1 (and is Vonage's default)."""
    received = Received()
    endpoint = WebhookEndpoint(None, received).start()
    bridge = Bridge(vonage(emu), public_url=endpoint.url, retry=None)
    endpoint.bridge = bridge
    emu.set_webhook("vonage", "*", endpoint.url + bridge.webhook_path)
    try:
        yield bridge, received
    finally:
        endpoint.stop()
        bridge.close()


def test_status_callbacks_verify_map_and_carry_the_reference(
    wired: tuple[Bridge, Received], emu: Emulator
) -> None:
    """submitted -> sent, delivered -> delivered, verified, with the reference (client_ref)."""
    bridge, received = wired
    result = bridge.send(to=HANDSET, body="hello", reference="order-42")
    events = received.until_terminal(result.provider_message_id)
    assert [(e.raw_status, e.status) for e in events] == [
        ("submitted", MessageStatus.SENT),
        ("delivered", MessageStatus.DELIVERED),
    ]
    assert {(e.provider, e.reference, e.to) for e in events} == {("vonage", "order-42", HANDSET)}
    assert all(e.raw["client_ref"] == "order-42" for e in events)
    assert emu.wait_idle()
    hooks = [c for c in emu.callbacks() if c["provider"] == "vonage"]
    assert [c["status_code"] for c in hooks] == [200, 200]
    # They went to the send's webhook_url: the bridge's endpoint, with the reference in it.
    [message] = emu.messages("vonage")
    assert message["callback_url"].startswith(bridge.public_url)
    assert "smsbridge_ref=order-42" in message["callback_url"]
    assert {c["url"] for c in hooks} == {message["callback_url"]}


def test_status_callbacks_go_to_the_default_webhook(
    wired: tuple[Bridge, Received], emu: Emulator
) -> None:
    """Without a webhook_url on the send, the number's configured webhook gets them."""
    bridge, received = wired
    with Bridge(bridge.provider("vonage"), retry=None) as plain:  # no public_url: no webhook_url
        result = plain.send(to=HANDSET, body="hello", reference="kept")
    events = received.until_terminal(result.provider_message_id)
    assert events[-1].status is MessageStatus.DELIVERED
    assert events[-1].reference == "kept"  # from client_ref: the URL carries none
    assert emu.messages("vonage")[0]["callback_url"] is None


@pytest.mark.parametrize(
    ("status", "code", "common", "category", "statuses"),
    [
        ("rejected", "1260", MessageStatus.UNDELIVERED, "invalid_recipient", ["submitted"]),
        ("rejected", "1120", MessageStatus.FAILED, "sender_config", []),
        ("undeliverable", None, MessageStatus.FAILED, "carrier_route", []),
    ],
)
def test_failed_deliveries_carry_vonage_errors(
    wired: tuple[Bridge, Received],
    emu: Emulator,
    status: str,
    code: str | None,
    common: MessageStatus,
    category: str,
    statuses: list[str],
) -> None:
    """rejected after a carrier took it is undelivered; before, or undeliverable, failed."""
    bridge, received = wired
    params = {"status": status} if code is None else {"status": status, "code": code}
    emu.fault("vonage", "fail_delivery", times=1, **params)
    result = bridge.send(to=HANDSET, body="hello")
    events = received.until_terminal(result.provider_message_id)
    assert [e.raw_status for e in events] == [*statuses, status]
    last = events[-1]
    assert last.status is common
    assert last.error is not None
    assert (last.error.provider_code, last.error.code) == (code or "1250", category)
    assert last.raw["error"]["type"].endswith(f"#{code or '1250'}")


def test_opted_out_recipient_is_accepted_then_rejected(
    wired: tuple[Bridge, Received], emu: Emulator
) -> None:
    """As Vonage does: 202, then ``rejected`` with 1240, which the library reads as opted out."""
    bridge, received = wired
    emu.opt_out("vonage", HANDSET)
    result = bridge.send(to=HANDSET, body="hello")
    [event] = received.until_terminal(result.provider_message_id)
    assert (event.raw_status, event.status) == ("rejected", MessageStatus.FAILED)
    assert event.error is not None
    assert (event.error.provider_code, event.error.code) == ("1240", "opted_out")


def test_inbound_sms_and_mms_verify_and_parse(
    wired: tuple[Bridge, Received], emu: Emulator
) -> None:
    """A handset's messages arrive verified: sender, our number, text, media; STOP opts out."""
    _, received = wired
    answer = emu.inbound("vonage", from_=HANDSET, to=VONAGE_FROM, text="STOP")
    assert answer["status_code"] == 200
    event = received.inbound()
    assert (event.provider, event.from_, event.to, event.text) == (
        "vonage",
        HANDSET,
        VONAGE_FROM,
        "STOP",
    )
    assert event.opt_out == "STOP"
    assert event.id == answer["message_id"]
    emu.inbound(
        "vonage", from_=HANDSET, to=VONAGE_FROM, text="pic", media_urls=("https://e.test/a.jpg",)
    )
    mms = received.inbound()
    assert [m.url for m in mms.media] == ["https://e.test/a.jpg"]
    assert (mms.text, mms.raw["channel"]) == ("pic", "mms")


def test_tampered_callback_is_refused(wired: tuple[Bridge, Received], emu: Emulator) -> None:
    """The emulator's signature covers the body: a changed body is refused by the bridge."""
    bridge, received = wired
    result = bridge.send(to=HANDSET, body="hello")
    received.until_terminal(result.provider_message_id)
    entry = next(c for c in emu.callbacks() if c["provider"] == "vonage")
    body = entry["request_body"].replace("submitted", "delivered").encode()
    answer = httpx.post(entry["url"], content=body, headers=entry["request_headers"], timeout=5)
    assert answer.status_code == 403


# -- Vonage's own SDK -------------------------------------------------------------------------


def test_vonage_sdk_verifies_the_emulators_webhooks(
    wired: tuple[Bridge, Received], emu: Emulator
) -> None:
    """vonage_jwt's verify_signature accepts the delivered tokens (and refuses another secret);
    their payload_hash is the SHA-256 of the delivered body."""
    verify_signature = require("vonage_jwt.verify_jwt", "bench").verify_signature
    bridge, received = wired
    with Bridge(app_vonage(emu), public_url=bridge.public_url, retry=None) as app:
        result = app.send(to=HANDSET, body="hello", reference="sdk")
    received.until_terminal(result.provider_message_id)
    emu.inbound("vonage", from_=HANDSET, to=VONAGE_FROM, text="hi")
    assert emu.wait_idle()
    entries = [c for c in emu.callbacks() if c["provider"] == "vonage"]
    assert [c["kind"] for c in entries] == ["status", "status", "inbound"]
    secret = emu.vonage_signature_secret
    for entry in entries:
        scheme, _, token = entry["request_headers"]["Authorization"].partition(" ")
        assert scheme == "Bearer"
        assert verify_signature(token, secret) is True
        assert verify_signature(token, "another-accounts-signature-secret-0123") is False
        claims = jwt.decode(token, secret, algorithms=["HS256"])
        body = entry["request_body"].encode()
        assert claims["payload_hash"] == hashlib.sha256(body).hexdigest()
        assert claims["api_key"] == emu.vonage_api_key
        assert claims["application_id"] == emu.vonage_application_id  # sent through the app
        assert abs(claims["iat"] - time.time()) < 60


# -- the command line -------------------------------------------------------------------------


def test_emulator_command_takes_vonage_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    """``smsbridge emulator --vonage-api-key ...`` prints them as Vonage's variables."""
    import threading

    from smsbridge.cli import build_parser
    from smsbridge.cli.emulator import run_emulator

    argv = ["emulator", "--port", "0", "--vonage-api-key", "abcd1234"]
    args = build_parser().parse_args([*argv, "--vonage-api-secret", "CliSecret0000000"])
    stop = threading.Event()
    stop.set()  # print the settings, then return
    assert run_emulator(args, stop=stop) == 0
    exports = dict(
        line.strip().removeprefix("export ").split("=", 1)
        for line in capsys.readouterr().out.splitlines()
        if line.strip().startswith("export ")
    )
    assert "vonage" in exports["SMSBRIDGE_PROVIDERS"].split(",")
    assert (exports["VONAGE_API_KEY"], exports["VONAGE_API_SECRET"]) == (
        "abcd1234",
        "CliSecret0000000",
    )
    assert "VONAGE_PRIVATE_KEY" not in exports  # a PEM cannot be one export line


def test_without_the_vonage_extra_the_emulator_leaves_vonage_out() -> None:
    """On a core install (no PyJWT) the emulator has no Vonage personality, so what it tells an
    application to configure still builds and sends (``sys.modules[name] = None`` is how
    Python marks a module as not importable)."""
    code = (
        "import sys\n"
        "sys.modules['jwt'] = None\n"
        "from smsbridge import Bridge\n"
        "from smsbridge.testing import Emulator\n"
        "with Emulator(port=0) as emu:\n"
        "    env = emu.environment()\n"
        "    assert not [n for n in env if n.startswith('VONAGE_')], env\n"
        "    assert 'vonage' not in env['SMSBRIDGE_PROVIDERS'], env\n"
        "    with Bridge.from_env(env) as sms:\n"
        "        print(sms.send(to='+14155552671', body='hi').provider)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("twilio", "telnyx")
