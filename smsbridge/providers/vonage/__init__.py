"""Vonage: everything smsbridge knows about it, in one package.

* ``_provider``: the send codec (Messages API v1, application JWT or Basic auth) and settings;
* ``_auth``: the application JWT, the private key, and PyJWT imported on first use;
* ``_errors``, ``_statuses``: its error codes and statuses in the common vocabulary;
* ``_verify``, ``_parse``, ``_webhook``: HS256 JWT webhook verification, events, the codec;
* ``_signer``: a test signer minting valid webhooks (``sign_vonage``).

PyJWT is an optional dependency: ``pip install 'smsbridge[vonage]'``. Importing this package
does not import it; constructing ``Vonage`` does.
"""

from __future__ import annotations

from smsbridge.providers.vonage._errors import VONAGE_CODES
from smsbridge.providers.vonage._provider import Vonage
from smsbridge.providers.vonage._signer import sign_vonage
from smsbridge.providers.vonage._statuses import VONAGE_STATUS

__all__ = ["VONAGE_CODES", "VONAGE_STATUS", "Vonage", "sign_vonage"]
