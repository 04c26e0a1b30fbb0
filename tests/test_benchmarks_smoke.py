"""The benchmark suite runs and reports in the documented shape (no timing is asserted).

``python -m benchmarks --quick --only webhooks`` is the cheapest real run (a few seconds, no
server): it goes through the same driver, child process, table and JSON as the full suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
# What the webhooks benchmark compares against (benchmarks/_webhooks.py).
BASELINE_SDKS = ("twilio", "telnyx", "vonage_jwt")
ROW_KEYS = {
    "benchmark",
    "figure_name",
    "figure",
    "baseline_name",
    "baseline",
    "unit",
    "ratio",
    "target",
    "op",
    "limit",
    "result",
}


def run_suite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def quick_webhooks(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The printed table and the JSON of a quick webhooks-only run (its baselines are the
    providers' SDKs: the bench extra)."""
    for sdk in BASELINE_SDKS:
        require(sdk, "bench")
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = run_suite("--quick", "--only", "webhooks", "--json", str(out))
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(out.read_text())


@pytest.mark.slow
def test_the_json_has_the_machine_the_date_and_every_row(
    quick_webhooks: tuple[str, dict[str, Any]],
) -> None:
    _, report = quick_webhooks
    assert set(report) >= {"date", "command", "quick", "machine", "benchmarks", "summary"}
    assert report["quick"] is True
    assert set(report["machine"]) >= {"cpu_model", "cpu_count", "python", "packages"}
    assert report["machine"]["packages"]["twilio"]
    assert list(report["benchmarks"]) == ["webhooks"]
    webhooks = report["benchmarks"]["webhooks"]
    assert set(webhooks["figures"]["seconds_per_call"]) == {"twilio", "telnyx", "vonage"}
    rows = report["summary"]["rows"]
    assert rows == webhooks["rows"]
    assert {r["benchmark"].split(",")[1].split()[0] for r in rows} == {"Twilio", "Telnyx", "Vonage"}
    for row in rows:
        assert set(row) >= ROW_KEYS
        assert row["figure"] > 0
        assert row["baseline"] > 0
        assert row["result"] in {"PASS", "MISS", "-"}


@pytest.mark.slow
def test_each_verdict_follows_from_its_ratio_and_target(
    quick_webhooks: tuple[str, dict[str, Any]],
) -> None:
    _, report = quick_webhooks
    rows = report["summary"]["rows"]
    targeted = [r for r in rows if r["target"] is not None]
    assert len(targeted) == 3  # Twilio <= 0.5x, Telnyx <= 1.6x and >= 5x; Vonage is context
    for row in rows:
        assert row["ratio"] == pytest.approx(row["figure"] / row["baseline"])
        if row["target"] is None:
            assert row["result"] == "-"
            continue
        met = row["ratio"] >= row["limit"] if row["op"] == ">=" else row["ratio"] <= row["limit"]
        assert row["result"] == ("PASS" if met else "MISS")
    summary = report["summary"]
    assert summary["passed"] + summary["missed"] == len(targeted)
    assert summary["failed_to_run"] == []


@pytest.mark.slow
def test_the_table_is_printed(quick_webhooks: tuple[str, dict[str, Any]]) -> None:
    stdout, report = quick_webhooks
    header = next(line for line in stdout.splitlines() if line.startswith("benchmark"))
    assert header.split() == [
        "benchmark",
        "figure",
        "value",
        "baseline",
        "value",
        "ratio",
        "target",
        "result",
    ]
    for row in report["summary"]["rows"]:
        assert any(
            row["figure_name"] in line and row["result"] in line for line in stdout.splitlines()
        )


def test_an_unknown_benchmark_is_refused() -> None:
    done = run_suite("--only", "nonsense")
    assert done.returncode != 0
    assert "unknown benchmark nonsense" in done.stderr
