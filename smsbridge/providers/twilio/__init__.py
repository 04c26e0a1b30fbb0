"""Twilio: everything smsbridge knows about it, in one package.

* ``_provider``: the send codec (REST API 2010-04-01, Basic auth; scheduled sends through a
  messaging service), read-back and settings;
* ``_manage``: cancelling a scheduled message and reading one back by its SID;
* ``_errors``, ``_statuses``: its error codes and statuses in the common vocabulary;
* ``_keys``: the auth token and SharedKeys that sign webhooks;
* ``_signing``, ``_verify``, ``_parse``, ``_webhook``: the string to sign and HMAC, webhook
  verification (with ``explain_twilio_signature`` for ``smsbridge webhook check``), events,
  and the codec with its TwiML answers;
* ``_signer``: a test signer minting valid webhooks (``smsbridge.testing.sign_twilio``).

Its emulator personality is ``smsbridge.testing.emulator.twilio``.
"""

from __future__ import annotations

from smsbridge.providers.twilio._errors import TWILIO_CODES
from smsbridge.providers.twilio._provider import Twilio
from smsbridge.providers.twilio._signing import TwilioAlgorithm
from smsbridge.providers.twilio._statuses import TWILIO_STATUS

__all__ = ["TWILIO_CODES", "TWILIO_STATUS", "Twilio", "TwilioAlgorithm"]
