"""``smsbridge emulator``: run the provider emulator in the foreground until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
from collections.abc import Iterator

__all__ = ["EXAMPLES", "add_arguments", "run_emulator"]

EXAMPLES = (
    "smsbridge emulator",
    "# another port, faster status steps, and a line for each request it receives:",
    "smsbridge emulator --port 9000 --progress-delay 0.1 --verbose",
)
"""Shown at the end of ``smsbridge emulator --help``."""

#: The emulator's logger of requests received (see smsbridge.testing.emulator._server).
REQUESTS_LOGGER = "smsbridge.testing.emulator.requests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``smsbridge emulator`` to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=8787,
        help="port of the control API and of every provider together (0: any free port); "
        "each provider also gets a port of its own, printed at start",
    )
    for option, text in _cli_options().items():
        parser.add_argument(
            "--" + option.replace("_", "-"),
            metavar="VALUE",
            help=f"{text} (default: the emulator's own fake value, printed at start)",
        )
    parser.add_argument(
        "--progress-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between a message's status steps (queued, sent, delivered) and their "
        "callbacks",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print a line for each request the emulator receives: method, path and the "
        "status it answered (credentials, query values and bodies are not shown)",
    )


def _cli_options() -> dict[str, str]:
    """Every personality's command-line options (option name -> help)."""
    from smsbridge.testing.emulator._personality import discover

    return {name: text for found in discover() for name, text in found.cli_options.items()}


def run_emulator(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Start the emulator, print how to point an application at it, wait for Ctrl-C."""
    from smsbridge.testing.emulator import Emulator

    kwargs: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "progress_delay": args.progress_delay,
    }
    for option in _cli_options():
        value = getattr(args, option, None)
        if value:
            kwargs[option] = value
    emulator = Emulator(**kwargs)  # type: ignore[arg-type]
    verbose = bool(getattr(args, "verbose", False))
    with emulator, _requests_printed(verbose):
        print(f"smsbridge emulator listening on {emulator.url} (control API under /_emulator/)")
        print("Point an application at it with:")
        # Each provider's own listener: a "refuse" fault closes it, as a provider outage would.
        for name, value in emulator.environment().items():
            print(f"  export {name}={value}")
        print(
            f"Control API and every provider together: {emulator.url} (a 'refuse' fault does "
            "not close it; use the per-provider URLs above to see refusals)"
        )
        if verbose:
            print("Each request received is printed below: [listener] METHOD path -> status.")
        print("Press Ctrl-C to stop.", flush=True)
        waiter = stop or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("stopping")
    return 0


@contextlib.contextmanager
def _requests_printed(verbose: bool) -> Iterator[None]:
    """With ``verbose``, print the emulator's request lines on standard output, one per
    request, while the emulator runs."""
    if not verbose:
        yield
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger(REQUESTS_LOGGER)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # printed here, not again by the root logger
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
