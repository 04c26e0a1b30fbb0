"""Scheduled messages: the emulator's clock, and the holding of messages until their time.

The emulated world runs on its own clock: real time plus an offset that only
``Scheduler.advance`` moves (forward). Scheduling windows, ``date_sent``/``sent_at`` and the
release of held messages all read it, so a test can schedule a message ten minutes ahead and
``advance(600)`` instead of waiting. Webhook signatures keep real time: a receiver checks their
timestamps against its own clock.

A held message waits in the ``Scheduler``'s heap until the clock reaches its ``send_at``;
then its release callback runs (it starts the message's progress, or does nothing if the
message was cancelled meanwhile). Releases happen on ``Scheduler.advance``, in the calling
thread and in ``send_at`` order, and otherwise in real time on the scheduler's own thread. Held
messages are not "pending work" for ``wait_idle()``: a message held for a day would make every
wait time out. Nothing here knows about a particular provider; each personality's window rules,
errors and cancel live in ``_schedule_<provider>`` modules.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

__all__ = ["Clock", "Scheduler", "parse_instant"]

logger = logging.getLogger("smsbridge.testing.emulator")

Release = Callable[[], bool]
"""Start a held message's progress; ``False`` when there was nothing to release (cancelled)."""

# How long the release thread sleeps at most: a bound, not a poll (advance and hold wake it).
_MAX_SLEEP = 60.0


class Clock:
    """The emulator's "now": real UTC time plus an offset moved only by ``advance``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    @property
    def offset(self) -> float:
        """Seconds the emulated world is ahead of real time."""
        return self._offset

    def now(self) -> datetime:
        """The emulator's current time, timezone-aware UTC."""
        moment = datetime.now(timezone.utc)
        offset = self._offset  # one read: a float attribute is read atomically
        # Most emulators never advance: skip the addition on the send path.
        return moment + timedelta(seconds=offset) if offset else moment

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (a finite number, at least 0)."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError("seconds must be a number")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("seconds must be a finite number >= 0: the clock only moves forward")
        with self._lock:
            self._offset += float(seconds)

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = 0.0


class Scheduler:
    """Messages held until the ``Clock`` reaches their time, released in time order."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[datetime, int, str, Release]] = []
        self._seq = itertools.count()
        # One releaser at a time (an advance() and the thread): releases stay in send_at order.
        self._releasing = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread that releases held messages in real time."""
        with self._cond:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name="emulator-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the release thread; held messages stay held (and ``advance`` still works)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def hold(self, due: datetime, message_id: str, release: Release) -> None:
        """Call ``release`` once the clock reaches ``due``."""
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), message_id, release))
            self._cond.notify_all()  # the thread may be sleeping past this new, earlier time

    def held(self) -> int:
        """How many messages are waiting (cancelled ones included until their time comes)."""
        with self._cond:
            return len(self._heap)

    def advance(self, seconds: float) -> list[str]:
        """Move the clock forward and release every message whose time has come, oldest
        ``send_at`` first, before returning; returns the ids of the released messages."""
        self.clock.advance(seconds)
        with self._cond:
            self._cond.notify_all()  # the thread's sleep was computed with the old offset
        return self.release_due()

    def release_due(self) -> list[str]:
        """Release every message due by the clock now, in ``send_at`` order; their ids."""
        if not self._heap:
            return []  # the common case, on every request: no lock taken
        released: list[str] = []
        with self._releasing:
            while True:
                with self._cond:
                    if not self._heap or self._heap[0][0] > self.clock.now():
                        break
                    _, _, message_id, release = heapq.heappop(self._heap)
                try:
                    if release():
                        released.append(message_id)
                except Exception:  # one broken release must not strand the messages after it
                    logger.exception("emulator: releasing scheduled message %s failed", message_id)
        return released

    def clear(self) -> None:
        """Forget every held message and put the clock back to real time."""
        with self._cond:
            self._heap.clear()
            self.clock.reset()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                if self._heap:
                    wait = (self._heap[0][0] - self.clock.now()).total_seconds()
                else:
                    wait = _MAX_SLEEP
                if wait > 0:
                    self._cond.wait(min(wait, _MAX_SLEEP))
                    continue
            self.release_due()


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 date-time as the providers take it (``2024-05-14T15:30:00Z``, an offset, or
    none: UTC), timezone-aware; ``None`` when ``text`` is not one."""
    candidate = text.strip()
    if len(candidate) < 16 or "T" not in candidate.upper():
        return None  # a bare date is not a moment to send at
    if candidate[-1] in "zZ":
        candidate = candidate[:-1] + "+00:00"  # fromisoformat takes "Z" only from Python 3.11
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
