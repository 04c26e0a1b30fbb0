"""The long commands the docs show but the examples harness does not run to the end.

``docs/performance.md`` and ``docs/reliability.md`` show full benchmark and soak runs (minutes
each) in ``text`` blocks, beside a short run the harness executes. Each such line is parsed
here by the command's own argument parser, so a renamed or removed option fails a test instead
of a reader.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from benchmarks.__main__ import _selected
from benchmarks.__main__ import build_parser as suite_parser
from benchmarks.soak import build_parser as soak_parser

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = ("docs/performance.md", "docs/reliability.md")


def _commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for language, body in FENCE.findall((ROOT / page).read_text()):
            if language != "text":
                continue
            for line in body.splitlines():
                if line.startswith("python -m benchmarks"):
                    found.append((page, line.split("#", 1)[0].strip()))
    return found


COMMANDS = _commands()


def test_the_pages_show_long_commands() -> None:
    """The check below has something to check on both pages."""
    assert {page for page, _ in COMMANDS} == set(PAGES)


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_each_documented_command_parses(page: str, command: str) -> None:
    """Every option the line uses exists, with a value of the right type."""
    words = shlex.split(command)
    assert words[:2] == ["python", "-m"], page
    module, args = words[2], words[3:]
    if module == "benchmarks":
        parsed = suite_parser().parse_args(args)
        _selected(parsed.only)  # an unknown benchmark name exits
    elif module == "benchmarks.soak":
        soak_parser().parse_args(args)
    else:
        pytest.fail(f"{page}: no parser known for {module}")
