"""The webhook endpoint for Flask.

Example::

    from smsbridge.contrib.flask import webhook_blueprint

    app.register_blueprint(webhook_blueprint(sms, on_event=handle))   # POST/GET /sms/webhook

``on_event`` receives each ``WebhookOutcome`` that is neither a
duplicate nor stale, and may be sync or async (an async one runs on its own event loop in a
worker thread). In fast mode it runs in a worker thread after the answer; in inline mode the
view waits for it up to the timeout. See ``smsbridge.webhooks._runner``.

With Flask-WTF's ``CSRFProtect``, exempt the blueprint (``csrf.exempt(bp)``): providers sign
their requests instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smsbridge.webhooks._runner import Mode, OnEvent, WebhookHandler

from ._common import METHODS, wsgi_url

try:
    import flask
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("flask", "flask") from exc

if TYPE_CHECKING:
    from collections.abc import Callable

    from smsbridge._bridge import Bridge
    from smsbridge.webhooks import WebhookResponse

__all__ = ["webhook_blueprint", "webhook_view"]


def webhook_view(
    bridge: Bridge,
    on_event: OnEvent,
    *,
    mode: Mode = "fast",
    timeout: float | Mapping[str, float] | None = None,
) -> Callable[[], flask.Response]:
    """The endpoint as a Flask view function, for ``app.add_url_rule``.

    Args:
        bridge: the bridge that verifies and parses the webhooks.
        on_event: called with each new outcome; sync or async. In inline mode a returned string
            is the reply (TwiML ``<Message>`` for Twilio).
        mode: ``"fast"`` (acknowledge, then run the callback) or ``"inline"``.
        timeout: inline mode's bound on the callback, in seconds, or per provider as a mapping
            (default 1.5 s for Telnyx, 12 s for Twilio).

    Returns:
        A view function taking no arguments; ``view.handler`` is its
        ``WebhookHandler`` (``view.handler.close()`` waits for
        running callbacks).
    """
    handler = WebhookHandler(bridge, on_event, mode=mode, timeout=timeout)

    def smsbridge_webhook() -> flask.Response:
        request = flask.request
        url = wsgi_url(request.scheme, request.host, request.environ)
        headers = list(request.headers.items())
        response = handler.handle_stream(
            request.method, url, headers, request.stream.read, request.remote_addr
        )
        return _to_flask(response)

    view: Any = smsbridge_webhook
    view.handler = handler
    return view  # type: ignore[no-any-return]


def webhook_blueprint(
    bridge: Bridge,
    on_event: OnEvent,
    *,
    path: str | None = None,
    mode: Mode = "fast",
    timeout: float | Mapping[str, float] | None = None,
    name: str = "smsbridge",
) -> flask.Blueprint:
    """A Flask ``Blueprint`` holding the webhook endpoint (GET and POST).

    Args:
        bridge: the bridge that verifies and parses the webhooks.
        on_event: see ``webhook_view``.
        path: where to mount it; the bridge's ``webhook_path`` (``/sms/webhook``) by default.
        mode: ``"fast"`` or ``"inline"``; see ``webhook_view``.
        timeout: see ``webhook_view``.
        name: the blueprint name (unique per app); the endpoint is ``<name>.webhook``.

    Returns:
        The blueprint, for ``app.register_blueprint``.
    """
    blueprint = flask.Blueprint(name, __name__)
    view = webhook_view(bridge, on_event, mode=mode, timeout=timeout)
    chosen = path if path is not None else getattr(bridge, "webhook_path", "/sms/webhook")
    blueprint.add_url_rule("/" + chosen.lstrip("/"), "webhook", view, methods=list(METHODS))
    return blueprint


def _to_flask(response: WebhookResponse) -> flask.Response:
    return flask.Response(response.body, status=response.status_code, headers=response.headers)
