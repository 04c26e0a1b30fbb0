"""The reference tables of the docs, checked against the code they describe.

* docs/errors.md: a section for every error code the library can raise, whose anchor (as MkDocs
  renders the page) is the fragment of that error's ``docs_url``; and, under each category, the
  provider codes of every table in ``smsbridge/providers/*/_errors.py`` that map to it, no
  more, no fewer.
* docs/concepts.md: each provider's status table equals its ``_statuses`` mapping, special
  cases included.
* docs/emulator.md: the control API table lists every route the emulator serves under
  ``/_emulator/`` and nothing else; the fault table lists every fault kind with its parameters.

Tables are read from the Markdown source: a row is ``| cell | cell |``; values are the
backticked tokens of a cell.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

import httpx
import markdown
import pytest

import smsbridge._errors as errors_module
from smsbridge import MessageStatus, SmsBridgeError
from smsbridge.providers._codes import CATEGORY_CLASSES
from smsbridge.providers.telnyx._errors import TELNYX_CODES, TELNYX_MESSAGE_CODES
from smsbridge.providers.telnyx._statuses import TELNYX_STATUS
from smsbridge.providers.twilio._errors import TWILIO_CODES, TWILIO_MESSAGE_CODES, TWILIO_SEND_CODES
from smsbridge.providers.twilio._statuses import TWILIO_STATUS
from smsbridge.providers.vonage._errors import VONAGE_CODES, VONAGE_SEND_CODES
from smsbridge.providers.vonage._statuses import CARRIER_REJECTIONS, VONAGE_STATUS
from smsbridge.testing import Emulator
from smsbridge.testing.emulator import _control_api, _faults

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")
TICKED = re.compile(r"`([^`]+)`")


# -- reading Markdown ---------------------------------------------------------------------------


def _prose_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` outside fenced code blocks."""
    in_code = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            in_code = not in_code
            continue
        if not in_code:
            yield line


def _cells(line: str) -> list[str]:
    """The cells of a table row (``\\|`` is a pipe inside a cell)."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.replace("\\|", "|").strip() for cell in re.split(r"(?<!\\)\|", inner)]


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every pipe table of ``text`` outside code blocks: ``(header cells, body rows)``."""
    found: list[tuple[list[str], list[list[str]]]] = []
    lines = list(_prose_lines(text))
    index = 0
    while index < len(lines):
        line = lines[index]
        rule = lines[index + 1] if index + 1 < len(lines) else ""
        if line.lstrip().startswith("|") and re.fullmatch(r"\s*\|[\s|:-]+\|\s*", rule):
            header, rows = _cells(line), []
            index += 2
            while index < len(lines) and lines[index].lstrip().startswith("|"):
                rows.append(_cells(lines[index]))
                index += 1
            found.append((header, rows))
        else:
            index += 1
    return found


def table_with(text: str, *header: str) -> list[list[str]]:
    """The body of the one table of ``text`` whose header starts with ``header``."""
    matches = [rows for head, rows in tables(text) if tuple(head[: len(header)]) == header]
    assert len(matches) == 1, f"expected one table headed {header}, found {len(matches)}"
    return matches[0]


def ticked(cell: str) -> list[str]:
    """The backticked tokens of a cell, in order."""
    return TICKED.findall(cell)


@cache
def _renderer() -> markdown.Markdown:
    """Python-Markdown configured as the site builds pages (mkdocs.yml), else as MkDocs'
    default (``toc``, ``tables``, ``attr_list``)."""
    config = ROOT / "mkdocs.yml"
    if config.is_file():
        from mkdocs.config import load_config

        site = load_config(str(config))
        return markdown.Markdown(
            extensions=site["markdown_extensions"], extension_configs=site["mdx_configs"]
        )
    return markdown.Markdown(extensions=["toc", "tables", "attr_list"])


def sections(page: str) -> dict[str, str]:
    """Anchor (the heading's id on the built page) -> the Markdown under that heading."""
    text = (DOCS / page).read_text()
    renderer = _renderer()
    renderer.reset()
    html = renderer.convert(text)
    ids = re.findall(r"<h[1-6][^>]*\bid=\"([^\"]+)\"", html)
    result: dict[str, str] = {}
    current: str | None = None
    headings = 0
    for line in _prose_lines(text):
        if HEADING.match(line):
            assert headings < len(ids), f"{page}: heading without an id: {line}"
            current = ids[headings]
            headings += 1
            assert current not in result, f"{page}: two headings with the anchor #{current}"
            result[current] = ""
        elif current is not None:
            result[current] += line + "\n"
    assert headings == len(ids), f"{page}: {len(ids)} heading ids for {headings} headings"
    return result


# -- docs/errors.md -----------------------------------------------------------------------------

ERROR_CLASSES = sorted(
    (
        value
        for value in vars(errors_module).values()
        if isinstance(value, type) and issubclass(value, SmsBridgeError)
    ),
    key=lambda cls: cls.__name__,
)

