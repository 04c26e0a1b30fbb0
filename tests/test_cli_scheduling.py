"""``smsbridge send --at``, ``smsbridge cancel`` and ``smsbridge status``, end to end: real
subprocesses against the emulator on loopback (its clock moved with ``emu.advance``)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from smsbridge.testing import Emulator

HANDSET = "+14155552671"
# The emulator takes any messaging service; Twilio schedules only through one.
SERVICE = "MG" + "5" * 32


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m smsbridge ARGS`` and capture its output (not on a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "smsbridge", *args],
        env=env,
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
        if not k.startswith(("TWILIO_", "TELNYX_", "VONAGE_", "SMSBRIDGE_"))
    }


def ahead(**delta: float) -> str:
    """A time ``delta`` from now, in ISO 8601 with a +01:00 offset (as a person in Paris would
    write it in winter)."""
    paris = timezone(timedelta(hours=1))
    return (datetime.now(timezone.utc) + timedelta(**delta)).astimezone(paris).isoformat()


def message_id(stdout: str) -> str:
    """The ``id=`` of a one-message ``send``'s line."""
    return stdout.split("id=", 1)[1].split()[0]


def one_line_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    """The command failed with ``code`` and a readable error naming ``needle``, no traceback."""
    assert result.returncode == code, result.stdout + result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("smsbridge: error: ")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(progress_delay=0, deliver_callbacks=False) as emulator:
        yield emulator


