"""The ASGI adapter passes the socket peer to the bridge, never a proxy-headers rewrite of it.

uvicorn's ``ProxyHeadersMiddleware`` (on by default, trusting loopback) sets
``scope["client"]`` from ``X-Forwarded-For``; the adapter must notice and treat the request as
coming from no trusted proxy. The end-to-end tests run a real uvicorn on a free loopback port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from _contrib_kit import Recorder, make_bridge, twilio_inbound
from fastapi import FastAPI, Request

from smsbridge.contrib.fastapi import socket_peer, webhook_router

PUBLIC = "https://app.example.com/sms/webhook"
FORWARDED = {
    "X-Forwarded-For": "10.0.0.5",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "app.example.com",
}


@contextmanager
def running(app: Any, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free 127.0.0.1 port; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped during startup"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def app_for(trusted: list[str], recorder: Recorder) -> FastAPI:
    """The FastAPI adapter for a bridge trusting ``trusted``, plus a route showing the client."""
    app = FastAPI()
    app.include_router(webhook_router(make_bridge(trusted_proxies=trusted), recorder))

    @app.get("/client")
    def client(request: Request) -> str:
        return request.client.host if request.client else ""

    return app


@pytest.fixture(autouse=True)
def default_forwarded_allow_ips(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's own default (loopback), whatever the machine running the tests has set."""
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)


def test_rewritten_client_is_not_trusted_under_uvicorn_proxy_headers() -> None:
    """A loopback client claiming X-Forwarded-For: <trusted proxy> gets 403, not trust."""
    recorder = Recorder()
    with running(app_for(["10.0.0.5"], recorder)) as base:
        # The precondition: uvicorn's middleware did hand the app the claimed address.
        shown = httpx.get(f"{base}/client", headers=FORWARDED, timeout=5).json()
        assert shown == "10.0.0.5"
        body, headers = twilio_inbound(PUBLIC)
        response = httpx.post(
            f"{base}/sms/webhook", content=body, headers={**headers, **FORWARDED}, timeout=5
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert recorder.outcomes == []


def test_listed_proxy_on_loopback_is_trusted_without_proxy_headers() -> None:
    """With uvicorn's proxy headers off, a listed proxy's forwarded headers are believed."""
    recorder = Recorder()
    with running(app_for(["127.0.0.1"], recorder), proxy_headers=False) as base:
        body, headers = twilio_inbound(PUBLIC, "via the proxy")
        response = httpx.post(
            f"{base}/sms/webhook", content=body, headers={**headers, **FORWARDED}, timeout=5
        )
    assert response.status_code == 200, response.text
    assert [o.event.text for o in recorder.outcomes] == ["via the proxy"]


def test_listed_proxy_is_not_trusted_once_uvicorn_rewrote_the_client() -> None:
    """Under uvicorn's proxy headers even a listed loopback proxy's client is a rewrite: 403."""
    recorder = Recorder()
    with running(app_for(["127.0.0.1"], recorder)) as base:
        body, headers = twilio_inbound(PUBLIC)
        response = httpx.post(
            f"{base}/sms/webhook", content=body, headers={**headers, **FORWARDED}, timeout=5
        )
    assert response.status_code == 403
    assert recorder.outcomes == []


def scope(client: tuple[str, int] | None) -> dict[str, Any]:
    """The smallest HTTP scope carrying ``client``."""
    return {"type": "http", "client": client}


@pytest.mark.parametrize(
    ("client", "headers", "expected"),
    [
        pytest.param(("127.0.0.1", 51234), [], "127.0.0.1", id="plain-peer"),
        pytest.param(None, [], None, id="no-client"),
        pytest.param(("10.0.0.5", 0), [("x-forwarded-for", "10.0.0.5")], None, id="xff-host"),
        pytest.param(
            ("10.0.0.5", 0),
            [("X-Forwarded-For", "203.0.113.9, 10.0.0.5")],
            None,
            id="xff-chain",
        ),
        pytest.param(
            ("10.0.0.5", 8080), [("x-forwarded-for", "10.0.0.5:8080")], None, id="xff-with-port"
        ),
        pytest.param(
            ("2001:db8::5", 0), [("x-forwarded-for", "[2001:db8::5]:443")], None, id="xff-ipv6"
        ),
        pytest.param(
            ("2001:db8::5", 0), [("x-forwarded-for", "2001:DB8::5")], None, id="xff-ipv6-case"
        ),
        pytest.param(
            ("10.0.0.5", 0), [("x-forwarded-for", "203.0.113.9")], None, id="port-0-with-xff"
        ),
        pytest.param(
            ("10.0.0.5", 0),
            [("forwarded", 'for="10.0.0.5";proto=https')],
            None,
            id="forwarded-for",
        ),
        pytest.param(
            ("10.0.0.5", 43210),
            [("x-forwarded-for", "203.0.113.9")],
            "10.0.0.5",
            id="real-proxy-with-xff",
        ),
        pytest.param(
            ("10.0.0.5", 43210), [("x-forwarded-proto", "https")], "10.0.0.5", id="no-xff"
        ),
        pytest.param(("10.0.0.5", 0), [], "10.0.0.5", id="port-0-without-xff"),
    ],
)
def test_socket_peer_detects_a_rewritten_client(
    client: tuple[str, int] | None, headers: list[tuple[str, str]], expected: str | None
) -> None:
    """The client is passed on unless its host is an X-Forwarded-For entry or its port is 0."""
    assert socket_peer(scope(client), headers) == expected
