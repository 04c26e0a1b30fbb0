"""``smsbridge webhook check``: verdicts and diagnoses on captured webhooks."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from _contrib_kit import PAIR, TOKEN, stale_timestamp, telnyx_inbound, twilio_inbound

from smsbridge.cli.webhook_check import add_arguments, check_command
from smsbridge.testing import sign_twilio

PUBLIC = "https://public.example.com/sms/webhook"
INTERNAL = "http://internal:8000/sms/webhook"
VECTORS = json.loads((Path(__file__).parent / "fixtures" / "twilio_signature.json").read_text())


def run(*argv: str) -> tuple[int, str, str]:
    """Parse ``argv`` like the CLI and run the check; returns (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = check_command(parser.parse_args(list(argv)), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets the check reads from the environment."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TELNYX_PUBLIC_KEY", PAIR.public_key_b64)
    monkeypatch.delenv("TWILIO_SHARED_KEYS", raising=False)


def capture(
    tmp_path: Path, body: bytes, headers: dict[str, str], extra: str = ""
) -> tuple[str, str]:
    """Write the body and 'Name: value' header lines to files; returns their paths."""
    (tmp_path / "body").write_bytes(body)
    lines = "".join(f"{k}: {v}\n" for k, v in headers.items()) + extra
    (tmp_path / "headers").write_text(lines)
    return str(tmp_path / "body"), str(tmp_path / "headers")


def test_twilio_valid_as_captured(tmp_path: Path) -> None:
    """A Twilio webhook checked at the URL it was signed for is valid: exit 0."""
    body, headers = capture(tmp_path, *twilio_inbound(PUBLIC))
    code, out, _ = run("--url", PUBLIC, "--headers", headers, "--body-file", body)
    assert code == 0
    assert "result: VALID" in out


def test_proxy_variant_is_found_from_forwarded_headers(tmp_path: Path) -> None:
    """Signed for the public URL but seen at the internal one: the match and the fix are named."""
    body, headers = capture(
        tmp_path,
        *twilio_inbound(PUBLIC),
        extra="Host: internal:8000\nX-Forwarded-Proto: https\n"
        "X-Forwarded-Host: public.example.com\n",
    )
    code, out, _ = run("--url", INTERNAL, "--headers", headers, "--body-file", body)
    assert code == 1
    assert "result: INVALID" in out
    assert f"match: Twilio signed {PUBLIC}" in out
    assert "scheme: your app sees http, the provider called https" in out
    assert "host: your app sees internal, the provider called public.example.com" in out
    assert 'public_url="https://public.example.com"' in out
    assert "trusted_proxies" in out


def test_a_trusted_proxys_headers_make_it_valid(tmp_path: Path) -> None:
    """With --trusted-proxy the forwarded headers rebuild the URL, as in a bridge that lists
    the proxy in trusted_proxies: the same capture that fails as seen passes."""
    body, headers = capture(
        tmp_path,
        *twilio_inbound(PUBLIC),
        extra="Host: internal:8000\nX-Forwarded-Proto: https\n"
        "X-Forwarded-Host: public.example.com\n",
    )
    argv = ("--url", INTERNAL, "--headers", headers, "--body-file", body)
    code, out, _ = run(*argv, "--trusted-proxy")
    assert code == 0, out
    assert f"url checked: {PUBLIC} (rebuilt from the trusted proxy's X-Forwarded-* headers)" in out
    assert "result: VALID" in out
    assert run(*argv)[0] == 1  # not trusted: the URL as seen, which Twilio did not sign


def test_a_trusted_proxy_sending_the_wrong_host_is_named(tmp_path: Path) -> None:
    """A trusted proxy whose X-Forwarded-Host is wrong: the fix names the proxy's headers, not
    trusted_proxies (the app already trusts them)."""
    body, headers = capture(
        tmp_path,
        *twilio_inbound(PUBLIC),
        extra="Host: internal:8000\nX-Forwarded-Proto: https\nX-Forwarded-Host: internal\n",
    )
    code, out, _ = run(
        "--url",
        INTERNAL,
        "--headers",
        headers,
        "--body-file",
        body,
        "--trusted-proxy",
        "--webhook-url",
        PUBLIC,
    )
    assert code == 1
    assert "url checked: https://internal/sms/webhook (rebuilt from" in out
    assert f"match: Twilio signed {PUBLIC}" in out
    fix = [line for line in out.splitlines() if line.startswith("fix:")]
    assert len(fix) == 1
    assert "your proxy's X-Forwarded-* headers describe https://internal/sms/webhook" in fix[0]
    assert "trusted_proxies" not in fix[0]


def test_a_trusted_proxys_unusable_headers_are_a_usage_error(tmp_path: Path) -> None:
    """Forwarded headers that do not form a URL: a clear error, exit 2, no traceback."""
    body, headers = capture(
        tmp_path, *twilio_inbound(PUBLIC), extra="Host: internal:8000\nX-Forwarded-Port: abc\n"
    )
    code, out, err = run(
        "--url", INTERNAL, "--headers", headers, "--body-file", body, "--trusted-proxy"
    )
    assert code == 2, out
    assert err.startswith("error: the X-Forwarded-* headers do not form a URL")
    assert "Traceback" not in err


def test_proxy_variant_is_found_from_webhook_url(tmp_path: Path) -> None:
    """With no forwarded headers, the URL configured at Twilio lets the check find the match."""
    body, headers = capture(tmp_path, *twilio_inbound(PUBLIC), extra="Host: internal:8000\n")
    code, out, _ = run(
        "--url", INTERNAL, "--headers", headers, "--body-file", body, "--webhook-url", PUBLIC
    )
    assert code == 1
    assert f"match: Twilio signed {PUBLIC}" in out
    assert "port: your app sees 8000" in out
    assert "trusted_proxies" not in out  # the headers alone would not rebuild the URL


def test_public_url_makes_it_valid(tmp_path: Path) -> None:
    """Checked as a bridge with public_url would check it, the same capture is valid."""
    body, headers = capture(tmp_path, *twilio_inbound(PUBLIC))
    code, out, _ = run(
        "--url",
        INTERNAL,
        "--headers",
        headers,
        "--body-file",
        body,
        "--public-url",
        "https://public.example.com",
    )
    assert code == 0
    assert f"url checked: {PUBLIC}" in out


def test_path_prefix_stripped_by_proxy(tmp_path: Path) -> None:
    """A prefix the proxy strips (X-Forwarded-Prefix) is named and goes into public_url."""
    signed = "https://public.example.com/api/sms/webhook"
    body, headers = capture(
        tmp_path,
        *twilio_inbound(signed),
        extra="X-Forwarded-Proto: https\nX-Forwarded-Host: public.example.com\n"
        "X-Forwarded-Prefix: /api\n",
    )
    code, out, _ = run("--url", INTERNAL, "--headers", headers, "--body-file", body)
    assert code == 1
    assert f"match: Twilio signed {signed}" in out
    assert "path prefix: the provider called /api in front" in out
    assert 'public_url="https://public.example.com/api"' in out


def test_trailing_slash_difference(tmp_path: Path) -> None:
    """A URL configured with a trailing slash the app does not see is named as such."""
    body, headers = capture(tmp_path, *twilio_inbound(PUBLIC + "/"))
    code, out, _ = run("--url", PUBLIC, "--headers", headers, "--body-file", body)
    assert code == 1
    assert "trailing slash: the signed path ends with '/'" in out
    assert "configured at the provider and your route agree" in out


def test_wrong_token_matches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With another auth token no variant matches, and the hints say what else to check."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "some-other-token")
    body, headers = capture(tmp_path, *twilio_inbound(PUBLIC))
    code, out, _ = run("--url", PUBLIC, "--headers", headers, "--body-file", body)
    assert code == 1
    assert "no URL variant matched" in out
    assert "TWILIO_AUTH_TOKEN" in out
    assert "some-other-token" not in out


def test_official_vector_behind_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twilio's own test vector, captured at a loopback address with the body on stdin, is
    traced to the URL it was signed for."""
    vector = VECTORS["official_vectors"]
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", vector["auth_token"])
    body = urlencode(vector["params"]).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body)))
    code, out, _ = run(
        "--url",
        "http://127.0.0.1:8080/myapp.php?foo=1&bar=2",
        "-H",
        f"X-Twilio-Signature: {vector['expected_compute_signature']}",
        "-H",
        "Content-Type: application/x-www-form-urlencoded",
        "--body-file",
        "-",
        "--webhook-url",
        vector["url"],
    )
    assert code == 1
    assert f"match: Twilio signed {vector['url']}" in out
    assert 'public_url="https://mycompany.com"' in out


def test_raw_http_request_file(tmp_path: Path) -> None:
    """A raw HTTP dump (request line, headers, body) is read as the capture."""
    body, headers = twilio_inbound("http://internal:8000/sms/webhook?x=1")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = f"POST /sms/webhook?x=1 HTTP/1.1\r\nHost: internal:8000\r\n{head}\r\n".encode() + body
    (tmp_path / "request.http").write_bytes(raw)
    code, out, _ = run("--request", str(tmp_path / "request.http"))
    assert code == 0
    assert "url checked: http://internal:8000/sms/webhook?x=1" in out


def test_json_headers_file(tmp_path: Path) -> None:
    """Headers may be given as a JSON object."""
    body, headers = twilio_inbound(PUBLIC)
    (tmp_path / "headers.json").write_text(json.dumps(headers))
    (tmp_path / "body").write_bytes(body)
    code, _, _ = run(
        "--url",
        PUBLIC,
        "--headers",
        str(tmp_path / "headers.json"),
        "--body-file",
        str(tmp_path / "body"),
    )
    assert code == 0


def test_shared_key_signature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SharedKey signature verifies with TWILIO_SHARED_KEYS and is explained without it."""
    params = {"MessageSid": "SM" + "0" * 32, "AccountSid": "AC" + "1" * 32, "Body": "hi"}
    headers = sign_twilio(
        PUBLIC, params, auth_token=TOKEN, shared_key=("KS1", "s3cret", "HMAC_SHA256")
    )
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body, header_file = capture(tmp_path, urlencode(params).encode(), headers)
    code, out, _ = run("--url", PUBLIC, "--headers", header_file, "--body-file", body)
    assert code == 1
    assert "SharedKey 'KS1'" in out
    monkeypatch.setenv("TWILIO_SHARED_KEYS", "KS1=s3cret")
    code, out, _ = run("--url", PUBLIC, "--headers", header_file, "--body-file", body)
    assert code == 0


def test_telnyx_valid(tmp_path: Path) -> None:
    """A Telnyx capture verifies with TELNYX_PUBLIC_KEY; no URL is needed."""
    body, headers = capture(tmp_path, *telnyx_inbound())
    code, out, _ = run("--headers", headers, "--body-file", body)
    assert code == 0
    assert "result: VALID" in out
    assert "stale" not in out


def test_telnyx_old_capture_is_valid_with_a_note(tmp_path: Path) -> None:
    """An old Telnyx capture is still a valid signature; the note says it would be stale."""
    body, headers = capture(tmp_path, *telnyx_inbound(timestamp=stale_timestamp()))
    code, out, _ = run("--headers", headers, "--body-file", body)
    assert code == 0
    assert "stale_webhook" in out


def test_telnyx_body_with_added_newline_is_diagnosed(tmp_path: Path) -> None:
    """A capture whose body gained a trailing newline is invalid, and the check says so."""
    raw, headers_map = telnyx_inbound()
    body, headers = capture(tmp_path, raw + b"\n", headers_map)
    code, out, _ = run("--headers", headers, "--body-file", body)
    assert code == 1
    assert "without its trailing newline verifies" in out


def test_telnyx_wrong_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another account's key fails with hints, exit 1."""
    from smsbridge.testing import make_telnyx_keypair

    monkeypatch.setenv("TELNYX_PUBLIC_KEY", make_telnyx_keypair(b"\x09" * 32).public_key_b64)
    body, headers = capture(tmp_path, *telnyx_inbound())
    code, out, _ = run("--headers", headers, "--body-file", body)
    assert code == 1
    assert "TELNYX_PUBLIC_KEY must be the public key" in out


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (
            ["--url", PUBLIC, "-H", "X-Twilio-Signature: abc"],
            {"TWILIO_AUTH_TOKEN": ""},
            "TWILIO_AUTH_TOKEN is not set",
        ),
        (["--url", PUBLIC, "-H", "Content-Type: text/plain"], {}, "x-twilio-signature header"),
        (["--url", PUBLIC, "-H", "no colon here"], {}, "not a 'Name: value' header line"),
        (["--url", "internal", "-H", "X-Twilio-Signature: abc"], {}, "must be a full http(s) URL"),
        (["-H", "X-Twilio-Signature: abc"], {}, "give it with --url"),
        (["--url", PUBLIC, "--headers", "/nonexistent/h"], {}, "cannot read /nonexistent/h"),
        (["-H", "telnyx-signature-ed25519: x"], {"TELNYX_PUBLIC_KEY": "bm90IGEga2V5"}, "32-byte"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad options, files or settings are one readable line on stderr and exit code 2."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run(*argv)
    assert code == 2
    assert expected in err
    assert "Traceback" not in out + err


def test_console_command_end_to_end(tmp_path: Path) -> None:
    """`python -m smsbridge webhook check` runs the same check and exits with its code."""
    body, headers = capture(
        tmp_path,
        *twilio_inbound(PUBLIC),
        extra="X-Forwarded-Proto: https\nX-Forwarded-Host: public.example.com\n",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smsbridge",
            "webhook",
            "check",
            "--url",
            INTERNAL,
            "--headers",
            headers,
            "--body-file",
            body,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TWILIO_AUTH_TOKEN": TOKEN},
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert f"match: Twilio signed {PUBLIC}" in result.stdout
