"""The emulator's Telnyx: ``/v2/messages``, Idempotency-Key, and signed message webhooks.

* API: ``POST /v2/messages`` (and ``/number_pool``, ``/schedule``: send, replayed for a repeated
  ``Idempotency-Key``), ``GET``/``DELETE /v2/messages/{id}``; Bearer auth with the API key.
* Webhooks: JSON envelopes (``message.sent``, ``message.finalized``, ``message.received``)
  signed with Ed25519 (``telnyx-signature-ed25519``, ``telnyx-timestamp``), three attempts per
  URL, then the failover URL. Status events go to the message's ``webhook_url``, else to the
  webhook set for its sending number (``set_webhook``), as a messaging profile's would.
* Wire formats (the message record, event payloads and signed envelopes): ``._payloads_telnyx``.
* Options: ``telnyx_api_key``, ``telnyx_signing_seed`` (32 bytes: the Ed25519 key pair; fixed
  by default so an app in another process can be configured once) and ``telnyx_port``;
  attributes ``emu.telnyx_api_key``, ``emu.telnyx_public_key`` (and ``emu.telnyx_url``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import threading
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from smsbridge._models import MessageStatus
from smsbridge.providers.telnyx._signer import TelnyxKeyPair, make_telnyx_keypair
from smsbridge.providers.telnyx._statuses import TELNYX_STATUS
from smsbridge.testing.emulator import _schedule_telnyx as scheduling
from smsbridge.testing.emulator._common import (
    MessageRecord,
    Request,
    Response,
    Step,
    gateway_error,
    is_e164,
    is_sender,
    json_response,
    new_uuid,
    segments,
)
from smsbridge.testing.emulator._delivery import Delivery
from smsbridge.testing.emulator._faults import Fault
from smsbridge.testing.emulator._payloads_telnyx import envelope_builder, inbound_payload, payload
from smsbridge.testing.emulator._personality import Personality
from smsbridge.testing.emulator._state import EmulatorState

__all__ = ["PERSONALITY", "TelnyxPersonality"]

DEFAULT_API_KEY = "KEYEMULATOR_not_a_secret"  # fake: it opens nothing but this emulator
DEFAULT_SEED = hashlib.sha256(b"smsbridge emulator telnyx signing key v1").digest()
POOL_NUMBER = "+15005550007"  # the sender of messages sent through a messaging profile

ERRORS: dict[str, tuple[int, str, str]] = {
    "10003": (400, "Invalid URL", "The URL provided is not valid."),
    "10004": (400, "Missing required parameter", "A required parameter is missing."),
    "10005": (404, "Resource not found", "The requested resource or URL could not be found."),
    "10007": (500, "Unexpected error", "An unexpected error occurred."),
    "10009": (
        401,
        "Authentication failed",
        "The required authentication headers were either invalid or not included in the request.",
    ),
    "10011": (
        429,
        "Too many requests",
        "You have exceeded the maximum number of allowed requests.",
    ),
    "10015": (400, "Bad Request", "The request could not be understood."),
    "40300": (400, "Blocked due to STOP message", "Messages cannot be sent due to a block rule."),
    "40305": (400, "Invalid 'from' address", "The 'from' address is not a valid sender."),
    "40310": (400, "Invalid 'to' address", "The 'to' address should be in +E.164 format."),
}
_SEND_PATHS = ("/v2/messages", "/v2/messages/number_pool", scheduling.SCHEDULE_PATH)
_MESSAGE = re.compile(r"^/v2/messages/(?P<id>[^/]+)$")
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")
IDEMPOTENCY_TTL = 24 * 3600.0
_STRING_FIELDS: tuple[str, ...] = ("to", "from", "text", "subject", "messaging_profile_id")
_STRING_FIELDS += ("webhook_url", "webhook_failover_url", "type", "encoding", "send_at")
_BOOL_FIELDS = ("use_profile_webhooks", "auto_detect")
# Telnyx retries a failed webhook; three attempts per URL, then the failover URL.
WEBHOOK_ATTEMPTS = 3


class TelnyxPersonality(Personality):
    """Answers Telnyx Messaging v2 requests from the shared emulator state.

    Examples:
        Its options are ``Emulator`` keywords, its account the emulator's attributes:

        >>> from smsbridge.testing import Emulator
        >>> with Emulator(telnyx_signing_seed=b"\\x01" * 32) as emu:  # the same key every run
        ...     print(emu.telnyx_public_key)
        iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=
    """

    name: ClassVar[str] = "telnyx"
    title: ClassVar[str] = "Telnyx"
    rank: ClassVar[int] = 20
    path_prefixes: ClassVar[tuple[str, ...]] = ("/v2/",)
    options: ClassVar[Mapping[str, Any]] = {
        "telnyx_api_key": DEFAULT_API_KEY,
        "telnyx_signing_seed": None,  # bytes: seed of the webhook signing key pair
    }
    secret_options: ClassVar[tuple[str, ...]] = ("telnyx_api_key",)
    cli_options: ClassVar[Mapping[str, str]] = {
        "telnyx_api_key": "API key the emulator accepts",
    }
    statuses: ClassVar[Mapping[str, MessageStatus]] = TELNYX_STATUS
    delivery_failures: ClassVar[Mapping[str, str | None]] = {
        "delivery_failed": "40008",
        "sending_failed": "40008",
        "delivery_unconfirmed": None,
    }
    example_error_code: ClassVar[str] = "40300"

    def __init__(self, state: EmulatorState, options: Mapping[str, Any]) -> None:
        super().__init__(state, options)
        self.api_key: str = options["telnyx_api_key"]
        self.keys: TelnyxKeyPair = make_telnyx_keypair(
            options["telnyx_signing_seed"] or DEFAULT_SEED
        )
        # Serialises idempotent sends so two concurrent retries with one key make one message.
        self._idempotency_lock = threading.Lock()

    # -- the account ----------------------------------------------------------------------------

    def attributes(self) -> Mapping[str, str]:
        """``telnyx_api_key`` and ``telnyx_public_key`` (base64 Ed25519: verifies webhooks)."""
        return {"telnyx_api_key": self.api_key, "telnyx_public_key": self.keys.public_key_b64}

    def environment(self, base_url: str) -> dict[str, str]:
        """``TELNYX_BASE_URL``, ``TELNYX_API_KEY``, ``TELNYX_PUBLIC_KEY``, ``TELNYX_FROM``."""
        return {
            "TELNYX_BASE_URL": base_url,
            "TELNYX_API_KEY": self.api_key,
            "TELNYX_PUBLIC_KEY": self.keys.public_key_b64,
            "TELNYX_FROM": POOL_NUMBER,
        }

    def info(self, base_url: str) -> dict[str, Any]:
        """The base URL (without and with ``/v2``), the API key and the webhook public key."""
        return {
            "base_url": base_url,
            "api_base_url": base_url + "/v2",
            "api_key": self.api_key,
            "public_key": self.keys.public_key_b64,
        }

    # -- the API --------------------------------------------------------------------------------

    def is_send(self, request: Request) -> bool:
        """Whether ``request`` creates a message (the requests faults match by default)."""
        return request.method == "POST" and request.path in _SEND_PATHS

    def handle(self, request: Request) -> Response:
        """Route a request under ``/v2``."""
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        expected = self.api_key.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            return error("10009")
        if request.path in _SEND_PATHS:
            if request.method != "POST":
                return error("10005")
            key = request.header("idempotency-key")
            if key is None:
                return self._send(request, pool=request.path.endswith("number_pool"), key=None)
            with self._idempotency_lock:
                return self._idempotent_send(request, key)
        found = _MESSAGE.match(request.path)
        if found and request.method == "DELETE":
            return scheduling.cancel(self, found["id"])
        if found and request.method == "GET":
            record = self.state.get_message(self.name, found["id"])
            if record is not None:
                return json_response(200, {"data": payload(record)})
        return error("10005")

    def edge_fault(self, fault: Fault) -> Response:
        """The answer to an injected ``http_error`` or ``rate_limit`` fault."""
        if fault.kind == "rate_limit":
            response = error("10011")
            reset = str(max(0, math.ceil(fault.params["retry_after"])))
            response.headers += [
                ("x-ratelimit-limit", "100"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", reset),
            ]
            return response
        status = int(fault.params["status"])
        if status in (502, 504):
            return gateway_error(status)
        detail = "The service is temporarily unavailable." if status == 503 else None
        return error("10007", detail, status=status)

    def _idempotent_send(self, request: Request, key: str) -> Response:
        if not _IDEMPOTENCY_KEY.match(key):
            return error("10015", "Idempotency-Key must match ^[A-Za-z0-9_:-]{1,255}$.")
        stored = self.state.recall_answer((key, request.method, request.path), IDEMPOTENCY_TTL)
        if stored is not None:
            if stored["request_body"] != request.body:
                return error(
                    "10015",
                    "This Idempotency-Key was already used with a different request body.",
                    status=422,
                    title="Idempotency key conflict",
                )
            return Response(status=stored["status"], body=stored["body"])
        return self._send(request, pool=request.path.endswith("number_pool"), key=key)

    def _send(self, request: Request, *, pool: bool, key: str | None) -> Response:
        parsed = _parse_body(request.body)
        if isinstance(parsed, Response):
            return parsed
        fields = parsed
        to = fields.get("to") or ""
        from_ = fields.get("from") or ""
        profile = fields.get("messaging_profile_id")
        text = fields.get("text") or ""
        media = tuple(fields.get("media_urls") or ())
        hook = fields.get("webhook_url") or None
        failover = fields.get("webhook_failover_url") or None
        if not to:
            return error("10004", "The 'to' parameter is required.", pointer="/to")
        if not is_e164(to):
            return error("40310", pointer="/to")
        if pool and not profile:
            return error(
                "10004", "'messaging_profile_id' is required.", pointer="/messaging_profile_id"
            )
        if not from_ and not profile:
            return error(
                "10004", "'from' is required without a messaging_profile_id.", pointer="/from"
            )
        if from_ and not is_sender(from_):
            return error("40305", pointer="/from")
        if not text and not media:
            return error("10015", "Either 'text' or 'media_urls' is required.", pointer="/text")
        for name, url in (("webhook_url", hook), ("webhook_failover_url", failover)):
            if url and urlsplit(url).scheme not in ("http", "https"):
                return error("10003", f"'{name}' is not a valid URL.", pointer=f"/{name}")
        send_at = scheduling.send_at(request, fields, self.state.now())
        if isinstance(send_at, Response):
            return send_at
        if self.state.is_opted_out(self.name, to):
            return error("40300")
        terminal, failing = self.state.faults.take_message(self.name)
        if terminal is not None and terminal.kind == "error_code":
            params = terminal.params
            return error(params["code"], params["message"], status=params["status"])
        encoding, count = segments(text)
        record = MessageRecord(
            provider=self.name,
            id=new_uuid(),
            to=to,
            from_=from_ or POOL_NUMBER,
            text=text,
            media_urls=media,
            status=scheduling.SCHEDULED if send_at else "queued",
            created_at=self.state.now(),
            send_at=send_at,
            callback_url=hook,
            failover_url=failover,
            sender_pool=profile,
            idempotency_key=key,
            encoding=encoding,
            segments=1 if media else count,
            extra={"subject": fields.get("subject"), "tags": []},
        )
        self.state.add_message(record)
        status = failing.params["status"] if failing else "delivered"
        code = failing.params["code"] if failing else None
        steps = [] if status == "sending_failed" else [Step("sent")]
        scheduling.progress(self, record, [*steps, Step(status, code)])
        response = json_response(200, {"data": payload(record)})
        if key is not None:
            # Stored before answering: a client that never saw this answer can replay it.
            self.state.remember_answer((key, request.method, request.path), request.body, response)
        if terminal is not None and terminal.kind == "accept_then_hang":
            return Response(action="hang")
        if terminal is not None:  # http_error with accept=True
            return self.edge_fault(terminal)
        return response

    # -- webhooks -------------------------------------------------------------------------------

    def status_callback(self, record: MessageRecord, step: Step) -> Delivery | None:
        """``message.sent`` / ``message.finalized``, to the message's URL or its number's."""
        # Per-message URL first, else the sending number's (profile) webhook.
        primary = record.callback_url or self.state.webhook_for(self.name, record.from_)
        urls = tuple(url for url in (primary, record.failover_url) if url)
        if not urls:
            return None
        event_type = "message.finalized" if self.is_final(step.status) else "message.sent"
        builder = envelope_builder(event_type, payload(record, event=True), self.keys)
        return Delivery(self.name, "status", event_type, record.id, urls, builder, WEBHOOK_ATTEMPTS)

    def inbound(
        self, from_: str, to: str, text: str, media_urls: tuple[str, ...], url: str
    ) -> Delivery:
        """The ``message.received`` webhook Telnyx sends when a handset texts our number."""
        encoding, parts = segments(text)
        body = inbound_payload(from_, to, text, media_urls, url, encoding, parts)
        builder = envelope_builder("message.received", body, self.keys)
        return Delivery(self.name, "inbound", "message.received", body["id"], (url,), builder)


# -- errors and request bodies (messages and webhooks: ._payloads_telnyx) -----------------------


def error(
    code: str,
    detail: str | None = None,
    *,
    status: int | None = None,
    pointer: str | None = None,
    title: str | None = None,
) -> Response:
    """A Telnyx error response ``{"errors": [{code, title, detail, source?, meta}]}``."""
    default_status, default_title, default_detail = ERRORS.get(
        code, (400, f"Error {code}", "The request was rejected.")
    )
    item: dict[str, Any] = {
        "code": code,
        "title": title or default_title,
        "detail": detail or default_detail,
    }
    if pointer:
        item["source"] = {"pointer": pointer}
    item["meta"] = {"url": f"https://developers.telnyx.com/docs/overview/errors/{code}"}
    return json_response(status or default_status, {"errors": [item]})


def _parse_body(raw: bytes) -> dict[str, Any] | Response:
    """The JSON object of a send, type-checked, or the 10015 answer explaining what is wrong."""
    try:
        fields = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return error("10015", "The request body is not valid JSON.")
    if not isinstance(fields, dict):
        return error("10015", "The request body must be a JSON object.")
    for name in _STRING_FIELDS:
        if fields.get(name) is not None and not isinstance(fields[name], str):
            return error("10015", f"'{name}' must be a string.", pointer=f"/{name}")
    for name in _BOOL_FIELDS:
        if fields.get(name) is not None and not isinstance(fields[name], bool):
            return error("10015", f"'{name}' must be a boolean.", pointer=f"/{name}")
    media = fields.get("media_urls")
    if media is not None and not (
        isinstance(media, list) and all(isinstance(u, str) and u for u in media)
    ):
        return error("10015", "'media_urls' must be a list of URLs.", pointer="/media_urls")
    return fields


PERSONALITY = TelnyxPersonality
"""The personality this module gives the emulator (found by ``discover``)."""
