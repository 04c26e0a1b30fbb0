"""Every public name has a Google-style docstring the API reference renders as written.

The public names: every name in the ``__all__`` of a public module (``smsbridge`` and each of its
modules whose dotted path has no part starting with ``_``: ``smsbridge.providers``,
``smsbridge.contrib.fastapi``, ``smsbridge.cli.send``, ...), and, for each public class, its
public methods and properties defined in smsbridge (in the class or in a smsbridge base class;
not what it inherits from the standard library or pydantic).

The package is read with griffe, the library mkdocstrings builds the API reference with, so
these tests see what the site shows: a name griffe cannot find, or a docstring section griffe's
Google parser warns about, would also be a gap or a warning in ``mkdocs build --strict``.

Checked for each of them:

* a docstring (for a constant, the string literal right after its assignment);
* for a class, an ``Examples:`` section with a doctest (``>>>``), or an ``Example:`` section
  with a fenced code block;
* no warning from griffe's Google parser (``Args:`` naming a parameter the signature lacks,
  an entry without ``name: description``, ...);
* no doctest under ``Example:``: griffe reads that section as a Markdown admonition, where
  ``>>>`` lines render as nested block quotes (``Examples:`` renders them as code);
* every example's code compiles (top-level ``await`` allowed).

The last test runs the same audit over a small package with one fault of each kind, so a check
that stopped finding anything would fail.
"""

from __future__ import annotations

