"""``asend_many``: the pool of sender tasks (``_pool``), consumed in the caller's task."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING

import anyio

from smsbridge.bulk._items import BulkItem, BulkProgress
from smsbridge.bulk._pool import Inputs, take, work

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.bulk._items import BulkInput

__all__ = ["asend_many"]


def asend_many(
    bridge: Bridge,
    messages: Iterable[BulkInput] | AsyncIterable[BulkInput],
    *,
    concurrency: int,
    job: str | None,
    on_progress: Callable[[BulkProgress], None] | None,
    start: int,
) -> AsyncIterator[BulkItem]:
    """See ``smsbridge.Bridge.asend_many``; the arguments are checked at the call."""
    from smsbridge.bulk._prepare import check_concurrency, check_job, check_start

    return _asend_many(
        bridge,
        Inputs(messages, check_start(start)),
        concurrency=check_concurrency(concurrency),
        job=check_job(job, bridge),
        on_progress=on_progress,
    )


async def _asend_many(
    bridge: Bridge,
    inputs: Inputs,
    *,
    concurrency: int,
    job: str | None,
    on_progress: Callable[[BulkProgress], None] | None,
) -> AsyncIterator[BulkItem]:
    progress = BulkProgress()
    send, receive = anyio.create_memory_object_stream[BulkItem](concurrency)
    closed = False
    async with receive, anyio.create_task_group() as group:
        group.start_soon(lambda: work(bridge, inputs, send, concurrency=concurrency, job=job))
        try:
            while items := await take(receive, concurrency):
                for item in items:
                    progress.add(item)
                    if on_progress is not None:
                        on_progress(progress)
                    yield item
        except GeneratorExit:
            # The consumer stopped early: cancel what is in flight (each cancelled send ends
            # its idempotency claim, ambiguous if it may have gone out), then end quietly;
            # left to propagate, the exit would reach the task group as an error.
            closed = True
            group.cancel_scope.cancel()
    if closed:
        return
    if inputs.failed is not None:
        raise inputs.failed  # the caller's iterable failed: every item taken before is out
