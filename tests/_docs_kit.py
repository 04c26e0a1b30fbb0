"""What the documentation tests share: reading a page's code blocks and the markers around them,
pointing its examples at the emulator, and running its shell lines.

The conventions themselves (which languages, which markers, what each does) are written once, in
the docstring of ``tests/test_docs_examples.py``; this module implements them.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent

#: Every language a fenced block may name, and what happens to it.
LANGUAGES = {
    "python": "executed (in-process, in page order)",
    "sh": "each line run as a command",
    "text": "not executed: program output or a non-code sample",
    "toml": "parsed",
    "ini": "parsed",
    "json": "parsed (one document, or JSON Lines)",
    "yaml": "parsed",
    "nginx": "checked with nginx -t",
    "csv": "a data file (needs <!-- file: NAME -->), parsed",
    "dockerfile": "not executed",
}
MARKERS = ("continues", "file", "requires", "exit")
_MARKER = re.compile(r"^\s*<!--\s*(?P<name>[a-z]+)\s*(?::\s*(?P<value>.*?))?\s*-->\s*$")
_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")
_FENCE = re.compile(r"^(?P<indent> {0,12})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass
class Block:
    """One fenced code block of a page and the markers on the lines just before it."""

    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    continues: bool = False
    file: str | None = None
    requires: list[str] = field(default_factory=list)
    exit: int = 0

    @property
    def where(self) -> str:
        """``page:line`` of the opening fence, for messages."""
        try:
            name = self.page.relative_to(ROOT)
        except ValueError:
            name = self.page
        return f"{name}:{self.line}"


def read_page(path: Path, text: str | None = None) -> tuple[list[Block], list[str]]:
    """The code blocks of a Markdown page, and the ways the page breaks the conventions."""
    text = path.read_text() if text is None else text
    lines = text.splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    used_markers: set[int] = set()
    inside: set[int] = set()  # lines of blocks, fences included
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent = len(opening["indent"])
        fence = opening["fence"]
        language = opening["info"].split()[0] if opening["info"] else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = lines[j].strip()
            if (
                closing.startswith(fence[0] * len(fence))
                and set(closing) == {fence[0]}
                and len(lines[j]) - len(lines[j].lstrip(" ")) <= indent + 3
            ):
                break
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        block = Block(path, i + 1, language, "\n".join(body) + "\n" if body else "")
        where = block.where
        if j == len(lines):
            problems.append(f"{where}: the block is never closed")
        if not language:
            problems.append(f"{where}: a block needs a language ({', '.join(LANGUAGES)})")
        elif language not in LANGUAGES:
            problems.append(
                f"{where}: unknown language {language!r}; use one of {', '.join(LANGUAGES)}"
            )
        # The markers: the run of HTML comment lines just before the fence.
        k = i - 1
        while k >= 0 and _COMMENT.match(lines[k]):
            used_markers.add(k)
            _apply_marker(block, lines[k], problems)
            k -= 1
        blocks.append(block)
        inside.update(range(i, j + 1))
        i = j + 1
    for number, line in enumerate(lines):
        marker = _MARKER.match(line)
        if marker and marker["name"] in MARKERS and number not in used_markers | inside:
            problems.append(
                f"{path.name}:{number + 1}: <!-- {marker['name']} --> is not on the line "
                "just before a block"
            )
    _check_blocks(blocks, problems)
    return blocks, problems


def _apply_marker(block: Block, line: str, problems: list[str]) -> None:
    marker = _MARKER.match(line)
    name = marker["name"] if marker else ""
    value = (marker["value"] or "").strip() if marker else ""
    where = block.where
    if not marker or name not in MARKERS:
        problems.append(
            f"{where}: {line.strip()} is not a marker ({', '.join(MARKERS)}); "
            "leave a blank line between a comment and a block"
        )
    elif name == "continues":
        if value:
            problems.append(f"{where}: <!-- continues --> takes no value")
        block.continues = True
    elif name == "file":
        if not value or value.startswith(("/", "~")) or ".." in Path(value).parts:
            problems.append(f"{where}: <!-- file: {value} --> needs a relative file name")
        else:
            block.file = value
    elif name == "requires":
        if not _MODULE.match(value):
            problems.append(f"{where}: <!-- requires: {value} --> needs a module name")
        else:
            block.requires.append(value)
    else:  # exit
        if not value.isdigit():
            problems.append(f"{where}: <!-- exit: {value} --> needs an exit status (a number)")
        else:
            block.exit = int(value)


def _check_blocks(blocks: list[Block], problems: list[str]) -> None:
    previous_python: Block | None = None
    for block in blocks:
        where = block.where
        if block.continues:
            if block.language != "python":
                problems.append(f"{where}: only a python block may continue another")
            elif previous_python is None:
                problems.append(f"{where}: <!-- continues --> with no python block before it")
            elif previous_python.file is not None:
                problems.append(
                    f"{where}: continues a block written to {previous_python.file} "
                    "(not executed): import it instead"
                )
            if block.file is not None:
                problems.append(f"{where}: a block is either continued or written to a file")
        if block.exit and block.language != "sh":
            problems.append(f"{where}: <!-- exit: N --> is for sh blocks")
        if block.language == "csv" and block.file is None:
            problems.append(
                f"{where}: a csv block is a data file: put <!-- file: NAME --> before it"
            )
        if block.language in ("text", "dockerfile") and block.file is not None:
            problems.append(f"{where}: a {block.language} block is not written to a file")
        if block.language == "python":
            previous_python = block


# -- Python blocks -------------------------------------------------------------------------


#: The Twilio API key the harness's emulator accepts: ``api_key=``/``api_secret=`` literals in
#: an example are replaced with it.
TWILIO_API_KEY = "SK" + "e1" * 16
TWILIO_API_SECRET = "emulator-api-key-secret"

# class -> {argument: position when passed positionally (None: keyword only)}
_CREDENTIALS: dict[str, dict[str, int | None]] = {
    "Twilio": {"account_sid": 0, "auth_token": 1, "api_key": None, "api_secret": None},
    "Telnyx": {"api_key": 0, "public_key": None},
    "Vonage": {
        "api_key": 0,
        "api_secret": 1,
        "application_id": None,
        "private_key": None,
        "signature_secret": None,
    },
}


def emulator_credentials(emu: Any) -> dict[str, dict[str, str]]:
    """What each provider class's literal credentials and ``base_url`` become."""
    return {
        "Twilio": {
            "account_sid": emu.twilio_account_sid,
            "auth_token": emu.twilio_auth_token,
            "api_key": TWILIO_API_KEY,
            "api_secret": TWILIO_API_SECRET,
            "base_url": emu.twilio_url,
        },
        "Telnyx": {
            "api_key": emu.telnyx_api_key,
            "public_key": emu.telnyx_public_key,
            "base_url": emu.telnyx_url,
        },
        "Vonage": {
            "api_key": emu.vonage_api_key,
            "api_secret": emu.vonage_api_secret,
            "application_id": emu.vonage_application_id,
            "private_key": emu.vonage_private_key,
            "signature_secret": emu.vonage_signature_secret,
            "base_url": emu.vonage_url,
        },
    }


