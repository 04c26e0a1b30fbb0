"""The one I/O shell: sends a codec's request, sync or async, and classifies network failures.

Anything with ``send(request) -> Response`` works as the sync client (``httpx.Client``), and
anything with ``async send(request) -> Response`` and ``aclose()`` as the async one
(``httpx.AsyncClient``, or ``smsbridge.transports.AiohttpSender`` when throughput matters).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from smsbridge._errors import Failure, ProviderUnavailable, SmsBridgeError, UnexpectedError

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.providers._base import Provider

__all__ = [
    "AsyncSender",
    "Progress",
    "SyncSender",
    "atransmit",
    "classify_transport_error",
    "traces_requests",
    "transmit",
]

log = logging.getLogger("smsbridge.routing")


class SyncSender(Protocol):
    """What the sync shell needs of an HTTP client (``httpx.Client`` fits)."""

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response with its body read."""
        ...


class AsyncSender(Protocol):
    """What the async shell needs of an HTTP client (``httpx.AsyncClient`` fits)."""

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response with its body read."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


# Errors raised before any byte of the request could reach the provider: safe to send elsewhere.
_REFUSED: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def classify_transport_error(provider: str, exc: Exception) -> ProviderUnavailable:
    """Turn a network failure into ``ProviderUnavailable``, refused or ambiguous.

    Connection refused, connect timeout and pool exhaustion are *refused*: the request never
    left. Everything after the first byte was written (read timeout, reset, protocol error)
    is *ambiguous*: the provider may have accepted the message.
    """
    failure: Failure = "refused" if isinstance(exc, _REFUSED) else "ambiguous"
    what = type(exc).__name__
    if failure == "refused":
        detail = f"could not connect to {provider} ({what})"
    else:
        detail = f"no complete answer from {provider} after the request was sent ({what})"
    return ProviderUnavailable(detail, provider=provider, failure=failure)


class Progress:
    """How far one request got: whether its bytes may have started to leave.

    The shell hangs ``trace`` (or ``atrace`` for async clients) on the request's
    ``trace`` extension, which httpx's own transports call at each step of a request (the
    connection, then ``send_request_headers``); ``AiohttpSender`` calls it once it has a
    connection. For such a client a send interrupted before that step provably sent nothing.
    For any other client (a custom transport, a mock) nothing can be known, and the request
    counts as possibly written as soon as it was handed over.
    """

    __slots__ = ("handed_over", "traced", "written")

    def __init__(self) -> None:
        self.handed_over = False
        self.traced = False
        self.written = False

    def hand_over(self, client: Any, request: httpx.Request, *, asynchronous: bool) -> None:
        """Note that ``request`` goes to ``client`` now, tracing it where the client can."""
        self.traced = traces_requests(client, request)
        if self.traced:
            request.extensions["trace"] = self.atrace if asynchronous else self.trace
        self.handed_over = True

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """The trace callback for sync clients."""
        if name.endswith("send_request_headers.started"):
            self.written = True

    async def atrace(self, name: str, info: dict[str, Any]) -> None:
        """The trace callback for async clients."""
        self.trace(name, info)

    @property
    def may_have_been_written(self) -> bool:
        """True unless the request provably had not started to leave."""
        if not self.handed_over:
            return False
        return self.written or not self.traced


_TRACING_TRANSPORTS = (httpx.HTTPTransport, httpx.AsyncHTTPTransport)


def traces_requests(client: Any, request: httpx.Request) -> bool:
    """Whether ``client`` reports, through the ``trace`` extension, when it starts writing.

    True for a client that says so (``traces_requests = True``, as ``AiohttpSender`` does) and
    for an httpx client whose transport for this URL is httpx's own (httpcore traces every
    step). httpx has no public way to ask a client for its transport, so this reads
    ``_transport_for_url``; if that ever goes away, clients count as not tracing, which is
    the safe side (an interrupted send is then taken as possibly sent).
    """
    if getattr(client, "traces_requests", False) is True:
        return True
    if not isinstance(client, (httpx.Client, httpx.AsyncClient)):
        return False
    try:
        transport = client._transport_for_url(request.url)
    except Exception:  # a changed private API: assume nothing
        return False
    return isinstance(transport, _TRACING_TRANSPORTS)


