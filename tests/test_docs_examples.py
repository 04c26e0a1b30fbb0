"""Every code block of README.md and docs/**/*.md, run as the page shows it, against the emulator.

One test per page. A page's blocks run in page order, in one temporary working directory, while
one emulator (shared by the module, reset before each page) is up and the environment points at
it: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_BASE_URL``, ``TWILIO_FROM``,
``TELNYX_API_KEY``, ``TELNYX_PUBLIC_KEY``, ``TELNYX_BASE_URL``, ``TELNYX_FROM``, ``VONAGE_*``
(``Emulator.environment()``), with no ``SMSBRIDGE_*`` variable set (a page that needs
``SMSBRIDGE_PROVIDERS`` sets it). ``XDG_STATE_HOME`` is inside the working directory, so
``smsbridge send`` keeps its SQLite file there, not in your home.

**Languages.** ``python`` is executed; ``sh`` is run line by line; ``toml``, ``ini``, ``json``
(one document, or JSON Lines), ``yaml`` and ``csv`` are parsed; ``nginx`` is checked with
``nginx -t`` (a server, upstream or location block is wrapped in ``events {} http {}``;
certificate paths become a certificate made here); ``text`` (program output, a non-code
sample) and ``dockerfile`` are not executed. Any other language, or none, fails the page.

**Markers**, on the lines just before a block (several may be stacked):

- ``<!-- continues -->``: this python block runs in the namespace of the page's previous python
  block; every other python block starts a fresh namespace.
- ``<!-- file: NAME -->``: the block's text is written to ``NAME`` in the working directory. A
  python or sh block is then written instead of executed (and checked: Python must compile);
  a data block is parsed and written.
- ``<!-- requires: MODULE -->``: when ``MODULE`` cannot be imported the block, and the python
  blocks that continue it, are skipped (the page is reported skipped), except under
  ``CI=true`` where that fails.
- ``<!-- exit: N -->``: every command of this sh block must exit with status ``N``.

A marker anywhere else, or a comment just before a block that is not a marker, fails the page.

**Python blocks** run in this process (fast: no interpreter per block), with the working
directory on ``sys.path`` (so a later block may ``import main`` written by a ``file:`` block)
and as the current directory. ``__name__`` is ``"__docs__"``, except in a block with an
``if __name__ == "__main__":`` guard: that block is a script meant to run, and runs as
``"__main__"``. ``Twilio(...)``, ``Telnyx(...)`` and ``Vonage(...)`` calls are rewritten
(``_docs_kit.PointAtEmulator``): credentials written as literals (placeholders) become the
emulator's, and a missing or literal ``base_url`` becomes the emulator's, so that no example
reaches a real provider; a ``file:`` python block with such a call is written rewritten (the
same code, pointed at the emulator). The environment, working directory, ``sys.path``, root
logger and warning filters are put back after each page.

**sh lines**: each non-comment line (``\\`` continuations joined) is one command, run by bash
in the working directory with the page's environment, the interpreter running the tests first
on ``PATH`` (so ``python`` and ``smsbridge`` are the installed ones) and the repository root on
``PYTHONPATH`` (``python -m benchmarks`` works as from the root). ``export`` and ``cd`` carry
over to the page's later lines, and into ``os.environ`` for its later python blocks. Each part
of an ``a && b`` line is one command. Not run: ``pip install`` (the smsbridge extras it names
must exist in pyproject.toml), ``python -m venv`` and ``. .venv/bin/activate``, and a test
command that ``.ci/run`` runs verbatim (the README's: CI runs it, and running the suite inside
itself would recurse). Long-running servers (``smsbridge serve``/``emulator``, ``uvicorn``,
``gunicorn``, ``python manage.py runserver``, ``flask run``) are started on a free port (the
port the command names is replaced, see ``_docs_kit.server_command``), polled until they
accept connections (15 s at most), then stopped; ``celery ... worker`` is ready when its log
says ``ready.``. A server that exits before it is ready fails. Every other command must exit 0
(or the ``exit:`` marker's status); its output is shown when it does not.

The README's other checks (its first commands, the configuration table) are in
``tests/test_readme.py``; its code blocks run here only.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _docs_kit import (
    ROOT,
    TWILIO_API_KEY,
    TWILIO_API_SECRET,
    Block,
    PointAtEmulator,
    Ran,
    ci_test_lines,
    compile_block,
    emulator_credentials,
    free_port,
    is_pip_install,
    is_script,
    is_venv_setup,
    nginx_config,
    parse_data,
    pip_extras,
    preserved_process_state,
    project_extras,
    read_page,
    run_command,
    run_server,
    server_command,
    shell_lines,
    split_and,
    strip_comment,
)

from smsbridge.testing import Emulator

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for every page of the module (reset before each)."""
    with Emulator(
        progress_delay=0,
        deliver_callbacks=False,
        twilio_api_keys={TWILIO_API_KEY: TWILIO_API_SECRET},
    ) as emu:
        yield emu


