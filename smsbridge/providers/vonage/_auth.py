"""How smsbridge authenticates to Vonage: HTTP Basic, or an application JWT.

The application JWT is what Vonage's SDKs mint (vonage-python-sdk ``vonage_jwt.JwtClient``):
RS256 over the claims ``application_id``, ``iat``, ``jti`` and ``exp``, signed with the
application's private key. Signing costs about a millisecond of CPU, so one token is kept
and reused until shortly before it expires (Vonage accepts a token until its ``exp``; its docs
reuse one generated token across requests).

PyJWT (and ``cryptography``, its ``crypto`` extra) is imported here on first use only:
``pip install 'smsbridge[vonage]'``.
"""

from __future__ import annotations

import base64
import importlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from smsbridge._errors import ConfigError

__all__ = ["INSTALL_HINT", "AppToken", "basic_authorization", "load_private_key", "require_jwt"]

INSTALL_HINT = "pip install 'smsbridge[vonage]'"

# Lifetime of a minted token, and how long before its expiry a new one is minted instead.
TOKEN_TTL = 300
TOKEN_REFRESH = 60


def require_jwt() -> ModuleType:
    """The ``jwt`` module (PyJWT), or ``ConfigError`` saying how to install it."""
    try:
        return importlib.import_module("jwt")
    except ImportError:
        raise ConfigError(f"the Vonage provider needs PyJWT: {INSTALL_HINT}") from None


def basic_authorization(api_key: str, api_secret: str) -> str:
    """The ``Authorization`` value of HTTP Basic auth with the API key and secret."""
    return "Basic " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode("ascii")


def _pem_bytes(value: str | bytes) -> bytes:
    """The PEM text ``value`` holds, or the content of the file it names."""
    if isinstance(value, bytes):
        return value
    if "-----BEGIN" in value:
        # One-line environment variables often carry the newlines as the two characters \n.
        return (value.replace("\\n", "\n") if "\n" not in value else value).encode()
    try:
        return Path(value).expanduser().read_bytes()
    except (OSError, ValueError):
        # Never echo the value: it may be a mangled key rather than a path.
        raise ConfigError(
            "Vonage private_key is neither PEM text nor the path of a readable file",
            variable="VONAGE_PRIVATE_KEY",
        ) from None


def load_private_key(value: str | bytes) -> Any:
    """The RSA private key ``value`` holds (PEM text, or the path of a PEM file).

    Raises:
        ConfigError: naming ``VONAGE_PRIVATE_KEY`` (never showing the key) when it cannot be
            read, is not PEM, is encrypted, or is not an RSA private key.
    """
    data = _pem_bytes(value)
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        raise ConfigError(
            f"Vonage application keys need PyJWT's crypto extra: {INSTALL_HINT}",
            variable="VONAGE_PRIVATE_KEY",
        ) from None
    try:
        key = load_pem_private_key(data, password=None)
    except Exception:  # not PEM, encrypted (TypeError), an unsupported algorithm, ...
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            "Vonage private_key is not an unencrypted RSA private key in PEM form",
            variable="VONAGE_PRIVATE_KEY",
        )
    return key


class AppToken:
    """The application JWT for ``Authorization: Bearer``, minted when the last one is about
    to expire.

    Thread-safe enough: two threads that both find the token stale both mint one, and either
    is valid.
    """

    __slots__ = ("_application_id", "_clock", "_current", "_key")

    def __init__(
        self, application_id: str, private_key: Any, clock: Callable[[], float] = time.time
    ) -> None:
        self._application_id = application_id
        self._key = private_key
        self._clock = clock
        self._current: tuple[str, float] = ("", 0.0)

    def mint(self, now: int) -> str:
        """A new token issued at ``now`` (Unix seconds)."""
        claims = {
            "application_id": self._application_id,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "exp": now + TOKEN_TTL,
        }
        token: str = require_jwt().encode(
            claims, self._key, algorithm="RS256", headers={"typ": "JWT"}
        )
        return token

    def header(self) -> str:
        """``Bearer <token>``, reusing the current token unless it expires within a minute."""
        token, refresh_at = self._current
        now = self._clock()
        if not token or now >= refresh_at:
            issued = int(now)
            token = self.mint(issued)
            self._current = (token, issued + TOKEN_TTL - TOKEN_REFRESH)
        return "Bearer " + token

    def __repr__(self) -> str:
        return f"AppToken(application_id={self._application_id!r}, private_key=***)"
