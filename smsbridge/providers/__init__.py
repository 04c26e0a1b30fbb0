"""Provider codecs: :class:`Twilio` and :class:`Telnyx`, behind the :class:`Provider` base.

Each is imported on first use, so ``import smsbridge`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsbridge.providers._base import Capabilities, Provider
    from smsbridge.providers.telnyx import Telnyx
    from smsbridge.providers.twilio import Twilio

__all__ = ["REGISTRY", "Capabilities", "Provider", "Telnyx", "Twilio"]

# Provider name -> "module:class", loaded on first use (the names SMSBRIDGE_PROVIDERS uses).
REGISTRY: dict[str, str] = {
    "telnyx": "smsbridge.providers.telnyx:Telnyx",
    "twilio": "smsbridge.providers.twilio:Twilio",
}

_LAZY = {
    "Capabilities": "smsbridge.providers._base:Capabilities",
    "Provider": "smsbridge.providers._base:Provider",
    "Telnyx": REGISTRY["telnyx"],
    "Twilio": REGISTRY["twilio"],
}


def _load(target: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = _load(_LAZY[name])
        globals()[name] = value
        return value
    raise AttributeError(f"module 'smsbridge.providers' has no attribute {name!r}")
