"""Bulk jobs on Celery: a real redis-server (broker, result backend and store), real
``celery worker`` processes of the ready-made worker module, and the emulator as the provider.

The worker processes build their bridge from the environment (``Bridge.from_env``), like a
deployment; the emulator runs in this process and they reach it over 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celery
import pytest
from _redis_server import RedisServer, redis_executable

from smsbridge import Bridge, ConfigError
from smsbridge.contrib.celery import JobHandle, JobSummary, chunk_task, send_job
from smsbridge.testing import Emulator

WORKER_MODULE = "smsbridge.contrib.celery_worker"
KILL_QUEUE = "jobs-kill"


def _numbers(count: int, *, first: int = 100) -> list[str]:
    return [f"+1415555{first + n:04d}" for n in range(count)]


def _messages(job: str, count: int) -> list[dict[str, Any]]:
    """``count`` distinct messages (each text names its index, to count what arrived)."""
    return [{"to": to, "body": f"{job} #{n}"} for n, to in enumerate(_numbers(count))]


def _received(emu: Emulator, job: str) -> Counter[int]:
    """How many times the emulator received each index of ``job``."""
    prefix = f"{job} #"
    return Counter(
        int(m["text"][len(prefix) :])
        for m in emu.messages("twilio")
        if m["text"].startswith(prefix)
    )


class Worker:
    """One ``celery worker`` process (prefork, two children) of the ready-made worker module,
    in its own process group so that a kill takes its children too."""

    _started = 0

    def __init__(self, env: dict[str, str], log: Path, queue: str = "celery") -> None:
        Worker._started += 1
        self.name = f"jobs{Worker._started}-{os.getpid()}@localhost"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", WORKER_MODULE, "worker"),
                    *("--pool=prefork", "--concurrency=2", "--loglevel=WARNING"),
                    *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                    *("-n", self.name, "-Q", queue),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, app: celery.Celery, timeout: float = 30.0) -> None:
        """Wait until the worker answers a ping (it consumes from then on)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited:\n{self.log.read_text()}")
            if app.control.ping(destination=[self.name], timeout=0.25):
                return
        pytest.fail(f"the worker did not answer a ping in {timeout:g} s:\n{self.log.read_text()}")

    def children(self) -> list[int]:
        """The process ids of the pool's children (Linux)."""
        pid = self.process.pid
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]

    def kill(self) -> None:
        """SIGKILL the worker and its children at once, as a crash or an OOM kill would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then a kill if it takes too long."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        # A prefork child outliving its parent would keep consuming: take the group down.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


class Jobs:
    """What the tests drive: the client app, the emulator, and workers to start."""

    def __init__(self, server: RedisServer, emu: Emulator, logs: Path) -> None:
        base = f"redis://127.0.0.1:{server.port}"
        self.emu = emu
        self.logs = logs
        self.client = celery.Celery(
            "jobs-client", broker=f"{base}/1", backend=f"{base}/2", set_as_current=False
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SMSBRIDGE_", "CELERY"))},
            "CELERY_BROKER_URL": f"{base}/1",
            "CELERY_RESULT_BACKEND": f"{base}/2",
            "SMSBRIDGE_STORE": f"{base}/0",
            **{k: v for k, v in emu.environment().items() if k.startswith("TWILIO_")},
            "SMSBRIDGE_PROVIDERS": "twilio",
        }
        self.workers: list[Worker] = []

    def worker(self, queue: str = "celery") -> Worker:
        """Start a worker on ``queue`` and wait until it is ready."""
        worker = Worker(self.env, self.logs / f"worker{len(self.workers)}.log", queue)
        self.workers.append(worker)
        worker.wait_ready(self.client)
        return worker


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jobs]:
    """One redis-server, one emulator and one worker (on the default queue) for the module."""
    server = RedisServer(redis_executable())
    server.start()
    try:
        with Emulator(progress_delay=0, deliver_callbacks=False) as emu:
            kit = Jobs(server, emu, tmp_path_factory.mktemp("celery-jobs"))
            try:
                kit.worker()
                yield kit
            finally:
                for worker in kit.workers:
                    worker.stop()
                # AsyncResults left in reference cycles unsubscribe from the result backend
                # when collected: collect them while Redis is still there to answer.
                gc.collect()
                kit.client.close()
    finally:
        server.stop()


@pytest.fixture
def j(jobs: Jobs) -> Iterator[Jobs]:
    """The module's kit with the emulator reset around the test."""
    jobs.emu.reset()
    yield jobs
    jobs.emu.reset()


