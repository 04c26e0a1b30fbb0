"""``smsbridge serve``: the unified webhook endpoint as a process (uvicorn, the ``server`` extra).

Each verified event is printed as one line of JSON on stdout, or POSTed as JSON to
``--forward-url``. Duplicates and stale statuses are acknowledged and not passed on.

The endpoint faces the internet, so uvicorn runs with bounds it does not set by itself: a
connection limit, a keep-alive timeout, and a deadline for each request's headers and body
(``smsbridge.cli._serve_limits``), so that clients sending slowly cannot hold every
connection.
uvicorn's proxy-headers middleware is off: the bridge decides which forwarded headers to
believe (``--trusted-proxy``), from the real socket peer.

The forward URL may carry credentials (``user:pass@``) or a token in its query string; only
``redact_url``'s form of it is ever printed or logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from smsbridge._errors import ConfigError
from smsbridge._redact import redact_url

if TYPE_CHECKING:
    from smsbridge.webhooks import WebhookOutcome
    from smsbridge.webhooks._runner import OnEvent

__all__ = [
    "DEFAULT_LIMIT_CONCURRENCY",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_TIMEOUT_KEEP_ALIVE",
    "EXAMPLES",
    "add_arguments",
    "event_json",
    "run_serve",
]

log = logging.getLogger("smsbridge.serve")

DEFAULT_LIMIT_CONCURRENCY = 1000
"""Open connections before uvicorn answers 503: far above what providers send at once."""
DEFAULT_TIMEOUT_KEEP_ALIVE = 5
"""Seconds an idle connection is kept open between requests (uvicorn's own default)."""
# Defined here rather than in _serve_limits (which re-exports it) so that building the parser
# does not import h11 and asyncio.
DEFAULT_REQUEST_TIMEOUT = 10.0
"""Seconds a client has to send a whole request (webhooks are a few KiB, sent from data centres)."""


EXAMPLES = (
    "smsbridge serve --port 8000",
    "# behind your proxy at https://app.example.com, events POSTed to your own service:",
    "smsbridge serve --public-url https://app.example.com --trusted-proxy 127.0.0.1 "
    "--forward-url http://127.0.0.1:9000/sms-events",
)
"""Shown at the end of ``smsbridge serve --help``."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``smsbridge serve`` to ``parser``."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0: every interface, to be reachable from outside)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--path", default="/sms/webhook", help="the endpoint's path (others answer 404)"
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL providers call, as set in their consoles: https://app.example.com or "
        "the endpoint's full URL; signatures are checked against it (default: the URL the "
        "request arrived on, rebuilt from --trusted-proxy headers)",
    )
    parser.add_argument(
        "--forward-url",
        metavar="URL",
        help="POST each event as JSON to this URL (its credentials and query are never logged)",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="address or CIDR network of your own reverse proxy, whose X-Forwarded-* headers "
        "are believed (repeatable; default: none)",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=_positive_int,
        default=DEFAULT_LIMIT_CONCURRENCY,
        metavar="N",
        help="open connections before new requests get 503",
    )
    parser.add_argument(
        "--timeout-keep-alive",
        type=_positive_int,
        default=DEFAULT_TIMEOUT_KEEP_ALIVE,
        metavar="SECONDS",
        help="close a connection idle this long between requests",
    )
    parser.add_argument(
        "--request-timeout",
        type=_positive_float,
        default=DEFAULT_REQUEST_TIMEOUT,
        metavar="SECONDS",
        help="drop a connection whose request (headers and body) has not fully arrived this "
        "long after it began, or after the connection opened",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def event_json(outcome: WebhookOutcome) -> list[dict[str, Any]]:
    """The outcome's events as JSON-ready dicts (``kind`` says inbound or status; no ``raw``)."""
    out = []
    for event in outcome.events:
        data = event.model_dump(mode="json", exclude={"raw"})
        kind = "inbound" if type(event).__name__ == "InboundMessage" else "status"
        out.append({"kind": kind, **data})
    return out


def _app(path: str, endpoint: Any) -> Any:
    """An ASGI app answering ``path`` with the endpoint and 404 elsewhere."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") == path:
            await endpoint(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        body = b'{"error":{"code":"not_found","message":"no webhook endpoint here"}}'
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


class _RedactForwardUrl(logging.Filter):
    """Show httpx's ``HTTP Request: POST <url>`` lines with the forward URL redacted.

    httpx logs the full request URL (credentials and query included) at INFO, which
    ``--debug`` turns on.
    """

    def __init__(self, shown: str) -> None:
        super().__init__()
        self.shown = shown

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(self._ours(arg) for arg in args):
            record.args = tuple(self.shown if self._ours(arg) else arg for arg in args)
        return True

    def _ours(self, arg: object) -> bool:
        import httpx

        return isinstance(arg, httpx.URL) and redact_url(str(arg)) == self.shown


def _check_forward_url(url: str) -> str:
    """The printable form of ``url``, after checking httpx takes it as an absolute http(s) URL.

    The printable form is made from httpx's normalised URL, the form its log lines quote, so
    that ``_RedactForwardUrl`` recognises them.
    """
    import httpx

    try:
        parsed = httpx.URL(url)
        ok = parsed.scheme in ("http", "https") and bool(parsed.host)
    except (httpx.InvalidURL, TypeError, ValueError):
        ok = False
    if not ok:
        # Never echo the value: it may hold a password or a token.
        raise ConfigError(
            "--forward-url must be an absolute http:// or https:// URL", variable="forward_url"
        )
    return redact_url(str(parsed))


def run_serve(args: argparse.Namespace) -> int:
    """Serve the endpoint until interrupted."""
    try:
        import uvicorn

        from smsbridge.contrib.fastapi import webhook_view
    except ImportError:
        raise ConfigError(
            "smsbridge serve needs the 'server' extra: pip install 'smsbridge[server]'",
            variable="server",
        ) from None
    import httpx

    from smsbridge._bridge import Bridge
    from smsbridge.cli._serve_limits import check_protocol, deadline_protocol

    path = "/" + args.path.lstrip("/")
    options: dict[str, Any] = {"webhook_path": path, "trusted_proxies": args.trusted_proxy}
    if args.public_url:
        options["public_url"] = args.public_url
    shown = _check_forward_url(args.forward_url) if args.forward_url else None
    protocol = deadline_protocol(args.request_timeout)
    bridge = Bridge.from_env(**options)
    forward = httpx.Client(timeout=10.0) if args.forward_url else None

    async def print_event(outcome: WebhookOutcome) -> None:
        # On the event loop, like any async callback: a worker thread per event (what a sync
        # callback gets) cost about a third of the endpoint's throughput under load. One
        # thread writes, one write per line, so two events never share a line.
        for item in event_json(outcome):
            sys.stdout.write(json.dumps(item, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def forward_event(outcome: WebhookOutcome) -> None:
        # In a worker thread: a slow --forward-url must not hold up the event loop.
        assert forward is not None
        for item in event_json(outcome):
            try:
                forward.post(args.forward_url, json=item).raise_for_status()
            except httpx.HTTPStatusError as exc:
                # str(exc) of any httpx error may quote the full URL: type and status only.
                status = exc.response.status_code
                log.error("forwarding an event to %s failed: HTTP %d", shown, status)
            except Exception as exc:
                # Any failure (not only httpx's) is one line: its message may quote the URL.
                log.error("forwarding an event to %s failed: %s", shown, type(exc).__name__)

    on_event: OnEvent = print_event if forward is None else forward_event
    app = _app(path, webhook_view(bridge, on_event, mode="fast"))
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="on",
        http=protocol,
        ws="none",  # the endpoint is plain HTTP: no upgrade should take a connection elsewhere
        proxy_headers=False,  # the real peer reaches the bridge, which applies --trusted-proxy
        limit_concurrency=args.limit_concurrency,
        timeout_keep_alive=args.timeout_keep_alive,
    )
    redactor = _RedactForwardUrl(shown) if shown else None
    httpx_log = logging.getLogger("httpx")
    try:
        check_protocol(protocol, config)  # a uvicorn that changed fails here, not per connection
        print(
            f"smsbridge: webhook endpoint on http://{args.host}:{args.port}{path}", file=sys.stderr
        )
        if shown:
            print(f"smsbridge: forwarding events to {shown}", file=sys.stderr)
        if redactor is not None:
            httpx_log.addFilter(redactor)
        uvicorn.Server(config).run()
    finally:
        if redactor is not None:
            httpx_log.removeFilter(redactor)
        if forward is not None:
            forward.close()
    return 0
