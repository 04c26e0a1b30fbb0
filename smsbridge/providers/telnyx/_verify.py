"""Telnyx webhook verification: Ed25519 over ``timestamp|raw body``.

Rules (protocols.md section 2): ``telnyx-signature-ed25519`` is base64 of a 64-byte Ed25519
signature over ``telnyx-timestamp + "|" + raw body`` by the account's public key; headers are
matched case-insensitively; a timestamp more than the tolerance (300 s) from now, in either
direction, is stale. A timestamp that is not a decimal number is a signature failure (the
signed material is unreadable), as are missing or repeated headers. Checks run in the SDKs'
order: headers, timestamp window, signature.
"""

from __future__ import annotations

import binascii
import sys
from binascii import a2b_base64
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from smsbridge._errors import SignatureError, StaleWebhook

if TYPE_CHECKING:
    from smsbridge.webhooks._request import WebhookRequest

__all__ = ["SIGNATURE", "TIMESTAMP", "signed_message", "verify_telnyx"]

NAME = "telnyx"
SIGNATURE = "telnyx-signature-ed25519"
TIMESTAMP = "telnyx-timestamp"
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def signed_message(timestamp: str, body: bytes) -> bytes:
    """The bytes Telnyx signs: ``timestamp|raw body``."""
    return b"".join((timestamp.encode("ascii"), b"|", body))


def _one(request: WebhookRequest, name: str) -> str:
    headers = request.headers
    value = headers.first(name)
    if value is None or headers.count(name) != 1:
        problem = "missing" if value is None else "repeated"
        raise SignatureError(f"{problem} {name} header", provider=NAME)
    return value.strip()


_NOT_BASE64 = "telnyx-signature-ed25519 is not base64 of 64 bytes"

if sys.version_info >= (3, 11):

    def _signature(text: str) -> bytes:
        # Strict base64 (what b64decode(validate=True) checks) in one C call.
        try:
            signature = a2b_base64(text, strict_mode=True) if len(text) == 88 else b""
        except ValueError:  # binascii.Error, or a non-ASCII str
            signature = b""
        if len(signature) != 64:
            raise SignatureError(_NOT_BASE64, provider=NAME)
        return signature

else:

    def _signature(text: str) -> bytes:
        # Strict base64 (what b64decode(validate=True) checks), without its regular expression.
        data = text.encode("ascii", "replace")
        if len(data) != 88 or data.translate(None, _BASE64):
            raise SignatureError(_NOT_BASE64, provider=NAME)
        try:
            signature = a2b_base64(data)
        except binascii.Error:
            raise SignatureError(_NOT_BASE64, provider=NAME) from None
        if len(signature) != 64:
            raise SignatureError(_NOT_BASE64, provider=NAME)
        return signature


def verify_telnyx(
    keys: Sequence[bytes | None], request: WebhookRequest, now: float, tolerance: float
) -> int:
    """Check a Telnyx webhook; return the index of the key that signed it.

    Raises:
        SignatureError: no key configured, headers missing, repeated or malformed, or the
            signature does not verify under any configured key.
        StaleWebhook: the timestamp is more than ``tolerance`` seconds from ``now``.
    """
    if not any(keys):
        raise SignatureError("no Telnyx public_key configured", provider=NAME)
    signature_b64, stamp = _one(request, SIGNATURE), _one(request, TIMESTAMP)
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureError("telnyx-timestamp is not a Unix time in seconds", provider=NAME)
    if abs(now - int(stamp)) > tolerance:
        raise StaleWebhook("telnyx-timestamp is outside the tolerance window", provider=NAME)
    # crypto_sign_open takes the signature followed by the signed message.
    signed = _signature(signature_b64) + signed_message(stamp, request.body)
    for index, key in enumerate(keys):
        if key is not None:
            try:
                crypto_sign_open(signed, key)
            except BadSignatureError:
                continue
            return index
    raise SignatureError("telnyx-signature-ed25519 does not verify", provider=NAME)
