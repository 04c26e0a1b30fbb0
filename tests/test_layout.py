"""The layout's rules, checked: the generic layers name no provider, the core imports no
adapter, command line or web framework, and no module grows past 500 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "smsbridge"
PROVIDER_NAME = re.compile(r"""["'](twilio|telnyx|vonage)["']""")
# The demo is an application of the library: it tells a story about two named providers.
GENERIC = ("webhooks", "routing", "stores", "cli")
NOT_GENERIC = {PACKAGE / "cli" / "demo.py"}
OUTSIDE_CORE = ("contrib", "cli")
FORBIDDEN = ("smsbridge.contrib", "smsbridge.cli", "fastapi", "starlette", "flask", "django")
FORBIDDEN += ("celery", "uvicorn")


def _modules(*folders: str) -> list[Path]:
    roots = [PACKAGE / folder for folder in folders] if folders else [PACKAGE]
    return sorted(path for root in roots for path in root.rglob("*.py"))


@pytest.mark.parametrize("folder", GENERIC)
def test_generic_layers_name_no_provider(folder: str) -> None:
    """Provider knowledge lives in its package: the generic layers never spell a name."""
    hits = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in _modules(folder)
        if path not in NOT_GENERIC
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PROVIDER_NAME.search(line)
    ]
    assert hits == []


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_core_imports_no_adapter_cli_or_framework() -> None:
    """Everything but contrib/ and cli/ works without them: they are imported by nothing else."""
    offenders = []
    for path in _modules():
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in OUTSIDE_CORE or relative.name == "__main__.py":
            continue
        for name in _imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN):
                offenders.append(f"{relative}: {name}")
    assert offenders == []


def _code_lines(path: Path) -> int:
    """Lines of a module, not counting its docstrings (their examples are documentation)."""
    source = path.read_text()
    count = len(source.splitlines())
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str):
            count -= (node.end_lineno or node.lineno) - node.lineno + 1
    return count


def test_no_module_is_past_500_lines() -> None:
    """Modules stay small and named after what they hold: past 500 lines of code (docstrings
    not counted), split by concept."""
    big = {
        str(path.relative_to(PACKAGE)): count
        for path in _modules()
        if (count := _code_lines(path)) > 500
    }
    assert big == {}


def test_every_provider_package_has_the_same_shape() -> None:
    """Each provider is one package with its codec, tables, webhook codec and signer."""
    expected = {"__init__.py", "_provider.py", "_errors.py", "_statuses.py", "_webhook.py"}
    expected |= {"_signer.py"}
    packages = [p for p in (PACKAGE / "providers").iterdir() if (p / "__init__.py").is_file()]
    assert {p.name for p in packages} >= {"twilio", "telnyx"}
    for package in packages:
        missing = expected - {p.name for p in package.iterdir()}
        assert missing == set(), f"{package.name} lacks {sorted(missing)}"
