"""The emulator's memory: configuration, accepted messages, opt-outs, webhooks, progressions,
the clock and the messages held until their scheduled time.

Per-provider accounts and keys belong to each personality; this is what they all share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from smsbridge.testing.emulator._common import MessageRecord, Response, Step
from smsbridge.testing.emulator._delivery import Delivery, Dispatcher
from smsbridge.testing.emulator._faults import FaultBoard
from smsbridge.testing.emulator._schedule import Clock, Scheduler

if TYPE_CHECKING:
    from smsbridge.testing.emulator._personality import Personality

__all__ = ["Config", "DeliveryFactory", "EmulatorState"]

DeliveryFactory = Callable[[MessageRecord, Step], "Delivery | None"]


@dataclass(frozen=True)
class Config:
    """Behaviour of one emulator instance, the same for every provider."""

    progress_delay: float
    deliver_callbacks: bool


@dataclass
class EmulatorState:
    """Everything the personalities share; every mutation happens under ``lock``.

    ``personalities`` maps each provider name to its personality, in rank order; ``opted_out``
    and ``webhooks`` have one entry per provider. ``idempotency`` holds the answers to sends made
    with an idempotency key, keyed by ``(key, method, path)``, for a personality that replays them.
    ``clock`` is the emulated world's time (``now``); ``scheduler`` holds the messages
    scheduled for later (``hold``, ``cancel``).
    """

    config: Config
    dispatcher: Dispatcher
    personalities: Mapping[str, type[Personality]]
    faults: FaultBoard = field(init=False)
    lock: threading.RLock = field(default_factory=threading.RLock)
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    opted_out: dict[str, set[str]] = field(init=False)
    webhooks: dict[str, dict[str, str]] = field(init=False)
    idempotency: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    scheduler: Scheduler = field(init=False)

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(self.clock)
        self.faults = FaultBoard(self.personalities)
        self.opted_out = {provider: set() for provider in self.personalities}
        self.webhooks = {provider: {} for provider in self.personalities}

    @property
    def providers(self) -> tuple[str, ...]:
        """The names of the emulated providers, in rank order."""
        return tuple(self.personalities)

    def now(self) -> datetime:
        """The emulator's current time (real time unless advanced): what messages are
        timestamped with and scheduling windows are measured from."""
        return self.clock.now()

    def check_provider(self, provider: str) -> None:
        """Raise ``ValueError`` unless ``provider`` is one the emulator speaks."""
        if provider not in self.providers:
            raise ValueError(f"unknown provider {provider!r}: expected one of {self.providers}")

    def add_message(self, record: MessageRecord) -> None:
        """Remember an accepted message."""
        with self.lock:
            record.history.append(record.status)
            self.messages[record.id] = record

    def get_message(self, provider: str, message_id: str) -> MessageRecord | None:
        """A copy of a message as it is now, or ``None``."""
        with self.lock:
            record = self.messages.get(message_id)
            if record is None or record.provider != provider:
                return None
            return record.snapshot()

    def list_messages(self, provider: str | None = None) -> list[MessageRecord]:
        """Copies of the accepted messages, oldest first."""
        with self.lock:
            records = [r for r in self.messages.values() if provider in (None, r.provider)]
            return [r.snapshot() for r in records]

    def is_opted_out(self, provider: str, number: str) -> bool:
        """Whether ``number`` has opted out of messages from this provider's account."""
        with self.lock:
            return number in self.opted_out[provider]

    def set_opt_out(self, provider: str, number: str, opted_out: bool = True) -> None:
        """Opt ``number`` out (or back in)."""
        with self.lock:
            if opted_out:
                self.opted_out[provider].add(number)
            else:
                self.opted_out[provider].discard(number)

    def webhook_for(self, provider: str, number: str | None) -> str | None:
        """The webhook URL configured for one of our numbers, else the ``"*"`` default."""
        with self.lock:
            hooks = self.webhooks[provider]
            return hooks.get(number or "") or hooks.get("*")

    def recall_answer(self, slot: tuple[str, str, str], ttl: float) -> dict[str, Any] | None:
        """The answer stored for an idempotency ``slot`` (``request_body``, ``status``, ``body``,
        ``at``), or ``None``; one older than ``ttl`` seconds is forgotten."""
        with self.lock:
            stored = self.idempotency.get(slot)
            if stored is not None and time.monotonic() - stored["at"] > ttl:
                del self.idempotency[slot]
                stored = None
        return stored

    def remember_answer(
        self, slot: tuple[str, str, str], request_body: bytes, response: Response
    ) -> None:
        """Store the answer to a send made with an idempotency key, for ``recall_answer``."""
        with self.lock:
            self.idempotency[slot] = {
                "request_body": request_body,
                "status": response.status,
                "body": response.body,
                "at": time.monotonic(),
            }

    def progress(self, record: MessageRecord, steps: list[Step], factory: DeliveryFactory) -> None:
        """Schedule ``steps`` ``progress_delay`` apart; ``factory`` makes each step's webhook."""
        if steps:
            # One timer at a time per message: each step schedules the next when it fires.
            step = partial(self._apply, record.id, steps, factory)
            self.dispatcher.schedule(self.config.progress_delay, step)

    def hold(self, record: MessageRecord, steps: list[Step], factory: DeliveryFactory) -> None:
        """Keep an accepted message (with ``send_at``) until the clock reaches its time, then
        take ``steps``: the first at once, the rest ``progress_delay`` apart (``progress``).
        Until then ``cancel`` may cancel it."""
        if record.send_at is None:
            raise ValueError("only a message with send_at can be held")
        with self.lock:
            self.messages[record.id].held = True
        release = partial(self._release, record.id, steps, factory)
        self.scheduler.hold(record.send_at, record.id, release)

    def cancel(
        self,
        provider: str,
        message_id: str,
        status: str,
        *,
        margin: timedelta = timedelta(0),
        announce: DeliveryFactory | None = None,
        completes: bool = True,
    ) -> MessageRecord | Literal["not_found", "not_cancellable"]:
        """Cancel a held message: it takes ``status`` and is never sent. Refused once it was
        released, or when its ``send_at`` is ``margin`` or less away. ``announce`` (if given)
        makes the status webhook of the cancellation; ``completes=False`` leaves
        ``completed_at`` unset (a provider that shows a cancelled message as never finalized).

        Returns:
            A copy of the cancelled message, ``"not_found"`` (no such message from this
            provider) or ``"not_cancellable"``.
        """
        with self.lock:
            record = self.messages.get(message_id)
            if record is None or record.provider != provider:
                return "not_found"
            moment = self.now()
            if not record.held or record.send_at is None or record.send_at - moment <= margin:
                return "not_cancellable"
            # The scheduler keeps its entry; the release finds the message no longer held.
            record.held = False
            self._set_status(record, Step(status), moment)
            if not completes:
                record.completed_at = None
            snapshot = record.snapshot()
        if announce is not None and self.config.deliver_callbacks:
            delivery = announce(snapshot, Step(status))
            if delivery is not None:
                self.dispatcher.enqueue(delivery)
        return snapshot

    def _release(self, message_id: str, steps: list[Step], factory: DeliveryFactory) -> bool:
        with self.lock:
            record = self.messages.get(message_id)
            if record is None or not record.held:
                return False  # cancelled, or forgotten by reset()
            record.held = False
            # Still under the lock: a cancel cannot slip in between the check and the first step.
            self._apply(message_id, steps, factory)
        return True

    def _set_status(self, record: MessageRecord, step: Step, moment: datetime) -> None:
        record.status = step.status
        record.error_code = step.error_code
        record.updated_at = moment
        record.history.append(step.status)
        if step.status == "sent":
            record.sent_at = moment
        if self.personalities[record.provider].is_final(step.status):
            record.completed_at = moment

    def _apply(self, message_id: str, steps: list[Step], factory: DeliveryFactory) -> None:
        step, rest = steps[0], steps[1:]
        with self.lock:
            record = self.messages.get(message_id)
            if record is None:
                return
            moment = self.now()
            self._set_status(record, step, moment)
            snapshot = record.snapshot()
        if rest:
            self.progress(snapshot, rest, factory)
        if not self.config.deliver_callbacks or step.quiet:
            return
        delivery = factory(snapshot, step)
        if delivery is not None:
            self.dispatcher.enqueue(delivery)

    def reset(self) -> None:
        """Back to a fresh emulator (same accounts and keys), on real time again."""
        self.dispatcher.clear()
        self.scheduler.clear()
        self.faults.clear()
        with self.lock:
            self.messages.clear()
            self.idempotency.clear()
            for provider in self.personalities:
                self.opted_out[provider].clear()
                self.webhooks[provider].clear()
