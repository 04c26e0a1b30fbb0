"""``smsbridge send`` for many messages (``--csv``, ``--to-file``, ``--bulk``), end to end: real
subprocesses against the emulator on loopback, JSON lines when not on a terminal, a progress bar
and a summary in a pseudo-terminal."""

from __future__ import annotations

import csv
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsbridge.testing import Emulator

HANDSET = "+14155552671"
OPTED_OUT = "+14155550199"
RESULT_COLUMNS = [
    "index",
    "row",
    "to",
    "reference",
    "ok",
    "resumed",
    "provider",
    "provider_message_id",
    "status",
    "code",
    "failure",
    "message",
]


def clean_env() -> dict[str, str]:
    """The environment without any provider settings of the machine running the tests."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "TELNYX_", "VONAGE_", "SMSBRIDGE_"))
    }


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m smsbridge ARGS`` with pipes (so not on a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "smsbridge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def lines_of(stdout: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The item lines and the summary of a JSON-lines run."""
    decoded = [json.loads(line) for line in stdout.splitlines()]
    assert decoded, "no JSON lines"
    *items, last = decoded
    assert set(last) == {"summary"}
    return items, last["summary"]


def number(i: int) -> str:
    return f"+1415555{i:04d}"


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as file:
        csv.writer(file).writerows(rows)
    return path


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(progress_delay=0, deliver_callbacks=False) as emulator:
        yield emulator


