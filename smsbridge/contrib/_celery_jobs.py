"""Bulk jobs on Celery: ``send_job`` cuts a job into chunks and enqueues one task per chunk;
``chunk_task`` registers the task that sends a chunk with ``Bridge.send_many``. Both are public
as ``smsbridge.contrib.celery.*``.

A message is numbered by its position in the whole job (its chunk's ``start`` plus its place in
the chunk), and its idempotency key derives from the job, that number and its content
(``smsbridge.bulk.job_key``). The key is therefore the same whichever worker runs the chunk,
however the job is cut into chunks and on every rerun: workers sharing one store (Redis) never
send a message twice, and a rerun of the job resumes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from smsbridge._errors import ConfigError
from smsbridge._models import OutboundMessage
from smsbridge.bulk import BulkInput, BulkProgress
from smsbridge.bulk._prepare import check_job_name
from smsbridge.contrib._celery_common import BridgeFactory, PerProcess, check_bridge, register

if TYPE_CHECKING:
    import celery
    from celery.result import AsyncResult

    from smsbridge._bridge import Bridge

__all__ = ["JobHandle", "JobSummary", "chunk_task", "send_job"]

log = logging.getLogger("smsbridge.contrib")

# JSON scalars travel as they are, so the worker's error names their type; anything else
# travels as None (the worker reports it as not a message, at its position).
_SCALARS = (str, int, float, bool)


def _count(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}", variable=name)
    return value


# -- the worker's side ---------------------------------------------------------------------


def chunk_task(
    app: celery.Celery,
    bridge: Bridge | BridgeFactory,
    *,
    name: str = "smsbridge.send_chunk",
    concurrency: int = 16,
    **task_options: Any,
) -> Any:
    """Register on ``app`` the task that sends one chunk of a bulk job, and return it.

    ``send_job`` enqueues it; the task calls ``send_many`` with the
    job's name over its chunk and returns the chunk's counts and failures as plain JSON data
    (see ``JobSummary``). A message that fails never fails the task.

    Args:
        app: the Celery application.
        bridge: a ``Bridge``, or a zero-argument factory returning one, called
            once per worker process (as for ``send_task``). Its store must be shared by
            every worker (``RedisStore``, e.g. ``SMSBRIDGE_STORE=redis://...``): it holds the
            job's idempotency keys, and the rate limits and breaker state the workers share.
        name: the task name.
        concurrency: sends in flight at once within one chunk (threads), unless the job says
            otherwise (``send_job(..., concurrency=)``).
        **task_options: further Celery task options. ``acks_late`` and
            ``reject_on_worker_lost`` default to ``True``: a chunk whose worker dies is
            delivered again, which is safe since every message of it is keyed (those sent come
            back resumed, those in flight are reported ambiguous, the rest are sent). A chunk
            that kills its worker every time is then delivered forever: pass ``False`` to
            have it dropped instead (and rerun the job).

    Returns:
        The Celery task; ``task.get_bridge()`` returns this process's bridge.

    Raises:
        ConfigError: ``bridge`` is neither a Bridge nor callable, ``concurrency`` is not a
            positive int, ``bind``/``lazy``/``shared`` is among the options, or ``name`` is
            already taken.
    """
    check_bridge(bridge)
    default = _count(concurrency, "concurrency", minimum=1)
    source = PerProcess(bridge)

    def send_chunk(
        self: Any,
        job: str,
        start: int,
        messages: list[Any],
        concurrency: int | None = None,
    ) -> dict[str, Any]:
        """Send one chunk of a bulk job; returns its counts and failures as JSON-ready data."""
        report = run_chunk(
            source.get(),
            job=job,
            start=start,
            messages=messages,
            concurrency=default if concurrency is None else concurrency,
        )
        log.info(
            "bulk job %r: chunk at %d done: %d sent, %d resumed, %d failed, %d ambiguous",
            job,
            start,
            report["sent"],
            report["resumed"],
            report["failed"],
            report["ambiguous"],
            extra={"task_id": self.request.id},
        )
        return report

    options = {"acks_late": True, "reject_on_worker_lost": True, **task_options}
    task = register(app, send_chunk, name=name, caller="chunk_task", options=options)
    task.get_bridge = source.get
    return task


def run_chunk(
    bridge: Bridge, *, job: str, start: int, messages: Sequence[Any], concurrency: int
) -> dict[str, Any]:
    """Send one chunk through ``bridge``; its counts and failures, indexed in the whole job."""
    check_job_name(job)
    _count(start, "start", minimum=0)
    _count(concurrency, "concurrency", minimum=1)
    if not isinstance(messages, list):
        raise ConfigError("a chunk's messages must be a list", variable="messages")
    progress = BulkProgress()
    failures: list[dict[str, Any]] = []
    items = bridge.send_many(messages, concurrency=concurrency, job=job, start=start)
    for item in items:
        progress.add(item)
        if item.error is not None:
            failures.append(
                {
                    "index": item.index,  # numbered from ``start``: its place in the job
                    "code": item.error.code,
                    "failure": item.error.failure,
                    "message": item.error.message,
                }
            )
    failures.sort(key=lambda failure: int(failure["index"]))
    return {
        "job": job,
        "start": start,
        "count": progress.done,
        "sent": progress.sent,
        "resumed": progress.resumed,
        "failed": progress.failed,
        "ambiguous": progress.ambiguous,
        "failed_by_code": dict(progress.failed_by_code),
        "failures": failures,
    }


# -- the caller's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class JobSummary:
    """The outcome of a bulk job sent with ``send_job``, as far as its chunks have finished.

    Attributes:
        job: the job's name.
        total: messages in the job.
        sent: sent by this run.
        resumed: found sent by an earlier run of the job (not sent again).
        failed: not sent, by a failure that says nothing went out (rerunning the job tries
            them again).
        ambiguous: may have gone out; not sent again (nor by a rerun).
        failed_by_code: ``failed`` and ``ambiguous`` counted by error code.
        failures: one ``{"index", "code", "failure", "message"}`` dict per failed or ambiguous
            message, by index (its position in the job's input, from 0).
        unfinished: messages whose chunk has not finished: still queued or running, or its
            task failed (see ``chunk_errors``). Rerun the job to finish them.
        chunk_errors: one ``{"start", "count", "error"}`` dict per chunk whose task failed.

    Examples:
        >>> summary = send_job(send_chunk, rows, job="december-promo").wait(timeout=600)
        >>> print(f"{summary.sent} sent, {summary.resumed} sent by an earlier run")
        >>> for failure in summary.failures:  # failed and ambiguous, by position in rows
        ...     mark_not_sent(rows[failure["index"]], failure["code"], failure["failure"])
        >>> if not summary.complete:
        ...     rerun_later("december-promo")  # the same job: it resumes, never sends twice
    """

    job: str
    total: int
    sent: int = 0
    resumed: int = 0
    failed: int = 0
    ambiguous: int = 0
    failed_by_code: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    unfinished: int = 0
    chunk_errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Messages with an outcome (sent, resumed, failed or ambiguous)."""
        return self.sent + self.resumed + self.failed + self.ambiguous

    @property
    def complete(self) -> bool:
        """True when every chunk has finished (whatever became of its messages)."""
        return self.unfinished == 0

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "job": self.job,
            "total": self.total,
            "done": self.done,
            "sent": self.sent,
            "resumed": self.resumed,
            "failed": self.failed,
            "ambiguous": self.ambiguous,
            "failed_by_code": dict(self.failed_by_code),
            "failures": [dict(failure) for failure in self.failures],
            "unfinished": self.unfinished,
            "chunk_errors": [dict(error) for error in self.chunk_errors],
        }


@dataclass(frozen=True)
class _Chunk:
    start: int
    count: int
    result: AsyncResult


class JobHandle:
    """The enqueued chunks of a bulk job (returned by ``send_job``).

    ``wait`` and ``summary`` read the chunks' results: the Celery app needs a result
    backend. Do not wait inside a task (Celery forbids waiting for a task from a task).

    Attributes:
        job: the job's name.
        total: messages in the job.

    Examples:
        >>> from smsbridge.contrib.celery import chunk_task, send_job
        >>> send_chunk = chunk_task(app, make_bridge)  # registered on the workers' app too
        >>> handle = send_job(send_chunk, rows, job="december-promo", chunk_size=500)
        >>> handle.total, len(handle.results)  # 1,200 rows
        (1200, 3)
        >>> summary = handle.wait(timeout=600)
    """

    def __init__(self, job: str, total: int, chunks: Sequence[_Chunk]) -> None:
        self.job = job
        self.total = total
        self._chunks = tuple(chunks)

    @property
    def results(self) -> list[AsyncResult]:
        """The chunks' ``AsyncResult``s, in the job's order (to revoke them, keep their ids)."""
        return [chunk.result for chunk in self._chunks]

    def ready(self) -> bool:
        """True when every chunk has finished (successfully or not)."""
        return all(chunk.result.ready() for chunk in self._chunks)

    def wait(self, timeout: float | None = None, *, interval: float = 0.5) -> JobSummary:
        """Wait for every chunk to finish and return the job's ``JobSummary``.

        Args:
            timeout: seconds to wait in all, or ``None`` to wait as long as it takes.
            interval: seconds between two polls of a result backend that has to be polled.

        Raises:
            TimeoutError: some chunk is still unfinished after ``timeout`` seconds (the job
                goes on; ``summary`` tells how far it is).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        from celery.exceptions import TimeoutError as CeleryTimeout

        for chunk in self._chunks:
            # Celery reads a timeout of 0 as "no timeout": never pass less than a millisecond.
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            try:
                chunk.result.get(timeout=left, interval=interval, propagate=False)
            except CeleryTimeout:
                pending = sum(1 for c in self._chunks if not c.result.ready())
                raise TimeoutError(
                    f"job {self.job!r}: {pending} of {len(self._chunks)} chunks unfinished "
                    f"after {timeout:g} s"
                ) from None
        return self.summary()

    def summary(self) -> JobSummary:
        """The job's ``JobSummary`` now, without waiting: chunks not finished yet count
        as ``unfinished``."""
        totals = {"sent": 0, "resumed": 0, "failed": 0, "ambiguous": 0}
        by_code: dict[str, int] = {}
        failures: list[dict[str, Any]] = []
        chunk_errors: list[dict[str, Any]] = []
        unfinished = 0
        for chunk in self._chunks:
            result = chunk.result
            if not result.ready():
                unfinished += chunk.count
                continue
            report = result.result
            if not result.successful() or not isinstance(report, Mapping):
                unfinished += chunk.count
                error = report if isinstance(report, BaseException) else None
                text = f"{type(error).__name__}: {error}" if error else f"returned {report!r}"
                chunk_errors.append({"start": chunk.start, "count": chunk.count, "error": text})
                continue
            for name in totals:
                totals[name] += int(report.get(name, 0))
            for code, count in dict(report.get("failed_by_code") or {}).items():
                by_code[code] = by_code.get(code, 0) + int(count)
            failures.extend(report.get("failures") or ())
        failures.sort(key=lambda failure: int(failure["index"]))
        return JobSummary(
            job=self.job,
            total=self.total,
            failed_by_code=by_code,
            failures=failures,
            unfinished=unfinished,
            chunk_errors=chunk_errors,
            **totals,
        )

    def __repr__(self) -> str:
        return f"JobHandle(job={self.job!r}, total={self.total}, chunks={len(self._chunks)})"


def send_job(
    app_or_task: celery.Celery | celery.Task,
    messages: Iterable[BulkInput],
    *,
    job: str,
    chunk_size: int = 500,
    concurrency: int | None = None,
    task_name: str = "smsbridge.send_chunk",
    **options: Any,
) -> JobHandle:
    """Enqueue a bulk job in chunks, one Celery task per chunk, and return its handle.

    ``messages`` is read lazily: one chunk at a time is held in memory, then enqueued. Each
    message keeps its position in the whole job, so its idempotency key is the same whichever
    worker runs its chunk. Run the same job again (same name, same messages) after a crash or
    a worker kill: every message already sent is resumed from the store, the rest are sent,
    and those that may have gone out are reported ambiguous, never sent twice. The chunk size
    may differ between runs.

    Args:
        app_or_task: the task registered by ``chunk_task``, or a Celery app reaching a
            worker that runs it (the ready-made ``smsbridge.contrib.celery_worker`` does):
            the chunks are then enqueued by name (``task_name``).
        messages: any iterable of ``OutboundMessage`` or mappings of
            ``send``'s keywords, with JSON values. An input that is
            neither is reported as ``invalid_request`` at its index.
        job: the job's name (at most 100 printable characters): the same name resumes the job.
        chunk_size: messages per task.
        concurrency: sends in flight at once within a chunk; ``None`` leaves it to the task.
        task_name: the chunk task's name, when ``app_or_task`` is an app.
        **options: options for each chunk's ``apply_async`` (``queue``, ``priority``, ...).

    Returns:
        A ``JobHandle``: ``handle.wait()`` returns the ``JobSummary``.

    Raises:
        ConfigError: a bad ``job``, ``chunk_size`` or ``concurrency`` (before anything is
            enqueued). An exception raised by ``messages`` itself propagates; the chunks
            enqueued before it still run, and a rerun resumes them.
    """
    check_job_name(job)
    _count(chunk_size, "chunk_size", minimum=1)
    if concurrency is not None:
        _count(concurrency, "concurrency", minimum=1)
    chunks: list[_Chunk] = []
    batch: list[Any] = []
    total = 0

    def enqueue() -> None:
        kwargs: dict[str, Any] = {"job": job, "start": total - len(batch), "messages": batch}
        if concurrency is not None:
            kwargs["concurrency"] = concurrency
        if hasattr(app_or_task, "apply_async"):
            result = app_or_task.apply_async(kwargs=kwargs, **options)
        else:
            result = app_or_task.send_task(task_name, kwargs=kwargs, **options)
        chunks.append(_Chunk(kwargs["start"], len(batch), result))

    for raw in messages:
        batch.append(_encoded(raw))
        total += 1
        if len(batch) == chunk_size:
            enqueue()
            batch = []
    if batch:
        enqueue()
    return JobHandle(job, total, chunks)


def _encoded(raw: object) -> Any:
    """One input as JSON data for the chunk task: a mapping of ``send``'s keywords."""
    if isinstance(raw, OutboundMessage):
        data: dict[str, Any] = {"to": raw.to, "body": raw.body}
        optional = {
            "from_": raw.from_,
            "media_urls": list(raw.media_urls),
            "reference": raw.reference,
            "idempotency_key": raw.idempotency_key,
            "status_callback": raw.status_callback,
        }
        data.update((name, value) for name, value in optional.items() if value)
        return data
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None or isinstance(raw, _SCALARS):
        return raw
    return None
