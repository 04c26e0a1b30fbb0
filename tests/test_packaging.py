"""The package as published: licence, project URLs, changelog, extras, version, README.

Fast checks on the files (no build): `.ci/wheel-demo`, which CI runs after the tests, builds the
sdist and the wheel, runs ``twine check --strict`` and installs the wheel in a fresh environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pytest

import smsbridge
from smsbridge._errors import DOCS_BASE, SmsBridgeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dev extra installs tomli on Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT: dict[str, Any] = PYPROJECT["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
README = (ROOT / "README.md").read_text()
CHANGELOG = (ROOT / "CHANGELOG.md").read_text()
BENCH_ONLY = {"twilio", "telnyx", "vonage-jwt"}


def _name(requirement: str) -> str:
    """The distribution name of a requirement string, normalised."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _every_error_class() -> list[type[SmsBridgeError]]:
    found: list[type[SmsBridgeError]] = []
    todo: list[type[SmsBridgeError]] = [SmsBridgeError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


# -- licence --------------------------------------------------------------------------------


def test_the_license_file_is_the_mit_licence_pyproject_declares() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 smsbridge developers" in text
    assert "Permission is hereby granted, free of charge" in text
    # PEP 639: a licence expression, and no licence classifier beside it.
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]


# -- project URLs and docs_url --------------------------------------------------------------


def test_project_urls_are_the_four_a_user_looks_for() -> None:
    urls = PROJECT["urls"]
    assert urls == {
        "Documentation": "https://smsbridge.github.io/smsbridge/",
        "Source": "https://github.com/smsbridge/smsbridge",
        "Issues": "https://github.com/smsbridge/smsbridge/issues",
        "Changelog": "https://github.com/smsbridge/smsbridge/blob/main/CHANGELOG.md",
    }
    # The changelog URL is the CHANGELOG.md of this repository's main branch.
    assert urls["Changelog"] == urls["Source"] + "/blob/main/CHANGELOG.md"
    assert (ROOT / "CHANGELOG.md").is_file()


def test_every_docs_url_is_on_the_documentation_site() -> None:
    """docs_url = Documentation URL + errors/ (docs/errors.md, a directory URL) + #anchor."""
    assert PROJECT["urls"]["Documentation"] + "errors/" == DOCS_BASE
    assert (ROOT / "docs" / "errors.md").is_file()
    classes = _every_error_class()
    assert len(classes) > 20
    for cls in classes:
        url = cls("x").docs_url
        base, hash_, anchor = url.partition("#")
        assert (base, hash_) == (DOCS_BASE, "#"), url
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", anchor), url


# -- changelog ------------------------------------------------------------------------------


def test_the_changelog_starts_with_unreleased_then_this_version() -> None:
    """Keep a Changelog: an [Unreleased] section, then one per version, newest first, each with
    a date and a link at the bottom; the newest version is pyproject's."""
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", CHANGELOG, re.M)
    assert headings[0] == ("Unreleased", "")
    first, date = headings[1]
    assert first == PROJECT["version"]
    assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", date), date
    assert (first, date) == ("0.1.0", " - 2026-12-01")
    for name, _ in headings:
        assert re.search(rf"^\[{re.escape(name)}\]: https://github\.com/", CHANGELOG, re.M), name
    sections = re.findall(r"^### (.+)$", CHANGELOG, re.M)
    allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    assert sections
    assert set(sections) <= allowed


# -- extras ---------------------------------------------------------------------------------