def _literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))


class PointAtEmulator(ast.NodeTransformer):
    """Rewrites ``Twilio(...)``, ``Telnyx(...)`` and ``Vonage(...)`` calls to use the emulator.

    A credential given as a literal (a placeholder such as ``"AC…"``) becomes the emulator's;
    one given as an expression (``os.environ[...]``, ``emu.twilio_auth_token``) is kept. A
    literal ``base_url``, or none, becomes the emulator's URL for that provider: without it
    the example would call the real provider. ``self.rewritten`` counts the calls rewritten.
    """

    def __init__(self, values: Mapping[str, Mapping[str, str]]) -> None:
        self.values = values
        self.rewritten = 0

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in _CREDENTIALS:
            return node
        values = self.values[name]
        changed = False
        for argument, position in _CREDENTIALS[name].items():
            if position is not None and position < len(node.args):
                if _literal(node.args[position]):
                    node.args[position] = ast.Constant(values[argument])
                    changed = True
                continue
            for keyword in node.keywords:
                if keyword.arg == argument and _literal(keyword.value):
                    keyword.value = ast.Constant(values[argument])
                    changed = True
        base_urls = [k for k in node.keywords if k.arg == "base_url"]
        splat = any(k.arg is None for k in node.keywords)  # **settings may carry base_url
        if not base_urls and not splat:
            node.keywords.append(ast.keyword("base_url", ast.Constant(values["base_url"])))
            changed = True
        for keyword in base_urls:
            if _literal(keyword.value):
                keyword.value = ast.Constant(values["base_url"])
                changed = True
        self.rewritten += changed
        return node


