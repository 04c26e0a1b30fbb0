"""Providers from configuration: environment variables or a mapping.

``SMSBRIDGE_PROVIDERS`` (comma list, order = preference) names the providers; each reads its
usual variables. ``SMSBRIDGE_RECEIVE_ONLY`` names providers kept for receiving only (their
webhooks are verified; they never send). ``SMSBRIDGE_STORE`` names the store (read by
``Bridge.from_env``). A mapping may use the same upper-case names, or nest lower-case keyword
arguments per provider::

    {"providers": ["telnyx", "twilio"],
     "telnyx": {"api_key": "KEY…", "from_": "+15017122662"},
     "twilio": {"account_sid": "AC…", "auth_token": "…", "from_": "+15017122661"}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smsbridge._errors import ConfigError, SmsBridgeError

__all__ = [
    "BRIDGE_VARIABLES",
    "ENV_VARIABLES",
    "parse_shared_keys",
    "providers_from_mapping",
    "receive_only_from_mapping",
]

# The bridge's own variables (the providers' are below).
BRIDGE_VARIABLES = ("SMSBRIDGE_PROVIDERS", "SMSBRIDGE_RECEIVE_ONLY", "SMSBRIDGE_STORE")

# Variable -> keyword argument, per provider. The first of each is required.
ENV_VARIABLES: dict[str, dict[str, str]] = {
    "twilio": {
        "TWILIO_ACCOUNT_SID": "account_sid",
        "TWILIO_AUTH_TOKEN": "auth_token",
        "TWILIO_FROM": "from_",
        "TWILIO_MESSAGING_SERVICE_SID": "messaging_service_sid",
        "TWILIO_API_KEY": "api_key",
        "TWILIO_API_SECRET": "api_secret",
        "TWILIO_BASE_URL": "base_url",
        "TWILIO_TIMEOUT": "timeout",
        "TWILIO_SHARED_KEYS": "shared_keys",
    },
    "telnyx": {
        "TELNYX_API_KEY": "api_key",
        "TELNYX_PUBLIC_KEY": "public_key",
        "TELNYX_FROM": "from_",
        "TELNYX_MESSAGING_PROFILE_ID": "messaging_profile_id",
        "TELNYX_BASE_URL": "base_url",
        "TELNYX_TIMEOUT": "timeout",
    },
}
_REQUIRED = {"twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"), "telnyx": ("TELNYX_API_KEY",)}


def _names(value: Any, variable: str = "SMSBRIDGE_PROVIDERS") -> list[str]:
    if isinstance(value, str):
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(n, str) for n in value):
        names = [n.strip().lower() for n in value]
    else:
        raise ConfigError(
            f"{variable} must be a comma-separated list of provider names", variable=variable
        )
    if not names:
        raise ConfigError(f"{variable} is empty", variable=variable)
    unknown = [n for n in names if n not in ENV_VARIABLES]
    if unknown:
        known = ", ".join(sorted(ENV_VARIABLES))
        raise ConfigError(
            f"{variable} names unknown provider {unknown[0]!r} (known: {known})",
            variable=variable,
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"{variable} repeats a provider", variable=variable)
    return names


def _kwargs(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    nested = config.get(name)
    if isinstance(nested, Mapping):
        given = {k: v for k, v in nested.items() if v not in (None, "")}
        for variable in _REQUIRED[name]:
            keyword = ENV_VARIABLES[name][variable]
            if keyword not in given:
                raise ConfigError(
                    f"{name}.{keyword} is not set (needed for provider {name!r})",
                    variable=variable,
                )
        return given
    kwargs: dict[str, Any] = {}
    for variable in _REQUIRED[name]:
        if not config.get(variable):
            raise ConfigError(
                f"{variable} is not set (needed for provider {name!r})", variable=variable
            )
    for variable, keyword in ENV_VARIABLES[name].items():
        value = config.get(variable)
        if value in (None, ""):
            continue
        if keyword == "timeout":
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{variable} must be a number of seconds", variable=variable
                ) from None
            if value <= 0:
                raise ConfigError(f"{variable} must be positive", variable=variable)
        if keyword == "shared_keys" and isinstance(value, str):
            value = parse_shared_keys(value)
        kwargs[keyword] = value
    return kwargs


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


def providers_from_mapping(config: Mapping[str, Any]) -> list[Any]:
    """The providers ``config`` names, in order, each built from its settings.

    Raises:
        ConfigError: naming the variable that is missing or malformed.
    """
    raw = config.get("SMSBRIDGE_PROVIDERS", config.get("providers"))
    if raw is None:
        raise ConfigError("SMSBRIDGE_PROVIDERS is not set", variable="SMSBRIDGE_PROVIDERS")
    return [_build(name, config) for name in _names(raw)]


def receive_only_from_mapping(config: Mapping[str, Any]) -> list[Any]:
    """The providers ``SMSBRIDGE_RECEIVE_ONLY`` (or ``receive_only``) names: built from their
    usual variables, their webhooks verified, never used to send.

    Keeping the old vendor here when swapping vendors keeps its late status callbacks.

    Raises:
        ConfigError: naming the variable that is missing or malformed, or a provider named
            both here and in ``SMSBRIDGE_PROVIDERS``.
    """
    raw = config.get("SMSBRIDGE_RECEIVE_ONLY", config.get("receive_only"))
    if raw is None or raw == "" or raw == []:
        return []
    names = _names(raw, variable="SMSBRIDGE_RECEIVE_ONLY")
    senders = config.get("SMSBRIDGE_PROVIDERS", config.get("providers"))
    both = set(names) & set(_names(senders)) if senders else set()
    if both:
        raise ConfigError(
            f"{sorted(both)[0]!r} is in both SMSBRIDGE_PROVIDERS and SMSBRIDGE_RECEIVE_ONLY",
            variable="SMSBRIDGE_RECEIVE_ONLY",
        )
    return [_build(name, config) for name in names]


def _build(name: str, config: Mapping[str, Any]) -> Any:
    from smsbridge._lazy import load
    from smsbridge.providers import REGISTRY

    cls = load(REGISTRY[name])
    kwargs = _kwargs(name, config)
    try:
        return cls(**kwargs)
    except SmsBridgeError:
        raise
    except TypeError as exc:
        raise ConfigError(f"bad settings for provider {name!r}: {exc}", variable=name) from None
