"""``smsbridge send``: one message through ``Bridge.from_env()``, keyed in a persistent store.

Given ``--csv``, ``--to-file`` or ``--bulk`` (or another option of a bulk send), the command
sends many messages instead: ``smsbridge.cli.send_many`` does that, with the same store and
bridge as this module builds.

Each run of the command is a new process, so an in-memory store would forget an idempotency
key at once and ``--idempotency-key`` would not stop a second send. The command therefore keeps
its state in a SQLite file in the user's state directory (``platformdirs``' ``user_state_dir``:
``$XDG_STATE_HOME/smsbridge`` or ``~/.local/state/smsbridge`` on Linux, the platform's usual
place elsewhere), unless ``SMSBRIDGE_STORE`` or ``--store`` names another.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from smsbridge._bridge import Bridge
    from smsbridge.stores import Store

__all__ = [
    "EXAMPLES",
    "UsageError",
    "add_arguments",
    "add_store_argument",
    "bridge_from_args",
    "default_store_path",
    "default_store_url",
    "run_send",
    "send_at_of",
]


class UsageError(ValueError):
    """A command line that cannot run as given (conflicting or missing options): exit 2.

    Examples:
        >>> from smsbridge.cli import main
        >>> main(["send", "--to", "+14155552671", "--to", "+14155552672"])  # no --body
        2
    """


def default_store_path() -> Path:
    """The CLI's default store file, in the user's state directory."""
    import platformdirs

    return Path(platformdirs.user_state_dir("smsbridge", appauthor=False)) / "smsbridge.db"


def default_store_url() -> str:
    """``default_store_path`` as a store URL (what ``--help`` shows)."""
    # An absolute path after "sqlite:///" gives the four slashes of an absolute SQLite URL.
    return f"sqlite:///{default_store_path().as_posix()}"


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """``--store URL``, as every command that builds a bridge with ``bridge_from_args``
    takes it."""
    parser.add_argument(
        "--store",
        metavar="URL",
        help="where idempotency keys and breaker state live: memory:, sqlite:///path or "
        f"redis://host:port/db (default: $SMSBRIDGE_STORE if set, else {default_store_url()})",
    )


EXAMPLES = (
    'smsbridge send --to +14155552671 --body "Your code is 123456"',
    "# a national number; the reference comes back on the status events your endpoint gets:",
    'smsbridge send --to "(415) 555-2671" --region US --body "Hi" --reference order-42 '
    "--public-url https://app.example.com",
)
"""Shown at the end of ``smsbridge send --help``."""


def add_arguments(send: argparse.ArgumentParser) -> None:
    """The options of ``smsbridge send``."""
    # Collected as a list so that a repeated --to sends to each (argparse would otherwise keep
    # the last one only, silently).
    send.add_argument(
        "--to",
        action="append",
        metavar="NUMBER",
        help="recipient: E.164 (+14155552671), or national with --region; repeat it to send "
        "the message to each",
    )
    send.add_argument(
        "--body", metavar="TEXT", help="message text (a message needs --body or --media)"
    )
    send.add_argument(
        "--from",
        dest="from_",
        metavar="SENDER",
        help="sender: E.164 number, short code or alphanumeric ID (default: each provider's "
        "own, from its *_FROM variable)",
    )
    send.add_argument(
        "--media",
        "--media-url",
        dest="media",
        action="append",
        metavar="URL",
        help="public URL of an image or file to attach, making it an MMS (repeat it, up to 10)",
    )
    send.add_argument(
        "--provider",
        metavar="NAME",
        help="send through this one of the configured providers only, with no failover "
        "(default: every provider of SMSBRIDGE_PROVIDERS, in order)",
    )
    send.add_argument(
        "--region", metavar="CODE", help="country of a national --to number: US, GB, FR, ..."
    )
    send.add_argument(
        "--reference",
        metavar="TEXT",
        help="your id for the message (an order number): every status event of the message "
        "carries it, which needs --public-url",
    )
    send.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="send at most once per KEY, across runs: a second run prints the first result "
        "(the key is kept in --store)",
    )
    add_store_argument(send)
    send.add_argument(
        "--public-url",
        metavar="URL",
        help="where the providers reach your webhook endpoint (https://app.example.com, or the "
        "endpoint's full URL): the message's status callbacks go there (default: the "
        "webhook configured at the provider, which gets no --reference)",
    )
    send.add_argument(
        "--at",
        metavar="TIME",
        help="schedule the message(s) for TIME, ISO 8601 with a UTC offset: "
        "2026-12-24T09:00:00+01:00 or 2026-12-24T08:00:00Z (a CSV's send_at cell wins); only "
        "providers that can hold it until then are used (see docs/scheduling.md)",
    )
    send.add_argument(
        "--json", action="store_true", help="print the SendResult as one line of JSON"
    )


def _default_store() -> Store:
    """The default SQLite store, or a ConfigError that says how to choose another."""
    from smsbridge._errors import ConfigError
    from smsbridge.stores import SQLiteStore

    try:
        return SQLiteStore(default_store_path())
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message}; that is the default store of smsbridge send: choose another with "
            "--store URL or SMSBRIDGE_STORE (memory: keeps nothing between runs)",
            variable="--store",
        ) from None


def bridge_from_args(args: argparse.Namespace, environ: Any = None) -> Bridge:
    """The bridge a ``send`` command line describes: ``Bridge.from_env()`` with the store of
    ``--store``, ``SMSBRIDGE_STORE`` or the default SQLite file, narrowed to ``--provider``.

    Raises:
        ConfigError: a missing or malformed setting (exit 2).
    """
    import os

    from smsbridge._bridge import Bridge
    from smsbridge.stores import store_from_url

    environ = os.environ if environ is None else environ
    if args.store:
        store = store_from_url(args.store, variable="--store")
    elif environ.get("SMSBRIDGE_STORE"):
        store = store_from_url(environ["SMSBRIDGE_STORE"])
    else:
        store = _default_store()
    options: dict[str, Any] = {"store": store}
    if args.public_url:
        options["public_url"] = args.public_url
    bridge = Bridge.from_env(environ, **options)
    if args.provider:
        bridge = Bridge(bridge.provider(args.provider.lower()), **options)
    return bridge


def send_at_of(args: argparse.Namespace) -> datetime | None:
    """``--at`` as an aware datetime in the future, or ``None`` without it.

    Raises:
        SendAtError: (a ``ValueError``: exit 2) unreadable, without a UTC offset, or past.
    """
    from smsbridge.cli._send_at import check_future, parse_send_at

    text = getattr(args, "at", None)  # a parser built without --at sends now
    if text is None:
        return None
    return check_future(parse_send_at(text))


def _recipient(args: argparse.Namespace) -> str:
    """The one ``--to`` of a one-message send."""
    if not args.to:
        raise UsageError(
            "smsbridge send needs --to NUMBER (repeat it, or give --csv FILE or --to-file FILE, "
            "to send many messages)"
        )
    return str(args.to[0])


def run_send(args: argparse.Namespace, environ: Any = None) -> int:
    """Send the message the arguments describe (or, for a bulk command line, every message:
    see ``smsbridge.cli.send_many``); print the result. Returns the exit code."""
    from smsbridge._status import MessageStatus
    from smsbridge.cli._send_at import format_time
    from smsbridge.cli._warnings import long_message_log_silenced, reference_warning, warn
    from smsbridge.cli.send_many import run_send_many, wants_bulk

    if wants_bulk(args):
        return run_send_many(args, environ)
    to = _recipient(args)
    send_at = send_at_of(args)  # before the bridge: a bad --at is reported first
    reference = f"--reference {args.reference}" if args.reference else None
    unreturned = reference_warning(reference, args.public_url)
    # The command prints a long message's warning itself, once (see cli._warnings).
    with bridge_from_args(args, environ) as bridge, long_message_log_silenced():
        if unreturned:
            warn(unreturned)  # once the bridge is configured, before anything is sent
        result = bridge.send(
            to=to,
            body=args.body or "",
            from_=args.from_,
            media_urls=args.media or (),
            region=args.region,
            reference=args.reference,
            idempotency_key=args.idempotency_key,
            send_at=send_at,
        )
    for warning in result.warnings:
        warn(warning)
    if args.json:
        print(result.model_dump_json(exclude={"raw"}))
        return 0
    # A result without attempts was replayed from the store: nothing was sent this time.
    replayed = bool(args.idempotency_key and not result.attempts)
    # A replayed result has no send_at (the store keeps the status): either one says it.
    scheduled_now = result.send_at is not None or result.status is MessageStatus.SCHEDULED
    verb = "scheduled" if scheduled_now else "sent"
    scheduled = f" send_at={format_time(result.send_at)}" if result.send_at is not None else ""
    print(
        f"{'already ' if replayed else ''}{verb} via {result.provider}: "
        f"id={result.provider_message_id} status={result.status.value}{scheduled} "
        f"to={result.to} from={result.from_} segments={result.segments}"
    )
    if replayed:
        print(f"(an earlier run {verb} it with this idempotency key; nothing was sent now)")
    if scheduled_now:
        print(f"(cancel it with: smsbridge cancel {result.provider} {result.provider_message_id})")
    return 0