def compile_block(block: Block, rewriter: ast.NodeTransformer | None = None) -> Any:
    """The block's code object, its line numbers those of the page; raises ``SyntaxError``."""
    try:
        tree = ast.parse(block.text, filename=str(block.page))
    except SyntaxError as exc:  # point at the page's line
        exc.lineno = (exc.lineno or 1) + block.line
        if exc.end_lineno is not None:
            exc.end_lineno += block.line
        raise
    ast.increment_lineno(tree, block.line)
    if rewriter is not None:
        tree = ast.fix_missing_locations(rewriter.visit(tree))
    return compile(tree, str(block.page), "exec")


def is_script(block: Block) -> bool:
    """A block with an ``if __name__ == "__main__":`` guard is a script meant to run."""
    return re.search(r"""^if __name__ == ["']__main__["']\s*:""", block.text, re.M) is not None


# -- Data blocks ---------------------------------------------------------------------------


def parse_data(block: Block) -> None:
    """Parse a toml, json, yaml, ini or csv block; raises what the parser raises."""
    if block.language == "toml":
        tomllib.loads(block.text)
    elif block.language == "json":
        try:
            json.loads(block.text)
        except json.JSONDecodeError:
            lines = [line for line in block.text.splitlines() if line.strip()]
            if len(lines) < 2:
                raise
            for line in lines:  # JSON Lines: one document a line
                json.loads(line)
    elif block.language == "yaml":
        import yaml

        list(yaml.safe_load_all(block.text))
    elif block.language == "ini":
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(block.text)
    elif block.language == "csv":
        import csv
        import io

        rows = list(csv.reader(io.StringIO(block.text)))
        if len(rows) < 2:
            raise ValueError("a CSV block needs a header and at least one row")
        widths = {len(row) for row in rows if row}
        if len(widths) != 1:
            raise ValueError(f"rows of different widths: {sorted(widths)}")


def nginx_config(text: str, directory: Path, certificate: tuple[Path, Path] | None) -> str:
    """A whole nginx.conf around a block: a server (or upstream, map, location) block is
    wrapped in ``events {} http {}``; paths nginx writes to go to ``directory``; certificate
    paths (which cannot exist here) become ``certificate``."""
    if certificate is not None:
        cert, key = certificate
        text = re.sub(r"(\bssl_certificate\s+)[^;]+;", lambda m: f"{m[1]}{cert};", text)
        text = re.sub(r"(\bssl_certificate_key\s+)[^;]+;", lambda m: f"{m[1]}{key};", text)
        text = re.sub(r"\bssl_trusted_certificate\s+[^;]+;", "", text)
    top = _top_level_directives(text)
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    head = f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'};\n"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        head = "user root;\n" + head
    if "http" in top:
        events = "" if "events" in top else "events {}\n"
        return head + events + text
    if "location" in top:
        text = "server {\n    listen 127.0.0.1:8080;\n" + text + "\n}\n"
    return (
        f"{head}events {{}}\nhttp {{\n    access_log {directory / 'access.log'};\n{temp}\n"
        f"{text}\n}}\n"
    )


def _top_level_directives(text: str) -> set[str]:
    names: set[str] = set()
    depth = 0
    word_start = True
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for token in re.findall(r"[{};]|[^\s{};]+", line):
            if token == "{":
                depth += 1
                word_start = True
            elif token == "}":
                depth -= 1
                word_start = True
            elif token == ";":
                word_start = True
            else:
                if word_start and depth == 0:
                    names.add(token)
                word_start = False
    return names


# -- Shell lines ---------------------------------------------------------------------------


def shell_lines(text: str) -> list[str]:
    """The commands of an sh block: comment and blank lines dropped, ``\\`` continuations
    joined."""
    commands: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        commands.append((pending + line).strip())
        pending = ""
    if pending.strip():
        commands.append(pending.strip())
    return commands


def split_and(line: str) -> list[str]:
    """``a && b && c`` -> ``[a, b, c]``, outside quotes; a trailing comment stays on the last."""
    parts: list[str] = []
    current = ""
    quote = ""
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"' and i + 1 < len(line):
                current += char
                i += 1
                char = line[i]
        elif char in "'\"":
            quote = char
        elif char == "#" and (not current or current[-1].isspace()):
            current += line[i:]
            break
        elif line.startswith("&&", i):
            parts.append(current.strip())
            current = ""
            i += 2
            continue
        current += char
        i += 1
    parts.append(current.strip())
    return [part for part in parts if part]


