"""The ``smsbridge`` command line, driven through real subprocesses over loopback HTTP."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from smsbridge.cli import build_parser
from smsbridge.cli.demo import NEXT_PAGE
from smsbridge.testing import Emulator, sign_twilio

TWILIO_FROM = "+15005550006"
TELNYX_FROM = "+15005550007"
HANDSET = "+14155552671"


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m smsbridge ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "smsbridge", *args],
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def clean_env() -> dict[str, str]:
    """The environment without any provider settings of the machine running the tests."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "TELNYX_", "SMSBRIDGE_"))
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(progress_delay=0.05) as emulator:
        yield emulator


@pytest.fixture
def env(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    emu.reset()
    return {
        **clean_env(),
        # The send command's default store lives in the user's state directory: a fresh one.
        "XDG_STATE_HOME": str(tmp_path / "state"),
        **emu.environment(),
    }


@pytest.mark.parametrize(
    "command",
    [(), ("send",), ("serve",), ("emulator",), ("demo",), ("webhook",), ("webhook", "check")],
)
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    """``--help`` on each command prints its usage and exits 0."""
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "usage: smsbridge" in result.stdout


def test_no_command_prints_help_and_exits_2() -> None:
    """Running without a command shows the commands and exits with the usage code."""
    result = run()
    assert result.returncode == 2
    assert "demo" in result.stdout
    assert "emulator" in result.stdout


def test_send_prints_the_result(env: dict[str, str], emu: Emulator) -> None:
    """send uses Bridge.from_env, reaches the emulator and prints one line about the result."""
    result = run("send", "--to", "(415) 555-2671", "--region", "US", "--body", "hello", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sent via twilio: id=SM")
    assert [m["to"] for m in emu.messages("twilio")] == [HANDSET]


def test_send_json_is_a_send_result(env: dict[str, str], emu: Emulator) -> None:
    """send --json prints the SendResult as JSON, from the named provider."""
    result = run("send", "--to", HANDSET, "--body", "hi", "--provider", "telnyx", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["provider"] == "telnyx"
    assert data["from_"] == TELNYX_FROM
    assert data["attempts"][0]["error"] is None
    assert len(emu.messages("telnyx")) == 1
    assert emu.messages("twilio") == []


def test_send_media_makes_an_mms(env: dict[str, str], emu: Emulator) -> None:
    """Repeated --media flags become the message's media URLs."""
    result = run(
        "send",
        "--to",
        HANDSET,
        "--media",
        "https://e.test/a.jpg",
        "--media",
        "https://e.test/b.png",
        "--provider",
        "twilio",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    (message,) = emu.messages("twilio")
    assert message["media_urls"] == ["https://e.test/a.jpg", "https://e.test/b.png"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--to", "12", "--body", "x"), "invalid_phone_number"),
        (("--to", "+1 415 555", "--body", "x"), "invalid_phone_number"),
        (("--to", HANDSET, "--body", "x" * 1601), "message_too_long"),
        (("--to", HANDSET, "--body", "x", "--provider", "nexmo"), "config"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    env: dict[str, str], args: tuple[str, ...], needle: str
) -> None:
    """A bad number, an oversized body or an unknown provider is one clear line, exit 2."""
    result = run("send", *args, env=env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_variable_names_it(env: dict[str, str]) -> None:
    """A missing setting names the variable, without a traceback, exit 2."""
    del env["TWILIO_AUTH_TOKEN"]
    result = run("send", "--to", HANDSET, "--body", "x", env=env)
    assert result.returncode == 2
    assert "TWILIO_AUTH_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_endpoint_is_exit_3(env: dict[str, str]) -> None:
    """A provider nobody listens for is reported in one line with the unreachable code."""
    dead = f"http://127.0.0.1:{free_port()}"
    env.update({"SMSBRIDGE_PROVIDERS": "twilio", "TWILIO_BASE_URL": dead})
    result = run("send", "--to", HANDSET, "--body", "x", env=env)
    assert result.returncode == 3
    assert "provider_unavailable" in result.stderr
    assert "Traceback" not in result.stderr


def test_provider_rejection_is_exit_1(env: dict[str, str], emu: Emulator) -> None:
    """An opted-out recipient is a failed send (exit 1) naming the stable code."""
    emu.opt_out("twilio", HANDSET)
    env["SMSBRIDGE_PROVIDERS"] = "twilio"
    result = run("send", "--to", HANDSET, "--body", "x", env=env)
    assert result.returncode == 1
    assert "opted_out" in result.stderr


def test_debug_shows_the_traceback_and_keeps_the_exit_code(env: dict[str, str]) -> None:
    """--debug prints the traceback for a developer to read; the exit code stays the
    documented one (2 for a bad number, 1 for a refusal)."""
    result = run("--debug", "send", "--to", "12", "--body", "x", env=env)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert "invalid_phone_number" in result.stderr


def test_debug_keeps_the_exit_code_of_a_failed_send(env: dict[str, str], emu: Emulator) -> None:
    """An opted-out recipient with --debug: traceback and exit 1, as without it."""
    emu.opt_out("twilio", HANDSET)
    env["SMSBRIDGE_PROVIDERS"] = "twilio"
    result = run("--debug", "send", "--to", HANDSET, "--body", "x", env=env)
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_the_same_idempotency_key_twice_sends_once(env: dict[str, str], emu: Emulator) -> None:
    """Two runs (two processes) with one --idempotency-key: one message at the emulator; the
    second run prints the first result and exits 0. The key lives in the default SQLite file
    in the user's state directory."""
    args = ("send", "--to", HANDSET, "--body", "code 4242", "--idempotency-key", "otp-cli-1")
    first = run(*args, env=env)
    assert first.returncode == 0, first.stderr
    second = run(*args, env=env)
    assert second.returncode == 0, second.stderr
    assert len(emu.messages()) == 1
    sid = emu.messages("twilio")[0]["id"]
    assert f"id={sid}" in first.stdout
    assert second.stdout.startswith(f"already sent via twilio: id={sid}")
    assert (Path(env["XDG_STATE_HOME"]) / "smsbridge" / "smsbridge.db").exists()


def test_store_flag_and_variable_choose_the_store(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """--store overrides the default; SMSBRIDGE_STORE does too; memory: forgets between runs."""
    args = ("send", "--to", HANDSET, "--body", "hi", "--idempotency-key", "k-store")
    store = f"sqlite:///{tmp_path / 'chosen.db'}"
    assert run(*args, "--store", store, env=env).returncode == 0
    assert run(*args, env={**env, "SMSBRIDGE_STORE": store}).returncode == 0
    assert len(emu.messages()) == 1
    assert (tmp_path / "chosen.db").exists()
    assert not (Path(env["XDG_STATE_HOME"]) / "smsbridge").exists()
    assert run(*args, "--store", "memory:", env=env).returncode == 0
    assert len(emu.messages()) == 2  # an in-memory store cannot remember across processes
    bad = run(*args, "--store", "postgres://x", env=env)
    assert bad.returncode == 2
    assert "--store" in bad.stderr


def test_send_help_prints_the_default_store(env: dict[str, str]) -> None:
    """`smsbridge send --help` shows where the default store file is."""
    result = run("send", "--help", env={**env, "COLUMNS": "500"})  # no wrapping inside the path
    assert result.returncode == 0
    folded = " ".join(result.stdout.split())
    assert f"sqlite:///{env['XDG_STATE_HOME']}/smsbridge/smsbridge.db" in folded


def test_a_repeated_to_sends_to_each(env: dict[str, str], emu: Emulator) -> None:
    """Two --to flags send the message to both (a bulk send), never to the last one only."""
    result = run("send", "--to", HANDSET, "--to", "+14155552672", "--body", "x", env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(m["to"] for m in emu.messages()) == [HANDSET, "+14155552672"]


def test_an_ambiguous_failure_says_it_may_have_been_sent(
    env: dict[str, str], emu: Emulator
) -> None:
    """A send that may have gone out (accept, then no answer) says to check before re-sending,
    exit 3."""
    emu.fault("twilio", "accept_then_hang")
    env.update({"SMSBRIDGE_PROVIDERS": "twilio", "TWILIO_TIMEOUT": "0.5"})
    result = run("send", "--to", HANDSET, "--body", "x", env=env)
    assert result.returncode == 3
    assert "it may have been sent: check before re-sending" in result.stderr
    assert len(emu.messages("twilio")) == 1


def test_emulator_command_serves_both_providers(tmp_path: Path) -> None:
    """The emulator command prints its settings and answers the control API until interrupted."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smsbridge", "emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        lines = [proc.stdout.readline() for _ in range(10)]
        assert any("TELNYX_PUBLIC_KEY=" in line for line in lines)
        # The printed base URLs are the per-provider listeners, which a refuse fault closes.
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in lines
            if line.strip().startswith("export ")
        )
        assert exports["TWILIO_BASE_URL"] != f"http://127.0.0.1:{port}"
        assert exports["TELNYX_BASE_URL"] != exports["TWILIO_BASE_URL"]
        httpx.post(
            f"http://127.0.0.1:{port}/_emulator/faults",
            json={"provider": "twilio", "kind": "refuse"},
        ).raise_for_status()
        with pytest.raises(httpx.ConnectError):
            httpx.get(exports["TWILIO_BASE_URL"], timeout=5)
        assert httpx.get(exports["TELNYX_BASE_URL"], timeout=5).status_code in (401, 404)
        info = httpx.get(f"http://127.0.0.1:{port}/_emulator/info", timeout=5).json()
        assert info["twilio"]["account_sid"].startswith("AC")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_serve_prints_verified_events(env: dict[str, str], emu: Emulator) -> None:
    """serve verifies inbound webhooks from both providers and prints each as a JSON line."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smsbridge", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    hook = f"http://127.0.0.1:{port}/sms/webhook"
    try:
        deadline = time.monotonic() + 20
        while True:  # wait until uvicorn listens
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        for provider, number in (("twilio", TWILIO_FROM), ("telnyx", TELNYX_FROM)):
            emu.set_webhook(provider, "*", hook)
            answer = emu.inbound(provider, from_=HANDSET, to=number, text=f"hi {provider}")
            assert answer["status_code"] == 200
        forged = httpx.post(
            hook,
            data={"MessageSid": "SM" + "0" * 32, "Body": "x"},
            headers={"X-Twilio-Signature": "AAAA"},
        )
        assert forged.status_code == 403
        assert proc.stdout is not None
        events = [json.loads(proc.stdout.readline()) for _ in range(2)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert {(e["kind"], e["provider"], e["text"]) for e in events} == {
        ("inbound", "twilio", "hi twilio"),
        ("inbound", "telnyx", "hi telnyx"),
    }


def test_webhook_check_through_the_command_line(tmp_path: Path, env: dict[str, str]) -> None:
    """webhook check says which public URL the provider signed, exit 1 for the captured one."""
    public = "https://public.example.com/sms/webhook"
    params = {"MessageSid": "SM" + "1" * 32, "Body": "hello", "From": HANDSET}
    signature = sign_twilio(public, params, auth_token=env["TWILIO_AUTH_TOKEN"])
    body = tmp_path / "body"
    body.write_bytes(httpx.QueryParams(params).__str__().encode())
    args = (
        "webhook",
        "check",
        "--url",
        "http://internal:8000/sms/webhook",
        "-H",
        "Content-Type: application/x-www-form-urlencoded",
        "-H",
        "X-Forwarded-Proto: https",
        "-H",
        "X-Forwarded-Host: public.example.com",
        "-H",
        f"X-Twilio-Signature: {signature['X-Twilio-Signature']}",
        "--body-file",
        str(body),
    )
    result = run(*args, env=env)
    assert result.returncode == 1
    assert "https://public.example.com" in result.stdout
    ok = run(*args, "--public-url", "https://public.example.com", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_demo_runs_end_to_end() -> None:
    """The offline demo shows every step and exits 0."""
    result = run("demo", "--fast", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "every step behaved as shown" in out
    assert "✗" not in out
    for needle in (
        "sent via twilio",
        "sent via telnyx from +15005550007",
        "callback verified",
        "inbound from +14155552671",
        "opted_out (rejected)",
        "(ambiguous)",
        "403 invalid_signature",
        "exactly once",
    ):
        assert needle in out, needle
    # The failover step shows Twilio tried twice, and says why, right after it.
    failover = out[out.index("== 3.") : out.index("== 4.")]
    assert failover.count("twilio: provider_unavailable/refused") == 2
    assert "why twilio twice: a 503 means nothing was sent" in failover
    # It ends by pointing at the page that does the same in your own app.
    assert out.rstrip().endswith(NEXT_PAGE)


def test_an_unusable_default_store_says_how_to_choose_another(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """A state directory that cannot be created (a file is in the way): exit 2, nothing sent,
    and the message names --store and SMSBRIDGE_STORE."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = run(
        "send", "--to", HANDSET, "--body", "x", env={**env, "XDG_STATE_HOME": str(blocker)}
    )
    assert result.returncode == 2
    assert "--store" in result.stderr
    assert "SMSBRIDGE_STORE" in result.stderr
    assert emu.messages() == []


# -- help, the demo's last words, emulator --verbose, warnings (issue 13) ------------------------
def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def test_each_help_shows_the_defaults_and_an_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command's --help gives each option's default value (the ones that are values:
    ports, paths, seconds) and ends with an example of the command."""
    from smsbridge.cli._help import shows_default

    monkeypatch.setenv("COLUMNS", "100")
    shown = 0
    for path, parser in _commands(build_parser()):
        text = parser.format_help()
        folded = " ".join(text.split())
        for action in parser._actions:
            if shows_default(action):
                assert f"(default: {action.default})" in folded, (path, action.option_strings)
                shown += 1
        examples = text[text.index("\nexample") :]
        command = " ".join(("smsbridge", *path))
        assert any(line.strip().startswith(command) for line in examples.splitlines()), path
    assert shown >= 10  # the ports, hosts, paths and timeouts of serve, emulator, check, send


def test_a_not_given_default_is_not_shown_as_a_value() -> None:
    """None and off are not printed as "(default: None)" / "(default: False)"."""
    for path, parser in _commands(build_parser()):
        text = parser.format_help()
        assert "(default: None)" not in text, path
        assert "(default: False)" not in text, path
        assert "(default: [])" not in text, path


def test_concurrency_given_makes_a_bulk_send_its_default_does_not() -> None:
    """--concurrency shows its default (16) yet only a given one makes send a bulk send."""
    from smsbridge.cli.send_many import wants_bulk

    parser = build_parser()
    one = parser.parse_args(["send", "--to", HANDSET, "--body", "x"])
    assert one.concurrency == 16
    assert not wants_bulk(one)
    assert wants_bulk(parser.parse_args(["send", "--to", HANDSET, "--concurrency", "16"]))


def test_the_demo_points_at_the_quickstart_page() -> None:
    """The demo's last line is the published Quickstart: the site's root (pyproject's
    Documentation URL) + the page docs/quickstart.md."""
    root = Path(__file__).resolve().parents[1]
    pyproject = (root / "pyproject.toml").read_text()
    site = re.search(r'^Documentation = "([^"]+)"', pyproject, re.MULTILINE)
    assert site is not None
    assert site.group(1) + "quickstart/" == NEXT_PAGE
    assert (root / "docs" / "quickstart.md").is_file()


def test_the_demo_explains_a_retry_only_when_it_shows_one() -> None:
    """The note appears for a provider tried more than once, and names the retry's delay."""
    from smsbridge.cli.demo import _retry_note
    from smsbridge.routing import Retry

    once = [SimpleNamespace(provider="twilio"), SimpleNamespace(provider="telnyx")]
    assert _retry_note(once, Retry()) is None
    twice = [SimpleNamespace(provider="twilio")] * 2 + [SimpleNamespace(provider="telnyx")]
    note = _retry_note(twice, Retry(backoff=0.25))
    assert note is not None
    assert "why twilio twice" in note
    assert "0.25 s later" in note


def _lines_until(capsys: pytest.CaptureFixture[str], needle: str) -> str:
    """What has been printed, once ``needle`` is in it (bounded: a failure, not a hang)."""
    seen = ""
    deadline = time.monotonic() + 20
    while needle not in seen:
        assert time.monotonic() < deadline, f"never printed {needle!r}: {seen}"
        time.sleep(0.02)
        seen += capsys.readouterr().out
    return seen


def test_emulator_verbose_prints_each_request_without_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """smsbridge emulator --verbose prints one line per request received: listener, method,
    path and answered status. The Authorization header shows its scheme only, query values
    outside the control API are hidden, bodies never appear."""
    from smsbridge import Bridge
    from smsbridge.cli.emulator import run_emulator
    from smsbridge.providers import Twilio

    args = build_parser().parse_args(
        ["emulator", "--port", "0", "--progress-delay", "0.05", "--verbose"]
    )
    stop = threading.Event()
    thread = threading.Thread(target=run_emulator, args=(args,), kwargs={"stop": stop})
    thread.start()
    try:
        started = _lines_until(capsys, "Press Ctrl-C")
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in started.splitlines()
            if line.strip().startswith("export ")
        )
        main_url = re.search(r"listening on (http://\S+)", started)
        assert main_url is not None
        sid, token = exports["TWILIO_ACCOUNT_SID"], exports["TWILIO_AUTH_TOKEN"]
        twilio = Twilio(sid, token, from_=TWILIO_FROM, base_url=exports["TWILIO_BASE_URL"])
        with Bridge(twilio) as sms:
            sms.send(to=HANDSET, body="body-text-never-printed")
        telnyx = exports["TELNYX_BASE_URL"]
        httpx.get(
            f"{telnyx}/v2/messages/x?api_key=query-secret", headers={"Authorization": "bare-secret"}
        )
        httpx.get(f"{main_url.group(1)}/_emulator/messages?provider=twilio")
        printed = _lines_until(capsys, "/_emulator/messages")
    finally:
        stop.set()
        thread.join(timeout=10)
    requests = printed.splitlines()
    assert any(
        line.endswith(
            f"[twilio] POST /2010-04-01/Accounts/{sid}/Messages.json -> 201  "
            "(Authorization: Basic ***)"
        )
        for line in requests
    ), printed
    (telnyx_line,) = [line for line in requests if "/v2/messages/x" in line]
    assert telnyx_line.endswith(
        "[telnyx] GET /v2/messages/x?api_key=*** -> 401  (Authorization: ***)"
    )
    assert any(
        line.endswith("[main] GET /_emulator/messages?provider=twilio -> 200") for line in requests
    )
    for secret in (token, "query-secret", "bare-secret", "body-text-never-printed"):
        assert secret not in printed


def test_a_long_message_warning_is_printed_once(env: dict[str, str], emu: Emulator) -> None:
    """A body of 11 segments: one warning line on stderr, not one from the log and one from
    the command; a bulk send of three prints the first and then the count."""
    body = "x" * 1550  # 11 GSM-7 segments of 153 characters
    one = run("send", "--to", HANDSET, "--body", body, env=env)
    assert one.returncode == 0, one.stderr
    assert one.stderr.count("body takes 11 GSM-7 segments (over 10)") == 1
    assert "warning" not in one.stdout
    to = ("--to", HANDSET, "--to", "+14155552672", "--to", "+14155552673")
    many = run("send", *to, "--body", body, env=env)
    assert many.returncode == 0, many.stderr
    assert many.stderr.count("body takes 11 GSM-7 segments") == 1
    assert "warning: 3 messages took more than 10 segments each" in many.stderr
    assert len(emu.messages("twilio")) == 4


def test_a_reference_without_public_url_warns(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """--reference (or a CSV reference column) with no --public-url: a warning that no status
    event will carry it, and the message is sent; with --public-url, no warning."""
    alone = run("send", "--to", HANDSET, "--body", "x", "--reference", "order-7", env=env)
    assert alone.returncode == 0, alone.stderr
    assert (
        "warning: --reference order-7 will not come back on status events without --public-url"
        in alone.stderr
    )
    public = ("--public-url", "http://127.0.0.1:9")  # nothing listens: callbacks just fail
    placed = run("send", "--to", HANDSET, "--body", "x", "--reference", "order-8", *public, env=env)
    assert placed.returncode == 0, placed.stderr
    assert "warning" not in placed.stderr
    rows = tmp_path / "in.csv"
    rows.write_text(f"to,body,reference\n{HANDSET},hi,r-1\n")
    bulk = run("send", "--csv", str(rows), env=env)
    assert bulk.returncode == 0, bulk.stderr
    assert "warning: the CSV's reference column will not come back" in bulk.stderr
    assert len(emu.messages()) == 3


def test_webhook_check_reads_a_raw_body_to_its_content_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A raw capture saved with a final newline (an editor adds one) still verifies: the body
    ends where Content-Length says, as a server reads it."""
    from smsbridge.cli.webhook_check import check_command

    token = "t0ken-for-this-test"
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)
    url = "https://app.example.com/sms/webhook"
    params = {"MessageSid": "SM" + "5" * 32, "From": HANDSET, "Body": "Hello"}
    signature = sign_twilio(url, params, auth_token=token)["X-Twilio-Signature"]
    body = str(httpx.QueryParams(params))
    head = (
        "POST /sms/webhook HTTP/1.1\nHost: app.example.com\n"
        "Content-Type: application/x-www-form-urlencoded\n"
        f"X-Twilio-Signature: {signature}\n"
    )
    capture = tmp_path / "captured.http"
    args = build_parser().parse_args(["webhook", "check", "--request", str(capture), "--url", url])
    capture.write_text(f"{head}Content-Length: {len(body)}\n\n{body}\n")
    assert check_command(args, out=io.StringIO(), err=io.StringIO()) == 0
    capture.write_text(f"{head}\n{body}\n")  # no length: the newline is part of the body
    assert check_command(args, out=io.StringIO(), err=io.StringIO()) == 1
