"""``smsbridge webhook check``: why does a captured webhook's signature fail?

Give it the request as captured (URL, method, headers, body file, or a raw HTTP dump) and it
verifies the signature with ``TWILIO_AUTH_TOKEN`` / ``TELNYX_PUBLIC_KEY`` from the environment.
When a Twilio signature fails for the URL the app sees, it tries the variants a proxy usually
changes (scheme, host, port, path prefix, trailing slash) and names the one that matches, so
the user sees what ``public_url`` or proxy setting to fix.

Exit codes: 0 the signature is valid, 1 it is not, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from smsbridge._errors import ConfigError, SmsBridgeError
from smsbridge._webhook_variants import Captured, candidates, describe, fixes

if TYPE_CHECKING:
    from smsbridge.webhooks import WebhookRequest

__all__ = ["Captured", "CheckError", "add_arguments", "check_command", "read_captured"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
TWILIO_HEADER = "x-twilio-signature"
TELNYX_HEADER = "telnyx-signature-ed25519"
TELNYX_TIMESTAMP = "telnyx-timestamp"
MAX_FILE = 16 << 20


class CheckError(Exception):
    """A usage or configuration problem: printed as one line, exit code 2."""


# -- reading the capture ----------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``smsbridge webhook check`` to ``parser``."""
    parser.add_argument("--url", help="the URL as the app saw it (full, with the query string)")
    parser.add_argument("--method", help="HTTP method (default POST, or the raw request's)")
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeat for each)",
    )
    parser.add_argument(
        "--headers", metavar="FILE", help="headers: 'Name: value' lines, or a JSON object or pairs"
    )
    parser.add_argument("--body-file", metavar="FILE", help="the raw body ('-' for stdin)")
    parser.add_argument(
        "--request",
        metavar="FILE",
        help="a raw HTTP request (request line, headers, blank line, body) instead of the above",
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the app's Bridge(public_url=...): checked as the bridge would check it",
    )
    parser.add_argument(
        "--webhook-url",
        action="append",
        default=[],
        metavar="URL",
        help="the webhook URL as configured at the provider (a hint for the diagnosis; repeat)",
    )
    parser.add_argument(
        "--provider", choices=("twilio", "telnyx"), help="default: from the signature header"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="Telnyx timestamp window (default 300)",
    )


