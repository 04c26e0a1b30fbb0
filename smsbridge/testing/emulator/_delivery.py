"""Background work of the emulator: timed status changes and webhook delivery.

One timer thread fires scheduled steps; a few worker threads POST the webhooks. Each message's
callbacks go to the same worker (chosen by hashing its id), so a message's callbacks arrive in
the order its statuses changed, while different messages are delivered in parallel. A failed
delivery is logged, never raised: the app under test being down must not break the emulator.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Builder", "Delivery", "Dispatcher"]

logger = logging.getLogger("smsbridge.testing.emulator")

Builder = Callable[[str, int], tuple[bytes, dict[str, str]]]


@dataclass(frozen=True)
class Delivery:
    """One webhook to deliver: where, how to build each attempt, and how often to try.

    ``build(url, attempt)`` returns the body and (signed) headers of that attempt; it is called
    per attempt because a provider may put the attempt number in a retried webhook, and sign it
    afresh.
    """

    provider: str
    kind: str
    event: str
    message_id: str
    urls: tuple[str, ...]
    build: Builder
    attempts_per_url: int = 1


class Dispatcher:
    """Timer thread plus delivery workers, with a log of every delivery attempt."""

    def __init__(self, *, workers: int = 4, timeout: float = 5.0, retry_delay: float = 0.1) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._generation = 0
        self._busy = 0
        self._stopping = threading.Event()
        self._retry_delay = retry_delay
        self._log: deque[dict[str, Any]] = deque(maxlen=100_000)
        self._queues: list[queue.Queue[tuple[int, Delivery] | None]] = [
            queue.Queue() for _ in range(workers)
        ]
        self._timeout = timeout
        self._client: httpx.Client | None = None  # built on first use: it loads TLS certificates
        self._threads = [
            threading.Thread(target=self._timer_loop, name="emulator-timer", daemon=True)
        ]
        self._threads += [
            threading.Thread(target=self._worker, args=(q,), name=f"emulator-hook-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]

    def start(self) -> None:
        """Start the timer and worker threads."""
        for thread in self._threads:
            thread.start()

    # -- scheduling ---------------------------------------------------------------------------

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the timer thread after ``delay`` seconds (dropped by ``clear``)."""
        with self._cond:
            self._busy += 1
            due = time.monotonic() + max(0.0, delay)
            entry = (due, next(self._seq), self._generation, fn)
            heapq.heappush(self._heap, entry)
            # Wake the timer only if this step is now the earliest: most are not, and waking it
            # for nothing costs the request threads GIL time.
            if self._heap[0] is entry:
                self._cond.notify_all()

    def enqueue(self, delivery: Delivery) -> None:
        """Deliver in the background, after earlier deliveries for the same message."""
        with self._cond:
            self._busy += 1
            generation = self._generation
        index = zlib.crc32(delivery.message_id.encode()) % len(self._queues)
        self._queues[index].put((generation, delivery))

    def deliver_now(self, delivery: Delivery) -> dict[str, Any]:
        """Deliver in the calling thread and return the last attempt's log entry."""
        return self._deliver(delivery)

    def clear(self) -> None:
        """Forget pending steps and queued deliveries, and empty the log."""
        with self._cond:
            self._generation += 1
            self._busy -= len(self._heap)
            self._heap.clear()
            self._log.clear()
            self._cond.notify_all()

    def log(self) -> list[dict[str, Any]]:
        """Every delivery attempt so far, oldest first."""
        with self._cond:
            return [dict(entry) for entry in self._log]

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is scheduled or being delivered; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        """Stop the threads (pending work is dropped) and close the HTTP client."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=2.0)
        if self._client is not None:
            self._client.close()

    # -- threads ------------------------------------------------------------------------------

    def _done(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def _timer_loop(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                if not self._heap:
                    self._cond.wait(0.5)
                    continue
                due, _, generation, fn = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                current = generation == self._generation
            try:
                if current:
                    fn()
            except Exception:
                logger.exception("emulator: a scheduled step failed")
            finally:
                self._done()

    def _worker(self, inbox: queue.Queue[tuple[int, Delivery] | None]) -> None:
        while True:
            item = inbox.get()
            if item is None:
                return
            generation, delivery = item
            try:
                if generation == self._generation and not self._stopping.is_set():
                    self._deliver(delivery)
            except Exception:
                logger.exception("emulator: a webhook delivery failed")
            finally:
                self._done()

    def _http(self) -> httpx.Client:
        with self._cond:
            if self._client is None:
                # trust_env=False: a developer's HTTP(S)_PROXY must not capture local webhooks.
                self._client = httpx.Client(
                    timeout=self._timeout, trust_env=False, follow_redirects=False
                )
            return self._client

    def _deliver(self, delivery: Delivery) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        for url in delivery.urls:
            for attempt in range(1, delivery.attempts_per_url + 1):
                if attempt > 1 and self._stopping.wait(self._retry_delay * (attempt - 1)):
                    return entry
                entry = self._attempt(delivery, url, attempt)
                if entry["status_code"] is not None and 200 <= entry["status_code"] < 300:
                    return entry
        return entry

    def _attempt(self, delivery: Delivery, url: str, attempt: int) -> dict[str, Any]:
        body, headers = delivery.build(url, attempt)
        entry: dict[str, Any] = {
            "provider": delivery.provider,
            "kind": delivery.kind,
            "event": delivery.event,
            "message_id": delivery.message_id,
            "url": url,
            "attempt": attempt,
            "status_code": None,
            "error": None,
            "response_body": "",
            "request_headers": dict(headers),
            "request_body": body.decode("utf-8", "replace"),
            "at": time.time(),
        }
        try:
            response = self._http().post(url, content=body, headers=headers)
            entry["status_code"] = response.status_code
            entry["response_body"] = response.text[:10_000]
            entry["response_content_type"] = response.headers.get("content-type", "")
        except Exception as exc:  # any failure of the app under test is data, not a crash
            entry["error"] = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self._log.append(entry)
        return entry
