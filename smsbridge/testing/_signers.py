"""Mint valid Twilio and Telnyx webhook signatures for tests (and for the emulator).

The string-to-sign and the HMAC live in :mod:`smsbridge._signing`, shared with the verifier, so
a signer and the verifier cannot drift apart.

Example::

    headers = sign_twilio("https://app.test/sms", {"MessageSid": "SM…"}, auth_token="tok")

    url = twilio_json_url("https://app.test/hook", body)          # JSON bodies: URL first …
    headers = sign_twilio(url, auth_token="tok", body=body)        # … then sign that URL

    pair = make_telnyx_keypair()
    headers = sign_telnyx(body, signing_key=pair.signing_key)      # verify with pair.public_key_b64
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

import nacl.signing

from smsbridge._signing import TwilioAlgorithm, telnyx_message, twilio_signature

__all__ = [
    "TelnyxKeyPair",
    "make_telnyx_keypair",
    "sign_telnyx",
    "sign_twilio",
    "twilio_json_url",
]

ParamsLike = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
TWILIO_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
TELNYX_SIGNATURE_HEADER = "telnyx-signature-ed25519"
TELNYX_TIMESTAMP_HEADER = "telnyx-timestamp"


def twilio_json_url(url: str, body: bytes) -> str:
    """Return ``url`` with ``bodySHA256=<hex sha256 of body>`` appended to its query string.

    Twilio signs JSON-bodied webhooks over this URL alone; POST the body to the returned URL and
    sign it with ``sign_twilio(returned_url, auth_token=..., body=body)``.

    Args:
        url: the URL the webhook is sent to, with or without a query string.
        body: the exact bytes that will be sent.

    Returns:
        The URL with the body hash appended (``?`` or ``&`` as appropriate).
    """
    digest = hashlib.sha256(body).hexdigest()
    parts = urlsplit(url)
    query = f"{parts.query}&bodySHA256={digest}" if parts.query else f"bodySHA256={digest}"
    return urlunsplit(parts._replace(query=query))


def sign_twilio(
    url: str,
    params: ParamsLike | None = None,
    *,
    auth_token: str,
    body: bytes | None = None,
    shared_key: tuple[str, str, TwilioAlgorithm] | None = None,
) -> dict[str, str]:
    """Headers that make a request to ``url`` look signed by Twilio.

    Args:
        url: the exact URL requested, query string included. For a JSON ``body`` it must already
            carry ``bodySHA256`` (build it with :func:`twilio_json_url`).
        params: the form-encoded POST params (mapping, mapping of lists, or pairs). ``None`` or
            empty for GET requests and JSON bodies.
        auth_token: the account's auth token (the HMAC key unless ``shared_key`` is given).
        body: raw JSON body bytes; the signature then covers the URL alone, and the URL's
            ``bodySHA256`` is checked against this body.
        shared_key: ``(key_id, secret, algorithm)`` to sign with a SharedKey instead of the auth
            token; adds ``X-Twilio-Webhooks-Signature-Settings``.

    Returns:
        ``{"X-Twilio-Signature": ...}`` plus the settings header when ``shared_key`` is given.

    Raises:
        ValueError: both ``params`` and ``body`` given, or the URL's ``bodySHA256`` is missing or
            does not match ``body``.
    """
    signed_params: ParamsLike = params or ()
    if body is not None:
        if params:
            raise ValueError("a Twilio JSON webhook has no form params: pass params or body")
        hashes = parse_qs(urlsplit(url).query).get("bodySHA256", [])
        if hashes != [hashlib.sha256(body).hexdigest()]:
            # Signing a URL whose hash does not match would mint a webhook no verifier accepts.
            raise ValueError("url must carry bodySHA256 of body: build it with twilio_json_url()")
        signed_params = ()
    headers: dict[str, str] = {}
    algorithm: TwilioAlgorithm = "HMAC_SHA1"
    key = auth_token
    if shared_key is not None:
        key_id, key, algorithm = shared_key
        headers[TWILIO_SETTINGS_HEADER] = f"key={key_id},algorithm={algorithm}"
    headers[TWILIO_SIGNATURE_HEADER] = twilio_signature(key, url, signed_params, algorithm)
    return headers


@dataclass(frozen=True, repr=False)
class TelnyxKeyPair:
    """An Ed25519 key pair standing in for a Telnyx account's webhook signing key.

    Attributes:
        signing_key: the private ``nacl.signing.SigningKey`` (give it to :func:`sign_telnyx`).
        public_key_b64: base64 of the 32-byte public key, what ``Telnyx(public_key=...)`` takes.

    Example::

        pair = make_telnyx_keypair(b"\\x01" * 32)
        headers = sign_telnyx(b"{}", signing_key=pair.signing_key)
    """

    signing_key: nacl.signing.SigningKey
    public_key_b64: str

    def __repr__(self) -> str:
        return f"TelnyxKeyPair(public_key_b64={self.public_key_b64!r}, signing_key=***)"


def make_telnyx_keypair(seed: bytes | None = None) -> TelnyxKeyPair:
    """Create a Telnyx-style signing key pair.

    Args:
        seed: 32 bytes for a deterministic key; random when omitted.

    Returns:
        The key pair.

    Raises:
        ValueError: ``seed`` is not 32 bytes.
    """
    if seed is None:
        seed = os.urandom(32)
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed is exactly 32 bytes")
    key = nacl.signing.SigningKey(seed)
    public = base64.b64encode(bytes(key.verify_key)).decode("ascii")
    return TelnyxKeyPair(signing_key=key, public_key_b64=public)


def sign_telnyx(
    body: bytes,
    *,
    signing_key: nacl.signing.SigningKey | TelnyxKeyPair | bytes,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Headers that make ``body`` look signed by Telnyx.

    Args:
        body: the exact bytes that will be sent (re-serialised JSON would not verify).
        signing_key: a ``nacl.signing.SigningKey``, a :class:`TelnyxKeyPair`, or a 32-byte seed.
        timestamp: Unix seconds to sign; now when omitted (pass an old one to test staleness).

    Returns:
        ``{"telnyx-signature-ed25519": <base64 signature>, "telnyx-timestamp": <seconds>}``.
    """
    if isinstance(signing_key, TelnyxKeyPair):
        signing_key = signing_key.signing_key
    elif isinstance(signing_key, (bytes, bytearray)):
        signing_key = make_telnyx_keypair(bytes(signing_key)).signing_key
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = signing_key.sign(telnyx_message(stamp, body)).signature
    return {
        TELNYX_SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
        TELNYX_TIMESTAMP_HEADER: stamp,
    }
