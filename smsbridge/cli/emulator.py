"""``smsbridge emulator``: run the provider emulator in the foreground until interrupted."""

from __future__ import annotations

import argparse
import threading

__all__ = ["add_arguments", "run_emulator"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``smsbridge emulator`` to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 = any)")
    for option, text in _cli_options().items():
        parser.add_argument("--" + option.replace("_", "-"), help=text)
    parser.add_argument(
        "--progress-delay", type=float, default=1.0, help="seconds between status steps"
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
    with emulator:
        print(f"smsbridge emulator listening on {emulator.url} (control API under /_emulator/)")
        print("Point an application at it with:")
        # Each provider's own listener: a "refuse" fault closes it, as a provider outage would.
        for name, value in emulator.environment().items():
            print(f"  export {name}={value}")
        print(
            f"Control API and every provider together: {emulator.url} (a 'refuse' fault does "
            "not close it; use the per-provider URLs above to see refusals)"
        )
        print("Press Ctrl-C to stop.", flush=True)
        waiter = stop or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("stopping")
    return 0
