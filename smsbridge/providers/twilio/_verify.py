"""Twilio webhook verification: HMAC over the signed URL and the sorted form params.

Rules (protocols.md section 1): the string to sign is the full URL followed by
``name + value`` for every param, names sorted and each name's values de-duplicated and sorted
(``._signing``); GET requests sign the URL alone (the params are in its query);
JSON bodies carry ``bodySHA256`` in the query and sign the URL alone; the URL with and without
its port both count; a SharedKey (``X-Twilio-Webhooks-Signature-Settings``) switches the key and
possibly the algorithm to HMAC-SHA256. Comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from smsbridge._errors import MalformedWebhook, SignatureError
from smsbridge.providers.twilio._keys import DIGESTS, TwilioKeys
from smsbridge.webhooks._common import parse_form
from smsbridge.webhooks._urls import port_variants, strip_port

if TYPE_CHECKING:
    from smsbridge.webhooks._request import WebhookRequest

__all__ = ["SETTINGS", "SIGNATURE", "explain_twilio_signature", "signed_params", "verify_twilio"]

SIGNATURE = "x-twilio-signature"
SETTINGS = "x-twilio-webhooks-signature-settings"
_FORM = "application/x-www-form-urlencoded"
# str.translate table deleting the base64 alphabet: what is left is not base64.
_NOT_BASE64 = dict.fromkeys(
    map(ord, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
)


def _settings(request: WebhookRequest) -> tuple[str | None, str]:
    """``(shared key id or None, algorithm)`` from the signature-settings header."""
    headers = request.headers
    settings = headers.first(SETTINGS)
    if settings is None:
        return None, "HMAC_SHA1"
    if headers.count(SETTINGS) > 1:
        raise SignatureError(
            "repeated X-Twilio-Webhooks-Signature-Settings header", provider="twilio"
        )
    key_id: str | None = None
    algorithm: str | None = None
    for part in settings.split(","):
        name, sep, value = part.partition("=")
        name, value = name.strip().lower(), value.strip()
        if sep and name == "key" and value:
            key_id = value
        elif sep and name == "algorithm" and value:
            algorithm = value.upper()
    if algorithm is None:  # no algorithm named: the legacy auth-token signature
        return None, "HMAC_SHA1"
    if algorithm not in DIGESTS:
        raise SignatureError("unsupported Twilio signature algorithm", provider="twilio")
    return key_id, algorithm


def _key(keys: TwilioKeys, key_id: str | None) -> bytes:
    if key_id is None:
        if keys.auth is None:
            raise SignatureError("no Twilio auth token configured", provider="twilio")
        return keys.auth
    secret = keys.shared.get(key_id)
    if secret is None:
        raise SignatureError(
            "webhook signed with a SharedKey that is not configured", provider="twilio"
        )
    return secret


def _content_type(request: WebhookRequest) -> str:
    value = request.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


Pairs = list[tuple[str, str]]


def signed_params(request: WebhookRequest, url: str) -> tuple[Pairs, Pairs | None]:
    """``(params appended to the string to sign, params of the webhook)`` for ``request``.

    Form POSTs sign their body params. GETs sign the URL alone; their params come from the
    query. A URL with ``bodySHA256`` signs the URL alone after the body hash is checked; the
    webhook's params are then ``None`` (the body is JSON).

    Raises:
        SignatureError: the body hash does not match, or a non-form body has no ``bodySHA256``.
        MalformedWebhook: the body is not UTF-8 form data.
    """
    if "bodySHA256" in url:
        try:
            query = urlsplit(url).query
        except ValueError:  # e.g. "Host: [" made the URL unparsable
            raise MalformedWebhook("the request URL cannot be parsed", provider="twilio") from None
        hashes = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "bodySHA256"]
        if len(hashes) == 1:
            digest = hashlib.sha256(request.body).hexdigest().encode()
            if not hmac.compare_digest(digest, hashes[0].lower().encode("utf-8", "replace")):
                raise SignatureError("bodySHA256 does not match the body", provider="twilio")
            return [], None
        raise SignatureError("bodySHA256 is missing a value or repeated", provider="twilio")
    if request.method in ("GET", "HEAD"):
        query = url.split("?", 1)[1].split("#", 1)[0] if "?" in url else ""
        return [], parse_form(query.encode("utf-8", "surrogateescape"))
    ctype = _content_type(request)
    if ctype and ctype != _FORM:
        raise SignatureError(
            "a Twilio webhook that is not form-encoded must carry bodySHA256", provider="twilio"
        )
    pairs = parse_form(request.body)
    return pairs, pairs


def string_to_sign(url: str, params: Sequence[tuple[str, str]]) -> str:
    """What ``smsbridge._signing.twilio_string_to_sign`` builds, faster for pairs:
    sorting the de-duplicated ``(name, value)`` pairs orders names, then each name's values."""
    if not params:
        return url
    return url + "".join([name + value for name, value in sorted(set(params))])


def _matches(mac: Any, message: str, expected: bytes) -> bool:
    h = mac.copy()
    h.update(message.encode())
    return hmac.compare_digest(base64.b64encode(h.digest()), expected)


