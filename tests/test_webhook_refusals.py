"""Refused webhooks are visible: logged once at WARNING with code and hint, rate-limited per
code, without secrets; bad settings fail at start-up; `smsbridge serve` prints refusals."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlencode

import httpx
import pytest

from smsbridge import Bridge, ConfigError, SignatureError, WebhookRequest
from smsbridge.providers import Telnyx, Twilio
from smsbridge.testing import make_telnyx_keypair, sign_twilio
from smsbridge.webhooks._refusals import RefusalLog

TOKEN = "0123456789abcdef0123456789abcdef"
SID = "AC" + "0" * 32
PUBLIC = "https://app.example.com/sms/webhook"
PARAMS = [("MessageSid", "SM" + "a" * 32), ("From", "+13125550111"), ("To", "+13125550100")]
FORM = "application/x-www-form-urlencoded"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def forged(url: str = "http://10.0.0.7:8000/sms/webhook?token=s3cret-query") -> WebhookRequest:
    """A Twilio-shaped webhook whose signature is well formed but wrong."""
    headers = {"Content-Type": FORM, "X-Twilio-Signature": "A" * 27 + "="}
    return WebhookRequest("POST", url, headers, urlencode(PARAMS).encode())


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "smsbridge.webhooks" and r.levelno == logging.WARNING
    ]


@pytest.fixture
def bridge() -> Bridge:
    """A Twilio bridge whose refusal log runs on a clock the test moves."""
    made = Bridge(Twilio(SID, TOKEN, from_="+13125550100"))
    made.refusal_log = RefusalLog(clock=Clock())
    return made


def test_a_refusal_is_logged_with_code_hint_and_the_url_checked(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    """One WARNING on smsbridge.webhooks: the code, a hint naming public_url and
    `webhook check`, the URL verified against without its query, no secret."""
    caplog.set_level(logging.WARNING, logger="smsbridge.webhooks")
    with pytest.raises(SignatureError):
        bridge.handle_webhook(forged())
    [record] = refusals(caplog)
    text = record.getMessage()
    assert "403 invalid_signature" in text
    assert "public_url" in text
    assert "smsbridge webhook check" in text
    assert "checked against http://10.0.0.7:8000/sms/webhook;" in text
    assert "s3cret-query" not in text
    assert TOKEN not in text
    assert "A" * 27 not in text
    assert record.code == "invalid_signature"  # type: ignore[attr-defined]
    assert record.status_code == 403  # type: ignore[attr-defined]


def test_refusals_are_rate_limited_per_code(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    """A flood of one code logs once a minute, then says how many were left out; another
    code is logged on its own."""
    caplog.set_level(logging.WARNING, logger="smsbridge.webhooks")
    for _ in range(50):
        with pytest.raises(SignatureError):
            bridge.handle_webhook(forged())
    assert len(refusals(caplog)) == 1
    unknown = WebhookRequest("POST", PUBLIC, {"Content-Type": "text/plain"}, b"hello")
    with pytest.raises(Exception) as info:
        bridge.handle_webhook(unknown)
    assert info.value.code == "unknown_provider"  # type: ignore[attr-defined]
    assert len(refusals(caplog)) == 2
    assert bridge.refusal_log is not None
    bridge.refusal_log._clock.now += 61  # type: ignore[attr-defined]
    with pytest.raises(SignatureError):
        bridge.handle_webhook(forged())
    last = refusals(caplog)[-1]
    assert "49 more with this code" in last.getMessage()
    assert last.left_out == 49  # type: ignore[attr-defined]


def test_a_wrong_public_url_is_diagnosable_from_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """A genuine webhook refused because public_url is wrong: the log shows the URL used."""
    caplog.set_level(logging.WARNING, logger="smsbridge.webhooks")
    bridge = Bridge(Twilio(SID, TOKEN, from_="+13125550100"), public_url="https://wrong.example")
    headers = {"Content-Type": FORM, **sign_twilio(PUBLIC, PARAMS, auth_token=TOKEN)}
    request = WebhookRequest(
        "POST", "http://127.0.0.1:8000/sms/webhook", headers, urlencode(PARAMS).encode()
    )
    with pytest.raises(SignatureError):
        bridge.handle_webhook(request)
    assert "checked against https://wrong.example/sms/webhook" in refusals(caplog)[0].getMessage()


@pytest.mark.parametrize(
    "shared_keys",
    [{"wk": 123}, {"wk": None}, {"wk": ""}, {"wk": "two words"}, {5: "secret"}, ["wk"]],
    ids=["int", "none", "empty", "space", "int-id", "list"],
)
def test_bad_shared_keys_are_a_config_error_at_start_up(shared_keys: object) -> None:
    """Non-string SharedKey secrets (a number from a TOML file, say) fail when the provider
    is built, naming TWILIO_SHARED_KEYS, never at the first webhook."""
    with pytest.raises(ConfigError) as info:
        Twilio(SID, TOKEN, shared_keys=shared_keys)  # type: ignore[arg-type]
    assert info.value.variable == "TWILIO_SHARED_KEYS"
    config = {"providers": ["twilio"], "twilio": {"account_sid": SID, "auth_token": TOKEN}}
    config["twilio"]["shared_keys"] = shared_keys  # type: ignore[index]
    with pytest.raises(ConfigError):
        Bridge.from_config(config)


def test_good_shared_keys_still_work() -> None:
    """Valid SharedKey ids and secrets are kept."""
    assert Twilio(SID, TOKEN, shared_keys={"KS1": "secret"}).shared_keys == {"KS1": "secret"}


# -- smsbridge serve prints refusals ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_prints_refused_webhooks() -> None:
    """`smsbridge serve` shows each refusal on stderr with its code and hint."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELNYX_"))},
        "SMSBRIDGE_PROVIDERS": "twilio,telnyx",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM": "+13125550100",
        "TELNYX_API_KEY": "KEY0123",
        "TELNYX_PUBLIC_KEY": make_telnyx_keypair(b"\x01" * 32).public_key_b64,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "smsbridge", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/sms/webhook"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.post(
                    url,
                    content=urlencode(PARAMS),
                    headers={"Content-Type": FORM, "X-Twilio-Signature": "A" * 27 + "="},
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        assert answer.status_code == 403
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "webhook refused (403 invalid_signature)" in stderr
    assert "hint:" in stderr
    assert TOKEN not in stderr


def test_telnyx_refusals_are_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    """A Telnyx webhook without its signature headers is logged with its code."""
    caplog.set_level(logging.WARNING, logger="smsbridge.webhooks")
    pair = make_telnyx_keypair(b"\x02" * 32)
    bridge = Bridge(Telnyx("KEY", public_key=pair.public_key_b64))
    request = WebhookRequest(
        "POST",
        PUBLIC,
        {"Content-Type": "application/json", "telnyx-timestamp": "1"},
        b'{"data": {"event_type": "message.received"}}',
    )
    with pytest.raises(SignatureError):
        bridge.handle_webhook(request)
    assert "403 invalid_signature" in refusals(caplog)[0].getMessage()
