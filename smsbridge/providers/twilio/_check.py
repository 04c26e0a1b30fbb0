"""``smsbridge webhook check`` for Twilio: HMAC over the URL and the form (or the body's
SHA-256), with the URL variants a proxy commonly changes tried and explained."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from smsbridge._errors import ConfigError, SmsBridgeError
from smsbridge._public_url import split_public_url
from smsbridge.providers.twilio._keys import parse_shared_keys
from smsbridge.providers.twilio._verify import explain_twilio_signature
from smsbridge.webhooks._diagnosis import Capture, Captured, candidates, describe, fixes
from smsbridge.webhooks._urls import forwarded_url, port_variants

__all__ = ["check_twilio"]


def check_twilio(capture: Capture) -> bool:
    """Verify a Twilio capture with ``TWILIO_AUTH_TOKEN`` (and ``TWILIO_SHARED_KEYS``).

    The URL checked is the one the bridge would use: ``public_url`` + the captured path and
    query when given, else the captured URL. When that fails, every variant a proxy commonly
    changes is tried and the matches are explained.
    """
    captured, say, public_url = capture.captured, capture.say, capture.public_url
    webhook_urls = list(capture.webhook_urls)
    for url in webhook_urls:
        if not url.startswith(("http://", "https://")) or not urlsplit(url).netloc:
            raise ConfigError(f"--webhook-url must be a full http(s) URL, not {url!r}")
    if not captured.url:
        raise ConfigError("a Twilio signature covers the URL: give it with --url")
    token, shared_keys = _twilio_secrets(capture.environ)
    say("provider: twilio (X-Twilio-Signature)")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ConfigError("--public-url must start with http:// or https://")
    checked = capture.checked_url()
    if not public_url and capture.trusted_proxy:
        say(f"url checked: {checked} (rebuilt from the trusted proxy's X-Forwarded-* headers)")
    elif not public_url:
        say(f"url checked: {checked} (as captured)")
    elif split_public_url(public_url, None)[1]:
        say(f"url checked: {checked} (the public_url endpoint + the captured query)")
    else:
        say(f"url checked: {checked} (public_url + the captured path)")
    matched = _twilio_matches(capture, checked, token, shared_keys, accepted_only=True)
    if matched:
        say("result: VALID signature")
        if matched[0] != checked:
            say(f"note: it matched as {matched[0]} (the bridge accepts this port variant)")
        return True
    say("result: INVALID signature for the URL checked")
    found: dict[str, None] = {}
    for url in candidates(captured, public_url, webhook_urls):
        for match in _twilio_matches(capture, url, token, shared_keys):
            found.setdefault(match)
    if not found:
        _twilio_hints(captured, shared_keys, say, hinted=bool(webhook_urls or public_url))
        return False
    best = min(found, key=lambda url: len(describe(checked, url)))
    say(f"match: Twilio signed {best}")
    for line in describe(checked, best):
        say(f"  - {line}")
    forwarded_ok = False
    if not public_url and not capture.trusted_proxy:
        try:
            rebuilt = forwarded_url(capture.request())
        except ValueError:
            rebuilt = None
        forwarded_ok = rebuilt is not None and bool(
            _twilio_matches(capture, rebuilt, token, shared_keys, accepted_only=True)
        )
    trusted = capture.trusted_proxy and not public_url
    for line in fixes(captured, checked, best, forwarded_ok=forwarded_ok, trusted_proxy=trusted):
        say(f"fix: {line}")
    return False


def _twilio_secrets(environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """``TWILIO_AUTH_TOKEN`` and the parsed ``TWILIO_SHARED_KEYS``.

    Raises:
        ConfigError: the token is not set, or the shared keys do not parse.
    """
    token = environ.get("TWILIO_AUTH_TOKEN", "").strip()
    if not token:
        raise ConfigError("TWILIO_AUTH_TOKEN is not set")
    return token, parse_shared_keys(environ.get("TWILIO_SHARED_KEYS", ""))


def _twilio_matches(
    capture: Capture,
    url: str,
    token: str,
    shared_keys: Mapping[str, str],
    *,
    accepted_only: bool = False,
) -> list[str]:
    """The URLs the signature matches among the variants tried around ``url``.

    With ``accepted_only``, only the forms of ``url`` the bridge itself accepts count (the URL
    with or without its port): the verdict. Otherwise every diagnostic variant counts.
    """
    request = capture.request(url)
    try:
        tried = explain_twilio_signature(request, token, shared_keys)
        accepted = set(port_variants(url))
    except (SmsBridgeError, ValueError):
        return []
    return [v for v, ok in tried if ok and (v in accepted or not accepted_only)]


def _twilio_hints(
    captured: Captured,
    shared_keys: Mapping[str, str],
    say: Callable[[str], None],
    *,
    hinted: bool,
) -> None:
    say("no URL variant matched (scheme, host, port, path prefix, trailing slash):")
    if not hinted:
        say("  - behind a proxy, the public host is often nowhere in the capture: pass the URL")
        say("    configured at Twilio with --webhook-url to compare against it")
    settings = captured.header("x-twilio-webhooks-signature-settings")
    if settings:
        key_id = next(
            (p.split("=", 1)[1] for p in settings.split(",") if p.strip().startswith("key=")), ""
        )
        if key_id.strip() not in shared_keys:
            say(f"  - it is signed with SharedKey {key_id.strip()!r}: put its secret in")
            say("    TWILIO_SHARED_KEYS='KEY_ID=secret' (the auth token does not apply)")
    say("  - TWILIO_AUTH_TOKEN must be the token of the account (or subaccount) that owns")
    say("    the number; after a token rotation, the secondary token may still be signing")
    say("  - the body must be the exact bytes received; a proxy re-encoding the form breaks it")
    if "bodySHA256" not in captured.url and captured.body.lstrip().startswith(b"{"):
        say("  - a JSON body is signed through ?bodySHA256= in the URL, which is missing here")