def page_environment(emu: Emulator, workdir: Path) -> dict[str, str]:
    """The environment a page runs in (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSBRIDGE_")}
    env.update(emu.environment())
    env.pop("SMSBRIDGE_PROVIDERS", None)
    env["XDG_STATE_HOME"] = str(workdir / ".state")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    python_path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*python_path, str(ROOT)])
    env["NO_COLOR"] = "1"
    return env


@dataclass
class Report:
    """What running a page gave: broken conventions, failures, skipped blocks, blocks run."""

    problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ran: int = 0


class PageRunner:
    """Runs the blocks of one page (see the module docstring); ``run()`` gives a ``Report``."""

    def __init__(self, page: Path, workdir: Path, emu: Emulator, text: str | None = None) -> None:
        self.page = page
        self.workdir = workdir
        self.emu = emu
        self.blocks, problems = read_page(page, text)
        self.report = Report(problems=problems)
        self.cwd = workdir
        self.namespace: dict[str, Any] | None = None
        self.namespace_usable = False
        self.extras = project_extras()
        self.ci_lines = ci_test_lines()

    def run(self) -> Report:
        if self.report.problems:
            return self.report
        environment = page_environment(self.emu, self.workdir)
        os.environ.clear()
        os.environ.update(environment)
        os.chdir(self.workdir)
        sys.path.insert(0, str(self.workdir))
        for block in self.blocks:
            missing = [m for m in block.requires if importlib.util.find_spec(m) is None]
            if block.continues and not self.namespace_usable:
                self.report.skipped.append(f"{block.where}: continues a block that did not run")
                continue
            if missing:
                message = f"{block.where}: needs {', '.join(missing)}, which is not installed"
                if IN_CI:
                    self.report.failures.append(f"{message} (CI=true)")
                else:
                    self.report.skipped.append(message)
                if block.language == "python":
                    self.namespace_usable = False
                continue
            try:
                self._run(block)
            except BlockFailed as exc:
                self.report.failures.append(f"{block.where}: {exc}")
                continue
            except (Exception, SystemExit) as exc:
                self.report.failures.append(f"{block.where}:\n{_traceback(exc, self.page)}")
                if block.language == "python" and block.file is None:
                    self.namespace_usable = False
            else:
                self.report.ran += 1
        return self.report

    def _run(self, block: Block) -> None:
        if block.file is not None:
            target = self.workdir / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
        if block.language == "python":
            self._python(block)
        elif block.language == "sh":
            self._shell(block)
        elif block.language == "nginx":
            self._nginx(block)
        elif block.language in ("toml", "ini", "json", "yaml", "csv"):
            parse_data(block)

    def _python(self, block: Block) -> None:
        rewriter = PointAtEmulator(emulator_credentials(self.emu))
        if block.file is not None:  # a module or script another block imports or runs
            compile_block(block)
            tree = rewriter.visit(ast.parse(block.text))
            if rewriter.rewritten:  # what runs is the page's code pointed at the emulator
                (self.workdir / block.file).write_text(ast.unparse(tree) + "\n")
            return
        code = compile_block(block, rewriter)
        if not block.continues or self.namespace is None:
            self.namespace = {}
        self.namespace["__name__"] = "__main__" if is_script(block) else "__docs__"
        self.namespace_usable = False
        exec(code, self.namespace)
        self.namespace_usable = True

    def _shell(self, block: Block) -> None:
        if block.file is not None:
            checked = subprocess.run(
                ["bash", "-n", str(self.workdir / block.file)],
                capture_output=True,
                text=True,
                check=False,
            )
            if checked.returncode != 0:
                raise BlockFailed(f"bash -n {block.file}:\n{checked.stderr.strip()}")
            return
        for line in shell_lines(block.text):
            if line.strip() in self.ci_lines:
                self._check_pip(line)
                continue  # the test suite itself: .ci/run runs it verbatim
            chain: list[str] = []
            for command in split_and(line):
                if is_pip_install(command):
                    self._check_pip(command)
                elif is_venv_setup(command):
                    continue
                elif (server := server_command(command, free_port())) is not None:
                    if chain:
                        self._command(" && ".join(chain), block)
                        chain = []
                    ran = run_server(server, self.cwd, dict(os.environ))
                    if ran.status is not None:
                        raise BlockFailed(_explain(ran, "a server that becomes ready"))
                else:
                    chain.append(command)
            if chain:
                self._command(" && ".join(chain), block)

    def _check_pip(self, command: str) -> None:
        for part in split_and(command):
            if not is_pip_install(part):
                continue
            unknown = [e for e in pip_extras(part) if e not in self.extras]
            if unknown:
                raise BlockFailed(
                    f"`{strip_comment(part)}` names extras pyproject.toml lacks: {unknown}"
                    f" (it has {sorted(self.extras)})"
                )

    def _command(self, command: str, block: Block) -> None:
        ran, self.cwd, env = run_command(command, self.cwd, dict(os.environ))
        if ran.status != block.exit:
            raise BlockFailed(_explain(ran, f"exit status {block.exit}"))
        os.environ.clear()
        os.environ.update(env)
        if self.cwd.is_dir():
            os.chdir(self.cwd)

    def _nginx(self, block: Block) -> None:
        from _nginx import make_certificate, need

        nginx = need("nginx")
        directory = self.workdir / f".nginx-{block.line}"
        directory.mkdir()
        certificate = make_certificate(directory) if "ssl_certificate" in block.text else None
        conf = directory / "nginx.conf"
        conf.write_text(nginx_config(block.text, directory, certificate))
        paths = ["-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)]
        checked = subprocess.run(
            [nginx, "-t", *paths],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if checked.returncode != 0:
            raise BlockFailed(f"nginx -t rejects it:\n{checked.stderr.strip()}")


class BlockFailed(Exception):
    """A block did not do what the page shows (the message says what happened)."""


def _traceback(exc: BaseException, page: Path) -> str:
    """The traceback from the page's own code on (the harness's frames left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != str(page):
        tb = tb.tb_next
    if tb is None:  # a syntax error, or raised before the page's code ran
        return "".join(traceback.format_exception_only(type(exc), exc))
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _explain(ran: Ran, wanted: str) -> str:
    if ran.status is None:
        got = "it was still running"
    elif ran.status == -1:
        got = "it never became ready"
    else:
        got = f"it exited with {ran.status}"
    output = ran.output.strip() or "(no output)"
    return f"`{ran.command}`: wanted {wanted}, {got}. Its output:\n{output}"


