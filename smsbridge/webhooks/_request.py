"""The framework-free request and response a webhook travels in.

An adapter (``smsbridge.contrib.*`` or the app itself) copies its framework's request into a
``WebhookRequest``, raw body bytes and all, and copies the ``WebhookResponse`` back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsbridge._errors import WebhookError

__all__ = ["Headers", "HeadersLike", "WebhookRequest", "WebhookResponse"]

HeaderText = str | bytes
HeadersLike = (
    Mapping[str, HeaderText | Sequence[HeaderText]] | Iterable[tuple[HeaderText, HeaderText]]
)


def _text(value: object) -> str:
    # ASGI servers hand over bytes; HTTP header bytes are latin-1 by definition.
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    raise TypeError(f"header names and values must be str or bytes, not {type(value).__name__}")


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive HTTP headers that keep repeated fields, in order.

    The API the webhook pipeline and the provider codecs use (names in any case):

    * ``headers[name]``, ``headers.get(name)``, ``first``: the first value of a field;
    * ``get_all``: every value (how a repeated signature header is caught);
    * ``count``: how many times a field occurs;
    * ``size``: total characters of names and values (huge headers are refused);
    * ``raw``: the fields as given, original case, repeats kept.

    Names and values are ``str`` exactly as the adapter gave them (bytes are decoded as
    latin-1, as HTTP defines), so a lone surrogate a server decoded with ``surrogateescape``
    is kept and refused later as malformed rather than turned into other text. That is why
    this is not an ``httpx.Headers``, which holds bytes (and would also cost about 5 us more
    per webhook: ``benchmarks/bench_speedups.py``, its headers row).

    Examples:
        >>> from smsbridge.webhooks import Headers
        >>> h = Headers([("X-A", "1"), ("x-a", "2")])
        >>> h["x-A"], h.get_all("X-A"), h.count("x-a")
        ('1', ['1', '2'], 2)
    """

    # _first: lower-case name -> first value; _repeated: lower-case name -> every value, for
    # the fields that occur more than once (usually none); _pairs: the fields as given.
    __slots__ = ("_first", "_pairs", "_repeated", "size")
    _first: dict[str, str]
    _repeated: dict[str, list[str]]
    _pairs: tuple[tuple[str, str], ...]
    size: int
    """Total characters of names and values."""

    def __init__(self, headers: HeadersLike = ()) -> None:
        items: Iterable[tuple[Any, Any]]
        if isinstance(headers, dict):  # the usual case, checked first: it is the cheapest
            items = headers.items()
        elif isinstance(headers, Headers):
            items = headers.raw()
        elif isinstance(headers, Mapping):
            items = headers.items()
        else:
            items = headers
        pairs: list[tuple[str, str]] = []
        for name, value in items:
            if type(name) is str and type(value) is str:  # the usual case, as it is
                pairs.append((name, value))
            elif isinstance(value, (list, tuple)):  # a multi-dict flattened to lists
                pairs.extend((_text(name), _text(one)) for one in value)
            else:
                pairs.append((_text(name), _text(value)))
        first: dict[str, str] = {}
        repeated: dict[str, list[str]] = {}
        size = 0
        for name, value in pairs:
            size += len(name) + len(value)
            key = name.lower()
            if key not in first:
                first[key] = value
            elif key in repeated:
                repeated[key].append(value)
            else:
                repeated[key] = [first[key], value]
        self._first = first
        self._repeated = repeated
        self._pairs = tuple(pairs)
        self.size = size

    def first(self, name: str) -> str | None:
        """The first value of the field ``name``, or ``None`` when absent."""
        return self._first.get(name.lower())

    def count(self, name: str) -> int:
        """How many times the field ``name`` occurs."""
        key = name.lower()
        if key in self._repeated:
            return len(self._repeated[key])
        return 1 if key in self._first else 0

    def get_all(self, name: str) -> list[str]:
        """Every value of the field ``name``, in order (empty when absent)."""
        key = name.lower()
        if key in self._repeated:
            return list(self._repeated[key])
        return [self._first[key]] if key in self._first else []

    def raw(self) -> tuple[tuple[str, str], ...]:
        """The fields as received: original case, repeats kept."""
        return self._pairs

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._pairs == other._pairs
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __repr__(self) -> str:
        # Names only: values may carry signatures and tokens.
        return f"Headers({sorted(self._first)!r})"


