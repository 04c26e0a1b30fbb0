"""Test helpers for applications that use smsbridge (public API).

* :class:`Emulator`: a local server speaking Twilio's and Telnyx's messaging APIs, with signed
  callbacks, inbound messages and fault injection.
* :func:`sign_twilio`, :func:`sign_telnyx`, :func:`make_telnyx_keypair`: mint real, verifiable
  webhooks.
* :class:`RecordingProvider`: an in-memory provider that records what it is asked to send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbridge._lazy import module_getattr as _module_getattr

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
    "Emulator": "smsbridge.testing._emulator:Emulator",
    "RecordingProvider": "smsbridge.testing._recording:RecordingProvider",
    "TelnyxKeyPair": "smsbridge.testing._signers:TelnyxKeyPair",
    "make_telnyx_keypair": "smsbridge.testing._signers:make_telnyx_keypair",
    "sign_telnyx": "smsbridge.testing._signers:sign_telnyx",
    "sign_twilio": "smsbridge.testing._signers:sign_twilio",
    "twilio_json_url": "smsbridge.testing._signers:twilio_json_url",
}

__getattr__ = _module_getattr(__name__, _LAZY)
