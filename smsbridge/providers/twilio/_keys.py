"""A Twilio account's webhook keys: the auth token and any SharedKeys (id -> secret).

Checked at start-up (a number or a nested table from a config file would otherwise fail at the
first webhook) and keyed once, so each webhook only hashes its own message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from smsbridge._errors import ConfigError
from smsbridge.providers._checks import check_credential

__all__ = ["DIGESTS", "TwilioKeys", "checked_shared_keys", "parse_shared_keys"]

DIGESTS: dict[str, Callable[..., Any]] = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def checked_shared_keys(shared_keys: Mapping[str, str] | None) -> dict[str, str]:
    """SharedKey id -> secret, every one a non-empty printable string (checked at start-up:
    a number or a nested table from a config file would otherwise fail at the first webhook).

    Raises:
        ConfigError: naming TWILIO_SHARED_KEYS, never showing a secret.
    """
    if shared_keys is None:
        return {}
    if not isinstance(shared_keys, Mapping):
        raise ConfigError(
            "Twilio shared_keys must map SharedKey ids to secrets", variable="TWILIO_SHARED_KEYS"
        )
    keys: dict[str, str] = {}
    for key_id, secret in shared_keys.items():
        check_credential(key_id, "TWILIO_SHARED_KEYS", "a Twilio SharedKey id")
        check_credential(secret, "TWILIO_SHARED_KEYS", f"the secret of SharedKey {key_id}")
        keys[key_id] = secret
    return keys


def parse_shared_keys(text: str) -> dict[str, str]:
    """``KEY_ID=secret[,KEY_ID=secret]`` (Twilio SharedKey ids and secrets) as a dict.

    Raises:
        ConfigError: naming ``TWILIO_SHARED_KEYS``, without repeating any secret.
    """
    keys: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key_id, sep, secret = item.partition("=")
        if not sep or not key_id.strip() or not secret.strip():
            raise ConfigError(
                "TWILIO_SHARED_KEYS must be 'KEY_ID=secret[,KEY_ID=secret]'",
                variable="TWILIO_SHARED_KEYS",
            )
        keys[key_id.strip()] = secret.strip()
    return keys


class TwilioKeys:
    """HMAC keys of one Twilio account, keyed once (for both algorithms) when the provider
    is built, so each webhook only copies a keyed HMAC and hashes its own message."""

    __slots__ = ("_hmacs", "auth", "shared")

    def __init__(self, auth_token: str, shared_keys: Mapping[str, str]) -> None:
        self.auth = auth_token.encode() if auth_token else None
        self.shared = {key_id: secret.encode() for key_id, secret in shared_keys.items() if secret}
        keys = [*self.shared.values(), *([self.auth] if self.auth else [])]
        self._hmacs = {
            (key, algorithm): hmac.new(key, digestmod=digest)
            for key in keys
            for algorithm, digest in DIGESTS.items()
        }

    def mac(self, key: bytes, algorithm: str) -> Any:
        """The keyed HMAC object for ``key`` (one of this account's) to ``copy()``."""
        return self._hmacs[key, algorithm]

    def __repr__(self) -> str:
        return f"TwilioKeys(shared={sorted(self.shared)!r}, ***)"
