"""The deployment material in the repository's ``contrib/`` folder, checked against the library.

* ``nginx/smsbridge.conf``: ``nginx -t`` on a rendered copy, then a real nginx (TLS with a
  certificate made here) in front of a real ``smsbridge serve``: a signed Twilio webhook to the
  public https URL is accepted, a tampered one refused, an oversized body stopped.
* ``systemd/smsbridge.service``: parsed, its ``ExecStart`` accepted by the CLI's own parser, and
  ``systemd-analyze verify`` where that exists.
* ``docker-compose.yml``: services, dependencies, commands (the CLI's parser, Celery's app
  lookup) and environment variables (the ones the library reads, wired to the emulator).
  ``docker compose config`` runs too where the compose plugin exists.

Tests needing nginx or openssl fail under ``CI=true`` when it is missing, and skip elsewhere.
Also here: the layout the material relies on (``smsbridge.contrib`` is a real subpackage, the
callback runner is core).
"""

from __future__ import annotations

import configparser
import contextlib
import io
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import yaml
from _nginx import NGINX_SITE, Site, accepts, free_port, need, running, wait_until

ROOT = Path(__file__).resolve().parents[1]
CONTRIB = ROOT / "contrib"
UNIT = CONTRIB / "systemd" / "smsbridge.service"
COMPOSE = CONTRIB / "docker-compose.yml"

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "deploy-test-auth-token"
FORM = "application/x-www-form-urlencoded"


# -- helpers ----------------------------------------------------------------------------------


def cli_args(argv: list[str]) -> Any:
    """``argv`` (without the program name) parsed by the real ``smsbridge`` parser."""
    from smsbridge.cli import build_parser

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"smsbridge rejects {shlex.join(argv)!r}: {errors.getvalue().strip()}")


def library_variables() -> set[str]:
    """Every environment variable the library reads: the bridge's own and each provider's."""
    from smsbridge import _config

    table: Any = getattr(_config, "ENV_VARIABLES", None)
    if table is None and hasattr(_config, "provider_variables"):
        table = _config.provider_variables()  # each provider declares its own variables
    if table is None:
        from smsbridge import providers

        table = {n: providers.provider_class(n).settings.variables for n in providers.names()}
    return set(_config.BRIDGE_VARIABLES) | {v for names in table.values() for v in names}


def nginx_directive(text: str, name: str) -> list[str]:
    """The values of every ``name ...;`` directive in an nginx config (comments ignored)."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return [m.group(1).strip() for m in (re.match(rf"\s*{name}\s+([^;]*);", x) for x in lines) if m]


def nginx_serve_command() -> list[str]:
    """The ``smsbridge serve ...`` command the nginx site's comment tells the app side to run."""
    match = re.search(r"^#\s+(smsbridge serve .*)$", NGINX_SITE.read_text(), re.MULTILINE)
    assert match, "contrib/nginx/smsbridge.conf does not show the `smsbridge serve` command"
    return shlex.split(match.group(1))


def nginx_upstream() -> tuple[str, int]:
    servers = nginx_directive(NGINX_SITE.read_text(), "server")
    assert len(servers) == 1, servers
    host, _, port = servers[0].split()[0].rpartition(":")
    return host, int(port)


def library_body_limit() -> int:
    from smsbridge import Bridge

    env = {
        "SMSBRIDGE_PROVIDERS": "twilio",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": "+15017122661",
    }
    return int(Bridge.from_env(env).max_body_size)


def nginx_size(value: str) -> int:
    units = {"k": 1024, "m": 1024 * 1024, "g": 1024**3}
    unit = value[-1].lower()
    return int(value[:-1]) * units[unit] if unit in units else int(value)


def unit_file() -> configparser.ConfigParser:
    # systemd repeats some keys (SystemCallFilter=); the last one wins here, which is enough.
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


# -- layout -----------------------------------------------------------------------------------


def test_contrib_folder_holds_no_python() -> None:
    assert CONTRIB.is_dir()
    assert sorted(p.relative_to(CONTRIB).as_posix() for p in CONTRIB.rglob("*.py")) == []
    for name in ("README.md", "docker-compose.yml", "nginx/smsbridge.conf"):
        assert (CONTRIB / name).is_file(), name
    assert (CONTRIB / "systemd" / "smsbridge.service").is_file()


def test_adapters_are_a_real_subpackage() -> None:
    import importlib.util

    import smsbridge.contrib

    package = ROOT / "smsbridge" / "contrib"
    assert [Path(p).resolve() for p in smsbridge.contrib.__path__] == [package.resolve()]
    for name in ("fastapi", "flask", "django", "celery", "celery_worker"):
        spec = importlib.util.find_spec(f"smsbridge.contrib.{name}")
        assert spec is not None, name
        assert spec.origin is not None, name
        assert Path(spec.origin).resolve() == (package / f"{name}.py").resolve()
    assert "force-include" not in (ROOT / "pyproject.toml").read_text()


