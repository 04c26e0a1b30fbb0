"""Start-up checks of provider settings: credentials, senders, base URLs and timeouts.

Each failure is a ``ConfigError`` naming the variable to fix, never showing a
secret.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from smsbridge._errors import ConfigError

__all__ = [
    "DEFAULT_TIMEOUT",
    "TimeoutLike",
    "check_base_url",
    "check_credential",
    "check_positive",
    "check_sender",
    "check_timeout",
]

TimeoutLike = float | httpx.Timeout

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_TIMEOUT = 86_400.0

# A sender is an E.164 number, a short code, or an alphanumeric ID (up to 11 characters with at
# least one letter; Twilio also allows + - _ &).
_SENDER = re.compile(r"^(\+[1-9]\d{6,14}|\d{3,8}|(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9 +\-_&]{1,11})$")
# Credentials travel in an HTTP header: printable ASCII without spaces, or the request fails late
# with an untyped encoding error.
_CREDENTIAL = re.compile(r"^[\x21-\x7e]+$")


def check_credential(value: str | None, variable: str, what: str) -> str:
    """``value`` if it can be a credential, else ``ConfigError`` naming ``variable``."""
    if not value:
        raise ConfigError(f"{what} is empty", variable=variable)
    if not isinstance(value, str) or not _CREDENTIAL.fullmatch(value):
        # Never echo the value: it is a secret, perhaps pasted with a stray newline.
        raise ConfigError(
            f"{what} must be printable ASCII without spaces (check for a stray newline)",
            variable=variable,
        )
    return value


def check_positive(value: float, variable: str) -> float:
    """``value`` as a float if it is a positive number (not a bool), else ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{variable} must be a positive number", variable=variable)
    return float(value)


def check_timeout(timeout: TimeoutLike | None, variable: str) -> httpx.Timeout:
    """``timeout`` as an ``httpx.Timeout``, or ``ConfigError`` if it is not usable."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        result = timeout
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        result = httpx.Timeout(timeout)
    else:
        raise ConfigError(
            "timeout must be a number of seconds or an httpx.Timeout", variable=variable
        )
    for value in result.as_dict().values():
        # NaN, infinity or a huge number would only fail later, inside the socket layer.
        if value is not None and not (0 < value <= MAX_TIMEOUT):
            raise ConfigError(
                f"timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds",
                variable=variable,
            )
    return result


def check_base_url(value: str, variable: str, provider: str) -> str:
    """``value`` without a trailing slash if it is a scheme, host and optional port only.

    The codecs append the documented paths (``/2010-04-01/...``, ``/v2/messages``) to it, so a
    path here (``https://api.telnyx.com/v2``) would double them; that is refused up front.

    Raises:
        ConfigError: naming ``variable``, for anything else.
    """
    if not isinstance(value, str):
        raise ConfigError(f"{provider} base_url must be a str", variable=variable)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"{provider} base_url is not a valid URL", variable=variable) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{provider} base_url must start with http:// or https:// and name a host",
            variable=variable,
        )
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(
            f"{provider} base_url must be a scheme, host and port only, without a path "
            "(the API paths are added to it), query or credentials",
            variable=variable,
        )
    return value.rstrip("/")


def check_sender(value: str | None, variable: str) -> str | None:
    """``value`` if it is a valid sender (or ``None``), else ``ConfigError``."""
    if value is None:
        return None
    if not isinstance(value, str) or not _SENDER.fullmatch(value):
        raise ConfigError(
            "a sender must be an E.164 number (+15017122661), a short code, or an "
            "alphanumeric ID of up to 11 characters",
            variable=variable,
        )
    return value