def strip_comment(command: str) -> str:
    """The command without a trailing ``# comment`` (outside quotes)."""
    quote = ""
    for i, char in enumerate(command):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or command[i - 1].isspace()):
            return command[:i].rstrip()
    return command


def _words(command: str) -> list[str]:
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return command.split()
    while words and re.match(r"^[A-Za-z_]\w*=", words[0]):  # VAR=value prefixes
        words = words[1:]
    return words


def is_pip_install(command: str) -> bool:
    words = _words(command)
    if words[:1] in (["pip"], ["pip3"]):
        return words[1:2] == ["install"]
    return words[:4] in (["python", "-m", "pip", "install"], ["python3", "-m", "pip", "install"])


def is_venv_setup(command: str) -> bool:
    """``python -m venv ...`` and ``. .venv/bin/activate`` (not run)."""
    words = _words(command)
    if words[:3] in (["python", "-m", "venv"], ["python3", "-m", "venv"]):
        return True
    return len(words) == 2 and words[0] in (".", "source") and words[1].endswith("bin/activate")


def pip_extras(command: str) -> list[str]:
    """The extras of smsbridge a ``pip install`` line names (``'.[dev]'``, ``smsbridge[otel]``)."""
    extras: list[str] = []
    for word in _words(command):
        match = re.match(r"^(?:smsbridge|\.|\./?|[\w./-]*smsbridge[\w./-]*)\[([^\]]*)\]$", word)
        if match:
            extras += [extra.strip() for extra in match[1].split(",") if extra.strip()]
    return extras


