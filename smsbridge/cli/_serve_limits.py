"""A deadline for each request's headers and body, which uvicorn does not have.

uvicorn's ``timeout_keep_alive`` only runs between requests, once a response has gone out. A
client that opens a connection and sends nothing, or sends a request a byte at a time, holds
the connection for as long as it likes; a few hundred such clients fill ``limit_concurrency``
and every real webhook then gets 503.

``deadline_protocol`` builds a subclass of uvicorn's h11 protocol that starts a timer when a
connection opens, and when the first bytes of a later request on it arrive, and cancels it once
h11 has the whole request (headers and body). When the timer fires first, the connection is
closed: with a ``408 Request Timeout`` if the headers were still incomplete (no application
code is running for that request, so nothing else can be writing an answer), or without an
answer when the application is already reading the body (it then sees ``http.disconnect``).
Time spent by the application after the request is in is not limited here.

What it relies on in uvicorn (checked when the class is built, so a uvicorn that changed fails
at startup with a clear message rather than silently serving without the deadline):

* ``uvicorn.protocols.http.h11_impl.H11Protocol`` with the methods ``connection_made``,
  ``data_received``, ``connection_lost`` and ``on_response_complete`` (called after each
  response, when uvicorn arms its keep-alive timer and parses pipelined data);
* the instance attributes ``conn`` (the ``h11.Connection``), ``transport`` and ``loop``,
  checked by ``check_protocol``, which builds one instance at startup the way uvicorn's
  server does. That check cannot wait for the first connection: asyncio drops a connection
  whose protocol fails to build without logging anything (outside its debug mode).

Everything else (states, the 408) goes through h11's public API.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

import h11

from smsbridge.cli.serve import DEFAULT_REQUEST_TIMEOUT

if TYPE_CHECKING:
    from uvicorn import Config
    from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "UvicornChanged", "check_protocol", "deadline_protocol"]

log = logging.getLogger("smsbridge.serve")

_HOOKS = ("connection_made", "data_received", "connection_lost", "on_response_complete")
_ATTRIBUTES = ("conn", "transport", "loop")
# Their side is still sending the current request in these states; any other state means the
# request is complete (DONE, MUST_CLOSE), the connection is over (CLOSED, ERROR) or switching
# protocol, and no deadline applies.
_RECEIVING = (h11.IDLE, h11.SEND_BODY)


class UvicornChanged(RuntimeError):
    """The installed uvicorn lacks an internal the request deadline is built on."""


def _h11_base() -> type[H11Protocol]:
    import uvicorn

    try:
        from uvicorn.protocols.http.h11_impl import H11Protocol
    except ImportError as exc:
        raise UvicornChanged(
            f"uvicorn {uvicorn.__version__} has no uvicorn.protocols.http.h11_impl.H11Protocol; "
            "smsbridge serve's request timeout needs it (install a uvicorn release that has it, "
            "or a newer smsbridge)"
        ) from exc
    missing = [name for name in _HOOKS if not callable(getattr(H11Protocol, name, None))]
    if missing:
        raise UvicornChanged(
            f"uvicorn {uvicorn.__version__}'s H11Protocol has no {', '.join(missing)}; "
            "smsbridge serve's request timeout is built on it (install a uvicorn release that "
            "has it, or a newer smsbridge)"
        )
    return H11Protocol


def deadline_protocol(request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with a deadline of ``request_timeout`` seconds per request.

    Pass the result as ``uvicorn.Config(http=...)``. The deadline covers waiting for the first
    request on a new connection, and a request's headers and body; the keep-alive wait between
    requests stays uvicorn's ``timeout_keep_alive``.

    Raises:
        ValueError: ``request_timeout`` is not a positive, finite number.
        UvicornChanged: the installed uvicorn lacks what the deadline hooks into.
    """
    if not (request_timeout > 0 and math.isfinite(request_timeout)):
        raise ValueError("the request timeout must be a positive, finite number of seconds")
    if TYPE_CHECKING:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base
    else:
        Base = _h11_base()

    class DeadlineH11Protocol(Base):
        """uvicorn's h11 protocol, closing connections whose request does not arrive in time."""

        timeout = request_timeout

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            missing = [name for name in _ATTRIBUTES if not hasattr(self, name)]
            if missing or not isinstance(self.conn, h11.Connection):
                raise UvicornChanged(
                    "uvicorn's H11Protocol no longer keeps "
                    + (", ".join(missing) or "an h11.Connection in .conn")
                    + "; smsbridge serve's request timeout cannot work with this uvicorn"
                )
            self._deadline: asyncio.TimerHandle | None = None
            # Whether any byte of the pending request has arrived: a 408 is only worth sending
            # to a client that started one (a silent connection is simply closed).
            self._started = False

        def _pending(self) -> bool:
            """Whether part of a request has arrived and the rest has not."""
            conn = self.conn
            state = conn.their_state
            return state is h11.SEND_BODY or (state is h11.IDLE and bool(conn.trailing_data[0]))

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(self.timeout, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            self._started = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()  # the first request must arrive in time too, not only finish

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state in _RECEIVING:
                # A request starts (or goes on): uvicorn is about to drop its keep-alive timer,
                # so this deadline takes over. It is not pushed back by later bytes.
                self._arm()
                self._started = self._started or bool(data)
            super().data_received(data)
            if not self._pending():
                # The request is complete, or h11 went straight on to an idle next cycle
                # (after an early answer such as 413): uvicorn's keep-alive timer rules now.
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # uvicorn may just have parsed a pipelined request buffered during the response;
            # a partial one would otherwise wait with no timer at all (uvicorn drops its
            # keep-alive timer as soon as it sees a request line).
            if not self.transport.is_closing() and self._pending():
                self._arm()
                self._started = True

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _expired(self) -> None:
            self._deadline = None
            transport = self.transport
            # After a protocol switch the transport belongs to another protocol: leave it be.
            if transport.is_closing() or transport.get_protocol() is not self:
                return
            conn = self.conn
            if self._started and conn.their_state is h11.IDLE and conn.our_state is h11.IDLE:
                log.debug("request headers incomplete after %.1f s: 408, closing", self.timeout)
                self._answer_408(transport)
            else:
                log.debug("request incomplete after %.1f s: closing the connection", self.timeout)
            transport.close()

        def _answer_408(self, transport: asyncio.Transport) -> None:
            # Only called before h11 has seen a request line: no ASGI task exists for this
            # request, so nothing else can be writing a response on this connection.
            headers = [("content-length", "0"), ("connection", "close")]
            try:
                head = self.conn.send(
                    h11.Response(status_code=408, headers=headers, reason=b"Request Timeout")
                )
                tail = self.conn.send(h11.EndOfMessage())
            except h11.LocalProtocolError:
                return  # h11 will not frame an answer in this state: closing says enough
            transport.write((head or b"") + (tail or b""))

    return DeadlineH11Protocol


def check_protocol(protocol: type[asyncio.Protocol], config: Config) -> None:
    """Build one ``protocol`` for ``config`` as uvicorn's server would, and drop it.

    Raises:
        UvicornChanged: uvicorn's protocol no longer takes the arguments its server passed in
            this release, or no longer keeps what the deadline relies on.
    """
    from uvicorn.server import ServerState

    loop = asyncio.new_event_loop()
    try:
        protocol(  # type: ignore[call-arg]
            config=config, server_state=ServerState(), app_state={}, _loop=loop
        )
    except TypeError as exc:
        raise UvicornChanged(
            f"uvicorn's H11Protocol cannot be built as smsbridge serve expects ({exc}); "
            "install a uvicorn release it supports, or a newer smsbridge"
        ) from exc
    finally:
        loop.close()
