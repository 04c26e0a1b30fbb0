"""The registry: provider names to provider classes, each imported on first use.

The built-in providers are listed here; other packages add theirs through the
``smsbridge.providers`` entry-point group, for example in their ``pyproject.toml``::

    [project.entry-points."smsbridge.providers"]
    acme = "acme_sms:AcmeProvider"

The name is what ``SMSBRIDGE_PROVIDERS`` uses; the class must subclass
``Provider`` and carry that same ``name``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from smsbridge._errors import ConfigError
from smsbridge._lazy import load

if TYPE_CHECKING:
    from smsbridge.providers._base import Provider

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "names", "provider_class"]

ENTRY_POINT_GROUP = "smsbridge.providers"

BUILTIN: dict[str, str] = {
    "telnyx": "smsbridge.providers.telnyx:Telnyx",
    "twilio": "smsbridge.providers.twilio:Twilio",
    "vonage": "smsbridge.providers.vonage:Vonage",
}
"""The providers that ship with smsbridge: name -> ``"module:class"``, each class imported on
first use (``smsbridge.providers.REGISTRY``). Plug-ins are not in it: ``names()`` lists every
provider, ``provider_class(name)`` loads one."""


@functools.cache
def _targets() -> dict[str, str]:
    """Every known provider, built-in first (a plug-in cannot replace a built-in name)."""
    # Imported here: importlib.metadata costs about 5 ms, and only configuration by name
    # (Bridge.from_env, the CLI) needs the plug-ins; constructing providers does not.
    from importlib.metadata import entry_points

    found = {ep.name.lower(): ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **BUILTIN}


def names() -> tuple[str, ...]:
    """The names of every known provider, sorted."""
    return tuple(sorted(_targets()))


def provider_class(name: str, *, variable: str = "SMSBRIDGE_PROVIDERS") -> type[Provider]:
    """The provider class registered as ``name`` (case-insensitive), imported now.

    Raises:
        ConfigError: naming ``variable``, for an unknown name (listing the known ones) or a
            plug-in that does not load or is not a ``Provider`` called ``name``.
    """
    from smsbridge.providers._base import Provider

    key = name.strip().lower() if isinstance(name, str) else name
    target = _targets().get(key)
    if target is None:
        raise ConfigError(
            f"{variable} names unknown provider {name!r} (known: {', '.join(names())})",
            variable=variable,
        )
    try:
        cls = load(target)
    except Exception as exc:  # a broken plug-in: say which, not a traceback from importlib
        raise ConfigError(
            f"provider {key!r} ({target}) cannot be imported: {type(exc).__name__}: {exc}",
            variable=variable,
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Provider)) or cls.name != key:
        raise ConfigError(
            f"provider {key!r} ({target}) is not a smsbridge Provider named {key!r}",
            variable=variable,
        )
    return cls
