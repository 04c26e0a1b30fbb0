"""Checks of the task pages that the examples harness (tests/test_docs_examples.py) does not do.

The harness runs every block; these tests hold what the pages *say* to the code:

* proxies.md shows contrib/nginx/smsbridge.conf verbatim;
* failover.md's failure classes are the code's ``Failure`` values, each provider example in its
  table is classified as the row says by that provider's own codec, and its "What a 503 means"
  table is what ``providers/_codes.py`` and the I/O shell decide;
* swap-providers.md's capability table is each provider's ``Capabilities`` and limits;
* contributing.md names the files of a provider package, the commands CI runs and files that
  exist; architecture.md's tree names modules that exist, and every package and webhook module;
* the output shown after a block is what the block prints (python blocks of the pages below,
  and ``smsbridge webhook check`` in proxies.md).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from _docs_kit import (
    Block,
    PointAtEmulator,
    compile_block,
    emulator_credentials,
    is_script,
    preserved_process_state,
    read_page,
    run_command,
    shell_lines,
)

from smsbridge import OutboundMessage, ProviderError
from smsbridge._errors import Failure
from smsbridge.providers import Telnyx, Twilio, Vonage
from smsbridge.providers._codes import unavailable_failure
from smsbridge.providers._registry import BUILTIN
from smsbridge.providers._shell import classify_transport_error
from smsbridge.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "smsbridge"
CLASSES = set(get_args(Failure))


def text(page: str) -> str:
    return (DOCS / page).read_text()


def section(page: str, heading: str) -> str:
    """The text of ``page`` under ``heading`` (any level), up to the next heading of that level
    or above."""
    body = text(page)
    match = re.search(rf"^(#+) {re.escape(heading)}\n", body, re.M)
    assert match, f"{page} has no heading {heading!r}"
    level = len(match[1])
    rest = body[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def tables(markdown: str) -> list[list[list[str]]]:
    """Every Markdown table of ``markdown``: rows of cells, the header first, no separator."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def code_of(cell: str) -> str:
    """The first backticked word of a cell (`rejected` -> rejected)."""
    match = re.search(r"`([^`]+)`", cell)
    assert match, f"no `code` in {cell!r}"
    return match[1]


# -- proxies.md ----------------------------------------------------------------------------


def test_the_nginx_block_is_the_contrib_file() -> None:
    """The nginx site on the proxies page is contrib/nginx/smsbridge.conf, byte for byte."""
    blocks, _ = read_page(DOCS / "proxies.md")
    (nginx,) = [block for block in blocks if block.language == "nginx"]
    assert nginx.text == (ROOT / "contrib" / "nginx" / "smsbridge.conf").read_text()


# -- failover.md ---------------------------------------------------------------------------


def test_the_failure_classes_are_the_codes() -> None:
    """The class table names exactly the values of smsbridge's ``Failure``."""
    rows = tables(section("failover.md", "Failure classes"))[0][1:]
    assert {code_of(row[0]) for row in rows} == CLASSES
    assert len(rows) == len(CLASSES)


def _providers() -> dict[str, Any]:
    return {
        "twilio": Twilio("AC" + "0" * 32, "token", from_="+15017122661"),
        "telnyx": Telnyx("KEYdocs", from_="+15017122662"),
        "vonage": Vonage("docs", "secret", from_="+15017122663"),
    }


def _answer(provider: str, status: int, code: str | None) -> httpx.Response:
    """An error answer in the provider's own format."""
    if provider == "twilio":
        body: dict[str, Any] = {"message": "error", "status": status}
        if code is not None:
            body["code"] = int(code)
    elif provider == "telnyx":
        body = {"errors": [{"title": "error", **({"code": code} if code else {})}]}
    else:
        fragment = f"#{code}" if code else ""
        body = {"type": f"https://developer.vonage.com/api-errors/messages{fragment}"}
        body["title"] = "error"
    return httpx.Response(status, json=body)


def classify(provider: str, status: int, code: str | None) -> str | None:
    """What the provider's codec makes of an error answer: the failure class."""
    codec = _providers()[provider]
    message = OutboundMessage(to="+14155552671", body="docs")
    with pytest.raises(ProviderError) as raised:
        codec.parse_response(_answer(provider, status, code), message)
    return raised.value.failure


def _examples() -> list[tuple[str, str, int, str | None]]:
    """(provider, class, HTTP status, code or None) of every example in the provider table."""
    table = tables(section("failover.md", "Failure classes"))[1]
    header = [cell.lower() for cell in table[0]]
    assert header == ["class", "twilio", "telnyx", "vonage"]
    found = []
    for row in table[1:]:
        failure = code_of(row[0])
        for provider, cell in zip(header[1:], row[1:], strict=True):
            items = re.findall(r"HTTP (\d{3})(?: `#?([\w-]+)`)?", cell)
            assert items, f"no example for {provider} in the {failure} row"
            found += [(provider, failure, int(status), code or None) for status, code in items]
    return found


