"""``asend_many``: a fixed pool of worker tasks pulling inputs as they go.

Memory stays flat whatever the input's length: inputs are pulled one at a time by at most
``concurrency`` workers, and finished items wait in a buffer of ``concurrency`` for the
consumer (a slow consumer slows the workers down instead of piling items up).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING

import anyio

from smsbridge._errors import SmsBridgeError
from smsbridge._outbound import with_warnings
from smsbridge.bulk._items import BulkItem, BulkProgress
from smsbridge.bulk._prepare import started, unexpected

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream

    from smsbridge._bridge import Bridge
    from smsbridge.bulk._items import BulkInput

__all__ = ["asend_many"]


class _Inputs:
    """The inputs, numbered, shared by the workers (an async iterator is advanced under a
    lock: two tasks may not step it at once)."""

    def __init__(
        self, messages: Iterable[BulkInput] | AsyncIterable[BulkInput], start: int
    ) -> None:
        self._sync = iter(messages) if not isinstance(messages, AsyncIterable) else None
        self._async = aiter(messages) if isinstance(messages, AsyncIterable) else None
        self._lock = anyio.Lock()
        self._next = start
        self.failed: Exception | None = None

    async def take(self) -> tuple[int, BulkInput] | None:
        """The next input and its index, or ``None`` at the end (or once the iterable
        raised: :attr:`failed` holds the error, raised to the caller when the rest ends)."""
        if self.failed is not None:
            return None
        try:
            if self._sync is not None:
                raw = next(self._sync, _END)  # no await: no other task can step in between
            else:
                assert self._async is not None
                async with self._lock:
                    raw = await anext(self._async, _END)
        except Exception as exc:
            self.failed = exc
            return None
        if raw is _END:
            return None
        index, self._next = self._next, self._next + 1
        return index, raw


_END: BulkInput = object()  # type: ignore[assignment]


def asend_many(
    bridge: Bridge,
    messages: Iterable[BulkInput] | AsyncIterable[BulkInput],
    *,
    concurrency: int,
    job: str | None,
    on_progress: Callable[[BulkProgress], None] | None,
    start: int,
) -> AsyncIterator[BulkItem]:
    """See :meth:`smsbridge.Bridge.asend_many`; the arguments are checked at the call."""
    from smsbridge.bulk._prepare import check_concurrency, check_job, check_start

    return _asend_many(
        bridge,
        messages,
        concurrency=check_concurrency(concurrency),
        job=check_job(job, bridge),
        on_progress=on_progress,
        start=check_start(start),
    )


async def _asend_many(
    bridge: Bridge,
    messages: Iterable[BulkInput] | AsyncIterable[BulkInput],
    *,
    concurrency: int,
    job: str | None,
    on_progress: Callable[[BulkProgress], None] | None,
    start: int,
) -> AsyncIterator[BulkItem]:
    from smsbridge.routing._engine import send_async

    inputs = _Inputs(messages, start)
    progress = BulkProgress()

    async def one(index: int, raw: BulkInput) -> BulkItem:
        message = started(bridge, index, raw, job)
        if isinstance(message, BulkItem):
            return message
        try:
            result = await send_async(bridge, message, job=job)
        except SmsBridgeError as exc:
            return BulkItem(index, raw, message, error=exc)
        except Exception as exc:
            return unexpected(index, raw, message, exc)
        return BulkItem(index, raw, message, result=with_warnings(result, message))

    async def worker(out: MemoryObjectSendStream[BulkItem]) -> None:
        async with out:
            while (taken := await inputs.take()) is not None:
                item = await one(*taken)
                # The stream's send() and receive() each pass through the event loop once
                # per item (a checkpoint), which costs as much CPU as a quarter of the
                # message's send: hand items over directly while the buffer has room.
                try:
                    out.send_nowait(item)
                except anyio.WouldBlock:
                    await out.send(item)

    send, receive = anyio.create_memory_object_stream[BulkItem](concurrency)
    async with anyio.create_task_group() as workers:
        async with send:
            for _ in range(concurrency):
                workers.start_soon(worker, send.clone())
        try:
            async with receive:
                while True:
                    try:
                        item = receive.receive_nowait()
                    except anyio.WouldBlock:
                        try:
                            item = await receive.receive()
                        except anyio.EndOfStream:
                            break
                    except anyio.EndOfStream:
                        break
                    progress.add(item)
                    if on_progress is not None:
                        on_progress(progress)
                    yield item
        finally:
            # Only when the consumer stops early (or raises): cancel what is in flight. Each
            # cancelled send ends its idempotency claim (ambiguous if it may have gone out).
            workers.cancel_scope.cancel()
    if inputs.failed is not None:
        raise inputs.failed  # the caller's iterable failed: every item taken before is out