def test_a_job_is_sent_once_and_a_rerun_resumes_it(j: Jobs) -> None:
    """200 messages in chunks of 50: each received once; the rerun (chunked otherwise) sends
    nothing and finds every message sent."""
    messages = _messages("first", 200)
    handle = send_job(j.client, iter(messages), job="first", chunk_size=50)
    assert (handle.total, len(handle.results)) == (200, 4)
    summary = handle.wait(timeout=20)
    assert (summary.sent, summary.resumed, summary.failed, summary.ambiguous) == (200, 0, 0, 0)
    assert (summary.done, summary.unfinished, summary.complete) == (200, 0, True)
    assert summary.failures == []
    assert summary.chunk_errors == []
    assert _received(j.emu, "first") == Counter(range(200))

    # What a chunk task returns is plain JSON data, indexed in the whole job.
    chunk = handle.results[1].get()
    assert json.loads(json.dumps(chunk)) == chunk
    assert (chunk["job"], chunk["start"], chunk["count"], chunk["sent"]) == ("first", 50, 50, 50)
    assert json.loads(json.dumps(summary.as_dict())) == summary.as_dict()

    # Keys follow each message's position in the job, not in its chunk: any chunking resumes.
    again = send_job(j.client, messages, job="first", chunk_size=30).wait(timeout=20)
    assert len(j.emu.messages("twilio")) == 200
    assert (again.sent, again.resumed, again.failed, again.ambiguous) == (0, 200, 0, 0)

    # And they are the keys send_many gives the same job on one machine.
    local = Bridge.from_env(j.env)
    with local:
        items = list(local.send_many(messages, job="first"))
    assert len(items) == 200
    assert all(item.resumed for item in items)
    assert len(j.emu.messages("twilio")) == 200


def test_failures_are_reported_with_their_indexes(j: Jobs) -> None:
    """Invalid inputs and a provider's rejection come back with their index in the job; the
    others are sent, whichever chunk they were in."""
    messages: list[Any] = _messages("mixed", 40)
    messages[3] = {"to": "12", "body": "not a number"}
    opted_out = messages[17]["to"]
    j.emu.opt_out("twilio", opted_out)
    messages[25] = 42  # not a message at all
    messages[31] = {"to": messages[31]["to"], "body": "hi", "colour": "red"}
    # The task object itself (apply_async) works as well as the app (send_task by name).
    task = chunk_task(
        celery.Celery("jobs-tasks", set_as_current=False), _never, name="smsbridge.send_chunk"
    )
    task.app.conf.update(
        broker_url=j.client.conf.broker_url, result_backend=j.client.conf.result_backend
    )
    summary = send_job(task, messages, job="mixed", chunk_size=10, concurrency=3).wait(timeout=20)

    assert (summary.sent, summary.resumed, summary.failed, summary.ambiguous) == (36, 0, 4, 0)
    assert [(f["index"], f["code"], f["failure"]) for f in summary.failures] == [
        (3, "invalid_phone_number", "rejected"),
        (17, "opted_out", "rejected"),
        (25, "invalid_request", "rejected"),
        (31, "invalid_request", "rejected"),
    ]
    assert "int" in summary.failures[2]["message"]
    assert "colour" in summary.failures[3]["message"]
    assert summary.failed_by_code == {
        "invalid_phone_number": 1,
        "opted_out": 1,
        "invalid_request": 2,
    }
    received = _received(j.emu, "mixed")
    assert received == Counter(set(range(40)) - {3, 17, 25, 31})

    # A rejection is not a send: rerunning the job tries it again (and the rest resume).
    j.emu.opt_in("twilio", opted_out)
    rerun = send_job(j.client, messages, job="mixed", chunk_size=10).wait(timeout=20)
    assert (rerun.sent, rerun.resumed, rerun.failed) == (1, 36, 3)
    assert [f["index"] for f in rerun.failures] == [3, 25, 31]
    assert _received(j.emu, "mixed")[17] == 1


def test_a_chunk_whose_worker_child_dies_is_delivered_again(j: Jobs) -> None:
    """SIGKILL a pool child mid-chunk: its chunk comes back (acks_late, reject_on_worker_lost)
    and the one run finishes the job, resuming what the dead child sent, no message twice."""
    if not Path("/proc/self/task").is_dir():
        pytest.skip("finding the pool's children needs Linux's /proc")
    messages = _messages("child", 200)
    j.emu.fault("twilio", "latency", seconds=0.05)
    try:
        handle = send_job(j.client, messages, job="child", chunk_size=50, concurrency=4)
        deadline = time.monotonic() + 20
        while len(j.emu.messages("twilio")) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(j.workers[0].children()[0], signal.SIGKILL)
        summary = handle.wait(timeout=30)
    finally:
        j.emu.clear_faults("twilio")
    received = _received(j.emu, "child")
    assert max(received.values()) == 1, "a message was sent twice"
    assert (summary.failed, summary.unfinished, summary.chunk_errors) == (0, 0, [])
    assert summary.sent + summary.resumed + summary.ambiguous == 200
    assert summary.resumed > 0, "the chunk was not run again"
    ambiguous = {f["index"] for f in summary.failures}
    assert summary.ambiguous == len(ambiguous)
    assert len(set(received) - ambiguous) == summary.sent + summary.resumed


def _never() -> Bridge:
    raise AssertionError("the test process runs no chunk")


