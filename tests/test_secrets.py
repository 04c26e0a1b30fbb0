"""No credential ever shows: in logs, reprs, exceptions, pickles or the CLI's output.

Real-looking credentials of all three providers are configured through ``Bridge.from_env``
against the emulator (started with the same credentials), logging is at DEBUG for
``smsbridge``, ``httpx``, ``httpcore`` and ``aiohttp``, and every error path the emulator can
provoke is driven: successful sends, each fault kind, wrong credentials, forged, valid,
malformed and oversized webhooks, ``smsbridge webhook check``, malformed variables, scheduled
sends, cancel/fetch of known and unknown ids, ``send_many`` with a job, and the CLI.
Everything reachable is then searched for every secret.

What counts as a secret (searched for):

* Twilio: the auth token, the API key secret, the SharedKey secret, and the HTTP Basic
  values made of them;
* Telnyx: the API key (a bearer token: knowing it is enough to send);
* Vonage: the API secret, the signature secret, the application's private key (the whole PEM
  and some distinctive lines of it), the Basic value, and any application JWT minted from it
  (its RS256 header, which every such token starts with, never shows).

What is not (an identifier, shown by design): the Twilio account SID (it is in every API URL),
the Twilio API key SID (``SK…``: the user name paired with the secret), the messaging service
SID, the Telnyx public key, the Vonage API key (the account's name, in webhook claims) and
application id. Credentials the emulator refuses (a wrong token, key or secret) are searched for
too: they may be someone's real ones.

Malformed variables include secrets pasted into the wrong variable (an account SID, a timeout,
the public key, the profile id, the store URL, SMSBRIDGE_PROVIDERS): none of those errors echo
the value. SMSBRIDGE_RATE_LIMITS is left out on purpose: its error quotes the malformed item,
which names a provider or sender, not a credential.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import pickle
import secrets
import string
import subprocess
import sys
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from smsbridge import Bridge, SmsBridgeError
from smsbridge.routing import Retry
from smsbridge.testing import (
    Emulator,
    make_telnyx_keypair,
    sign_telnyx,
    sign_twilio,
    sign_vonage,
)
from smsbridge.webhooks import WebhookRequest

HANDSET = "+14155552671"
PUBLIC_URL = "https://hooks.example.com"
WEBHOOK_URL = PUBLIC_URL + "/sms/webhook"
LOGGERS = ("smsbridge", "httpx", "httpcore", "aiohttp", "asyncio")
ALNUM = string.ascii_letters + string.digits


def _hex(n: int) -> str:
    return secrets.token_hex(n // 2)


def _alnum(n: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(n))


@dataclass(frozen=True)
class Credentials:
    """One real-looking set of credentials for every provider."""

    twilio_sid: str = field(default_factory=lambda: "AC" + _hex(32))
    twilio_token: str = field(default_factory=lambda: _hex(32))
    twilio_key_sid: str = field(default_factory=lambda: "SK" + _hex(32))
    twilio_key_secret: str = field(default_factory=lambda: _alnum(32))
    twilio_shared_id: str = field(default_factory=lambda: "KS" + _hex(32))
    twilio_shared_secret: str = field(default_factory=lambda: _alnum(40))
    twilio_service: str = field(default_factory=lambda: "MG" + _hex(32))
    telnyx_key: str = field(default_factory=lambda: "KEY" + _hex(32).upper() + "_" + _alnum(22))
    telnyx_seed: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    vonage_key: str = field(default_factory=lambda: _hex(8))
    vonage_secret: str = field(default_factory=lambda: _alnum(16))
    vonage_app: str = field(default_factory=lambda: str(uuid.uuid4()))
    vonage_signature: str = field(default_factory=lambda: _alnum(48))
    vonage_pem: str = field(
        default_factory=lambda: (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode()
        )
    )

    @property
    def telnyx_public(self) -> str:
        return make_telnyx_keypair(self.telnyx_seed).public_key_b64

    def secrets(self) -> list[str]:
        """Every string that must never show (see the module docstring)."""

        def basic(user: str, password: str) -> str:
            return base64.b64encode(f"{user}:{password}".encode()).decode()

        pem_lines = [line for line in self.vonage_pem.splitlines() if "-----" not in line]
        from smsbridge.providers.vonage._auth import AppToken, load_private_key

        token = AppToken(self.vonage_app, load_private_key(self.vonage_pem)).mint(0)
        return [
            self.twilio_token,
            self.twilio_key_secret,
            self.twilio_shared_secret,
            basic(self.twilio_sid, self.twilio_token),
            basic(self.twilio_key_sid, self.twilio_key_secret),
            self.telnyx_key,
            self.vonage_secret,
            self.vonage_signature,
            basic(self.vonage_key, self.vonage_secret),
            self.vonage_pem,
            self.vonage_pem.replace("\n", "\\n"),
            pem_lines[0],
            pem_lines[len(pem_lines) // 2],
            pem_lines[-2],
            token.split(".")[0],  # the RS256 header of every application JWT
            *WRONG_SECRETS,
        ]

    def environment(self, emu: Emulator) -> dict[str, str]:
        """The variables of all three providers, each pointed at its emulator listener."""
        return {
            "SMSBRIDGE_PROVIDERS": "twilio,telnyx,vonage",
            "SMSBRIDGE_STORE": "memory:",
            "TWILIO_ACCOUNT_SID": self.twilio_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_token,
            "TWILIO_API_KEY": self.twilio_key_sid,
            "TWILIO_API_SECRET": self.twilio_key_secret,
            "TWILIO_SHARED_KEYS": f"{self.twilio_shared_id}={self.twilio_shared_secret}",
            "TWILIO_FROM": "+15005550006",
            "TWILIO_MESSAGING_SERVICE_SID": self.twilio_service,
            "TWILIO_BASE_URL": emu.twilio_url,
            "TELNYX_API_KEY": self.telnyx_key,
            "TELNYX_PUBLIC_KEY": self.telnyx_public,
            "TELNYX_FROM": "+15005550007",
            "TELNYX_BASE_URL": emu.telnyx_url,
            "VONAGE_API_KEY": self.vonage_key,
            "VONAGE_API_SECRET": self.vonage_secret,
            "VONAGE_APPLICATION_ID": self.vonage_app,
            "VONAGE_PRIVATE_KEY": self.vonage_pem,
            "VONAGE_SIGNATURE_SECRET": self.vonage_signature,
            "VONAGE_FROM": "+15005550008",
            "VONAGE_BASE_URL": emu.vonage_url,
        }


class Capture(logging.Handler):
    """Every log record, whatever its logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def record_text(record: logging.LogRecord) -> str:
    """A record as every handler could show it: message, extra fields, exception, stack."""
    parts = [record.getMessage()]
    parts += [f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD]
    if record.exc_info and record.exc_info[1] is not None:
        parts += traceback.format_exception(record.exc_info[1])
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


