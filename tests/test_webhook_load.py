"""``smsbridge serve`` and the FastAPI adapter under a reduced webhook load: correctness only.

The mix of :mod:`benchmarks._webhook_load` (genuine webhooks of all three providers, inbound
and statuses; 10% exact re-deliveries, 5% forgeries, 2% replays with an unsigned header
changed), 2,000 requests from 20 concurrent senders, against each real server process. No
timing is asserted: the benchmark reports the figures.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks._webhook_load import Req, build_mix, check, running, send_all

TOTAL = 2_000
CONCURRENCY = 20


def _load(target: str, tmp_path: Path) -> tuple[list[Req], list[int], dict[str, Any]]:
    """Send the mix to a fresh ``target`` server; the statuses and :func:`check`'s verdict
    (with ``merged``: output lines that held more than one event)."""
    mix = build_mix(TOTAL)
    genuine = sum(1 for r in mix if r.kind == "genuine")
    with running(target, tmp_path) as server:  # type: ignore[arg-type]
        statuses, _, _ = asyncio.run(send_all(server.url, mix, CONCURRENCY))
        # The fast mode hands an event on just after answering: give the last ones a moment.
        deadline = time.monotonic() + 5
        while len(server.handed_on()[0]) < genuine and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # and a little longer, so an extra hand-on would show too
        handed, merged = server.handed_on()
    return mix, statuses, {**check(mix, statuses, handed), "merged": merged}


@pytest.mark.slow
@pytest.mark.parametrize("target", ["serve", "adapter"])
def test_every_genuine_event_once_and_nothing_else(target: str, tmp_path: Path) -> None:
    mix, statuses, result = _load(target, tmp_path)
    kinds = Counter(r.kind for r in mix)
    assert min(kinds["redelivery"], kinds["forged"], kinds["replay"]) > 0
    assert {r.provider for r in mix} == {"twilio", "telnyx", "vonage"}
    # The rules one by one, so a failure names the broken one.
    problems = result["problems"]
    assert isinstance(problems, dict)
    assert not any(s >= 500 or s < 0 for s in statuses), problems
    assert "forgery not refused with 403" not in problems, problems
    assert "genuine, re-delivery or replay not answered 2xx" not in problems, problems
    assert "genuine event handed on more than once" not in problems, problems
    assert "genuine event acknowledged but never handed on" not in problems, problems
    assert "forgery handed on" not in problems, problems
    assert result["ok"], problems
    assert result["handed_on"] == kinds["genuine"]
    if target == "serve":  # its stdout is read line by line: one event per line, always
        assert result["merged"] == 0
