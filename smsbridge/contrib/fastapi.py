"""The webhook endpoint for FastAPI and plain Starlette.

Example (FastAPI)::

    from smsbridge.contrib.fastapi import webhook_router

    app.include_router(webhook_router(sms, on_event=handle))   # POST/GET /sms/webhook

Example (Starlette)::

    from smsbridge.contrib.fastapi import webhook_route

    app = Starlette(routes=[webhook_route(sms, on_event=handle)])

``on_event`` receives each ``WebhookOutcome`` that is neither a
duplicate nor stale, and may be sync or async. See ``smsbridge.webhooks._runner`` for the
fast and inline modes.

The endpoint is a plain ASGI app: it reads the raw body itself (stopping at the bridge's size
limit) and, in inline mode, can answer before the callback has finished while still letting it
run to the end.

The bridge trusts ``X-Forwarded-*`` headers only from its ``trusted_proxies``, judged by the
peer address the adapter passes. ASGI has no access to the socket, and a proxy-headers
middleware (uvicorn's is on by default) replaces ``scope["client"]`` with an address taken from
``X-Forwarded-For``; ``socket_peer`` notices that and passes no address at all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from smsbridge._errors import SmsBridgeError
from smsbridge.webhooks._runner import (
    Mode,
    OnEvent,
    WebhookHandler,
    build_request,
    content_length_error,
    error_to_response,
    too_large,
)

from ._common import METHODS, PATH_SAFE

try:
    import anyio
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("starlette", "fastapi") from exc

if TYPE_CHECKING:
    from fastapi import APIRouter
    from starlette.types import Receive, Scope, Send

    from smsbridge._bridge import Bridge
    from smsbridge.webhooks import WebhookOutcome, WebhookResponse

__all__ = ["socket_peer", "webhook_route", "webhook_router", "webhook_view"]


class _Endpoint:
    """An ASGI app answering one webhook per request."""

    def __init__(self, handler: WebhookHandler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - routes only pass http scopes
            return
        handler = self.handler
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        limit = handler.max_body_size
        error = content_length_error(headers, limit)
        body = None if error else await _read_body(receive, limit)
        if body is None:
            await _send(send, error_to_response(error or too_large(limit)))
            return
        request = build_request(
            scope["method"], _url(scope, headers), headers, body, socket_peer(scope, headers)
        )
        try:
            outcome: WebhookOutcome = await handler.bridge.ahandle_webhook(request)
        except SmsBridgeError as exc:
            await _send(send, error_to_response(exc))
            return
        if not handler.wants_callback(outcome):
            await _send(send, outcome.response)
        elif handler.mode == "fast" and handler.backlogged:
            # Callbacks are falling behind: this one runs first, so the answer waits for it
            # (backpressure on the sender) rather than more tasks piling up toward 503s.
            await handler.call_logged(outcome, handler.ignored_reply)
            await _send(send, outcome.response)
        elif handler.mode == "fast":
            await _send(send, outcome.response)
            # Like a Starlette background task: the provider already has its answer.
            await handler.call_logged(outcome, handler.ignored_reply)
        else:
            await self._inline(outcome, send)

    async def _inline(self, outcome: WebhookOutcome, send: Send) -> None:
        handler = self.handler
        replies: list[Any] = []
        done = anyio.Event()

        async def run() -> None:
            try:
                await handler.call_logged(outcome, lambda _o, reply: replies.append(reply))
            finally:
                done.set()

        # The task group outlives the answer: past the timeout the plain acknowledgement is
        # sent while the callback keeps running, and the request ends when it does.
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            with anyio.move_on_after(handler.timeout_for(outcome)):
                await done.wait()
            if done.is_set():
                reply = replies[0] if replies else None
                await _send(send, handler.reply_response(outcome, reply))
                return
            await _send(send, outcome.response)
            await done.wait()
            if replies:
                handler.late_reply(outcome, replies[0])


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The raw body, or ``None`` as soon as it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: what arrived is all there is
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def socket_peer(scope: Scope, headers: Iterable[tuple[str, str]]) -> str | None:
    """The client address of ``scope`` if it is the socket peer, ``None`` if it may not be.

    A proxy-headers middleware (such as uvicorn's ``ProxyHeadersMiddleware``) sets
    ``scope["client"]`` to an entry of ``X-Forwarded-For`` (or ``Forwarded: for=``), with the
    port from that entry: usually none, so 0. The client counts as rewritten when its host is
    among those entries, or its port is 0 while such a header is present (a TCP peer never has
    port 0).

    Passing ``None`` only ever makes a request less trusted: the bridge then ignores
    ``X-Forwarded-*`` and checks the signature against the URL as received. A sender can add
    any ``X-Forwarded-For`` it likes, so the worst it can do with this rule is have its own
    request checked without its forwarded headers, which it could have left out anyway. What
    it can no longer do is name a trusted proxy's address in ``X-Forwarded-For`` and have a
    middleware hand that address to the bridge as the peer.

    Args:
        scope: the ASGI connection scope.
        headers: the request headers, names and values decoded as latin-1.
    """
    client = scope.get("client")
    if not client or not client[0]:
        return None
    host, port = str(client[0]), client[1]
    claimed = _forwarded_for(headers)
    if claimed is None:
        return host
    if port == 0 or _same_host(host, claimed):
        return None
    return host


def _forwarded_for(headers: Iterable[tuple[str, str]]) -> list[str] | None:
    """Hosts named by ``X-Forwarded-For`` and ``Forwarded: for=``; ``None`` if neither is sent."""
    hosts: list[str] = []
    seen = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "x-forwarded-for":
            seen = True
            hosts.extend(_host_of(entry) for entry in value.split(","))
        elif lowered == "forwarded":
            seen = True
            for element in value.split(","):
                for pair in element.split(";"):
                    key, _, item = pair.partition("=")
                    if key.strip().lower() == "for":
                        hosts.append(_host_of(item.strip().strip('"')))
    return hosts if seen else None


def _host_of(entry: str) -> str:
    """The host of an ``X-Forwarded-For`` entry: ``h``, ``h:port``, ``[v6]`` or ``[v6]:port``."""
    entry = entry.strip()
    if entry.startswith("["):
        end = entry.find("]")
        return entry[1:end] if end > 0 else entry
    if entry.count(":") == 1:  # IPv4 or a name with a port; a bare IPv6 has several colons
        return entry.partition(":")[0]
    return entry


def _same_host(host: str, candidates: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``candidates``, as text or as the same IP address."""
    wanted = _ip(host)
    for candidate in candidates:
        if candidate == host or (wanted is not None and _ip(candidate) == wanted):
            return True
    return False


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _url(scope: Scope, headers: list[tuple[str, str]]) -> str:
    """The URL as requested: raw path and query string exactly as the client sent them."""
    scheme = scope.get("scheme", "http")
    host = next((v for k, v in headers if k.lower() == "host"), None)
    if not host:
        server = scope.get("server")
        if server:
            name, port = server[0], server[1]
            if ":" in name and not name.startswith("["):
                name = f"[{name}]"
            default = {"http": 80, "https": 443}.get(scheme)
            host = name if port in (None, default) else f"{name}:{port}"
        else:
            host = "localhost"
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe=PATH_SAFE)
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


