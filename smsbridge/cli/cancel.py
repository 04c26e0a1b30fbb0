"""``smsbridge cancel PROVIDER ID``: cancel a scheduled message through ``Bridge.cancel``.

A ``canceled`` answer means the provider will not send the message; cancelling one already
canceled answers the same (exit 0), so a script can retry freely. ``not_cancellable`` (exit 1)
means it is too late: the message may go out, or has. A cancel whose answer never came (exit 3)
may or may not have taken effect: ``smsbridge status`` tells. See docs/scheduling.md.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsbridge._errors import SmsBridgeError

__all__ = ["EXAMPLES", "add_arguments", "error_hint", "run_cancel"]

EXAMPLES = ("smsbridge cancel twilio SM0123456789abcdef0123456789abcdef",)
"""Shown at the end of ``smsbridge cancel --help``."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``smsbridge cancel``."""
    from smsbridge.cli import _by_id

    _by_id.add_arguments(parser)


def error_hint(args: argparse.Namespace, exc: SmsBridgeError) -> str | None:
    """What to do after a failed cancel, for the errors whose meaning is not obvious (the
    line after the error; ``None`` for the others)."""
    check = f"smsbridge status {args.provider} {args.message_id}"
    if exc.failure == "ambiguous":
        return (
            f"the cancel may or may not have taken effect: check with {check} "
            "(cancelling again is safe)"
        )
    if exc.code == "not_cancellable":
        return f"it is too late to cancel: the message may go out, or has: see {check}"
    return None


def run_cancel(args: argparse.Namespace, environ: Any = None) -> int:
    """Cancel the message and print it, now ``canceled``. Returns the exit code."""
    from smsbridge._bridge import Bridge
    from smsbridge.cli import _by_id

    return _by_id.run(args, Bridge.cancel, "canceled: ", environ)
