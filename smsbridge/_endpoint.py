"""A dependency-free webhook endpoint on the standard library's HTTP server.

It backs ``smsbridge demo`` and ``smsbridge serve`` when uvicorn is not installed: every request
becomes a :class:`~smsbridge.WebhookRequest`, goes through :meth:`Bridge.handle_webhook`, and
the outcome's response goes back. Verified, non-duplicate events go to ``on_event``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from smsbridge._errors import WebhookError

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.webhooks import WebhookOutcome

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
        self.rejected: list[WebhookError] = []
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
        from smsbridge.webhooks import WebhookRequest, error_response

        bridge = self.bridge
        if bridge is None:
            handler.send_error(503, "no bridge configured yet")
            return
        length = handler.headers.get("Content-Length", "0")
        try:
            size = int(length)
        except ValueError:
            size = -1
        limit = bridge.max_body_size
        # Read no more than one byte past the limit: the bridge answers 413 for it.
        body = handler.rfile.read(min(size, limit + 1)) if size > 0 else b""
        host = handler.headers.get("Host") or self.url.split("://", 1)[1]
        request = WebhookRequest(
            method=handler.command,
            url=f"http://{host}{handler.path}",
            headers=list(handler.headers.items()),
            body=body,
            remote_addr=handler.client_address[0],
        )
        try:
            outcome = bridge.handle_webhook(request)
        except WebhookError as exc:
            self.rejected.append(exc)
            response = error_response(exc)
        else:
            response = outcome.response
            if self.on_event is not None and not (outcome.duplicate or outcome.stale):
                try:
                    reply = self.on_event(outcome)
                except Exception:  # the app's callback must not take the endpoint down
                    log.exception("on_event callback failed")
                    reply = None
                if reply is not None:
                    response = outcome.reply(reply)
        if size > limit:
            handler.close_connection = True  # the rest of an oversized body is never read
        handler.send_response(response.status_code)
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        handler.wfile.write(response.body)
