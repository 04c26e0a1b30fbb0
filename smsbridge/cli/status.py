"""``smsbridge status PROVIDER ID``: read one message back from its provider (``Bridge.fetch``).

It prints the message's status as smsbridge maps it, the provider's own word for it, its error
code and, while it waits, when it is to go out. The exit code is about the reading, not the
message: a message that failed reads fine (exit 0, ``status=failed``). A provider without
read-back by id is refused before any request (``unsupported``, exit 2).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsbridge._errors import SmsBridgeError

__all__ = ["EXAMPLES", "add_arguments", "error_hint", "run_status"]

EXAMPLES = (
    "smsbridge status twilio SM0123456789abcdef0123456789abcdef",
    "smsbridge status telnyx 40317f3c-0f70-4e7a-9a3b-8a8f3f1c2d4e --json",
)
"""Shown at the end of ``smsbridge status --help``."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``smsbridge status``."""
    from smsbridge.cli import _by_id

    _by_id.add_arguments(parser)


def error_hint(args: argparse.Namespace, exc: SmsBridgeError) -> str | None:
    """None: a read changes nothing, so no error of it needs more than its own line (send's
    "it may have been sent" would be wrong here)."""
    return None


def run_status(args: argparse.Namespace, environ: Any = None) -> int:
    """Read the message back and print it. Returns the exit code."""
    from smsbridge._bridge import Bridge
    from smsbridge.cli import _by_id

    return _by_id.run(args, Bridge.fetch, environ=environ)
