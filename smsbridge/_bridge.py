"""The :class:`Bridge`: the one object an application talks to.

It normalises what the caller gives it into an :class:`OutboundMessage`, hands it to the
routing policy (a single provider is the simplest policy), and owns the pooled HTTP clients.
Webhooks come in through :meth:`Bridge.handle_webhook`.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from smsbridge._errors import ConfigError, InvalidRequest
from smsbridge._models import OutboundMessage, SendResult
from smsbridge._phone import to_e164
from smsbridge._segments import WARN_SEGMENTS, check_body

if TYPE_CHECKING:
    from typing_extensions import Self

    from smsbridge.providers._base import Provider
    from smsbridge.providers._shell import AsyncSender, SyncSender
    from smsbridge.webhooks._refusals import RefusalLog

__all__ = ["DEFAULT_MAX_BODY", "REFERENCE_PARAM", "Bridge", "Delivery"]

log = logging.getLogger("smsbridge")

Delivery = Literal["at_most_once", "at_least_once"]
REFERENCE_PARAM = "smsbridge_ref"
DEFAULT_WEBHOOK_PATH = "/sms/webhook"
# The largest webhooks: a Twilio inbound form with a 1600-character body of 4-byte characters,
# every one percent-encoded (19,200 bytes), ten media URLs and some thirty other fields; a
# Telnyx message.received with a 10-part text written as \u escapes and ten media objects.
# Both stay under 24 KiB; 64 KiB leaves room, and forged bodies cost little to refuse.
DEFAULT_MAX_BODY = 64 * 1024


class Bridge:
    """Send and receive SMS/MMS through one or more providers.

    Example:
        >>> sms = Bridge(Twilio(sid, token, from_="+15017122661"))
        >>> result = sms.send(to="+14155552671", body="Your code is 123456")

    Args:
        providers: one provider, a list of providers (ordered failover), or a routing policy.
        store: shared state for idempotency, breakers and webhook de-duplication
            (default: a new in-process ``MemoryStore``).
        public_url: the base URL the application is reachable at. Status callbacks are built
            from it (with ``reference``), and webhook signatures are checked against it.
        webhook_path: where the webhook endpoint is mounted under ``public_url``.
        http_client: a sync client to use instead of the bridge's own pooled ``httpx.Client``.
        async_http_client: an async client (``httpx.AsyncClient`` or any ``AsyncSender``).
        delivery: ``"at_most_once"`` (default) never re-sends after an ambiguous failure;
            ``"at_least_once"`` does.
        trusted_proxies: addresses or CIDR networks of the application's own reverse proxies;
            only requests from them may set ``X-Forwarded-*`` (never trusted by default).
        webhook_tolerance: seconds a Telnyx webhook timestamp may be from now.
        max_body_size: largest webhook body accepted, in bytes (413 beyond); default 64 KiB,
            about two and a half times the largest webhook either provider documents (see
            ``DEFAULT_MAX_BODY``).
        dedupe_ttl: how long webhook de-duplication and status ordering remember a message.
        clock: wall-clock seconds, against which webhook timestamps are checked (injectable
            for tests).
        receive_only: providers whose webhooks are verified and handled but which never
            send: keep the old vendor here when swapping vendors, so its late status
            callbacks still arrive.
        **options: routing settings (``retry``, ``breaker``, ``idempotency_ttl``,
            ``idempotency_wait``, ``reconcile``, ``any_sender``, ``on_attempt``,
            ``on_failover``, ``on_breaker_change``, ``sleep``, ...), documented in
            :mod:`smsbridge.routing._settings` and docs/failover.md; unknown names raise
            ``ConfigError``.
    """

    def __init__(
        self,
        providers: Provider | Sequence[Provider] | Any,
        *,
        store: Any = None,
        public_url: str | None = None,
        webhook_path: str = DEFAULT_WEBHOOK_PATH,
        http_client: SyncSender | None = None,
        async_http_client: AsyncSender | None = None,
        delivery: Delivery = "at_most_once",
        trusted_proxies: Iterable[str] = (),
        webhook_tolerance: float = 300.0,
        max_body_size: int = DEFAULT_MAX_BODY,
        dedupe_ttl: float = 86_400.0,
        clock: Callable[[], float] = time.time,
        receive_only: Iterable[Provider] = (),
        **options: Any,
    ) -> None:
        from smsbridge.routing import as_policy
        from smsbridge.stores import MemoryStore

        self.policy = as_policy(providers)
        self.receive_only = tuple(receive_only)
        self.store = store if store is not None else MemoryStore()
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise ConfigError(
                "public_url must start with http:// or https://", variable="public_url"
            )
        self.public_url = public_url.rstrip("/") if public_url else None
        self.webhook_path = "/" + webhook_path.lstrip("/")
        if delivery not in ("at_most_once", "at_least_once"):
            raise ConfigError(
                "delivery must be 'at_most_once' or 'at_least_once'", variable="delivery"
            )
        self.delivery: Delivery = delivery
        self.trusted_proxies = tuple(trusted_proxies)
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    f"trusted_proxies entry {proxy!r} is not an IP address or CIDR network",
                    variable="trusted_proxies",
                ) from None
        for name, value in (
            ("webhook_tolerance", webhook_tolerance),
            ("max_body_size", max_body_size),
            ("dedupe_ttl", dedupe_ttl),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a positive number", variable=name)
        self.webhook_tolerance = float(webhook_tolerance)
        self.max_body_size = int(max_body_size)
        self.dedupe_ttl = float(dedupe_ttl)
        self.clock = clock
        from smsbridge.stores._degrade import DegradeOpen

        # Webhook de-duplication degrades open while the store is down, logged once an outage.
        self.dedupe_guard = DegradeOpen("webhook de-duplication")
        # Every refused webhook is logged, each error code at most once a minute; the log is
        # made at the first refusal (smsbridge.webhooks is not imported by sending).
        self.refusal_log: RefusalLog | None = None
        self.options = dict(options)
        from smsbridge.routing._settings import RoutingSettings

        # Validated here so a misspelt option fails at start-up, not at the first send.
        self.routing = RoutingSettings.from_options(self.options)
        self._client = http_client
        self._own_client = http_client is None
        self._aclient = async_http_client
        self._own_aclient = async_http_client is None

    # -- providers ---------------------------------------------------------------------
    @property
    def providers(self) -> tuple[Provider, ...]:
        """Every provider the policy can use, in preference order, without repeats."""
        return tuple(self.policy.providers())

    @property
    def webhook_providers(self) -> tuple[Provider, ...]:
        """The providers whose webhooks this bridge accepts: every sender, then the
        receive-only ones."""
        senders = self.providers
        return senders + tuple(p for p in self.receive_only if p not in senders)

    def provider(self, name: str) -> Provider:
        """The configured provider called ``name`` (``"twilio"``, ``"telnyx"``) that sends."""
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise ConfigError(f"no provider named {name!r} is configured", variable="providers")

    # -- clients -----------------------------------------------------------------------
    @property
    def client(self) -> SyncSender:
        """The pooled sync HTTP client, created on first use."""
        if self._client is None:
            self._client = httpx.Client(follow_redirects=False)
        return self._client

    @property
    def async_client(self) -> AsyncSender:
        """The pooled async HTTP client, created on first use."""
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(follow_redirects=False)
        return self._aclient

    # -- building messages -------------------------------------------------------------
    def message(
        self,
        to: str,
        body: str = "",
        *,
        from_: str | None = None,
        media_urls: Iterable[str] = (),
        region: str | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
        status_callback: str | None = None,
    ) -> OutboundMessage:
        """Validate and normalise a message without sending it (``to`` becomes E.164).

        Raises:
            InvalidPhoneNumber: ``to`` is not a valid number.
            MessageTooLong: ``body`` is over 1600 characters.
            InvalidRequest: no body and no media, an argument of the wrong type, or a media
                URL that is not http(s).
        """
        media = _checked_media(media_urls)
        if body is None:  # an MMS with media only, written the obvious way
            body = ""
        _check_text(
            body=body,
            from_=from_,
            reference=reference,
            idempotency_key=idempotency_key,
            status_callback=status_callback,
        )
        info = check_body(body)
        if not body and not media:
            raise InvalidRequest("a message needs a body or media_urls", failure="rejected")
        return OutboundMessage(
            to=to_e164(to, region),
            body=body,
            from_=from_,
            media_urls=media,
            reference=reference,
            idempotency_key=idempotency_key,
            status_callback=status_callback or self.status_callback_url(reference),
            segments=info,
        )

    def status_callback_url(self, reference: str | None) -> str | None:
        """The status webhook URL for a send, carrying ``reference``; ``None`` without
        ``public_url`` (the provider's configured webhooks then apply)."""
        if self.public_url is None:
            return None
        url = self.public_url + self.webhook_path
        if reference is not None:
            url += f"?{REFERENCE_PARAM}={quote(reference, safe='')}"
        return url

    @staticmethod
    def _warnings(message: OutboundMessage) -> tuple[str, ...]:
        info = message.segments
        if info is None or info.segments <= WARN_SEGMENTS:
            return ()
        text = f"body takes {info.segments} {info.encoding} segments (over {WARN_SEGMENTS})"
        log.warning(text, extra={"segments": info.segments, "encoding": info.encoding})
        return (text,)

    # -- sending -----------------------------------------------------------------------
    def send(self, to: str, body: str = "", **kwargs: Any) -> SendResult:
        """Send an SMS (or an MMS with ``media_urls``) and return what the provider said.

        Keyword arguments are those of :meth:`message`. Raises a :class:`ProviderError` (or
        :class:`AllProvidersFailed`) whose ``failure`` says whether it may have been sent.
        """
        from smsbridge.routing._engine import send_sync

        message = self.message(to, body, **kwargs)
        result = send_sync(self, message)
        return self._finish(result, message)

    async def asend(self, to: str, body: str = "", **kwargs: Any) -> SendResult:
        """Async twin of :meth:`send`."""
        from smsbridge.routing._engine import send_async

        message = self.message(to, body, **kwargs)
        result = await send_async(self, message)
        return self._finish(result, message)

    def _finish(self, result: SendResult, message: OutboundMessage) -> SendResult:
        warnings = self._warnings(message)
        return result.model_copy(update={"warnings": warnings}) if warnings else result

    # -- webhooks ----------------------------------------------------------------------
    def handle_webhook(self, request: Any) -> Any:
        """Verify, parse and acknowledge one webhook (see :mod:`smsbridge.webhooks`)."""
        # From sys.modules after the first call: a from-import of the package would run
        # importlib's _handle_fromlist per webhook (about 3 us of a ~95 us call, measured).
        webhooks = sys.modules.get("smsbridge.webhooks")
        if webhooks is None:
            webhooks = importlib.import_module("smsbridge.webhooks")
        return webhooks.handle(self, request)

    async def ahandle_webhook(self, request: Any) -> Any:
        """Async twin of :meth:`handle_webhook`."""
        from smsbridge.webhooks import ahandle

        return await ahandle(self, request)

    # -- configuration -----------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Bridge:
        """Build a bridge from the environment.

        ``SMSBRIDGE_PROVIDERS`` names the providers that send, in order, each reading its usual
        variables; ``SMSBRIDGE_RECEIVE_ONLY`` the ones kept for receiving only;
        ``SMSBRIDGE_STORE`` the store (``memory:``, the default; ``sqlite:///path/file.db``;
        ``redis://host:port/db``). Keyword arguments go to the constructor and win.

        Raises:
            ConfigError: naming the variable that is missing or malformed.
        """
        import os

        return cls._configured(os.environ if environ is None else environ, kwargs)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> Bridge:
        """The same as :meth:`from_env`, from a mapping (e.g. a parsed TOML file), with the
        same upper-case names or ``providers``, ``receive_only`` and ``store`` keys."""
        return cls._configured(config, kwargs)

    @classmethod
    def _configured(cls, config: Mapping[str, Any], kwargs: dict[str, Any]) -> Bridge:
        from smsbridge._config import providers_from_mapping, receive_only_from_mapping

        providers = providers_from_mapping(config)
        kwargs.setdefault("receive_only", receive_only_from_mapping(config))
        if "store" not in kwargs:
            url = config.get("SMSBRIDGE_STORE", config.get("store"))
            if url not in (None, ""):
                from smsbridge.stores import store_from_url

                kwargs["store"] = store_from_url(url, variable="SMSBRIDGE_STORE")
        return cls(providers, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Close the sync client if the bridge created it."""
        if self._own_client and isinstance(self._client, httpx.Client):
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close both clients if the bridge created them."""
        if self._own_aclient and self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        names = ", ".join(p.name for p in self.providers)
        return f"Bridge([{names}], delivery={self.delivery!r})"


# Bad arguments are the caller's bug, but still a typed error with a stable code: a stray
# TypeError or pydantic ValidationError from deep inside would be neither.
def _check_text(**values: Any) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRequest(
                f"{name} must be a str, not {type(value).__name__}", failure="rejected"
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate (from a bad decode) cannot travel in any request.
                raise InvalidRequest(
                    f"{name} is not valid Unicode text (it holds a lone surrogate)",
                    failure="rejected",
                ) from None


# Twilio's documented maximum (MediaUrl, 10 per message); Telnyx's media_urls take no more.
MAX_MEDIA = 10
# Whitespace or control characters in a URL end up in a form field or JSON string the
# provider then fetches: refuse them rather than guess what the caller meant.
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\s]")


def _checked_media(media_urls: Iterable[str]) -> tuple[str, ...]:
    if isinstance(media_urls, (str, bytes)):
        # tuple("https://...") would send one URL per character.
        raise InvalidRequest(
            "media_urls must be a list of URLs, not one string", failure="rejected"
        )
    try:
        media = tuple(media_urls)
    except TypeError:
        raise InvalidRequest("media_urls must be a list of URLs", failure="rejected") from None
    if len(media) > MAX_MEDIA:
        raise InvalidRequest(
            f"a message takes at most {MAX_MEDIA} media URLs, not {len(media)}",
            failure="rejected",
        )
    for index, url in enumerate(media):
        if not _is_media_url(url):
            raise InvalidRequest(
                f"media_urls[{index}] must be an absolute http(s) URL with a host and no "
                "spaces or control characters",
                failure="rejected",
            )
    return media


def _is_media_url(url: object) -> bool:
    if not isinstance(url, str) or len(url) > 2048 or _URL_UNSAFE.search(url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    try:
        url.encode("utf-8")  # non-ASCII is fine (an IRI); a lone surrogate is not
    except UnicodeEncodeError:
        return False
    return True
