"""Alternative HTTP transports for the async send path.

``AiohttpSender`` sends the codecs' ``httpx.Request`` objects through one pooled
``aiohttp.ClientSession``. On a loopback benchmark it spends several times less CPU per request
than ``httpx.AsyncClient`` (see ``benchmarks/bench_async_send.py``), which matters for bulk
sending. It runs on asyncio only (aiohttp does); under trio keep the default client.

Examples:
    >>> from smsbridge.transports import AiohttpSender
    >>> async with AiohttpSender() as sender:
    ...     sms = Bridge(twilio, async_http_client=sender)
    ...     result = await sms.asend(to="+14155552671", body="hi")

Network failures are translated into the httpx exceptions the I/O shell classifies, so a
refused connection is *refused* and a read timeout *ambiguous*, exactly as with httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from smsbridge._errors import ConfigError

if TYPE_CHECKING:
    import aiohttp
    from typing_extensions import Self

__all__ = ["AiohttpSender"]

_INSTALL_HINT = "AiohttpSender needs aiohttp: pip install 'smsbridge[aiohttp]'"
_TimeoutKey = tuple[float | None, float | None, float | None]


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError:
        raise ConfigError(_INSTALL_HINT, variable="async_http_client") from None
    return aiohttp


class AiohttpSender:
    """An async sender for ``Bridge`` backed by one pooled aiohttp session.

    The session is created on first use, inside the running event loop, and reused for every
    request until ``aclose``. The bridge does not close a sender it was given: close it
    yourself before its event loop ends, or use it as an async context manager. After
    ``aclose`` it can be used again (in the same or another loop) with a new session.

    Each request's ``timeout`` extension (what the providers set from their ``timeout=``)
    is honoured: ``connect`` bounds establishing a connection, ``pool`` the wait for a free
    one, ``read`` each wait for data. aiohttp has no write timeout.

    It honours a request's ``trace`` extension the way the I/O shell needs: the callback is
    called with ``"aiohttp.send_request_headers.started"`` as soon as the request has a
    connection (from there on its bytes may leave), so a send cancelled before that is known
    to have sent nothing.

    Args:
        limit: most connections open at once, over all hosts (httpx's default is 100 too).
        limit_per_host: most connections per host (0: no limit beyond ``limit``).
        keepalive_timeout: seconds an idle pooled connection is kept.
        trust_env: read proxy settings from the environment, as ``httpx.AsyncClient`` does
            by default.

    Examples:
        >>> import asyncio
        >>> from smsbridge import Bridge
        >>> from smsbridge.transports import AiohttpSender
        >>> async def main() -> None:
        ...     async with AiohttpSender(limit=200) as sender:
        ...         sms = Bridge(twilio, async_http_client=sender)
        ...         result = await sms.asend(to="+14155552671", body="Your order shipped")
        ...         print(result.status)
        >>> asyncio.run(main())
        queued
    """

    traces_requests = True
    """Calls the ``trace`` extension once a request has a connection (see above)."""

    def __init__(
        self,
        *,
        limit: int = 100,
        limit_per_host: int = 0,
        keepalive_timeout: float = 15.0,
        trust_env: bool = False,
    ) -> None:
        # Imported here so a missing aiohttp fails at configuration time, not at the first send.
        self._aiohttp = _aiohttp()
        self.limit = limit
        self.limit_per_host = limit_per_host
        self.keepalive_timeout = keepalive_timeout
        self.trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: AsyncGenerator[None, None] | None = None
        self._timeouts: dict[_TimeoutKey, Any] = {}

    # -- the AsyncSender protocol --------------------------------------------------------------
    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response with its body read.

        Raises:
            httpx.TransportError: a network failure, translated from aiohttp's (see module).
            ConfigError: not running on asyncio, or aiohttp is not installed.
        """
        session = self._session_for_loop()
        try:
            content = request.content
        except httpx.RequestNotRead:
            content = await request.aread()
        # The connector reads the trace callback from here once the request has a connection.
        connected = _CONNECTED.set(request.extensions.get("trace"))
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in request.headers.raw
                    # aiohttp writes its own framing headers for the body it sends.
                    if k.lower() not in (b"host", b"content-length", b"transfer-encoding")
                ],
                data=content or None,
                allow_redirects=False,
                timeout=self._timeout(request),
            ) as answer:
                body = await answer.read()
                status, headers = answer.status, list(answer.raw_headers)
        except (asyncio.TimeoutError, OSError, self._aiohttp.ClientError) as exc:
            raise _translate(self._aiohttp, exc, request) from exc
        finally:
            _CONNECTED.reset(connected)
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        """Close the pooled session (a later send opens a new one)."""
        closer, self._closer, self._session, self._loop = self._closer, None, None, None
        if closer is not None:
            await closer.aclose()  # its ``finally`` closes the session

    @property
    def is_closed(self) -> bool:
        """True when no session is open (before the first send, or after ``aclose``)."""
        return self._session is None or self._session.closed

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
        state = "open" if self._session is not None and not self._session.closed else "idle"
        return f"AiohttpSender(limit={self.limit}, {state})"

    # -- helpers -------------------------------------------------------------------------------
    def _session_for_loop(self) -> aiohttp.ClientSession:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigError(
                "AiohttpSender runs on asyncio only (aiohttp does); under trio use the "
                "default httpx client",
                variable="async_http_client",
            ) from None
        if self._session is None or self._session.closed or self._loop is not loop:
            # A session belongs to the loop that created it; a new loop (asyncio.run again)
            # gets a new one, the old loop's connections died with it.
            aiohttp = self._aiohttp
            connector = _connector_class(aiohttp)(
                limit=self.limit,
                limit_per_host=self.limit_per_host,
                keepalive_timeout=self.keepalive_timeout,
            )
            # auto_decompress off: httpx.Response decodes per Content-Encoding itself, and
            # would fail on a body aiohttp had already decoded.
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                trust_env=self.trust_env,
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._loop = loop
            # Close the session when its loop shuts down, if nobody called aclose: asyncio.run
            # (and every runner built on asyncio.Runner) finalises the loop's async generators
            # before closing it, so a started one whose ``finally`` closes the session is the
            # loop's own shutdown hook. A bridge's default sender relies on it: an application
            # that never closes its bridge gets no "Unclosed client session" warning.
            closer = _close_at_shutdown(self._session)
            with contextlib.suppress(StopIteration):
                closer.asend(None).send(None)  # run it to its yield: registered, waiting
            self._closer = closer
        return self._session

    def _timeout(self, request: httpx.Request) -> Any:
        spec = request.extensions.get("timeout") or {}
        key = (spec.get("connect"), spec.get("read"), spec.get("pool"))
        cached = self._timeouts.get(key)
        if cached is None:
            connect, read, pool = key
            cached = self._timeouts[key] = self._aiohttp.ClientTimeout(
                total=None,
                # aiohttp's ``connect`` covers the wait for a pooled connection and opening one.
                connect=None if connect is None or pool is None else connect + pool,
                sock_connect=connect,
                sock_read=read,
            )
        return cached


