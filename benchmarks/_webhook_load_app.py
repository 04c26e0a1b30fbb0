"""The two server apps :mod:`benchmarks._webhook_load` starts besides ``smsbridge serve``.

Usage::

    python -m benchmarks._webhook_load_app adapter --port 8001 --public-url https://sms.example.com
    python -m benchmarks._webhook_load_app sdk --port 8002 --public-url https://sms.example.com

* ``adapter``: a FastAPI app with ``webhook_router(Bridge.from_env(...), on_event)``, the
  documented way to mount the endpoint; an async ``on_event`` prints each event as ``smsbridge
  serve`` does (one JSON line per event on stdout, from :func:`smsbridge.cli.serve.event_json`),
  from the event loop as the SDK endpoint prints its lines.
* ``sdk``: a FastAPI app whose one endpoint does what an application written with the
  official SDKs would: dispatch by signature header, then Twilio's
  ``RequestValidator.validate`` on the form parsed into a dict, Telnyx's
  ``client.webhooks.unwrap`` (typed event, Ed25519 and timestamp check), vonage-jwt's
  ``verify_signature`` and ``json.loads``. A forgery is answered 403. It has no
  de-duplication, because none of the SDKs offers one. Each event is printed as a short JSON
  line (provider and id): less work than the full event the other two print, which favours the
  SDK in the comparison.

Both run under uvicorn with exactly the settings ``smsbridge serve`` uses (its h11 protocol
with the request deadline, no proxy headers, no websockets, the same connection limit and
keep-alive), so that the three servers differ only in the endpoint. Credentials come from the
environment, the same variables ``smsbridge serve`` reads.
"""

import argparse
import json
import os
import sys
from typing import Any
from urllib.parse import parse_qsl

PATH = "/sms/webhook"


def _print_line(item: dict[str, Any]) -> None:
    # One write per event, flushed: what ``smsbridge serve`` does, so the file is complete
    # the moment the server is stopped.
    print(json.dumps(item, separators=(",", ":")), flush=True)


def adapter_app(public_url: str) -> Any:
    """FastAPI + ``webhook_router``, events printed as ``smsbridge serve`` prints them."""
    from fastapi import FastAPI

    from smsbridge import Bridge
    from smsbridge.cli.serve import event_json
    from smsbridge.contrib.fastapi import webhook_router

    bridge = Bridge.from_env(public_url=public_url, webhook_path=PATH)

    # Async, like the SDK endpoint below, which prints from the event loop too: a sync callback
    # would run each event in a worker thread, a cost the SDK endpoint does not pay.
    async def on_event(outcome: Any) -> None:
        for item in event_json(outcome):
            _print_line(item)

    app = FastAPI()
    app.include_router(webhook_router(bridge, on_event))
    return app


def sdk_app(public_url: str) -> Any:
    """FastAPI + the official SDKs' verifiers and parsers, no de-duplication."""
    import telnyx
    import vonage_jwt  # type: ignore[import-untyped]
    from fastapi import FastAPI, Request, Response
    from twilio.request_validator import RequestValidator

    url = public_url.rstrip("/") + PATH
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    client = telnyx.Telnyx(
        api_key=os.environ["TELNYX_API_KEY"], public_key=os.environ["TELNYX_PUBLIC_KEY"]
    )
    vonage_secret = os.environ["VONAGE_SIGNATURE_SECRET"]
    twiml = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    forbidden = Response(b'{"error":"invalid signature"}', 403, media_type="application/json")
    app = FastAPI()

    # FastAPI resolves the ``Request`` annotation at decoration time (this module does not use
    # ``from __future__ import annotations``, which would leave it a string naming a local).
    @app.post(PATH)
    async def webhook(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        signature = headers.get("x-twilio-signature")
        if signature is not None:
            params = dict(parse_qsl(body.decode(), keep_blank_values=True))
            if not validator.validate(url, params, signature):
                return forbidden
            _print_line({"provider": "twilio", "id": params.get("MessageSid")})
            return Response(twiml, media_type="text/xml")
        if "telnyx-signature-ed25519" in headers:
            try:
                event = client.webhooks.unwrap(body.decode(), headers=dict(headers))
            except Exception:  # the SDK raises its own error types on a bad signature
                return forbidden
            _print_line({"provider": "telnyx", "id": event.data.id})  # type: ignore[union-attr]
            return Response(b'{"ok":true}', media_type="application/json")
        token = headers.get("authorization", "").removeprefix("Bearer ")
        try:
            verified = bool(token) and vonage_jwt.verify_signature(token, vonage_secret)
        except Exception:  # a token that does not decode is a forgery too
            verified = False
        if not verified:
            return forbidden
        payload = json.loads(body)
        _print_line({"provider": "vonage", "id": payload.get("message_uuid")})
        return Response(b"", status_code=200)

    return app


def main(argv: list[str] | None = None) -> int:
    """Build the app named on the command line and serve it like ``smsbridge serve``."""
    import uvicorn

    from smsbridge.cli._serve_limits import check_protocol, deadline_protocol
    from smsbridge.cli.serve import (
        DEFAULT_LIMIT_CONCURRENCY,
        DEFAULT_REQUEST_TIMEOUT,
        DEFAULT_TIMEOUT_KEEP_ALIVE,
    )

    parser = argparse.ArgumentParser(prog="python -m benchmarks._webhook_load_app")
    parser.add_argument("app", choices=["adapter", "sdk"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-url", required=True)
    args = parser.parse_args(argv)
    app = adapter_app(args.public_url) if args.app == "adapter" else sdk_app(args.public_url)
    protocol = deadline_protocol(DEFAULT_REQUEST_TIMEOUT)
    # The same uvicorn.Config as smsbridge.cli.serve.run_serve builds.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="on",
        http=protocol,
        ws="none",
        proxy_headers=False,
        limit_concurrency=DEFAULT_LIMIT_CONCURRENCY,
        timeout_keep_alive=DEFAULT_TIMEOUT_KEEP_ALIVE,
    )
    check_protocol(protocol, config)
    print(f"{args.app}: listening on http://{args.host}:{args.port}{PATH}", file=sys.stderr)
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
