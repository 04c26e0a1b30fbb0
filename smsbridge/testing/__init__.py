"""Test helpers for applications that use smsbridge (public API).

* :class:`Emulator`: a local server speaking Twilio's and Telnyx's messaging APIs, with signed
  callbacks, inbound messages and fault injection.
* :func:`sign_twilio`, :func:`sign_telnyx`, :func:`make_telnyx_keypair`: mint real, verifiable
  webhooks.
* :class:`RecordingProvider`: an in-memory provider that records what it is asked to send.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsbridge.testing._emulator import Emulator
    from smsbridge.testing._recording import RecordingProvider
    from smsbridge.testing._signers import (
        TelnyxKeyPair,
        make_telnyx_keypair,
        sign_telnyx,
        sign_twilio,
        twilio_json_url,
    )

__all__ = [
    "Emulator",
    "RecordingProvider",
    "TelnyxKeyPair",
    "make_telnyx_keypair",
    "sign_telnyx",
    "sign_twilio",
    "twilio_json_url",
]

_LAZY = {
    "Emulator": "smsbridge.testing._emulator",
    "RecordingProvider": "smsbridge.testing._recording",
    "TelnyxKeyPair": "smsbridge.testing._signers",
    "make_telnyx_keypair": "smsbridge.testing._signers",
    "sign_telnyx": "smsbridge.testing._signers",
    "sign_twilio": "smsbridge.testing._signers",
    "twilio_json_url": "smsbridge.testing._signers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smsbridge.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
