"""``smsbridge serve``: the unified webhook endpoint as a process (uvicorn, the ``server`` extra).

Each verified event is printed as one line of JSON on stdout, or POSTed as JSON to
``--forward-url``. Duplicates and stale statuses are acknowledged and not passed on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from smsbridge._errors import ConfigError

if TYPE_CHECKING:
    from smsbridge.webhooks import WebhookOutcome

__all__ = ["event_json", "run_serve"]

log = logging.getLogger("smsbridge.serve")


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

    path = "/" + args.path.lstrip("/")
    options: dict[str, Any] = {"webhook_path": path}
    if args.public_url:
        options["public_url"] = args.public_url
    bridge = Bridge.from_env(**options)
    forward = httpx.Client(timeout=10.0) if args.forward_url else None

    def on_event(outcome: WebhookOutcome) -> None:
        for item in event_json(outcome):
            if forward is None:
                print(json.dumps(item, separators=(",", ":")), flush=True)
                continue
            try:
                forward.post(args.forward_url, json=item).raise_for_status()
            except httpx.HTTPError as exc:
                log.error("forwarding an event to %s failed: %s", args.forward_url, exc)

    print(f"smsbridge: webhook endpoint on http://{args.host}:{args.port}{path}", file=sys.stderr)
    app = _app(path, webhook_view(bridge, on_event, mode="fast"))
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="on")
    finally:
        if forward is not None:
            forward.close()
    return 0
