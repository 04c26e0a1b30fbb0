"""How every command's ``--help`` reads: each option's default, and examples at the end.

``HelpFormatter`` adds ``(default: X)`` to an option whose default is a value (a port, a
path, a number of seconds), and leaves out the ``None``, ``False`` and empty-list defaults
that only mean "not given" (their help says what happens then). Descriptions are wrapped to the
terminal; examples keep their lines. ``examples`` writes the epilog every command ends its
help with.

``Default`` marks a default the user did not type, for an option whose presence changes
what the command does (``--concurrency`` makes ``send`` a bulk send).
"""

from __future__ import annotations

import argparse

__all__ = ["Default", "HelpFormatter", "examples", "shows_default"]


_EXAMPLES_HEAD = "example"


class HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default when it is a value, wraps descriptions to the terminal, and
    keeps the examples' lines as written (a command line is copied whole)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(_EXAMPLES_HEAD):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or "default:" in text or not shows_default(action):
            return text
        return f"{text} (default: %(default)s)"


def shows_default(action: argparse.Action) -> bool:
    """True when ``--help`` shows the option's default: an optional argument whose default
    is a value, not one of the "not given" defaults (``None``, ``False``, ``[]``)."""
    default = action.default
    if not action.option_strings or default is argparse.SUPPRESS:
        return False
    return default is not None and default is not False and default != []


class Default(int):
    """An integer default the user did not type (``isinstance(value, Default)``): the command
    can tell it from the same number given on the command line."""

    __slots__ = ()


def examples(*lines: str) -> str:
    """The epilog of a command's help: its examples, one command line each (a line starting
    with ``#`` is a comment about the next one)."""
    plural = "s" if sum(not line.startswith("#") for line in lines) > 1 else ""
    return f"{_EXAMPLES_HEAD}{plural}:\n" + "\n".join(f"  {line}" for line in lines)
