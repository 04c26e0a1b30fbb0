"""The Celery task: a real app, in-memory broker and results, an in-process worker, the emulator."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import celery
import httpx
import pytest
from _redis_server import RedisServer, redis_executable
from _routing_kit import TO, TWILIO_FROM, Counter, twilio
from celery.contrib.testing.worker import start_worker
from celery.signals import setup_logging, task_retry

from smsbridge import (
    AuthError,
    Bridge,
    ConfigError,
    OptedOut,
    ProviderUnavailable,
)
from smsbridge.contrib.celery import send_task
from smsbridge.providers import Twilio
from smsbridge.routing._idempotency import store_key
from smsbridge.stores import MemoryStore, RedisStore
from smsbridge.testing import Emulator

OTHER = "+14155552672"
BAD_TOKEN = "wrong0token0" * 3
BACKOFF = 0.01
# Short, so the accept-then-hang tests take a fraction of a second each.
HANG_TIMEOUT = httpx.Timeout(0.3, connect=2.0)


@dataclass
class Kit:
    """What the tests drive: the emulator, the registered tasks and what the worker did."""

    emu: Emulator
    counter: Counter
    memory: MemoryStore
    tasks: dict[str, Any]
    made: list[int]
    retries: list[tuple[str, float]] = field(default_factory=list)

    def run(self, task: str, **kwargs: Any) -> Any:
        """Enqueue on the named task and return its AsyncResult, finished."""
        result = self.tasks[task].delay(**kwargs)
        result.get(timeout=15, interval=0.01, propagate=False)
        return result

    def retried(self, task_id: str) -> list[float]:
        """The countdowns of the retries of one task, in order."""
        return [when for tid, when in self.retries if tid == task_id]


def _bridge(emu: Emulator, counter: Counter, store: Any, **options: Any) -> Bridge:
    provider = twilio(emu, timeout=options.pop("timeout", HANG_TIMEOUT))
    # retry=None and no breaker: every retry here is the task's, and tests stay independent.
    return Bridge(
        provider, store=store, http_client=counter.client(), retry=None, breaker=None, **options
    )


@pytest.fixture(scope="module")
def kit() -> Iterator[Kit]:
    """One app and one worker for the module, with a task per bridge configuration."""
    server = RedisServer(redis_executable())
    server.start()
    app = celery.Celery(
        "smsbridge-tests", broker="memory://", backend="cache+memory://", set_as_current=False
    )
    app.conf.update(
        task_serializer="json",  # the task's arguments must be JSON
        accept_content=["json"],
        result_serializer="pickle",  # errors come back with every attribute
        result_accept_content=["json", "pickle"],
        broker_transport_options={"polling_interval": 0.01},
        worker_redirect_stdouts=False,
    )
    with Emulator(progress_delay=0.02, deliver_callbacks=False) as emu:
        counter, memory = Counter(emu), MemoryStore()
        shared = RedisStore(server.url)
        made: list[int] = []

        def factory() -> Bridge:
            made.append(os.getpid())
            return _bridge(emu, counter, MemoryStore())

        fast: dict[str, Any] = {"backoff": BACKOFF, "jitter": False, "max_retries": 3}
        tasks = {
            "memory": send_task(app, _bridge(emu, counter, memory), name="t.memory", **fast),
            "shared": send_task(app, _bridge(emu, counter, shared), name="t.shared", **fast),
            "no_key": send_task(
                app, _bridge(emu, counter, shared), name="t.no_key", auto_key=False, **fast
            ),
            "at_least_once": send_task(
                app,
                _bridge(emu, counter, shared, delivery="at_least_once"),
                name="t.alo",
                **fast,
            ),
            "bad_auth": send_task(
                app,
                Bridge(
                    Twilio(
                        emu.twilio_account_sid,
                        BAD_TOKEN,
                        base_url=emu.twilio_url,
                        from_=TWILIO_FROM,
                    ),
                    retry=None,
                    breaker=None,
                ),
                name="t.bad_auth",
                backoff=BACKOFF,
                jitter=False,
                max_retries=1,
            ),
            "factory": send_task(app, factory, name="t.factory", **fast),
        }
        kit = Kit(emu, counter, memory, tasks, made)

        def on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
            kit.retries.append((request.id, float(reason.when)))

        task_retry.connect(on_retry, weak=False)
        # A receiver of setup_logging keeps the worker from reconfiguring the root logger,
        # which would outlive this module (and its level hide other tests' warnings).
        setup_logging.connect(_leave_logging_alone, weak=False)
        try:
            with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
                yield kit
        finally:
            setup_logging.disconnect(_leave_logging_alone)
            task_retry.disconnect(on_retry)
            server.stop()


def _leave_logging_alone(**_: Any) -> None:
    return None


@pytest.fixture
def k(kit: Kit) -> Iterator[Kit]:
    """The module's kit with the emulator and the request counter reset."""
    kit.emu.reset()
    kit.counter.requests.clear()
    yield kit
    kit.emu.reset()


