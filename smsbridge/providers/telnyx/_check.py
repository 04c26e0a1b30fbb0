"""``smsbridge webhook check`` for Telnyx: Ed25519 over ``timestamp|body``, explained."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping

from smsbridge._errors import ConfigError
from smsbridge.providers.telnyx._verify import SIGNATURE, TIMESTAMP, signed_message
from smsbridge.webhooks._diagnosis import Capture, body_variants

__all__ = ["check_telnyx"]


def check_telnyx(capture: Capture, *, now: float | None = None) -> bool:
    """Verify a Telnyx capture: Ed25519 over ``timestamp|body`` with ``TELNYX_PUBLIC_KEY``.

    A failing signature is retried over the body's usual accidental changes (a trailing
    newline added or lost, CRLF line ends) to tell a damaged capture from a wrong key.
    """
    captured, say, tolerance = capture.captured, capture.say, capture.tolerance
    verify = _telnyx_verifier(capture.environ)
    signature_b64 = captured.header(SIGNATURE)
    stamp = captured.header(TIMESTAMP)
    say("provider: telnyx (telnyx-signature-ed25519)")
    if not signature_b64 or not stamp:
        say("result: INVALID: telnyx-signature-ed25519 and telnyx-timestamp are both needed")
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != 64:
        say("result: INVALID: the signature header is not base64 of 64 bytes")
        return False

    def verifies(body: bytes) -> bool:
        return verify(stamp, body, signature)

    if verifies(captured.body):
        say("result: VALID signature")
        _telnyx_age(stamp, tolerance, now, say)
        return True
    say("result: INVALID signature for this body, timestamp and key")
    for label, variant in body_variants(captured.body):
        if verifies(variant):
            say(f"match: the body {label} verifies: the capture changed the body,")
            say("       or something before your app does (the signature covers exact bytes)")
            return False
    say("hints: - TELNYX_PUBLIC_KEY must be the public key of the account that sent it")
    say("         (Mission Control > Keys), not an API key")
    say("       - the body must be the exact bytes received: re-serialised JSON never verifies")
    say("       - the timestamp header must be the one sent with this body")
    return False


def _telnyx_verifier(environ: Mapping[str, str]) -> Callable[[str, bytes, bytes], bool]:
    """``verify(timestamp, body, signature)`` with ``TELNYX_PUBLIC_KEY``.

    Raises:
        ConfigError: the key is not set, or is not base64 of a 32-byte Ed25519 key.
    """
    import nacl.exceptions
    import nacl.signing

    key_b64 = environ.get("TELNYX_PUBLIC_KEY", "").strip()
    if not key_b64:
        raise ConfigError("TELNYX_PUBLIC_KEY is not set", variable="TELNYX_PUBLIC_KEY")
    try:
        key = nacl.signing.VerifyKey(base64.b64decode(key_b64, validate=True))
    except (binascii.Error, ValueError, nacl.exceptions.CryptoError):
        raise ConfigError(
            "TELNYX_PUBLIC_KEY is not base64 of a 32-byte Ed25519 key", variable="TELNYX_PUBLIC_KEY"
        ) from None

    def verify(stamp: str, body: bytes, signature: bytes) -> bool:
        try:
            key.verify(signed_message(stamp, body), signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return False
        return True

    return verify


def _telnyx_age(
    stamp: str, tolerance: float, now: float | None, say: Callable[[str], None]
) -> None:
    try:
        age = (time.time() if now is None else now) - int(stamp)
    except ValueError:
        say("note: telnyx-timestamp is not a number: the bridge refuses it as malformed")
        return
    if abs(age) > tolerance:
        when = f"{age:.0f} s ago" if age >= 0 else f"{-age:.0f} s in the future"
        say(f"note: signed {when}, outside the {tolerance:.0f} s window: a live delivery like")
        say("      this would be refused as stale_webhook (expected for an old capture;")
        say("      otherwise check the server clock)")