def _read_file(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read(MAX_FILE + 1)
    try:
        with open(name, "rb") as handle:
            data = handle.read(MAX_FILE + 1)
    except OSError as exc:
        raise CheckError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE:
        raise CheckError(f"{name} is larger than {MAX_FILE} bytes")
    return data


def parse_header_lines(text: str) -> list[tuple[str, str]]:
    """Headers from ``Name: value`` lines, or from JSON (an object or a list of pairs).

    Raises:
        CheckError: a line or the JSON does not hold headers.
    """
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise CheckError("headers look like JSON but do not parse") from None
        if not isinstance(data, (dict, list)):
            raise CheckError("JSON headers must be an object or a list of [name, value]")
        items = data.items() if isinstance(data, dict) else data
        pairs: list[tuple[str, str]] = []
        for item in items:
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                raise CheckError("JSON headers must be an object or a list of [name, value]")
            name, value = item
            values = value if isinstance(value, list) else [value]
            pairs.extend((str(name), str(v)) for v in values)
        return pairs
    return [_header_line(line) for line in text.splitlines() if line.strip()]


def _header_line(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name.strip():
        raise CheckError(f"not a 'Name: value' header line: {line[:60]!r}")
    return name.strip(), value.strip()


def _parse_raw(data: bytes) -> tuple[str, str, list[tuple[str, str]], bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    if not lines:
        raise CheckError("the raw request is empty")
    parts = lines[0].split()
    if len(parts) < 2:
        raise CheckError(f"not an HTTP request line: {lines[0][:60]!r}")
    return parts[0].upper(), parts[1], [_header_line(line) for line in lines[1:] if line], body


def read_captured(args: argparse.Namespace) -> Captured:
    """The captured request described by the command-line options.

    Raises:
        CheckError: files cannot be read, or the options do not describe a request.
    """
    method, url = args.method, args.url
    headers: list[tuple[str, str]] = []
    body = b""
    if args.request:
        raw_method, target, headers, body = _parse_raw(_read_file(args.request))
        method = method or raw_method
        if url is None:
            if target.startswith(("http://", "https://")):
                url = target
            else:
                host = next((v for k, v in headers if k.lower() == "host"), None)
                if not host:
                    raise CheckError("the raw request has no Host header: pass --url")
                url = f"http://{host}{target}"
    if args.headers:
        headers += parse_header_lines(_read_file(args.headers).decode("utf-8", "replace"))
    headers += [_header_line(line) for line in args.header]
    if args.body_file:
        body = _read_file(args.body_file)
    if url and (not url.startswith(("http://", "https://")) or not urlsplit(url).netloc):
        raise CheckError(f"--url must be a full http(s) URL, not {url!r}")
    return Captured((method or "POST").upper(), url or "", tuple(headers), body)


# -- the command --------------------------------------------------------------------------------
def check_command(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``smsbridge webhook check``: print the verdict, return the exit code.

    Args:
        args: parsed options (see :func:`add_arguments`).
        out: where the verdict goes (standard output by default).
        err: where a usage or configuration error goes (standard error by default).

    Returns:
        0 when the signature is valid for the URL the app checks, 1 when it is not, 2 for a
        usage or configuration error. Never raises for bad input.
    """
    stream = out if out is not None else sys.stdout

    def say(line: str = "") -> None:
        print(line, file=stream)

    try:
        captured = read_captured(args)
        provider = args.provider or _detect(captured)
        if provider == "twilio":
            return check_twilio(
                captured,
                os.environ,
                say,
                public_url=args.public_url,
                webhook_urls=args.webhook_url,
            )
        return check_telnyx(captured, os.environ, say, tolerance=args.tolerance)
    except (CheckError, SmsBridgeError, ValueError, OSError) as exc:
        message = exc.message if isinstance(exc, SmsBridgeError) else str(exc)
        print(f"error: {message}", file=err if err is not None else sys.stderr)
        return EXIT_USAGE


def _detect(captured: Captured) -> str:
    if captured.header(TWILIO_HEADER) is not None:
        return "twilio"
    if captured.header(TELNYX_HEADER) is not None:
        return "telnyx"
    raise CheckError(
        "no X-Twilio-Signature or telnyx-signature-ed25519 header in the capture"
        " (pass the headers with -H or --headers)"
    )


# -- Telnyx -------------------------------------------------------------------------------------
def check_telnyx(
    captured: Captured,
    environ: Mapping[str, str],
    say: Callable[[str], None],
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> int:
    """Verify a Telnyx capture: Ed25519 over ``timestamp|body`` with ``TELNYX_PUBLIC_KEY``.

    A failing signature is retried over the body's usual accidental changes (a trailing
    newline added or lost, CRLF line ends) to tell a damaged capture from a wrong key.
    """
    import nacl.exceptions
    import nacl.signing

    from smsbridge._signing import telnyx_message

    key_b64 = environ.get("TELNYX_PUBLIC_KEY", "").strip()
    if not key_b64:
        raise CheckError("TELNYX_PUBLIC_KEY is not set")
    try:
        key = nacl.signing.VerifyKey(base64.b64decode(key_b64, validate=True))
    except (binascii.Error, ValueError, nacl.exceptions.CryptoError):
        raise CheckError("TELNYX_PUBLIC_KEY is not base64 of a 32-byte Ed25519 key") from None
    signature_b64 = captured.header(TELNYX_HEADER)
    stamp = captured.header(TELNYX_TIMESTAMP)
    say("provider: telnyx (telnyx-signature-ed25519)")
    if not signature_b64 or not stamp:
        say("result: INVALID: telnyx-signature-ed25519 and telnyx-timestamp are both needed")
        return EXIT_INVALID
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != 64:
        say("result: INVALID: the signature header is not base64 of 64 bytes")
        return EXIT_INVALID

    def verifies(body: bytes) -> bool:
        try:
            key.verify(telnyx_message(stamp, body), signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return False
        return True

    if verifies(captured.body):
        say("result: VALID signature")
        _telnyx_age(stamp, tolerance, now, say)
        return EXIT_OK
    say("result: INVALID signature for this body, timestamp and key")
    for label, variant in _body_variants(captured.body):
        if verifies(variant):
            say(f"match: the body {label} verifies: the capture changed the body,")
            say("       or something before your app does (the signature covers exact bytes)")
            return EXIT_INVALID
    say("hints: - TELNYX_PUBLIC_KEY must be the public key of the account that sent it")
    say("         (Mission Control > Keys), not an API key")
    say("       - the body must be the exact bytes received: re-serialised JSON never verifies")
    say("       - the timestamp header must be the one sent with this body")
    return EXIT_INVALID


def _body_variants(body: bytes) -> Iterable[tuple[str, bytes]]:
    if body.endswith(b"\n"):
        yield "without its trailing newline", body.rstrip(b"\r\n")
    else:
        yield "with a trailing newline", body + b"\n"
    if b"\r\n" in body:
        yield "with LF line ends instead of CRLF", body.replace(b"\r\n", b"\n")
    elif b"\n" in body:
        yield "with CRLF line ends instead of LF", body.replace(b"\n", b"\r\n")


def _telnyx_age(
    stamp: str, tolerance: float, now: float | None, say: Callable[[str], None]
) -> None:
    try:
        age = (time.time() if now is None else now) - int(stamp)
    except ValueError:
        say("note: telnyx-timestamp is not a number: the bridge refuses it as malformed")
        return
    if abs(age) > tolerance:
        when = f"{age:.0f} s ago" if age >= 0 else f"{-age:.0f} s in the future"
        say(f"note: signed {when}, outside the {tolerance:.0f} s window: a live delivery like")
        say("      this would be refused as stale_webhook (expected for an old capture;")
        say("      otherwise check the server clock)")


# -- Twilio -------------------------------------------------------------------------------------
def check_twilio(
    captured: Captured,
    environ: Mapping[str, str],
    say: Callable[[str], None],
    *,
    public_url: str | None = None,
    webhook_urls: Iterable[str] = (),
) -> int:
    """Verify a Twilio capture with ``TWILIO_AUTH_TOKEN`` (and ``TWILIO_SHARED_KEYS``).

    The URL checked is the one the bridge would use: ``public_url`` + the captured path and
    query when given, else the captured URL. When that fails, every variant a proxy commonly
    changes is tried and the matches are explained.
    """
    webhook_urls = list(webhook_urls)
    for url in webhook_urls:
        if not url.startswith(("http://", "https://")) or not urlsplit(url).netloc:
            raise CheckError(f"--webhook-url must be a full http(s) URL, not {url!r}")
    if not captured.url:
        raise CheckError("a Twilio signature covers the URL: give it with --url")
    token = environ.get("TWILIO_AUTH_TOKEN", "").strip()
    if not token:
        raise CheckError("TWILIO_AUTH_TOKEN is not set")
    shared_keys = _shared_keys(environ.get("TWILIO_SHARED_KEYS", ""))
    say("provider: twilio (X-Twilio-Signature)")
    checked = captured.url
    if public_url:
        from smsbridge.webhooks._urls import path_and_query

        if not public_url.startswith(("http://", "https://")):
            raise CheckError("--public-url must start with http:// or https://")
        checked = public_url.rstrip("/") + path_and_query(captured.url)
        say(f"url checked: {checked} (public_url + the captured path)")
    else:
        say(f"url checked: {checked} (as captured)")
    matched = _twilio_matches(captured, checked, token, shared_keys, accepted_only=True)
    if matched:
        say("result: VALID signature")
        if matched[0] != checked:
            say(f"note: it matched as {matched[0]} (the bridge accepts this port variant)")
        return EXIT_OK
    say("result: INVALID signature for the URL checked")
    found: dict[str, None] = {}
    for url in candidates(captured, public_url, webhook_urls):
        for match in _twilio_matches(captured, url, token, shared_keys):
            found.setdefault(match)
    if not found:
        _twilio_hints(captured, shared_keys, say, hinted=bool(webhook_urls or public_url))
        return EXIT_INVALID
    best = min(found, key=lambda url: len(describe(checked, url)))
    say(f"match: Twilio signed {best}")
    for line in describe(checked, best):
        say(f"  - {line}")
    forwarded_ok = False
    if not public_url:
        from smsbridge.webhooks._urls import forwarded_url

        try:
            rebuilt = forwarded_url(_request(captured, captured.url))
        except ValueError:
            rebuilt = None
        forwarded_ok = rebuilt is not None and bool(
            _twilio_matches(captured, rebuilt, token, shared_keys, accepted_only=True)
        )
    for line in fixes(captured, checked, best, forwarded_ok=forwarded_ok):
        say(f"fix: {line}")
    return EXIT_INVALID


def _twilio_matches(
    captured: Captured,
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
    from smsbridge.webhooks import explain_twilio_signature
    from smsbridge.webhooks._urls import port_variants

    request = _request(captured, url)
    try:
        tried = explain_twilio_signature(request, token, shared_keys)
        accepted = set(port_variants(url))
    except (SmsBridgeError, ValueError):
        return []
    return [v for v, ok in tried if ok and (v in accepted or not accepted_only)]


def _request(captured: Captured, url: str) -> WebhookRequest:
    from smsbridge.webhooks import WebhookRequest

    return WebhookRequest(captured.method, url, list(captured.headers), captured.body)


def _shared_keys(text: str) -> dict[str, str]:
    from smsbridge._config import parse_shared_keys

    try:
        return parse_shared_keys(text)
    except ConfigError as exc:
        raise CheckError(exc.message) from None


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