def test_success_returns_the_result_as_json_ready_dict(k: Kit) -> None:
    """A send returns the SendResult as plain JSON data, without the provider's raw answer."""
    result = k.run("memory", to=TO, body="Your code is 123456", reference="order-1")
    data = result.get()
    assert result.successful()
    assert json.loads(json.dumps(data)) == data
    assert "raw" not in data
    assert (data["provider"], data["to"], data["status"], data["reference"]) == (
        "twilio",
        TO,
        "queued",
        "order-1",
    )
    sent = k.emu.messages("twilio")
    assert [m["id"] for m in sent] == [data["provider_message_id"]]
    assert sent[0]["text"] == "Your code is 123456"


def test_503_is_retried_with_backoff_under_the_task_id_key(k: Kit) -> None:
    """Two 503s are retried after a doubling backoff; one message goes out, keyed by task id."""
    k.emu.fault("twilio", "http_error", status=503, times=2)
    result = k.run("memory", to=TO, body="hi")
    assert result.successful()
    assert k.retried(result.id) == [BACKOFF, 2 * BACKOFF]
    assert k.counter.sends("twilio") == 3
    assert len(k.emu.messages("twilio")) == 1
    record = json.loads(k.memory.get(store_key(f"celery:{result.id}")) or "{}")
    assert record["state"] == "sent"
    assert record["result"]["provider_message_id"] == result.get()["provider_message_id"]


def test_rate_limit_waits_for_retry_after(k: Kit) -> None:
    """A 429 is retried after the provider's Retry-After, not the backoff."""
    k.emu.fault("twilio", "rate_limit", retry_after=1, times=1)
    result = k.run("memory", to=TO, body="hi")
    assert result.successful()
    assert k.retried(result.id) == [1.0]
    assert len(k.emu.messages("twilio")) == 1


def test_opted_out_recipient_fails_at_once(k: Kit) -> None:
    """A rejection (opted out) is not retried: one request, the task fails with OptedOut."""
    k.emu.opt_out("twilio", OTHER)
    result = k.run("memory", to=OTHER, body="hi")
    assert result.failed()
    assert isinstance(result.result, OptedOut)
    assert result.result.failure == "rejected"
    assert k.retried(result.id) == []
    assert k.counter.sends("twilio") == 1
    assert k.emu.messages("twilio") == []


def test_an_outage_is_retried_up_to_max_retries_then_raised(k: Kit) -> None:
    """A 503 that persists is retried max_retries times, then the task fails with it."""
    k.emu.fault("twilio", "http_error", status=503)
    try:
        result = k.run("memory", to=TO, body="hi")
    finally:
        k.emu.clear_faults("twilio")
    assert result.failed()
    assert isinstance(result.result, ProviderUnavailable)
    assert k.retried(result.id) == [BACKOFF, 2 * BACKOFF, 4 * BACKOFF]
    assert k.emu.messages("twilio") == []


def test_refused_credentials_fail_at_once_without_secrets(k: Kit) -> None:
    """Refused credentials are not retried (waiting cannot fix them); the error is token-free."""
    result = k.run("bad_auth", to=TO, body="hi")
    assert result.failed()
    error = result.result
    assert isinstance(error, AuthError)
    assert error.failure == "refused"
    assert error.http_status == 401
    assert k.retried(result.id) == []
    assert k.counter.sends("twilio") == 0  # that bridge has its own client
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.code, again.failure) == (AuthError, error.code, "refused")
    for text in (str(error), repr(error), pickle.dumps(error).decode("latin-1")):
        assert BAD_TOKEN not in text


def test_ambiguous_with_key_is_retried_and_not_sent_twice(k: Kit) -> None:
    """With a key and a shared store, the retry gets the stored outcome: one message, no resend."""
    k.emu.fault("twilio", "accept_then_hang", times=1)
    result = k.run("shared", to=TO, body="hi", idempotency_key="shipped-order-7")
    assert result.failed()
    error = result.result
    assert isinstance(error, ProviderUnavailable)
    assert error.failure == "ambiguous"
    assert "not sent again" in error.message
    assert len(k.retried(result.id)) == 1  # the replay of the stored outcome ends it
    assert k.counter.sends("twilio") == 1
    assert len(k.emu.messages("twilio")) == 1