# Row label in docs/errors.md -> the code table (code -> category) that row documents.
PROVIDER_ROWS: dict[str, Mapping[str, str]] = {
    "Twilio": TWILIO_SEND_CODES,
    "Twilio, a message's URL": {
        code: category
        for code, category in TWILIO_MESSAGE_CODES.items()
        if TWILIO_SEND_CODES.get(code) != category
    },
    "Telnyx": TELNYX_CODES,
    "Telnyx, a message's URL": {
        code: category
        for code, category in TELNYX_MESSAGE_CODES.items()
        if TELNYX_CODES.get(code) != category
    },
    "Vonage, status webhook": VONAGE_CODES,
    "Vonage, send answer": VONAGE_SEND_CODES,
}


def _anchor(code: str) -> str:
    return code.replace("_", "-")


def test_error_classes_are_found() -> None:
    """The classes enumerated from smsbridge._errors include every category's class."""
    assert len(ERROR_CLASSES) > 20
    assert set(CATEGORY_CLASSES.values()) <= set(ERROR_CLASSES)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_code_has_its_section_at_its_docs_url(cls: type[SmsBridgeError]) -> None:
    """Each error's docs_url points at the errors page, at the anchor of its code, and the
    section there names the code and the class."""
    error = cls("x")
    base, _, fragment = error.docs_url.partition("#")
    assert base == errors_module.DOCS_BASE
    assert base.rstrip("/").endswith("/errors"), "docs_url must point at the errors page"
    assert fragment == _anchor(cls.code)
    found = sections("errors.md")
    assert fragment in found, f"docs/errors.md has no section with the anchor #{fragment}"
    assert f"`{cls.code}`" in found[fragment]
    assert f"`{cls.__name__}`" in found[fragment]


def test_the_index_lists_every_code_with_its_anchor() -> None:
    """The index table of docs/errors.md has one row per code, linking to its anchor."""
    rows = table_with((DOCS / "errors.md").read_text(), "code", "class", "failure")
    links = {}
    for row in rows:
        match = re.fullmatch(r"\[`([a-z_]+)`\]\(#([a-z-]+)\)", row[0])
        assert match, f"index row {row[0]!r} is not a link to an anchor"
        links[match[1]] = match[2]
        cls = next(c for c in ERROR_CLASSES if c.code == match[1])
        assert row[1] == f"`{cls.__name__}`"
    assert links == {cls.code: _anchor(cls.code) for cls in ERROR_CLASSES}


def test_twilio_callback_codes_agree_with_its_send_codes() -> None:
    """One "Twilio" row documents both tables: a code means the same category in each."""
    assert all(TWILIO_SEND_CODES[code] == category for code, category in TWILIO_CODES.items())


def _documented_codes() -> dict[tuple[str, str], set[str]]:
    """(row label, category) -> the codes docs/errors.md lists in that row of that section."""
    documented: dict[tuple[str, str], set[str]] = {}
    by_anchor = sections("errors.md")
    for category in CATEGORY_CLASSES:
        text = by_anchor[_anchor(category)]
        for header, rows in tables(text):
            if header[:2] != ["provider", "codes"]:
                continue
            for label, cell in rows:
                assert label in PROVIDER_ROWS, f"unknown row {label!r} under {category}"
                assert (label, category) not in documented, f"two {label!r} rows in {category}"
                documented[(label, category)] = set(ticked(cell))
    for anchor, text in by_anchor.items():
        if anchor not in {_anchor(category) for category in CATEGORY_CLASSES}:
            assert not [h for h, _ in tables(text) if h[:2] == ["provider", "codes"]], anchor
    return documented


@pytest.mark.parametrize("label", sorted(PROVIDER_ROWS))
def test_every_provider_code_is_listed_under_its_category(label: str) -> None:
    """Each row of provider codes in docs/errors.md lists exactly the codes that the code's
    table maps to that section's category."""
    documented = _documented_codes()
    table = PROVIDER_ROWS[label]
    assert table, f"no codes for {label}"
    for category in CATEGORY_CLASSES:
        expected = {code for code, mapped in table.items() if mapped == category}
        listed = documented.get((label, category), set())
        missing, extra = sorted(expected - listed), sorted(listed - expected)
        assert not missing, f"{label}: {missing} missing from the {category} section"
        assert not extra, f"{label}: {extra} listed under {category}, which they do not map to"


# -- a sanity check of the table reader, on a page of its own --------------------------------


def test_the_table_reader_reads_escaped_pipes_and_skips_code() -> None:
    """A cell may hold an escaped pipe; a table inside a code block is not a table."""
    text = "| a | b |\n|---|---|\n| `\\|` | x |\n\n```\n| c | d |\n|---|---|\n```\n"
    assert tables(text) == [(["a", "b"], [["`|`", "x"]])]


# -- docs/concepts.md ---------------------------------------------------------------------------

