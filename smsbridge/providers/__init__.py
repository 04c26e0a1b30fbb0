"""Providers: one package per vendor behind the ``Provider`` interface.

``Twilio``, ``Telnyx`` and ``Vonage`` ship with smsbridge; others plug in through the
``smsbridge.providers`` entry-point group (see ``smsbridge.providers._registry``). Each is
imported on first use, so ``import smsbridge`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbridge._lazy import module_getattr as _module_getattr
from smsbridge.providers._registry import BUILTIN as REGISTRY

if TYPE_CHECKING:
    from smsbridge.providers._base import Capabilities, Provider, Settings, WebhookCodec
    from smsbridge.providers._registry import names, provider_class
    from smsbridge.providers.telnyx import Telnyx
    from smsbridge.providers.twilio import Twilio
    from smsbridge.providers.vonage import Vonage

__all__ = [
    "REGISTRY",
    "Capabilities",
    "Provider",
    "Settings",
    "Telnyx",
    "Twilio",
    "Vonage",
    "WebhookCodec",
    "names",
    "provider_class",
]

_LAZY = {
    "Capabilities": "smsbridge.providers._base:Capabilities",
    "Provider": "smsbridge.providers._base:Provider",
    "Settings": "smsbridge.providers._base:Settings",
    "WebhookCodec": "smsbridge.providers._base:WebhookCodec",
    "names": "smsbridge.providers._registry:names",
    "provider_class": "smsbridge.providers._registry:provider_class",
    **{target.rpartition(":")[2]: target for target in REGISTRY.values()},
}


__getattr__ = _module_getattr(__name__, _LAZY)