@pytest.mark.parametrize(
    ("provider", "failure", "status", "code"), _examples(), ids=lambda value: str(value)
)
def test_each_failure_example_is_classified_as_the_page_says(
    provider: str, failure: str, status: int, code: str | None
) -> None:
    """The provider's own codec puts each example answer in the row's class."""
    assert classify(provider, status, code) == failure


def test_what_a_503_means_is_what_the_code_decides() -> None:
    """Each row of the 503 table, checked against every provider's codec and the I/O shell."""
    rows = tables(section("failover.md", "What a 503 means"))[0][1:]
    said = {row[0]: code_of(row[1]) for row in rows}
    checks: dict[str, list[str | None]] = {
        "HTTP 503, from any provider": [classify(p, 503, None) for p in _providers()],
        "Twilio error code `20503`, whatever the HTTP status": [
            classify("twilio", status, "20503") for status in (500, 502, 503)
        ],
        "HTTP 500, 502, 504 or any other 5xx": [
            classify(p, status, None) for p in _providers() for status in (500, 502, 504, 599)
        ],
        "no connection (refused, connect timeout, pool timeout)": [
            classify_transport_error("twilio", exc("x")).failure
            for exc in (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
        ],
        "no complete answer after the request was written (read timeout, reset)": [
            classify_transport_error("twilio", exc("x")).failure
            for exc in (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError)
        ],
    }
    assert set(said) == set(checks)
    for row, failures in checks.items():
        assert set(failures) == {said[row]}, row
    assert unavailable_failure(503) == "refused"
    assert {unavailable_failure(status) for status in (500, 502, 504)} == {"ambiguous"}


# -- swap-providers.md ---------------------------------------------------------------------


def test_the_capability_table_is_each_providers_capabilities() -> None:
    """Scheduling windows, cancel/fetch, idempotency, read-back and the limits, per provider."""
    from smsbridge._outbound import MAX_MEDIA
    from smsbridge.providers.vonage._provider import MAX_CLIENT_REF, MAX_TEXT

    (table,) = tables(section("swap-providers.md", "What changes with the provider"))[1:]
    header = [cell.lower() for cell in table[0][1:]]
    assert header == ["twilio", "telnyx", "vonage"]
    rows = {row[0]: dict(zip(header, row[1:], strict=True)) for row in table[1:]}
    caps = {name: provider.capabilities for name, provider in _providers().items()}

    def yes(cell: str) -> bool:
        assert cell.split()[0].strip(":") in ("yes", "no"), cell
        return cell.startswith("yes")

    for name, cap in caps.items():
        assert yes(rows["cancel and fetch a message by id"][name]) == (cap.cancel and cap.fetch)
        assert yes(rows["a repeated request cannot send twice (idempotency key)"][name]) == (
            cap.idempotency
        )
        assert yes(rows["read back after a failure (`reconcile=True`)"][name]) == cap.read_back
        window = rows["scheduling (`send_at`)"][name]
        if cap.scheduling is None:
            assert window == "none"
        else:
            earliest, latest = cap.scheduling
            minutes = re.search(r"more than (\d+) minutes", window)
            days = re.search(r"at most (\d+) days", window)
            assert minutes is not None, window
            assert days is not None, window
            assert int(minutes[1]) * 60 == earliest.total_seconds(), window
            assert int(days[1]) == latest.days, window
    assert "messaging service" in rows["scheduling (`send_at`)"]["twilio"]
    assert f"{MAX_MEDIA} media" in rows["MMS"]["twilio"]
    assert f"{MAX_MEDIA} media" in rows["MMS"]["telnyx"]
    assert rows["MMS"]["vonage"].startswith("one image")
    assert rows["text length"]["vonage"] == f"{MAX_TEXT} characters"
    assert str(MAX_CLIENT_REF) in rows["`reference` length"]["vonage"]


# -- contributing.md and architecture.md ---------------------------------------------------


def test_the_provider_package_files_are_those_of_the_packages() -> None:
    """Every file Vonage's package holds is in the table; the optional ones exist elsewhere."""
    (table,) = [
        t for t in tables(section("contributing.md", "Add a provider")) if t[0][0] == "file"
    ]
    listed = {code_of(row[0]): row[0] for row in table[1:]}
    vonage = {path.name for path in (PACKAGE / "providers" / "vonage").glob("*.py")}
    required = {name for name, cell in listed.items() if "(" not in cell}
    assert required <= vonage
    assert vonage <= set(listed)
    everywhere = {path.name for path in (PACKAGE / "providers").glob("*/*.py")}
    assert set(listed) <= everywhere


def test_the_registry_step_matches_the_registry() -> None:
    """The line the page tells you to add has the shape of BUILTIN's entries."""
    page = text("contributing.md")
    assert "`BUILTIN` in `smsbridge/providers/_registry.py`" in page
    for name, target in BUILTIN.items():
        assert target == f"smsbridge.providers.{name}:{target.rpartition(':')[2]}"
    assert '"acme": "smsbridge.providers.acme:Acme"' in page


def test_the_check_commands_are_what_ci_runs() -> None:
    """The commands of "Run the checks" are lines .ci/run runs, and the named files exist."""
    blocks, _ = read_page(DOCS / "contributing.md")
    checks = [b for b in blocks if b.language == "text" and "ruff check ." in b.text]
    (block,) = checks
    ci = (ROOT / ".ci" / "run").read_text()
    for command in shell_lines(block.text):
        assert command in ci, command
    page = text("contributing.md")
    for path in set(re.findall(r"`((?:tests|smsbridge|docs|benchmarks|contrib)/[\w/.-]+)`", page)):
        if "<name>" not in path:
            assert (ROOT / path).exists(), path
    from benchmarks.__main__ import BENCHMARKS

    assert "sending" in BENCHMARKS


def test_the_architecture_tree_names_what_exists() -> None:
    """Every module and folder in the tree exists; every package and webhook module is there."""
    blocks, _ = read_page(DOCS / "architecture.md")
    tree = next(b.text for b in blocks if b.text.startswith("smsbridge/"))
    named = set()
    for line in tree.splitlines():
        words = line.split()
        if words and re.fullmatch(r"[\w.]+(\.py|/)", words[0]):
            named.add(words[0])  # the entry a line describes
        if len(words) > 1 and re.fullmatch(r"_\w+\.py", words[1]):
            named.add(words[1])  # two modules on one line (_phone.py  _segments.py)
        named |= set(re.findall(r"\((_\w+\.py)", line))  # (_telemetry.py: ...)
    roots = [ROOT / name for name in ("smsbridge", "contrib", "benchmarks", "tests", "docs")]
    existing = {p.name for root in roots for p in root.rglob("*") if p.suffix == ".py"}
    existing |= {p.name + "/" for root in roots for p in [root, *root.rglob("*")] if p.is_dir()}
    assert named - existing == set()
    packages = {p.parent.name + "/" for p in PACKAGE.glob("*/__init__.py")}
    assert packages <= named
    assert {p.name for p in (PACKAGE / "webhooks").glob("_*.py")} <= named
    assert {p.name for p in (PACKAGE / "providers").glob("_*.py")} <= named


# -- outputs -------------------------------------------------------------------------------

OUTPUT_PAGES = ("failover.md", "stores.md", "proxies.md", "swap-providers.md", "contributing.md")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(progress_delay=0, deliver_callbacks=False) as emu:
        yield emu


def _environment(emu: Emulator) -> dict[str, str]:
    """The harness's environment: the emulator's variables, without SMSBRIDGE_PROVIDERS."""
    env = {k: v for k, v in os.environ.items() if k != "SMSBRIDGE_PROVIDERS"}
    for name, value in emu.environment().items():
        if name != "SMSBRIDGE_PROVIDERS":
            env[name] = value
    return env


def _shown_after(blocks: list[Block], index: int) -> str | None:
    following = blocks[index + 1] if index + 1 < len(blocks) else None
    return following.text if following is not None and following.language == "text" else None


@pytest.mark.parametrize("page", OUTPUT_PAGES)
def test_the_output_shown_is_what_the_blocks_print(
    page: str, emulator: Emulator, tmp_path: Path
) -> None:
    """Each python block followed by a text block prints that text (webhook check too)."""
    emulator.reset()
    blocks, problems = read_page(DOCS / page)
    assert problems == []
    env = _environment(emulator)
    compared = 0
    namespace: dict[str, Any] = {}
    with preserved_process_state(tmp_path):
        os.environ.clear()
        os.environ.update(env)
        os.chdir(tmp_path)
        sys.path.insert(0, str(tmp_path))
        for index, block in enumerate(blocks):
            shown = _shown_after(blocks, index)
            if block.file is not None:
                (tmp_path / block.file).write_text(block.text)
            elif block.language == "python":
                if not block.continues:
                    namespace = {"__name__": "__main__" if is_script(block) else "__docs__"}
                code = compile_block(block, PointAtEmulator(emulator_credentials(emulator)))
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(code, namespace)
                if shown is not None:
                    assert out.getvalue() == shown, block.where
                    compared += 1
            elif block.language == "sh" and shown is not None and "webhook check" in block.text:
                for command in shell_lines(block.text):
                    ran, _, _ = run_command(command, tmp_path, env)
                    assert ran.status == block.exit, ran.output
                    assert ran.output == shown, block.where
                    compared += 1
    assert compared, f"{page}: no output compared"
