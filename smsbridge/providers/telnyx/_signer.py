"""Mint valid Telnyx webhook signatures for tests (and for the emulator).

Example::

    pair = make_telnyx_keypair()
    headers = sign_telnyx(body, signing_key=pair.signing_key)      # verify with pair.public_key_b64
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

import nacl.signing

from smsbridge.providers.telnyx._verify import SIGNATURE, TIMESTAMP, signed_message

__all__ = ["TelnyxKeyPair", "make_telnyx_keypair", "sign_telnyx"]


@dataclass(frozen=True, repr=False)
class TelnyxKeyPair:
    """An Ed25519 key pair standing in for a Telnyx account's webhook signing key.

    Attributes:
        signing_key: the private ``nacl.signing.SigningKey`` (give it to ``sign_telnyx``).
        public_key_b64: base64 of the 32-byte public key, what ``Telnyx(public_key=...)`` takes.

    Examples:
        >>> from smsbridge.providers import Telnyx
        >>> from smsbridge.testing import make_telnyx_keypair, sign_telnyx
        >>> pair = make_telnyx_keypair(b"\\x01" * 32)  # a fixed seed: the same key every run
        >>> telnyx = Telnyx("KEY0123456789ABCDEF", public_key=pair.public_key_b64)
        >>> headers = sign_telnyx(b'{"data": {}}', signing_key=pair)
        >>> sorted(headers)
        ['telnyx-signature-ed25519', 'telnyx-timestamp']
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
        signing_key: a ``nacl.signing.SigningKey``, a ``TelnyxKeyPair``, or a 32-byte seed.
        timestamp: Unix seconds to sign; now when omitted (pass an old one to test staleness).

    Returns:
        ``{"telnyx-signature-ed25519": <base64 signature>, "telnyx-timestamp": <seconds>}``.
    """
    if isinstance(signing_key, TelnyxKeyPair):
        signing_key = signing_key.signing_key
    elif isinstance(signing_key, (bytes, bytearray)):
        signing_key = make_telnyx_keypair(bytes(signing_key)).signing_key
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = signing_key.sign(signed_message(stamp, body)).signature
    return {
        SIGNATURE: base64.b64encode(signature).decode("ascii"),
        TIMESTAMP: stamp,
    }
