"""Which URL the provider signed: the public one, never blindly the one the app saw.

Behind a reverse proxy the app sees ``http://127.0.0.1:8000/hook`` while Twilio signed
``https://app.example.com/hook``. The bridge's ``public_url`` fixes that once; otherwise
``X-Forwarded-Proto/Host/Port/Prefix`` are used, but only from ``trusted_proxies``.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from smsbridge._public_url import trusted_networks

if TYPE_CHECKING:
    from smsbridge.webhooks._request import Headers, WebhookRequest

__all__ = [
    "forwarded_url",
    "path_and_query",
    "port_variants",
    "public_url_for",
    "strip_port",
    "trusted_networks",
    "trusts",
]


# The URL helpers below split strings by hand rather than through ``urllib.parse.urlsplit``
# or ``httpx.URL``: the URL is what the provider signed, so it must come back character for
# character, and both of those reject odd hosts (``[``) with ValueError, drop tabs and
# newlines, and (httpx) lower-case and percent-encode.


def path_and_query(url: str) -> str:
    """``/path?query`` of a full URL (the URL itself when it has no scheme and host)."""
    start = url.find("://")
    if start < 0:
        return url if url.startswith("/") else "/" + url
    slash = len(url)
    for sep in "/?#":
        found = url.find(sep, start + 3)
        if 0 <= found < slash:
            slash = found
    rest = url[slash:].split("#", 1)[0]
    if not rest.startswith("/"):
        rest = "/" + rest
    return rest


def trusts(bridge: Any, remote_addr: str | None) -> bool:
    """True when ``remote_addr`` is one of the bridge's trusted proxies: its
    ``trusted_networks`` (parsed once by the bridge), else its ``trusted_proxies`` parsed now.

    Raises:
        ConfigError: a ``trusted_proxies`` entry is not an address or network.
    """
    if not remote_addr:
        return False
    networks = getattr(bridge, "trusted_networks", None)
    if networks is None:  # not a Bridge (a contrib adapter's stand-in): parse its entries
        networks = trusted_networks(getattr(bridge, "trusted_proxies", ()) or ())
    try:
        addr = ipaddress.ip_address(remote_addr.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return any(addr in net or (mapped is not None and mapped in net) for net in networks)


def _last(headers: Headers, name: str) -> str | None:
    # A chain of proxies appends; the last value is the one our nearest trusted proxy set.
    values = headers.get_all(name)
    if not values:
        return None
    value = values[-1].split(",")[-1].strip()
    return value or None


def forwarded_url(request: WebhookRequest) -> str:
    """``request.url`` rebuilt from ``X-Forwarded-Proto/Host/Port/Prefix`` (whichever are set).

    Raises:
        ValueError: the URL or a forwarded value cannot form a URL.
    """
    headers = request.headers
    parts = urlsplit(request.url)
    scheme = (_last(headers, "x-forwarded-proto") or parts.scheme or "http").lower()
    host = _last(headers, "x-forwarded-host") or parts.netloc
    port = _last(headers, "x-forwarded-port")
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("X-Forwarded-Port is not a port number")
        host = strip_port(host)
        if (scheme, port) not in (("https", "443"), ("http", "80")):
            host = f"{host}:{port}"
    path = parts.path or "/"
    prefix = _last(headers, "x-forwarded-prefix")
    if prefix:
        path = "/" + prefix.strip("/") + path if prefix.strip("/") else path
    return urlunsplit((scheme, host, path, parts.query, ""))


def public_url_for(bridge: Any, request: WebhookRequest) -> str:
    """The URL the provider signed for ``request``.

    The bridge's endpoint URL + the request's query when its ``public_url`` names the
    endpoint; ``bridge.public_url`` + the request's path and query when it is a base URL;
    else the URL rebuilt from ``X-Forwarded-*`` when ``request.remote_addr`` is one of
    ``bridge.trusted_proxies`` (IPs or CIDRs); else ``request.url`` unchanged.

    Raises:
        ConfigError: a ``trusted_proxies`` entry is not an address or network.
        ValueError: forwarded headers from a trusted proxy do not form a URL.
    """
    endpoint = getattr(bridge, "public_endpoint", None)
    if endpoint:
        query = path_and_query(request.url).partition("?")
        return str(endpoint) + query[1] + query[2]
    public = getattr(bridge, "public_url", None)
    if public:
        return str(public).rstrip("/") + path_and_query(request.url)
    if trusts(bridge, request.remote_addr):
        return forwarded_url(request)
    return request.url


def strip_port(netloc: str) -> str:
    """``netloc`` without its port (``[v6]`` literals and ``user@`` kept as written)."""
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal: the port follows the bracket
        end = hostport.find("]")
        host = hostport[: end + 1] if end >= 0 else hostport
    else:
        host = hostport.split(":", 1)[0]
    return userinfo + at + host


def _has_port(parts: SplitResult) -> bool:
    hostport = parts.netloc.rpartition("@")[2]
    tail = hostport[hostport.rfind("]") + 1 :] if hostport.startswith("[") else hostport
    return ":" in tail


def port_variants(url: str) -> list[str]:
    """The URLs Twilio's validator accepts for ``url``: ``url`` itself, then without any port,
    then with a port (the existing one, or 443 for https / 80 otherwise).

    Raises:
        ValueError: ``url`` cannot be split into parts.
    """
    parts = urlsplit(url)
    if not parts.netloc:
        return [url]
    without = urlunsplit(parts._replace(netloc=strip_port(parts.netloc)))
    if _has_port(parts):
        with_port = urlunsplit(parts)
    else:
        port = "443" if parts.scheme == "https" else "80"
        with_port = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))
    return list(dict.fromkeys((url, without, with_port)))
