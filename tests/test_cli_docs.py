"""docs/cli.md matches the command line: every command's options, their defaults, the exit
codes.

The page gives each command a ``## `smsbridge COMMAND` `` section with one or more tables
whose first column is ``option``: a row names an option (or a positional argument) in code
spans, and its ``default`` cell starts with the default in a code span when the parser has a
value for it (a port, a path, seconds), or with words when the parser's default only means "not
given" (``None``, ``False``, an empty list). ``## Exit codes`` lists every exit code, which
must be the set the code returns.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsbridge.cli import build_parser
from smsbridge.cli._help import shows_default

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli.md"
CLI = ROOT / "smsbridge" / "cli"
# webhook check's 0/1 live where every provider's check shares them.
DIAGNOSIS = ROOT / "smsbridge" / "webhooks" / "_diagnosis.py"
# argparse itself exits 2 on a bad command line (parser.error), 0 after --help and --version.
ARGPARSE_CODES = {0, 2}

Command = tuple[str, ...]
Row = tuple[tuple[str, ...], str]


# -- the page ---------------------------------------------------------------------------------
def _sections(text: str) -> Iterator[tuple[str, list[str]]]:
    """Each ``## `` section of the page: its heading and its lines (### subsections included)."""
    heading, lines = "", []
    for line in text.splitlines():
        if line.startswith("## "):
            yield heading, lines
            heading, lines = line[3:].strip(), []
        else:
            lines.append(line)
    yield heading, lines


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _tables(lines: list[str]) -> Iterator[list[list[str]]]:
    """The Markdown tables among ``lines``: each a header row and its body rows (cells)."""
    table: list[list[str]] = []
    for line in [*lines, ""]:
        if line.lstrip().startswith("|"):
            table.append(_cells(line.replace("\\|", "\x00")))
        elif table:
            header, _, *body = table
            yield [header, *body]
            table = []


def _option_rows(lines: list[str]) -> list[Row]:
    """The rows of the section's ``option | default | meaning`` tables."""
    rows = []
    for header, *body in _tables(lines):
        if header[0] != "option":
            continue
        assert header[1] == "default", header
        for cells in body:
            names = tuple(span.split()[0] for span in re.findall(r"`([^`]+)`", cells[0]))
            assert names, f"a row of an option table names no option: {cells}"
            rows.append((names, cells[1]))
    return rows


def documented() -> dict[Command, list[Row]]:
    """Each command the page has a section for, with its option rows."""
    found: dict[Command, list[Row]] = {}
    for heading, lines in _sections(PAGE.read_text(encoding="utf-8")):
        match = re.match(r"`(smsbridge(?: [a-z-]+)*)`", heading)
        if match:
            command = tuple(match.group(1).split()[1:])
            assert command not in found, f"two sections for {command}"
            found[command] = _option_rows(lines)
    return found


def documented_exit_codes() -> set[int]:
    for heading, lines in _sections(PAGE.read_text(encoding="utf-8")):
        if heading == "Exit codes":
            header, *body = next(_tables(lines))
            assert header[0] == "exit code"
            return {int(cells[0]) for cells in body}
    raise AssertionError("docs/cli.md has no '## Exit codes' section")


# -- the parser -------------------------------------------------------------------------------
def commands(
    parser: argparse.ArgumentParser, path: Command = ()
) -> Iterator[tuple[Command, argparse.ArgumentParser]]:
    """Every command's parser, the top-level one included (as ``()``)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options and positional arguments a user gives (not --help, not the command)."""
    return [
        action
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
    ]


def names(action: argparse.Action) -> set[str]:
    if action.option_strings:
        return set(action.option_strings)
    return {str(action.metavar or action.dest)}


PARSERS = dict(commands(build_parser()))
PAGE_COMMANDS = documented()


def test_every_command_with_arguments_has_a_section() -> None:
    """Each command that takes arguments has its section, and each section a command."""
    with_arguments = {path for path, parser in PARSERS.items() if arguments(parser)}
    assert set(PAGE_COMMANDS) == with_arguments


@pytest.mark.parametrize("command", sorted(PAGE_COMMANDS), ids=" ".join)
def test_the_documented_options_are_the_parsers(command: Command) -> None:
    """The options (and positional arguments) in the section's tables are exactly the
    parser's: none missing, none that does not exist."""
    in_parser = {name for action in arguments(PARSERS[command]) for name in names(action)}
    on_page = {name for row_names, _ in PAGE_COMMANDS[command] for name in row_names}
    assert on_page == in_parser


@pytest.mark.parametrize("command", sorted(PAGE_COMMANDS), ids=" ".join)
def test_each_documented_default_is_the_parsers(command: Command) -> None:
    """A default the parser has is the one the page gives; a "not given" default is described
    in words, not given a value."""
    rows = PAGE_COMMANDS[command]
    for action in arguments(PARSERS[command]):
        cells = [default for row_names, default in rows if names(action) & set(row_names)]
        assert len(cells) == 1, f"{sorted(names(action))} is in {len(cells)} rows of the page"
        cell = cells[0]
        if shows_default(action):
            match = re.match(r"`([^`]*)`", cell)
            assert match, f"{sorted(names(action))}: the page gives no default, the parser {cell}"
            convert = action.type if callable(action.type) else str
            assert convert(match.group(1)) == action.default, sorted(names(action))
        else:
            assert not cell.startswith("`"), (
                f"{sorted(names(action))}: the page gives the value {cell}, the parser none"
            )


def _int_returns(node: ast.AST) -> Iterator[int]:
    """The integer literals a return statement can give (through ``a if c else b`` too)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _int_returns(node.body)
        yield from _int_returns(node.orelse)


def code_exit_codes() -> set[int]:
    """Every exit code the command line's code uses: its ``EXIT_*`` constants and the integer
    literals its functions return, and argparse's own."""
    found = set(ARGPARSE_CODES)
    for path in [*sorted(CLI.glob("*.py")), DIAGNOSIS]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # EXIT_X = n, and EXIT_A, EXIT_B = a, b
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    pairs = (
                        zip(target.elts, node.value.elts, strict=True)
                        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                        else [(target, node.value)]
                    )
                    for name, value in pairs:
                        if isinstance(name, ast.Name) and name.id.startswith("EXIT_"):
                            assert isinstance(value, ast.Constant), ast.dump(value)
                            found.add(value.value)
        for node in ast.walk(tree):
            if isinstance(node, ast.Return) and node.value is not None:
                found.update(_int_returns(node.value))
    return found


def test_the_exit_codes_are_the_ones_the_code_uses() -> None:
    """The page's exit codes are exactly those in the code: a new one is documented, and a
    documented one is real."""
    assert documented_exit_codes() == code_exit_codes()


def test_the_scan_finds_what_the_commands_return() -> None:
    """The scan above sees the codes it must (the table would otherwise agree with nothing)."""
    assert {0, 1, 2, 3, 130} <= code_exit_codes()
