"""What every provider is: a sans-I/O codec with a name, capabilities and its own sender.

A provider turns an :class:`~smsbridge.OutboundMessage` into an ``httpx.Request`` and the
answer into a :class:`~smsbridge.SendResult` or a typed error. It never opens a socket: the
I/O shell in ``_shell`` does that, once for sync and once for async.
"""

from __future__ import annotations

import abc
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx

from smsbridge._errors import ConfigError, ProviderError

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage, SendResult

__all__ = [
    "Capabilities",
    "LookupInconclusive",
    "Provider",
    "TimeoutLike",
    "check_base_url",
    "check_credential",
    "check_sender",
    "check_timeout",
]

TimeoutLike = float | httpx.Timeout

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_TIMEOUT = 86_400.0

# A sender is an E.164 number, a short code, or an alphanumeric ID (up to 11 characters with at
# least one letter; Twilio also allows + - _ &).
_SENDER = re.compile(r"^(\+[1-9]\d{6,14}|\d{3,8}|(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9 +\-_&]{1,11})$")
# Credentials travel in an HTTP header: printable ASCII without spaces, or the request fails late
# with an untyped encoding error.
_CREDENTIAL = re.compile(r"^[\x21-\x7e]+$")


def check_credential(value: str | None, variable: str, what: str) -> str:
    """``value`` if it can be a credential, else :class:`ConfigError` naming ``variable``."""
    if not value:
        raise ConfigError(f"{what} is empty", variable=variable)
    if not isinstance(value, str) or not _CREDENTIAL.fullmatch(value):
        # Never echo the value: it is a secret, perhaps pasted with a stray newline.
        raise ConfigError(
            f"{what} must be printable ASCII without spaces (check for a stray newline)",
            variable=variable,
        )
    return value


def check_timeout(timeout: TimeoutLike | None, variable: str) -> httpx.Timeout:
    """``timeout`` as an ``httpx.Timeout``, or :class:`ConfigError` if it is not usable."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        result = timeout
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        result = httpx.Timeout(timeout)
    else:
        raise ConfigError(
            "timeout must be a number of seconds or an httpx.Timeout", variable=variable
        )
    for value in result.as_dict().values():
        # NaN, infinity or a huge number would only fail later, inside the socket layer.
        if value is not None and not (0 < value <= MAX_TIMEOUT):
            raise ConfigError(
                f"timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds",
                variable=variable,
            )
    return result


def check_base_url(value: str, variable: str, provider: str) -> str:
    """``value`` without a trailing slash if it is a scheme, host and optional port only.

    The codecs append the documented paths (``/2010-04-01/...``, ``/v2/messages``) to it, so a
    path here (``https://api.telnyx.com/v2``) would double them; that is refused up front.

    Raises:
        ConfigError: naming ``variable``, for anything else.
    """
    if not isinstance(value, str):
        raise ConfigError(f"{provider} base_url must be a str", variable=variable)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"{provider} base_url is not a valid URL", variable=variable) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{provider} base_url must start with http:// or https:// and name a host",
            variable=variable,
        )
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(
            f"{provider} base_url must be a scheme, host and port only, without a path "
            "(the API paths are added to it), query or credentials",
            variable=variable,
        )
    return value.rstrip("/")


def check_sender(value: str | None, variable: str) -> str | None:
    """``value`` if it is a valid sender (or ``None``), else :class:`ConfigError`."""
    if value is None:
        return None
    if not isinstance(value, str) or not _SENDER.fullmatch(value):
        raise ConfigError(
            "a sender must be an E.164 number (+15017122661), a short code, or an "
            "alphanumeric ID of up to 11 characters",
            variable=variable,
        )
    return value


class LookupInconclusive(Exception):
    """A read-back saw a message that may be the one sent but cannot be told apart for sure
    (media it cannot compare, a date it cannot read, more messages than one page shows).

    Routing treats it like a read-back that did not answer: the failure stands as it was.
    """


@dataclass(frozen=True)
class Capabilities:
    """What a provider can send; routing skips providers that lack what a message needs."""

    sms: bool = True
    mms: bool = True
    alphanumeric_sender: bool = True


class Provider(abc.ABC):
    """Base of the provider codecs (:class:`Twilio`, :class:`Telnyx`).

    Subclasses define :meth:`build_request` and :meth:`parse_response`; everything about
    sockets, pooling, sync vs async lives elsewhere.
    """

    name: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        *,
        from_: str | None,
        base_url: str | None,
        timeout: TimeoutLike | None,
        capabilities: Capabilities | None,
        senders: tuple[str, ...] = (),
    ) -> None:
        self.from_ = check_sender(from_, f"{self.name.upper()}_FROM")
        self.base_url = check_base_url(
            base_url or self.default_base_url, f"{self.name.upper()}_BASE_URL", self.name
        )
        self.timeout = check_timeout(timeout, f"{self.name.upper()}_TIMEOUT")
        # Computed once: every request carries it so the configured timeout reaches the client.
        self._timeout_ext = self.timeout.as_dict()
        self.capabilities = capabilities or Capabilities()
        self.senders = tuple(s for s in (from_, *senders) if s)

    # -- codec ---------------------------------------------------------------------------
    @abc.abstractmethod
    def build_request(self, message: OutboundMessage) -> httpx.Request:
        """The HTTP request that sends ``message`` through this provider."""

    @abc.abstractmethod
    def parse_response(self, response: httpx.Response, message: OutboundMessage) -> SendResult:
        """The result of a send, or raise the typed :class:`ProviderError` it amounts to."""

    # -- routing helpers -----------------------------------------------------------------
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

    def _request(self, url: httpx.URL, **kwargs: Any) -> httpx.Request:
        return httpx.Request("POST", url, extensions={"timeout": self._timeout_ext}, **kwargs)

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
