"""The ``Bridge``: the one object an application talks to.

It normalises what the caller gives it into an ``OutboundMessage``, hands it to the
routing policy (a single provider is the simplest policy) or, for many messages, to the bulk
drivers (``smsbridge.bulk``), and owns the HTTP clients (``smsbridge._clients``).
Webhooks come in through ``Bridge.handle_webhook``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from datetime import datetime  # at run time: typing.get_type_hints(Bridge.send) needs it
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from smsbridge._clients import Clients
from smsbridge._errors import ConfigError
from smsbridge._outbound import build_message, with_warnings
from smsbridge._public_url import split_public_url, trusted_networks
from smsbridge._receiving import DEFAULT_MAX_BODY, REFERENCE_PARAM, Receiving
from smsbridge.providers._checks import check_positive
from smsbridge.routing._breaker import CircuitBreaker
from smsbridge.routing._retry import Retry
from smsbridge.stores._degrade import DegradeOpen

if TYPE_CHECKING:
    from typing_extensions import Self

    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.bulk import BulkInput, BulkItem, BulkProgress
    from smsbridge.providers._base import Provider
    from smsbridge.providers._shell import AsyncSender, SyncSender
    from smsbridge.routing._observe import Hooks, OnAttempt, OnBreakerChange, OnFailover
    from smsbridge.routing._policy import Policy
    from smsbridge.routing._rates import RateLimits
    from smsbridge.stores._base import Store
    from smsbridge.webhooks._refusals import RefusalLog

__all__ = ["DEFAULT_MAX_BODY", "REFERENCE_PARAM", "Bridge", "Delivery"]

log = logging.getLogger("smsbridge")

Delivery = Literal["at_most_once", "at_least_once"]
# Shared, immutable defaults (Retry and CircuitBreaker are frozen values).
DEFAULT_RETRY = Retry()
DEFAULT_BREAKER = CircuitBreaker()


class Bridge(Receiving):
    """Send and receive SMS/MMS through one or more providers.

    Examples:
        >>> from smsbridge import Bridge
        >>> from smsbridge.providers import Twilio
        >>> twilio = Twilio("AC" + "0" * 32, "your_auth_token", from_="+15017122661")
        >>> with Bridge(twilio) as sms:
        ...     result = sms.send(to="+14155552671", body="Your code is 123456")

        Several providers in failover order, from the environment: ``Bridge.from_env()``.

    Args:
        providers: one provider, a list of providers (ordered failover), or a routing policy.
        store: shared state for idempotency, breakers and webhook de-duplication
            (default: a new in-process ``MemoryStore``).
        public_url: where providers reach the application: the site's base URL
            (``https://app.example.com``) or the webhook endpoint's full URL, as pasted into
            the provider's console (``https://app.example.com/sms/webhook``). Status callbacks
            are built from it (with ``reference``), and webhook signatures are checked against
            it. No query string or fragment.
        webhook_path: where the webhook endpoint is mounted (default ``/sms/webhook``); a
            ``public_url`` ending in it names the endpoint itself.
        http_client: a sync client to use instead of the bridge's own pooled ``httpx.Client``.
        async_http_client: an async client (``httpx.AsyncClient`` or any ``AsyncSender``)
            instead of the bridge's own (aiohttp on asyncio, httpx under trio).
        delivery: ``"at_most_once"`` (default) never re-sends after an ambiguous failure;
            ``"at_least_once"`` does.
        trusted_proxies: addresses or CIDR networks of the application's own reverse proxies;
            only requests from them may set ``X-Forwarded-*`` (never trusted by default).
        webhook_tolerance: seconds a Telnyx webhook timestamp may be from now.
        max_body_size: largest webhook body accepted, in bytes (413 beyond); default 64 KiB,
            over twice the largest documented webhook (see ``DEFAULT_MAX_BODY``).
        dedupe_ttl: how long webhook de-duplication and status ordering remember a message.
        clock: wall-clock seconds, to check webhook timestamps against (for tests).
        receive_only: providers whose webhooks are handled but which never send: the old
            vendor after a swap, so its late status callbacks still arrive.
        retry: how to retry one provider (``Retry``; ``None``: never).
        breaker: the per-provider ``CircuitBreaker``, or ``None``.
        hooks: callbacks on attempts, failovers, breaker changes (a ``routing.Hooks``).
        idempotency_ttl: seconds an idempotency key is remembered (default 24 h).
        idempotency_wait: seconds a repeated key waits for the send in flight.
        reconcile: read back after a failure that may hide an accepted message, before any
            re-send, on providers that can (see docs/failover.md).
        reconcile_delay: seconds to wait before that read-back.
        any_sender: ``send(from_=...)`` may fail over to providers that do not own that
            sender (they send from their own).
        rate_limits: a ``RateLimits`` (messages per second per
            provider and sender, shared by every process on the store); ``None``: unlimited.
        sleep: how the sync engine waits between tries (default ``time.sleep``; for tests).
        async_sleep: how the async engine waits (default ``anyio.sleep``; for tests).
        random: ``() -> float`` in [0, 1) drawing retry jitter (default ``random.random``).
        on_attempt: deprecated; use ``hooks=Hooks(on_attempt=...)``.
        on_failover: deprecated; use ``hooks=Hooks(on_failover=...)``.
        on_breaker_change: deprecated; use ``hooks=Hooks(on_breaker_change=...)``.
    """

    def __init__(
        self,
        providers: Provider | Sequence[Provider] | Policy,
        *,
        store: Store | None = None,
        public_url: str | None = None,
        webhook_path: str | None = None,
        http_client: SyncSender | None = None,
        async_http_client: AsyncSender | None = None,
        delivery: Delivery = "at_most_once",
        trusted_proxies: Iterable[str] = (),
        webhook_tolerance: float = 300.0,
        max_body_size: int = DEFAULT_MAX_BODY,
        dedupe_ttl: float = 86_400.0,
        clock: Callable[[], float] = time.time,
        receive_only: Iterable[Provider] = (),
        retry: Retry | None = DEFAULT_RETRY,
        breaker: CircuitBreaker | None = DEFAULT_BREAKER,
        hooks: Hooks | None = None,
        idempotency_ttl: float = 86_400.0,
        idempotency_wait: float = 10.0,
        reconcile: bool = False,
        reconcile_delay: float = 1.0,
        any_sender: bool = False,
        rate_limits: RateLimits | None = None,
        sleep: Callable[[float], None] | None = None,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        random: Callable[[], float] | None = None,
        on_attempt: OnAttempt | None = None,
        on_failover: OnFailover | None = None,
        on_breaker_change: OnBreakerChange | None = None,
    ) -> None:
        from smsbridge.routing import as_policy
        from smsbridge.stores import MemoryStore

        self.policy = as_policy(providers)
        self.receive_only = tuple(receive_only)
        self.store = store if store is not None else MemoryStore()
        self.public_url, self.public_endpoint, self.webhook_path = split_public_url(
            public_url, webhook_path
        )
        if delivery not in ("at_most_once", "at_least_once"):
            raise ConfigError("delivery is 'at_most_once' or 'at_least_once'", variable="delivery")
        self.delivery: Delivery = delivery
        self.trusted_proxies = tuple(trusted_proxies)
        # Parsed once here: a bad entry fails at start-up, and no webhook parses them again.
        self.trusted_networks = trusted_networks(self.trusted_proxies)
        self.webhook_tolerance = check_positive(webhook_tolerance, "webhook_tolerance")
        self.max_body_size = int(check_positive(max_body_size, "max_body_size"))
        self.dedupe_ttl = check_positive(dedupe_ttl, "dedupe_ttl")
        self.clock = clock
        # Webhook de-duplication degrades open while the store is down, logged once an outage.
        self.dedupe_guard = DegradeOpen("webhook de-duplication")
        # Every refused webhook is logged, each error code at most once a minute; the log is
        # made at the first refusal (smsbridge.webhooks is not imported by sending).
        self.refusal_log: RefusalLog | None = None
        from smsbridge.routing._settings import RoutingSettings

        # Validated here so a bad setting fails at start-up, not at the first send.
        self.routing = RoutingSettings.build(
            retry=retry,
            breaker=breaker,
            hooks=hooks,
            idempotency_ttl=idempotency_ttl,
            idempotency_wait=idempotency_wait,
            reconcile=reconcile,
            reconcile_delay=reconcile_delay,
            any_sender=any_sender,
            sleep=sleep,
            async_sleep=async_sleep,
            random=random,
            on_attempt=on_attempt,
            on_failover=on_failover,
            on_breaker_change=on_breaker_change,
            rate_limits=rate_limits,
            store=self.store,
            providers=tuple(self.policy.providers()),
        )
        self.clients = Clients(http_client, async_http_client)

    # -- providers and clients (the receiving side: smsbridge._receiving) -----------------
    def provider(self, name: str) -> Provider:
        """The configured provider called ``name`` (``Provider.name``) that sends."""
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise ConfigError(f"no provider named {name!r} is configured", variable="providers")

    @property
    def client(self) -> SyncSender:
        """The sync HTTP client: the one given, or a pooled ``httpx.Client`` made on first use."""
        return self.clients.sync

    @property
    def async_client(self) -> AsyncSender:
        """The async HTTP client: the one given, or the bridge's own for the running loop
        (an ``AiohttpSender`` on asyncio, an
        ``httpx.AsyncClient`` under trio), made on first use."""
        return self.clients.async_

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
        send_at: datetime | None = None,
    ) -> OutboundMessage:
        """Validate and normalise a message without sending it (``to`` becomes E.164); the
        arguments and errors are ``send``'s."""
        return build_message(
            to,
            body,
            from_=from_,
            media_urls=media_urls,
            region=region,
            reference=reference,
            idempotency_key=idempotency_key,
            status_callback=status_callback,
            default_callback=self.status_callback_url,
            send_at=send_at,
        )

    # -- sending -----------------------------------------------------------------------
    def send(
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
        send_at: datetime | None = None,
    ) -> SendResult:
        """Send an SMS (or an MMS with ``media_urls``) and return what the provider said.

        Args:
            to: the recipient: E.164 (``+14155552671``), or a national number with ``region``.
            body: the text (up to 1600 characters); may be empty when there is media.
            from_: the sender; by default each provider's own. Only providers that own it
                send (see ``any_sender``).
            media_urls: up to 10 public http(s) URLs: the message is then an MMS.
            region: ISO country code used to read a national ``to`` (``"US"``, ``"GB"``).
            reference: your id for the message; it comes back on every status event.
            idempotency_key: makes a repeated send return the first result instead of
                sending again (across processes and restarts with a shared store).
            status_callback: a status webhook URL for this message, instead of the one built
                from ``public_url``.
            send_at: schedule it (a timezone-aware ``datetime``): only providers whose window
                holds that time are tried (see docs/scheduling.md); the result's status is
                ``scheduled``. ``None``: now.

        Raises:
            InvalidPhoneNumber, MessageTooLong, InvalidRequest: the message is not valid.
            SchedulingUnavailable: no configured provider can hold it until ``send_at``.
            ProviderError: (or ``AllProvidersFailed``) whose ``failure`` says whether it
                may have been sent.
        """
        from smsbridge.routing._engine import send_sync

        message = self.message(
            to,
            body,
            from_=from_,
            media_urls=media_urls,
            region=region,
            reference=reference,
            idempotency_key=idempotency_key,
            status_callback=status_callback,
            send_at=send_at,
        )
        result = send_sync(self, message)
        return with_warnings(result, message)

    async def asend(
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
        send_at: datetime | None = None,
    ) -> SendResult:
        """Async twin of ``send``, with the same arguments."""
        from smsbridge.routing._engine import send_async

        message = self.message(
            to,
            body,
            from_=from_,
            media_urls=media_urls,
            region=region,
            reference=reference,
            idempotency_key=idempotency_key,
            status_callback=status_callback,
            send_at=send_at,
        )
        result = await send_async(self, message)
        return with_warnings(result, message)

    def send_many(
        self,
        messages: Iterable[BulkInput],
        *,
        concurrency: int = 16,
        job: str | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        start: int = 0,
    ) -> Iterator[BulkItem]:
        """Send many messages, ``concurrency`` at a time, yielding one item per input.

        Items come in completion order, each with its ``index``, ``input``, and ``result`` or
        ``error`` (typed as ``send`` raises them): one failure never stops the others.
        Failover, retries, rate limits and idempotency apply per message; inputs are read as
        needed, so memory stays flat. See docs/bulk.md.

        Args:
            messages: any iterable of ``OutboundMessage`` or mappings of ``send``'s
                keywords (``{"to": ..., "body": ...}``).
            concurrency: sends in flight at once (threads on the sync client).
            job: makes the send resumable: each message's idempotency key derives from the
                job, its position and its content, kept in the store (``SQLiteStore`` or
                ``RedisStore`` to outlive the process). A rerun returns what was sent
                (``item.resumed``), sends the rest, and reports what may have gone out
                (``item.ambiguous``) without sending it again.
            on_progress: called after each item with the running ``BulkProgress``.
            start: the index of the first input: a chunk of a larger job numbers its
                messages by their place in the whole job (the same keys on any worker).

        Stopping early lets the sends in flight finish. An exception raised by ``messages``
        is raised once the items before it are out.

        Raises:
            ConfigError: a bad ``concurrency``, ``job`` or ``start``.
        """
        from smsbridge.bulk._sync import send_many

        return send_many(
            self, messages, concurrency=concurrency, job=job, on_progress=on_progress, start=start
        )

    def asend_many(
        self,
        messages: Iterable[BulkInput] | AsyncIterable[BulkInput],
        *,
        concurrency: int = 50,
        job: str | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        start: int = 0,
    ) -> AsyncIterator[BulkItem]:
        """Async twin of ``send_many`` (``async for item in sms.asend_many(...)``):
        ``concurrency`` tasks on the async client; ``messages`` may also be an async iterable.

        Stopping early cancels the sends in flight (each ends its idempotency claim as
        cancelled; under trio, close the iterator with ``contextlib.aclosing``).
        """
        from smsbridge.bulk._async import asend_many

        return asend_many(
            self, messages, concurrency=concurrency, job=job, on_progress=on_progress, start=start
        )

    # -- scheduled messages and read-back -----------------------------------------------
    def cancel(self, message: SendResult | str, message_id: str | None = None) -> SendResult:
        """Cancel a scheduled message while its provider still allows it.

        Args:
            message: the ``SendResult`` of the send, or the provider's name (then give
                ``message_id``, the provider's id for it).

        Returns the message, now ``canceled``; cancelling one already canceled returns it too.

        Raises:
            NotCancellable: too late (it is sending or sent; it may go out).
            MessageNotFound: the provider has no such message.
            Unsupported: the provider cannot cancel messages (before any request).
            ProviderError: the provider could not be asked (typed as for a send).
        """
        from smsbridge._manage import cancel

        return cancel(self, message, message_id)

    async def acancel(self, message: SendResult | str, message_id: str | None = None) -> SendResult:
        """Async twin of ``cancel``."""
        from smsbridge._manage import acancel

        return await acancel(self, message, message_id)

    def fetch(self, message: SendResult | str, message_id: str | None = None) -> SendResult:
        """Read a message's current state back from its provider (any message, by id).

        Takes what ``cancel`` takes. Returns a ``SendResult`` with the mapped ``status``,
        the provider's ``raw_status`` and ``error_code``, and ``send_at`` while scheduled.

        Raises:
            MessageNotFound, Unsupported, ProviderError: as for ``cancel``.
        """
        from smsbridge._manage import fetch

        return fetch(self, message, message_id)

    async def afetch(self, message: SendResult | str, message_id: str | None = None) -> SendResult:
        """Async twin of ``fetch``."""
        from smsbridge._manage import afetch

        return await afetch(self, message, message_id)

    # -- configuration -----------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Bridge:
        """Build a bridge from the environment.

        ``SMSBRIDGE_PROVIDERS`` names the providers that send, in order, each reading its usual
        variables; ``SMSBRIDGE_RECEIVE_ONLY`` the ones kept for receiving only;
        ``SMSBRIDGE_STORE`` the store (``memory:``, the default; ``sqlite:///path/file.db``;
        ``redis://host:port/db``); ``SMSBRIDGE_RATE_LIMITS`` the rate limits
        (``twilio=100,+15017122661=1``). Keyword arguments go to the constructor and win.

        Raises:
            ConfigError: naming the variable that is missing or malformed.
        """
        import os

        from smsbridge._config import bridge_arguments

        return cls(**bridge_arguments(os.environ if environ is None else environ, kwargs))

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> Bridge:
        """The same as ``from_env``, from a mapping (e.g. a parsed TOML file), with the
        same upper-case names or ``providers``, ``receive_only``, ``store`` and
        ``rate_limits`` keys."""
        from smsbridge._config import bridge_arguments

        return cls(**bridge_arguments(config, kwargs))

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Close the sync client if the bridge created it."""
        self.clients.close()

    async def aclose(self) -> None:
        """Close the clients the bridge created (given ones are the caller's to close)."""
        await self.clients.aclose()

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
