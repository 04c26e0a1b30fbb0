"""Mint valid Twilio webhook signatures for tests (and for the emulator).

The string-to-sign and the HMAC live in ``._signing``, shared with the verifier, so a signer
and the verifier cannot drift apart.

Example::

    headers = sign_twilio("https://app.test/sms", {"MessageSid": "SM…"}, auth_token="tok")

    url = twilio_json_url("https://app.test/hook", body)          # JSON bodies: URL first …
    headers = sign_twilio(url, auth_token="tok", body=body)        # … then sign that URL

"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

from smsbridge.providers.twilio._signing import TwilioAlgorithm, twilio_signature

__all__ = ["sign_twilio", "twilio_json_url"]

ParamsLike = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
TWILIO_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


def twilio_json_url(url: str, body: bytes) -> str:
    """Return ``url`` with ``bodySHA256=<hex sha256 of body>`` appended to its query string.

    Twilio signs JSON-bodied webhooks over this URL alone; POST the body to the returned URL and
    sign it with ``sign_twilio(returned_url, auth_token=..., body=body)``.

    Args:
        url: the URL the webhook is sent to, with or without a query string.
        body: the exact bytes that will be sent.

    Returns:
        The URL with the body hash appended (``?`` or ``&`` as appropriate).
    """
    digest = hashlib.sha256(body).hexdigest()
    parts = urlsplit(url)
    query = f"{parts.query}&bodySHA256={digest}" if parts.query else f"bodySHA256={digest}"
    return urlunsplit(parts._replace(query=query))


def sign_twilio(
    url: str,
    params: ParamsLike | None = None,
    *,
    auth_token: str,
    body: bytes | None = None,
    shared_key: tuple[str, str, TwilioAlgorithm] | None = None,
) -> dict[str, str]:
    """Headers that make a request to ``url`` look signed by Twilio.

    Args:
        url: the exact URL requested, query string included. For a JSON ``body`` it must already
            carry ``bodySHA256`` (build it with ``twilio_json_url``).
        params: the form-encoded POST params (mapping, mapping of lists, or pairs). ``None`` or
            empty for GET requests and JSON bodies.
        auth_token: the account's auth token (the HMAC key unless ``shared_key`` is given).
        body: raw JSON body bytes; the signature then covers the URL alone, and the URL's
            ``bodySHA256`` is checked against this body.
        shared_key: ``(key_id, secret, algorithm)`` to sign with a SharedKey instead of the auth
            token; adds ``X-Twilio-Webhooks-Signature-Settings``.

    Returns:
        ``{"X-Twilio-Signature": ...}`` plus the settings header when ``shared_key`` is given.

    Raises:
        ValueError: both ``params`` and ``body`` given, or the URL's ``bodySHA256`` is missing or
            does not match ``body``.
    """
    signed_params: ParamsLike = params or ()
    if body is not None:
        if params:
            raise ValueError("a Twilio JSON webhook has no form params: pass params or body")
        hashes = parse_qs(urlsplit(url).query).get("bodySHA256", [])
        if hashes != [hashlib.sha256(body).hexdigest()]:
            # Signing a URL whose hash does not match would mint a webhook no verifier accepts.
            raise ValueError("url must carry bodySHA256 of body: build it with twilio_json_url()")
        signed_params = ()
    headers: dict[str, str] = {}
    algorithm: TwilioAlgorithm = "HMAC_SHA1"
    key = auth_token
    if shared_key is not None:
        key_id, key, algorithm = shared_key
        headers[TWILIO_SETTINGS_HEADER] = f"key={key_id},algorithm={algorithm}"
    headers[TWILIO_SIGNATURE_HEADER] = twilio_signature(key, url, signed_params, algorithm)
    return headers
