"""The provider interface: what the generic layers (routing, webhooks, configuration, the
command line) may ask of a provider, and nothing else.

A provider is one package (``smsbridge.providers.twilio``, ``.telnyx``, ``.vonage``) holding
everything about its vendor. Its ``Provider`` subclass is a sans-I/O send codec with a
name, ``Capabilities`` and ``Settings``; its ``WebhookCodec`` recognises,
verifies, parses and answers the vendor's webhooks. Neither opens a socket: the I/O shell in
``_shell`` sends (once for sync, once for async) and ``smsbridge.webhooks`` runs the
provider-blind receiving pipeline. The registry (``_registry``) maps names to providers.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from smsbridge._errors import ConfigError, ProviderError, SmsBridgeError
from smsbridge.providers._checks import (
    TimeoutLike,
    check_base_url,
    check_sender,
    check_timeout,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.webhooks._common import Parsed, VerifyContext
    from smsbridge.webhooks._diagnosis import Capture
    from smsbridge.webhooks._request import WebhookRequest, WebhookResponse

__all__ = [
    "Capabilities",
    "LookupInconclusive",
    "Provider",
    "Settings",
    "WebhookCodec",
]


class LookupInconclusive(Exception):
    """A read-back saw a message that may be the one sent but cannot be told apart for sure
    (media it cannot compare, a date it cannot read, more messages than one page shows).

    Routing treats it like a read-back that did not answer: the failure stands as it was.
    """


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do. Routing skips providers that lack what a message needs.

    Attributes:
        sms: it can send SMS.
        mms: it can send MMS (messages with ``media_urls``).
        alphanumeric_sender: it can send from an alphanumeric ID (``from_="ACME"``).
        idempotency: its API takes an idempotency key, so repeating a request that may have
            been accepted cannot send twice (retries after an ambiguous failure are safe).
        read_back: sent messages can be listed, so a send that may have been accepted can be
            reconciled (``Provider.build_lookup_request``).
        scheduling: ``(earliest, latest)`` lead time a scheduled send may have, or ``None``
            when the provider cannot hold a message for later. The lead must be more than
            ``earliest`` and at most ``latest`` (``Provider.scheduling_problem``).
        cancel: a scheduled message can be cancelled by its id
            (``Provider.build_cancel_request``); without it, cancelling is refused with
            ``Unsupported`` before any request.
        fetch: one message can be read back by its id (``Provider.build_fetch_request``);
            without it, fetching is refused with ``Unsupported`` before any request.

    Examples:
        >>> from smsbridge.providers import Capabilities, Telnyx, Twilio
        >>> Twilio.default_capabilities.read_back, Telnyx.default_capabilities.idempotency
        (True, True)
        >>> no_mms = Capabilities(mms=False)  # Twilio(..., capabilities=no_mms): SMS only
    """

    sms: bool = True
    mms: bool = True
    alphanumeric_sender: bool = True
    idempotency: bool = False
    read_back: bool = False
    scheduling: tuple[timedelta, timedelta] | None = None
    cancel: bool = False
    fetch: bool = False


def _seconds(text: str) -> float:
    return float(text)


@dataclass(frozen=True)
class Settings:
    """How a provider is configured from the environment or a mapping.

    Attributes:
        variables: environment variable -> constructor keyword, in the order the docs list
            them (``{"TWILIO_ACCOUNT_SID": "account_sid", ...}``).
        required: the variables that must be set (other combinations are checked by the
            constructor, which names the variable it misses).
        readers: constructor keyword -> function turning a variable's text into the value the
            constructor takes (a number of seconds, a table of keys); it may raise
            ``ValueError`` (reported naming the variable) or ``ConfigError``.

    Examples:
        >>> from smsbridge.providers import Twilio
        >>> Twilio.settings.required, Twilio.settings.variables["TWILIO_FROM"]
        (('TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN'), 'from_')
    """

    variables: Mapping[str, str]
    required: tuple[str, ...] = ()
    readers: Mapping[str, Callable[[str], Any]] = field(
        default_factory=lambda: {"timeout": _seconds}
    )


