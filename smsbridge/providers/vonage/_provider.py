"""Vonage Messages API (v1): the send codec.

Sends are JSON POSTs to ``/v1/messages``, authenticated with an application JWT (RS256, the
application's private key) or HTTP Basic (API key and secret). An SMS is ``channel: sms``,
``message_type: text``; an MMS carries one image (``channel: mms``, ``message_type: image``).
Numbers travel in E.164 without the ``+``. Vonage answers 202 ``{"message_uuid"}``, or an RFC
7807 problem (``type``, ``title``, ``detail``, ``instance``, ``invalid_parameters``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from smsbridge._errors import ConfigError, InvalidRequest, ProviderError
from smsbridge._status import MessageStatus
from smsbridge.providers._base import Capabilities, Provider, Settings, WebhookCodec
from smsbridge.providers._checks import TimeoutLike, check_credential
from smsbridge.providers._codes import make_error, parse_retry_after
from smsbridge.providers.vonage._auth import (
    AppToken,
    basic_authorization,
    load_private_key,
    require_jwt,
)
from smsbridge.providers.vonage._errors import code_from_type, send_category

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage, SendResult

__all__ = ["MAX_CLIENT_REF", "MAX_TEXT", "Vonage"]

# Vonage's limits (Messages API reference; vonage-python-sdk's models check the same).
MAX_CLIENT_REF = 100
MAX_TEXT = 1000


def _wire_number(value: str) -> str:
    """An E.164 number without its ``+``; short codes and alphanumeric senders as they are."""
    return value[1:] if value.startswith("+") else value


class Vonage(Provider):
    """Vonage, configured with an application (JWT) or an API key and secret, and a sender.

    Examples:
        With an application (sends authenticate with a JWT):

        >>> from smsbridge.providers import Vonage
        >>> vonage = Vonage(
        ...     application_id="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
        ...     private_key="private.key",  # the path of the application's PEM file, or its text
        ...     signature_secret=os.environ["VONAGE_SIGNATURE_SECRET"],
        ...     from_="+14155550100",
        ... )

        With the account's API key and secret (HTTP Basic auth):

        >>> vonage = Vonage("abcd1234", "your_api_secret", from_="+14155550100")

    Args:
        api_key: the account's API key (HTTP Basic auth, with ``api_secret``).
        api_secret: the account's API secret.
        application_id: a Vonage application's id; with ``private_key``, sends use a JWT,
            which Vonage recommends (status webhooks then go to the application's URLs). Used
            when both pairs are given.
        private_key: the application's RSA private key: PEM text or the path of a PEM file.
        signature_secret: the account's signature secret, which signs webhooks (not the API
            secret). Without it every webhook is refused.
        from_: default sender number or alphanumeric ID.
        base_url: scheme, host and port the documented paths are appended to.
        timeout: seconds, or an ``httpx.Timeout``.
        capabilities: what this account can do, instead of ``default_capabilities``.
        senders: other senders this account owns, so ``send(from_=...)`` with one of them
            routes here.
    """

    name: ClassVar[str] = "vonage"
    default_base_url: ClassVar[str] = "https://api.nexmo.com"
    # No idempotency key, no listing of sent messages, no scheduling (protocols.md 12-13).
    default_capabilities: ClassVar[Capabilities] = Capabilities()
    settings: ClassVar[Settings] = Settings(
        variables={
            "VONAGE_API_KEY": "api_key",
            "VONAGE_API_SECRET": "api_secret",
            "VONAGE_APPLICATION_ID": "application_id",
            "VONAGE_PRIVATE_KEY": "private_key",
            "VONAGE_SIGNATURE_SECRET": "signature_secret",
            "VONAGE_FROM": "from_",
            "VONAGE_BASE_URL": "base_url",
            "VONAGE_TIMEOUT": "timeout",
        },
        readers={"timeout": float},
    )

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        application_id: str | None = None,
        private_key: str | bytes | None = None,
        signature_secret: str | None = None,
        from_: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike | None = None,
        capabilities: Capabilities | None = None,
        senders: tuple[str, ...] = (),
    ) -> None:
        require_jwt()  # receiving needs it whatever the auth: say so now, not on a webhook
        token: AppToken | None = None
        if application_id or private_key:
            if not private_key:
                raise ConfigError(
                    "Vonage application_id needs private_key", variable="VONAGE_PRIVATE_KEY"
                )
            app = check_credential(application_id, "VONAGE_APPLICATION_ID", "Vonage application_id")
            token = AppToken(app, load_private_key(private_key))
        elif not (api_key or api_secret):
            raise ConfigError(
                "Vonage needs VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY, or VONAGE_API_KEY "
                "and VONAGE_API_SECRET",
                variable="VONAGE_APPLICATION_ID",
            )
        # With an application the key alone may be given (it names the account); a secret
        # always needs its key, and Basic auth needs both.
        key = ""
        if api_key or api_secret:
            key = check_credential(api_key, "VONAGE_API_KEY", "Vonage api_key")
        basic = ""
        if api_secret or token is None:
            secret = check_credential(api_secret, "VONAGE_API_SECRET", "Vonage api_secret")
            basic = basic_authorization(key, secret)
        if signature_secret is not None:
            check_credential(signature_secret, "VONAGE_SIGNATURE_SECRET", "Vonage signature_secret")
        super().__init__(
            from_=from_,
            base_url=base_url,
            timeout=timeout,
            capabilities=capabilities,
            senders=senders,
        )
        self.api_key = api_key
        self.application_id = application_id
        self._token = token
        self._basic = basic
        self._signature_secret = signature_secret or None
        self._url = self._endpoint("/v1/messages")

    @property
    def auth(self) -> str:
        """``"jwt"`` (application token) or ``"basic"`` (API key and secret)."""
        return "jwt" if self._token is not None else "basic"

    @property
    def signature_secret(self) -> str | None:
        """The secret webhooks are verified with (``None``: every webhook is refused). Not
        shown in reprs."""
        return self._signature_secret

    @classmethod
    def webhook_codec(cls) -> WebhookCodec:
        """Vonage's webhook codec (HS256 JWT signatures, Messages API v1 events)."""
        from smsbridge.providers.vonage._webhook import CODEC

        return CODEC

    def can_send(self, message: OutboundMessage) -> bool:
        """What the base checks, and what Vonage carries: one image per MMS, a text of at
        most 1000 characters."""
        if len(message.media_urls) > 1 or len(message.body) > MAX_TEXT:
            return False
        return super().can_send(message)

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        """A JSON POST to /v1/messages.

        Raises:
            InvalidRequest: more than one media URL, a text over 1000 characters or a
                reference over 100 (Vonage's ``client_ref`` limit); nothing was sent.
            ConfigError: no sender.
        """
        sender = message.from_ or self.from_
        if not sender:
            raise ConfigError("Vonage needs from_ to send", variable="VONAGE_FROM")
        if len(message.media_urls) > 1:
            raise InvalidRequest(
                "Vonage sends one image per MMS, not "
                f"{len(message.media_urls)}: send the images as separate messages",
                provider=self.name,
            )
        if len(message.body) > MAX_TEXT:
            raise InvalidRequest(
                f"Vonage takes at most {MAX_TEXT} characters of text, not {len(message.body)}",
                provider=self.name,
            )
        body: dict[str, Any] = {"to": _wire_number(message.to), "from": _wire_number(sender)}
        if message.media_urls:
            image: dict[str, str] = {"url": message.media_urls[0]}
            if message.body:
                image["caption"] = message.body
            body.update(channel="mms", message_type="image", image=image)
        else:
            body.update(channel="sms", message_type="text", text=message.body)
        if message.reference is not None:
            if len(message.reference) > MAX_CLIENT_REF:
                raise InvalidRequest(
                    f"Vonage carries a reference of at most {MAX_CLIENT_REF} characters "
                    f"(client_ref), not {len(message.reference)}: use a shorter reference",
                    provider=self.name,
                )
            body["client_ref"] = message.reference
        if message.status_callback:
            body["webhook_url"] = message.status_callback
            body["webhook_version"] = "v1"
        authorization = self._token.header() if self._token is not None else self._basic
        return self._request(
            self._url,
            content=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
            headers={
                "Authorization": authorization,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )

    def parse_response(self, response: httpx.Response, message: OutboundMessage) -> SendResult:
        """202 with ``{"message_uuid"}``, or the typed error of the problem body."""
        payload = self._json(response)
        if 200 <= response.status_code < 300 and isinstance(payload, dict):
            uuid = payload.get("message_uuid")
            if isinstance(uuid, str) and uuid:
                from smsbridge._models import SendResult  # at first use: see smsbridge._models

                segments = message.segments
                return SendResult(
                    provider=self.name,
                    provider_message_id=uuid,
                    # Accepted, not yet handed on: "submitted" (sent) comes by webhook.
                    status=MessageStatus.QUEUED,
                    to=message.to,
                    from_=message.from_ or self.from_,
                    segments=segments.segments if segments else None,
                    encoding=segments.encoding if segments else None,
                    reference=message.reference,
                    raw=payload,
                )
        if 200 <= response.status_code < 300:
            # Accepted, but the answer cannot be read: the shell reports it as accepted
            # (never to be sent again), not as an error the router might retry.
            raise ValueError(f"Vonage answered {response.status_code} without a message_uuid")
        raise self.error_from(response, payload)

    def error_from(self, response: httpx.Response, payload: Any) -> ProviderError:
        """The typed error for an unsuccessful answer (see ``_errors`` for the rules)."""
        if not isinstance(payload, dict):
            return self.unexpected(response)
        code = code_from_type(payload.get("type"))
        parts = [str(payload[k]) for k in ("title", "detail") if payload.get(k)]
        invalid = payload.get("invalid_parameters")
        if isinstance(invalid, list):
            names = [str(p["name"]) for p in invalid[:5] if isinstance(p, dict) and p.get("name")]
            if names:
                parts.append("invalid: " + ", ".join(names))
        return self._error(response, code, " - ".join(parts))

    def unexpected(self, response: httpx.Response) -> ProviderError:
        """The error for an answer that is not a problem document (a proxy's HTML page)."""
        detail = f"{self.name} answered HTTP {response.status_code} with an unreadable body"
        return self._error(response, None, detail)

    def _error(self, response: httpx.Response, code: str | None, detail: str) -> ProviderError:
        status = response.status_code
        # The category is decided here (HTTP status first); make_error builds its error.
        table = {code or "": send_category(status, code)}
        return make_error(
            self.name,
            table,
            provider_code=code,
            http_status=status,
            detail=detail,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def __repr__(self) -> str:
        return f"Vonage(auth={self.auth!r}, from_={self.from_!r}, base_url={self.base_url!r}, ***)"