@pytest.fixture
def env(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    emu.reset()
    return {
        **clean_env(),
        "XDG_STATE_HOME": str(tmp_path / "state"),  # the send command's default store: fresh
        **emu.environment(),
    }


def fifty_rows(tmp_path: Path) -> Path:
    """A CSV of 50 messages, five of them bad in different ways."""
    rows = [["to", "body", "reference", "media_urls"]]
    rows += [[number(i), f"hello {i}", f"ref-{i}", ""] for i in range(50)]
    rows[4] = ["12", "no country code", "ref-3", ""]  # index 3, row 5
    rows[11] = ["", "no number", "ref-10", ""]  # index 10, row 12
    rows[21] = [number(20), "x" * 1601, "ref-20", ""]  # index 20: too long
    rows[31] = [OPTED_OUT, "stop means stop", "ref-30", ""]  # index 30: the provider refuses
    rows[41] = [number(40), "hello", "ref-40", "", "extra, cell"]  # index 40: a comma unquoted
    rows[46] = [number(45), "", "ref-45", "https://e.test/a.jpg https://e.test/b.png"]
    return write_csv(tmp_path / "fifty.csv", rows)


def test_csv_with_bad_rows(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    """Fifty rows, five bad: one JSON line per row and a summary, the results CSV holds the same
    outcomes, the good rows reach the emulator, exit 1."""
    emu.opt_out("twilio", OPTED_OUT)
    results = tmp_path / "results.csv"
    done = run("send", "--csv", str(fifty_rows(tmp_path)), "--results", str(results), env=env)
    assert done.returncode == 1, done.stderr
    items, summary = lines_of(done.stdout)
    assert sorted(item["index"] for item in items) == list(range(50))
    assert all(item["row"] == item["index"] + 2 for item in items)
    by_index = {item["index"]: item for item in items}
    failed = {i: by_index[i]["code"] for i in by_index if not by_index[i]["ok"]}
    assert failed == {
        3: "invalid_phone_number",
        10: "invalid_phone_number",
        20: "message_too_long",
        30: "opted_out",
        40: "invalid_request",
    }
    assert "row 42 has 5 cells but the header names 4" in by_index[40]["message"]
    assert by_index[30]["provider"] == "twilio"
    assert by_index[30]["failure"] == "rejected"
    good = by_index[0]
    assert good["ok"] is True
    assert good["resumed"] is False
    assert (good["to"], good["reference"], good["provider"]) == (number(0), "ref-0", "twilio")
    assert good["provider_message_id"].startswith("SM")
    assert good["status"] == "queued"
    assert (good["code"], good["failure"], good["message"]) == (None, None, None)
    assert summary["done"] == 50
    assert (summary["sent"], summary["failed"], summary["ambiguous"]) == (45, 5, 0)
    assert summary["failed_by_code"] == {
        "invalid_phone_number": 2,
        "message_too_long": 1,
        "opted_out": 1,
        "invalid_request": 1,
    }
    assert summary["interrupted"] is False

    sent = {m["to"]: m for m in emu.messages()}
    assert len(sent) == 45
    assert sent[number(45)]["media_urls"] == ["https://e.test/a.jpg", "https://e.test/b.png"]
    assert sent[number(1)]["text"] == "hello 1"
    assert sent[number(1)]["id"] == by_index[1]["provider_message_id"]

    with results.open(newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == RESULT_COLUMNS
    table = {int(row[0]): dict(zip(RESULT_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert sorted(table) == list(range(50))
    for index, item in by_index.items():
        row = table[index]
        assert row["ok"] == ("true" if item["ok"] else "false")
        assert row["code"] == (item["code"] or "")
        assert row["provider_message_id"] == (item["provider_message_id"] or "")
        assert row["row"] == str(index + 2)
    assert table[30]["to"] == OPTED_OUT
    assert table[30]["reference"] == "ref-30"


def test_all_good_exits_0(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    """Every row sent: exit 0. Shared flags fill empty cells; blank lines are skipped but
    counted, as a spreadsheet numbers its rows."""
    path = tmp_path / "good.csv"
    path.write_text(
        "To,Body,From\n"  # headers are case-insensitive
        f"{number(1)},first,\n"
        "\n"
        f"{number(2)},,\n"
        f'{number(3)},"with, comma",\n'
    )
    done = run("send", "--csv", str(path), "--body", "default text", env=env)
    assert done.returncode == 0, done.stderr
    items, summary = lines_of(done.stdout)
    assert (summary["sent"], summary["failed"]) == (3, 0)
    assert sorted(item["row"] for item in items) == [2, 4, 5]
    texts = {m["to"]: m["text"] for m in emu.messages("twilio")}
    assert texts == {number(1): "first", number(2): "default text", number(3): "with, comma"}


def test_repeated_to_sends_to_each(env: dict[str, str], emu: Emulator) -> None:
    """A repeated --to sends the shared body to each; rows are the flags' positions (--bulk
    asks for the bulk output with one --to too)."""
    done = run("send", "--to", number(1), "--to", number(2), "--body", "hi", env=env)
    assert done.returncode == 0, done.stderr
    items, summary = lines_of(done.stdout)
    assert {(item["row"], item["to"]) for item in items} == {(1, number(1)), (2, number(2))}
    assert summary["sent"] == 2
    assert sorted(m["to"] for m in emu.messages()) == [number(1), number(2)]


def test_to_file_skips_blanks_and_comments(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """--to-file: one number a line, blank lines and # comments skipped; rows are line numbers;
    --media-url is shared by every message."""
    numbers = tmp_path / "numbers.txt"
    numbers.write_text(
        f"# customers\n{number(1)}\n\n{number(2)}  # alice\n   \n# {number(9)}\n{number(3)}"
    )
    done = run(
        "send",
        "--to-file",
        str(numbers),
        "--body",
        "sale",
        "--media-url",
        "https://e.test/sale.png",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    items, _ = lines_of(done.stdout)
    assert sorted((item["row"], item["to"]) for item in items) == [
        (2, number(1)),
        (4, number(2)),
        (7, number(3)),
    ]
    messages = emu.messages()
    assert sorted(m["to"] for m in messages) == [number(1), number(2), number(3)]
    assert all(m["media_urls"] == ["https://e.test/sale.png"] for m in messages)


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("to,body,colour\n+14155550001,hi,red\n", ["unknown column 'colour'", "media_urls"]),
        ("+14155550001,hi\n", ["unknown columns", "the first line must be a header"]),
        ("body\nhi\n", ["no 'to' column"]),
        ("to,body,to\n+14155550001,hi,x\n", ["'to' appears more than once"]),
        ("", ["is empty"]),
    ],
)
def test_a_bad_header_is_exit_2_before_anything_is_sent(
    env: dict[str, str], emu: Emulator, tmp_path: Path, content: str, needles: list[str]
) -> None:
    """An unknown column (or no header) stops the command before it sends anything."""
    path = tmp_path / "bad.csv"
    path.write_text(content)
    results = tmp_path / "results.csv"
    done = run("send", "--csv", str(path), "--results", str(results), env=env)
    assert done.returncode == 2
    for needle in needles:
        assert needle in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert emu.messages() == []
    assert not results.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--csv", "missing.csv"), "cannot read --csv missing.csv"),
        (("--csv", "in.csv", "--to", HANDSET), "one way"),
        (("--bulk", "--to", HANDSET), "--body"),
        (("--bulk", "--to", HANDSET, "--body", "x", "--idempotency-key", "k"), "--job"),
        (("--csv", "in.csv", "--results", "in.csv"), "would overwrite"),
        (("--csv", "in.csv", "--concurrency", "0"), "--concurrency"),
        (("--bulk",), "needs its recipients"),
    ],
)
def test_usage_errors_are_exit_2(
    env: dict[str, str], emu: Emulator, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    """Conflicting or missing options: one clear line, exit 2, nothing sent."""
    (tmp_path / "in.csv").write_text(f"to,body\n{HANDSET},hi\n")
    done = subprocess.run(
        [sys.executable, "-m", "smsbridge", "send", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert needle in done.stderr
    assert "Traceback" not in done.stderr
    assert emu.messages() == []
    assert (tmp_path / "in.csv").read_text() == f"to,body\n{HANDSET},hi\n"


def test_no_providers_is_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    """Without any configured provider: exit 2 naming the variable."""
    path = write_csv(tmp_path / "in.csv", [["to", "body"], [HANDSET, "hi"]])
    bare = {**clean_env(), "XDG_STATE_HOME": env["XDG_STATE_HOME"]}
    done = run("send", "--csv", str(path), env=bare)
    assert done.returncode == 2
    assert "SMSBRIDGE_PROVIDERS" in done.stderr


def test_job_rerun_resumes_and_sends_nothing_new(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """--job: the second run of the same job returns every stored result (resumed) and the
    emulator receives nothing new; a third run with one more row sends only that row."""
    env["SMSBRIDGE_STORE"] = f"sqlite:///{tmp_path / 'jobs.db'}"
    rows = [["to", "body"]] + [[number(i), f"promo {i}"] for i in range(20)]
    path = write_csv(tmp_path / "promo.csv", rows)
    first = run("send", "--csv", str(path), "--job", "promo-1", env=env)
    assert first.returncode == 0, first.stderr
    first_items, first_summary = lines_of(first.stdout)
    assert (first_summary["sent"], first_summary["resumed"]) == (20, 0)
    assert len(emu.messages()) == 20

    second = run("send", "--csv", str(path), "--job", "promo-1", env=env)
    assert second.returncode == 0, second.stderr
    items, summary = lines_of(second.stdout)
    assert (summary["sent"], summary["resumed"], summary["job"]) == (0, 20, "promo-1")
    assert all(item["ok"] and item["resumed"] for item in items)
    ids = {item["index"]: item["provider_message_id"] for item in first_items}
    assert {item["index"]: item["provider_message_id"] for item in items} == ids
    assert len(emu.messages()) == 20

    write_csv(path, [*rows, [number(20), "promo 20"]])
    third = run("send", "--csv", str(path), "--job", "promo-1", env=env)
    assert third.returncode == 0, third.stderr
    _, summary = lines_of(third.stdout)
    assert (summary["sent"], summary["resumed"]) == (1, 20)
    assert len(emu.messages()) == 21


def test_an_ambiguous_message_is_exit_1(env: dict[str, str], emu: Emulator) -> None:
    """A message that may have gone out (accept, then no answer) fails the run (exit 1) and is
    counted as ambiguous, not failed."""
    emu.fault("twilio", "accept_then_hang", times=1)
    env.update({"SMSBRIDGE_PROVIDERS": "twilio", "TWILIO_TIMEOUT": "0.5"})
    args = ("--to", number(1), "--to", number(2), "--to", number(3))
    done = run("send", "--bulk", *args, "--body", "x", "--concurrency", "1", env=env)
    assert done.returncode == 1, done.stderr
    items, summary = lines_of(done.stdout)
    assert (summary["sent"], summary["ambiguous"], summary["failed"]) == (2, 1, 0)
    (ambiguous,) = [item for item in items if not item["ok"]]
    assert ambiguous["failure"] == "ambiguous"
    assert ambiguous["row"] == 1


def test_a_file_that_breaks_midway_reports_what_was_sent(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """Bytes that are not UTF-8 at row 12: the rows before are sent and reported, the summary
    names the error, exit 2."""
    path = tmp_path / "broken.csv"
    good = "".join(f"{number(i)},hi\n" for i in range(10))
    path.write_bytes(f"to,body\n{good}".encode() + b"+14155550100,caf\xe9\n")
    done = run("send", "--csv", str(path), "--concurrency", "1", env=env)
    assert done.returncode == 2
    items, summary = lines_of(done.stdout)
    assert len(items) == summary["done"] == 10
    assert "not UTF-8" in summary["error"]
    assert "row 12" in done.stderr
    assert len(emu.messages()) == 10


POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and terminals")


@POSIX_ONLY
def test_ctrl_c_finishes_in_flight_then_exits_130(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """SIGINT stops taking new rows; the sends in flight finish and are reported; the summary
    says so; exit 130. Every message the emulator accepted has its line."""
    emu.fault("twilio", "latency", seconds=0.2)
    rows = [["to", "body"]] + [[number(i), "slow"] for i in range(200)]
    path = write_csv(tmp_path / "slow.csv", rows)
    results = tmp_path / "results.csv"
    args = ["send", "--csv", str(path), "--concurrency", "4", "--results", str(results)]
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smsbridge", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        )
    watchdog = threading.Timer(60, proc.kill)  # a hung run fails the test, never blocks it
    watchdog.start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # one finished: the sends are under way
        assert json.loads(first)["ok"] is True
        proc.send_signal(signal.SIGINT)
        # Read on through the same buffered stream (communicate() would skip what it holds).
        output = first + proc.stdout.read()
        proc.wait(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    stderr = errors.read_text()
    assert proc.returncode == 130, stderr
    items, summary = lines_of(output)
    assert summary["interrupted"] is True
    assert 1 <= summary["done"] < 200
    assert len(items) == summary["done"]
    assert "stopping" in stderr
    # Nothing was left in flight unreported: what the emulator accepted is what was printed.
    assert len(emu.messages()) == summary["sent"]
    with results.open(newline="") as file:
        assert len(list(csv.reader(file))) == summary["done"] + 1


def run_in_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``python -m smsbridge ARGS`` with stdout and stderr on a pseudo-terminal of 120
    columns; returns the exit code and everything it drew."""
    import fcntl
    import pty
    import termios

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "smsbridge", *args],
        env={**env, "COLUMNS": "120"},
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's other side closed (the process ended)
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = proc.wait(timeout=10)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")


@POSIX_ONLY
def test_terminal_shows_a_progress_bar_and_a_summary(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """On a terminal: a progress bar with the counts, rate and time left, the failed rows above
    it, a summary at the end, and no JSON."""
    rows = [["to", "body"]] + [[number(i), "hi"] for i in range(30)]
    rows[8] = ["12", "bad"]
    path = write_csv(tmp_path / "in.csv", rows)
    code, screen = run_in_terminal(["send", "--csv", str(path)], env)
    assert code == 1, screen
    assert "30/30" in screen  # the total counted by the first pass
    assert "msg/s" in screen
    assert "100%" in screen
    assert "sent=29" in screen
    assert "failed=1 (invalid_phone_number=1)" in screen
    assert "row 9 12: invalid_phone_number" in screen
    assert "30 messages in" in screen
    assert "29 sent, 0 resumed, 1 failed, 0 ambiguous" in screen
    assert "failed by code: invalid_phone_number 1" in screen
    assert '{"index"' not in screen
    assert len(emu.messages()) == 29


@POSIX_ONLY
def test_json_flag_on_a_terminal_prints_json_lines(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    """--json forces JSON lines on a terminal (and then no bar over them)."""
    path = write_csv(tmp_path / "in.csv", [["to", "body"], [number(1), "hi"]])
    code, screen = run_in_terminal(["send", "--csv", str(path), "--json"], env)
    assert code == 0, screen
    lines = [json.loads(line) for line in screen.replace("\r", "").splitlines() if line]
    assert lines[0]["to"] == number(1)
    assert lines[-1]["summary"]["sent"] == 1
    assert "msg/s" not in screen


def test_the_progress_library_is_loaded_only_for_a_bar(env: dict[str, str]) -> None:
    """Neither `import smsbridge`, nor a one-message send, nor a bulk send writing JSON lines
    imports tqdm: only a progress bar on a terminal does."""
    code = (
        "import sys\n"
        "import smsbridge\n"
        "loaded = ['tqdm' in sys.modules]\n"
        "from smsbridge.cli import main\n"
        f"assert main(['send', '--to', '{HANDSET}', '--body', 'one']) == 0\n"
        "loaded.append('tqdm' in sys.modules)\n"
        f"assert main(['send', '--bulk', '--to', '{HANDSET}', '--body', 'many']) == 0\n"
        "loaded.append('tqdm' in sys.modules)\n"
        "print(loaded, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[False, False, False]"


def test_reading_a_csv_keeps_memory_flat(tmp_path: Path) -> None:
    """100,000 rows are read one at a time: the peak memory of reading them all is a small
    fraction of the file's size, and the first pass counts them."""
    from smsbridge.cli._bulk_input import CsvInput, Shared, count_csv

    path = tmp_path / "big.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["to", "body", "reference"])
        writer.writerows(
            [number(i % 10000), f"message number {i}", f"r{i}"] for i in range(100_000)
        )
    size = path.stat().st_size
    assert count_csv(str(path)) == 100_000
    with path.open("rb") as file:
        tracemalloc.start()
        try:
            rows = 0
            for row in CsvInput(file, str(path), Shared()):
                rows += 1
                assert row.row == rows + 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert rows == 100_000
    assert peak < size / 20, (peak, size)
