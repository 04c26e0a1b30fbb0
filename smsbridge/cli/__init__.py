"""The ``smsbridge`` command line (also ``python -m smsbridge``).

Commands: ``send``, ``cancel``, ``status``, ``serve``, ``emulator``, ``demo``, ``webhook
check``. Errors print as one readable line (add ``--debug`` for the traceback). Exit codes
scripts can rely on:

====  ==============================================================
0     success
1     the operation failed (message refused, signature invalid, demo step failed, too late to
      cancel, no such message)
2     usage or configuration error (bad number, missing variable, bad flag, a send time
      without a UTC offset, in the past or outside every provider's window, a provider that
      cannot do what was asked)
3     a provider or endpoint could not be reached, or the outcome is unknown
130   stopped by Ctrl-C (a bulk send finishes the messages in flight and prints its summary)
====  ==============================================================

docs/cli.md lists the same codes (tests/test_cli_docs.py checks that they agree).

Each command lives in its own module of this package, which adds the command's options
(``add_arguments``) and runs it (``run_*``): ``send``,
``cancel``, ``status``, ``serve``,
``emulator``, ``demo`` and
``webhook_check``. A command may also give an ``error_hint`` (set as the
parser's default): the line printed after an error of that command, in its own terms.
Building the parser imports only their light parts; what a command needs to run (uvicorn,
httpx, the emulator) is imported when it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from smsbridge._errors import (
    ConfigError,
    InvalidPhoneNumber,
    MessageTooLong,
    SchedulingUnavailable,
    SmsBridgeError,
    Unsupported,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "main",
]

EXIT_OK = 0
"""Exit code: success."""
EXIT_FAILED = 1
"""Exit code: the operation failed (message refused, signature invalid, demo step failed, too
late to cancel, no such message)."""
EXIT_USAGE = 2
"""Exit code: a usage or configuration error (bad number, missing variable, bad flag, a send
time outside every provider's window, a provider that cannot do what was asked)."""
EXIT_UNREACHABLE = 3
"""Exit code: a provider or endpoint could not be reached, or the outcome is unknown."""
EXIT_INTERRUPTED = 130
"""Exit code: stopped by Ctrl-C (the shell's 128 + SIGINT)."""


def _send(args: argparse.Namespace) -> int:
    from smsbridge.cli.send import run_send

    return run_send(args)


def _cancel(args: argparse.Namespace) -> int:
    from smsbridge.cli.cancel import run_cancel

    return run_cancel(args)


def _status(args: argparse.Namespace) -> int:
    from smsbridge.cli.status import run_status

    return run_status(args)


def _emulator(args: argparse.Namespace) -> int:
    from smsbridge.cli.emulator import run_emulator

    return run_emulator(args)


def _serve(args: argparse.Namespace) -> int:
    from smsbridge.cli.serve import run_serve

    return run_serve(args)


def _demo(args: argparse.Namespace) -> int:
    from smsbridge.cli.demo import run_demo

    return run_demo(args)


def _webhook_check(args: argparse.Namespace) -> int:
    from smsbridge.cli.webhook_check import check_command

    return check_command(args)


class _Version(argparse.Action):
    """``--version``: prints ``smsbridge X.Y.Z`` and exits 0. The version is the installed
    distribution's (its metadata, written from pyproject.toml), read only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("smsbridge")
        except PackageNotFoundError:  # a source tree on sys.path, never installed
            from smsbridge import __version__ as installed
        print(f"smsbridge {installed}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    # Each command's module adds its own options; these imports stay light (see the modules).
    from smsbridge.cli import cancel as cancel_command
    from smsbridge.cli import demo as demo_command
    from smsbridge.cli import emulator as emulator_command
    from smsbridge.cli import send as send_command
    from smsbridge.cli import send_many as send_many_command
    from smsbridge.cli import serve as serve_command
    from smsbridge.cli import status as status_command
    from smsbridge.cli import webhook_check
    from smsbridge.cli._help import HelpFormatter
    from smsbridge.cli._help import examples as format_examples

    parser = argparse.ArgumentParser(
        prog="smsbridge",
        description="Send and receive SMS and MMS through Twilio, Telnyx and Vonage; "
        "emulate them offline. 'smsbridge COMMAND --help' describes a command.",
        formatter_class=HelpFormatter,
        epilog=format_examples("smsbridge demo", "smsbridge emulator", "smsbridge send --help"),
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks and debug logs (the exit codes stay the same)",
    )
    parser.add_argument("--version", action=_Version, help="print the installed version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    # Every command's help shows its options' defaults and ends with examples (cli._help).
    def command(
        group: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        examples: Sequence[str],
        **kwargs: Any,
    ) -> argparse.ArgumentParser:
        return group.add_parser(
            name, formatter_class=HelpFormatter, epilog=format_examples(*examples), **kwargs
        )

    send = command(
        commands,
        "send",
        send_command.EXAMPLES + send_many_command.EXAMPLES,
        help="send a message (or many: --csv, --to-file, repeated --to)",
        description="Send one SMS or MMS through the providers configured in the environment "
        "(Bridge.from_env(): SMSBRIDGE_PROVIDERS and each provider's variables; a *_BASE_URL "
        "points a provider at the emulator). With several providers, the next one is tried "
        "when one refuses the message (never when it may have sent it). Idempotency keys are "
        "kept in a persistent store, so a second run with the same --idempotency-key does not "
        "send again. With --csv, --to-file or a repeated --to it sends many messages, "
        "resumable with --job.",
    )
    send_command.add_arguments(send)
    send_many_command.add_arguments(send)
    send.set_defaults(func=_send)

    cancel = command(
        commands,
        "cancel",
        cancel_command.EXAMPLES,
        help="cancel a scheduled message: cancel PROVIDER ID",
        description="Cancel a message scheduled with send --at, by its provider and the "
        "provider's id for it (Bridge.cancel). Cancelling one already canceled succeeds too.",
    )
    cancel_command.add_arguments(cancel)
    cancel.set_defaults(func=_cancel, error_hint=cancel_command.error_hint)

    status = command(
        commands,
        "status",
        status_command.EXAMPLES,
        help="read a message's status back from its provider: status PROVIDER ID",
        description="Read one message back from its provider by id (Bridge.fetch): its "
        "status, the provider's own status word, its error code and send_at.",
    )
    status_command.add_arguments(status)
    status.set_defaults(func=_status, error_hint=status_command.error_hint)

    emulator = command(
        commands,
        "emulator",
        emulator_command.EXAMPLES,
        help="run the provider emulator on 127.0.0.1 (fake accounts, no network)",
        description="Serve Twilio-, Telnyx- and Vonage-compatible messaging APIs on "
        "127.0.0.1 until Ctrl-C, and print the variables that point an application (or "
        "smsbridge send) at them. Messages move through queued, sent and delivered, with "
        "signed status callbacks; faults are injected through the control API.",
    )
    emulator_command.add_arguments(emulator)
    emulator.set_defaults(func=_emulator)

    serve = command(
        commands,
        "serve",
        serve_command.EXAMPLES,
        help="run the webhook endpoint: inbound messages and statuses, verified",
        description="Serve one webhook endpoint for every configured provider (needs the "
        "'server' extra): each webhook is verified, parsed and acknowledged, and each event "
        "printed as a line of JSON on standard output, or POSTed to --forward-url.",
    )
    serve_command.add_arguments(serve)
    serve.set_defaults(func=_serve)

    demo = command(
        commands,
        "demo",
        demo_command.EXAMPLES,
        help="show the whole library working offline, in a few seconds",
        description="Start the emulator and a webhook endpoint on loopback and walk through "
        "sends, failover, status callbacks, inbound replies and rejected forgeries, checking "
        "each step. Needs no account and no extra.",
    )
    demo_command.add_arguments(demo)
    demo.set_defaults(func=_demo)

    webhook = command(
        commands,
        "webhook",
        webhook_check.EXAMPLES,
        help="webhook tools: webhook check",
        description="Tools for webhooks. 'smsbridge webhook check --help' for the one there is.",
    )
    webhook_commands = webhook.add_subparsers(dest="webhook_command", metavar="COMMAND")
    check = command(
        webhook_commands,
        "check",
        webhook_check.EXAMPLES,
        help="explain why a captured webhook's signature fails",
        description="Check a captured webhook's signature with the secrets in the environment "
        "(TWILIO_AUTH_TOKEN, TWILIO_SHARED_KEYS, TELNYX_PUBLIC_KEY, VONAGE_SIGNATURE_SECRET) "
        "and, when it fails, show which URL variant (scheme, host, port, path) would match.",
    )
    webhook_check.add_arguments(check)
    check.set_defaults(func=_webhook_check)
    webhook.set_defaults(func=None, _help=webhook.print_help)
    return parser


def _exit_code(exc: SmsBridgeError) -> int:
    # Found before any request, and wrong whatever the providers would say: a scheduled time
    # no configured provider can hold, an operation the provider cannot do (read-back, cancel).
    usage = (ConfigError, InvalidPhoneNumber, MessageTooLong, SchedulingUnavailable, Unsupported)
    if isinstance(exc, usage):
        return EXIT_USAGE
    if exc.failure == "ambiguous" or (exc.failure == "refused" and exc.http_status is None):
        return EXIT_UNREACHABLE
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        (getattr(args, "_help", None) or parser.print_help)()
        return EXIT_USAGE
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except SmsBridgeError as exc:
        _traceback(args)
        print(f"smsbridge: error: {exc}", file=sys.stderr)
        if exc.attempts and len(exc.attempts) > 1:
            for attempt in exc.attempts:
                print(f"  attempt {attempt.provider}: {attempt.error}", file=sys.stderr)
        hint = getattr(args, "error_hint", _send_hint)(args, exc)
        if hint:
            print(f"smsbridge: {hint}", file=sys.stderr)
        return _exit_code(exc)
    except (OSError, ValueError) as exc:
        _traceback(args)
        print(f"smsbridge: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # the promise is one readable line, whatever went wrong
        _traceback(args)
        print(f"smsbridge: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _send_hint(args: argparse.Namespace, exc: SmsBridgeError) -> str | None:
    """The line after a failed send: what an ambiguous failure means for re-sending."""
    if exc.failure == "ambiguous":
        return (
            "it may have been sent: check before re-sending "
            "(or re-send with the same --idempotency-key, which will not send it twice)"
        )
    return None


def _traceback(args: argparse.Namespace) -> None:
    """With ``--debug``, the traceback of the error being handled (the exit code stays the
    documented one)."""
    if args.debug:
        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