@dataclass
class Seen:
    """Every text the scenarios reached, by surface and label."""

    texts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # labels of the exceptions seen

    def add(self, surface: str, label: str, text: str) -> None:
        self.texts.setdefault(surface, []).append((label, text))

    def obj(self, label: str, value: object) -> None:
        self.add("reprs", label, repr(value))
        self.add("reprs", label + " (str)", str(value))
        dump = getattr(value, "model_dump_json", None)
        if dump is not None:
            self.add("reprs", label + " (json)", dump())

    def exc(self, label: str, exc: BaseException) -> None:
        self.errors.append(f"{label}: {type(exc).__name__}")
        self.add("exceptions", label + " str", str(exc))
        self.add("exceptions", label + " repr", repr(exc))
        self.add("exceptions", label + " args", repr(exc.args))
        self.add("exceptions", label + " vars", repr(vars(exc)))
        self.add("exceptions", label + " traceback", "".join(traceback.format_exception(exc)))
        try:
            data = pickle.dumps(exc)
        except Exception as problem:
            self.add("pickles", label, f"unpicklable: {problem!r}")
        else:
            self.add("pickles", label, data.decode("latin-1"))
            self.add("pickles", label + " round trip", repr(vars(pickle.loads(data))))


def run_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELNYX_"))}
    clean = {k: v for k, v in clean.items() if not k.startswith(("VONAGE_", "SMSBRIDGE_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "smsbridge", *args],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _noop_sleep(seconds: float) -> None:
    return None


async def _noop_async_sleep(seconds: float) -> None:
    return None


class World:
    """The emulator, the credentials and the helpers the scenarios share."""

    def __init__(self, emu: Emulator, creds: Credentials, seen: Seen, tmp: Path) -> None:
        self.emu, self.creds, self.seen, self.tmp = emu, creds, seen, tmp
        self.env = creds.environment(emu)

    def bridge(self, providers: str, **variables: str) -> Bridge:
        environ = {**self.env, "SMSBRIDGE_PROVIDERS": providers, **variables}
        bridge = Bridge.from_env(
            environ,
            public_url=PUBLIC_URL,
            retry=Retry(total=1, backoff=0.01),
            sleep=_noop_sleep,
            async_sleep=_noop_async_sleep,
        )
        self.seen.obj(f"bridge {providers}", bridge)
        self.seen.obj(f"policy {providers}", bridge.policy)
        self.seen.obj(f"store {providers}", bridge.store)
        for provider in bridge.webhook_providers:
            self.seen.obj(f"provider {provider.name}", provider)
        return bridge

    def attempt(self, label: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call(...)``: its result's repr or its exception, recorded."""
        try:
            result = call(*args, **kwargs)
        except SmsBridgeError as exc:
            self.seen.exc(label, exc)
            return None
        self.seen.obj(label, result)
        return result


# -- the scenarios -----------------------------------------------------------------------------

ERROR_CODES = {
    "twilio": [("20003", 401), ("20003", 403), ("21610", None)],
    "telnyx": [("10009", 401), ("10010", 403), ("40300", None)],
    "vonage": [("unauthorized", 401), ("forbidden", 403)],
}
# Credentials the emulator does not know (it answers 401): someone's real ones, maybe, so they
# are searched for as well. "" removes a variable.
WRONG: list[tuple[str, dict[str, str]]] = [
    ("twilio", {"TWILIO_AUTH_TOKEN": _hex(32), "TWILIO_API_KEY": "", "TWILIO_API_SECRET": ""}),
    ("twilio", {"TWILIO_API_SECRET": _alnum(32)}),
    ("telnyx", {"TELNYX_API_KEY": "KEY" + _hex(32).upper() + "_" + _alnum(22)}),
    (
        "vonage",
        {"VONAGE_API_SECRET": _alnum(16), "VONAGE_APPLICATION_ID": "", "VONAGE_PRIVATE_KEY": ""},
    ),
]
WRONG_SECRETS = [value for _, overrides in WRONG for value in overrides.values() if value]


def sends_and_faults(w: World) -> None:
    emu = w.emu
    for name in ("twilio", "telnyx", "vonage"):
        bridge = w.bridge(name)
        sent = w.attempt(f"{name} send", bridge.send, HANDSET, "hello")
        if sent is not None and name != "vonage":
            w.attempt(f"{name} fetch", bridge.fetch, sent)
            w.attempt(f"{name} cancel sent", bridge.cancel, sent)
        w.attempt(
            f"{name} fetch unknown", bridge.fetch, name, "00000000-0000-0000-0000-0000000000ff"
        )
        w.attempt(f"{name} cancel unknown", bridge.cancel, name, "SM" + "0" * 32)
        faults: list[tuple[str, dict[str, Any]]] = [
            ("refuse", {}),
            ("http_error", {"status": 500}),
            ("http_error", {"status": 503}),
            ("http_error", {"status": 503, "accept": True}),
            ("rate_limit", {"retry_after": 1}),
        ]
        faults += [("error_code", {"code": c, "status": s}) for c, s in ERROR_CODES[name]]
        bridge.close()
        for kind, params in faults:
            # A fresh bridge (and store) each time: an open breaker would hide the next fault.
            bridge = w.bridge(name)
            emu.fault(name, kind, times=None if kind == "refuse" else 2, **params)
            w.attempt(f"{name} {kind} {params}", bridge.send, HANDSET, "fault")
            emu.clear_faults(name)
            bridge.close()
        # Timeouts: a read timeout shorter than the injected latency, and a hanging accept.
        slow = w.bridge(name, **{f"{name.upper()}_TIMEOUT": "0.2"})
        emu.fault(name, "latency", seconds=0.6, times=2)
        w.attempt(f"{name} latency", slow.send, HANDSET, "slow")
        emu.clear_faults(name)
        emu.fault(name, "accept_then_hang", times=1)
        w.attempt(f"{name} accept_then_hang", slow.send, HANDSET, "hang")
        emu.clear_faults(name)
        slow.close()
    for name, overrides in WRONG:
        wrong_env = {**w.env, "SMSBRIDGE_PROVIDERS": name, **overrides}
        wrong_env = {k: v for k, v in wrong_env.items() if v}
        wrong = Bridge.from_env(wrong_env, sleep=_noop_sleep, retry=Retry(total=0))
        w.seen.obj(f"{name} wrong bridge", wrong)
        label = f"{name} wrong {sorted(k for k, v in overrides.items() if v)}"
        w.attempt(label, wrong.send, HANDSET, "who am I")
        w.attempt(label + " fetch", wrong.fetch, name, "SM" + "1" * 32)
        wrong.close()


def failover_and_async(w: World) -> None:
    emu = w.emu
    bridge = w.bridge("twilio,telnyx,vonage")
    emu.fault("twilio", "refuse")
    emu.fault("telnyx", "error_code", code="10009", status=401, times=3)
    w.attempt("failover to vonage", bridge.send, HANDSET, "failover")
    emu.clear_faults()
    for name in ("twilio", "telnyx", "vonage"):
        emu.fault(name, "http_error", status=503, times=3)
    w.attempt("all refused", bridge.send, HANDSET, "nobody")
    emu.clear_faults()

    async def run() -> None:
        try:
            w.seen.obj("async send", await bridge.asend(HANDSET, "async"))
            emu.fault("twilio", "http_error", status=500, times=2)
            emu.fault("telnyx", "refuse")
            await bridge.asend(HANDSET, "async fault")
        except SmsBridgeError as exc:
            w.seen.exc("async fault", exc)
        finally:
            emu.clear_faults()
            await bridge.aclose()

    asyncio.run(run())
    bridge.close()


def scheduling_and_bulk(w: World) -> list[tuple[str, str]]:
    """Scheduled sends (returned for the CLI), their cancel and fetch, and send_many."""
    scheduled: list[tuple[str, str]] = []
    at = w.emu.now() + timedelta(hours=1)
    for name in ("twilio", "telnyx", "vonage"):
        bridge = w.bridge(name)
        for i in range(2):
            result = w.attempt(f"{name} scheduled", bridge.send, HANDSET, "later", send_at=at)
            if result is not None:
                scheduled.append((name, result.provider_message_id))
        if scheduled and scheduled[-1][0] == name:
            w.attempt(f"{name} fetch scheduled", bridge.fetch, *scheduled[-2])
            w.attempt(f"{name} cancel scheduled", bridge.cancel, *scheduled[-2])
            w.attempt(f"{name} cancel again", bridge.cancel, *scheduled[-2])
        bridge.close()
    bridge = w.bridge("twilio,telnyx,vonage")
    w.emu.fault("twilio", "refuse")
    w.emu.fault("telnyx", "http_error", status=500, times=1)
    inputs: list[Any] = [HANDSET, "+14155552672", "not a number", {"to": HANDSET, "body": "x"}]
    inputs += [{"to": "+14155552673", "body": "y" * 2000}]
    progress: list[Any] = []
    try:
        for item in bridge.send_many(
            [i if isinstance(i, dict) else {"to": i, "body": "bulk"} for i in inputs],
            job="secret-check-job",
            concurrency=2,
            on_progress=progress.append,
        ):
            w.seen.obj("bulk item", item)
            error = getattr(item, "error", None)
            if isinstance(error, BaseException):
                w.seen.exc("bulk item error", error)
    except SmsBridgeError as exc:
        w.seen.exc("send_many", exc)
    for p in progress:
        w.seen.obj("bulk progress", p)
    w.emu.clear_faults()
    bridge.close()
    return scheduled


def twilio_params(creds: Credentials, text: str) -> list[tuple[str, str]]:
    sid = "SM" + _hex(32)
    return [
        ("MessageSid", sid),
        ("SmsMessageSid", sid),
        ("AccountSid", creds.twilio_sid),
        ("From", HANDSET),
        ("To", "+15005550006"),
        ("Body", text),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]


def telnyx_body(text: str) -> bytes:
    payload = {
        "data": {
            "record_type": "event",
            "id": str(uuid.uuid4()),
            "event_type": "message.received",
            "occurred_at": "2024-05-14T15:30:02.141+00:00",
            "payload": {
                "record_type": "message",
                "id": str(uuid.uuid4()),
                "direction": "inbound",
                "type": "SMS",
                "from": {"phone_number": HANDSET},
                "to": [{"phone_number": "+15005550007"}],
                "text": text,
                "media": [],
            },
        },
        "meta": {"attempt": 1, "delivered_to": WEBHOOK_URL},
    }
    return json.dumps(payload).encode()


def vonage_body(text: str) -> bytes:
    document = {
        "channel": "sms",
        "message_uuid": str(uuid.uuid4()),
        "to": "15005550008",
        "from": HANDSET[1:],
        "timestamp": "2024-05-14T15:30:02Z",
        "message_type": "text",
        "text": text,
    }
    return json.dumps(document).encode()


def webhooks(w: World) -> list[tuple[bytes, dict[str, str]]]:
    """Valid, forged, malformed and oversized webhooks; returns forged captures for the CLI."""
    c = w.creds
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    json_type = {"Content-Type": "application/json"}
    params = twilio_params(c, "hi")
    body = urlencode(params).encode()
    telnyx = telnyx_body("hi")
    vonage = vonage_body("hi")
    other_pair = make_telnyx_keypair(secrets.token_bytes(32))
    shared = (c.twilio_shared_id, c.twilio_shared_secret, "HMAC_SHA256")
    requests: dict[str, tuple[bytes, dict[str, str]]] = {
        "twilio valid": (
            body,
            {**form, **sign_twilio(WEBHOOK_URL, params, auth_token=c.twilio_token)},
        ),
        "twilio shared key": (
            body,
            {**form, **sign_twilio(WEBHOOK_URL, params, auth_token="x", shared_key=shared)},
        ),
        "twilio forged": (body, {**form, **sign_twilio(WEBHOOK_URL, params, auth_token=_hex(32))}),
        "twilio tampered": (
            body + b"&X=1",
            {**form, **sign_twilio(WEBHOOK_URL, params, auth_token=c.twilio_token)},
        ),
        "telnyx valid": (telnyx, {**json_type, **sign_telnyx(telnyx, signing_key=c.telnyx_seed)}),
        "telnyx forged": (telnyx, {**json_type, **sign_telnyx(telnyx, signing_key=other_pair)}),
        "telnyx stale": (
            telnyx,
            {**json_type, **sign_telnyx(telnyx, signing_key=c.telnyx_seed, timestamp=1)},
        ),
        "vonage valid": (
            vonage,
            {**json_type, **sign_vonage(vonage, signature_secret=c.vonage_signature)},
        ),
        "vonage forged": (
            vonage,
            {**json_type, **sign_vonage(vonage, signature_secret=_alnum(48))},
        ),
        "vonage bad token": (vonage, {**json_type, "Authorization": "Bearer not.a.jwt"}),
        "malformed twilio": (
            b"\xff\xfe%%%",
            {**form, **sign_twilio(WEBHOOK_URL, (), auth_token=c.twilio_token)},
        ),
        "malformed telnyx": (
            b"{not json",
            {**json_type, **sign_telnyx(b"{not json", signing_key=c.telnyx_seed)},
        ),
        "malformed vonage": (
            b"[1, 2",
            {**json_type, **sign_vonage(b"[1, 2", signature_secret=c.vonage_signature)},
        ),
        "unknown": (b"hello", {"Content-Type": "text/plain"}),
        "oversized": (b"A=" + b"x" * 70_000, {**form, "X-Twilio-Signature": "abc"}),
    }
    bridge = w.bridge("twilio,telnyx,vonage")
    for label, (raw, headers) in requests.items():
        request = WebhookRequest("POST", WEBHOOK_URL, headers, raw, remote_addr="203.0.113.9")
        w.seen.obj(f"webhook request {label}", request)
        w.attempt(f"webhook {label}", bridge.handle_webhook, request)

    async def run() -> None:
        for label in ("twilio forged", "vonage valid", "oversized"):
            raw, headers = requests[label]
            request = WebhookRequest("POST", WEBHOOK_URL, headers, raw)
            try:
                w.seen.obj(f"async webhook {label}", await bridge.ahandle_webhook(request))
            except SmsBridgeError as exc:
                w.seen.exc(f"async webhook {label}", exc)

    asyncio.run(run())
    bridge.close()
    return [requests["twilio forged"], requests["telnyx forged"], requests["vonage forged"]]


MALFORMED: dict[str, dict[str, str]] = {
    "twilio token with a newline": {"TWILIO_AUTH_TOKEN": "{twilio_token}\n"},
    "twilio token with a space": {"TWILIO_AUTH_TOKEN": "{twilio_token} x"},
    "twilio secret without key": {"TWILIO_API_KEY": ""},
    "twilio secret with a space": {"TWILIO_API_SECRET": "{twilio_key_secret} "},
    "twilio shared keys": {"TWILIO_SHARED_KEYS": "{twilio_shared_secret}"},
    "twilio shared secret blank": {"TWILIO_SHARED_KEYS": "{twilio_shared_secret}= "},
    "twilio shared secret spaced": {"TWILIO_SHARED_KEYS": "id={twilio_shared_secret} x"},
    "twilio sid holds the token": {"TWILIO_ACCOUNT_SID": "{twilio_token}"},
    "twilio timeout": {"TWILIO_TIMEOUT": "{twilio_token}"},
    "telnyx key with a newline": {"TELNYX_API_KEY": "{telnyx_key}\n"},
    "telnyx public key holds the api key": {"TELNYX_PUBLIC_KEY": "{telnyx_key}"},
    "telnyx profile holds the api key": {"TELNYX_MESSAGING_PROFILE_ID": "{telnyx_key}"},
    "telnyx timeout": {"TELNYX_TIMEOUT": "{telnyx_key}"},
    "vonage secret with a space": {"VONAGE_API_SECRET": "{vonage_secret} x"},
    "vonage truncated key": {"VONAGE_PRIVATE_KEY": "{pem_head}"},
    "vonage key without header": {"VONAGE_PRIVATE_KEY": "{pem_body}"},
    "vonage signature with a space": {"VONAGE_SIGNATURE_SECRET": "{vonage_signature} x"},
    "vonage timeout": {"VONAGE_TIMEOUT": "{vonage_secret}"},
    "store url holds a password": {"SMSBRIDGE_STORE": "redis://:{twilio_token}@/x?y"},
    "unreachable store with a password": {
        "SMSBRIDGE_STORE": "redis://user:{twilio_token}@127.0.0.1:9/0?password={telnyx_key}",
        "SMSBRIDGE_PROVIDERS": "twilio",
    },
    "store url unknown scheme": {"SMSBRIDGE_STORE": "{telnyx_key}"},
    "providers hold a secret": {"SMSBRIDGE_PROVIDERS": "{telnyx_key}"},
}


def config_errors(w: World) -> None:
    c = w.creds
    pem = c.vonage_pem
    values = {
        **{k: v for k, v in vars(c).items() if isinstance(v, str)},
        "pem_head": pem[: len(pem) // 2],
        "pem_body": "".join(line for line in pem.splitlines() if "-----" not in line),
    }
    for label, overrides in MALFORMED.items():
        environ = {**w.env, **{k: v.format(**values) for k, v in overrides.items()}}
        try:
            bridge = Bridge.from_env(environ)
        except SmsBridgeError as exc:
            w.seen.exc(f"config {label}", exc)
        except Exception as exc:
            w.seen.exc(f"config {label} (untyped)", exc)
        else:
            w.seen.obj(f"config {label} accepted", bridge)
            w.seen.obj(f"config {label} store", bridge.store)
            w.attempt(f"config {label} send", bridge.send, HANDSET, "store", idempotency_key="k")
            bridge.close()


def cli_runs(
    w: World, scheduled: list[tuple[str, str]], forged: list[tuple[bytes, dict[str, str]]]
) -> None:
    env = {**w.env, "SMSBRIDGE_STORE": "memory:"}
    wrong = {**env, "TWILIO_AUTH_TOKEN": _hex(32), "TWILIO_API_KEY": "", "TWILIO_API_SECRET": ""}
    wrong = {k: v for k, v in wrong.items() if v}
    bad = {**env, "TELNYX_API_KEY": w.creds.telnyx_key + "\n"}
    runs: dict[str, subprocess.Popen[str]] = {
        "send": run_cli(env, "--debug", "send", "--to", HANDSET, "--body", "cli", "--json"),
        "send wrong token": run_cli(
            {**wrong, "SMSBRIDGE_PROVIDERS": "twilio"},
            "--debug",
            "send",
            "--to",
            HANDSET,
            "--body",
            "x",
        ),
        "send malformed": run_cli(bad, "--debug", "send", "--to", HANDSET, "--body", "x"),
        "send scheduled": run_cli(
            env,
            "send",
            "--to",
            HANDSET,
            "--body",
            "later",
            "--provider",
            "telnyx",
            "--at",
            (w.emu.now() + timedelta(hours=1)).isoformat(),
        ),
        "status unknown": run_cli(env, "--debug", "status", "twilio", "SM" + "2" * 32),
        "cancel unknown": run_cli(env, "--debug", "cancel", "telnyx", str(uuid.uuid4())),
        "status vonage": run_cli(env, "--debug", "status", "vonage", str(uuid.uuid4())),
    }
    for name, message_id in scheduled[-3:]:
        runs[f"status {name}"] = run_cli(env, "status", name, message_id, "--json")
        runs[f"cancel {name}"] = run_cli(env, "--debug", "cancel", name, message_id)
    for i, (raw, headers) in enumerate(forged):
        body_file, headers_file = w.tmp / f"body{i}", w.tmp / f"headers{i}"
        body_file.write_bytes(raw)
        headers_file.write_text("".join(f"{k}: {v}\n" for k, v in headers.items()))
        runs[f"webhook check {i}"] = run_cli(
            env,
            "--debug",
            "webhook",
            "check",
            "--url",
            WEBHOOK_URL,
            "--headers",
            str(headers_file),
            "--body-file",
            str(body_file),
        )
    for label, proc in runs.items():
        out, err = proc.communicate(timeout=30)
        w.seen.add("cli", f"{label} (exit {proc.returncode}) stdout", out)
        w.seen.add("cli", f"{label} (exit {proc.returncode}) stderr", err)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Seen, list[str]]:
    """Run every scenario once; the tests below search what they left."""
    creds = Credentials()
    capture = Capture()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    root.addHandler(capture)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    seen = Seen()
    try:
        with Emulator(
            progress_delay=0.05,
            deliver_callbacks=False,
            twilio_account_sid=creds.twilio_sid,
            twilio_auth_token=creds.twilio_token,
            twilio_api_keys={creds.twilio_key_sid: creds.twilio_key_secret},
            telnyx_api_key=creds.telnyx_key,
            telnyx_signing_seed=creds.telnyx_seed,
            vonage_api_key=creds.vonage_key,
            vonage_api_secret=creds.vonage_secret,
            vonage_signature_secret=creds.vonage_signature,
            vonage_application_id=creds.vonage_app,
            vonage_private_key=creds.vonage_pem,
        ) as emu:
            seen.obj("emulator", emu)
            world = World(emu, creds, seen, tmp_path_factory.mktemp("secrets"))
            sends_and_faults(world)
            failover_and_async(world)
            scheduled = scheduling_and_bulk(world)
            forged = webhooks(world)
            config_errors(world)
            cli_runs(world, scheduled, forged)
    finally:
        root.removeHandler(capture)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    for record in capture.records:
        seen.add("logs", f"{record.name}:{record.levelname}", record_text(record))
    return seen, creds.secrets()


def leaks(seen: Seen, secret_list: list[str], surface: str) -> list[str]:
    found = []
    for label, text in seen.texts.get(surface, []):
        for i, secret in enumerate(secret_list):
            if secret in text:
                at = text.index(secret)
                found.append(f"{label}: secret #{i} in …{text[max(0, at - 80) : at + 20]!r}…")
    return found


def test_the_scenarios_reached_every_surface(seen: tuple[Seen, list[str]]) -> None:
    """The search below means something: logs, errors, pickles and CLI output were produced."""
    found, _ = seen
    assert len(found.texts["logs"]) > 50
    assert len(found.errors) > 60
    assert {"reprs", "exceptions", "pickles", "cli"} <= set(found.texts)
    kinds = " ".join(found.errors)
    for name in (
        "ConfigError",
        "AuthError",
        "ProviderUnavailable",
        "RateLimited",
        "SignatureError",
    ):
        assert name in kinds, kinds


@pytest.mark.parametrize("surface", ["logs", "exceptions", "pickles", "reprs", "cli"])
def test_no_secret_shows(seen: tuple[Seen, list[str]], surface: str) -> None:
    """No secret in any text of ``surface``."""
    found, secret_list = seen
    found_leaks = leaks(found, secret_list, surface)
    assert not found_leaks, "\n".join(found_leaks)