def _build(provider: Provider, message: OutboundMessage) -> httpx.Request:
    try:
        return provider.build_request(message)
    except SmsBridgeError:
        raise
    except Exception as exc:
        # A bug, or a value the codec could not encode: nothing was sent, and the same code
        # would fail the same way on a retry.
        raise UnexpectedError(
            f"could not build the {provider.name} request ({type(exc).__name__}); nothing was sent",
            provider=provider.name,
            failure="rejected",
        ) from exc


def _parse(provider: Provider, response: httpx.Response, message: OutboundMessage) -> SendResult:
    try:
        return provider.parse_response(response, message)
    except SmsBridgeError:
        raise
    except Exception as exc:
        status = response.status_code
        log.error(
            "could not read %s's answer (HTTP %d)",
            provider.name,
            status,
            exc_info=True,
            extra={"provider": provider.name, "http_status": status},
        )
        if 200 <= status < 300:
            # The provider accepted the message: it must never be sent again, even though
            # the answer's content was not what the codec expected.
            raise UnexpectedError(
                f"{provider.name} accepted the message (HTTP {status}) but its answer could "
                f"not be read ({type(exc).__name__})",
                provider=provider.name,
                http_status=status,
                failure="ambiguous",
                accepted=True,
                provider_message_id=_message_id(response),
            ) from exc
        # An error answer of an unexpected shape: classified by its HTTP status alone.
        raise provider.unexpected(response) from exc


def _message_id(response: httpx.Response) -> str | None:
    """The message id in an accepted answer, if one can be found by the usual names."""
    try:
        payload = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    for holder in (payload, payload.get("data") if isinstance(payload, dict) else None):
        if isinstance(holder, dict):
            for name in ("sid", "id", "message_uuid"):
                value = holder.get(name)
                if isinstance(value, str) and 0 < len(value) <= 200:
                    return value
    return None


def _unknown(provider: Provider, exc: Exception) -> UnexpectedError:
    # Not a network error the shell knows: whatever it was, the request may have been written.
    return UnexpectedError(
        f"sending through {provider.name} failed unexpectedly ({type(exc).__name__}); "
        "it may have been sent",
        provider=provider.name,
        failure="ambiguous",
    )


def transmit(
    client: SyncSender,
    provider: Provider,
    message: OutboundMessage,
    progress: Progress | None = None,
) -> SendResult:
    """Send ``message`` through ``provider`` on a sync client.

    Every failure comes out as a typed ``SmsBridgeError`` whose ``failure`` says whether
    the message may have gone out; ``progress`` (when given) records whether the request may
    have started to leave, for a caller interrupted in the middle.
    """
    request = _build(provider, message)
    if progress is not None:
        progress.hand_over(client, request, asynchronous=False)
    try:
        response = client.send(request)
    # RequestError rather than TransportError: an answer that fails to decode is ambiguous too.
    except (httpx.RequestError, OSError) as exc:
        raise classify_transport_error(provider.name, exc) from None
    except SmsBridgeError:
        raise
    except Exception as exc:
        raise _unknown(provider, exc) from exc
    return _parse(provider, response, message)


async def atransmit(
    client: AsyncSender,
    provider: Provider,
    message: OutboundMessage,
    progress: Progress | None = None,
) -> SendResult:
    """Async twin of ``transmit``."""
    request = _build(provider, message)
    if progress is not None:
        progress.hand_over(client, request, asynchronous=True)
    try:
        response = await client.send(request)
    # RequestError rather than TransportError: an answer that fails to decode is ambiguous too.
    except (httpx.RequestError, OSError) as exc:
        raise classify_transport_error(provider.name, exc) from None
    except SmsBridgeError:
        raise
    except Exception as exc:
        raise _unknown(provider, exc) from exc
    return _parse(provider, response, message)


def elapsed_since(start: float) -> float:
    """Seconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return time.perf_counter() - start
