"""Twilio Programmable Messaging: the send codec (REST API 2010-04-01).

Sends are form-encoded POSTs to ``/2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP
Basic auth (the account SID and auth token, or an API key SID and secret); media URLs repeat the
``MediaUrl`` field. Errors come back as ``{"code", "message", "more_info", "status"}``.

A scheduled send adds ``SendAt`` and ``ScheduleType=fixed`` and must go through a messaging
service; cancel and read-back by id (``Messages/{Sid}.json``) live in ``_manage``.
"""

from __future__ import annotations

import base64
import email.utils
import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import httpx

from smsbridge._errors import ConfigError, ProviderError, SchedulingUnavailable
from smsbridge._status import MessageStatus
from smsbridge.providers._base import (
    Capabilities,
    LookupInconclusive,
    Provider,
    Settings,
    WebhookCodec,
)
from smsbridge.providers._checks import TimeoutLike, check_credential
from smsbridge.providers._codes import make_error, parse_retry_after
from smsbridge.providers._manage import parse_time, text, utc
from smsbridge.providers.twilio import _manage
from smsbridge.providers.twilio._errors import TWILIO_SEND_CODES
from smsbridge.providers.twilio._keys import TwilioKeys, checked_shared_keys, parse_shared_keys
from smsbridge.providers.twilio._statuses import TWILIO_STATUS

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage, SendResult

__all__ = ["Twilio"]


_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_API_KEY_SID = re.compile(r"^SK[0-9a-fA-F]{32}$")

# Read-back (reconciliation after a failure that may hide an accepted message).
_PAGE_SIZE = 50
# A trial account's messages go out with this prefix; the rest must still equal the body.
_TRIAL_PREFIX = "Sent from your Twilio trial account - "
# Both clocks (the Date header, date_created) show whole seconds: the window opens this much
# before the first request, on Twilio's clock.
_MARGIN = timedelta(seconds=2)
# Without a Date header the clocks cannot be compared: allow this much difference instead.
_SKEW = timedelta(seconds=60)

# How far ahead a message can be scheduled. Twilio's pages disagree on the shortest lead: the
# newest error pages say "more than 300 seconds", others (including ones updated as recently)
# say 15 minutes. 900 s is the bound every page accepts: a lead between 5 and 15 minutes is
# refused here, before any request (routing can then pick a provider that takes it), rather
# than maybe refused by Twilio with 35114/35115 after the request.
_SCHEDULING = (timedelta(seconds=900), timedelta(days=35))
_NEEDS_SERVICE = (
    "scheduling on Twilio needs a messaging service (messaging_service_sid=...); "
    "from_ alone cannot schedule"
)


def _created(item: dict[str, Any]) -> datetime | None:
    """A listed message's ``date_created`` (RFC 2822), or ``None`` when absent or unreadable."""
    try:
        created = email.utils.parsedate_to_datetime(str(item["date_created"]))
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return created if created.tzinfo is not None else None


def _window_start(response: httpx.Response, since: datetime) -> datetime:
    """``since`` (our clock) as a time on Twilio's clock, less the margin both clocks need.

    Twilio's ``Date`` header says what its clock read when it answered; the difference to ours
    now moves ``since`` onto its clock, so a skewed local clock neither hides the message sent
    nor takes in an identical one sent earlier.
    """
    try:
        theirs = email.utils.parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        theirs = None
    if theirs is None or theirs.tzinfo is None:
        return since - _SKEW
    offset = theirs - datetime.fromtimestamp(time.time(), timezone.utc)
    return since + offset - _MARGIN


