"""The emulator's memory: configuration, accepted messages, opt-outs, webhooks, progressions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from smsbridge._signing import TwilioAlgorithm
from smsbridge.testing._emulator_common import PROVIDERS, MessageRecord, Step, now
from smsbridge.testing._emulator_delivery import Delivery, Dispatcher
from smsbridge.testing._emulator_faults import FaultBoard
from smsbridge.testing._signers import TelnyxKeyPair

__all__ = ["Config", "EmulatorState"]

TERMINAL = frozenset(
    {
        "delivered",
        "undelivered",
        "failed",
        "delivery_failed",
        "sending_failed",
        "delivery_unconfirmed",
    }
)

DeliveryFactory = Callable[[MessageRecord, Step], "Delivery | None"]


@dataclass(frozen=True)
class Config:
    """Accounts and behaviour of one emulator instance."""

    twilio_account_sid: str
    twilio_auth_token: str
    twilio_api_keys: Mapping[str, str]
    twilio_shared_key: tuple[str, str, TwilioAlgorithm] | None
    telnyx_api_key: str
    telnyx_keys: TelnyxKeyPair
    progress_delay: float
    deliver_callbacks: bool
    twilio_pool_number: str = "+15005550006"
    telnyx_pool_number: str = "+15005550007"


@dataclass
class EmulatorState:
    """Everything the provider modules share; every mutation happens under ``lock``."""

    config: Config
    dispatcher: Dispatcher
    faults: FaultBoard = field(default_factory=FaultBoard)
    lock: threading.RLock = field(default_factory=threading.RLock)
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    opted_out: dict[str, set[str]] = field(default_factory=lambda: {p: set() for p in PROVIDERS})
    webhooks: dict[str, dict[str, str]] = field(default_factory=lambda: {p: {} for p in PROVIDERS})
    idempotency: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

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

    def progress(self, record: MessageRecord, steps: list[Step], factory: DeliveryFactory) -> None:
        """Schedule ``steps`` ``progress_delay`` apart; ``factory`` makes each step's webhook."""
        if steps:
            # One timer at a time per message: each step schedules the next when it fires.
            step = partial(self._apply, record.id, steps, factory)
            self.dispatcher.schedule(self.config.progress_delay, step)

    def _apply(self, message_id: str, steps: list[Step], factory: DeliveryFactory) -> None:
        step, rest = steps[0], steps[1:]
        with self.lock:
            record = self.messages.get(message_id)
            if record is None:
                return
            moment = now()
            record.status = step.status
            record.error_code = step.error_code
            record.updated_at = moment
            record.history.append(step.status)
            if step.status == "sent":
                record.sent_at = moment
            if step.status in TERMINAL:
                record.completed_at = moment
            snapshot = record.snapshot()
        if rest:
            self.progress(snapshot, rest, factory)
        if not self.config.deliver_callbacks:
            return
        delivery = factory(snapshot, step)
        if delivery is not None:
            self.dispatcher.enqueue(delivery)

    def reset(self) -> None:
        """Back to a fresh emulator (same accounts and keys)."""
        self.dispatcher.clear()
        self.faults.clear()
        with self.lock:
            self.messages.clear()
            self.idempotency.clear()
            for provider in PROVIDERS:
                self.opted_out[provider].clear()
                self.webhooks[provider].clear()
