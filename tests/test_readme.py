"""The README's first commands, its quickstart's shape, its configuration table and links.

Its code blocks run in tests/test_docs_examples.py (with every page's), not here."""

from __future__ import annotations

import re
from pathlib import Path

from smsbridge._config import BRIDGE_VARIABLES, provider_variables

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DEMO_COMMAND = "python -m venv .venv && . .venv/bin/activate && pip install . && smsbridge demo"
VENV_COMMAND = "python -m venv .venv && . .venv/bin/activate"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(text: str, language: str | None = None) -> list[str]:
    """The fenced code blocks of ``text`` (of one language), in order."""
    return [body for lang, body in FENCE.findall(text) if language is None or lang == language]


def section(title: str) -> str:
    """The README text under the ``## title`` heading, up to the next one."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_first_two_commands_are_demo_then_tests() -> None:
    """The README's first two code blocks are the install-and-demo line and the tests: a
    virtual environment created and activated, then the test command."""
    first, second = (b.strip() for b in blocks(README)[:2])
    assert first == DEMO_COMMAND
    venv, test_command = second.splitlines()
    assert venv == VENV_COMMAND
    assert test_command.startswith("pip install '.[dev]' && ")
    assert "pytest" in test_command


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    """.ci/run creates and activates a .venv, then runs exactly the README's test command."""
    _, test_command = blocks(README)[1].strip().splitlines()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci
    activate = ci.index(". .venv/bin/activate")
    assert any(re.fullmatch(r"python3? -m venv \.venv", line) for line in ci[:activate])
    assert activate < ci.index(test_command)


def test_quickstart_has_a_sync_and_an_async_example_of_about_ten_lines() -> None:
    """The quickstart shows send and asend, each in ten lines of code at most."""
    sync, asynchronous = blocks(section("Quickstart"), "python")
    assert "sms.send(" in sync
    assert "await sms.asend(" in asynchronous
    for code in (sync, asynchronous):
        assert len([line for line in code.splitlines() if line.strip()]) <= 10


def test_configuration_table_lists_every_variable() -> None:
    """The configuration table has one row per variable Bridge.from_env reads, no more."""
    rows = re.findall(r"^\| `([A-Z_]+)` \|", section("Configuration"), re.M)
    expected = [*BRIDGE_VARIABLES, *(v for names in provider_variables().values() for v in names)]
    assert sorted(rows) == sorted(expected)
    assert len(rows) == len(set(rows))


def test_sections_link_to_existing_docs() -> None:
    """Every docs/ page the README links to exists."""
    links = re.findall(r"\]\((docs/[^)#]+)", README)
    assert links
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing, f"README links to missing pages: {missing}"