class Twilio(Provider):
    """Twilio, configured with an account and a sender.

    Examples:
        >>> from smsbridge.providers import Twilio
        >>> twilio = Twilio(
        ...     "AC0123456789abcdef0123456789abcdef", "your_auth_token", from_="+15017122661"
        ... )
        >>> twilio.name, twilio.base_url
        ('twilio', 'https://api.twilio.com')

        The same from the environment (``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``,
        ``TWILIO_FROM``, ...):

        >>> twilio = Twilio.from_settings(os.environ)

    Args:
        account_sid: the ``AC…`` account SID (the URL path and, without an API key, the user).
        auth_token: the account's auth token; also the key of webhook signatures.
        from_: default sender (number, short code or alphanumeric ID).
        messaging_service_sid: ``MG…`` service to send from when there is no ``from_``.
        api_key: an API key SID (``SK…``) to authenticate sends instead of the auth token.
        api_secret: the API key's secret (with ``api_key``).
        shared_keys: SharedKey id -> secret for HMAC-SHA256 webhook signatures.
        base_url: scheme, host and port the documented paths are appended to.
        timeout: seconds, or an ``httpx.Timeout``.
        capabilities: what this account can do, instead of ``default_capabilities``.
        senders: other senders this account owns, so ``send(from_=...)`` with one of them
            routes here.
    """

    name: ClassVar[str] = "twilio"
    default_base_url: ClassVar[str] = "https://api.twilio.com"
    # Twilio's Messages API takes no idempotency key (a repeated request may send twice), but
    # its sent messages can be listed and compared (read-back). Scheduled messages (through a
    # messaging service) can be cancelled, and any message read back by its SID.
    default_capabilities: ClassVar[Capabilities] = Capabilities(
        read_back=True, scheduling=_SCHEDULING, cancel=True, fetch=True
    )
    settings: ClassVar[Settings] = Settings(
        variables={
            "TWILIO_ACCOUNT_SID": "account_sid",
            "TWILIO_AUTH_TOKEN": "auth_token",
            "TWILIO_FROM": "from_",
            "TWILIO_MESSAGING_SERVICE_SID": "messaging_service_sid",
            "TWILIO_API_KEY": "api_key",
            "TWILIO_API_SECRET": "api_secret",
            "TWILIO_BASE_URL": "base_url",
            "TWILIO_TIMEOUT": "timeout",
            "TWILIO_SHARED_KEYS": "shared_keys",
        },
        required=("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
        readers={"timeout": float, "shared_keys": parse_shared_keys},
    )

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        shared_keys: Mapping[str, str] | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike | None = None,
        capabilities: Capabilities | None = None,
        senders: tuple[str, ...] = (),
    ) -> None:
        if not account_sid or not _ACCOUNT_SID.fullmatch(account_sid):
            raise ConfigError(
                "Twilio account_sid must be 'AC' followed by 32 hex digits",
                variable="TWILIO_ACCOUNT_SID",
            )
        check_credential(auth_token, "TWILIO_AUTH_TOKEN", "Twilio auth_token")
        if messaging_service_sid and not _SERVICE_SID.fullmatch(messaging_service_sid):
            raise ConfigError(
                "Twilio messaging_service_sid must be 'MG' followed by 32 hex digits",
                variable="TWILIO_MESSAGING_SERVICE_SID",
            )
        if bool(api_key) != bool(api_secret):
            raise ConfigError(
                "Twilio api_key and api_secret go together",
                variable="TWILIO_API_SECRET" if api_key else "TWILIO_API_KEY",
            )
        if api_key and not _API_KEY_SID.fullmatch(api_key):
            raise ConfigError(
                "Twilio api_key must be 'SK' followed by 32 hex digits", variable="TWILIO_API_KEY"
            )
        if api_secret:
            check_credential(api_secret, "TWILIO_API_SECRET", "Twilio api_secret")
        keys = checked_shared_keys(shared_keys)
        super().__init__(
            from_=from_,
            base_url=base_url,
            timeout=timeout,
            capabilities=capabilities,
            senders=senders,
        )
        self.account_sid = account_sid
        self.messaging_service_sid = messaging_service_sid
        self.api_key = api_key
        self._auth_token = auth_token
        self._shared_keys = keys
        # Keyed once here: every webhook then only copies a keyed HMAC.
        self.webhook_keys = TwilioKeys(auth_token, keys)
        user, password = (
            (api_key, api_secret) if api_key and api_secret else (account_sid, auth_token)
        )
        self._authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._url = self._endpoint(f"/2010-04-01/Accounts/{account_sid}/Messages.json")

    @classmethod
    def webhook_codec(cls) -> WebhookCodec:
        """Twilio's webhook codec (HMAC signatures, form and JSON webhooks, TwiML answers)."""
        from smsbridge.providers.twilio._webhook import CODEC

        return CODEC

    @property
    def auth_token(self) -> str:
        """The auth token (webhook signing key). Not shown in reprs."""
        return self._auth_token

    @property
    def shared_keys(self) -> dict[str, str]:
        """SharedKey id -> secret for HMAC-SHA256 webhook signatures (a copy)."""
        return dict(self._shared_keys)

    def identity(self) -> tuple[str, ...]:
        """The account SID and messaging service SID (part of the breaker key)."""
        return (self.account_sid, self.messaging_service_sid or "")

    def owns_sender(self, from_: str) -> bool:
        """A number configured here, or the messaging service SID itself."""
        return from_ in self.senders or from_ == self.messaging_service_sid

    def scheduling_problem(self, send_at: datetime, now: datetime) -> str | None:
        """Twilio schedules only through a messaging service: given just a ``From`` number it
        would drop ``SendAt`` and send at once. Then the window, on the whole second that
        ``SendAt`` carries."""
        if not self.messaging_service_sid:
            return _NEEDS_SERVICE
        return super().scheduling_problem(send_at.replace(microsecond=0), now)

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        """A form POST to Messages.json.

        A scheduled message (``send_at``) goes through the messaging service
        (``MessagingServiceSid``), with ``From`` as well when its sender is a number: Twilio
        then sends from that number of the service's pool. It adds ``SendAt`` (UTC, whole
        seconds) and ``ScheduleType=fixed``.

        Raises:
            SchedulingUnavailable: ``send_at`` without a messaging service configured.
            InvalidRequest: ``send_at`` without a time zone.
        """
        params: list[tuple[str, str]] = [("To", message.to)]
        sender = message.from_ or self.from_
        if message.send_at is not None:
            if not self.messaging_service_sid:
                raise SchedulingUnavailable(_NEEDS_SERVICE, provider=self.name)
            params.append(("MessagingServiceSid", self.messaging_service_sid))
            if sender and sender != self.messaging_service_sid:
                params.append(("From", sender))
        elif sender and sender == self.messaging_service_sid:
            params.append(("MessagingServiceSid", sender))
        elif sender:
            params.append(("From", sender))
        elif self.messaging_service_sid:
            params.append(("MessagingServiceSid", self.messaging_service_sid))
        else:
            raise ConfigError(
                "Twilio needs from_ or messaging_service_sid to send", variable="TWILIO_FROM"
            )
        if message.body:
            params.append(("Body", message.body))
        params.extend(("MediaUrl", url) for url in message.media_urls)
        if message.status_callback:
            params.append(("StatusCallback", message.status_callback))
        if message.send_at is not None:
            send_at = utc(self.name, message.send_at)
            params.append(("SendAt", f"{send_at:%Y-%m-%dT%H:%M:%SZ}"))
            params.append(("ScheduleType", "fixed"))
        return self._request(
            self._url,
            content=urlencode(params).encode(),
            headers={
                "Authorization": self._authorization,
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )

    def parse_response(self, response: httpx.Response, message: OutboundMessage) -> SendResult:
        """201 with a Message object, or the typed error of Twilio's error body."""
        payload = self._json(response)
        if response.status_code in (200, 201) and isinstance(payload, dict) and "sid" in payload:
            return self._result(payload, message)
        raise self.error_from(response, payload)

    def error_from(
        self,
        response: httpx.Response,
        payload: Any,
        table: Mapping[str, str] = TWILIO_SEND_CODES,
        by_status: Mapping[int, str] | None = None,
    ) -> ProviderError:
        """The typed error for an unsuccessful answer, classified with ``table`` (and
        ``by_status`` for codes it does not know: see ``make_error``)."""
        if not isinstance(payload, dict):
            return self.unexpected(response)
        code = payload.get("code")
        detail = payload.get("message") or payload.get("detail") or payload.get("title") or ""
        return make_error(
            self.name,
            table,
            provider_code=str(code) if code is not None else None,
            http_status=response.status_code,
            detail=str(detail),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            by_status=by_status,
        )

    # -- cancel and read-back by id (see _manage) ----------------------------------------
    def build_cancel_request(self, provider_message_id: str) -> httpx.Request:
        """A form POST of ``Status=canceled`` to ``Messages/{Sid}.json``."""
        return _manage.cancel_request(self, provider_message_id)

    def parse_cancel(self, response: httpx.Response, provider_message_id: str) -> SendResult:
        """The message, now ``canceled``; 30409 is NotCancellable, 20404 MessageNotFound."""
        return _manage.parse_cancel(self, response, provider_message_id)

    def build_fetch_request(self, provider_message_id: str) -> httpx.Request:
        """A GET of ``Messages/{Sid}.json``."""
        return _manage.fetch_request(self, provider_message_id)

    def parse_fetch(self, response: httpx.Response, provider_message_id: str) -> SendResult:
        """The message as Twilio has it; 20404 is MessageNotFound."""
        return _manage.parse_fetch(self, response, provider_message_id)

    # -- reconciliation after an ambiguous failure (see docs/failover.md) ----------------
    def build_lookup_request(self, message: OutboundMessage, since: datetime) -> httpx.Request:
        """A GET of the latest messages to ``message.to`` from its sender.

        No ``DateSent>=`` filter: a message Twilio accepted moments ago is still queued and
        has no ``date_sent``, so that filter would hide exactly the message looked for.
        ``since`` is checked against ``date_created`` by ``parse_lookup`` instead.
        """
        params = [("To", message.to)]
        sender = message.from_ or self.from_
        # A scheduled message has no "from" until it goes out: a From filter would hide it.
        if sender and sender != self.messaging_service_sid and message.send_at is None:
            params.append(("From", sender))
        params.append(("PageSize", "50"))
        return httpx.Request(
            "GET",
            f"{self._url}?{urlencode(params)}",
            headers={"Authorization": self._authorization, "Accept": "application/json"},
            extensions={"timeout": self._timeout_ext},
        )

    def parse_lookup(
        self, response: httpx.Response, message: OutboundMessage, since: datetime | None = None
    ) -> SendResult | None:
        """The listed message that is exactly ``message``, or ``None`` when none is.

        Exactly: the same recipient and sender (or messaging service), the whole body equal
        (Twilio's trial-account prefix aside), the same number of media, and created at or
        after ``since`` (the first request's time, moved onto Twilio's clock with the
        answer's ``Date`` header: see ``_window_start``).

        Raises:
            LookupInconclusive: a message matches everything the listing shows but cannot be
                told apart for sure: Twilio does not list the media URLs a message was sent
                with, so a message with media is never taken as found; a listed message
                without a readable creation date; a full page whose oldest message is still
                inside the window (the one sent may be on the next page).
            ProviderError: the listing itself failed.
        """
        payload = self._json(response)
        items = payload.get("messages") if isinstance(payload, dict) else None
        if response.status_code != 200 or not isinstance(items, list):
            raise self.error_from(response, payload)
        start = None if since is None else _window_start(response, since)
        unsure: str | None = None
        for item in items:
            if not isinstance(item, dict) or not item.get("sid"):
                continue
            verdict = self._compare(item, message, start)
            if verdict == "same":
                return self._result(item, message)
            if verdict != "different":
                unsure = verdict
        if unsure is not None:
            raise LookupInconclusive(unsure)
        if start is not None and len(items) >= _PAGE_SIZE:
            oldest = _created(items[-1]) if isinstance(items[-1], dict) else None
            if oldest is None or oldest >= start:
                raise LookupInconclusive("the listing has more messages than one page shows")
        return None

    def _compare(
        self, item: dict[str, Any], message: OutboundMessage, start: datetime | None
    ) -> str:
        """``"same"``, ``"different"``, or why the two cannot be told apart."""
        if item.get("to") != message.to:
            return "different"
        if not str(item.get("direction", "outbound")).startswith("outbound"):
            return "different"
        sender = message.from_ or self.from_
        if message.send_at is not None:
            # Scheduled: always through the service, and no "from" until it goes out.
            if item.get("messaging_service_sid") != self.messaging_service_sid:
                return "different"
            numbered = sender and sender != self.messaging_service_sid
            if numbered and item.get("from") not in (None, "", sender):
                return "different"
        elif sender and sender != self.messaging_service_sid:
            if item.get("from") != sender:
                return "different"
        elif item.get("messaging_service_sid") != self.messaging_service_sid:
            return "different"
        body = item.get("body") or ""
        if body != message.body and body != _TRIAL_PREFIX + message.body:
            return "different"
        try:
            num_media = int(item.get("num_media") or 0)
        except (TypeError, ValueError):
            return "a listed message has an unreadable num_media"
        if num_media != len(message.media_urls):
            return "different"
        if start is not None:
            created = _created(item)
            if created is None:
                return "a listed message has no readable date_created"
            if created < start:
                return "different"
        if message.media_urls:
            return "Twilio does not list the media URLs a message was sent with"
        return "same"

    def _result(self, payload: dict[str, Any], message: OutboundMessage) -> SendResult:
        segments = message.segments
        raw_status = text(payload.get("status"))
        # A scheduled send whose answer shows no status is still a scheduled one.
        default = MessageStatus.SCHEDULED if message.send_at else MessageStatus.QUEUED
        status = TWILIO_STATUS.get(raw_status or "", default)
        # Twilio's Message carries no send time: a scheduled one is held until the SendAt
        # sent (whole seconds), unless the answer says otherwise.
        send_at = parse_time(payload.get("send_at"))
        if send_at is None and status is MessageStatus.SCHEDULED and message.send_at:
            send_at = utc(self.name, message.send_at).replace(microsecond=0)
        from smsbridge._models import SendResult  # at first use: see smsbridge._models

        return SendResult(
            provider=self.name,
            provider_message_id=str(payload["sid"]),
            status=status,
            to=str(payload.get("to") or message.to),
            from_=payload.get("from") or message.from_ or self.from_,
            segments=_manage.count(payload.get("num_segments"))
            or (segments.segments if segments else None),
            encoding=segments.encoding if segments else None,
            reference=message.reference,
            send_at=send_at,
            raw_status=raw_status,
            error_code=text(payload.get("error_code")),
            raw=payload,
        )
