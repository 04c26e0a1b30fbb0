"""Diagnosing a captured webhook (``smsbridge webhook check``): what every provider's check
shares.

``Capture`` is the captured request with where its secrets are read from and how the
verdict is printed; each provider's ``check`` reads it.
``body_variants`` lists a body's usual accidental changes. For providers that sign the URL:
which URL did the provider really sign?

Behind a proxy the app sees one URL (``http://internal:8000/sms/webhook``) while the provider
signed another (``https://public.example.com/sms/webhook``). ``candidates`` lists the URLs
a proxy commonly makes out of the public one, from the capture's own URL and headers;
``describe`` and ``fixes`` explain a match in words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from smsbridge.webhooks._request import WebhookRequest

__all__ = [
    "EXIT_INVALID",
    "EXIT_OK",
    "Capture",
    "Captured",
    "body_variants",
    "candidates",
    "describe",
    "fixes",
]


@dataclass(frozen=True)
class Captured:
    """A captured request: what the application saw.

    ``smsbridge webhook check`` reads one from a file (see docs/cli.md) and explains whether
    its signature verifies.

    Examples:
        >>> from smsbridge.cli.webhook_check import Captured
        >>> captured = Captured(
        ...     method="POST",
        ...     url="https://app.example.com/sms/webhook",
        ...     headers=(("Content-Type", "application/json"), ("Telnyx-Timestamp", "1700000000")),
        ...     body=b"{}",
        ... )
        >>> captured.header("telnyx-timestamp")
        '1700000000'
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive), or ``None``."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1].strip() if values else None


EXIT_OK, EXIT_INVALID = 0, 1


class _Public(NamedTuple):
    """The part of a bridge ``public_url_for`` reads."""

    public_url: str | None
    public_endpoint: str | None
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capture:
    """A captured webhook to check, and how to check it.

    Attributes:
        captured: the request as the application saw it.
        environ: where the provider's secrets are read from (its usual variables).
        public_url: the app's ``Bridge(public_url=...)``, if given.
        webhook_urls: the webhook URLs as configured at the provider (hints).
        tolerance: seconds a signed timestamp may be from now.
        say: prints one line of the verdict.
        trusted_proxy: the request came from a proxy the app lists in ``trusted_proxies``, so
            its ``X-Forwarded-*`` headers rebuild the URL checked (when there is no
            ``public_url``, which wins, as in the bridge).
    """

    captured: Captured
    environ: Mapping[str, str]
    public_url: str | None
    webhook_urls: tuple[str, ...]
    tolerance: float
    say: Callable[[str], None]
    trusted_proxy: bool = False

    def checked_url(self) -> str:
        """The URL the bridge checks the signature against: from ``public_url``, else rebuilt
        from the forwarded headers of a trusted proxy, else the captured URL.

        Raises:
            ConfigError: ``public_url`` is not a usable public URL, or the forwarded headers
                of a trusted proxy do not form a URL.
        """
        if not self.public_url:
            if not self.trusted_proxy:
                return self.captured.url
            from smsbridge._errors import ConfigError
            from smsbridge.webhooks._urls import forwarded_url

            try:
                return forwarded_url(self.request())
            except ValueError as exc:
                raise ConfigError(
                    f"the X-Forwarded-* headers do not form a URL ({exc}): check the proxy"
                ) from None
        from smsbridge._public_url import split_public_url
        from smsbridge.webhooks._urls import public_url_for

        public, endpoint, _ = split_public_url(self.public_url, None)
        return public_url_for(_Public(public, endpoint), self.request())

    def request(self, url: str | None = None) -> WebhookRequest:
        """The capture as a ``WebhookRequest`` at ``url`` (default: as captured)."""
        from smsbridge.webhooks._request import WebhookRequest

        captured = self.captured
        return WebhookRequest(
            captured.method, url or captured.url, list(captured.headers), captured.body
        )


