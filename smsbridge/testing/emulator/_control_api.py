"""The emulator's control API over HTTP (``/_emulator/...``), mirroring the Python methods.

=======  ===========================  ==================================================
method   path                         body / query → answer
=======  ===========================  ==================================================
GET      /_emulator/info              urls, account ids, fake credentials, public key
GET      /_emulator/messages          ``?provider=`` → ``{"messages": [...]}``
GET      /_emulator/callbacks         ``{"callbacks": [...]}`` (every delivery attempt)
GET      /_emulator/faults            ``{"faults": [...]}``
POST     /_emulator/faults            ``{"provider", "kind", "times"?, "duration"?, ...}``
DELETE   /_emulator/faults            ``?provider=`` → ``{"cleared": n}``
POST     /_emulator/webhooks          ``{"provider", "number", "url"}``
POST     /_emulator/inbound           ``{"provider", "from", "to", "text", "media_urls"?}``
POST     /_emulator/opt_out           ``{"provider", "number", "opted_out"?: true}``
POST     /_emulator/wait_idle         ``{"timeout"?: 5}`` → ``{"idle": bool}``
GET      /_emulator/clock             ``{"now": iso, "offset": seconds ahead of real time}``
POST     /_emulator/advance           ``{"seconds": N}`` → ``{"now", "offset", "released": [ids]}``
POST     /_emulator/reset             forget messages, faults, webhooks, opt-outs, logs; real time
=======  ===========================  ==================================================

Errors are ``{"error": "<why>"}`` with 400 (bad input), 404 (unknown path or no webhook for
an inbound message) or 405. The control API has no authentication: it is a loopback test tool.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from smsbridge.testing.emulator._common import Request, Response, json_response

if TYPE_CHECKING:
    from smsbridge.testing.emulator._emulator import Emulator

__all__ = ["handle_control"]


def _fail(status: int, why: str) -> Response:
    return json_response(status, {"error": why})


def _json_object(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    data = json.loads(request.body)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def handle_control(emulator: Emulator, request: Request) -> Response:
    """Answer one ``/_emulator/...`` request."""
    name = request.path[len("/_emulator/") :].strip("/")
    query = {k: v[0] for k, v in parse_qs(request.query).items()}
    routes: dict[tuple[str, str], Callable[[], Any]] = {
        ("GET", "info"): lambda: emulator.info(),
        ("GET", "messages"): lambda: {"messages": emulator.messages(query.get("provider"))},
        ("GET", "callbacks"): lambda: {"callbacks": emulator.callbacks()},
        ("GET", "faults"): lambda: {"faults": emulator.faults()},
        ("GET", "clock"): lambda: _clock(emulator),
        ("DELETE", "faults"): lambda: {"cleared": emulator.clear_faults(query.get("provider"))},
        ("POST", "reset"): lambda: _reset(emulator),
    }
    if (request.method, name) in routes:
        try:
            return json_response(200, routes[(request.method, name)]())
        except ValueError as exc:
            return _fail(400, str(exc))
    if request.method != "POST" or name not in _POSTS:
        known = {n for _, n in routes} | set(_POSTS)
        return _fail(405 if name in known else 404, f"no control endpoint {request.method} {name}")
    try:
        data = _json_object(request)
        return _POSTS[name](emulator, data)
    except LookupError as exc:
        return _fail(404, str(exc.args[0]) if exc.args else "not found")
    except (ValueError, TypeError) as exc:
        return _fail(400, str(exc))


def _reset(emulator: Emulator) -> dict[str, Any]:
    emulator.reset()
    return {"reset": True}


def _clock(emulator: Emulator, released: list[str] | None = None) -> dict[str, Any]:
    clock = {"now": emulator.now().isoformat(), "offset": emulator._state.clock.offset}
    return clock if released is None else {**clock, "released": released}


def _post_advance(emulator: Emulator, data: dict[str, Any]) -> Response:
    seconds = data.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError("'seconds' is required and must be a number")
    return json_response(200, _clock(emulator, emulator.advance(seconds)))


def _post_fault(emulator: Emulator, data: dict[str, Any]) -> Response:
    provider, kind = data.pop("provider", None), data.pop("kind", None)
    if not isinstance(provider, str) or not isinstance(kind, str):
        raise ValueError("'provider' and 'kind' are required strings")
    return json_response(201, {"fault": emulator.fault(provider, kind, **data)})


def _post_webhook(emulator: Emulator, data: dict[str, Any]) -> Response:
    emulator.set_webhook(_str(data, "provider"), _str(data, "number"), _str(data, "url"))
    return json_response(200, {"ok": True})


def _post_inbound(emulator: Emulator, data: dict[str, Any]) -> Response:
    media = data.get("media_urls") or []
    if not isinstance(media, list) or not all(isinstance(u, str) for u in media):
        raise ValueError("'media_urls' must be a list of strings")
    delivered = emulator.inbound(
        _str(data, "provider"), _str(data, "from"), _str(data, "to"), _str(data, "text"), media
    )
    return json_response(200, {"delivery": delivered})


def _post_opt_out(emulator: Emulator, data: dict[str, Any]) -> Response:
    if data.get("opted_out", True):
        emulator.opt_out(_str(data, "provider"), _str(data, "number"))
    else:
        emulator.opt_in(_str(data, "provider"), _str(data, "number"))
    return json_response(200, {"ok": True})


def _post_wait_idle(emulator: Emulator, data: dict[str, Any]) -> Response:
    timeout = data.get("timeout", 5.0)
    if not isinstance(timeout, (int, float)) or not 0 <= timeout <= 60:
        raise ValueError("'timeout' must be 0 to 60 seconds")
    return json_response(200, {"idle": emulator.wait_idle(float(timeout))})


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is required and must be a string")
    return value


_POSTS = {
    "faults": _post_fault,
    "webhooks": _post_webhook,
    "inbound": _post_inbound,
    "opt_out": _post_opt_out,
    "wait_idle": _post_wait_idle,
    "advance": _post_advance,
}