@dataclass(frozen=True, init=False, repr=False)
class WebhookRequest:
    """One HTTP request as the application received it, before anything is trusted.

    Examples:
        >>> from smsbridge import WebhookRequest
        >>> request = WebhookRequest(
        ...     "POST",
        ...     "https://app.example.com/sms/webhook",
        ...     {"Content-Type": "application/json"},
        ...     b'{"data": {"event_type": "message.received"}}',
        ... )
        >>> request.headers["content-type"], len(request.body)
        ('application/json', 44)

    Args:
        method: the HTTP method (``"POST"``, ``"GET"``), any case.
        url: the full URL as the app saw it: ``scheme://host[:port]/path?query``.
        headers: a mapping or ``(name, value)`` pairs; names are case-insensitive and
            repeated fields are kept (see ``Headers``).
        body: the raw body bytes, exactly as received (never a re-serialised form or JSON).
        remote_addr: the peer address, used only to decide whether ``X-Forwarded-*`` may be
            trusted (``Bridge(trusted_proxies=...)``).

    Raises:
        TypeError: ``body`` is not bytes-like, or a header is neither str nor bytes.
    """

    method: str
    url: str
    headers: Headers
    body: bytes
    remote_addr: str | None

    def __init__(
        self,
        method: str,
        url: str,
        headers: HeadersLike | Headers = (),
        body: bytes | bytearray | memoryview = b"",
        remote_addr: str | None = None,
    ) -> None:
        if not isinstance(body, bytes):
            if not isinstance(body, (bytearray, memoryview)):
                raise TypeError(f"body must be bytes, not {type(body).__name__}")
            body = bytes(body)
        # A frozen dataclass: its fields are set once, here.
        set_field = object.__setattr__
        set_field(self, "method", str(method).upper())
        set_field(self, "url", str(url))
        set_field(self, "headers", headers if isinstance(headers, Headers) else Headers(headers))
        set_field(self, "body", body)
        set_field(self, "remote_addr", remote_addr)

    def __repr__(self) -> str:
        return (
            f"WebhookRequest(method={self.method!r}, url={self.url!r}, "
            f"headers={self.headers!r}, body=<{len(self.body)} bytes>)"
        )


@dataclass(frozen=True)
class WebhookResponse:
    """What to answer the provider with.

    Attributes:
        status_code: the HTTP status.
        headers: response headers (at least ``Content-Type``); read-only for the shared
            acknowledgements the codecs give.
        body: the response body.

    Examples:
        ``WebhookOutcome.response`` is the provider's acknowledgement; an adapter turns it into
        the framework's response:

        >>> outcome = sms.handle_webhook(request)  # a Twilio webhook
        >>> answer = outcome.response
        >>> answer.status_code, answer.headers["Content-Type"]
        (200, 'text/xml')

        In Starlette, for instance:

        >>> from starlette.responses import Response
        >>> response = Response(answer.body, answer.status_code, headers=dict(answer.headers))
    """

    status_code: int
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def for_error(cls, err: WebhookError) -> WebhookResponse:
        """The answer to a refused webhook: its status (400, 403, 413) and a small JSON body
        ``{"error": {"code": ..., "message": ...}}`` naming the stable code."""
        payload = {"error": {"code": err.code, "message": err.message}}
        return cls(
            status_code=err.status_code,
            headers={"Content-Type": "application/json"},
            body=json.dumps(payload, separators=(",", ":")).encode(),
        )

    def __repr__(self) -> str:
        return f"WebhookResponse(status_code={self.status_code}, body=<{len(self.body)} bytes>)"
