"""Behind a real reverse proxy: nginx (the ``contrib/`` site, under a path prefix) in front of
``smsbridge serve`` and of the FastAPI adapter under uvicorn.

The provider is configured with ``https://sms.example.com/hooks/sms/webhook``; nginx takes
``/hooks/sms/webhook`` on a loopback TLS port and passes it to the endpoint's ``/sms/webhook``
with ``X-Forwarded-Proto/Host/Port/For`` set as the contrib site sets them and
``X-Forwarded-Prefix: /hooks``. Both upstreams trust 127.0.0.1 (nginx) and have no
``public_url``, so the signed URL is rebuilt from the forwarded headers alone:

* Twilio, Telnyx and Vonage webhooks signed for the public URL are accepted through nginx and
  their events reach the application, on both upstreams;
* the same forwarded headers sent straight to the upstream from a peer that is not a trusted
  proxy are ignored: the URL as received is checked (docs/webhooks.md, "Without either, the
  request URL is used as it is"), so a signature for the forged URL is refused and one for the
  upstream's own URL accepted;
* a misconfigured proxy (the prefix dropped, or the upstream's name passed as the host) gets
  403; ``serve`` logs the URL it checked, and ``smsbridge webhook check`` on the request as the
  FastAPI app captured it names the mismatch, and the ``public_url`` it suggests, given to
  ``serve``, makes the same misconfigured proxy work.

nginx and uvicorn missing: fail under ``CI=true``, skip elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from _contrib_kit import twilio_inbound
from _nginx import NGINX_SITE, Site, accepts, free_port, need, running, wait_until
from conftest import require

from smsbridge.testing import make_telnyx_keypair, sign_telnyx, sign_vonage

pytestmark = pytest.mark.slow

PUBLIC_HOST = "sms.example.com"
PREFIX = "/hooks"
PATH = "/sms/webhook"
PUBLIC_URL = f"https://{PUBLIC_HOST}{PREFIX}{PATH}"

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "behind-nginx-auth-token"
TELNYX = make_telnyx_keypair(b"\x2a" * 32)
VONAGE_SECRET = "behind-nginx-vonage-signature-secret"
FORM = "application/x-www-form-urlencoded"
FIXTURES = Path(__file__).parent / "fixtures"

# The FastAPI app, the documented way (docs/frameworks.md: uvicorn --no-proxy-headers and the
# proxies in trusted_proxies). Each event is appended to events.jsonl; each request is saved
# as the app received it (URL, headers, raw body), for `smsbridge webhook check`.
APP = """
import json
import os
from pathlib import Path

from fastapi import FastAPI

from smsbridge import Bridge
from smsbridge.contrib.fastapi import webhook_router

OUT = Path(os.environ["BEHIND_NGINX_OUT"])
sms = Bridge.from_env(trusted_proxies=["127.0.0.1"])


def on_event(outcome):
    with (OUT / "events.jsonl").open("a") as sink:
        for event in outcome.events:
            sink.write(json.dumps(event.model_dump(mode="json", exclude={"raw"})) + "\\n")


api = FastAPI()
api.include_router(webhook_router(sms, on_event=on_event))


async def app(scope, receive, send):
    if scope["type"] != "http":
        return await api(scope, receive, send)
    messages, more = [], True
    while more:
        message = await receive()
        messages.append(message)
        more = message["type"] == "http.request" and message.get("more_body", False)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    host = dict((k.lower(), v) for k, v in headers).get("host", "localhost")
    query = scope["query_string"].decode("latin-1")
    url = f"http://{host}{scope['raw_path'].decode('latin-1')}" + (f"?{query}" if query else "")
    name = OUT / "captured" / str(len(list((OUT / "captured").iterdir())))
    name.with_suffix(".body").write_bytes(b"".join(m.get("body", b"") for m in messages))
    name.with_suffix(".headers").write_text(json.dumps(headers))
    name.with_suffix(".url").write_text(url)
    replay = iter(messages)

    async def again():
        return next(replay, None) or await receive()

    return await api(scope, again, send)