async def _send(send: Send, response: WebhookResponse) -> None:
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
    ]
    if not any(k == b"content-length" for k, _ in headers):
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


def webhook_view(
    bridge: Bridge,
    on_event: OnEvent,
    *,
    mode: Mode = "fast",
    timeout: float | Mapping[str, float] | None = None,
) -> Any:
    """The endpoint as an ASGI app, to mount anywhere (``Mount``, ``app.mount``, a ``Route``).

    Args:
        bridge: the bridge that verifies and parses the webhooks.
        on_event: called with each new outcome; sync or async. In inline mode a returned string
            is the reply (TwiML ``<Message>`` for Twilio).
        mode: ``"fast"`` (acknowledge, then run the callback) or ``"inline"``.
        timeout: inline mode's bound on the callback, in seconds, or per provider as a mapping
            (default 1.5 s for Telnyx, 12 s for Twilio).

    Returns:
        An ASGI application.
    """
    return _Endpoint(WebhookHandler(bridge, on_event, mode=mode, timeout=timeout))


def webhook_route(
    bridge: Bridge,
    on_event: OnEvent,
    *,
    path: str | None = None,
    mode: Mode = "fast",
    timeout: float | Mapping[str, float] | None = None,
    name: str = "smsbridge_webhook",
) -> Route:
    """A Starlette ``Route`` for the webhook endpoint (GET and POST).

    Args:
        bridge: the bridge that verifies and parses the webhooks.
        on_event: see ``webhook_view``.
        path: where to mount it; the bridge's ``webhook_path`` (``/sms/webhook``) by default.
        mode: ``"fast"`` or ``"inline"``; see ``webhook_view``.
        timeout: see ``webhook_view``.
        name: the route name, for ``url_path_for``.

    Returns:
        The route, for ``Starlette(routes=[...])`` or ``app.router.routes.append``.
    """
    endpoint = webhook_view(bridge, on_event, mode=mode, timeout=timeout)
    return Route(_path(bridge, path), endpoint, methods=list(METHODS), name=name)


def webhook_router(
    bridge: Bridge,
    on_event: OnEvent,
    *,
    path: str | None = None,
    mode: Mode = "fast",
    timeout: float | Mapping[str, float] | None = None,
    name: str = "smsbridge_webhook",
) -> APIRouter:
    """A FastAPI ``APIRouter`` holding the webhook endpoint, for ``app.include_router``.

    Arguments are those of ``webhook_route``. The route is left out of the OpenAPI schema:
    its body is whatever the providers send.
    """
    try:
        from fastapi import APIRouter
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from ._common import missing_extra

        raise missing_extra("fastapi", "fastapi") from exc
    router = APIRouter()
    route = webhook_route(bridge, on_event, path=path, mode=mode, timeout=timeout, name=name)
    route.include_in_schema = False
    router.routes.append(route)
    return router


def _path(bridge: Bridge, path: str | None) -> str:
    chosen = path if path is not None else getattr(bridge, "webhook_path", "/sms/webhook")
    return "/" + chosen.lstrip("/")