class WebhookCodec(abc.ABC):
    """How one provider's webhooks are recognised, verified, parsed and answered (sans-I/O).

    One instance serves every configured account of its provider: ``verify`` is given all
    of them and accepts a webhook any one of them signed. It fails closed: no secret
    configured means every webhook is refused.

    Examples:
        >>> from smsbridge.providers import Telnyx
        >>> codec = Telnyx.webhook_codec()  # what the bridge's webhook pipeline asks
        >>> codec.signature_headers, codec.acknowledge().status_code
        (('telnyx-signature-ed25519',), 200)
    """

    name: ClassVar[str]
    """The provider's name (``Provider.name``)."""
    signature_headers: ClassVar[tuple[str, ...]] = ()
    """Lower-case header names only this provider sends: their presence decides detection."""
    inline_reply_seconds: ClassVar[float] = 1.5
    """How long an inline callback may run before the plain answer goes out: safely under the
    time the provider waits for an answer before it retries."""

    @abc.abstractmethod
    def looks_like(self, request: WebhookRequest) -> bool:
        """Whether an unsigned-looking request (none of any provider's signature headers) has
        this provider's content type and shape. Cheap, and trusts nothing."""

    @abc.abstractmethod
    def verify(
        self, providers: Sequence[Provider], request: WebhookRequest, context: VerifyContext
    ) -> Parsed:
        """Verify ``request`` against ``providers``' secrets, then parse its events.

        Raises:
            SignatureError: no configured secret signs it (or none is configured).
            StaleWebhook: its signed timestamp is outside ``context.tolerance``.
            MalformedWebhook: it verifies but cannot be read.
        """

    @abc.abstractmethod
    def acknowledge(self) -> WebhookResponse:
        """The plain answer the provider expects for a handled webhook."""

    def reply(self, text: str | None) -> WebhookResponse:
        """The answer carrying ``text`` as a reply to an inbound message, where the provider
        supports inline replies; otherwise the plain acknowledgement."""
        return self.acknowledge()

    def check(self, capture: Capture) -> bool:
        """Explain whether a captured webhook verifies (``smsbridge webhook check``), printing
        the verdict with ``capture.say``; ``True`` when it does.

        This default builds the provider from ``capture.environ`` and runs ``verify``;
        providers override it to explain a failure (which URL was signed, which key).

        Raises:
            ConfigError: the provider's settings in ``capture.environ`` are missing or bad.
        """
        import time

        from smsbridge._errors import WebhookError
        from smsbridge.providers._registry import provider_class
        from smsbridge.webhooks._common import VerifyContext

        provider = provider_class(self.name).from_settings(capture.environ)
        url = capture.checked_url()
        capture.say(f"provider: {self.name}")
        context = VerifyContext(url, time.time(), capture.tolerance)
        try:
            self.verify([provider], capture.request(url), context)
        except WebhookError as exc:
            capture.say(f"result: INVALID: {exc.message} ({exc.code})")
            return False
        capture.say("result: VALID signature")
        return True


