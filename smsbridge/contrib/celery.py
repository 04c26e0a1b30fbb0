"""Send SMS from a Celery task queue, retrying only what is safe to retry.

Example::

    from smsbridge import Bridge
    from smsbridge.contrib.celery import send_task
    from smsbridge.stores import RedisStore

    def make_bridge() -> Bridge:  # called once per worker process, on its first task
        return Bridge.from_env(store=RedisStore("redis://redis.internal:6379/0"))

    send_sms = send_task(app, make_bridge)
    send_sms.delay(to="+14155552671", body="Shipped!", idempotency_key=f"shipped-{order.id}")

The task takes the keyword arguments of ``smsbridge.Bridge.send`` and returns the
``SendResult`` as a JSON-ready dict. A failure is retried (``self.retry``, at
most ``max_retries`` times) according to its class:

* ``refused`` for a reason that time can fix (nothing was sent: 503, 429, connection refused,
  every provider unavailable, the store unreachable, the same key still in flight): after the
  provider's ``retry_after``, or after an exponential backoff. Refused credentials or an
  unprovisioned sender fail at once: waiting does not change them.
* ``rejected`` (bad number, opted out, content blocked, ...): never; the task fails at once.
* ``ambiguous`` (the message may have gone out): only when the send has an idempotency key
  and the bridge's store is shared between processes (not a ``MemoryStore``). The retry is
  answered by the key's record in the store: with the default ``delivery="at_most_once"`` it
  raises the stored error again without a request, and the task fails there; with
  ``delivery="at_least_once"`` it sends once more under the key. Without a shared store a retry
  could run in another worker process that has no record, and send the message twice.

Every send has an idempotency key: the caller's, or ``celery:<task id>``. Celery keeps the task
id for every retry and every redelivery of one enqueued message, so they all share the key
however the message was enqueued (``delay``, ``apply_async``, a canvas, or ``app.send_task``
by name from code that never imports this module). A second enqueue of the same business event
gets a new task id; pass ``idempotency_key`` derived from the event (``f"otp-{login.id}"``) to
send it once.

Bulk jobs: ``send_job`` cuts a job's messages into chunks, one task per chunk, run by the
task ``chunk_task`` registers (``send_many`` over the chunk, under the
job's name); its ``JobHandle`` waits for the job's ``JobSummary``. Each message is
keyed by its position in the whole job, so workers sharing a Redis store never send it twice
and a rerun of the job resumes it::

    send_chunk = chunk_task(app, make_bridge)
    summary = send_job(send_chunk, rows, job="december-promo", chunk_size=500).wait()
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smsbridge._bridge import Bridge
from smsbridge._errors import ConfigError, IdempotencyConflict, SmsBridgeError, StoreUnavailable
from smsbridge.routing._retry import RETRY_ON

try:
    import celery
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("celery", "celery") from exc

from smsbridge.contrib._celery_common import BridgeFactory, PerProcess, check_bridge, register
from smsbridge.contrib._celery_jobs import JobHandle, JobSummary, chunk_task, send_job
from smsbridge.providers._checks import check_positive

if TYPE_CHECKING:
    from smsbridge._models import SendResult

__all__ = ["BridgeFactory", "JobHandle", "JobSummary", "chunk_task", "send_job", "send_task"]

log = logging.getLogger("smsbridge.contrib")


@dataclass(frozen=True)
class _Policy:
    """When and after how long a failed send is retried."""

    max_retries: int
    backoff: float
    max_backoff: float
    jitter: bool

    def countdown(self, error: SmsBridgeError, retries: int) -> float:
        """Seconds before the next try: the provider's ``retry_after``, else the backoff."""
        if error.retry_after is not None and error.retry_after > 0:
            return float(error.retry_after)
        delay = min(self.max_backoff, self.backoff * 2.0 ** min(retries, 60))
        if self.jitter:
            # Spreads the retries of many tasks that failed together (a provider outage).
            delay = random.uniform(delay / 2, delay)  # noqa: S311 - not for security
        return delay


