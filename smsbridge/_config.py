"""Providers from configuration: environment variables or a mapping.

``SMSBRIDGE_PROVIDERS`` (comma list, order = preference) names the providers; each reads its
usual variables, as its ``Settings`` declare them.
``SMSBRIDGE_RECEIVE_ONLY`` names providers kept for receiving only (their webhooks are
verified; they never send). ``SMSBRIDGE_STORE`` names the store (read by
``Bridge.from_env``). ``SMSBRIDGE_RATE_LIMITS`` holds rate limits in messages per second
(``rate_limits_from_mapping``). A mapping may use the same upper-case names, or nest
lower-case keyword arguments per provider::

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
    from smsbridge.routing._rates import RateLimits

__all__ = [
    "BRIDGE_VARIABLES",
    "bridge_arguments",
    "provider_variables",
    "providers_from_mapping",
    "rate_limits_from_mapping",
    "receive_only_from_mapping",
]

# The bridge's own variables (each provider declares its own in ``Provider.settings``).
BRIDGE_VARIABLES = (
    "SMSBRIDGE_PROVIDERS",
    "SMSBRIDGE_RECEIVE_ONLY",
    "SMSBRIDGE_STORE",
    "SMSBRIDGE_RATE_LIMITS",
)


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


_RATES = "SMSBRIDGE_RATE_LIMITS"


def rate_limits_from_mapping(config: Mapping[str, Any]) -> RateLimits | None:
    """The rate limits ``SMSBRIDGE_RATE_LIMITS`` (or ``rate_limits``) sets, or ``None``.

    The variable is a comma list of ``name=messages per second``: a provider's name (as in
    ``SMSBRIDGE_PROVIDERS``) limits that provider, ``*`` every sender not listed, and any
    other name the sender of that name (an E.164 number, short code, alphanumeric id, or
    messaging service / profile id)::

        SMSBRIDGE_RATE_LIMITS=twilio=100,telnyx=50,+15017122661=1,*=1

    A mapping may also give ``rate_limits`` as the keyword arguments of
    ``RateLimits`` (``{"providers": {"twilio": 100}, "burst": 3}``).

    Raises:
        ConfigError: naming ``SMSBRIDGE_RATE_LIMITS``, for anything malformed.
    """
    from smsbridge.routing._rates import RateLimits

    raw = config.get(_RATES, config.get("rate_limits"))
    if raw is None or raw == "":
        return None
    if isinstance(raw, RateLimits):
        return raw
    try:
        if isinstance(raw, Mapping):
            return RateLimits(**raw)
        if isinstance(raw, str):
            return _parse_rates(raw)
    except (ConfigError, TypeError) as exc:
        detail = exc.message if isinstance(exc, ConfigError) else str(exc)
        raise ConfigError(f"{_RATES}: {detail}", variable=_RATES) from None
    raise ConfigError(f"{_RATES} must be a string like 'twilio=100,*=1'", variable=_RATES)


def _parse_rates(text: str) -> RateLimits:
    from smsbridge.routing._rates import RateLimits

    known = set(names())
    providers: dict[str, float] = {}
    senders: dict[str, float] = {}
    default: float | None = None
    for item in (part.strip() for part in text.split(",")):
        name, sep, value = (piece.strip() for piece in item.partition("="))
        try:
            rate = float(value) if sep and name else None
        except ValueError:
            rate = None
        if rate is None:
            raise ConfigError(
                f"{item!r} is not name=messages per second (e.g. twilio=100,+15017122661=1,*=1)",
                variable=_RATES,
            )
        if name == "*":
            target = None
        elif name.lower() in known:
            target, name = providers, name.lower()
        else:
            target = senders
        if (name == "*" and default is not None) or (target is not None and name in target):
            raise ConfigError(f"{name!r} is named twice", variable=_RATES)
        if target is None:
            default = rate
        else:
            target[name] = rate
    return RateLimits(providers=providers, senders=senders, sender_default=default)


def bridge_arguments(config: Mapping[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``Bridge``'s arguments from a configuration mapping (``from_env``, ``from_config``):
    the providers, then every setting the mapping names that ``kwargs`` does not (they win).

    Raises:
        ConfigError: naming the variable that is missing or malformed.
    """
    arguments: dict[str, Any] = {"providers": providers_from_mapping(config), **kwargs}
    arguments.setdefault("receive_only", receive_only_from_mapping(config))
    arguments.setdefault("rate_limits", rate_limits_from_mapping(config))
    if "store" not in arguments:
        url = config.get("SMSBRIDGE_STORE", config.get("store"))
        if url not in (None, ""):
            from smsbridge.stores import store_from_url

            arguments["store"] = store_from_url(url, variable="SMSBRIDGE_STORE")
    return arguments
