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
  URL (as before this form was recognised). An endpoint at a custom path is given with its
  ``webhook_path`` (``public_url="https://app.example.com/hooks/sms", webhook_path="/hooks/sms"``),
  which is also where the framework adapters mount it; without one, a warning at start-up says
  how the URL was read, so a pasted custom endpoint cannot break silently.

The endpoint URL is kept exactly as given (a trailing slash included), since it is what the
provider signs.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from smsbridge._errors import ConfigError
from smsbridge._redact import redact_url

__all__ = ["DEFAULT_WEBHOOK_PATH", "Network", "split_public_url", "trusted_networks"]

DEFAULT_WEBHOOK_PATH = "/sms/webhook"

log = logging.getLogger("smsbridge")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Whitespace, control characters and '#' in a URL part that status-callback URLs are built from.
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\s#]")


def split_public_url(
    public_url: str | None, webhook_path: str | None
) -> tuple[str | None, str | None, str]:
    """``(public_url, endpoint URL or None, webhook_path)`` for the bridge's arguments.

    ``public_url`` comes back without a trailing slash; the endpoint URL is set, as given,
    when ``public_url`` names the endpoint itself (see the module docstring).

    Raises:
        ConfigError: naming ``public_url`` (not http(s), no host, a query, a fragment or
            credentials) or ``webhook_path`` (not a string).
    """
    if webhook_path is not None and not isinstance(webhook_path, str):
        raise ConfigError("webhook_path must be a str", variable="webhook_path")
    if webhook_path is not None and (_UNSAFE.search(webhook_path) or "?" in webhook_path):
        # Every status-callback URL is built from it: a query or fragment would swallow the
        # reference parameter, and control characters would travel to the provider.
        raise ConfigError(
            "webhook_path must be a plain path: no spaces, control characters, '?' or '#'",
            variable="webhook_path",
        )
    path = "/" + (webhook_path or DEFAULT_WEBHOOK_PATH).strip("/")
    if public_url is None:
        return None, None, path
    if not isinstance(public_url, str) or not public_url.startswith(("http://", "https://")):
        raise ConfigError("public_url must start with http:// or https://", variable="public_url")
    if _UNSAFE.search(public_url):
        raise ConfigError(
            "public_url must not contain spaces or control characters", variable="public_url"
        )
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
    if own.endswith(path):
        # Kept as given, trailing slash included: that is the URL the provider signs.
        return base, public_url, path
    if webhook_path is None:
        log.warning(
            "public_url %s has a path that does not end in webhook_path %s: it is read as a "
            "base URL under a prefix (webhooks at %s); if it is the endpoint itself, pass "
            "webhook_path=%r",
            redact_url(base),
            path,
            redact_url(base + path),
            own,
        )
    return base, None, path


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """The networks of ``trusted_proxies`` entries (IP addresses or CIDR networks).

    Raises:
        ConfigError: an entry is not an address or network.
    """
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"trusted_proxies entry {entry!r} is not an IP address or CIDR network",
                variable="trusted_proxies",
            ) from None
    return tuple(networks)