def project_extras() -> set[str]:
    """The optional-dependency groups pyproject.toml declares."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project.get("optional-dependencies", {}))


def ci_test_lines() -> set[str]:
    """Lines of ``.ci/run`` that run the test suite: CI runs them verbatim."""
    ci = ROOT / ".ci" / "run"
    lines = ci.read_text().splitlines() if ci.is_file() else []
    return {line.strip() for line in lines if "pytest" in line}


@dataclass
class Server:
    """A long-running command: how to run it on a free port and when it is ready."""

    command: str
    port: int | None  # None: ready when its output says so
    ready_pattern: str | None = None


_LOCAL_HOSTS = {"127.0.0.1", "0.0.0.0", "localhost", "::", "::1", "[::]", "[::1]"}


def server_command(command: str, port: int) -> Server | None:
    """``command`` rewritten to listen on ``port``, when it is a long-running server.

    Servers: ``smsbridge serve``, ``smsbridge emulator`` (or ``python -m smsbridge ...``),
    ``uvicorn``, ``gunicorn``, ``python manage.py runserver``, ``flask run`` and
    ``celery ... worker``. The port the command names (``--port N``, ``-p N``,
    ``--bind HOST:N``, ``-b HOST:N``, ``runserver [HOST:]N``) is replaced by ``port``; a
    command that names none gets one (``--port``, ``--bind 127.0.0.1:``, ``runserver
    127.0.0.1:``). A ``--host``/``-h`` or bind address other than a local or wildcard one (an
    address of the reader's machine) becomes 127.0.0.1, where the harness polls. A Celery worker
    listens on no port: it is ready when its log says ``ready.``.
    """
    words = _words(command)
    if words[:2] in (["python", "-m"], ["python3", "-m"]):
        words = words[2:]
    if not words:
        return None
    program = Path(words[0]).name
    rest = words[1:]
    kind = None
    if program == "smsbridge" and rest[:1] in (["serve"], ["emulator"]):
        kind = "smsbridge"
    elif program in ("uvicorn", "gunicorn"):
        kind = program
    elif program in ("python", "python3") and "runserver" in rest:
        kind = "runserver"
    elif program == "flask" and "run" in rest:
        kind = "flask"
    elif program == "celery" and "worker" in rest:
        return Server(strip_comment(command), None, r"\bready\.")
    if kind is None:
        return None
    text = strip_comment(command)

    def host(match: re.Match[str]) -> str:
        value = match[2]
        return match[1] + (value if value.strip("'\"") in _LOCAL_HOSTS else "127.0.0.1")

    text = re.sub(r"(--host[= ]|(?<=\s)-h )(\S+)", host, text)
    replaced = 0
    if kind == "gunicorn":
        text, replaced = re.subn(
            r"((?:--bind|-b)[= ]['\"]?)([^\s'\"]*?)(:\d+)?(['\"]?)(?=\s|$)",
            lambda m: f"{m[1]}{_bind_host(m[2])}:{port}{m[4]}",
            text,
        )
        if not replaced:
            text += f" --bind 127.0.0.1:{port}"
    elif kind == "runserver":
        text, replaced = re.subn(
            r"(runserver)(\s+)(?:(\S+):)?(\d+)(?=\s|$)",
            lambda m: f"{m[1]}{m[2]}{_bind_host(m[3] or '127.0.0.1')}:{port}",
            text,
        )
        if not replaced:
            text = re.sub(r"\brunserver\b", f"runserver 127.0.0.1:{port}", text, count=1)
    else:
        flags = r"--port[= ]|-p " if kind == "flask" else r"--port[= ]"
        text, replaced = re.subn(rf"({flags})(\d+)", lambda m: f"{m[1]}{port}", text)
        if not replaced:
            text += f" --port {port}"
    return Server(text, port)


def _bind_host(value: str) -> str:
    return value if value in _LOCAL_HOSTS or value == "" else "127.0.0.1"


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Ran:
    """What a command did: its exit status and its output (stdout and stderr)."""

    command: str
    status: int | None
    output: str


_SHELL_NOISE = {"PWD", "OLDPWD", "SHLVL", "_"}


def run_command(
    command: str, cwd: Path, env: dict[str, str], timeout: float = 120.0
) -> tuple[Ran, Path, dict[str, str]]:
    """Run one command with bash; returns what it did, and the working directory and
    environment it left (so ``cd`` and ``export`` carry over to the page's next commands)."""
    with tempfile.TemporaryDirectory(prefix="docs-harness-") as state:
        return _run_command(command, cwd, env, timeout, Path(state))


def _run_command(
    command: str, cwd: Path, env: dict[str, str], timeout: float, state: Path
) -> tuple[Ran, Path, dict[str, str]]:
    env_file, cwd_file = state / "env", state / "cwd"
    script = (
        f"{command}\n__docs_status=$?\n"
        f"env -0 > {shlex.quote(str(env_file))}\npwd > {shlex.quote(str(cwd_file))}\n"
        "exit $__docs_status\n"
    )
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so that a timeout stops the command's children too
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        output, _ = proc.communicate()
        return Ran(command, None, output + f"\n[still running after {timeout} s]"), cwd, env
    new_env = dict(env)
    new_cwd = cwd
    if env_file.is_file():
        pairs = [item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item]
        new_env = {k: v for k, v in pairs if k not in _SHELL_NOISE}
        new_cwd = Path(cwd_file.read_text().strip())
    return Ran(command, proc.returncode, output), new_cwd, new_env


def run_server(server: Server, cwd: Path, env: dict[str, str], timeout: float = 15.0) -> Ran:
    """Start a server, wait until it listens on its port (or prints its ready line), stop it.

    The returned status is ``None`` when it became ready (the test passes), else its exit
    status (it ended early) or ``-1`` (it never became ready within ``timeout`` seconds).
    """
    proc = subprocess.Popen(
        ["bash", "-c", server.command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    status: int | None = -1
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.port is not None and accepts(server.port):
                status = None
                break
            if server.ready_pattern and any(re.search(server.ready_pattern, x) for x in lines):
                status = None
                break
            if proc.poll() is not None:
                reader.join(timeout=5)
                status = proc.returncode
                break
            time.sleep(0.05)
    finally:
        _stop(proc)
        reader.join(timeout=10)
    return Ran(server.command, status, "".join(lines))


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def preserved_process_state(workdir: Path) -> Iterator[None]:
    """Put back what in-process examples change: the environment, the working directory,
    ``sys.path``, the root logger, warning filters, and the modules imported from ``workdir``
    (the next page may write another ``main.py``)."""
    import logging
    import warnings

    environ = dict(os.environ)
    cwd = os.getcwd()
    path = list(sys.path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with warnings.catch_warnings():
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(environ)
            os.chdir(cwd)
            sys.path[:] = path
            root.handlers[:] = handlers
            root.setLevel(level)
            for name, module in list(sys.modules.items()):
                origin = getattr(module, "__file__", None) or ""
                if origin and Path(origin).is_relative_to(workdir):
                    del sys.modules[name]