def _expected(request: WebhookRequest) -> bytes:
    headers = request.headers
    value = headers.first(SIGNATURE)
    if value is None:
        raise SignatureError("missing X-Twilio-Signature header", provider="twilio")
    if headers.count(SIGNATURE) > 1:
        raise SignatureError("repeated X-Twilio-Signature header", provider="twilio")
    value = value.strip()
    # Base64 of an HMAC-SHA1 (28 characters) or HMAC-SHA256 (44) digest: anything else is
    # refused here, before a large form is parsed for a signature that cannot match.
    if len(value) not in (28, 44) or not value.isascii() or value.translate(_NOT_BASE64):
        raise SignatureError("malformed X-Twilio-Signature header", provider="twilio")
    return value.encode()


def verify_twilio(
    keys: Sequence[TwilioKeys], request: WebhookRequest, url: str
) -> tuple[int, Pairs | None]:
    """Check a Twilio webhook against each account's keys.

    Returns:
        ``(index of the matching keys, the webhook's params)``; params are ``None`` for a
        JSON body (signed through ``bodySHA256``).

    Raises:
        SignatureError: no account's key signs this request (or none is configured).
        MalformedWebhook: the body is not UTF-8 form data.
    """
    if not keys:
        raise SignatureError("no Twilio account configured", provider="twilio")
    expected = _expected(request)
    key_id, algorithm = _settings(request)
    to_sign, params = signed_params(request, url)
    suffix = string_to_sign("", to_sign)
    macs = [
        (i, k.mac(_key(k, key_id), algorithm)) for i, k in enumerate(keys) if _has_key(k, key_id)
    ]
    if not macs:
        _key(keys[0], key_id)  # raises the reason
    # The URL as given first: it is one of the accepted variants and almost always the one.
    for index, mac in macs:
        if _matches(mac, url + suffix, expected):
            return index, params
    try:
        variants = port_variants(url)[1:]
    except ValueError:
        variants = []
    for variant in variants:
        for index, mac in macs:
            if _matches(mac, variant + suffix, expected):
                return index, params
    raise SignatureError(
        "X-Twilio-Signature does not match: check public_url or trusted_proxies "
        "(`smsbridge webhook check` shows which URL would match)",
        provider="twilio",
    )


def _has_key(keys: TwilioKeys, key_id: str | None) -> bool:
    return keys.auth is not None if key_id is None else key_id in keys.shared


def _url_variants(request: WebhookRequest) -> list[str]:
    parts = urlsplit(request.url)
    headers = request.headers
    hosts = [parts.netloc]
    hosts += [v.split(",")[-1].strip() for v in headers.get_all("x-forwarded-host") if v.strip()]
    ports = [""] + [v.split(",")[-1].strip() for v in headers.get_all("x-forwarded-port")]
    prefixes = [""] + [
        "/" + v.split(",")[-1].strip().strip("/") for v in headers.get_all("x-forwarded-prefix")
    ]
    path = parts.path or "/"
    paths = [path, path[:-1] if path.endswith("/") and len(path) > 1 else path + "/"]
    urls = [request.url]
    for scheme in ("https", "http"):
        for host in hosts:
            bare = strip_port(host)
            netlocs = [host, bare, f"{bare}:{'443' if scheme == 'https' else '80'}"]
            netlocs += [f"{bare}:{p}" for p in ports if p.isdigit()]
            for netloc in netlocs:
                for prefix in prefixes:
                    for p in paths:
                        full = (prefix + p) if prefix != "/" else p
                        urls.append(urlunsplit((scheme, netloc, full, parts.query, "")))
    return list(dict.fromkeys(urls))


def explain_twilio_signature(
    request: WebhookRequest, auth_token: str, shared_keys: Mapping[str, str] | None = None
) -> list[tuple[str, bool]]:
    """Which URL variants a Twilio signature matches: the diagnosis ``webhook check`` prints.

    Tries the URL as received first, then every combination of scheme (https, http), host (as
    given, or from ``X-Forwarded-Host``), port (as given, none, the default, or
    ``X-Forwarded-Port``), path prefix (none or ``X-Forwarded-Prefix``) and trailing slash.
    Forwarded headers are used whoever sent them: this is a diagnostic, not a verifier.

    Args:
        request: the captured request.
        auth_token: the account's auth token.
        shared_keys: SharedKey id -> secret, for requests signed with a SharedKey.

    Returns:
        ``(url, matched)`` for every variant tried, in order. ``matched`` is also False for all
        when the request cannot match at all (no signature header, a bad ``bodySHA256``, an
        unknown algorithm or key id).
    """
    keys = TwilioKeys(auth_token, shared_keys or {})
    try:
        variants = _url_variants(request)
    except ValueError:
        variants = [request.url]
    results: list[tuple[str, bool]] = []
    try:
        expected = _expected(request)
        key_id, algorithm = _settings(request)
        mac = keys.mac(_key(keys, key_id), algorithm)
    except SignatureError:
        return [(url, False) for url in variants]
    for url in variants:
        try:
            to_sign, _ = signed_params(request, url)
        except (SignatureError, MalformedWebhook):
            results.append((url, False))
            continue
        results.append((url, _matches(mac, string_to_sign(url, to_sign), expected)))
    return results
