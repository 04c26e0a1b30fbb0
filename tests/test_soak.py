"""The failover soak, briefly (docs/reliability.md): ~1,500 sends per case through three
providers under the chaos schedule, reconciled with what the emulator accepted.

Runs through :func:`benchmarks.soak.run_soak`, the code behind ``python -m benchmarks.soak``,
so CI checks the same reconciliation the long runs report.
"""

from __future__ import annotations

from typing import Any

import pytest
from _redis_server import redis_executable

from benchmarks.soak import run_soak, text_report

MESSAGES = 1500


def _check(report: dict[str, Any]) -> None:
    checks = report["checks"]
    summary = text_report(report)
    assert not report["crashed"], summary
    assert checks["missing_reports"] == 0, summary
    assert checks["repeated_reports"] == 0, summary
    assert checks["duplicates"] == 0, summary
    assert checks["lost"] == 0, summary
    assert checks["refused_accepted"] == 0, summary
    assert checks["accepted_unreported"] == 0, summary
    # The chaos really ran: faults were hit and the providers still carried most messages.
    assert sum(report["faults"]["requests_hit"].values()) > 0, summary
    assert report["outcomes"].get("sent", 0) > MESSAGES / 10, summary


@pytest.mark.slow
def test_soak_memory_one_process() -> None:
    _check(run_soak(messages=MESSAGES, processes=1, store="memory"))


@pytest.mark.slow
def test_soak_sqlite_shared_by_four_processes() -> None:
    _check(run_soak(messages=MESSAGES, processes=4, store="sqlite", concurrency=8))


@pytest.mark.slow
def test_soak_redis_four_processes_restarted_midway() -> None:
    redis_executable()  # skips without redis-server; fails under CI=true
    report = run_soak(
        messages=MESSAGES, processes=4, store="redis", restart_redis=True, concurrency=8
    )
    assert len(report["load"]["redis_restarts"]) == 1, text_report(report)
    _check(report)
