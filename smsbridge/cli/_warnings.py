"""The warnings ``smsbridge send`` prints for a person, each once, on standard error.

**A long message.** The library logs a warning for every message over
``WARN_SEGMENTS`` segments and puts the same text in the result's
``warnings``. Printed as the library logs it, one send showed it twice (the log line and the
command's own) and a bulk send once per message, burying the progress and the summary. While
a command sends, ``long_message_log_silenced`` drops that log record and the command
prints the warning itself: once for one message, and for a bulk send the first one and then
a count (``LongMessages``).

**A reference with nowhere to go.** A send's ``reference`` reaches its status events on the
status-callback URL the bridge gives the provider, and without a public URL the bridge gives
none: ``reference_warning`` says so before anything is sent.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

__all__ = ["LongMessages", "long_message_log_silenced", "reference_warning", "warn"]

# The logger smsbridge._outbound warns on; its record carries the segments in ``extra``.
_LIBRARY_LOGGER = "smsbridge"


def warn(text: str, stream: TextIO | None = None) -> None:
    """Print ``warning: text`` on standard error (or ``stream``)."""
    print(f"warning: {text}", file=stream if stream is not None else sys.stderr, flush=True)


class _DropLongMessage(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "segments", None) is None


@contextlib.contextmanager
def long_message_log_silenced() -> Iterator[None]:
    """Drop the library's long-message log record while the command prints it itself.

    The record is recognised by the ``segments`` it carries, whichever logger it comes from:
    the filter sits on the root logger's handlers (where the command's log lines are printed)
    and on the library's logger (for a record printed without them). Other records go
    through, ``--debug``'s included.
    """
    dropper = _DropLongMessage()
    library = logging.getLogger(_LIBRARY_LOGGER)
    handlers = list(logging.getLogger().handlers)
    library.addFilter(dropper)
    for handler in handlers:
        handler.addFilter(dropper)
    try:
        yield
    finally:
        library.removeFilter(dropper)
        for handler in handlers:
            handler.removeFilter(dropper)


class LongMessages:
    """The long-message warnings of a bulk send: the first printed, the others counted."""

    def __init__(self) -> None:
        self.count = 0

    def first(self, warnings: tuple[str, ...], where: str) -> str | None:
        """The line to print for a sent message's ``warnings`` (``where``: its row or
        position), or ``None``: it had none, or an earlier message's was printed already."""
        if not warnings:
            return None
        self.count += 1
        if self.count > 1:
            return None
        return (
            f"{where}: {'; '.join(warnings)} (further long messages are counted, not "
            "shown one by one)"
        )

    def summary(self) -> str | None:
        """The closing line when more than one message was long, else ``None``."""
        if self.count < 2:
            return None
        from smsbridge._segments import WARN_SEGMENTS

        return f"{self.count} messages took more than {WARN_SEGMENTS} segments each"


def reference_warning(reference_from: str | None, public_url: str | None) -> str | None:
    """The warning for references that no status event will carry, or ``None``.

    Args:
        reference_from: where the references come from (``"--reference order-42"``, ``"the
            CSV's reference column"``), ``None`` when the messages have none.
        public_url: ``--public-url``.
    """
    if reference_from is None or public_url:
        return None
    return (
        f"{reference_from} will not come back on status events without --public-url: the "
        "bridge carries a reference on the status-callback URL it gives the provider, and has "
        "none to give (a provider that keeps references itself still returns it)"
    )
