"""The README's commands and quickstart code, run against the emulator on 127.0.0.1."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsbridge._config import BRIDGE_VARIABLES, provider_variables
from smsbridge.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DEMO_COMMAND = "python -m venv .venv && . .venv/bin/activate && pip install . && smsbridge demo"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(text: str, language: str | None = None) -> list[str]:
    """The fenced code blocks of ``text`` (of one language), in order."""
    return [body for lang, body in FENCE.findall(text) if language is None or lang == language]


def section(title: str) -> str:
    """The README text under the ``## title`` heading, up to the next one."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module."""
    with Emulator(progress_delay=0, deliver_callbacks=False) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, reset around each test."""
    emulator.reset()
    yield emulator
    emulator.reset()


class _PointAtEmulator(ast.NodeTransformer):
    """Rewrites ``Twilio(...)`` and ``Telnyx(...)`` calls to use the emulator's account."""

    def __init__(self, emu: Emulator) -> None:
        self.credentials = {
            "Twilio": {
                "account_sid": emu.twilio_account_sid,
                "auth_token": emu.twilio_auth_token,
                "base_url": emu.twilio_url,
            },
            "Telnyx": {"api_key": emu.telnyx_api_key, "base_url": emu.telnyx_url},
        }
        self.rewritten = 0

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.credentials:
            replace = self.credentials[node.func.id]
            node.args = []
            node.keywords = [k for k in node.keywords if k.arg not in replace]
            node.keywords += [ast.keyword(k, ast.Constant(v)) for k, v in replace.items()]
            self.rewritten += 1
        return node


def run(code: str, emu: Emulator) -> int:
    """Execute README code pointed at the emulator; returns how many providers it built."""
    tree = ast.parse(code)
    rewriter = _PointAtEmulator(emu)
    tree = ast.fix_missing_locations(rewriter.visit(tree))
    exec(compile(tree, "README.md", "exec"), {"__name__": "__readme__"})
    return rewriter.rewritten


def test_first_two_commands_are_demo_then_tests() -> None:
    """The README's first two code blocks are the install-and-demo line and the test line."""
    first, second = (b.strip() for b in blocks(README)[:2])
    assert first == DEMO_COMMAND
    assert second.startswith("pip install '.[dev]' && ")
    assert "pytest" in second


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    """.ci/run runs exactly the README's test command."""
    test_command = blocks(README)[1].strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_quickstart_has_a_sync_and_an_async_example_of_about_ten_lines() -> None:
    """The quickstart shows send and asend, each in ten lines of code at most."""
    sync, asynchronous = blocks(section("Quickstart"), "python")
    assert "sms.send(" in sync
    assert "await sms.asend(" in asynchronous
    for code in (sync, asynchronous):
        assert len([line for line in code.splitlines() if line.strip()]) <= 10


def test_sync_quickstart_runs(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    """The sync quickstart sends one SMS through Twilio and prints its result."""
    code = blocks(section("Quickstart"), "python")[0]
    assert run(code, emu) == 1
    (message,) = emu.messages("twilio")
    assert (message["to"], message["text"]) == ("+14155552671", "Your code is 123456")
    assert capsys.readouterr().out.split() == ["twilio", message["id"], "queued"]


def test_async_quickstart_runs(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    """The async quickstart sends one MMS through Telnyx to a normalised national number."""
    code = blocks(section("Quickstart"), "python")[1]
    assert run(code, emu) == 1
    (message,) = emu.messages("telnyx")
    assert message["to"] == "+14155552671"
    assert (message["text"], message["media_urls"]) == ("Hi", ["https://example.com/photo.jpg"])
    assert capsys.readouterr().out.split() == ["+14155552671", "queued", "1"]


def test_configuration_example_runs(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The from_env example sends through the first provider of SMSBRIDGE_PROVIDERS."""
    settings = {
        "SMSBRIDGE_PROVIDERS": "telnyx,twilio",
        "TWILIO_ACCOUNT_SID": emu.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": emu.twilio_auth_token,
        "TWILIO_FROM": "+15017122661",
        "TWILIO_BASE_URL": emu.twilio_url,
        "TELNYX_API_KEY": emu.telnyx_api_key,
        "TELNYX_FROM": "+15017122662",
        "TELNYX_BASE_URL": emu.telnyx_url,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    (code,) = blocks(section("Configuration"), "python")
    run(code, emu)
    assert capsys.readouterr().out.strip() == "telnyx"
    assert len(emu.messages("telnyx")) == 1


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


def test_emulator_example_runs() -> None:
    """The README's emulator example runs as written: its own emulator, one send, one check."""
    (code,) = blocks(section("Emulator"), "python")
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, "README.md", "exec"), namespace)
    assert "emu" in namespace