def _install_section() -> str:
    match = re.search(r"^## Install\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, "README has no '## Install' section"
    return match.group(1)


def test_the_install_section_is_labelled_for_a_clone_and_for_the_index() -> None:
    section = _install_section()
    clone = section.index("From a clone (works today)")
    index = section.index("From PyPI (once published")
    assert clone < index
    assert "pip install .\n" in section[clone:index]
    assert "pip install smsbridge\n" in section[index:]


def test_every_extra_the_readme_names_exists_and_every_extra_is_named() -> None:
    section = _install_section()
    named: set[str] = set()
    for group in re.findall(r"(?:\.|smsbridge)\[([a-z0-9,-]+)\]", section):
        named.update(group.split(","))
    for row in re.findall(r"^\| (`[^|]+) \|", section, re.M):  # the extras table
        named.update(re.findall(r"`([a-z0-9-]+)`", row))
    named.update(re.findall(r"^`([a-z0-9-]+)` is also accepted as an extra", section, re.M))
    assert named
    assert named <= set(EXTRAS), f"README names extras that do not exist: {named - set(EXTRAS)}"
    assert set(EXTRAS) <= named, f"extras missing from the README: {set(EXTRAS) - named}"


def test_the_benchmark_sdks_are_in_bench_only() -> None:
    """The tests install dev; the providers' SDKs (benchmark baselines) are the bench extra."""
    assert {_name(r) for r in EXTRAS["bench"]} == BENCH_ONLY
    for extra, requirements in EXTRAS.items():
        if extra != "bench":
            assert not BENCH_ONLY & {_name(r) for r in requirements}, extra


def test_dev_holds_the_docs_extra() -> None:
    """The docs site builds in the test suite, which installs dev."""
    assert set(EXTRAS["docs"]) <= set(EXTRAS["dev"])


def test_ci_installs_bench_before_the_tests_and_runs_the_wheel_demo_after() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    test_command = next(line for line in ci if "python -m pytest" in line)
    install = next(i for i, line in enumerate(ci) if "pip install" in line and "bench" in line)
    demo = next(i for i, line in enumerate(ci) if ".ci/wheel-demo" in line and "#" not in line)
    assert install < ci.index(test_command) < demo
    wheel_demo = ROOT / ".ci" / "wheel-demo"
    assert os.access(wheel_demo, os.X_OK)
    script = wheel_demo.read_text()
    for step in ("-m build", "twine check --strict", "-m venv", "pip install", "demo", "--version"):
        assert step in script, step
    done = subprocess.run(["bash", "-n", str(wheel_demo)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- version --------------------------------------------------------------------------------


def _console_script() -> str:
    script = Path(sys.executable).with_name("smsbridge")
    if not script.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no smsbridge console script beside {sys.executable}")
        pytest.skip(f"no smsbridge console script beside {sys.executable} (not installed)")
    return str(script)


@pytest.mark.parametrize("how", ["console script", "python -m smsbridge"])
def test_version_prints_the_installed_version(how: str) -> None:
    script = how == "console script"
    command = [_console_script()] if script else [sys.executable, "-m", "smsbridge"]
    done = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"smsbridge {installed_version('smsbridge')}\n"


def test_the_installed_version_is_pyprojects_and_the_modules() -> None:
    """Installed metadata, pyproject and smsbridge.__version__ agree (a stale install fails
    here: reinstall)."""
    assert installed_version("smsbridge") == PROJECT["version"] == smsbridge.__version__


# -- the README as the package index shows it -----------------------------------------------


def _as_published(text: str) -> str:
    """README.md with pyproject's fancy-pypi-readme substitutions applied, as hatchling does."""
    hook = PYPROJECT["tool"]["hatch"]["metadata"]["hooks"]["fancy-pypi-readme"]
    assert hook["content-type"] == "text/markdown"
    assert hook["fragments"] == [{"path": "README.md"}]
    assert "readme" in PROJECT["dynamic"]
    assert "readme" not in PROJECT
    for substitution in hook["substitutions"]:
        text = re.sub(substitution["pattern"], substitution["replacement"], text)
    return text


def test_the_published_readme_has_no_relative_link_and_every_link_resolves() -> None:
    published = _as_published(README)
    fence = re.compile(r"^```.*?^```", re.M | re.S)
    assert fence.findall(published) == fence.findall(README), "a code block was rewritten"
    links = re.findall(r"\]\(([^)\s]+)\)", fence.sub("", published))
    assert links
    site = PROJECT["urls"]["Documentation"]
    repository = PROJECT["urls"]["Source"] + "/blob/main/"
    for link in links:
        if link.startswith(site):
            page = link.removeprefix(site).partition("#")[0].rstrip("/") or "index"
            assert (ROOT / "docs" / f"{page}.md").is_file(), link
        elif link.startswith(repository):
            assert (ROOT / link.removeprefix(repository).partition("#")[0]).exists(), link
        else:
            assert link.startswith(("https://", "#")), f"relative link left: {link}"
    assert any(link.startswith(site) for link in links)


def test_the_sdist_holds_what_a_user_needs_and_nothing_else() -> None:
    sdist = PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]
    include = set(sdist["include"])
    for needed in ("/smsbridge", "/tests", "/docs", "/README.md", "/LICENSE", "/CHANGELOG.md"):
        assert needed in include, needed
    for path in include:
        assert (ROOT / path.lstrip("/")).exists() or path == "/mkdocs.yml", path
    assert not include & {"/.venv", "/site", "/dist", "/build"}
    assert "/benchmarks/results.json" in sdist["exclude"]
