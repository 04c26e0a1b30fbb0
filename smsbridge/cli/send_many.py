"""``smsbridge send`` for many messages: ``--csv FILE``, ``--to-file FILE`` or ``--bulk`` with
repeated ``--to``, through ``Bridge.send_many``.

Inputs are read lazily (see ``._bulk_input``), so a file of any length is sent in flat
memory. On a terminal a progress bar shows the counts, the rate and the time left, and a
summary ends the run; when standard output is not a terminal (or with ``--json``) every message
is one JSON line on it, and a ``{"summary": ...}`` line ends the run. ``--results`` writes a CSV
of every outcome as it comes; ``--job`` makes the send resumable through the command's
persistent store.

Exit codes: 0 every message sent (or resumed), 1 a message failed or may have been sent, 2 a
usage or configuration error (nothing was sent when it is found before sending), 130 stopped
by Ctrl-C (the sends in flight finish first; the summary is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from smsbridge.cli._help import Default

if TYPE_CHECKING:
    from smsbridge.bulk import BulkInput
    from smsbridge.cli._bulk_input import BadRow, Row
    from smsbridge.cli._bulk_output import ProgressBar

__all__ = ["DEFAULT_CONCURRENCY", "EXAMPLES", "add_arguments", "run_send_many", "wants_bulk"]

EXAMPLES = (
    "# many messages from a CSV (columns to,body,...), resumable after a crash:",
    "smsbridge send --csv customers.csv --job december-promo --results sent.csv",
)
"""The bulk examples at the end of ``smsbridge send --help``."""

DEFAULT_CONCURRENCY = 16
"""Sends in flight at once in a bulk ``smsbridge send`` without ``--concurrency``."""
_SHOWN_FAILURES = 10  # failures printed above the bar; the rest are in the summary and results
EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def add_arguments(send: argparse.ArgumentParser) -> None:
    """The options of ``smsbridge send`` that send many messages (any of them makes the
    command a bulk send)."""
    group = send.add_argument_group(
        "sending many messages",
        "Any of these options sends many messages through Bridge.send_many. --body, --media, "
        "--from, --region, --reference and --at are shared: a CSV cell left empty takes their "
        "value.",
    )
    group.add_argument(
        "--csv",
        metavar="FILE",
        help="a CSV file with a header and the columns to, body, media_urls (URLs separated by "
        "spaces), from, reference, idempotency_key, region, send_at (like --at); - reads "
        "standard input",
    )
    group.add_argument(
        "--to-file",
        metavar="FILE",
        help="a file of numbers, one a line (blank lines and # comments are skipped)",
    )
    group.add_argument(
        "--bulk",
        action="store_true",
        help="a bulk send (progress, summary, JSON lines) even for a single --to",
    )
    group.add_argument(
        "--job",
        metavar="NAME",
        help="make the send resumable: running the same command again with the same NAME "
        "skips what was sent and never re-sends what may have been (keys live in --store)",
    )
    group.add_argument(
        "--results",
        metavar="FILE",
        help="write a CSV of every message's outcome (written as they finish)",
    )
    group.add_argument(
        "--concurrency",
        type=_positive,
        # A Default: the value a bulk send uses, yet not given, so it does not make one.
        default=Default(DEFAULT_CONCURRENCY),
        metavar="N",
        help="messages in flight at once",
    )
    group.add_argument(
        "--total",
        type=_count,
        metavar="N",
        help="the number of messages, for the progress bar's time left (default: counted by "
        "a first pass over the file)",
    )


def wants_bulk(args: argparse.Namespace) -> bool:
    """True when the command line asks for a bulk send."""
    # getattr: a parser built with send's own options only (not these) sends one message.
    # Identity, not equality: --total 0 and --job "" are given (and 0 == False).
    values = (
        getattr(args, name, None)
        for name in ("csv", "to_file", "bulk", "job", "results", "concurrency", "total")
    )
    # A repeated --to sends to each recipient (one --to sends one message).
    return len(args.to or ()) > 1 or any(
        value is not None and value is not False and not isinstance(value, Default)
        for value in values
    )


def _check(args: argparse.Namespace) -> None:
    """Refuse a bulk command line whose options conflict (exit 2, nothing sent)."""
    from smsbridge.cli.send import UsageError

    sources = [
        name
        for name, given in (("--csv", args.csv), ("--to-file", args.to_file), ("--to", args.to))
        if given
    ]
    if not sources:
        raise UsageError("a bulk send needs its recipients: --csv FILE, --to-file FILE or --to")
    if len(sources) > 1:
        raise UsageError(f"give the recipients one way: {' or '.join(sources)}, not both")
    if args.idempotency_key:
        raise UsageError(
            "--idempotency-key would make every message the same one: use --job NAME to make a "
            "bulk send resumable, or an idempotency_key column"
        )
    if not args.csv and not args.body and not args.media:
        raise UsageError("the messages need --body TEXT or --media URL")
    if args.results:
        for option, path in (("--csv", args.csv), ("--to-file", args.to_file)):
            if path and path != "-" and _same_file(path, args.results):
                raise UsageError(f"--results {args.results} would overwrite {option} {path}")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def _inputs(args: argparse.Namespace, stack: contextlib.ExitStack) -> Iterable[Row | BadRow]:
    """The messages of the command line, opened and checked (a CSV's header is read)."""
    from smsbridge.cli._bulk_input import CsvInput, Shared, number_file, open_input
    from smsbridge.cli.send import send_at_of

    shared = Shared(
        body=args.body or "",
        media_urls=tuple(args.media or ()),
        from_=args.from_,
        region=args.region,
        reference=args.reference,
        send_at=send_at_of(args),  # a bad --at stops the command before anything is sent
    )
    if args.to:
        return [shared.message(position, {"to": to}) for position, to in enumerate(args.to, 1)]
    option, path = ("--csv", args.csv) if args.csv else ("--to-file", args.to_file)
    file = open_input(path, option)
    if path != "-":
        stack.callback(file.close)
    name = "standard input" if path == "-" else path
    return CsvInput(file, name, shared) if args.csv else number_file(file, name, shared)


def _total(args: argparse.Namespace, inputs: Iterable[Row | BadRow]) -> int | None:
    """How many messages there are, for the time left: ``--total``, or a first pass."""
    from smsbridge.cli._bulk_input import count_csv, count_numbers

    if args.total is not None:
        return int(args.total)
    if isinstance(inputs, list):
        return len(inputs)
    return count_csv(args.csv) if args.csv else count_numbers(args.to_file)


def _until(stop: threading.Event, inputs: Iterable[Row | BadRow]) -> Iterator[Row | BadRow]:
    """The inputs, until ``stop`` is set (checked before each is read)."""
    iterator = iter(inputs)
    while not stop.is_set():
        try:
            yield next(iterator)
        except StopIteration:
            return


@contextlib.contextmanager
def _ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C sets ``stop`` (no new message is taken; the sends in flight finish and
    are reported); a second one ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        # os.write, not print: the main thread may be inside a write to stderr right now.
        os.write(
            2,
            b"\nsmsbridge: stopping: no new messages; finishing those in flight "
            b"(Ctrl-C again to quit at once)\n",
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _quiet_attempts() -> Iterator[None]:
    """Hide the router's warning about each failed attempt: every message's outcome is
    reported anyway, and one line per failure would bury the progress and the summary.
    Errors (a store that cannot keep a key) still show; ``--debug`` shows everything."""
    logger = logging.getLogger("smsbridge.routing")
    level = logger.level
    logger.setLevel(max(logging.ERROR, level))
    try:
        yield
    finally:
        logger.setLevel(level)


def run_send_many(args: argparse.Namespace, environ: Any = None) -> int:
    """Send every message the command line describes; show progress, write the outcomes and
    print the summary. Returns the exit code."""
    from smsbridge.bulk import BulkProgress
    from smsbridge.cli import _bulk_output as output
    from smsbridge.cli._bulk_input import InputError
    from smsbridge.cli._warnings import LongMessages, long_message_log_silenced, warn
    from smsbridge.cli.send import bridge_from_args

    _check(args)
    json_lines = bool(args.json) or not sys.stdout.isatty()
    # JSON lines and a bar on one terminal would garble each other.
    show_bar = sys.stderr.isatty() and not (json_lines and sys.stdout.isatty())
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        inputs = _inputs(args, stack)  # before the bridge: a bad file is reported first
        bridge = stack.enter_context(bridge_from_args(args, environ))
        unreturned = _reference_warning(args, inputs)
        if unreturned:
            warn(unreturned)
        # Each long message's warning would be logged once per message: see cli._warnings.
        stack.enter_context(long_message_log_silenced())
        long_messages = LongMessages()
        # A bad --job or --concurrency raises here, before the results file or any send.
        items = bridge.send_many(
            # A BadRow is not a message on purpose: send_many refuses it without sending.
            cast("Iterable[BulkInput]", _until(stop, inputs)),
            concurrency=int(args.concurrency or DEFAULT_CONCURRENCY),
            job=args.job,
        )
        results = output.ResultsFile(args.results) if args.results else None
        if results is not None:
            stack.callback(results.close)
        bar = None
        if show_bar:
            bar = output.ProgressBar(_total(args, inputs), sys.stderr, job=args.job)
            stack.enter_context(bar.logging_above())
        if not getattr(args, "debug", False):
            stack.enter_context(_quiet_attempts())
        progress = BulkProgress()
        input_error: InputError | None = None
        shown = 0
        with _ctrl_c_stops(stop):
            try:
                for item in items:
                    progress.add(item)
                    data = output.outcome(item)
                    if results is not None:
                        results.write(data)
                    if json_lines:
                        print(output.json_line(data), flush=True)
                    if bar is not None:
                        bar.update(progress)
                    if not item.ok and not json_lines and shown <= _SHOWN_FAILURES:
                        shown += 1
                        _note(bar, _failure_note(data, shown))
                    warnings = item.result.warnings if item.result is not None else ()
                    long_line = long_messages.first(warnings, f"row {data['row']} {data['to']}")
                    if long_line:
                        _note(bar, f"warning: {long_line}")
            except InputError as exc:
                # Raised by the input once the messages before it are out: report them too.
                input_error = exc
            finally:
                if bar is not None:
                    bar.close()
    interrupted = stop.is_set()
    if json_lines:
        data = output.summary(
            progress,
            job=args.job,
            interrupted=interrupted,
            error=str(input_error) if input_error else None,
        )
        print(output.json_line({"summary": data}), flush=True)
    if not json_lines or show_bar:
        lines = output.summary_lines(
            progress, job=args.job, interrupted=interrupted, results=args.results
        )
        stream = sys.stderr if json_lines else sys.stdout
        print("\n".join(lines), file=stream, flush=True)
    counted = long_messages.summary()
    if counted:
        warn(counted)
    if input_error is not None:
        print(f"smsbridge: error: {input_error}", file=sys.stderr)
        return 2
    if interrupted:
        return EXIT_INTERRUPTED
    return 1 if progress.failed or progress.ambiguous else 0


def _reference_warning(args: argparse.Namespace, inputs: Iterable[Row | BadRow]) -> str | None:
    """The warning for references no status event will carry (``--reference``, or a CSV's
    ``reference`` column, without ``--public-url``)."""
    from smsbridge.cli._bulk_input import CsvInput
    from smsbridge.cli._warnings import reference_warning

    if args.reference:
        source: str | None = f"--reference {args.reference}"
    elif isinstance(inputs, CsvInput) and "reference" in inputs.columns:
        source = "the CSV's reference column"
    else:
        source = None
    return reference_warning(source, args.public_url)


def _failure_note(data: dict[str, Any], shown: int) -> str:
    from smsbridge.cli._bulk_output import failure_line

    if shown > _SHOWN_FAILURES:
        return "(more failures: see the summary, and --results for every message)"
    return failure_line(data)


def _note(bar: ProgressBar | None, line: str) -> None:
    """A line for a person on stderr, above the bar when there is one."""
    if bar is not None:
        bar.note(line)
    else:
        print(line, file=sys.stderr)