class Provider(abc.ABC):
    """A provider's send codec, with its name, capabilities, settings and webhook codec.

    Subclasses define ``build_request`` and ``parse_response``; everything about
    sockets, pooling, sync vs async lives elsewhere.

    Examples:
        A provider for a made-up JSON API (``tests/test_provider_plugins.py`` has a complete
        one, with webhooks and an entry point):

        >>> import httpx
        >>> from smsbridge import Bridge, MessageStatus, OutboundMessage, SendResult
        >>> from smsbridge.providers import Provider, Settings
        >>> class Acme(Provider):
        ...     name = "acme"
        ...     default_base_url = "https://api.acme.example"
        ...     settings = Settings(variables={"ACME_TOKEN": "token", "ACME_FROM": "from_"})
        ...     def __init__(self, token: str, *, from_: str | None = None) -> None:
        ...         super().__init__(from_=from_, base_url=None, timeout=None, capabilities=None)
        ...         self.token = token
        ...     def build_request(self, message: OutboundMessage) -> httpx.Request:
        ...         sender = message.from_ or self.from_
        ...         body = {"to": message.to, "from": sender, "text": message.body}
        ...         auth = {"Authorization": f"Bearer {self.token}"}
        ...         return self._request(self._endpoint("/messages"), json=body, headers=auth)
        ...     def parse_response(self, response: httpx.Response, message: OutboundMessage
        ...     ) -> SendResult:
        ...         if response.status_code != 200:
        ...             raise self.unexpected(response)  # typed by its HTTP status
        ...         sid = response.json()["id"]
        ...         return SendResult(provider=self.name, provider_message_id=sid,
        ...                           status=MessageStatus.QUEUED, to=message.to)
        >>> sms = Bridge(Acme("acme-token", from_="+15017122661"))
    """

    name: ClassVar[str]
    """The name ``SMSBRIDGE_PROVIDERS`` and every ``provider`` field use."""
    default_base_url: ClassVar[str]
    default_capabilities: ClassVar[Capabilities] = Capabilities()
    settings: ClassVar[Settings] = Settings(variables={})

    def __init__(
        self,
        *,
        from_: str | None,
        base_url: str | None,
        timeout: TimeoutLike | None,
        capabilities: Capabilities | None,
        senders: tuple[str, ...] = (),
    ) -> None:
        prefix = self.name.upper()
        self.from_ = check_sender(from_, f"{prefix}_FROM")
        self.base_url = check_base_url(
            base_url or self.default_base_url, f"{prefix}_BASE_URL", self.name
        )
        self.timeout = check_timeout(timeout, f"{prefix}_TIMEOUT")
        # Computed once: every request carries it so the configured timeout reaches the client.
        self._timeout_ext = self.timeout.as_dict()
        self.capabilities = capabilities or self.default_capabilities
        self.senders = tuple(s for s in (from_, *senders) if s)

    # -- configuration -------------------------------------------------------------------
    @classmethod
    def from_settings(cls, config: Mapping[str, Any]) -> Self:
        """This provider built from ``config``: its upper-case variables (see
        ``settings``), or a nested mapping of keyword arguments under its name.

        Raises:
            ConfigError: naming the variable that is missing or malformed.
        """
        nested = config.get(cls.name)
        if isinstance(nested, Mapping):
            kwargs = {k: v for k, v in nested.items() if v not in (None, "")}
            keywords = cls.settings.variables
            for variable in cls.settings.required:
                if keywords[variable] not in kwargs:
                    raise ConfigError(
                        f"{cls.name}.{keywords[variable]} is not set "
                        f"(needed for provider {cls.name!r})",
                        variable=variable,
                    )
        else:
            kwargs = cls._kwargs_from_variables(config)
        try:
            return cls(**kwargs)
        except SmsBridgeError:
            raise
        except TypeError as exc:
            raise ConfigError(
                f"bad settings for provider {cls.name!r}: {exc}", variable=cls.name
            ) from None

    @classmethod
    def _kwargs_from_variables(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        for variable in cls.settings.required:
            if not config.get(variable):
                raise ConfigError(
                    f"{variable} is not set (needed for provider {cls.name!r})",
                    variable=variable,
                )
        kwargs: dict[str, Any] = {}
        for variable, keyword in cls.settings.variables.items():
            value = config.get(variable)
            if value in (None, ""):
                continue
            reader = cls.settings.readers.get(keyword)
            if reader is not None and isinstance(value, str):
                try:
                    value = reader(value)
                except ValueError:
                    raise ConfigError(
                        f"{variable} cannot be read: see docs/configuration.md",
                        variable=variable,
                    ) from None
            kwargs[keyword] = value
        return kwargs

    # -- webhooks ------------------------------------------------------------------------
    @classmethod
    def webhook_codec(cls) -> WebhookCodec | None:
        """The codec of this provider's webhooks (imported on first use), or ``None`` for a
        provider that receives none: its webhooks are then never detected."""
        return None

    # -- send codec ----------------------------------------------------------------------
    @abc.abstractmethod
    def build_request(self, message: OutboundMessage) -> httpx.Request:
        """The HTTP request that sends ``message`` through this provider."""

    @abc.abstractmethod
    def parse_response(self, response: httpx.Response, message: OutboundMessage) -> SendResult:
        """The result of a send, or raise the typed ``ProviderError`` it amounts to."""

    # -- read-back (providers whose capabilities say ``read_back``) ------------------------
    def build_lookup_request(self, message: OutboundMessage, since: datetime) -> httpx.Request:
        """The request listing messages like ``message`` sent since ``since``."""
        raise NotImplementedError(f"{self.name} has no read-back")

    def parse_lookup(
        self, response: httpx.Response, message: OutboundMessage, *, since: datetime
    ) -> SendResult | None:
        """The accepted message the listing shows, ``None`` when it shows none.

        Raises:
            LookupInconclusive: a message that may be it cannot be told apart for sure.
            ProviderError: the listing failed.
        """
        raise NotImplementedError(f"{self.name} has no read-back")

    # -- scheduling, cancel and read-back by id ------------------------------------------
    def scheduling_problem(self, send_at: datetime, now: datetime) -> str | None:
        """Why this provider cannot hold a message until ``send_at`` (both aware), or ``None``
        when it can. The default reads ``capabilities.scheduling``; a provider adds its own
        requirements (Twilio: a messaging service)."""
        window = self.capabilities.scheduling
        if window is None:
            return "it cannot schedule messages"
        earliest, latest = window
        lead = send_at - now
        if lead <= earliest:
            return f"send_at must be more than {_span(earliest)} ahead"
        if lead > latest:
            return f"send_at must be at most {_span(latest)} ahead"
        return None

    def build_cancel_request(self, provider_message_id: str) -> httpx.Request:
        """The request cancelling a scheduled message (providers whose capabilities say
        ``cancel``).

        Raises:
            Unsupported: the provider cannot cancel messages.
            InvalidRequest: ``provider_message_id`` is not an id of this provider's shape (it
                is checked before it goes into the URL).
        """
        raise self._unsupported("cancel messages")

    def parse_cancel(self, response: httpx.Response, provider_message_id: str) -> SendResult:
        """The cancelled message (status ``canceled``).

        Raises:
            NotCancellable: too late: the message is sending or sent.
            MessageNotFound: the provider has no message with that id.
            ProviderError: any other failure, typed as for a send.
        """
        raise self._unsupported("cancel messages")

    def build_fetch_request(self, provider_message_id: str) -> httpx.Request:
        """The request reading one message back by its id (providers whose capabilities say
        ``fetch``).

        Raises:
            Unsupported: the provider cannot read messages back by id.
            InvalidRequest: ``provider_message_id`` is not an id of this provider's shape.
        """
        raise self._unsupported("read messages back")

    def parse_fetch(self, response: httpx.Response, provider_message_id: str) -> SendResult:
        """The message as the provider has it now: mapped ``status``, ``raw_status``,
        ``error_code``, ``send_at`` for a scheduled one.

        Raises:
            MessageNotFound: the provider has no message with that id.
            ProviderError: any other failure, typed as for a send.
        """
        raise self._unsupported("read messages back")

    def _unsupported(self, what: str) -> SmsBridgeError:
        from smsbridge._errors import Unsupported

        return Unsupported(f"{self.name} cannot {what}", provider=self.name)

    # -- routing helpers -----------------------------------------------------------------
    def identity(self) -> tuple[str, ...]:
        """Non-secret values telling two accounts of this provider apart (an account or
        profile id), part of ``breaker_key``. Empty by default."""
        return ()

    @functools.cached_property
    def breaker_key(self) -> str:
        """``name:<12 hex digits>``, the id of this provider's circuit breaker in the store:
        the same configuration gives the same id in every process (a digest of the endpoint,
        sender and ``identity``; no secrets). Computed once, at first use.
        """
        # The identity is padded to three slots, the layout ids had when they were read from
        # fixed attributes (Twilio's account and service, then Telnyx's profile), so the ids,
        # and the breaker state stored under them, stay the same.
        identity = self.identity()
        slots = (*identity, *[""] * (3 - len(identity)))
        parts = (self.name, self.base_url, self.from_ or "", *slots)
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]
        return f"{self.name}:{digest}"

    def owns_sender(self, from_: str) -> bool:
        """True when ``from_`` is one of this provider's configured senders."""
        return from_ in self.senders

    def can_send(self, message: OutboundMessage) -> bool:
        """True when this provider has the capabilities ``message`` needs."""
        caps = self.capabilities
        if message.is_mms and not caps.mms:
            return False
        if not message.is_mms and not caps.sms:
            return False
        sender = message.from_
        return not (sender and not sender.startswith("+") and not caps.alphanumeric_sender)

    # -- shared helpers for subclasses ---------------------------------------------------
    def _endpoint(self, path: str) -> httpx.URL:
        """``base_url`` + ``path``, parsed once: parsing it for every request costs more CPU
        than the rest of building the request."""
        try:
            return httpx.URL(self.base_url + path)
        except httpx.InvalidURL:
            raise ConfigError(
                f"{self.name} base_url is not a valid URL", variable=f"{self.name.upper()}_BASE_URL"
            ) from None

    def _request(self, url: httpx.URL, *, method: str = "POST", **kwargs: Any) -> httpx.Request:
        """A request to ``url`` carrying the configured timeout (a POST unless ``method``)."""
        return httpx.Request(method, url, extensions={"timeout": self._timeout_ext}, **kwargs)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        """The body as JSON, or ``None`` when it is not JSON (a proxy's HTML error page)."""
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            return None

    def unexpected(self, response: httpx.Response) -> ProviderError:
        """The error for an answer the codec cannot read, classified by its HTTP status."""
        from smsbridge.providers._codes import make_error

        return make_error(
            self.name,
            {},
            provider_code=None,
            http_status=response.status_code,
            detail=f"{self.name} answered HTTP {response.status_code} with an unreadable body",
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_={self.from_!r}, base_url={self.base_url!r}, ***)"


def _span(delta: timedelta) -> str:
    """``delta`` in words: "5 minutes", "35 days"."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