import ast
import functools
import logging
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TITLES = ("example", "examples")
FENCE = re.compile(r"^```(?:python|py|pycon)?[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass
class Audit:
    """What the audit of one package found: one readable line per problem, per check."""

    checked: dict[str, str] = field(default_factory=dict)  # object path -> where it is defined
    unresolved: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    no_example: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    doctest_in_admonition: list[str] = field(default_factory=list)
    bad_code: list[str] = field(default_factory=list)


class _Collect(logging.Handler):
    """Collects the warnings griffe logs while a docstring is parsed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _public_modules(module: griffe.Module) -> Iterator[griffe.Module]:
    yield module
    for name, sub in module.modules.items():
        if sub.is_alias or name.startswith("_"):
            continue  # a module imported under another name, or a private one
        assert isinstance(sub, griffe.Module)
        yield from _public_modules(sub)


def _where(obj: griffe.Object) -> str:
    line = f":{obj.lineno}" if obj.lineno else ""  # a module has none
    return f"{obj.relative_filepath}{line}"


def _public_objects(package: griffe.Module, audit: Audit) -> dict[str, griffe.Object]:
    """Public modules, the names in their ``__all__``, and public classes' methods and
    properties, keyed by the path of the object that defines them (a name exported twice is
    checked once, where it is written)."""
    objects: dict[str, griffe.Object] = {}
    for module in _public_modules(package):
        objects.setdefault(module.path, module)
        for exported in module.exports or ():
            name = str(exported)
            member = module.members.get(name)
            if member is None:
                audit.unresolved.append(
                    f"{module.path}.{name}: in __all__ but not visible to griffe (import it, "
                    "under TYPE_CHECKING for a lazily loaded name)"
                )
                continue
            try:
                target = member.final_target if isinstance(member, griffe.Alias) else member
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                audit.unresolved.append(f"{module.path}.{name}: its import cannot be resolved")
                continue
            assert isinstance(target, griffe.Object)
            objects.setdefault(target.path, target)
            if target.is_class:
                objects.update(_public_members(target, objects, package.name))
    return objects


def _public_members(
    cls: griffe.Object, known: dict[str, griffe.Object], package: str
) -> dict[str, griffe.Object]:
    found: dict[str, griffe.Object] = {}
    for name, member in cls.all_members.items():  # its own and its resolved bases' members
        if name.startswith("_"):
            continue
        try:
            target = member.final_target if isinstance(member, griffe.Alias) else member
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue  # inherited from outside the package
        assert isinstance(target, griffe.Object)
        if not target.path.startswith(f"{package}.") or target.path in known:
            continue
        if target.is_function or (target.is_attribute and "property" in target.labels):
            found[target.path] = target
    return found


def _sections(obj: griffe.Object, collect: _Collect) -> list[griffe.DocstringSection]:
    assert obj.docstring is not None
    collect.messages.clear()
    return griffe.parse_google(obj.docstring)


def _example_code(sections: list[griffe.DocstringSection]) -> Iterator[str]:
    """The Python source of every example: doctests (prompts removed) and fenced blocks."""
    for section in sections:
        if section.kind is griffe.DocstringSectionKind.examples:
            for kind, text in section.value:
                if kind is griffe.DocstringSectionKind.examples:
                    lines = text.splitlines()
                    code = [line[4:] for line in lines if line.startswith((">>> ", "... "))]
                    yield "\n".join(code)
                else:
                    yield from FENCE.findall(text)
        elif section.kind is griffe.DocstringSectionKind.admonition:
            yield from FENCE.findall(section.value.description)


def _has_example(sections: list[griffe.DocstringSection]) -> bool:
    for section in sections:
        if section.kind is griffe.DocstringSectionKind.examples and any(
            kind is griffe.DocstringSectionKind.examples or FENCE.search(text)
            for kind, text in section.value
        ):
            return True
        if (
            section.kind is griffe.DocstringSectionKind.admonition
            and section.value.annotation.lower() in EXAMPLE_TITLES
            and FENCE.search(section.value.description)
        ):
            return True
    return False


def audit(package_name: str, search_path: Path) -> Audit:
    """Load ``package_name`` from ``search_path`` with griffe and check its public names."""
    report = Audit()
    loaded = griffe.load(
        package_name,
        search_paths=[search_path],
        resolve_aliases=True,
        resolve_external=False,
        docstring_parser="google",
    )
    assert isinstance(loaded, griffe.Module)
    objects = _public_objects(loaded, report)
    collect = _Collect()
    griffe_logger = logging.getLogger("griffe")
    griffe_logger.addHandler(collect)
    try:
        for path, obj in sorted(objects.items()):
            where = _where(obj)
            report.checked[path] = where
            if obj.docstring is None or not obj.docstring.value.strip():
                report.missing.append(f"{path} ({where})")
                continue
            sections = _sections(obj, collect)
            report.warnings.extend(f"{path}: {message}" for message in collect.messages)
            if obj.is_class and not _has_example(sections):
                report.no_example.append(f"{path} ({where})")
            for section in sections:
                if (
                    section.kind is griffe.DocstringSectionKind.admonition
                    and section.value.annotation.lower() in EXAMPLE_TITLES
                    and re.search(r"^\s*>>>", section.value.description, re.MULTILINE)
                ):
                    report.doctest_in_admonition.append(f"{path} ({where})")
            for code in _example_code(sections):
                try:
                    compile(
                        textwrap.dedent(code),
                        path,
                        "exec",
                        flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                    )
                except SyntaxError as exc:
                    report.bad_code.append(f"{path} ({where}): {exc.msg}: {exc.text!r}")
    finally:
        griffe_logger.removeHandler(collect)
    return report


@functools.cache
def _smsbridge() -> Audit:
    return audit("smsbridge", ROOT)


def _listing(problems: list[str]) -> str:
    return "\n".join(["", *problems])


def test_the_audit_sees_the_public_surface() -> None:
    """Names from every public package are found, with inherited methods and properties."""
    checked = _smsbridge().checked
    for path in (
        "smsbridge",
        "smsbridge._bridge.Bridge",
        "smsbridge._bridge.Bridge.send",
        "smsbridge._receiving.Receiving.handle_webhook",  # Bridge's, from a private base
        "smsbridge._errors.SmsBridgeError.docs_url",  # a property
        "smsbridge._phone.to_e164",
        "smsbridge.providers._base.Provider.build_request",
        "smsbridge.providers.twilio._provider.Twilio",
        "smsbridge.routing._retry.RETRY_ON",  # a constant
        "smsbridge.stores._sqlite.SQLiteStore",  # loaded lazily
        "smsbridge.webhooks._request.WebhookRequest",
        "smsbridge.bulk._items.BulkItem",
        "smsbridge.testing.emulator._emulator.Emulator",
        "smsbridge.contrib.fastapi.webhook_router",
        "smsbridge.contrib._celery_jobs.send_job",
        "smsbridge.cli.main",
        "smsbridge._telemetry.configure",
    ):
        assert path in checked, path
    assert not any(".model_dump" in path or ".with_traceback" in path for path in checked)
    assert _smsbridge().unresolved == [], _listing(_smsbridge().unresolved)


def test_every_public_name_has_a_docstring() -> None:
    """Each public module, name, method and property has a docstring."""
    assert _smsbridge().missing == [], _listing(_smsbridge().missing)


def test_every_public_class_has_an_example() -> None:
    """Each public class's docstring shows it in use."""
    assert _smsbridge().no_example == [], _listing(_smsbridge().no_example)


def test_docstrings_parse_as_google_style_without_warnings() -> None:
    """griffe's Google parser (the one mkdocstrings uses) reads every section cleanly."""
    assert _smsbridge().warnings == [], _listing(_smsbridge().warnings)


def test_doctests_sit_under_examples_not_example() -> None:
    """``>>>`` lines are in an ``Examples:`` section, where they render as code."""
    found = _smsbridge().doctest_in_admonition
    assert found == [], _listing(found)


def test_every_example_compiles() -> None:
    """The code of every docstring example is valid Python."""
    assert _smsbridge().bad_code == [], _listing(_smsbridge().bad_code)


FLAWED = '''\
"""A package with one flaw of each kind the audit looks for."""

from flawed._impl import Base, Good

__all__ = ["LIMIT", "Base", "Good", "Quiet", "helper", "ghost"]

LIMIT = 3


class Quiet(Base):
    """A class without an example."""

    def shout(self) -> str:
        return "!"


def helper(count: int) -> int:
    """Do something.

    Args:
        amount: not a parameter of this function.
    """
    return count
'''

FLAWED_IMPL = '''\
"""Private module."""


class Base:
    """A base class.

    Example:
        >>> Base().inherited()
    """

    def inherited(self) -> None:
        pass


class Good:
    """Fine.

    Examples:
        >>> Good().run(
    """

    def run(self) -> None:
        """Run."""
'''


def test_the_audit_finds_each_kind_of_flaw(tmp_path: Path) -> None:
    """Each check reports the flaw planted for it, and only that."""
    package = tmp_path / "flawed"
    package.mkdir()
    (package / "__init__.py").write_text(FLAWED)
    (package / "_impl.py").write_text(FLAWED_IMPL)
    found = audit("flawed", tmp_path)
    assert found.unresolved == [
        "flawed.ghost: in __all__ but not visible to griffe (import it, "
        "under TYPE_CHECKING for a lazily loaded name)"
    ]
    assert [line.split(" ")[0] for line in found.missing] == [
        "flawed.LIMIT",
        "flawed.Quiet.shout",
        "flawed._impl.Base.inherited",
    ]
    assert [line.split(" ")[0] for line in found.no_example] == [
        "flawed.Quiet",
        "flawed._impl.Base",
    ]
    assert {line.split(" ")[0] for line in found.warnings} == {"flawed.helper:"}
    assert any("'amount' does not appear in the function signature" in w for w in found.warnings)
    assert [line.split(" ")[0] for line in found.doctest_in_admonition] == ["flawed._impl.Base"]
    assert [line.split(" ")[0] for line in found.bad_code] == ["flawed._impl.Good"]
    assert "flawed._impl.Good.run" in found.checked
