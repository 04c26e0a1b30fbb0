"""Telnyx: everything smsbridge knows about it, in one package.

* ``_provider``: the send codec (Messaging API v2, Bearer auth, idempotency keys, scheduled
  sends) and settings;
* ``_manage``: cancelling a scheduled message and reading one back by its id;
* ``_errors``, ``_statuses``: its error codes and statuses in the common vocabulary;
* ``_verify``, ``_parse``, ``_webhook``: Ed25519 webhook verification, events, the codec;
* ``_signer``: a test signer minting valid webhooks (``smsbridge.testing.sign_telnyx``).

Its emulator personality is ``smsbridge.testing.emulator.telnyx``.
"""

from __future__ import annotations

from smsbridge.providers.telnyx._errors import TELNYX_CODES
from smsbridge.providers.telnyx._provider import Telnyx, idempotency_header
from smsbridge.providers.telnyx._statuses import TELNYX_STATUS

__all__ = ["TELNYX_CODES", "TELNYX_STATUS", "Telnyx", "idempotency_header"]