def run_page(page: Path, workdir: Path, emu: Emulator, text: str | None = None) -> Report:
    """Run one page's blocks in ``workdir``, putting the process back afterwards."""
    with preserved_process_state(workdir):
        return PageRunner(page, workdir, emu, text).run()


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_examples_run(page: Path, emulator: Emulator, tmp_path: Path) -> None:
    """Every block of the page follows the conventions and runs as shown."""
    emulator.reset()
    workdir = tmp_path / "work"
    workdir.mkdir()
    report = run_page(page, workdir, emulator)
    if report.problems:
        pytest.fail("\n".join(report.problems), pytrace=False)
    if report.failures:
        pytest.fail("\n\n".join(report.failures), pytrace=False)
    if report.skipped:
        pytest.skip(f"{report.ran} blocks ran; skipped: " + "; ".join(report.skipped))


# -- The harness itself --------------------------------------------------------------------


def _run_text(text: str, emu: Emulator, tmp_path: Path) -> Report:
    emu.reset()
    return run_page(tmp_path / "page.md", tmp_path, emu, text)


def test_a_page_breaking_the_conventions_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    """Unknown languages, bare fences and misplaced markers are reported before anything runs."""
    text = (
        "```console\n$ ls\n```\n\n```\nplain\n```\n\n<!-- continues -->\n```python\nx = 1\n```\n\n"
        "<!-- file: a.csv -->\n\n```csv\na\n1\n```\n\n<!-- note to self -->\n```text\nhi\n```\n"
    )
    report = _run_text(text, emulator, tmp_path)
    problems = "\n".join(report.problems)
    assert "unknown language 'console'" in problems
    assert "a block needs a language" in problems
    assert "with no python block before it" in problems
    assert "is not on the line just before a block" in problems
    assert "a csv block is a data file" in problems
    assert "is not a marker" in problems
    assert report.ran == 0


