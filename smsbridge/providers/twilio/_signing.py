"""Twilio's string to sign and HMAC, shared by the webhook verifier, the test signer and
``smsbridge webhook check``, so they cannot drift apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

__all__ = [
    "TwilioAlgorithm",
    "sort_params",
    "twilio_signature",
    "twilio_string_to_sign",
]

TwilioAlgorithm = Literal["HMAC_SHA1", "HMAC_SHA256"]
"""The HMAC a Twilio webhook signature uses: ``"HMAC_SHA1"`` with the auth token (the
default), or either with a SharedKey (``Twilio(shared_keys=...)``, ``sign_twilio(shared_key=
(key_id, secret, algorithm))``)."""

ParamsLike = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def sort_params(params: ParamsLike) -> list[tuple[str, list[str]]]:
    """Group params by name: names sorted by code point, each name's values de-duplicated and
    sorted (what Twilio signs)."""
    grouped: dict[str, set[str]] = {}
    items: Iterable[tuple[str, str | Sequence[str]]]
    items = params.items() if isinstance(params, Mapping) else params
    for name, value in items:
        values = grouped.setdefault(name, set())
        if isinstance(value, str):
            values.add(value)
        else:
            values.update(value)
    return [(name, sorted(grouped[name])) for name in sorted(grouped)]


def twilio_string_to_sign(url: str, params: ParamsLike = ()) -> str:
    """The URL followed by ``name + value`` for every sorted, de-duplicated param."""
    parts = [url]
    for name, values in sort_params(params):
        parts.extend(name + value for value in values)
    return "".join(parts)


def twilio_signature(
    key: str, url: str, params: ParamsLike = (), algorithm: TwilioAlgorithm = "HMAC_SHA1"
) -> str:
    """Base64 HMAC (SHA-1 by default, SHA-256 for SharedKey signatures) of the string to sign."""
    digest = hashlib.sha256 if algorithm == "HMAC_SHA256" else hashlib.sha1
    mac = hmac.new(key.encode(), twilio_string_to_sign(url, params).encode(), digest)
    return base64.b64encode(mac.digest()).decode("ascii")
