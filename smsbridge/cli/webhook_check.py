"""``smsbridge webhook check``: why does a captured webhook's signature fail?

Give it the request as captured (URL, method, headers, body file, or a raw HTTP dump) and it
verifies the signature with the provider's secrets from the environment (its usual variables:
``TWILIO_AUTH_TOKEN``, ``TELNYX_PUBLIC_KEY``, ...). When a Twilio signature fails for the URL the
app sees, it tries the variants a proxy usually changes (scheme, host, port, path prefix,
trailing slash) and names the one that matches, so the user sees what ``public_url`` or proxy
setting to fix.

Exit codes: 0 the signature is valid, 1 it is not, 2 usage or configuration error.

This module reads the capture and runs the check; it knows no provider. The provider is
detected by its webhook codec (signature header, then shape), whose
``check`` verifies the capture and explains a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from smsbridge._errors import SmsBridgeError
from smsbridge.providers._registry import names, provider_class
from smsbridge.webhooks._diagnosis import EXIT_INVALID, EXIT_OK, Capture, Captured

if TYPE_CHECKING:
    from smsbridge.providers._base import WebhookCodec

__all__ = [
    "EXAMPLES",
    "Captured",
    "CheckError",
    "add_arguments",
    "check_command",
    "read_captured",
]

EXAMPLES = (
    "# a raw HTTP request captured at your endpoint, with the public URL your app uses:",
    "smsbridge webhook check --request captured.http --public-url https://app.example.com",
    "# or its parts:",
    "smsbridge webhook check --url http://127.0.0.1:8000/sms/webhook "
    "-H 'X-Twilio-Signature: ...' --body-file body.txt",
)
"""Shown at the end of ``smsbridge webhook check --help``."""

EXIT_USAGE = 2
MAX_FILE = 16 << 20


class CheckError(Exception):
    """A usage or configuration problem: printed as one line, exit code 2.

    Examples:
        >>> from smsbridge.cli import main
        >>> main(["webhook", "check", "--request", "missing.http"])  # cannot read it
        2
    """


# -- reading the capture ----------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``smsbridge webhook check`` to ``parser``."""
    parser.add_argument("--url", help="the URL as the app saw it (full, with the query string)")
    parser.add_argument(
        "--method", help="HTTP method (default: the raw request's with --request, else POST)"
    )
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
        "--trusted-proxy",
        action="store_true",
        help="the request came through a proxy the app lists in Bridge(trusted_proxies=...): "
        "its X-Forwarded-* headers rebuild the URL checked (--public-url wins over them)",
    )
    parser.add_argument(
        "--webhook-url",
        action="append",
        default=[],
        metavar="URL",
        help="the webhook URL as configured at the provider (a hint for the diagnosis; repeat)",
    )
    parser.add_argument(
        "--provider",
        choices=names(),
        help="the provider that sent it (default: found from the signature header, else from "
        "the body's shape)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how far a signed timestamp may be from now, in seconds (Telnyx)",
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
    headers = [_header_line(line) for line in lines[1:] if line]
    return parts[0].upper(), parts[1], headers, _body_within_length(body, headers)


def _body_within_length(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    """``body`` cut to the request's Content-Length, as a server reads it: a capture saved
    from an editor often gains a final newline that the provider never signed."""
    length = next((v.strip() for k, v in headers if k.lower() == "content-length"), "")
    if (
        length.isascii()
        and length.isdigit()
        and len(body) > int(length)
        and not body[int(length) :].strip()
    ):
        return body[: int(length)]
    return body


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
        args: parsed options (see ``add_arguments``).
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
        codec = _codec(args.provider) if args.provider else _detect(captured)
        capture = Capture(
            captured,
            os.environ,
            args.public_url,
            tuple(args.webhook_url),
            args.tolerance,
            say,
            trusted_proxy=args.trusted_proxy,
        )
        return EXIT_OK if codec.check(capture) else EXIT_INVALID
    except (CheckError, SmsBridgeError, ValueError, OSError) as exc:
        message = exc.message if isinstance(exc, SmsBridgeError) else str(exc)
        print(f"error: {message}", file=err if err is not None else sys.stderr)
        return EXIT_USAGE


def _codec(name: str) -> WebhookCodec:
    codec = provider_class(name, variable="--provider").webhook_codec()
    if codec is None:
        raise CheckError(f"provider {name!r} receives no webhooks")
    return codec


def _detect(captured: Captured) -> WebhookCodec:
    """The codec of the provider that sent the capture: by signature header, then by shape.

    Raises:
        CheckError: no known provider recognises it.
    """
    from smsbridge._errors import UnknownProvider
    from smsbridge.webhooks._receivers import Receivers
    from smsbridge.webhooks._request import WebhookRequest

    codecs = [codec for codec in map(_codec_or_none, names()) if codec is not None]
    request = WebhookRequest(captured.method, captured.url, list(captured.headers), captured.body)
    try:
        return Receivers.of_codecs(codecs).detect(request)[0]
    except UnknownProvider:
        headers = " or ".join(h for codec in codecs for h in codec.signature_headers)
        raise CheckError(
            f"no {headers} header in the capture, and its content is no provider's webhook "
            "(pass the headers with -H or --headers, or name the provider with --provider)"
        ) from None


def _codec_or_none(name: str) -> WebhookCodec | None:
    return provider_class(name).webhook_codec()
