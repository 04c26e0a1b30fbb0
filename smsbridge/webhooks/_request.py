"""The framework-free request and response a webhook travels in.

An adapter (``smsbridge.contrib.*`` or the app itself) copies its framework's request into a
:class:`WebhookRequest`, raw body bytes and all, and copies the :class:`WebhookResponse` back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    """Read-only, case-insensitive HTTP headers that keep repeated fields.

    ``headers["X-Twilio-Signature"]`` and ``.get()`` give the first value of a field;
    :meth:`get_all` gives every value, which is how a repeated signature header is caught.

    Example:
        >>> h = Headers([("X-A", "1"), ("x-a", "2")])
        >>> h["x-A"], h.get_all("X-A")
        ('1', ['1', '2'])
    """

    # _first: lower-case name -> first value (the one lookup the hot path makes);
    # _repeated: lower-case name -> every value, only for fields that occur more than once
    # (empty in the usual case, so "is this field single?" is one falsy test);
    # _source: a snapshot of the fields as given, a dict or (name, value) pairs.
    __slots__ = ("_first", "_repeated", "_source", "size")
    _first: dict[str, str]
    _repeated: dict[str, list[str]]
    _source: dict[str, str] | tuple[tuple[str, str], ...]
    size: int
    """Total characters of names and values (huge headers are refused)."""

    def __init__(self, headers: HeadersLike = ()) -> None:
        if type(headers) is dict:
            # The common case, a dict of str, in few C-level passes: join() both checks every
            # name and value is a str and gives the total size.
            try:
                size = len("".join([*headers, *headers.values()]))
            except TypeError:  # bytes or lists among them: the general path
                size = -1
            if size >= 0:
                first = {}
                for name, value in headers.items():  # a plain loop: cheaper than a comprehension
                    first[name.lower()] = value
                if len(first) == len(headers):  # else names differing only in case: repeats
                    self._first = first
                    self._repeated = _NO_REPEATS
                    self._source = headers.copy()
                    self.size = size
                    return
        self._from_pairs(headers)

    def _from_pairs(self, headers: HeadersLike) -> None:
        items = headers.items() if isinstance(headers, Mapping) else headers
        pairs: list[tuple[str, str]] = []
        for name, value in items:
            if type(name) is str and type(value) is str:
                pairs.append((name, value))
            elif isinstance(value, (list, tuple)):  # a multi-dict flattened to lists
                pairs.extend((_text(name), _text(v)) for v in value)
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
        self._source = tuple(pairs)
        self.size = size

    def first(self, name: str) -> str | None:
        """The first value of ``name`` (already lower-case), or ``None``: the fast lookup."""
        return self._first.get(name)

    def count(self, name: str) -> int:
        """How many times the field ``name`` (already lower-case) occurs."""
        found = self._repeated.get(name) if self._repeated else None
        if found is not None:
            return len(found)
        return 1 if name in self._first else 0

    def get_all(self, name: str) -> list[str]:
        """Every value of the field ``name``, in order (empty when absent)."""
        key = name.lower()
        found = self._repeated.get(key) if self._repeated else None
        if found is not None:
            return list(found)
        value = self._first.get(key)
        return [] if value is None else [value]

    def raw(self) -> tuple[tuple[str, str], ...]:
        """The fields as received: original case, repeats kept."""
        source = self._source
        return tuple(source.items()) if isinstance(source, dict) else source

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
            return self.raw() == other.raw()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.raw())

    def __repr__(self) -> str:
        # Names only: values may carry signatures and tokens.
        return f"Headers({sorted(self._first)!r})"


# Shared by every Headers without repeated fields; never written to.
_NO_REPEATS: dict[str, list[str]] = {}


@dataclass(frozen=True, init=False, repr=False)
class WebhookRequest:
    """One HTTP request as the application received it, before anything is trusted.

    Example:
        >>> WebhookRequest("POST", "https://app.example.com/sms/webhook",
        ...                {"Content-Type": "application/json"}, b"{}")

    Args:
        method: the HTTP method (``"POST"``, ``"GET"``), any case.
        url: the full URL as the app saw it: ``scheme://host[:port]/path?query``.
        headers: a mapping or ``(name, value)`` pairs; names are case-insensitive and
            repeated fields are kept (see :class:`Headers`).
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
        if type(body) is not bytes and not isinstance(body, bytes):
            if not isinstance(body, (bytearray, memoryview)):
                raise TypeError(f"body must be bytes, not {type(body).__name__}")
            body = bytes(body)
        # One update instead of five frozen-dataclass setattr calls: this runs per webhook.
        self.__dict__.update(
            {
                "method": method.upper() if type(method) is str else str(method).upper(),
                "url": url if type(url) is str else str(url),
                "headers": headers if type(headers) is Headers else Headers(headers),
                "body": body,
                "remote_addr": remote_addr,
            }
        )

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
        headers: response headers (at least ``Content-Type``).
        body: the response body.
    """

    status_code: int
    headers: dict[str, str]
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