"""


def need_module(name: str) -> None:
    """Like ``need`` for a Python package (one of the dev extra's)."""
    require(name, "dev")


def environment(**extra: str) -> dict[str, str]:
    """The test's environment with all three providers configured to receive."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "TELNYX_", "SMSBRIDGE_", "VONAGE_"))
    }
    return {
        **env,
        "SMSBRIDGE_PROVIDERS": "twilio,telnyx,vonage",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": "+15017122661",
        "TELNYX_API_KEY": "KEYbehindnginx",
        "TELNYX_PUBLIC_KEY": TELNYX.public_key_b64,
        "TELNYX_FROM": "+15017122662",
        "VONAGE_API_KEY": "a1b2c3d",
        "VONAGE_API_SECRET": "behind-nginx-api-secret",
        "VONAGE_SIGNATURE_SECRET": VONAGE_SECRET,
        "VONAGE_FROM": "+447700900001",
        **extra,
    }


# -- the site -----------------------------------------------------------------------------------


def site_text(*, prefix: str = PREFIX, host: str = "$host") -> str:
    """The contrib site with its webhook location moved under ``PREFIX``: nginx strips the
    prefix and says so in ``X-Forwarded-Prefix`` (``prefix=""`` is the contrib default, which
    here drops it); ``host`` is what nginx passes as ``Host`` and ``X-Forwarded-Host``."""
    text = NGINX_SITE.read_text()
    replacements = [
        (f"location = {PATH} {{", f"location = {PREFIX}{PATH} {{"),
        ("proxy_pass http://smsbridge_serve;", f"proxy_pass http://smsbridge_serve{PATH};"),
        (
            'proxy_set_header X-Forwarded-Prefix "";',
            f'proxy_set_header X-Forwarded-Prefix "{prefix}";',
        ),
        ("proxy_set_header Host $host;", f"proxy_set_header Host {host};"),
        ("proxy_set_header X-Forwarded-Host $host;", f"proxy_set_header X-Forwarded-Host {host};"),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} is not once in contrib/nginx/smsbridge.conf"
        text = text.replace(old, new)
    return text


# -- signed webhooks ----------------------------------------------------------------------------


def twilio(url: str, text: str) -> tuple[bytes, dict[str, str]]:
    return twilio_inbound(url, text, account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN)


def telnyx(text: str) -> tuple[bytes, dict[str, str]]:
    document = json.loads((FIXTURES / "telnyx_message_received.json").read_text())["sms"]
    document["data"]["id"] = str(uuid.uuid4())
    document["data"]["payload"]["id"] = str(uuid.uuid4())
    document["data"]["payload"]["text"] = text
    body = json.dumps(document).encode()
    return body, {**sign_telnyx(body, signing_key=TELNYX), "Content-Type": "application/json"}


def vonage(text: str) -> tuple[bytes, dict[str, str]]:
    document = json.loads((FIXTURES / "vonage_inbound.json").read_text())["sms"]
    document["message_uuid"] = str(uuid.uuid4())
    document["text"] = text
    body = json.dumps(document).encode()
    headers = sign_vonage(body, signature_secret=VONAGE_SECRET)
    return body, {**headers, "Content-Type": "application/json"}


def signed(provider: str, url: str, text: str) -> tuple[bytes, dict[str, str]]:
    if provider == "twilio":
        return twilio(url, text)
    return telnyx(text) if provider == "telnyx" else vonage(text)


# -- the stack ----------------------------------------------------------------------------------


@dataclass
class Stack:
    """nginx in front of one upstream, and what the upstream received and printed."""

    site: Site
    app_port: int
    output: list[str]
    out: Path
    events_on_stdout: bool

    def events(self) -> str:
        if self.events_on_stdout:
            return "".join(self.output)
        sink = self.out / "events.jsonl"
        return sink.read_text() if sink.exists() else ""

    def captured(self) -> list[Path]:
        return sorted((self.out / "captured").glob("*.url"), key=lambda p: int(p.stem))

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}{PATH}"

    def through_nginx(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST ``body`` to the public URL: to nginx's TLS port with ``Host: PUBLIC_HOST``,
        from 127.0.0.2 (see test_deploy_material: a peer other than nginx's own address)."""
        context = ssl.create_default_context(cafile=str(self.site.cert))
        transport = httpx.HTTPTransport(verify=context, local_address="127.0.0.2")
        with httpx.Client(transport=transport, timeout=20) as client:
            url = f"https://127.0.0.1:{self.site.tls_port}{PREFIX}{PATH}"
            return client.post(url, content=body, headers={**headers, "Host": PUBLIC_HOST})

    def direct(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST straight to the upstream from 127.0.0.2, which is no trusted proxy."""
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=transport, timeout=20) as client:
            return client.post(self.upstream_url, content=body, headers=headers)


@contextlib.contextmanager
def stack(tmp_path: Path, upstream: str, text: str, *options: str) -> Iterator[Stack]:
    """nginx with the site ``text`` in front of ``upstream`` (``serve``, with ``options``
    added, or ``fastapi``), both running."""
    nginx = need("nginx")
    need_module("uvicorn")
    out = tmp_path / "app"
    (out / "captured").mkdir(parents=True)
    app_port = free_port()
    if upstream == "serve":
        command = [sys.executable, "-m", "smsbridge", "serve", "--host", "127.0.0.1"]
        command += [
            "--port",
            str(app_port),
            "--path",
            PATH,
            "--trusted-proxy",
            "127.0.0.1",
            *options,
        ]
        env = environment()
    else:
        need_module("fastapi")
        (tmp_path / "behind_nginx_app.py").write_text(APP)
        command = [sys.executable, "-m", "uvicorn", "behind_nginx_app:app", "--no-proxy-headers"]
        command += ["--app-dir", str(tmp_path), "--host", "127.0.0.1", "--port", str(app_port)]
        command += ["--log-level", "warning"]
        env = environment(BEHIND_NGINX_OUT=str(out))
    (tmp_path / "nginx").mkdir()
    site = Site(tmp_path / "nginx", app_port, text)
    with (
        running(command, env) as (app, printed),
        running(site.command(nginx, "-g", "daemon off;")) as (proxy, logged),
    ):
        wait_until(lambda: accepts(app_port) or app.poll() is not None, f"{upstream} starting")
        assert app.poll() is None, "".join(printed)
        wait_until(lambda: accepts(site.tls_port) or proxy.poll() is not None, "nginx starting")
        assert proxy.poll() is None, "".join(logged) + site.error_log.read_text()
        yield Stack(site, app_port, printed, out, events_on_stdout=upstream == "serve")


UPSTREAMS = ["serve", "fastapi"]


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_webhooks_signed_for_the_public_url_pass_through_nginx(
    tmp_path: Path, upstream: str
) -> None:
    with stack(tmp_path, upstream, site_text()) as app:
        for provider in ("twilio", "telnyx", "vonage"):
            text = f"{provider} via nginx {uuid.uuid4().hex}"
            answer = app.through_nginx(*signed(provider, PUBLIC_URL, text))
            assert answer.status_code == 200, (provider, answer.text, "".join(app.output))
            wait_until(lambda text=text: text in app.events(), f"the {provider} event")

        # A client's own forwarded headers go no further than nginx: it sets them all.
        text = f"client headers {uuid.uuid4().hex}"
        body, headers = twilio(PUBLIC_URL, text)
        forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/evil"}
        answer = app.through_nginx(body, {**headers, **forged, "X-Forwarded-Proto": "http"})
        assert answer.status_code == 200, (answer.text, "".join(app.output))
        wait_until(lambda: text in app.events(), "the event despite the client's headers")


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    tmp_path: Path, upstream: str
) -> None:
    forged = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": PUBLIC_HOST,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Prefix": PREFIX,
    }
    with stack(tmp_path, upstream, site_text()) as app:
        # Signed for the URL the headers claim: they are not believed, so it does not verify.
        text = f"forged url {uuid.uuid4().hex}"
        body, headers = twilio(PUBLIC_URL, text)
        refused = app.direct(body, {**headers, **forged})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "invalid_signature"

        # Signed for the URL the upstream really was called at: the headers change nothing,
        # the URL as received is checked, and it verifies (docs/webhooks.md: without
        # public_url or a trusted peer, "the request URL is used as it is").
        text = f"real url {uuid.uuid4().hex}"
        body, headers = twilio(app.upstream_url, text)
        accepted = app.direct(body, {**headers, **forged})
        assert accepted.status_code == 200, (accepted.text, "".join(app.output))
        wait_until(lambda: text in app.events(), "the event sent straight to the upstream")
        assert "forged url" not in app.events()


MISCONFIGURED = {
    # The contrib default (X-Forwarded-Prefix "") kept although the location has a prefix.
    "prefix-dropped": ({"prefix": ""}, "path prefix: the provider called /hooks in front"),
    # nginx's own default Host: the upstream's name.
    "wrong-host": ({"host": "$proxy_host"}, f"the provider called {PUBLIC_HOST}"),
}


@pytest.mark.parametrize("variant", sorted(MISCONFIGURED))
def test_misconfigured_proxy_is_refused_and_diagnosed(tmp_path: Path, variant: str) -> None:
    settings, named = MISCONFIGURED[variant]
    text = site_text(**settings)
    public_port = 0

    # serve: 403, and its refusal log shows the URL it checked instead of the public one.
    with stack(tmp_path / "serve", "serve", text) as app:
        public_port = app.site.tls_port
        answer = app.through_nginx(*twilio(PUBLIC_URL, f"misconfigured {uuid.uuid4().hex}"))
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "invalid_signature"
        wait_until(lambda: "webhook refused" in "".join(app.output), "serve's refusal log")
        log = "".join(app.output)
        assert "webhook refused (403 invalid_signature)" in log
        host = "smsbridge_serve" if variant == "wrong-host" else PUBLIC_HOST
        path = PATH if variant == "prefix-dropped" else f"{PREFIX}{PATH}"
        assert f"checked against https://{host}:{public_port}{path}" in log, log

    # The FastAPI app: 403, and `webhook check` on the request it captured names the mismatch.
    with stack(tmp_path / "fastapi", "fastapi", text) as app:
        answer = app.through_nginx(*twilio(PUBLIC_URL, f"misconfigured {uuid.uuid4().hex}"))
        assert answer.status_code == 403, answer.text
        assert app.events() == ""
        (url_file,) = app.captured()
        check = [sys.executable, "-m", "smsbridge", "webhook", "check"]
        check += ["--url", url_file.read_text()]
        check += ["--headers", str(url_file.with_suffix(".headers"))]
        check += ["--body-file", str(url_file.with_suffix(".body"))]
        check += ["--webhook-url", PUBLIC_URL]
        done = subprocess.run(
            check, env=environment(), capture_output=True, text=True, timeout=60, check=False
        )
        report = done.stdout
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "result: INVALID signature for the URL checked" in report, report
        assert f"match: Twilio signed {PUBLIC_URL}" in report, report
        assert named in report, report
        fix = re.search(r'^fix: Bridge\(\.\.\., public_url="([^"]+)"\)$', report, re.MULTILINE)
        assert fix, report
        # Told that the app trusts this proxy, the check rebuilds the URL the app checks from
        # the proxy's headers and names them as what to fix.
        trusted = subprocess.run(
            [*check, "--trusted-proxy"],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert trusted.returncode == 1, (trusted.stdout, trusted.stderr)
        assert "(rebuilt from the trusted proxy's X-Forwarded-* headers)" in trusted.stdout
        assert "fix: your proxy's X-Forwarded-* headers describe" in trusted.stdout

    # The fix it suggests works behind the same misconfigured proxy.
    with stack(tmp_path / "fixed", "serve", text, "--public-url", fix.group(1)) as app:
        message = f"fixed {uuid.uuid4().hex}"
        answer = app.through_nginx(*twilio(PUBLIC_URL, message))
        assert answer.status_code == 200, (answer.text, "".join(app.output))
        wait_until(lambda: message in app.events(), "the event once public_url is set")


def test_the_prefixed_site_is_valid_nginx(tmp_path: Path) -> None:
    nginx = need("nginx")
    for name, settings in [("ok", {}), *((k, v[0]) for k, v in MISCONFIGURED.items())]:
        directory = tmp_path / name
        directory.mkdir()
        site = Site(directory, free_port(), site_text(**settings))
        done = subprocess.run(
            site.command(nginx, "-t"), capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, (name, done.stderr)
