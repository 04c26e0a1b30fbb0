"""Provider codecs: :class:`Twilio` and :class:`Telnyx`, behind the :class:`Provider` base.

Each is imported on first use, so ``import smsbridge`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbridge._lazy import module_getattr as _module_getattr

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


__getattr__ = _module_getattr(__name__, _LAZY)
