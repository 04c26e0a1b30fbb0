"""Telnyx Messaging API v2: the send codec.

Sends are JSON POSTs to ``/v2/messages`` with ``Authorization: Bearer <API key>``. Every send
carries an ``Idempotency-Key`` (derived from the caller's key, or the message's own id), and the
body is serialised deterministically so a retry repeats the exact bytes Telnyx compares.
Errors come back as ``{"errors": [{"code": "<string>", "title", "detail"}]}``.

A scheduled send adds ``send_at`` (UTC, whole minutes: Telnyx schedules to the minute);
cancel and read-back by id (``/v2/messages/{id}``) live in ``_manage``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from smsbridge._errors import ConfigError, ProviderError
from smsbridge._status import MessageStatus
from smsbridge.providers._base import Capabilities, Provider, Settings, WebhookCodec
from smsbridge.providers._checks import TimeoutLike, check_credential
from smsbridge.providers._codes import make_error, parse_retry_after
from smsbridge.providers._manage import parse_time, text, utc
from smsbridge.providers.telnyx import _manage
from smsbridge.providers.telnyx._errors import TELNYX_CODES
from smsbridge.providers.telnyx._statuses import TELNYX_STATUS

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage, SendResult

__all__ = ["Telnyx", "idempotency_header"]


_KEY_OK = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")
_PROFILE_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _to_minute(send_at: datetime) -> datetime:
    """``send_at`` cut to the whole minute, in UTC when it has a zone: Telnyx holds a message
    to the minute, so this is the time it will keep (and the time the window is checked on)."""
    if send_at.tzinfo is not None:
        send_at = send_at.astimezone(timezone.utc)
    return send_at.replace(second=0, microsecond=0)


def idempotency_header(key: str) -> str:
    """A key Telnyx accepts (``[A-Za-z0-9_:-]{1,255}``): the key itself, or a digest of it."""
    if _KEY_OK.fullmatch(key):
        return key
    return "sb:" + hashlib.sha256(key.encode()).hexdigest()


class Telnyx(Provider):
    """Telnyx, configured with an API key and a sender.

    Examples:
        >>> from smsbridge.providers import Telnyx
        >>> telnyx = Telnyx(
        ...     "KEY0123456789ABCDEF",
        ...     public_key=os.environ["TELNYX_PUBLIC_KEY"],  # the portal's webhook public key
        ...     from_="+15017122662",
        ... )
        >>> telnyx.name, telnyx.capabilities.idempotency
        ('telnyx', True)

        The same from the environment (``TELNYX_API_KEY``, ``TELNYX_PUBLIC_KEY``,
        ``TELNYX_FROM``, ...):

        >>> telnyx = Telnyx.from_settings(os.environ)

    Args:
        api_key: the v2 API key (Bearer token).
        public_key: base64 of the account's 32-byte Ed25519 key, to verify webhooks.
        from_: default sender number or alphanumeric ID.
        messaging_profile_id: profile to send from when there is no ``from_`` (number pool).
        base_url: scheme, host and port the documented paths are appended to.
        timeout: seconds, or an ``httpx.Timeout``.
        capabilities: what this account can do, instead of ``default_capabilities``.
        senders: other senders this account owns, so ``send(from_=...)`` with one of them
            routes here.
    """

    name: ClassVar[str] = "telnyx"
    default_base_url: ClassVar[str] = "https://api.telnyx.com"
    # Every send carries an Idempotency-Key over byte-identical JSON: repeating one is safe.
    # A message can be held 5 minutes to 5 days ahead, cancelled while it waits, and read back
    # by its id.
    default_capabilities: ClassVar[Capabilities] = Capabilities(
        idempotency=True,
        scheduling=(timedelta(minutes=5), timedelta(days=5)),
        cancel=True,
        fetch=True,
    )
    settings: ClassVar[Settings] = Settings(
        variables={
            "TELNYX_API_KEY": "api_key",
            "TELNYX_PUBLIC_KEY": "public_key",
            "TELNYX_FROM": "from_",
            "TELNYX_MESSAGING_PROFILE_ID": "messaging_profile_id",
            "TELNYX_BASE_URL": "base_url",
            "TELNYX_TIMEOUT": "timeout",
        },
        required=("TELNYX_API_KEY",),
    )

    def __init__(
        self,
        api_key: str,
        *,
        public_key: str | None = None,
        from_: str | None = None,
        messaging_profile_id: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike | None = None,
        capabilities: Capabilities | None = None,
        senders: tuple[str, ...] = (),
    ) -> None:
        check_credential(api_key, "TELNYX_API_KEY", "Telnyx api_key")
        if messaging_profile_id is not None and not _PROFILE_ID.fullmatch(messaging_profile_id):
            raise ConfigError(
                "Telnyx messaging_profile_id must be a UUID",
                variable="TELNYX_MESSAGING_PROFILE_ID",
            )
        public_key_bytes: bytes | None = None
        if public_key:
            try:
                raw = base64.b64decode(public_key, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ConfigError(
                    "Telnyx public_key must be base64 of a 32-byte Ed25519 key",
                    variable="TELNYX_PUBLIC_KEY",
                )
            public_key_bytes = raw
        super().__init__(
            from_=from_,
            base_url=base_url,
            timeout=timeout,
            capabilities=capabilities,
            senders=senders,
        )
        self.public_key = public_key
        self._public_key_bytes = public_key_bytes
        self.messaging_profile_id = messaging_profile_id
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._url = self._endpoint("/v2/messages")

    @property
    def public_key_bytes(self) -> bytes | None:
        """The raw 32-byte Ed25519 key webhooks are verified with (``None``: every webhook is
        refused). Fixed at construction: build a new provider to change it."""
        return self._public_key_bytes

    def identity(self) -> tuple[str, ...]:
        """The messaging profile id (part of the breaker key), in the third slot: the first
        two are Twilio's in the layout breaker ids have always had."""
        return ("", "", self.messaging_profile_id or "")

    @classmethod
    def webhook_codec(cls) -> WebhookCodec:
        """Telnyx's webhook codec (Ed25519 signatures, Messaging v2 events)."""
        from smsbridge.providers.telnyx._webhook import CODEC

        return CODEC

    def scheduling_problem(self, send_at: datetime, now: datetime) -> str | None:
        """The window, checked on ``send_at`` cut to the minute (what Telnyx will hold): a
        time 5 minutes and 30 seconds ahead is held for 5 minutes ahead, which is refused."""
        return super().scheduling_problem(_to_minute(send_at), now)

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        """A JSON POST to /v2/messages with an Idempotency-Key; ``send_at`` (UTC, cut to the
        minute) for a scheduled message.

        Raises:
            InvalidRequest: ``send_at`` without a time zone.
        """
        body: dict[str, Any] = {"to": message.to}
        sender = message.from_ or self.from_
        if sender:
            body["from"] = sender
        if self.messaging_profile_id:
            body["messaging_profile_id"] = self.messaging_profile_id
        elif not sender:
            raise ConfigError(
                "Telnyx needs from_ or messaging_profile_id to send", variable="TELNYX_FROM"
            )
        if message.body:
            body["text"] = message.body
        if message.media_urls:
            body["media_urls"] = list(message.media_urls)
        body["type"] = "MMS" if message.media_urls else "SMS"
        if message.status_callback:
            body["webhook_url"] = message.status_callback
        if message.send_at is not None:
            send_at = _to_minute(utc(self.name, message.send_at))
            body["send_at"] = f"{send_at:%Y-%m-%dT%H:%M:%SZ}"
        key = idempotency_header(message.idempotency_key or message.message_id)
        # Fixed key order and separators: a retry must resend byte-identical JSON, or Telnyx
        # answers 422 for the reused key.
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return self._request(
            self._url, content=content, headers={**self._headers, "Idempotency-Key": key}
        )

    def parse_response(self, response: httpx.Response, message: OutboundMessage) -> SendResult:
        """200 with ``{"data": message}``, or the typed error of the ``errors[]`` body."""
        payload = self._json(response)
        if response.status_code < 300 and isinstance(payload, dict):
            data = payload.get("data")
            if isinstance(data, dict) and data.get("id"):
                return self._result(data, message)
        raise self.error_from(response, payload)

    def error_from(
        self,
        response: httpx.Response,
        payload: Any,
        table: Mapping[str, str] = TELNYX_CODES,
        by_status: Mapping[int, str] | None = None,
    ) -> ProviderError:
        """The typed error for an unsuccessful answer, classified on ``errors[0].code`` with
        ``table`` (and ``by_status`` for codes it does not know: see ``make_error``)."""
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
            return self.unexpected(response)
        first = errors[0]
        code = first.get("code")
        detail = " - ".join(str(first[k]) for k in ("title", "detail") if first.get(k))
        headers = response.headers
        retry_after = parse_retry_after(headers.get("Retry-After"))
        # x-ratelimit-reset comes on every answer; it is a wait only when we were throttled.
        if retry_after is None and response.status_code == 429:
            retry_after = parse_retry_after(headers.get("x-ratelimit-reset"))
        return make_error(
            self.name,
            table,
            provider_code=str(code) if code is not None else None,
            http_status=response.status_code,
            detail=detail,
            retry_after=retry_after,
            by_status=by_status,
        )

    # -- cancel and read-back by id (see _manage) ----------------------------------------
    def build_cancel_request(self, provider_message_id: str) -> httpx.Request:
        """A DELETE of ``/v2/messages/{id}``."""
        return _manage.cancel_request(self, provider_message_id)

    def parse_cancel(self, response: httpx.Response, provider_message_id: str) -> SendResult:
        """The message, now ``canceled``; too late is NotCancellable, 404 MessageNotFound."""
        return _manage.parse_cancel(self, response, provider_message_id)

    def build_fetch_request(self, provider_message_id: str) -> httpx.Request:
        """A GET of ``/v2/messages/{id}``."""
        return _manage.fetch_request(self, provider_message_id)

    def parse_fetch(self, response: httpx.Response, provider_message_id: str) -> SendResult:
        """The message as Telnyx has it; 404 is MessageNotFound."""
        return _manage.parse_fetch(self, response, provider_message_id)

    def _result(self, data: dict[str, Any], message: OutboundMessage) -> SendResult:
        first = _manage.first_recipient(data)
        from_ = _manage.sender(data)
        segments = message.segments
        parts = data.get("parts")
        encoding = data.get("encoding")
        raw_status = text(first.get("status"))
        # A scheduled send whose answer shows no status is still a scheduled one.
        default = MessageStatus.SCHEDULED if message.send_at else MessageStatus.QUEUED
        status = TELNYX_STATUS.get(raw_status or "", default)
        # The message payload has no send time: a scheduled one is held until the minute sent,
        # unless the answer says otherwise.
        send_at = parse_time(data.get("send_at"))
        if send_at is None and status is MessageStatus.SCHEDULED and message.send_at:
            send_at = _to_minute(utc(self.name, message.send_at))
        from smsbridge._models import SendResult  # at first use: see smsbridge._models

        return SendResult(
            provider=self.name,
            provider_message_id=str(data["id"]),
            status=status,
            to=str(first.get("phone_number") or message.to),
            from_=from_ or message.from_ or self.from_,
            segments=parts if isinstance(parts, int) else (segments.segments if segments else None),
            encoding=encoding
            if encoding in ("GSM-7", "UCS-2")
            else (segments.encoding if segments else None),
            reference=message.reference,
            send_at=send_at,
            raw_status=raw_status,
            error_code=_manage.error_code(data),
            raw=data,
        )