def test_ambiguous_at_least_once_resends_once_under_the_key(k: Kit) -> None:
    """With delivery="at_least_once" the retry takes the key over and sends again, once."""
    k.emu.fault("twilio", "accept_then_hang", times=1)
    result = k.run("at_least_once", to=TO, body="hi")
    assert result.successful()
    assert len(k.retried(result.id)) == 1
    assert k.counter.sends("twilio") == 2
    assert len(k.emu.messages("twilio")) == 2


def test_ambiguous_without_key_is_not_retried(k: Kit, caplog: pytest.LogCaptureFixture) -> None:
    """Without an idempotency key an ambiguous failure is raised at once, with a warning."""
    caplog.set_level(logging.WARNING, logger="smsbridge.contrib")
    k.emu.fault("twilio", "accept_then_hang", times=1)
    result = k.run("no_key", to=TO, body="hi")
    assert isinstance(result.result, ProviderUnavailable)
    assert result.result.failure == "ambiguous"
    assert k.retried(result.id) == []
    assert k.counter.sends("twilio") == 1
    assert any("no idempotency key" in r.getMessage() for r in caplog.records)


def test_ambiguous_with_a_per_process_store_is_not_retried(
    k: Kit, caplog: pytest.LogCaptureFixture
) -> None:
    """A MemoryStore cannot stop another worker process from re-sending: no retry."""
    caplog.set_level(logging.WARNING, logger="smsbridge.contrib")
    k.emu.fault("twilio", "accept_then_hang", times=1)
    result = k.run("memory", to=TO, body="hi", idempotency_key="otp-42")
    assert isinstance(result.result, ProviderUnavailable)
    assert k.retried(result.id) == []
    assert k.counter.sends("twilio") == 1
    assert any("store is per process" in r.getMessage() for r in caplog.records)


def test_same_business_key_enqueued_twice_sends_once(k: Kit) -> None:
    """Two tasks with one idempotency key send one message; the second returns the first."""
    first = k.run("shared", to=TO, body="Shipped", idempotency_key="shipped-order-8").get()
    second = k.run("shared", to=TO, body="Shipped", idempotency_key="shipped-order-8").get()
    assert second["provider_message_id"] == first["provider_message_id"]
    assert second["attempts"] == []
    assert k.counter.sends("twilio") == 1


def test_factory_is_called_lazily_once_per_process(k: Kit) -> None:
    """The factory runs on the first task of the process, not at registration, and only once."""
    assert k.made == []
    for _ in range(2):
        assert k.run("factory", to=TO, body="hi").successful()
    assert k.made == [os.getpid()]
    assert k.tasks["factory"].get_bridge() is k.tasks["factory"].get_bridge()


FORK_SCRIPT = """
import os
import celery
from smsbridge import Bridge
from smsbridge.providers import Twilio
from smsbridge.contrib.celery import send_task

made = []

def factory():
    made.append(os.getpid())
    return Bridge(Twilio("AC" + "0" * 32, "x" * 32, from_="+15017122661"))

task = send_task(celery.Celery("fork", broker="memory://", set_as_current=False), factory)
print(len(made), end=" ")
parent = task.get_bridge()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    child = task.get_bridge()
    os.write(write, b"own" if child is not parent and made[-1] == os.getpid() else b"shared")
    os._exit(0)
os.waitpid(pid, 0)
print(len(made), os.read(read, 10).decode(), task.get_bridge() is parent)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_makes_its_own_bridge() -> None:
    """After a fork (the prefork pool) the child calls the factory again; the parent keeps its."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORK_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1", "own", "True"]


def test_bad_arguments_are_config_errors() -> None:
    """A bridge that is not one, reserved options, bad numbers and a taken name are refused."""
    app = celery.Celery("config-tests", broker="memory://", set_as_current=False)
    with pytest.raises(ConfigError) as caught:
        send_task(app, _anything("not a bridge"))
    assert caught.value.variable == "bridge"
    for options in (
        {"bind": False},
        {"max_retries": -1},
        {"backoff": 0},
        {"max_backoff": float("inf")},
    ):
        with pytest.raises(ConfigError):
            send_task(app, lambda: Bridge([]), **options)
    send_task(app, lambda: Bridge([]), name="t.taken")
    with pytest.raises(ConfigError) as taken:
        send_task(app, lambda: Bridge([]), name="t.taken")
    assert taken.value.variable == "name"


def test_factory_returning_something_else_is_a_config_error() -> None:
    """A factory that returns no Bridge fails the task with a ConfigError, not an AttributeError."""
    app = celery.Celery("factory-tests", broker="memory://", set_as_current=False)
    task = send_task(app, _anything(lambda: "nope"), name="t.nope")
    with pytest.raises(ConfigError) as caught:
        task.get_bridge()
    assert "str" in caught.value.message


def _anything(value: Any) -> Any:
    """``value`` typed as Any, to pass what the signature forbids."""
    return value
