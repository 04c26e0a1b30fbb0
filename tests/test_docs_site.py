"""The documentation site: ``mkdocs build --strict`` (mkdocs.yml, docs/) without a warning, and
what the built site must hold: every error's ``docs_url`` anchor, every relative link of the
pages, the API reference of every public module, and the published URL in pyproject.toml.

The site is built once for the module (about ten seconds: the tests using it are ``slow``).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from _docs_kit import ROOT, read_page, tomllib

import smsbridge._errors as errors_module
from smsbridge._errors import SmsBridgeError

DOCS = ROOT / "docs"
CONFIG = ROOT / "mkdocs.yml"
#: The public modules the API reference documents, and the page each is on.
REFERENCE = {
    "smsbridge": "reference/smsbridge.md",
    "smsbridge.providers": "reference/providers.md",
    "smsbridge.webhooks": "reference/webhooks.md",
    "smsbridge.routing": "reference/routing.md",
    "smsbridge.stores": "reference/stores.md",
    "smsbridge.bulk": "reference/bulk.md",
    "smsbridge.testing": "reference/testing.md",
    "smsbridge.transports": "reference/transports.md",
    "smsbridge.telemetry": "reference/telemetry.md",
    "smsbridge.contrib": "reference/contrib.md",
}


def _config() -> dict[str, object]:
    class Loader(yaml.SafeLoader):
        """mkdocs.yml may use mkdocs' own tags (``!ENV``, ``!!python/name``): keep them as text."""

    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    with CONFIG.open() as f:
        return dict(yaml.load(f, Loader=Loader))


SITE_URL = str(_config()["site_url"])


@dataclass
class Site:
    """A built site: its directory, mkdocs' exit status and output."""

    path: Path
    status: int
    output: str

    def page(self, markdown: str) -> Path:
        """The HTML file ``docs/<markdown>`` becomes (directory URLs)."""
        source = PurePosixPath(markdown)
        parts = source.with_suffix("").parts
        if parts[-1] in ("index", "README"):
            parts = parts[:-1]
        return self.path.joinpath(*parts, "index.html")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The site, built once with ``mkdocs build --strict``."""
    if importlib.util.find_spec("mkdocs") is None:
        message = "mkdocs is not installed (pip install '.[docs]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true installs it")
        pytest.skip(message)
    target = tmp_path_factory.mktemp("site") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(CONFIG), "-d", str(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return Site(target, done.returncode, done.stdout + done.stderr)


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)


def element_ids(html_file: Path) -> set[str]:
    """Every ``id`` attribute of an HTML file."""
    parser = _Ids()
    parser.feed(html_file.read_text())
    return parser.ids


@pytest.mark.slow
def test_the_site_builds_strict_without_a_warning(site: Site) -> None:
    """mkdocs build --strict succeeds and prints no WARNING (nor ERROR) line."""
    warnings = [
        line.strip()
        for line in site.output.splitlines()
        if re.match(r"^\s*(WARNING|ERROR)\b", line) or line.startswith("Aborted")
    ]
    assert not warnings, "\n".join(warnings)
    assert site.status == 0, site.output[-3000:]


def _error_classes() -> list[type[SmsBridgeError]]:
    members = inspect.getmembers(errors_module, inspect.isclass)
    return sorted(
        (cls for _, cls in members if issubclass(cls, SmsBridgeError)), key=lambda c: c.__name__
    )


def test_the_error_classes_are_found() -> None:
    """The module enumeration finds the root, a provider error and a webhook error."""
    names = {cls.__name__ for cls in _error_classes()}
    assert {"SmsBridgeError", "OptedOut", "SignatureError", "AllProvidersFailed"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_docs_url_resolves_to_its_anchor(site: Site, cls: type[SmsBridgeError]) -> None:
    """Each error's docs_url is the published errors page with an anchor the build has."""
    url = cls("example").docs_url
    base, _, anchor = url.partition("#")
    assert base == SITE_URL + "errors/", url
    assert anchor, f"{cls.__name__}.docs_url has no anchor: {url}"
    ids = element_ids(site.path / "errors" / "index.html")
    assert anchor in ids, f"{url}: no element with id {anchor!r} in the built errors page"