def _retryable(error: SmsBridgeError, *, keyed: bool, shared_store: bool) -> bool:
    if error.failure == "refused":
        # Waiting helps a rate limit, an outage, a busy key or an unreachable store; it does
        # not help refused credentials or an unprovisioned sender (the router's own rule).
        return error.code in RETRY_ON or isinstance(error, (StoreUnavailable, IdempotencyConflict))
    if error.failure != "ambiguous":
        return False  # rejected, or not about sending (a ConfigError): retrying cannot help
    if not (keyed and shared_store):
        log.warning(
            "the send may have gone out and is not retried: %s",
            "it has no idempotency key" if not keyed else "the bridge's store is per process",
            extra={"code": error.code, "failure": error.failure, "provider": error.provider},
        )
        return False
    # No attempts means the store answered with the outcome of an earlier try, without a
    # request: every further retry would get the same answer.
    return bool(error.attempts)


def _shared(bridge: Bridge) -> bool:
    from smsbridge.stores import MemoryStore

    return not isinstance(bridge.store, MemoryStore)


def send_task(
    app: celery.Celery,
    bridge: Bridge | BridgeFactory,
    *,
    name: str = "smsbridge.send",
    max_retries: int = 5,
    backoff: float = 2.0,
    max_backoff: float = 300.0,
    jitter: bool = True,
    auto_key: bool = True,
    **task_options: Any,
) -> Any:
    """Register a task on ``app`` that sends one message through a bridge, and return it.

    Args:
        app: the Celery application.
        bridge: a ``Bridge``, or a zero-argument factory returning one. A
            factory is called lazily, once per worker process (on its first task, after any
            fork); prefer it with the prefork pool, since a bridge's connection pool must not
            cross a fork.
        name: the task name.
        max_retries: how many times a retryable failure is retried before the task fails
            with it.
        backoff: seconds before the first retry when the provider gave no ``retry_after``;
            doubled for each further one.
        max_backoff: ceiling of that delay, in seconds.
        jitter: draw each backoff delay between half of it and all of it, so that tasks that
            failed together do not all retry at once.
        auto_key: give a send without ``idempotency_key`` the key ``celery:<task id>``, shared
            by its retries and redeliveries. Keyed sends need the store: with ``RedisStore``
            down they fail as refused (and are retried) instead of sending unguarded.
        **task_options: further Celery task options (``acks_late``, ``queue``,
            ``rate_limit``, ``base``, ...).

    Returns:
        The Celery task. Call it with the keyword arguments of ``smsbridge.Bridge.send``
        (``to``, ``body``, ``from_``, ``media_urls``, ``region``, ``reference``,
        ``idempotency_key``), all JSON values; it returns the ``SendResult`` as a dict (without
        ``raw``). ``task.get_bridge()`` returns this process's bridge.

    Raises:
        ConfigError: ``bridge`` is neither a Bridge nor callable, a number is out of range,
            ``bind``/``lazy``/``shared`` is among the options, or ``name`` is already taken.
    """
    check_bridge(bridge)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError("max_retries must be an int >= 0", variable="max_retries")
    for option, value in (("backoff", backoff), ("max_backoff", max_backoff)):
        if not math.isfinite(check_positive(value, option)):
            raise ConfigError(f"{option} must be finite", variable=option)
    source = PerProcess(bridge)
    policy = _Policy(max_retries, float(backoff), float(max_backoff), jitter)

    def send(
        self: Any,
        to: str,
        body: str = "",
        *,
        from_: str | None = None,
        media_urls: Sequence[str] = (),
        region: str | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Send one SMS/MMS through the bridge; returns the SendResult as a JSON-ready dict."""
        task_id = self.request.id
        if idempotency_key is None and auto_key and task_id:
            idempotency_key = f"celery:{task_id}"
        current = source.get()
        try:
            result: SendResult = current.send(
                to,
                body,
                from_=from_,
                media_urls=media_urls,
                region=region,
                reference=reference,
                idempotency_key=idempotency_key,
            )
        except SmsBridgeError as error:
            keyed = idempotency_key is not None
            if not _retryable(error, keyed=keyed, shared_store=_shared(current)):
                raise
            raise self.retry(
                exc=error,
                countdown=policy.countdown(error, int(self.request.retries or 0)),
                max_retries=policy.max_retries,
            ) from error
        return result.model_dump(mode="json", exclude={"raw"})

    task = register(
        app,
        send,
        name=name,
        caller="send_task",
        options={"max_retries": max_retries, **task_options},
    )
    task.get_bridge = source.get
    return task