def test_the_callback_runner_is_core() -> None:
    """Importing the runner imports neither the adapters nor a web framework."""
    code = (
        "import sys, smsbridge.webhooks._runner as r\n"
        "assert r.WebhookHandler.__module__ == 'smsbridge.webhooks._runner'\n"
        "bad = ('smsbridge.contrib', 'fastapi', 'starlette', 'flask', 'django', 'celery')\n"
        "print(sorted(m for m in sys.modules for b in bad if m == b or m.startswith(b + '.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- nginx ------------------------------------------------------------------------------------


def test_nginx_site_matches_the_library() -> None:
    text = NGINX_SITE.read_text()
    (limit,) = nginx_directive(text, "client_max_body_size")
    assert nginx_size(limit) == library_body_limit()
    headers = {
        v.split()[0].lower(): v.split(None, 1)[1] for v in nginx_directive(text, "proxy_set_header")
    }
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["x-forwarded-host"] == "$host"
    assert headers["x-forwarded-port"] == "$server_port"  # the bridge adds it unless 443
    assert headers["x-forwarded-prefix"] == '""'  # a client's own is never passed on
    assert headers["x-forwarded-for"] in ("$remote_addr", "$proxy_add_x_forwarded_for")
    assert nginx_directive(text, "proxy_pass") == ["http://smsbridge_serve"]
    for name in ("proxy_read_timeout", "proxy_connect_timeout", "client_body_timeout"):
        (value,) = nginx_directive(text, name)
        assert 0 < int(value.rstrip("s")) < 15, (name, value)  # under Twilio's 15 s
    assert any(
        "ssl" in v.split() and v.split()[0] == "443" for v in nginx_directive(text, "listen")
    )

    # The app side the comment asks for: trusts this proxy and listens where it forwards to.
    args = cli_args(nginx_serve_command()[1:])
    host, port = nginx_upstream()
    assert args.command == "serve"
    assert (args.host, args.port) == (host, port)
    assert host in args.trusted_proxy
    assert args.path in re.findall(r"location\s*=\s*(\S+)\s*\{", text)


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    nginx = need("nginx")
    site = Site(tmp_path, free_port())
    done = subprocess.run(
        site.command(nginx, "-t"), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def serve_environment() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "TELNYX_", "SMSBRIDGE_", "VONAGE_"))
    }
    return {
        **env,
        "SMSBRIDGE_PROVIDERS": "twilio",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": "+15017122661",
    }