_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+\1", re.S)
_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)


def relative_links(page: Path) -> list[str]:
    """The relative link targets of a page (outside code blocks and code spans)."""
    blocks, _ = read_page(page)
    text = page.read_text()
    lines = text.splitlines()
    for block in blocks:  # blank the blocks out, fences included
        end = block.line + block.text.count("\n")
        for number in range(block.line - 1, min(end + 1, len(lines))):
            lines[number] = ""
    prose = _INLINE_CODE.sub("", "\n".join(lines))
    targets = _LINK.findall(prose) + _REFERENCE.findall(prose)
    return [t for t in targets if not urlsplit(t).scheme and not t.startswith(("//", "mailto:"))]


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_resolve_in_the_build(site: Site, page: Path) -> None:
    """Every relative link of a page reaches a built page, and its anchor an element there."""
    source = page.relative_to(DOCS).as_posix()
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        if path:
            resolved = PurePosixPath(source).parent / unquote(path)
            parts: list[str] = []
            for part in resolved.parts:
                if part == "..":
                    if not parts:
                        broken.append(f"{target}: outside docs/")
                        break
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            else:
                linked = "/".join(parts)
                if not linked.endswith(".md"):  # an image or a file beside the pages
                    if not (site.path / linked).is_file():
                        broken.append(f"{target}: no file {linked} in the build")
                    continue
                html = site.page(linked)
                if not html.is_file():
                    broken.append(f"{target}: no page {linked} in the build")
                elif anchor and anchor not in element_ids(html):
                    broken.append(f"{target}: no #{anchor} in {linked}")
        elif anchor and anchor not in element_ids(site.page(source)):
            broken.append(f"#{anchor}: no such anchor on this page")
    assert not broken, f"docs/{source}: " + "; ".join(broken)


def test_link_finder_sees_links_and_skips_code(tmp_path: Path) -> None:
    """relative_links finds inline and reference links, not code or absolute URLs."""
    page = tmp_path / "page.md"
    page.write_text(
        "See [a](a.md#x), [b](../b.md) and [web](https://example.com/c.md).\n"
        "`[not](code.md)`\n\n```python\nprint('[no](block.md)')\n```\n\n[ref]: ref.md#y\n"
    )
    assert relative_links(page) == ["a.md#x", "../b.md", "ref.md#y"]


def test_documentation_url_is_the_site_url() -> None:
    """pyproject's [project.urls] Documentation is mkdocs.yml's site_url."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project.get("urls", {}).get("Documentation") == SITE_URL
    assert SITE_URL == "https://smsbridge.github.io/smsbridge/"


def _nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node] if node.endswith(".md") else []
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    return []


def test_nav_lists_every_page_once() -> None:
    """Every Markdown file under docs/ is in the nav, exactly once."""
    nav = _nav_pages(_config()["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in _pages())
    assert sorted(set(nav)) == sorted(nav), "a page is in the nav twice"
    assert sorted(set(pages) - set(nav)) == [], "pages missing from the nav"


def test_every_public_module_has_a_reference_page() -> None:
    """Each public module, and each public module of smsbridge.contrib, is rendered by a
    ``::: module`` line of its reference page."""
    contrib = sorted(
        f"smsbridge.contrib.{p.stem}"
        for p in (ROOT / "smsbridge" / "contrib").glob("*.py")
        if not p.stem.startswith("_")
    )
    wanted = {**REFERENCE, **dict.fromkeys(contrib, "reference/contrib.md")}
    for module, page in wanted.items():
        text = (DOCS / page).read_text()
        assert re.search(rf"^::: {re.escape(module)}$", text, re.M), f"{page} lacks {module}"


def test_the_top_level_page_renders_every_exported_name() -> None:
    """docs/reference/smsbridge.md groups the top-level names by hand: none is left out."""
    import smsbridge

    text = (DOCS / REFERENCE["smsbridge"]).read_text()
    rendered = set(re.findall(r"^::: smsbridge\.(\w+)$", text, re.M))
    assert sorted(set(smsbridge.__all__) - rendered) == []
    assert sorted(rendered - set(smsbridge.__all__)) == []