@pytest.fixture
def env(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    emu.reset()
    return {
        **clean_env(),
        "XDG_STATE_HOME": str(tmp_path / "state"),  # the commands' default store: fresh
        **emu.environment(),
        "TWILIO_MESSAGING_SERVICE_SID": SERVICE,
    }


@pytest.fixture
def scheduled(env: dict[str, str], emu: Emulator) -> str:
    """The Twilio id of a message scheduled an hour ahead through the command line."""
    sent = run("send", "--to", HANDSET, "--body", "later", "--at", ahead(hours=1), env=env)
    assert sent.returncode == 0, sent.stderr
    return message_id(sent.stdout)


# -- send --at ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["cancel", "status"])
def test_the_new_commands_have_help(command: str) -> None:
    """``cancel --help`` and ``status --help`` show PROVIDER ID and exit 0."""
    result = run(command, "--help", env=clean_env())
    assert result.returncode == 0
    assert f"usage: smsbridge {command}" in result.stdout
    assert "PROVIDER ID" in result.stdout


def test_send_at_prints_the_scheduled_result(env: dict[str, str], emu: Emulator) -> None:
    """``--at`` with an offset schedules the message: the line says scheduled, with send_at in
    UTC and how to cancel it; the emulator holds it, and nothing is delivered."""
    at = ahead(hours=2)
    result = run("send", "--to", HANDSET, "--body", "see you", "--at", at, env=env)
    assert result.returncode == 0, result.stderr
    first, hint = result.stdout.splitlines()
    utc = datetime.fromisoformat(at).astimezone(timezone.utc)
    assert first.startswith("scheduled via twilio: id=SM")
    assert "status=scheduled" in first
    assert f"send_at={utc:%Y-%m-%dT%H:%M:%S}Z" in first
    assert hint == f"(cancel it with: smsbridge cancel twilio {message_id(first)})"
    (held,) = emu.messages("twilio")
    assert held["status"] == "scheduled"


def test_send_at_json_and_z(env: dict[str, str], emu: Emulator) -> None:
    """A trailing Z is UTC; ``--json`` carries status and send_at (Telnyx: to the minute)."""
    at = (datetime.now(timezone.utc) + timedelta(hours=3)).replace(second=42, microsecond=0)
    text = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run(
        "send",
        "--to",
        HANDSET,
        "--body",
        "x",
        "--at",
        text,
        "--provider",
        "telnyx",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "scheduled"
    assert datetime.fromisoformat(data["send_at"]) == at.replace(second=0)
    assert [m["status"] for m in emu.messages("telnyx")] == ["scheduled"]


@pytest.mark.parametrize(
    ("at", "needles"),
    [
        ("2026-12-24T09:00:00", ("no UTC offset", "+01:00", "Z", "does not guess")),
        ("2026-12-24", ("no UTC offset", "+01:00")),
        ("next tuesday", ("not an ISO 8601",)),
        ("2020-01-01T09:00:00+01:00", ("in the past", "2020-01-01T08:00:00Z")),
    ],
)
def test_a_bad_at_is_exit_2_and_nothing_is_sent(
    env: dict[str, str], emu: Emulator, at: str, needles: tuple[str, ...]
) -> None:
    """A naive time (never read in a guessed zone), an unreadable one or a past one: one line,
    exit 2, before any provider is asked."""
    result = run("send", "--to", HANDSET, "--body", "x", "--at", at, env=env)
    one_line_error(result, 2, "--at")
    assert len(result.stderr.splitlines()) == 1
    for needle in needles:
        assert needle in result.stderr
    assert emu.messages() == []


@pytest.mark.parametrize(
    ("delta", "reasons"),
    [
        ({"days": 60}, ("twilio: send_at must be at most 35 days", "telnyx:", "at most 5 days")),
        ({"minutes": 2}, ("twilio: send_at must be more than", "telnyx: send_at must be more")),
    ],
)
def test_a_time_outside_every_window_is_exit_2(
    env: dict[str, str], emu: Emulator, delta: dict[str, float], reasons: tuple[str, ...]
) -> None:
    """Too far or too soon for every provider: scheduling_unavailable, each provider's reason
    (Vonage cannot schedule at all), exit 2, nothing sent."""
    result = run("send", "--to", HANDSET, "--body", "x", "--at", ahead(**delta), env=env)
    one_line_error(result, 2, "scheduling_unavailable")
    for reason in (*reasons, "vonage: it cannot schedule"):
        assert reason in result.stderr
    assert emu.messages() == []


def test_failover_keeps_to_the_providers_whose_window_holds_it(
    env: dict[str, str], emu: Emulator
) -> None:
    """Ten days ahead is past Telnyx's five: Twilio holds it even when Telnyx comes first."""
    env["SMSBRIDGE_PROVIDERS"] = "telnyx,twilio"
    result = run("send", "--to", HANDSET, "--body", "x", "--at", ahead(days=10), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("scheduled via twilio")
    assert emu.messages("telnyx") == []


def test_twilio_without_a_messaging_service_cannot_schedule(
    env: dict[str, str], emu: Emulator
) -> None:
    """Twilio alone, with a From number and no messaging service: the reason says so, exit 2."""
    del env["TWILIO_MESSAGING_SERVICE_SID"]
    env["SMSBRIDGE_PROVIDERS"] = "twilio"
    result = run("send", "--to", HANDSET, "--body", "x", "--at", ahead(hours=1), env=env)
    one_line_error(result, 2, "messaging service")
    assert emu.messages() == []


def test_an_idempotent_rerun_says_already_scheduled(env: dict[str, str], emu: Emulator) -> None:
    """The same --idempotency-key twice: one message held, the second run says so."""
    args = ("send", "--to", HANDSET, "--body", "x", "--at", ahead(hours=1))
    first = run(*args, "--idempotency-key", "sched-1", env=env)
    second = run(*args, "--idempotency-key", "sched-1", env=env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert second.stdout.startswith(f"already scheduled via twilio: id={message_id(first.stdout)}")
    assert len(emu.messages()) == 1


# -- cancel and status ---------------------------------------------------------------------------


def test_cancel_then_status_shows_canceled_and_it_never_goes(
    env: dict[str, str], emu: Emulator, scheduled: str
) -> None:
    """status shows it scheduled; cancel says canceled; status then shows canceled; past its
    time (the emulator's clock moved on) it still is, and was never sent."""
    before = run("status", "twilio", scheduled, env=env)
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith(f"provider=twilio id={scheduled} status=scheduled")
    canceled = run("cancel", "twilio", scheduled, env=env)
    assert canceled.returncode == 0, canceled.stderr
    assert canceled.stdout == (
        f"canceled: provider=twilio id={scheduled} status=canceled raw_status=canceled "
        "error_code=- send_at=-\n"
    )
    emu.advance(2 * 3600)
    emu.wait_idle()
    after = run("status", "twilio", scheduled, "--json", env=env)
    assert after.returncode == 0, after.stderr
    data = json.loads(after.stdout)
    assert (data["status"], data["raw_status"]) == ("canceled", "canceled")
    assert [m["status"] for m in emu.messages("twilio")] == ["canceled"]


def test_cancelling_twice_is_fine(env: dict[str, str], scheduled: str) -> None:
    """The second cancel finds it canceled already: exit 0, the same answer."""
    first = run("cancel", "twilio", scheduled, env=env)
    second = run("cancel", "twilio", scheduled, env=env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    assert "status=canceled" in second.stdout


def test_telnyx_cancel_normalises_cancelled(env: dict[str, str], emu: Emulator) -> None:
    """Telnyx spells it ``cancelled``: the status is ``canceled``, the raw word kept."""
    sent = run(
        "send",
        "--to",
        HANDSET,
        "--body",
        "x",
        "--at",
        ahead(hours=1),
        "--provider",
        "telnyx",
        env=env,
    )
    assert sent.returncode == 0, sent.stderr
    sent_id = message_id(sent.stdout)
    canceled = run("cancel", "TELNYX", sent_id, "--json", env=env)
    assert canceled.returncode == 0, canceled.stderr
    data = json.loads(canceled.stdout)
    assert (data["provider"], data["status"], data["raw_status"]) == (
        "telnyx",
        "canceled",
        "cancelled",
    )
    assert (
        "status=canceled raw_status=cancelled" in run("status", "telnyx", sent_id, env=env).stdout
    )


def test_cancel_after_its_time_is_not_cancellable(
    env: dict[str, str], emu: Emulator, scheduled: str
) -> None:
    """Once released (the clock passed send_at) it went out: cancel is exit 1, not_cancellable,
    with a line saying it may go out or has; status shows where it is."""
    emu.advance(3600 + 60)
    emu.wait_idle()
    late = run("cancel", "twilio", scheduled, env=env)
    one_line_error(late, 1, "not_cancellable")
    assert late.stderr.splitlines()[1] == (
        "smsbridge: it is too late to cancel: the message may go out, or has: see "
        f"smsbridge status twilio {scheduled}"
    )
    status = run("status", "twilio", scheduled, env=env)
    assert status.returncode == 0, status.stderr
    assert "status=delivered" in status.stdout


def test_cancel_of_a_message_sent_now_is_not_cancellable(
    env: dict[str, str], emu: Emulator
) -> None:
    """A message that was never scheduled cannot be cancelled: exit 1."""
    sent = run("send", "--to", HANDSET, "--body", "now", env=env)
    assert sent.returncode == 0, sent.stderr
    one_line_error(run("cancel", "twilio", message_id(sent.stdout), env=env), 1, "30409")


@pytest.mark.parametrize(
    ("provider", "unknown"),
    [("twilio", "SM" + "0" * 32), ("telnyx", "00000000-0000-4000-8000-000000000000")],
)
@pytest.mark.parametrize("command", ["cancel", "status"])
def test_an_unknown_id_is_message_not_found(
    env: dict[str, str], command: str, provider: str, unknown: str
) -> None:
    """An id of the provider's shape that it does not know: exit 1, message_not_found."""
    one_line_error(run(command, provider, unknown, env=env), 1, "message_not_found")


@pytest.mark.parametrize("bad_id", ["SM123", "../../Accounts", "a b"])
def test_an_id_of_the_wrong_shape_is_exit_2(
    env: dict[str, str], emu: Emulator, bad_id: str
) -> None:
    """An id the provider could not have given is refused before any request: exit 2."""
    one_line_error(run("cancel", "twilio", bad_id, env=env), 2, "is not a twilio message id")


@pytest.mark.parametrize("command", ["cancel", "status"])
def test_vonage_has_neither(env: dict[str, str], command: str) -> None:
    """Vonage cannot cancel or read a message back by id: unsupported, exit 2."""
    one_line_error(
        run(command, "vonage", "aaaaaaaa-0000-4000-8000-000000000000", env=env), 2, "unsupported"
    )


def test_a_provider_not_configured_is_exit_2(env: dict[str, str]) -> None:
    """The provider must be configured: the error names the configured ones, exit 2."""
    env["SMSBRIDGE_PROVIDERS"] = "telnyx"
    result = run("status", "twilio", "SM" + "0" * 32, env=env)
    one_line_error(result, 2, "no provider named 'twilio'")
    assert "(telnyx)" in result.stderr


def test_a_receive_only_provider_can_be_read_and_cancelled(
    env: dict[str, str], scheduled: str
) -> None:
    """A vendor kept in SMSBRIDGE_RECEIVE_ONLY (after a switch) still reads and cancels."""
    env.update({"SMSBRIDGE_PROVIDERS": "telnyx", "SMSBRIDGE_RECEIVE_ONLY": "twilio"})
    assert "status=scheduled" in run("status", "twilio", scheduled, env=env).stdout
    assert run("cancel", "twilio", scheduled, env=env).returncode == 0


def test_a_cancel_without_an_answer_is_exit_3_and_says_to_check(
    env: dict[str, str], emu: Emulator, scheduled: str
) -> None:
    """The cancel was written but no answer came in time: it may or may not have taken effect,
    exit 3, and the hint points at status (not at re-sending, as a send's would)."""
    emu.fault("twilio", "latency", seconds=3, match="all", times=1)
    env["TWILIO_TIMEOUT"] = "0.5"
    result = run("cancel", "twilio", scheduled, env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "may or may not have taken effect" in result.stderr
    assert f"smsbridge status twilio {scheduled}" in result.stderr
    assert "re-send" not in result.stderr


def test_status_of_an_unreachable_provider_is_exit_3(env: dict[str, str], emu: Emulator) -> None:
    """A provider that refuses connections: exit 3, one line, no send hint."""
    emu.fault("twilio", "refuse")
    result = run("status", "twilio", "SM" + "1" * 32, env=env)
    one_line_error(result, 3, "provider_unavailable")
    assert len(result.stderr.splitlines()) == 1


# -- bulk ----------------------------------------------------------------------------------------


def lines_of(stdout: str) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """A JSON-lines run's items by row, and its summary."""
    *items, last = (json.loads(line) for line in stdout.splitlines())
    return {item["row"]: item for item in items}, last["summary"]


def test_csv_send_at_column(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    """A send_at cell schedules its row; an empty cell takes --at; a naive, unreadable or past
    cell fails that row only (nothing sent for it), reported like other bad rows."""
    soon, later = ahead(hours=1), ahead(hours=5)
    path = tmp_path / "scheduled.csv"
    with path.open("w", newline="") as file:
        csv.writer(file).writerows(
            [
                ["to", "body", "send_at"],
                ["+14155550001", "own time", soon],  # row 2
                ["+14155550002", "the --at time", ""],  # row 3
                ["+14155550003", "naive", "2026-12-24T09:00:00"],  # row 4
                ["+14155550004", "unreadable", "soon"],  # row 5
                ["+14155550005", "past", "2021-01-01T00:00:00Z"],  # row 6
            ]
        )
    done = run("send", "--csv", str(path), "--at", later, env=env)
    assert done.returncode == 1, done.stderr
    rows, summary = lines_of(done.stdout)
    assert (summary["sent"], summary["failed"]) == (2, 3)
    assert rows[2]["status"] == rows[3]["status"] == "scheduled"
    for row, needle in ((4, "no UTC offset"), (5, "not an ISO 8601"), (6, "in the past")):
        assert not rows[row]["ok"]
        assert rows[row]["code"] == "invalid_request"
        assert rows[row]["message"].startswith(f"row {row}: send_at")
        assert needle in rows[row]["message"]
    held = {m["to"]: m for m in emu.messages("twilio")}
    assert sorted(held) == ["+14155550001", "+14155550002"]
    assert {m["status"] for m in held.values()} == {"scheduled"}
    assert datetime.fromisoformat(held["+14155550001"]["send_at"]) == datetime.fromisoformat(
        soon
    ).replace(microsecond=0)
    assert datetime.fromisoformat(held["+14155550002"]["send_at"]) == datetime.fromisoformat(
        later
    ).replace(microsecond=0)


def test_csv_without_send_at_sends_now(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    """An empty send_at cell and no --at: the row goes now."""
    path = tmp_path / "now.csv"
    path.write_text("to,body,send_at\n+14155550001,now,\n")
    done = run("send", "--csv", str(path), env=env)
    assert done.returncode == 0, done.stderr
    rows, _ = lines_of(done.stdout)
    assert rows[2]["status"] == "queued"


def test_bulk_at_applies_to_every_message(env: dict[str, str], emu: Emulator) -> None:
    """Repeated --to with --at: each one scheduled; a bad --at stops the run before sending."""
    bad = run(
        "send",
        "--to",
        HANDSET,
        "--to",
        "+14155550002",
        "--body",
        "x",
        "--at",
        "2026-12-24T09:00",
        env=env,
    )
    one_line_error(bad, 2, "no UTC offset")
    assert emu.messages() == []
    good = run(
        "send",
        "--to",
        HANDSET,
        "--to",
        "+14155550002",
        "--body",
        "x",
        "--at",
        ahead(hours=1),
        env=env,
    )
    assert good.returncode == 0, good.stderr
    rows, summary = lines_of(good.stdout)
    assert summary["sent"] == 2
    assert {item["status"] for item in rows.values()} == {"scheduled"}