def test_a_killed_worker_then_a_rerun_sends_nothing_twice(j: Jobs) -> None:
    """SIGKILL a worker mid-job, start another, rerun the job: what was sent resumes, what was
    in flight is reported ambiguous and not sent again, the rest is sent; no message twice."""
    messages = _messages("killed", 200)
    # Slow answers (each recorded before its delay), so the kill finds sends in flight.
    j.emu.fault("twilio", "latency", seconds=0.05)
    try:
        first = j.worker(KILL_QUEUE)
        send_job(j.client, messages, job="killed", chunk_size=50, concurrency=4, queue=KILL_QUEUE)
        deadline = time.monotonic() + 20
        while len(j.emu.messages("twilio")) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.kill()
        before = _received(j.emu, "killed")
        assert 40 <= sum(before.values()) < 200, "the kill came too late to test anything"
        # Chunks the dead worker had not reserved are dropped, so that the rerun alone
        # finishes the job (had they stayed, they would run again harmlessly, under the same
        # keys). Those it had reserved stay unacknowledged in Redis until the visibility timeout.
        with j.client.connection_for_write() as connection:
            connection.default_channel.queue_purge(KILL_QUEUE)

        j.worker(KILL_QUEUE)
        summary = send_job(j.client, messages, job="killed", chunk_size=50, queue=KILL_QUEUE).wait(
            timeout=30
        )
    finally:
        j.emu.clear_faults("twilio")

    received = _received(j.emu, "killed")
    assert max(received.values()) == 1, "a message was sent twice"
    ambiguous = {f["index"] for f in summary.failures if f["failure"] == "ambiguous"}
    assert {f["code"] for f in summary.failures} <= {"send_interrupted"}
    assert (summary.failed, summary.unfinished) == (0, 0)
    assert summary.sent + summary.resumed + summary.ambiguous == 200
    assert summary.ambiguous == len(ambiguous) > 0
    assert summary.resumed > 0
    assert summary.sent > 0
    # Everything sent or resumed arrived; an ambiguous one arrived at most once, before the kill.
    assert set(range(200)) - ambiguous <= set(received)
    assert len(set(received) - ambiguous) == summary.sent + summary.resumed
    assert set(received) & ambiguous <= set(before)


def test_waiting_is_bounded_and_the_summary_says_how_far_the_job_is(j: Jobs) -> None:
    """Chunks no worker takes: wait(timeout) raises TimeoutError; summary() counts them
    unfinished. ``**options`` reach apply_async (here the queue)."""
    handle = send_job(j.client, _messages("nobody", 5), job="nobody", chunk_size=2, queue="none")
    assert len(handle.results) == 3
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="3 of 3 chunks unfinished"):
        handle.wait(timeout=0.3, interval=0.05)
    assert time.monotonic() - started < 5
    assert not handle.ready()
    summary = handle.summary()
    assert (summary.total, summary.done, summary.unfinished, summary.complete) == (5, 0, 5, False)
    for result in handle.results:
        result.revoke()
        # A result waited for stays subscribed (Celery keeps it) until it arrives: let go, so
        # that it does not try to unsubscribe from a Redis the module has stopped.
        result.backend.remove_pending_result(result)


def test_an_empty_job_has_nothing_to_wait_for() -> None:
    """No messages, no chunks: the summary is all zeros at once (nothing is enqueued)."""
    app = celery.Celery("jobs-empty", broker="memory://", set_as_current=False)
    handle = send_job(app, [], job="empty")
    assert isinstance(handle, JobHandle)
    assert handle.results == []
    assert handle.ready()
    assert handle.wait(timeout=1) == JobSummary(job="empty", total=0)


def test_bad_arguments_are_config_errors() -> None:
    """Bad job names, sizes and task options fail before anything is enqueued."""
    app = celery.Celery("jobs-config", broker="memory://", set_as_current=False)
    for options in (
        {"job": ""},
        {"job": "x" * 101},
        {"job": "line\nbreak"},
        {"job": "ok", "chunk_size": 0},
        {"job": "ok", "chunk_size": True},
        {"job": "ok", "concurrency": 0},
    ):
        with pytest.raises(ConfigError) as caught:
            send_job(app, _exploding(), **options)
        assert caught.value.variable in ("job", "chunk_size", "concurrency")
    with pytest.raises(ConfigError):
        chunk_task(app, _anything("not a bridge"))
    with pytest.raises(ConfigError):
        chunk_task(app, lambda: Bridge([]), concurrency=0)
    with pytest.raises(ConfigError) as reserved:
        chunk_task(app, lambda: Bridge([]), bind=False)
    assert "chunk_task" in reserved.value.message
    task = chunk_task(app, lambda: Bridge([]), name="t.chunk")
    assert (task.acks_late, task.reject_on_worker_lost) == (True, True)
    with pytest.raises(ConfigError) as taken:
        chunk_task(app, lambda: Bridge([]), name="t.chunk")
    assert taken.value.variable == "name"


def _exploding() -> Iterator[Any]:
    raise AssertionError("the messages were read before the arguments were checked")
    yield  # pragma: no cover


def _anything(value: Any) -> Any:
    """``value`` typed as Any, to pass what the signature forbids."""
    return value