def twilio_inbound(url: str, text: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    from smsbridge.testing import sign_twilio

    sid = "SM" + uuid.uuid4().hex
    params = [
        ("MessageSid", sid),
        ("SmsMessageSid", sid),
        ("AccountSid", TWILIO_SID),
        ("From", "+14155552671"),
        ("To", "+15017122661"),
        ("Body", text),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]
    headers = sign_twilio(url, params, auth_token=TWILIO_TOKEN)
    return params, {**headers, "Content-Type": FORM}


def test_signed_webhook_through_nginx(tmp_path: Path) -> None:
    """nginx (this site, TLS) -> ``smsbridge serve --trusted-proxy 127.0.0.1`` (uvicorn)."""
    nginx = need("nginx")
    app_port = free_port()
    argv = nginx_serve_command()[1:]
    argv[argv.index("--port") + 1] = str(app_port)
    site = Site(tmp_path, app_port)
    serve = [sys.executable, "-m", "smsbridge", *argv]
    with (
        running(serve, serve_environment()) as (app, served),
        running(site.command(nginx, "-g", "daemon off;")) as (proxy, logged),
    ):
        wait_until(lambda: accepts(app_port) or app.poll() is not None, "serve starting")
        assert app.poll() is None, "".join(served)
        wait_until(lambda: accepts(site.tls_port) or proxy.poll() is not None, "nginx starting")
        assert proxy.poll() is None, "".join(logged) + site.error_log.read_text()
        context = ssl.create_default_context(cafile=str(site.cert))
        # From another loopback address than nginx's own: the endpoint ignores forwarded
        # headers when X-Forwarded-For names its peer (see contrib.fastapi.socket_peer).
        transport = httpx.HTTPTransport(verify=context, local_address="127.0.0.2")
        with httpx.Client(transport=transport, timeout=20) as client:
            text = f"through nginx {uuid.uuid4().hex}"
            params, headers = twilio_inbound(site.url, text)
            signed = client.post(site.url, content=urlencode(params), headers=headers)
            assert signed.status_code == 200, (signed.text, "".join(served))
            wait_until(lambda: text in "".join(served), "the event on serve's stdout")

            tampered = [(k, "tampered" if k == "Body" else v) for k, v in params]
            forged = client.post(site.url, content=urlencode(tampered), headers=headers)
            assert forged.status_code == 403

            limit = library_body_limit()
            too_big = client.post(site.url, content=b"a" * (limit + 1), headers=headers)
            assert too_big.status_code == 413
            assert "nginx" in too_big.text  # stopped by nginx, not buffered for the endpoint
            at_limit = client.post(site.url, content=b"a" * limit, headers=headers)
            assert at_limit.status_code == 403  # it reached the endpoint, unsigned

            other = client.get(f"https://127.0.0.1:{site.tls_port}/")
            assert other.status_code == 404
        plain = httpx.get(f"http://127.0.0.1:{site.http_port}/sms/webhook", timeout=20)
        assert plain.status_code == 301
        assert plain.headers["location"].startswith("https://")


# -- systemd ----------------------------------------------------------------------------------


def test_systemd_unit_is_valid(tmp_path: Path) -> None:
    unit = unit_file()
    service = unit["Service"]
    assert service["User"] not in ("", "root")
    assert service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["EnvironmentFile"].lstrip("-").startswith("/")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit["Unit"]["After"]

    program, *argv = shlex.split(service["ExecStart"])
    assert Path(program).name == "smsbridge"
    args = cli_args(argv)
    assert args.command == "serve"
    assert (args.host, args.port) == nginx_upstream()
    assert "127.0.0.1" in args.trusted_proxy
    assert argv == nginx_serve_command()[1:]  # what the nginx site asks of the app side

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # the parse above is all that can be checked here
    # The real binary (the venv's) and an environment file that exists.
    smsbridge = Path(sys.executable).with_name("smsbridge")
    assert smsbridge.exists(), "the smsbridge console command is not installed"
    env_file = tmp_path / "smsbridge.env"
    env_file.write_text("SMSBRIDGE_PROVIDERS=twilio\n")
    text = UNIT.read_text().replace(program, str(smsbridge), 1)
    text = text.replace(service["EnvironmentFile"], str(env_file), 1)
    rendered = tmp_path / "smsbridge.service"
    rendered.write_text(text)
    done = subprocess.run(
        [analyze, "verify", str(rendered)], capture_output=True, text=True, timeout=60, check=False
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines() if rendered.name in line]
    assert done.returncode == 0, done.stdout + done.stderr
    assert ours == []  # unknown keys and bad values are only warnings, naming the file


# -- docker compose ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def command(service: Mapping[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def test_compose_services_and_dependencies() -> None:
    services = compose()["services"]
    assert {"serve", "worker", "redis", "emulator"} <= set(services)
    for name, service in services.items():
        depends = service.get("depends_on") or []
        assert set(depends) <= set(services), (name, depends)
        build = service.get("build")
        if build:
            dockerfile = (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve()
            assert dockerfile.is_file(), dockerfile
    assert "redis" in services["serve"]["depends_on"]
    assert {"redis", "emulator"} <= set(services["worker"]["depends_on"])

    # Docker's own check, where the compose plugin exists (it does not on every machine).
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        done = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr


def test_compose_commands_are_real() -> None:
    from celery.app.utils import find_app

    services = compose()["services"]
    commands = {name: command(service) for name, service in services.items()}
    assert commands["serve"][:2] == ["smsbridge", "serve"]
    assert commands["emulator"][:2] == ["smsbridge", "emulator"]
    for name, argv in commands.items():
        if argv and argv[0] == "smsbridge":
            args = cli_args(argv[1:])
            assert args.command == argv[1], name
            assert args.host == "0.0.0.0", f"{name} must listen beyond the container"

    worker = commands["worker"]
    assert worker[0] == "celery"
    assert "worker" in worker
    flag = next(i for i, part in enumerate(worker) if part in ("-A", "--app"))
    app = find_app(worker[flag + 1])
    assert "smsbridge.send" in app.tasks


def test_compose_environment_is_read_by_the_library() -> None:
    from smsbridge.testing import Emulator

    services = compose()["services"]
    known = library_variables()
    ours = ("SMSBRIDGE_", "TWILIO_", "TELNYX_", "VONAGE_")
    for name, service in services.items():
        named = {v for v in environment(service) if v.startswith(ours)}
        assert named <= known, (name, sorted(named - known))

    # Both smsbridge processes are wired to the emulator, the store and the broker.
    emulator = cli_args(command(services["emulator"])[1:])
    offered = Emulator(
        twilio_account_sid=emulator.twilio_account_sid,
        twilio_auth_token=emulator.twilio_auth_token,
        telnyx_api_key=emulator.telnyx_api_key,
    ).environment()
    # The emulator plays every provider; the compose uses those its image can build (no
    # `vonage` extra, hence no PyJWT: Twilio and Telnyx), in the emulator's order.
    used = environment(services["serve"])["SMSBRIDGE_PROVIDERS"].split(",")
    emulated = offered["SMSBRIDGE_PROVIDERS"].split(",")
    assert used == [p for p in emulated if p in used], used
    prefixes = tuple(f"{p.upper()}_" for p in used)
    expected = {k: v for k, v in offered.items() if k.startswith(prefixes)}
    expected["SMSBRIDGE_PROVIDERS"] = ",".join(used)
    assert {"TWILIO_FROM", "TELNYX_FROM"} <= set(expected)
    for name in ("serve", "worker"):
        env = environment(services[name])
        assert env["SMSBRIDGE_STORE"].startswith("redis://redis:")
        for variable, value in expected.items():
            if variable.endswith("_BASE_URL"):
                assert urlsplit(env[variable]).netloc == f"emulator:{emulator.port}"
            else:
                assert env[variable] == value, (name, variable)
    assert environment(services["worker"])["CELERY_BROKER_URL"].startswith("redis://redis:")
