"""The emulator's Telnyx: ``/v2/messages``, Idempotency-Key, and signed message webhooks."""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from smsbridge.testing._emulator_common import (
    MessageRecord,
    Request,
    Response,
    Step,
    is_e164,
    is_sender,
    json_response,
    new_uuid,
    now,
    segments,
)
from smsbridge.testing._emulator_delivery import Delivery
from smsbridge.testing._emulator_state import TERMINAL, EmulatorState
from smsbridge.testing._emulator_telnyx_wire import (
    edge_fault_response,
    envelope_builder,
    error,
    inbound_payload,
    payload,
)

__all__ = ["TelnyxApi"]

_SEND_PATHS = ("/v2/messages", "/v2/messages/number_pool")
_MESSAGE = re.compile(r"^/v2/messages/(?P<id>[^/]+)$")
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")
IDEMPOTENCY_TTL = 24 * 3600.0
_STRING_FIELDS = (
    "to",
    "from",
    "text",
    "subject",
    "messaging_profile_id",
    "webhook_url",
    "webhook_failover_url",
    "type",
    "encoding",
    "send_at",
)
_BOOL_FIELDS = ("use_profile_webhooks", "auto_detect")
# Telnyx retries a failed webhook; three attempts per URL, then the failover URL.
WEBHOOK_ATTEMPTS = 3


class TelnyxApi:
    """Answers Telnyx Messaging v2 requests from the shared emulator state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.config = state.config
        # Serialises idempotent sends so two concurrent retries with one key make one message.
        self._idempotency_lock = threading.Lock()

    def is_send(self, request: Request) -> bool:
        """Whether ``request`` creates a message (the requests faults match by default)."""
        return request.method == "POST" and request.path in _SEND_PATHS

    def handle(self, request: Request) -> Response:
        """Route a request under ``/v2``."""
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        expected = self.config.telnyx_api_key.encode()
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
        if found and request.method == "GET":
            record = self.state.get_message("telnyx", found["id"])
            if record is not None:
                return json_response(200, {"data": payload(record)})
        return error("10005")

    def _idempotent_send(self, request: Request, key: str) -> Response:
        if not _IDEMPOTENCY_KEY.match(key):
            return error("10015", "Idempotency-Key must match ^[A-Za-z0-9_:-]{1,255}$.")
        slot = (key, request.method, request.path)
        with self.state.lock:
            stored = self.state.idempotency.get(slot)
            if stored is not None and time.monotonic() - stored["at"] > IDEMPOTENCY_TTL:
                del self.state.idempotency[slot]
                stored = None
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
        if self.state.is_opted_out("telnyx", to):
            return error("40300")
        terminal, failing = self.state.faults.take_message("telnyx")
        if terminal is not None and terminal.kind == "error_code":
            params = terminal.params
            return error(params["code"], params["message"], status=params["status"])
        encoding, count = segments(text)
        record = MessageRecord(
            provider="telnyx",
            id=new_uuid(),
            to=to,
            from_=from_ or self.config.telnyx_pool_number,
            text=text,
            media_urls=media,
            status="queued",
            created_at=now(),
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
        self.state.progress(record, [*steps, Step(status, code)], self._webhook)
        response = json_response(200, {"data": payload(record)})
        if key is not None:
            # Stored before answering: a client that never saw this answer can replay it.
            with self.state.lock:
                self.state.idempotency[(key, request.method, request.path)] = {
                    "request_body": request.body,
                    "status": response.status,
                    "body": response.body,
                    "at": time.monotonic(),
                }
        if terminal is not None and terminal.kind == "accept_then_hang":
            return Response(action="hang")
        if terminal is not None:  # http_error with accept=True
            return edge_fault_response(terminal)
        return response

    def _webhook(self, record: MessageRecord, step: Step) -> Delivery | None:
        # Per-message URL first, else the sending number's (profile) webhook.
        primary = record.callback_url or self.state.webhook_for("telnyx", record.from_)
        urls = tuple(url for url in (primary, record.failover_url) if url)
        if not urls:
            return None
        event_type = "message.finalized" if step.status in TERMINAL else "message.sent"
        builder = envelope_builder(event_type, payload(record, event=True), self.config.telnyx_keys)
        return Delivery("telnyx", "status", event_type, record.id, urls, builder, WEBHOOK_ATTEMPTS)

    def inbound(
        self, from_: str, to: str, text: str, media_urls: tuple[str, ...], url: str
    ) -> Delivery:
        """The ``message.received`` webhook Telnyx sends when a handset texts our number."""
        encoding, parts = segments(text)
        body = inbound_payload(from_, to, text, media_urls, url, encoding, parts)
        builder = envelope_builder("message.received", body, self.config.telnyx_keys)
        return Delivery("telnyx", "inbound", "message.received", body["id"], (url,), builder)


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
