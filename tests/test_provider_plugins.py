"""A third-party provider, installed into this venv as a real wheel, plugs in through the
``smsbridge.providers`` entry-point group: configured by name from the environment, sending
through the bridge, and receiving verified webhooks through the provider-blind pipeline.

The wheel is written here (a wheel is a zip with its metadata), installed with pip, used from
fresh interpreters (entry points are read once per process), and uninstalled afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

DIST = "smsbridge_acme_plugin"
VERSION = "0.1.0"

PLUGIN = textwrap.dedent(
    '''
    """Acme SMS: a provider written outside smsbridge."""

    from __future__ import annotations

    import hashlib
    import hmac
    import json
    from typing import ClassVar

    import httpx

    from smsbridge import MessageStatus, SendResult, SignatureError
    from smsbridge.providers import Provider, Settings, WebhookCodec
    from smsbridge.webhooks import WebhookResponse
    from smsbridge.webhooks._common import NO_ORDER, Parsed, dedupe_key, is_json
    from smsbridge._models import InboundMessage


    class AcmeWebhooks(WebhookCodec):
        name: ClassVar[str] = "acme"
        signature_headers: ClassVar[tuple[str, ...]] = ("x-acme-signature",)

        def looks_like(self, request):
            return is_json(request) and b'"acme_id"' in request.body

        def verify(self, providers, request, context):
            given = request.headers.first("x-acme-signature") or ""
            for provider in providers:
                mac = hmac.new(provider.secret.encode(), request.body, hashlib.sha256)
                if hmac.compare_digest(mac.hexdigest(), given):
                    break
            else:
                raise SignatureError("x-acme-signature does not verify", provider="acme")
            data = json.loads(request.body)
            event = InboundMessage(
                provider="acme",
                id=data["acme_id"],
                from_=data["from"],
                to=data["to"],
                text=data["text"],
                raw=data,
            )
            return Parsed("acme", (event,), dedupe_key("acme", data["acme_id"]), NO_ORDER)

        def acknowledge(self):
            return WebhookResponse(204, {}, b"")


    CODEC = AcmeWebhooks()


    class AcmeProvider(Provider):
        name: ClassVar[str] = "acme"
        default_base_url: ClassVar[str] = "https://api.acme.invalid"
        settings: ClassVar[Settings] = Settings(
            variables={"ACME_SECRET": "secret", "ACME_FROM": "from_", "ACME_BASE_URL": "base_url"},
            required=("ACME_SECRET",),
        )

        def __init__(self, secret, *, from_=None, base_url=None, timeout=None,
                     capabilities=None):
            super().__init__(from_=from_, base_url=base_url, timeout=timeout,
                             capabilities=capabilities)
            self.secret = secret

        @classmethod
        def webhook_codec(cls):
            return CODEC

        def build_request(self, message):
            body = {"to": message.to, "text": message.body, "from": self.from_}
            return self._request(self._endpoint("/send"), json=body)

        def parse_response(self, response, message):
            data = response.json()
            return SendResult(provider="acme", provider_message_id=data["id"],
                              status=MessageStatus.QUEUED, to=message.to, from_=self.from_)
    '''
)

USE = textwrap.dedent(
    """
    import hashlib, hmac, json
    import httpx
    from smsbridge import Bridge, ConfigError, WebhookRequest
    from smsbridge.providers import names
    from smsbridge.webhooks import detect

    assert "acme" in names(), names()
    sent = []

    def answer(request):
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": "ac-1"})

    client = httpx.Client(transport=httpx.MockTransport(answer))
    env = {"SMSBRIDGE_PROVIDERS": "acme", "ACME_SECRET": "s3cret", "ACME_FROM": "+15550001111"}
    sms = Bridge.from_env(env, http_client=client)
    result = sms.send(to="+14155552671", body="hello")
    assert (result.provider, result.provider_message_id) == ("acme", "ac-1"), result
    assert sent == [{"to": "+14155552671", "text": "hello", "from": "+15550001111"}], sent

    body = json.dumps({"acme_id": "in-1", "from": "+14155552671", "to": "+15550001111",
                       "text": "hi"}).encode()
    sig = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    request = WebhookRequest("POST", "https://app.example/sms/webhook",
                             {"Content-Type": "application/json", "X-Acme-Signature": sig}, body)
    assert detect(request) == "acme"
    outcome = sms.handle_webhook(request)
    assert outcome.provider == "acme" and outcome.event.text == "hi", outcome
    assert outcome.response.status_code == 204
    assert sms.handle_webhook(request).duplicate
    forged = WebhookRequest("POST", request.url, {"X-Acme-Signature": "0" * 64}, body)
    try:
        sms.handle_webhook(forged)
    except Exception as exc:
        assert exc.code == "invalid_signature", exc.code
    else:
        raise AssertionError("a forged acme webhook was accepted")
    try:
        Bridge.from_env({"SMSBRIDGE_PROVIDERS": "acme"})
    except ConfigError as exc:
        assert exc.variable == "ACME_SECRET", exc.variable
    else:
        raise AssertionError("a missing ACME_SECRET was accepted")
    print("plugin ok")
    """
)


def _record(files: dict[str, bytes]) -> bytes:
    lines = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{DIST}-{VERSION}.dist-info/RECORD,,")
    return ("\n".join(lines) + "\n").encode()


def _wheel(directory: Path) -> Path:
    info = f"{DIST}-{VERSION}.dist-info"
    files = {
        "acme_sms.py": PLUGIN.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\nRequires-Dist: smsbridge\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: smsbridge-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": b"[smsbridge.providers]\nacme = acme_sms:AcmeProvider\n",
    }
    path = directory / f"{DIST}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr(f"{info}/RECORD", _record(files))
    return path


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    wheel = _wheel(tmp_path_factory.mktemp("wheel"))
    _pip("install", "--no-deps", "--no-index", "--force-reinstall", str(wheel))
    try:
        yield
    finally:
        _pip("uninstall", "-y", DIST)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_installed_plugin_sends_and_receives(installed: None) -> None:
    """Configured by name from the environment, it sends through the bridge and its signed
    webhooks are detected, verified, de-duplicated and answered by the generic pipeline."""
    done = _run(USE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "plugin ok"


def test_unknown_name_lists_the_plugin_among_the_known(installed: None) -> None:
    """A misspelt provider name is a ConfigError listing every provider, plug-ins included."""
    done = _run(
        "from smsbridge import Bridge, ConfigError\n"
        "try:\n"
        "    Bridge.from_env({'SMSBRIDGE_PROVIDERS': 'acmee'})\n"
        "except ConfigError as exc:\n"
        "    print(exc.variable, '|', exc.message)\n"
    )
    assert done.returncode == 0, done.stderr
    variable, message = done.stdout.strip().split(" | ")
    assert variable == "SMSBRIDGE_PROVIDERS"
    assert "'acmee'" in message
    assert "acme, telnyx, twilio" in message


def test_a_plugin_cannot_take_a_builtin_name(tmp_path: Path) -> None:
    """An entry point named like a built-in provider does not replace it."""
    (tmp_path / "fake-0.dist-info").mkdir()
    (tmp_path / "fake-0.dist-info" / "METADATA").write_text("Name: fake\nVersion: 0\n")
    (tmp_path / "fake-0.dist-info" / "entry_points.txt").write_text(
        "[smsbridge.providers]\ntwilio = os:getcwd\n"
    )
    done = _run(
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from smsbridge.providers import provider_class, Twilio\n"
        "print(provider_class('twilio') is Twilio)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_a_broken_plugin_is_a_config_error_naming_it(tmp_path: Path) -> None:
    """A plug-in that does not import, or is not a Provider, fails with a clear ConfigError."""
    (tmp_path / "bad-0.dist-info").mkdir()
    (tmp_path / "bad-0.dist-info" / "METADATA").write_text("Name: bad\nVersion: 0\n")
    (tmp_path / "bad-0.dist-info" / "entry_points.txt").write_text(
        "[smsbridge.providers]\nbroken = no_such_module:Thing\nwrong = os:getcwd\n"
    )
    done = _run(
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from smsbridge import ConfigError\n"
        "from smsbridge.providers import provider_class\n"
        "for name in ('broken', 'wrong'):\n"
        "    try:\n"
        "        provider_class(name)\n"
        "    except ConfigError as exc:\n"
        "        print(exc.message)\n"
    )
    assert done.returncode == 0, done.stderr
    broken, wrong = done.stdout.strip().splitlines()
    assert "'broken'" in broken
    assert "cannot be imported" in broken
    assert "'wrong'" in wrong
    assert "not a smsbridge Provider" in wrong