def body_variants(body: bytes) -> Iterable[tuple[str, bytes]]:
    """The body's usual accidental changes (a trailing newline added or lost, CRLF line ends)."""
    if body.endswith(b"\n"):
        yield "without its trailing newline", body.rstrip(b"\r\n")
    else:
        yield "with a trailing newline", body + b"\n"
    if b"\r\n" in body:
        yield "with LF line ends instead of CRLF", body.replace(b"\r\n", b"\n")
    elif b"\n" in body:
        yield "with CRLF line ends instead of LF", body.replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class _Url:
    scheme: str
    host: str  # without the port; IPv6 in brackets
    port: int | None
    path: str
    query: str

    @classmethod
    def parse(cls, url: str) -> _Url:
        parts = urlsplit(url)
        host, port = _split_host(parts.netloc.rpartition("@")[2])
        return cls(parts.scheme.lower(), host, port, parts.path or "/", parts.query)

    @property
    def effective_port(self) -> int | None:
        return self.port or {"https": 443, "http": 80}.get(self.scheme)

    def render(self) -> str:
        default = {"https": 443, "http": 80}.get(self.scheme)
        netloc = self.host if self.port in (None, default) else f"{self.host}:{self.port}"
        return urlunsplit((self.scheme, netloc, self.path, self.query, ""))


def _split_host(hostport: str) -> tuple[str, int | None]:
    hostport = hostport.strip()
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
    else:
        host, _, port_text = hostport.partition(":")
        rest = ":" + port_text if port_text else ""
    port_text = rest[1:] if rest.startswith(":") else ""
    port = int(port_text) if port_text.isdigit() and 0 < int(port_text) < 65536 else None
    return host.lower(), port


def _header_values(captured: Captured, name: str) -> list[str]:
    values: list[str] = []
    for key, value in captured.headers:
        if key.lower() == name:
            values.extend(v.strip() for v in value.split(",") if v.strip())
    return values


def _forwarded_hosts(captured: Captured) -> list[str]:
    hosts = []
    for value in _header_values(captured, "forwarded"):
        for pair in value.split(";"):
            name, _, item = pair.strip().partition("=")
            if name.lower() == "host" and item:
                hosts.append(item.strip('"'))
    return hosts


def candidates(
    captured: Captured, public_url: str | None = None, webhook_urls: Iterable[str] = ()
) -> list[str]:
    """URLs a provider may have signed for ``captured``, from its URL and headers.

    Schemes, hosts, ports and path prefixes come from the captured URL, ``Host``,
    ``X-Forwarded-Proto/Host/Port/Prefix``, ``Forwarded``, ``public_url`` and the
    ``webhook_urls`` configured at the provider; each path is also tried with leading segments
    removed (a proxy that adds a prefix) and with its trailing slash toggled.
    """
    seen = _Url.parse(captured.url)
    given = [_Url.parse(url) for url in webhook_urls]
    public = _Url.parse(public_url) if public_url else None
    schemes = [seen.scheme, *(p.lower() for p in _header_values(captured, "x-forwarded-proto"))]
    schemes += [u.scheme for u in given] + ([public.scheme] if public else []) + ["https", "http"]
    hostports = [h for h in [captured.header("host")] if h]
    hostports += _header_values(captured, "x-forwarded-host") + _forwarded_hosts(captured)
    hosts, ports = [seen.host], [None, seen.port]
    for hostport in hostports:
        host, port = _split_host(hostport)
        hosts.append(host)
        ports.append(port)
    ports += [int(p) for p in _header_values(captured, "x-forwarded-port") if p.isdigit()]
    prefixes = ["", *_header_values(captured, "x-forwarded-prefix")]
    for url in [*given, *([public] if public else [])]:
        hosts.append(url.host)
        ports.append(url.port)
    if public:
        prefixes.append(public.path)
    segments = seen.path.strip("/").split("/")
    tails = [seen.path] + ["/" + "/".join(segments[i:]) for i in range(1, len(segments))]
    paths = [_join(prefix, tail) for prefix in prefixes for tail in tails]
    paths += [u.path for u in given]
    paths += [p[:-1] if p.endswith("/") and p != "/" else p + "/" for p in paths]
    queries = [seen.query] + [u.query for u in given if u.query and u.query != seen.query]
    urls: dict[str, None] = {}
    for scheme in dict.fromkeys(s for s in schemes if s in ("http", "https")):
        for host in dict.fromkeys(h for h in hosts if h):
            for port in dict.fromkeys(ports):
                for path in dict.fromkeys(paths):
                    for query in queries:
                        urls.setdefault(_Url(scheme, host, port, path, query).render())
    return list(urls)


