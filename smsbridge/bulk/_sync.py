"""``send_many``: the async pool of senders on an event loop in a helper thread, or, for a
bridge given its own sync client, a pool of threads on that client.

On the event loop the messages go out through the bridge's async transport (aiohttp), which
sends several times more messages per second for the CPU than threads on ``httpx.Client``
(docs/performance.md). A sync client the caller chose (a proxy, a test transport) is honoured
instead: ``concurrency`` threads send on it. Either way at most ``concurrency`` messages are
in flight, finished items wait in a buffer of ``concurrency`` (memory stays flat, a slow
consumer slows the senders), and stopping early lets the sends in flight finish.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import anyio

from smsbridge._errors import SmsBridgeError
from smsbridge._outbound import with_warnings
from smsbridge.bulk._items import BulkItem, BulkProgress
from smsbridge.bulk._pool import Inputs, take, work
from smsbridge.bulk._prepare import started, unexpected

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.bulk._items import BulkInput

__all__ = ["send_many"]

_DONE = object()  # a worker's last word


class _ThreadInputs:
    """The inputs, numbered, shared by the threads."""

    def __init__(self, messages: Iterable[BulkInput], start: int) -> None:
        self._iterator = enumerate(messages, start)
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.failed: Exception | None = None

    def take(self) -> tuple[int, BulkInput] | None:
        """The next input and its index; ``None`` at the end, once stopped, or once the
        iterable raised (``failed`` holds the error)."""
        with self._lock:
            if self.stop.is_set() or self.failed is not None:
                return None
            try:
                return next(self._iterator, None)
            except Exception as exc:
                self.failed = exc
                return None


def send_many(
    bridge: Bridge,
    messages: Iterable[BulkInput],
    *,
    concurrency: int,
    job: str | None,
    on_progress: Callable[[BulkProgress], None] | None,
    start: int,
) -> Iterator[BulkItem]:
    """See ``smsbridge.Bridge.send_many``; the arguments are checked at the call."""
    from smsbridge.bulk._prepare import check_concurrency, check_job, check_start

    run = _on_threads if bridge.clients.given_sync is not None else _on_loop
    return run(
        bridge,
        messages,
        concurrency=check_concurrency(concurrency),
        job=check_job(job, bridge),
        on_progress=on_progress,
        start=check_start(start),
    )


def _on_loop(
    bridge: Bridge,
    messages: Iterable[BulkInput],
    *,
    concurrency: int,
    job: str | None,
    on_progress: Callable[[BulkProgress], None] | None,
    start: int,
) -> Iterator[BulkItem]:
    from anyio.from_thread import start_blocking_portal

    from smsbridge._clients import new_async_client

    inputs = Inputs(messages, start)  # read by the workers, on the loop's thread
    progress = BulkProgress()
    with start_blocking_portal() as portal:
        # A transport of its own, made and closed on this loop: the bridge's may belong to
        # another loop (an application's own), and aiohttp sessions do not cross loops.
        client = portal.call(new_async_client)
        send, receive = portal.call(
            lambda: anyio.create_memory_object_stream[BulkItem](concurrency)
        )
        done = portal.start_task_soon(
            lambda: work(bridge, inputs, send, concurrency=concurrency, job=job, client=client)
        )
        try:
            # Items cross from the loop's thread in batches: one hand-over per item would
            # cost more than sending it.
            while items := portal.call(take, receive, concurrency):
                for item in items:
                    progress.add(item)
                    if on_progress is not None:
                        on_progress(progress)
                    yield item
        finally:
            # Stopped early (or the consumer raised): no new input; the sends in flight
            # finish, their items are dropped.
            inputs.stopped = True
            while portal.call(take, receive, concurrency):
                pass
            done.result()
            portal.call(client.aclose)
    if inputs.failed is not None:
        raise inputs.failed  # the caller's iterable failed: every item taken before is out


def _on_threads(
    bridge: Bridge,
    messages: Iterable[BulkInput],
    *,
    concurrency: int,
    job: str | None,
    on_progress: Callable[[BulkProgress], None] | None,
    start: int,
) -> Iterator[BulkItem]:
    from smsbridge.routing._engine import send_sync

    inputs = _ThreadInputs(messages, start)
    finished: queue.Queue[object] = queue.Queue(maxsize=concurrency)
    progress = BulkProgress()

    def one(index: int, raw: BulkInput) -> BulkItem:
        message = started(bridge, index, raw, job)
        if isinstance(message, BulkItem):
            return message
        try:
            result = send_sync(bridge, message, job=job)
        except SmsBridgeError as exc:
            return BulkItem(index, raw, message, error=exc)
        except Exception as exc:
            return unexpected(index, raw, message, exc)
        return BulkItem(index, raw, message, result=with_warnings(result, message))

    def worker() -> None:
        try:
            while (taken := inputs.take()) is not None:
                finished.put(one(*taken))
        finally:
            finished.put(_DONE)

    threads = [
        threading.Thread(target=worker, name=f"smsbridge-send-{n}", daemon=True)
        for n in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = finished.get()
            if item is _DONE:
                running -= 1
                continue
            assert isinstance(item, BulkItem)
            progress.add(item)
            if on_progress is not None:
                on_progress(progress)
            yield item
    finally:
        # The consumer stopped early (or raised): take no new input, let the sends in flight
        # finish (a thread cannot be cancelled; each ends its idempotency claim), and drain
        # the queue so no worker stays blocked on it.
        inputs.stop.set()
        while running:
            if finished.get() is _DONE:
                running -= 1
        for thread in threads:
            thread.join()
    if inputs.failed is not None:
        raise inputs.failed  # the caller's iterable failed: every item taken before is out