def test_python_blocks_share_a_namespace_only_when_continued(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A continued block sees the names of the one before; a fresh block does not."""
    text = (
        "```python\ncount = 1\n```\n\n<!-- continues -->\n```python\ncount += 1\n"
        "assert count == 2\n```\n\n```python\nprint(count)\n```\n"
    )
    report = _run_text(text, emulator, tmp_path)
    assert report.ran == 2
    (failure,) = report.failures
    assert "NameError" in failure
    assert 'page.md", line 12' in failure  # the line in the page


def test_placeholder_credentials_reach_the_emulator(emulator: Emulator, tmp_path: Path) -> None:
    """A send written with placeholder credentials and no base_url arrives at the emulator."""
    text = (
        "```python\nfrom smsbridge import Bridge\nfrom smsbridge.providers import Telnyx\n\n"
        'with Bridge(Telnyx("KEY…", from_="+15017122662")) as sms:\n'
        '    sms.send(to="+14155552671", body="hi")\n```\n'
    )
    report = _run_text(text, emulator, tmp_path)
    assert report.failures == []
    assert [m["to"] for m in emulator.messages("telnyx")] == ["+14155552671"]


def test_a_file_block_is_written_pointed_at_the_emulator(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A module written by a file: block and imported by a later block reaches the emulator."""
    text = (
        "<!-- file: app.py -->\n```python\nfrom smsbridge import Bridge\n"
        "from smsbridge.providers import Twilio\n\n"
        'sms = Bridge(Twilio("AC…", "your_auth_token", from_="+15017122661"))\n```\n\n'
        '```python\nimport app\n\napp.sms.send(to="+14155552672", body="hi")\n```\n'
    )
    report = _run_text(text, emulator, tmp_path)
    assert (report.failures, report.ran) == ([], 2)
    assert [m["to"] for m in emulator.messages("twilio")] == ["+14155552672"]
    assert "AC…" not in (tmp_path / "app.py").read_text()


def test_shell_lines_carry_exports_and_check_exit_statuses(
    emulator: Emulator, tmp_path: Path
) -> None:
    """export reaches later lines and python blocks; a failing line fails with its output."""
    text = (
        "```sh\nexport GREETING=hello\npip install '.[fastapi]'   # not run\n```\n\n"
        "```python\nimport os\nassert os.environ['GREETING'] == 'hello'\n```\n\n"
        '<!-- exit: 3 -->\n```sh\nsh -c "exit 3"\n```\n\n'
        "```sh\necho $GREETING-there && false\n```\n\n```sh\npip install 'smsbridge[nope]'\n```\n"
    )
    report = _run_text(text, emulator, tmp_path)
    assert report.ran == 3
    first, second = report.failures
    assert "wanted exit status 0, it exited with 1" in first
    assert "hello-there" in first
    assert "extras pyproject.toml lacks: ['nope']" in second


def test_a_command_still_running_is_stopped(tmp_path: Path) -> None:
    """A command past its timeout is stopped, children included, and reported as running."""
    ran, cwd, _ = run_command("sleep 60 & sleep 60", tmp_path, dict(os.environ), timeout=0.5)
    assert ran.status is None
    assert "still running" in ran.output
    assert cwd == tmp_path


def test_server_commands_move_to_a_free_port() -> None:
    """The port a server command names is replaced; one that names none gets one."""
    assert server_command("uvicorn main:app --port 8000", 5001).command == (  # type: ignore[union-attr]
        "uvicorn main:app --port 5001"
    )
    assert server_command("smsbridge serve  # on 8000", 5002).command == (  # type: ignore[union-attr]
        "smsbridge serve --port 5002"
    )
    gunicorn = server_command("gunicorn -w 2 -b 0.0.0.0:8000 main:app", 5003)
    assert gunicorn is not None
    assert gunicorn.command == "gunicorn -w 2 -b 0.0.0.0:5003 main:app"
    runserver = server_command("python manage.py runserver", 5004)
    assert runserver is not None
    assert runserver.command == "python manage.py runserver 127.0.0.1:5004"
    uvicorn = server_command("uvicorn app:app --host 10.0.0.2 --port 8000", 5005)
    assert uvicorn is not None
    assert uvicorn.command == "uvicorn app:app --host 127.0.0.1 --port 5005"
    celery = server_command("celery -A tasks worker --loglevel INFO", 5006)
    assert celery is not None
    assert (celery.port, celery.ready_pattern) == (None, r"\bready\.")
    assert server_command("smsbridge send --to +14155552671 --body hi", 5007) is None


def test_a_server_is_started_polled_and_stopped(emulator: Emulator, tmp_path: Path) -> None:
    """smsbridge emulator starts on a free port, answers, and is stopped afterwards."""
    text = "```sh\nsmsbridge emulator --port 8787\n```\n"
    report = _run_text(text, emulator, tmp_path)
    assert (report.failures, report.ran) == ([], 1)


def test_requires_skips_the_block_and_its_continuations(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block needing a missing module is skipped with its continuations (failed under CI)."""
    text = (
        "<!-- requires: no_such_module_here -->\n```python\nimport no_such_module_here\n```\n\n"
        "<!-- continues -->\n```python\nx = 1\n```\n\n```python\ny = 2\n```\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "IN_CI", False)
    report = _run_text(text, emulator, tmp_path)
    assert (report.failures, report.ran, len(report.skipped)) == ([], 1, 2)
    monkeypatch.setattr(sys.modules[__name__], "IN_CI", True)
    report = _run_text(text, emulator, tmp_path)
    assert len(report.failures) == 1
    assert "CI=true" in report.failures[0]


def test_nginx_blocks_are_checked(emulator: Emulator, tmp_path: Path) -> None:
    """A server block nginx accepts passes; one with an unknown directive fails."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        from _nginx import need

        need("nginx")
    location = "location / { proxy_pass http://127.0.0.1:8000; }"
    good = f"server {{\n    listen 127.0.0.1:8080;\n    {location}\n}}\n"
    text = f"```nginx\n{good}```\n\n```nginx\nserver {{\n    no_such_directive on;\n}}\n```\n"
    report = _run_text(text, emulator, tmp_path)
    assert report.ran == 1
    (failure,) = report.failures
    assert re.search(r"unknown directive \"no_such_directive\"", failure)
