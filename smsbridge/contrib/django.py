"""The webhook endpoint for Django.

Example (``urls.py``)::

    from smsbridge.contrib.django import webhook_urls

    urlpatterns = [*webhook_urls(sms, on_event=handle)]   # POST/GET sms/webhook

``on_event`` receives each ``WebhookOutcome`` that is neither a
duplicate nor stale, and may be sync or async (an async one runs on its own event loop in a
worker thread). In fast mode it runs in a worker thread after the answer; in inline mode the
view waits for it up to the timeout. See ``smsbridge.webhooks._runner``.

The view is exempt from CSRF checks (providers sign their requests instead) and works under
WSGI and ASGI. Its URL is built with ``request.scheme`` and ``request.get_host()``, so Django's
own ``ALLOWED_HOSTS``, ``SECURE_PROXY_SSL_HEADER`` and ``USE_X_FORWARDED_HOST`` apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smsbridge.webhooks._runner import Mode, OnEvent, WebhookHandler

from ._common import METHODS, wsgi_url

try:
    from django.http import HttpRequest, HttpResponse
    from django.urls import path as url_path
    from django.views.decorators.csrf import csrf_exempt
    from django.views.decorators.http import require_http_methods
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("django", "django") from exc

if TYPE_CHECKING:
    from collections.abc import Callable

    from smsbridge._bridge import Bridge
    from smsbridge.webhooks import WebhookResponse

__all__ = ["webhook_urls", "webhook_view"]


def webhook_view(
    bridge: Bridge,
    on_event: OnEvent,
    *,
    mode: Mode = "fast",
    timeout: float | Mapping[str, float] | None = None,
) -> Callable[[HttpRequest], HttpResponse]:
    """The endpoint as a Django view (CSRF-exempt, GET and POST only).

    Args:
        bridge: the bridge that verifies and parses the webhooks.
        on_event: called with each new outcome; sync or async. In inline mode a returned string
            is the reply (TwiML ``<Message>`` for Twilio).
        mode: ``"fast"`` (acknowledge, then run the callback) or ``"inline"``.
        timeout: inline mode's bound on the callback, in seconds, or per provider as a mapping
            (default 1.5 s for Telnyx, 12 s for Twilio).

    Returns:
        A view for ``path(...)``; ``view.handler`` is its
        ``WebhookHandler`` (``view.handler.close()`` waits for
        running callbacks).
    """
    handler = WebhookHandler(bridge, on_event, mode=mode, timeout=timeout)

    def smsbridge_webhook(request: HttpRequest) -> HttpResponse:
        url = wsgi_url(request.scheme or "http", request.get_host(), request.META)
        remote = request.META.get("REMOTE_ADDR") or None
        headers = list(request.headers.items())
        response = handler.handle_stream(
            request.method or "POST", url, headers, request.read, remote
        )
        return _to_django(response)

    view: Any = csrf_exempt(require_http_methods(list(METHODS))(smsbridge_webhook))
    view.handler = handler
    return view  # type: ignore[no-any-return]


def webhook_urls(
    bridge: Bridge,
    on_event: OnEvent,
    *,
    path: str | None = None,
    mode: Mode = "fast",
    timeout: float | Mapping[str, float] | None = None,
    name: str = "smsbridge-webhook",
) -> list[Any]:
    """URL patterns holding the webhook endpoint, for ``urlpatterns`` or ``include()``.

    Args:
        bridge: the bridge that verifies and parses the webhooks.
        on_event: see ``webhook_view``.
        path: the route, relative as Django writes them; the bridge's ``webhook_path``
            (``sms/webhook``) by default.
        mode: ``"fast"`` or ``"inline"``; see ``webhook_view``.
        timeout: see ``webhook_view``.
        name: the URL name, for ``reverse()``.

    Returns:
        A list with one ``URLPattern``.
    """
    chosen = path if path is not None else getattr(bridge, "webhook_path", "/sms/webhook")
    view = webhook_view(bridge, on_event, mode=mode, timeout=timeout)
    return [url_path(chosen.lstrip("/"), view, name=name)]


def _to_django(response: WebhookResponse) -> HttpResponse:
    result = HttpResponse(response.body, status=response.status_code)
    for name, value in response.headers.items():
        result[name] = value
    return result
