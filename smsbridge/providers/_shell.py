"""The one I/O shell: sends a codec's request, sync or async, and classifies network failures.

Anything with ``send(request) -> Response`` works as the sync client (``httpx.Client``), and
anything with ``async send(request) -> Response`` and ``aclose()`` as the async one
(``httpx.AsyncClient``, or :class:`smsbridge.transports.AiohttpSender` when throughput matters).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import httpx

from smsbridge._errors import Failure, ProviderUnavailable

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.providers._base import Provider

__all__ = ["AsyncSender", "SyncSender", "atransmit", "classify_transport_error", "transmit"]


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
    """Turn a network failure into :class:`ProviderUnavailable`, refused or ambiguous.

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


def transmit(client: SyncSender, provider: Provider, message: OutboundMessage) -> SendResult:
    """Send ``message`` through ``provider`` on a sync client."""
    request = provider.build_request(message)
    try:
        response = client.send(request)
    # RequestError rather than TransportError: an answer that fails to decode is ambiguous too.
    except (httpx.RequestError, OSError) as exc:
        raise classify_transport_error(provider.name, exc) from None
    return provider.parse_response(response, message)


async def atransmit(
    client: AsyncSender, provider: Provider, message: OutboundMessage
) -> SendResult:
    """Send ``message`` through ``provider`` on an async client."""
    request = provider.build_request(message)
    try:
        response = await client.send(request)
    # RequestError rather than TransportError: an answer that fails to decode is ambiguous too.
    except (httpx.RequestError, OSError) as exc:
        raise classify_transport_error(provider.name, exc) from None
    return provider.parse_response(response, message)


def elapsed_since(start: float) -> float:
    """Seconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return time.perf_counter() - start