async def _close_at_shutdown(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Wait; close ``session`` when finalised (at loop shutdown, or by ``aclose``)."""
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


# The trace callback of the request being sent in this task (see AiohttpSender.send).
_CONNECTED: contextvars.ContextVar[Any] = contextvars.ContextVar("smsbridge_connected")


@functools.cache
def _connector_class(aiohttp: Any) -> Any:
    """aiohttp's TCPConnector, telling the request's trace callback once it has a connection:
    from there on its bytes may leave. aiohttp's own tracing (``TraceConfig``) would say the
    same, but sends a dozen signals per request whether hooked or not, about 30 us of CPU per
    request (a tenth of a bulk send's); ``connect`` is the connector's documented hook."""

    class Connector(aiohttp.TCPConnector):  # type: ignore[misc]
        async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
            connection = await super().connect(req, traces, timeout)
            trace = _CONNECTED.get(None)
            if trace is not None:
                await trace("aiohttp.send_request_headers.started", {})
            return connection

    return Connector


def _translate(aiohttp: Any, exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception the shell classifies like aiohttp's ``exc``.

    Before any byte was written (DNS, refused, connect timeout, TLS): ``ConnectError`` or
    ``ConnectTimeout``, refused. After: ``ReadTimeout``, ``RemoteProtocolError`` or
    ``ReadError``, ambiguous.
    """
    text = f"{type(exc).__name__}: {exc}"
    connect_timeout = getattr(aiohttp, "ConnectionTimeoutError", None)
    if connect_timeout is not None and isinstance(exc, connect_timeout):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        # aiohttp < 3.10 has one class for both timeouts; its message says which.
        if connect_timeout is None and "connect" in str(exc).lower():
            return httpx.ConnectTimeout(text, request=request)
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):  # distinct classes before 3.11
        # A bare timeout does not say when it struck: assume the request may have gone out.
        return httpx.ReadTimeout(text, request=request)
    if isinstance(
        exc,
        (
            aiohttp.ClientConnectorError,
            aiohttp.ServerFingerprintMismatch,
            aiohttp.ClientHttpProxyError,
        ),
    ):
        return httpx.ConnectError(text, request=request)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(text, request=request)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError)):
        return httpx.RemoteProtocolError(text, request=request)
    return httpx.ReadError(text, request=request)
