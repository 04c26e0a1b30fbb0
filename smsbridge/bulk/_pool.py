"""The senders of a bulk send: a fixed pool of tasks pulling inputs as they go.

Memory stays flat whatever the input's length: at most ``concurrency`` workers pull inputs
one at a time, and finished items wait in a stream buffer of ``concurrency`` for the consumer
(a slow consumer slows the workers down instead of piling items up). ``asend_many`` consumes
the stream in the caller's task; sync ``send_many`` consumes it from another thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING

import anyio

from smsbridge._errors import SmsBridgeError
from smsbridge._outbound import with_warnings
from smsbridge.bulk._items import BulkItem
from smsbridge.bulk._prepare import started, unexpected

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from smsbridge._bridge import Bridge
    from smsbridge.bulk._items import BulkInput
    from smsbridge.providers._shell import AsyncSender

__all__ = ["Inputs", "take", "work"]


class Inputs:
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
        self.stopped = False  # set (from any thread) to take no new input

    async def take(self) -> tuple[int, BulkInput] | None:
        """The next input and its index; ``None`` at the end, once ``stopped``, or once
        the iterable raised (``failed`` holds the error, raised when the rest ends)."""
        if self.failed is not None or self.stopped:
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


async def work(
    bridge: Bridge,
    inputs: Inputs,
    out: MemoryObjectSendStream[BulkItem],
    *,
    concurrency: int,
    job: str | None,
    client: AsyncSender | None = None,
) -> None:
    """Send every input with ``concurrency`` workers, handing each item to ``out`` (closed
    once they are done); ``client`` instead of the bridge's async client."""
    from smsbridge.routing._engine import send_async

    async def one(index: int, raw: BulkInput) -> BulkItem:
        message = started(bridge, index, raw, job)
        if isinstance(message, BulkItem):
            return message
        try:
            result = await send_async(bridge, message, job=job, client=client)
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

    async with out, anyio.create_task_group() as workers:
        for _ in range(concurrency):
            workers.start_soon(worker, out.clone())


async def take(receive: MemoryObjectReceiveStream[BulkItem], most: int) -> list[BulkItem]:
    """The next items: waits for one, then takes what is ready, up to ``most``; ``[]`` once
    the workers are done."""
    try:
        items = [receive.receive_nowait()]
    except anyio.WouldBlock:
        try:
            items = [await receive.receive()]
        except anyio.EndOfStream:
            return []
    except anyio.EndOfStream:
        return []
    while len(items) < most:
        try:
            items.append(receive.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream):
            break
    return items