STATUS_TABLES: dict[str, Mapping[str, MessageStatus]] = {
    "Twilio": TWILIO_STATUS,
    "Telnyx": TELNYX_STATUS,
    "Vonage": VONAGE_STATUS,
}


def _status_rows(provider: str) -> dict[str, str]:
    """Provider status -> the rest of its row (smsbridge status first), from concepts.md."""
    rows = table_with((DOCS / "concepts.md").read_text(), f"{provider} status")
    result = {}
    for row in rows:
        (raw,) = ticked(row[0])
        assert raw not in result, f"{provider} status {raw} listed twice"
        result[raw] = " | ".join(row[1:])
    return result


@pytest.mark.parametrize("provider", sorted(STATUS_TABLES))
def test_each_status_table_is_the_code_s_mapping(provider: str) -> None:
    """Every provider status is listed once, with the smsbridge status the code maps it to
    (the first backticked value after it), and nothing else is listed."""
    rows = _status_rows(provider)
    mapping = STATUS_TABLES[provider]
    assert sorted(rows) == sorted(mapping)
    for raw, rest in rows.items():
        assert ticked(rest)[0] == mapping[raw].value, f"{provider} {raw}"


def test_the_special_cases_are_in_their_rows() -> None:
    """Telnyx's expired depends on its error code; Vonage's rejected with a carrier's code is
    undelivered: each row names the codes and the status they lead to."""
    from smsbridge.providers.telnyx._parse import _EXPIRED

    expired = _status_rows("Telnyx")["expired"]
    for code, status in _EXPIRED.items():
        assert re.search(rf"`{status.value}`[^|]*`{code}`", expired), (code, status)
    rejected = _status_rows("Vonage")["rejected"]
    assert "`undelivered`" in rejected
    assert set(ticked(rejected)) >= set(CARRIER_REJECTIONS)


def test_the_common_vocabulary_table_lists_every_status() -> None:
    """The vocabulary table names each MessageStatus once, with whether it is final."""
    rows = table_with((DOCS / "concepts.md").read_text(), "status", "final")
    assert [ticked(row[0])[0] for row in rows] == [status.value for status in MessageStatus]
    for row in rows:
        status = MessageStatus(ticked(row[0])[0])
        assert row[1] == ("yes" if status.terminal else "no"), status


# -- docs/emulator.md ---------------------------------------------------------------------------

CONTROL = "/_emulator/"


def _control_routes_in_code() -> set[tuple[str, str]]:
    """(method, path) of every control route: the ``routes`` table of ``handle_control`` and
    the ``_POSTS`` table, read from the module."""
    tree = ast.parse(inspect.getsource(_control_api))
    function = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "handle_control"
    )
    routes: set[tuple[str, str]] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict):
            for key in node.value.keys:
                assert isinstance(key, ast.Tuple), "the routes table's keys are (method, name)"
                method, name = (ast.literal_eval(element) for element in key.elts)
                routes.add((method, CONTROL + name))
    routes |= {("POST", CONTROL + name) for name in _control_api._POSTS}
    return routes


def _documented_routes() -> set[tuple[str, str]]:
    rows = table_with((DOCS / "emulator.md").read_text(), "method", "path")
    routes = set()
    for row in rows:
        path = ticked(row[1])[0].split("?", 1)[0]
        routes.add((row[0].strip("`"), path))
    return routes


def test_the_control_api_table_lists_every_route_and_no_other() -> None:
    """docs/emulator.md's control API table has exactly the routes of the code."""
    in_code = _control_routes_in_code()
    assert len(in_code) >= 13
    documented = _documented_routes()
    assert sorted(documented - in_code) == [], "documented routes the emulator does not serve"
    assert sorted(in_code - documented) == [], "routes the docs do not list"


def test_every_documented_route_answers() -> None:
    """Each documented route is served: the emulator answers neither 404 nor 405."""
    with Emulator(progress_delay=0, deliver_callbacks=False) as emu, httpx.Client() as client:
        for method, path in sorted(_documented_routes()):
            body = {"seconds": 0} if path.endswith("advance") else {}
            answer = client.request(method, emu.url + path, json=body if method == "POST" else None)
            assert answer.status_code not in (404, 405), (method, path, answer.text)
        unknown = client.get(emu.url + CONTROL + "no-such-route")
        assert unknown.status_code == 404


def test_the_fault_table_lists_every_kind_with_its_parameters() -> None:
    """docs/emulator.md's fault table has one row per fault kind, naming every parameter the
    kind takes."""
    rows = table_with((DOCS / "emulator.md").read_text(), "kind", "parameters")
    kinds = {}
    for row in rows:
        (kind,) = ticked(row[0])
        kinds[kind] = row
    assert sorted(kinds) == sorted(_faults.FAULT_KINDS)
    for kind, row in kinds.items():
        named = {token.split("=")[0] for token in ticked(row[1])}
        assert named == set(_faults._PARAMS[kind]), kind
