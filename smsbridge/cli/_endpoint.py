"""A dependency-free webhook endpoint on the standard library's HTTP server.

It backs ``smsbridge demo``, which must run on the core install alone (no uvicorn): requests go
through the same ``WebhookHandler`` as the framework adapters,
in inline mode, so verified, non-duplicate events go to ``on_event`` and a string it returns is
the reply.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.webhooks import WebhookOutcome
    from smsbridge.webhooks._runner import WebhookHandler

__all__ = ["WebhookEndpoint"]

log = logging.getLogger("smsbridge.endpoint")


class WebhookEndpoint:
    """Serve ``bridge``'s webhook endpoint on ``host:port`` in a background thread.

    Args:
        bridge: the bridge whose providers' webhooks are verified; may be set after
            construction (the bridge's ``public_url`` often needs this endpoint's port).
        on_event: called with each accepted outcome (duplicates and stale ones are only
            acknowledged); a string it returns becomes the reply (TwiML for Twilio).
        host, port: where to listen (port 0 picks a free one).
    """

    def __init__(
        self,
        bridge: Bridge | None,
        on_event: Callable[[WebhookOutcome], str | None] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.bridge = bridge
        self.on_event = on_event
        self._handler: WebhookHandler | None = None
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                endpoint._serve(self)

            def do_POST(self) -> None:
                endpoint._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("endpoint: " + format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL the endpoint listens on, e.g. ``http://127.0.0.1:53211``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookEndpoint:
        """Start serving in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="smsbridge-endpoint", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        from smsbridge.webhooks._runner import WebhookHandler

        bridge = self.bridge
        if bridge is None:
            handler.send_error(503, "no bridge configured yet")
            return
        if self._handler is None or self._handler.bridge is not bridge:
            self._handler = WebhookHandler(bridge, self._on_event, mode="inline")
        host = handler.headers.get("Host") or self.url.split("://", 1)[1]
        response = self._handler.handle_stream(
            handler.command,
            f"http://{host}{handler.path}",
            list(handler.headers.items()),
            _body_reader(handler),
            handler.client_address[0],
        )
        if response.status_code == 413:
            handler.close_connection = True  # the rest of an oversized body is never read
        handler.send_response(response.status_code)
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        handler.wfile.write(response.body)

    def _on_event(self, outcome: WebhookOutcome) -> str | None:
        return self.on_event(outcome) if self.on_event is not None else None


def _body_reader(handler: BaseHTTPRequestHandler) -> Callable[[int], bytes]:
    """``read(n)`` that stops at Content-Length: a keep-alive socket never reaches EOF."""
    try:
        remaining = max(0, int(handler.headers.get("Content-Length") or 0))
    except ValueError:
        remaining = 0

    def read(size: int) -> bytes:
        nonlocal remaining
        if remaining <= 0:
            return b""
        chunk = handler.rfile.read(min(size, remaining))
        remaining -= len(chunk)
        return chunk if chunk else b""

    return read
