"""``Bridge(public_url=...)``: the site's base URL or the webhook endpoint's full URL.

Users paste either: the base (``https://app.example.com``) or what they typed into the
provider's console (``https://app.example.com/sms/webhook``). Both must build the right status
callback URL and check signatures against the URL the provider really called, so the form is
decided once, here:

* no path: a **base URL**; the endpoint is the base + ``webhook_path``, and a webhook's signed
  URL is the base + the path and query the application saw;
* a path ending in ``webhook_path`` (the default ``/sms/webhook``, or the one given): the
  **endpoint URL**; a webhook's signed URL is the endpoint + the query the application saw
  (whatever path a proxy rewrote it to);
* any other path: a **base URL under a prefix** (``https://example.com/app``), used like a base
  URL. An endpoint at a custom path is given with its ``webhook_path``
  (``public_url="https://app.example.com/hooks/sms", webhook_path="/hooks/sms"``), which is
  also where the framework adapters mount it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from smsbridge._errors import ConfigError

__all__ = ["DEFAULT_WEBHOOK_PATH", "split_public_url"]

DEFAULT_WEBHOOK_PATH = "/sms/webhook"


def split_public_url(
    public_url: str | None, webhook_path: str | None
) -> tuple[str | None, str | None, str]:
    """``(public_url, endpoint URL or None, webhook_path)`` for the bridge's arguments.

    ``public_url`` comes back without a trailing slash; the endpoint URL is set when
    ``public_url`` names the endpoint itself (see the module docstring).

    Raises:
        ConfigError: naming ``public_url`` (not http(s), no host, a query, a fragment or
            credentials) or ``webhook_path`` (not a string).
    """
    if webhook_path is not None and not isinstance(webhook_path, str):
        raise ConfigError("webhook_path must be a str", variable="webhook_path")
    path = "/" + (webhook_path or DEFAULT_WEBHOOK_PATH).strip("/")
    if public_url is None:
        return None, None, path
    if not isinstance(public_url, str) or not public_url.startswith(("http://", "https://")):
        raise ConfigError("public_url must start with http:// or https://", variable="public_url")
    try:
        parts = urlsplit(public_url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError("public_url is not a valid URL", variable="public_url") from None
    if not parts.hostname or parts.username is not None:
        raise ConfigError("public_url must name a host, without credentials", variable="public_url")
    if parts.query or parts.fragment or "?" in public_url or "#" in public_url:
        # The provider signs the URL it calls: a query here would be signed too, and the
        # status callback URL adds its own. Neither can be merged safely.
        raise ConfigError(
            "public_url must not have a query string or fragment", variable="public_url"
        )
    base = public_url.rstrip("/")
    own = parts.path.rstrip("/")
    if not own:
        return base, None, path
    if webhook_path is None:
        return base, base, own
    if own.endswith(path):
        return base, base, path
    return base, None, path
