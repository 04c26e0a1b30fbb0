"""The emulator's Vonage: the Messages API v1 (SMS and MMS), and JWT-signed webhooks.

* API: ``POST /v1/messages`` (202 ``{"message_uuid"}``), authenticated with HTTP Basic (the API
  key and secret) or an application JWT (``Authorization: Bearer``: RS256, signed with the
  application's private key, whose ``application_id`` claim must be the emulator's). Errors are
  RFC 7807 problems: 401, 422 (``invalid_parameters`` named), 429 (``Retry-After`` when the
  fault's ``retry_after`` is above zero), 5xx. No idempotency key or read-back, as Vonage.
* Webhooks: JSON status callbacks (``submitted`` then ``delivered``; ``rejected`` or
  ``undeliverable`` with an ``error`` object for a failed delivery) to the message's
  ``webhook_url``, else to the webhook set for its sending number (``set_webhook``), echoing
  ``client_ref``; inbound messages likewise. Each is signed as Vonage signs them: an HS256 JWT
  with the signature secret, carrying ``payload_hash`` (``sign_vonage``). Their bodies:
  ``._payloads_vonage``.
* A send to an opted-out number is accepted, then ``rejected`` with error 1240, as Vonage does.
* Options (and attributes): ``vonage_api_key``, ``vonage_api_secret``,
  ``vonage_signature_secret``, ``vonage_application_id``, ``vonage_private_key`` (RSA PEM; one
  per process when omitted), ``vonage_port``. Only with ``smsbridge[vonage]`` installed.
* ``environment()`` configures Basic auth (a PEM does not fit an ``export`` line); for JWT auth
  give ``emu.vonage_application_id`` and ``emu.vonage_private_key`` to ``Vonage(...)``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hmac
import importlib.util
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from smsbridge._models import MessageStatus
from smsbridge.providers.vonage._parse import e164
from smsbridge.providers.vonage._signer import sign_vonage
from smsbridge.providers.vonage._statuses import CARRIER_REJECTIONS, VONAGE_STATUS
from smsbridge.testing.emulator._common import (
    MessageRecord,
    Request,
    Response,
    Step,
    gateway_error,
    json_response,
    new_uuid,
    now,
    segments,
)
from smsbridge.testing.emulator._delivery import Builder, Delivery
from smsbridge.testing.emulator._faults import Fault
from smsbridge.testing.emulator._payloads_vonage import (
    ERRORS_URL,
    MESSAGES_URL,
    inbound_body,
    status_body,
)
from smsbridge.testing.emulator._personality import Personality
from smsbridge.testing.emulator._state import EmulatorState

__all__ = ["PERSONALITY", "VonagePersonality"]

# Fake credentials: they open nothing but this local emulator.
DEFAULT_API_KEY = "e1e1e1e1"
DEFAULT_API_SECRET = "EmulatorSecret00"  # noqa: S105
DEFAULT_SIGNATURE_SECRET = "emulator-vonage-signature-secret-not-a-secret"  # noqa: S105
DEFAULT_APPLICATION_ID = "a0a0e1e1-0000-4000-8000-00000000e1e1"
POOL_NUMBER = "+15005550008"  # the emulator's Vonage number (VONAGE_FROM)

MAX_TEXT = 1000
MAX_CLIENT_REF = 100
_CHANNELS = {"sms": "text", "mms": "image"}  # channel -> the message_type the emulator takes
_NUMBER = re.compile(r"^[1-9]\d{6,14}$")  # E.164 without the "+"
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
OPTED_OUT = "1240"
# The HTTP status of an ``error_code`` fault given no status, by code (422 otherwise).
_FAULT_STATUSES = {"unauthorized": 401, "low-balance": 402, "forbidden": 403, "rate-limit": 429}


@functools.cache
def _generated_key() -> bytes:
    """One RSA application key per process (PKCS#8 PEM): generating one takes a while."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class VonagePersonality(Personality):
    """Answers Vonage Messages API v1 requests from the shared emulator state.

    Examples:
        Its options are ``Emulator`` keywords, its account the emulator's attributes:

        >>> from smsbridge.testing import Emulator
        >>> with Emulator(vonage_signature_secret="test-secret") as emu:
        ...     print(emu.vonage_signature_secret)
        test-secret
    """

    name: ClassVar[str] = "vonage"
    title: ClassVar[str] = "Vonage"
    rank: ClassVar[int] = 30
    path_prefixes: ClassVar[tuple[str, ...]] = ("/v1/",)
    options: ClassVar[Mapping[str, Any]] = {
        "vonage_api_key": DEFAULT_API_KEY,
        "vonage_api_secret": DEFAULT_API_SECRET,
        "vonage_signature_secret": DEFAULT_SIGNATURE_SECRET,
        "vonage_application_id": DEFAULT_APPLICATION_ID,
        "vonage_private_key": None,  # PEM (str or bytes) of the application's RSA key
    }
    secret_options: ClassVar[tuple[str, ...]] = (
        "vonage_api_secret",
        "vonage_signature_secret",
        "vonage_private_key",
    )
    cli_options: ClassVar[Mapping[str, str]] = {
        "vonage_api_key": "API key the emulator accepts (Basic auth, with the secret)",
        "vonage_api_secret": "API secret the emulator accepts",
        "vonage_signature_secret": "signature secret the emulator signs webhooks with",
    }
    statuses: ClassVar[Mapping[str, MessageStatus]] = VONAGE_STATUS
    delivery_failures: ClassVar[Mapping[str, str | None]] = {
        "rejected": "1260",
        "undeliverable": "1250",
    }
    example_error_code: ClassVar[str] = "1120"

    @classmethod
    def available(cls) -> bool:
        """Only with PyJWT and cryptography (``pip install 'smsbridge[vonage]'``): Vonage
        signs every webhook with a JWT, and so does this personality."""
        return all(importlib.util.find_spec(name) for name in ("jwt", "cryptography"))

    def __init__(self, state: EmulatorState, options: Mapping[str, Any]) -> None:
        super().__init__(state, options)
        self.api_key: str = options["vonage_api_key"]
        self.api_secret: str = options["vonage_api_secret"]
        self.signature_secret: str = options["vonage_signature_secret"]
        self.application_id: str = options["vonage_application_id"]
        key = options["vonage_private_key"]
        self._private_key: bytes | None = key.encode() if isinstance(key, str) else key
        self._public_key: Any = None  # loaded on the first application JWT

    @property
    def private_key(self) -> str:
        """The application's private key (PEM): the option's, else this process's generated one.

        Raises:
            ImportError: ``cryptography`` is not installed.
        """
        return (self._private_key or _generated_key()).decode()

    def attributes(self) -> Mapping[str, str]:
        """The API key and secret, the signature secret, the application id and private key."""
        values = {
            "vonage_api_key": self.api_key,
            "vonage_api_secret": self.api_secret,
            "vonage_signature_secret": self.signature_secret,
            "vonage_application_id": self.application_id,
        }
        with contextlib.suppress(ImportError):  # the core install: no key, Basic auth only
            values["vonage_private_key"] = self.private_key
        return values

    def environment(self, base_url: str) -> dict[str, str]:
        """``VONAGE_BASE_URL``, ``VONAGE_API_KEY``, ``VONAGE_API_SECRET``,
        ``VONAGE_SIGNATURE_SECRET``, ``VONAGE_FROM`` (Basic auth: see the module doc)."""
        return {
            "VONAGE_BASE_URL": base_url,
            "VONAGE_API_KEY": self.api_key,
            "VONAGE_API_SECRET": self.api_secret,
            "VONAGE_SIGNATURE_SECRET": self.signature_secret,
            "VONAGE_FROM": POOL_NUMBER,
        }

    def info(self, base_url: str) -> dict[str, Any]:
        """The base URL, the send URL and every (fake) credential."""
        attributes = self.attributes()
        return {
            "base_url": base_url,
            "messages_url": base_url + "/v1/messages",
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "signature_secret": self.signature_secret,
            "application_id": self.application_id,
            "private_key": attributes.get("vonage_private_key"),
        }

    def is_send(self, request: Request) -> bool:
        """Whether ``request`` creates a message (the requests faults match by default)."""
        return request.method == "POST" and request.path == "/v1/messages"

    def handle(self, request: Request) -> Response:
        """Authenticate, then route a request under ``/v1``."""
        application = self._authenticate(request)
        if isinstance(application, Response):
            return application
        if request.path != "/v1/messages":
            return problem(404, "not-found", "Not Found", f"{request.path} does not exist.")
        if request.method != "POST":
            return problem(405, "method-not-allowed", "Method Not Allowed", "Use POST.")
        return self._send(request, application)

    def edge_fault(self, fault: Fault) -> Response:
        """The answer to an injected ``http_error`` or ``rate_limit`` fault."""
        if fault.kind == "rate_limit":
            response = problem(429, "rate-limit", "Rate Limit Hit", "Please wait, then retry.")
            seconds = max(0, round(fault.params["retry_after"]))
            if seconds > 0:
                response.headers.append(("Retry-After", str(seconds)))
            return response
        status = int(fault.params["status"])
        if status in (502, 504):
            return gateway_error(status)
        title = "Service Unavailable" if status == 503 else "Internal Server Error"
        return json_response(status, {"type": ERRORS_URL, "title": title, "instance": new_uuid()})

    def _authenticate(self, request: Request) -> bool | Response:
        """``True`` for an application JWT, ``False`` for Basic auth, else the 401."""
        scheme, _, credentials = (request.header("authorization") or "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            key, _, secret = decoded.partition(":")
            expected = f"{self.api_key}:{self.api_secret}".encode()
            if key and hmac.compare_digest(f"{key}:{secret}".encode(), expected):
                return False
        detail = "You did not provide correct credentials."
        if scheme.lower() == "bearer" and credentials:
            detail = self._check_application_jwt(credentials) or ""
            if not detail:
                return True
        return problem(401, "unauthorized", "Unauthorized", detail)

    def _check_application_jwt(self, token: str) -> str | None:
        """Why ``token`` is not a valid application JWT of this account, or ``None``."""
        try:
            import jwt

            if self._public_key is None:
                from cryptography.hazmat.primitives.serialization import load_pem_private_key

                pem = self.private_key.encode()
                self._public_key = load_pem_private_key(pem, password=None).public_key()
        except ImportError:
            return "The emulator needs PyJWT[crypto] to check application JWTs: use Basic auth."
        try:
            needed = ["application_id", "iat", "jti"]
            claims = jwt.decode(token, self._public_key, ["RS256"], {"require": needed}, leeway=30)
        except jwt.PyJWTError as exc:
            return f"Invalid token: {exc}."
        if claims.get("application_id") != self.application_id:
            return "The token's application_id is not this account's application."
        return None

    def _send(self, request: Request, application: bool) -> Response:
        fields = _validate(request.body)
        if isinstance(fields, Response):
            return fields
        terminal, failing = self.state.faults.take_message(self.name)
        if terminal is not None and terminal.kind == "error_code":
            code, message = terminal.params["code"], terminal.params["message"]
            status = terminal.params["status"] or _FAULT_STATUSES.get(code, 422)
            return problem(status, code, message or f"Error {code}", "The request was rejected.")
        channel, text = fields["channel"], fields.get("text") or ""
        image = fields.get("image") or {}
        encoding, count = segments(text)
        record = MessageRecord(
            provider=self.name,
            id=new_uuid(),
            to=e164(fields["to"]),
            from_=e164(fields["from"]),
            text=text or image.get("caption") or "",
            media_urls=(image["url"],) if image else (),
            status="accepted",
            created_at=now(),
            callback_url=fields.get("webhook_url") or None,
            encoding=encoding,
            segments=1 if channel == "mms" else count,
            extra={"channel": channel, "client_ref": fields.get("client_ref"), "app": application},
        )
        self.state.add_message(record)
        if self.state.is_opted_out(self.name, record.to):
            steps = [Step("rejected", OPTED_OUT)]  # Vonage accepts it, then refuses it
        elif failing is None:
            steps = [Step("submitted"), Step("delivered")]
        else:
            status, code = failing.params["status"], failing.params["code"]
            handed_on = status == "rejected" and code in CARRIER_REJECTIONS
            steps = [Step("submitted")] if handed_on else []
            steps.append(Step(status, code))
        self.state.progress(record, steps, self.status_callback)
        if terminal is not None and terminal.kind == "accept_then_hang":
            return Response(action="hang")
        if terminal is not None:  # http_error with accept=True: accepted, but the answer is lost
            return self.edge_fault(terminal)
        return json_response(202, {"message_uuid": record.id})

    def status_callback(self, record: MessageRecord, step: Step) -> Delivery | None:
        """The signed status webhook, to the message's URL or its number's (``set_webhook``)."""
        url = record.callback_url or self.state.webhook_for(self.name, record.from_)
        if not url:
            return None
        body = status_body(record, step)
        application = self.application_id if record.extra.get("app") else None
        builder = self._builder(body, application)
        return Delivery(self.name, "status", step.status, record.id, (url,), builder)

    def inbound(
        self, from_: str, to: str, text: str, media_urls: tuple[str, ...], url: str
    ) -> Delivery:
        """The webhook Vonage sends when a handset texts one of our numbers."""
        body = inbound_body(from_, to, text, media_urls)
        builder = self._builder(body, self.application_id)
        return Delivery(self.name, "inbound", "inbound", body["message_uuid"], (url,), builder)

    def _builder(self, body: dict[str, Any], app: str | None) -> Builder:
        """Build each attempt: the same body, signed afresh (a new ``jti`` and ``iat``)."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        secret, api_key = self.signature_secret, self.api_key
        headers = {"Content-Type": "application/json", "User-Agent": "Vonage-Messages"}

        def build(url: str, attempt: int) -> tuple[bytes, dict[str, str]]:
            signed = sign_vonage(raw, signature_secret=secret, api_key=api_key, application_id=app)
            return raw, {**headers, **signed}

        return build


# -- errors and request checks (webhook bodies: ._payloads_vonage) ------------------------------


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    invalid: list[dict[str, str]] | None = None,
) -> Response:
    """An RFC 7807 problem: ``type`` names the code in its fragment (``…/messages#1150``)."""
    base = MESSAGES_URL if code[:1].isdigit() else ERRORS_URL
    body: dict[str, Any] = {
        "type": f"{base}#{code}",
        "title": title,
        "detail": detail,
        "instance": new_uuid(),
    }
    if invalid:
        body["invalid_parameters"] = invalid
    headers = [("WWW-Authenticate", 'Basic realm="Vonage"')] if status == 401 else []
    return json_response(status, body, headers)


def _invalid(name: str, reason: str, code: str = "1150", title: str = "Invalid params") -> Response:
    detail = "The value of one or more parameters is invalid."
    return problem(422, code, title, detail, [{"name": name, "reason": reason}])


def _validate(raw: bytes) -> dict[str, Any] | Response:
    """The send's JSON object, checked as Vonage checks it, or the 422 saying what is wrong."""
    try:
        fields = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        fields = None
    if not isinstance(fields, dict):
        title = "The request body did not contain valid JSON"
        return problem(422, "invalid-json", title, "Expected a JSON object.")
    channel, message_type = fields.get("channel"), fields.get("message_type")
    if channel not in _CHANNELS:
        return _invalid("channel", "must be sms or mms (the emulator speaks SMS and MMS).")
    if message_type != _CHANNELS[channel]:
        return _invalid("message_type", f"must be {_CHANNELS[channel]!r} for channel {channel}.")
    to, sender = fields.get("to"), fields.get("from")
    if not isinstance(to, str) or not _NUMBER.match(to):
        reason = "must be an E.164 number without a leading +."
        return _invalid("to", reason, "110", "Invalid recipient")
    alpha = channel == "sms" and isinstance(sender, str) and _ALPHA_SENDER.match(sender)
    if not isinstance(sender, str) or not (
        _NUMBER.match(sender) or _SHORT_CODE.match(sender) or alpha
    ):
        reason = "must be a number without a leading +, a short code or a sender ID."
        return _invalid("from", reason, "1120", "Invalid sender")
    if channel == "sms":
        text = fields.get("text")
        if not isinstance(text, str) or not text:
            return _invalid("text", "is required.")
        if len(text) > MAX_TEXT:
            return _invalid("text", f"must be at most {MAX_TEXT} characters.")
    else:
        image = fields.get("image")
        image = image if isinstance(image, dict) else {}
        url = image.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            return _invalid("image.url", "must be an http(s) URL.")
        if not isinstance(image.get("caption", ""), str):
            return _invalid("image.caption", "must be a string.")
    ref = fields.get("client_ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_CLIENT_REF):
        detail = f"The client reference can be a string of up to {MAX_CLIENT_REF} characters."
        return problem(422, "1060", "Invalid client reference", detail)
    hook = fields.get("webhook_url")
    if hook is not None and (
        not isinstance(hook, str) or urlsplit(hook).scheme not in ("http", "https")
    ):
        return _invalid("webhook_url", "must be an http(s) URL.")
    if fields.get("webhook_version", "v1") not in ("v0.1", "v1"):
        return _invalid("webhook_version", "must be v0.1 or v1.")
    return fields


PERSONALITY = VonagePersonality
"""The personality this module gives the emulator (found by ``discover``)."""
