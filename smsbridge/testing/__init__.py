"""Test helpers for applications that use smsbridge (public API).

* ``Emulator``: a local server speaking Twilio's and Telnyx's messaging APIs, with signed
  callbacks, inbound messages and fault injection.
* ``sign_twilio``, ``sign_telnyx``, ``make_telnyx_keypair``: mint real, verifiable
  webhooks.
* ``RecordingProvider``: an in-memory provider that records what it is asked to send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbridge._lazy import module_getattr as _module_getattr

if TYPE_CHECKING:
    from smsbridge.providers.telnyx._signer import TelnyxKeyPair, make_telnyx_keypair, sign_telnyx
    from smsbridge.providers.twilio._signer import sign_twilio, twilio_json_url
    from smsbridge.providers.vonage._signer import sign_vonage
    from smsbridge.testing._recording import RecordingProvider
    from smsbridge.testing.emulator import Emulator

__all__ = [
    "Emulator",
    "RecordingProvider",
    "TelnyxKeyPair",
    "make_telnyx_keypair",
    "sign_telnyx",
    "sign_twilio",
    "sign_vonage",
    "twilio_json_url",
]

_LAZY = {
    "Emulator": "smsbridge.testing.emulator:Emulator",
    "RecordingProvider": "smsbridge.testing._recording:RecordingProvider",
    "TelnyxKeyPair": "smsbridge.providers.telnyx._signer:TelnyxKeyPair",
    "make_telnyx_keypair": "smsbridge.providers.telnyx._signer:make_telnyx_keypair",
    "sign_telnyx": "smsbridge.providers.telnyx._signer:sign_telnyx",
    "sign_twilio": "smsbridge.providers.twilio._signer:sign_twilio",
    "sign_vonage": "smsbridge.providers.vonage._signer:sign_vonage",
    "twilio_json_url": "smsbridge.providers.twilio._signer:twilio_json_url",
}

__getattr__ = _module_getattr(__name__, _LAZY)
