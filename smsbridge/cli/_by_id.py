"""What ``smsbridge cancel`` and ``smsbridge status`` share: one message named by its provider
and the provider's id for it, one request about it, one line (or ``--json``) about the answer.

The bridge is built as ``smsbridge send`` builds it (``bridge_from_args``:
the environment and ``--store``), so the provider must be configured in ``SMSBRIDGE_PROVIDERS``
or ``SMSBRIDGE_RECEIVE_ONLY``; a receive-only one counts, since its messages can still be read
and cancelled after a switch of vendor.

Exit codes (``smsbridge.cli``'s table): 0 the operation was done (whatever the message's status
is); 1 the provider refused it (``not_cancellable``, ``message_not_found``, credentials); 2 a
usage or configuration error found before any request (a provider not configured or unable to
do this, an id that is not of the provider's shape); 3 the provider could not be reached, or a
cancel's outcome is unknown.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import SendResult

__all__ = ["Operation", "add_arguments", "describe", "run"]

Operation = Callable[["Bridge", str, str], "SendResult"]
"""``Bridge.cancel`` or ``Bridge.fetch``, called with the provider's name and the id."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments both commands take: ``PROVIDER ID``, ``--store``, ``--json``."""
    from smsbridge.cli.send import add_store_argument

    parser.add_argument(
        "provider",
        metavar="PROVIDER",
        help="the provider holding the message (configured in SMSBRIDGE_PROVIDERS or "
        "SMSBRIDGE_RECEIVE_ONLY), e.g. twilio",
    )
    parser.add_argument(
        "message_id",
        metavar="ID",
        help="the provider's id for the message (the id= that smsbridge send printed)",
    )
    add_store_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the SendResult as JSON")


def describe(result: SendResult) -> str:
    """One line about a message: provider, id, status, the provider's own status word, its
    error code and ``send_at`` (``-`` for what the provider did not say)."""
    from smsbridge.cli._send_at import format_time

    send_at = format_time(result.send_at) if result.send_at is not None else "-"
    return (
        f"provider={result.provider} id={result.provider_message_id} "
        f"status={result.status.value} raw_status={result.raw_status or '-'} "
        f"error_code={result.error_code or '-'} send_at={send_at}"
    )


def run(
    args: argparse.Namespace, operation: Operation, prefix: str = "", environ: Any = None
) -> int:
    """Build the bridge, do ``operation`` on ``PROVIDER ID`` and print the answer (one line
    starting with ``prefix``, or ``--json``). Returns the exit code; errors are raised for
    ``smsbridge.cli.main`` to report.

    Raises:
        UsageError: the id is not one the provider could have given (exit 2, no request made).
        SmsBridgeError: as ``operation`` raises it (see the module's exit codes).
    """
    from smsbridge._errors import InvalidRequest
    from smsbridge.cli.send import UsageError, bridge_from_args

    # Only the store and the environment matter here: no callbacks, no narrowing to a sender
    # (the provider is looked up among receive-only ones too).
    options = argparse.Namespace(store=args.store, public_url=None, provider=None)
    with bridge_from_args(options, environ) as bridge:
        try:
            result = operation(bridge, args.provider.strip().lower(), args.message_id.strip())
        except InvalidRequest as exc:
            if exc.http_status is not None:
                raise  # the provider's own answer: a refusal like any other (exit 1)
            # Checked before any request (an id of the wrong shape): the argument is wrong.
            raise UsageError(str(exc)) from exc
    if args.json:
        print(result.model_dump_json(exclude={"raw"}))
    else:
        print(f"{prefix}{describe(result)}")
    return 0