def _join(prefix: str, path: str) -> str:
    prefix = prefix.strip("/")
    return f"/{prefix}{path}" if prefix else path


def describe(checked: str, signed: str) -> list[str]:
    """What differs between the URL the app checks and the one the provider signed."""
    a, b = _Url.parse(checked), _Url.parse(signed)
    lines = []
    if a.scheme != b.scheme:
        lines.append(f"scheme: your app sees {a.scheme}, the provider called {b.scheme}")
    if a.host != b.host:
        lines.append(f"host: your app sees {a.host}, the provider called {b.host}")
    if a.effective_port != b.effective_port:
        port = f"port {b.port}" if b.port else f"the default port ({b.effective_port})"
        lines.append(f"port: your app sees {a.effective_port}, the provider called {port}")
    if a.path != b.path:
        if a.path.rstrip("/") == b.path.rstrip("/"):
            has = "ends" if b.path.endswith("/") else "does not end"
            lines.append(f"trailing slash: the signed path {has} with '/' ({b.path})")
        elif b.path.endswith(a.path):
            lines.append(f"path prefix: the provider called {b.path[: -len(a.path)]} in front")
        elif a.path.endswith(b.path):
            prefix = a.path[: -len(b.path)]
            lines.append(f"path prefix: your app sees {prefix} in front, which was not called")
        else:
            lines.append(f"path: your app sees {a.path}, the provider called {b.path}")
    if a.query != b.query:
        lines.append(f"query: your app sees ?{a.query}, the provider called ?{b.query}")
    return lines


def fixes(
    captured: Captured,
    checked: str,
    signed: str,
    *,
    forwarded_ok: bool = False,
    trusted_proxy: bool = False,
) -> list[str]:
    """What to change so the bridge checks the URL the provider signed.

    ``forwarded_ok`` says the capture's ``X-Forwarded-*`` headers rebuild a matching URL, so
    trusting the proxy that sent them is a fix too. ``trusted_proxy`` says the app already
    trusts them, and ``checked`` is what they rebuilt: the proxy sends the wrong ones.
    """
    from smsbridge.webhooks._urls import path_and_query

    if trusted_proxy:
        return [
            f"your proxy's X-Forwarded-* headers describe {checked}, but the provider signed"
            f" {signed}: make the proxy send the public scheme, host, port and path prefix"
            f" (see contrib/nginx), or set Bridge(..., public_url=...), which wins over them"
        ]
    tail = path_and_query(captured.url)
    if signed.endswith(tail) and len(signed) > len(tail):
        lines = [f'Bridge(..., public_url="{signed[: -len(tail)]}")']
        if forwarded_ok:
            lines.append(
                "or, as the X-Forwarded-* headers rebuild that URL: Bridge(...,"
                " trusted_proxies=[<your proxy's address>]) (only for a proxy you run)"
            )
        return lines
    a, b = _Url.parse(checked), _Url.parse(signed)
    if a.path.rstrip("/") == b.path.rstrip("/"):
        return [
            "make the webhook URL configured at the provider and your route agree: the"
            f" provider requested {b.path}, your app answered at {a.path}"
        ]
    return [
        f"your proxy rewrites the path ({b.path} becomes {a.path}): serve the webhook at the"
        " public path, or stop the proxy from rewriting it"
    ]
