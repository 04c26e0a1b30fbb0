"""Mint valid Vonage webhook signatures for tests (and for the emulator).

Example::

    headers = sign_vonage(body, signature_secret="…")   # {"Authorization": "Bearer <JWT>"}
"""

from __future__ import annotations

import hashlib
import time
import uuid

from smsbridge.providers.vonage._auth import require_jwt

__all__ = ["sign_vonage"]

# The API key in Vonage's own sample token (developer.vonage.com, "Signed webhooks").
SAMPLE_API_KEY = "a1b2c3d"


def sign_vonage(
    body: bytes,
    *,
    signature_secret: str,
    api_key: str = SAMPLE_API_KEY,
    application_id: str | None = None,
    issued_at: int | None = None,
) -> dict[str, str]:
    """Headers that make ``body`` look signed by Vonage: an HS256 JWT with Vonage's claims.

    Args:
        body: the exact bytes that will be sent (``payload_hash`` is their SHA-256).
        signature_secret: the account's signature secret (what ``Vonage(signature_secret=)``
            verifies with).
        api_key: the account's API key, the ``api_key`` claim.
        application_id: the ``application_id`` claim, left out when ``None`` (Vonage sends
            it for messages sent through an application).
        issued_at: Unix seconds of ``iat``; now when omitted (pass an old one to test
            staleness).

    Returns:
        ``{"Authorization": "Bearer <token>"}``.
    """
    claims: dict[str, object] = {
        "iat": int(time.time()) if issued_at is None else issued_at,
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": api_key,
    }
    if application_id is not None:
        claims["application_id"] = application_id
    token: str = require_jwt().encode(
        claims, signature_secret, algorithm="HS256", headers={"typ": "JWT"}
    )
    return {"Authorization": f"Bearer {token}"}
