"""Resumable jobs across real processes: a job SIGKILLed in the middle and run again sends
every message at most once, returns what was sent, and reports what may have gone out."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _redis_server import RedisServer

from smsbridge.testing.emulator import Emulator

N = 60
CONCURRENCY = 5

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from smsbridge import Bridge
    from smsbridge.providers import Twilio
    from smsbridge.stores import store_from_url

    sid, token, url, store, n, concurrency = sys.argv[1:]
    sms = Bridge(
        Twilio(sid, token, from_="+15017122661", base_url=url), store=store_from_url(store)
    )
    messages = [{"to": f"+1415555{i:04d}", "body": f"hello {i}"} for i in range(int(n))]
    for item in sms.send_many(messages, concurrency=int(concurrency), job="kill-test"):
        error = item.error
        print(json.dumps({
            "index": item.index,
            "ok": item.ok,
            "resumed": item.resumed,
            "id": item.result.provider_message_id if item.result else None,
            "code": error.code if error else None,
            "failure": error.failure if error else None,
        }), flush=True)
    """
)


def _run(emu: Emulator, store: str) -> subprocess.Popen[str]:
    args = [emu.twilio_account_sid, emu.twilio_auth_token, emu.twilio_url, store]
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, *args, str(N), str(CONCURRENCY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.mark.slow
def test_a_killed_job_rerun_sends_nothing_twice(store_url: str) -> None:
    with Emulator(progress_delay=0, deliver_callbacks=False) as emu:
        # Slow answers, so the kill lands with sends in flight.
        emu.fault("twilio", "latency", seconds=0.15)
        first = _run(emu, store_url)
        deadline = time.monotonic() + 60
        while len(emu.messages("twilio")) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        out, _ = first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        before_kill = _lines(out)
        assert 0 < len(before_kill) < N  # killed in the middle

        emu.clear_faults()
        second = _run(emu, store_url)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        rerun = _lines(out)
        received = Counter(m["text"] for m in emu.messages("twilio"))

    assert sorted(item["index"] for item in rerun) == list(range(N))
    assert max(received.values()) == 1, "a message went out twice"
    # What the first run reported sent comes back as stored, with the same provider id.
    by_index = {item["index"]: item for item in rerun}
    for item in before_kill:
        assert item["ok"]
        assert by_index[item["index"]]["resumed"]
        assert by_index[item["index"]]["id"] == item["id"]
    # Only the sends in flight at the kill are unknown: reported ambiguous, not sent again.
    ambiguous = [item for item in rerun if not item["ok"]]
    assert len(ambiguous) <= CONCURRENCY
    assert all(
        item["code"] == "send_interrupted" and item["failure"] == "ambiguous" for item in ambiguous
    )
    sent_now = [item for item in rerun if item["ok"] and not item["resumed"]]
    resumed = [item for item in rerun if item["resumed"]]
    assert len(sent_now) + len(resumed) + len(ambiguous) == N
    # Every sent message is at the provider once; an ambiguous one at most once.
    for item in sent_now + resumed:
        assert received[f"hello {item['index']}"] == 1
    assert sum(received.values()) <= N
