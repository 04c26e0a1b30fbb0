"""What a bulk send yields and reports: one ``BulkItem`` per input, and the running
``BulkProgress`` counters."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from smsbridge._errors import SmsBridgeError
    from smsbridge._models import OutboundMessage, SendResult

__all__ = ["BulkInput", "BulkItem", "BulkProgress"]

BulkInput: TypeAlias = "OutboundMessage | Mapping[str, Any]"
"""What ``send_many`` accepts per message: an ``OutboundMessage``, or a mapping of ``send``'s
keywords (``{"to": "+14155552671", "body": "Hi"}``; the keys are ``smsbridge.bulk.FIELDS``)."""


@dataclass(frozen=True, slots=True)
class BulkItem:
    """The outcome of one input of ``send_many``.

    Exactly one of ``result`` and ``error`` is set.

    Attributes:
        index: the input's position (from 0), so results can be matched to inputs.
        input: the input as given (an ``OutboundMessage`` or a mapping).
        message: the normalised message that was sent, or ``None`` when the input was not a
            valid message (then ``error`` says why).
        result: what the provider said, when the message was sent (or was found sent by an
            earlier run of the same job: see ``resumed``).
        error: why it was not sent, typed like ``send``'s errors; its
            ``failure`` says whether it may have gone out (``"ambiguous"``).

    Examples:
        >>> messages = [
        ...     {"to": "+14155552671", "body": "Your order shipped"},
        ...     {"to": "12", "body": "Your order shipped"},
        ... ]
        >>> for item in sorted(sms.send_many(messages), key=lambda item: item.index):
        ...     print(item.index, item.ok, item.error.code if item.error else item.result.status)
        0 True queued
        1 False invalid_phone_number
    """

    index: int
    input: BulkInput
    message: OutboundMessage | None
    result: SendResult | None = None
    error: SmsBridgeError | None = None

    @property
    def ok(self) -> bool:
        """True when the message was sent (now, or by an earlier run of the job)."""
        return self.result is not None

    @property
    def ambiguous(self) -> bool:
        """True when the message may or may not have gone out: it was not sent again."""
        return self.error is not None and self.error.failure == "ambiguous"

    @property
    def resumed(self) -> bool:
        """True when an earlier run of the same job sent it: the stored result is returned
        and nothing was tried this time (``result.attempts`` is empty)."""
        return self.result is not None and not self.result.attempts


class BulkProgress:
    """Running counts of a bulk send, updated after every item.

    The same object is passed to every ``on_progress`` call and updated in place (as a progress
    bar's counters are): read what you need in the callback, or ``as_dict`` to keep a copy.

    Attributes:
        done: items finished so far (sent, resumed or failed).
        sent: sent by this run.
        resumed: found sent by an earlier run of the same job (not sent again).
        failed: not sent, by a failure that says nothing went out.
        ambiguous: may have gone out; not sent again.
        failed_by_code: ``failed`` and ``ambiguous`` counted by error code.
        started: ``time.monotonic()`` when the send began.

    Examples:
        With ``messages`` one valid input and one invalid (as in ``BulkItem``'s example):

        >>> from smsbridge.bulk import BulkProgress
        >>> counts = {}
        >>> def on_progress(progress: BulkProgress) -> None:
        ...     counts.update(progress.as_dict())  # the same object, updated in place: copy it
        >>> items = list(sms.send_many(messages, on_progress=on_progress))
        >>> counts["done"], counts["sent"], counts["failed"], counts["failed_by_code"]
        (2, 1, 1, {'invalid_phone_number': 1})
    """

    __slots__ = ("ambiguous", "done", "failed", "failed_by_code", "resumed", "sent", "started")

    def __init__(self) -> None:
        self.done = self.sent = self.resumed = self.failed = self.ambiguous = 0
        self.failed_by_code: dict[str, int] = {}
        self.started = time.monotonic()

    def add(self, item: BulkItem) -> None:
        """Count one finished item."""
        self.done += 1
        error = item.error
        if error is None:
            if item.resumed:
                self.resumed += 1
            else:
                self.sent += 1
            return
        if error.failure == "ambiguous":
            self.ambiguous += 1
        else:
            self.failed += 1
        self.failed_by_code[error.code] = self.failed_by_code.get(error.code, 0) + 1

    @property
    def elapsed(self) -> float:
        """Seconds since the send began."""
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Items finished per second so far."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A copy of the counts (for JSON lines and summaries)."""
        return {
            "done": self.done,
            "sent": self.sent,
            "resumed": self.resumed,
            "failed": self.failed,
            "ambiguous": self.ambiguous,
            "failed_by_code": dict(self.failed_by_code),
            "elapsed": round(self.elapsed, 3),
            "rate": round(self.rate, 1),
        }

    def __repr__(self) -> str:
        return (
            f"BulkProgress(done={self.done}, sent={self.sent}, resumed={self.resumed}, "
            f"failed={self.failed}, ambiguous={self.ambiguous})"
        )
