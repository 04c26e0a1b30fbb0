"""A real nginx for tests: the repository's ``contrib/nginx/smsbridge.conf`` rendered onto free
loopback ports with a certificate made here, and the helpers that start processes and wait.

``need`` fails under ``CI=true`` when a binary is missing, and skips elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NGINX_SITE = ROOT / "contrib" / "nginx" / "smsbridge.conf"


def need(binary: str) -> str:
    """The path of ``binary``; missing, the test fails under ``CI=true`` and skips elsewhere."""
    found = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/sbin/{binary}") if os.access(p, os.X_OK)), None
    )
    if found:
        return found
    message = f"{binary} is not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: .ci/run installs it)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, what: str, timeout: float = 30.0) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    openssl = shutil.which("openssl")
    if openssl is None:
        with contextlib.suppress(ImportError):
            return _certificate_with_cryptography(cert, key)
        need("openssl")
    request = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [openssl or "openssl", *request.split(), *subject, *files],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _certificate_with_cryptography(cert: Path, key: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


class Site:
    """The nginx site rendered into ``directory`` (ports and paths of this test) and a wrapper
    ``nginx.conf`` that includes it."""

    def __init__(self, directory: Path, app_port: int, text: str | None = None) -> None:
        """``text``: the site to render, ``contrib/nginx/smsbridge.conf`` by default (a test
        may pass a variant of it: a path prefix, a misconfigured header)."""
        self.directory = directory
        self.tls_port, self.http_port, self.app_port = free_port(), free_port(), app_port
        self.cert, self.key = make_certificate(directory)
        text = NGINX_SITE.read_text() if text is None else text
        replacements = [
            (r"[ \t]*listen \[::\]:\d+[^;]*;\n", ""),  # IPv4 loopback only in the test
            (r"listen 443 ssl;", f"listen 127.0.0.1:{self.tls_port} ssl;"),
            (r"listen 80;", f"listen 127.0.0.1:{self.http_port};"),
            (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{app_port};"),
            (r"ssl_certificate \S+;", f"ssl_certificate {self.cert};"),
            (r"ssl_certificate_key \S+;", f"ssl_certificate_key {self.key};"),
        ]
        for pattern, new in replacements:
            text, count = re.subn(pattern, lambda _m, new=new: new, text)
            assert count, f"{pattern!r} is not in contrib/nginx/smsbridge.conf"
        site = directory / "smsbridge.conf"
        site.write_text(text)
        self.error_log = directory / "error.log"
        temp = "\n".join(
            f"    {kind}_temp_path {directory / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
        self.conf = directory / "nginx.conf"
        self.conf.write_text(
            f"{user}worker_processes 1;\npid {directory / 'nginx.pid'};\n"
            f"error_log {self.error_log} info;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n    access_log {directory / 'access.log'};\n{temp}\n"
            f"    include {site};\n}}\n"
        )

    def command(self, nginx: str, *extra: str) -> list[str]:
        paths = ["-p", str(self.directory), "-e", str(self.error_log), "-c", str(self.conf)]
        return [nginx, *paths, *extra]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}/sms/webhook"


@contextlib.contextmanager
def running(
    command: list[str], env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Run ``command``; yields it and the lines it prints (stdout and stderr) as they come."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(env) if env is not None else None,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        yield proc, lines
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        reader.join(timeout=15)
