"""Vonage webhook verification: an HS256 JWT in ``Authorization: Bearer``.

Vonage signs Messages API webhooks (inbound and status) with the account's signature secret
(developer.vonage.com, "Signed webhooks"): header ``{"alg": "HS256", "typ": "JWT"}``, claims
``iat``, ``jti``, ``iss`` (``"Vonage"``), ``payload_hash`` (hex SHA-256 of the request body),
``api_key`` and, for applications, ``application_id``. Vonage calls checking the hash
optional; here it is required, since the JWT alone signs nothing about the body (and
vonage-python-sdk's ``verify_signature`` checks the HMAC only).

Rules: exactly one ``Authorization`` header, ``Bearer`` with a token; the algorithm is pinned
to HS256 (``none``, RS256 and the rest are refused before any key is tried); a token any one
configured secret verifies is accepted; ``payload_hash`` must equal the lower-case hex
SHA-256 of the raw body (compared in constant time); ``iat`` must be within the tolerance of
now, either way, and an ``exp``, when present, not passed. The docs give no replay window, so
the bridge's tolerance (300 s by default) applies. No secret configured: every webhook is
refused (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from smsbridge._errors import SignatureError, StaleWebhook
from smsbridge.providers.vonage._auth import require_jwt

if TYPE_CHECKING:
    from smsbridge.webhooks._request import WebhookRequest

__all__ = ["AUTHORIZATION", "verify_vonage"]

NAME = "vonage"
AUTHORIZATION = "authorization"
# Vonage's tokens are a few hundred characters; anything far longer is not one of them.
MAX_TOKEN_CHARS = 4096
_OPTIONS = {
    # Times are checked below against the bridge's clock, not PyJWT's.
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_aud": False,
    "verify_iss": False,
    "require": ["iat", "payload_hash"],
}


def _token(request: WebhookRequest) -> str:
    headers = request.headers
    value = headers.first(AUTHORIZATION)
    if value is None or headers.count(AUTHORIZATION) != 1:
        problem = "missing" if value is None else "repeated"
        raise SignatureError(f"{problem} Authorization header", provider=NAME)
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        raise SignatureError("Authorization is not a Bearer token", provider=NAME)
    return token


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    if type(value) not in (int, float) or value != value:  # bool, str, NaN: not a time
        raise SignatureError(f"the token's {name} is not a Unix time", provider=NAME)
    return float(value)


def verify_vonage(
    secrets: Sequence[str | None], request: WebhookRequest, now: float, tolerance: float
) -> dict[str, Any]:
    """Check a Vonage webhook; return the verified claims.

    Raises:
        SignatureError: no secret configured; the header missing, repeated or not a Bearer
            token; not an HS256 JWT; no configured secret verifies it; no ``iat`` or
            ``payload_hash``; or the body's hash differs.
        StaleWebhook: ``iat`` is more than ``tolerance`` seconds from ``now``, or ``exp``
            has passed.
    """
    keys = [secret for secret in secrets if secret]
    if not keys:
        raise SignatureError("no Vonage signature_secret configured", provider=NAME)
    token = _token(request)
    jwt = require_jwt()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise SignatureError("the Authorization token is not a JWT", provider=NAME) from None
    if header.get("alg") != "HS256":
        raise SignatureError("the Authorization token is not signed with HS256", provider=NAME)
    claims: dict[str, Any] | None = None
    for key in keys:
        try:
            claims = jwt.decode(token, key, algorithms=["HS256"], options=_OPTIONS)
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            # Signed, but unreadable or without the claims it must carry.
            raise SignatureError(
                "the Authorization token lacks iat or payload_hash, or cannot be read",
                provider=NAME,
            ) from None
        break
    if claims is None:
        raise SignatureError(
            "the Authorization token does not verify with any configured signature secret",
            provider=NAME,
        )
    claimed = claims["payload_hash"]
    digest = hashlib.sha256(request.body).hexdigest()
    if type(claimed) is not str or not hmac.compare_digest(claimed.encode(), digest.encode()):
        raise SignatureError("payload_hash does not match the body", provider=NAME)
    if abs(now - _number(claims, "iat")) > tolerance:
        raise StaleWebhook("the token's iat is outside the tolerance window", provider=NAME)
    if "exp" in claims and now > _number(claims, "exp"):
        raise StaleWebhook("the token has expired", provider=NAME)
    return claims
