"""Providers from configuration: environment variables or a mapping.

``SMSBRIDGE_PROVIDERS`` (comma list, order = preference) names the providers; each reads its
usual variables, as its :class:`~smsbridge.providers.Settings` declare them.
``SMSBRIDGE_RECEIVE_ONLY`` names providers kept for receiving only (their webhooks are
verified; they never send). ``SMSBRIDGE_STORE`` names the store (read by
``Bridge.from_env``). A mapping may use the same upper-case names, or nest lower-case keyword
arguments per provider::

    {"providers": ["telnyx", "twilio"],
     "telnyx": {"api_key": "KEY…", "from_": "+15017122662"},
     "twilio": {"account_sid": "AC…", "auth_token": "…", "from_": "+15017122661"}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smsbridge._errors import ConfigError
from smsbridge.providers._registry import names, provider_class

if TYPE_CHECKING:
    from smsbridge.providers._base import Provider

__all__ = [
    "BRIDGE_VARIABLES",
    "provider_variables",
    "providers_from_mapping",
    "receive_only_from_mapping",
]

# The bridge's own variables (each provider declares its own in ``Provider.settings``).
BRIDGE_VARIABLES = ("SMSBRIDGE_PROVIDERS", "SMSBRIDGE_RECEIVE_ONLY", "SMSBRIDGE_STORE")


def _names(value: Any, variable: str = "SMSBRIDGE_PROVIDERS") -> list[str]:
    if isinstance(value, str):
        chosen = [n.strip().lower() for n in value.split(",") if n.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(n, str) for n in value):
        chosen = [n.strip().lower() for n in value]
    else:
        raise ConfigError(
            f"{variable} must be a comma-separated list of provider names", variable=variable
        )
    if not chosen:
        raise ConfigError(f"{variable} is empty", variable=variable)
    for name in chosen:
        provider_class(name, variable=variable)  # an unknown name lists the known ones
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"{variable} repeats a provider", variable=variable)
    return chosen


def providers_from_mapping(config: Mapping[str, Any]) -> list[Provider]:
    """The providers ``config`` names, in order, each built from its settings.

    Raises:
        ConfigError: naming the variable that is missing or malformed.
    """
    raw = config.get("SMSBRIDGE_PROVIDERS", config.get("providers"))
    if raw is None:
        raise ConfigError("SMSBRIDGE_PROVIDERS is not set", variable="SMSBRIDGE_PROVIDERS")
    return [_build(name, config, "SMSBRIDGE_PROVIDERS") for name in _names(raw)]


def receive_only_from_mapping(config: Mapping[str, Any]) -> list[Provider]:
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
    chosen = _names(raw, variable="SMSBRIDGE_RECEIVE_ONLY")
    senders = config.get("SMSBRIDGE_PROVIDERS", config.get("providers"))
    both = set(chosen) & set(_names(senders)) if senders else set()
    if both:
        raise ConfigError(
            f"{sorted(both)[0]!r} is in both SMSBRIDGE_PROVIDERS and SMSBRIDGE_RECEIVE_ONLY",
            variable="SMSBRIDGE_RECEIVE_ONLY",
        )
    return [_build(name, config, "SMSBRIDGE_RECEIVE_ONLY") for name in chosen]


def _build(name: str, config: Mapping[str, Any], variable: str) -> Provider:
    return provider_class(name, variable=variable).from_settings(config)


def provider_variables() -> dict[str, tuple[str, ...]]:
    """Every known provider's environment variables, by provider name (for docs and checks)."""
    return {name: tuple(provider_class(name).settings.variables) for name in names()}
