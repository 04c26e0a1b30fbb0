"""The FastAPI / Starlette adapter, through Starlette's TestClient and httpx's ASGI transport."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from _contrib_kit import (
    Recorder,
    make_bridge,
    stale_timestamp,
    tamper,
    telnyx_inbound,
    twilio_inbound,
    twilio_status,
)
from fastapi import FastAPI
from starlette.applications import Starlette

from smsbridge.contrib.fastapi import webhook_route, webhook_router, webhook_view

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its test client; httpx still works.
    warnings.filterwarnings("ignore", message=".*httpx2", category=UserWarning)
    from starlette.testclient import TestClient

PATH = "/sms/webhook"
URL = "http://testserver" + PATH
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def fastapi_client(
    on_event: Any, bridge_kwargs: dict[str, Any] | None = None, **kw: Any
) -> TestClient:
    app = FastAPI()
    app.include_router(webhook_router(make_bridge(**(bridge_kwargs or {})), on_event, **kw))
    return TestClient(app)


def starlette_client(on_event: Any, **kw: Any) -> TestClient:
    return TestClient(Starlette(routes=[webhook_route(make_bridge(), on_event, **kw)]))


def post(
    client: TestClient, body: bytes, headers: dict[str, str], path: str = "/sms/webhook"
) -> Any:
    return client.post(path, content=body, headers=headers)


def error_code(response: Any) -> str:
    return str(json.loads(response.content)["error"]["code"])


@pytest.mark.parametrize("make_client", [fastapi_client, starlette_client])
def test_twilio_inbound_is_acknowledged_and_handed_on(
    make_client: Callable[..., TestClient],
) -> None:
    """A signed Twilio SMS gets empty TwiML and reaches on_event (FastAPI and Starlette)."""
    recorder = Recorder()
    with make_client(recorder) as client:
        response = post(client, *twilio_inbound(URL, "Hello ASGI"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml"
    assert response.content == EMPTY_TWIML
    assert recorder.outcomes[0].event.text == "Hello ASGI"


def test_telnyx_inbound_is_acknowledged_and_handed_on() -> None:
    """A signed Telnyx SMS gets a 200 and reaches on_event."""
    recorder = Recorder()
    with fastapi_client(recorder) as client:
        response = post(client, *telnyx_inbound("Hi ASGI"))
    assert response.status_code == 200
    assert recorder.outcomes[0].provider == "telnyx"
    assert recorder.outcomes[0].event.text == "Hi ASGI"


@pytest.mark.parametrize("make", [lambda: twilio_inbound(URL), lambda: telnyx_inbound()])
def test_tampered_body_is_refused_with_403(
    make: Callable[[], tuple[bytes, dict[str, str]]],
) -> None:
    """A body changed after signing is refused with 403 invalid_signature, never handed on."""
    recorder = Recorder()
    body, headers = make()
    with fastapi_client(recorder) as client:
        response = post(client, tamper(body), headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert error_code(response) == "invalid_signature"
    assert recorder.outcomes == []


def test_stale_telnyx_webhook_is_refused() -> None:
    """A Telnyx webhook signed an hour ago is refused with 403 stale_webhook."""
    recorder = Recorder()
    with fastapi_client(recorder) as client:
        response = post(client, *telnyx_inbound(timestamp=stale_timestamp()))
    assert response.status_code == 403
    assert error_code(response) == "stale_webhook"
    assert recorder.outcomes == []


def test_duplicate_delivery_is_handed_on_once() -> None:
    """The same webhook delivered twice is acknowledged twice but handed on once."""
    recorder = Recorder()
    body, headers = twilio_inbound(URL)
    with fastapi_client(recorder) as client:
        first, second = post(client, body, headers), post(client, body, headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.content == EMPTY_TWIML
    assert len(recorder.outcomes) == 1


def test_stale_status_is_acknowledged_not_handed_on() -> None:
    """A late 'sent' after 'delivered' is acknowledged without reaching on_event."""
    recorder = Recorder()
    sid = "SM" + "12" * 16
    with fastapi_client(recorder, mode="inline") as client:
        assert post(client, *twilio_status(URL, sid, "delivered")).status_code == 200
        assert post(client, *twilio_status(URL, sid, "sent")).status_code == 200
    assert [o.event.status.value for o in recorder.outcomes] == ["delivered"]


def test_inline_reply_goes_out_as_twiml() -> None:
    """In inline mode the string a sync on_event returns is the TwiML <Message>."""
    with fastapi_client(Recorder(reply="Bonjour & merci"), mode="inline") as client:
        response = post(client, *twilio_inbound(URL))
    assert response.status_code == 200
    assert b"<Message>Bonjour &amp; merci</Message>" in response.content


def test_unknown_request_is_400() -> None:
    """An unsigned request that looks like no provider is 400 unknown_provider."""
    with fastapi_client(Recorder()) as client:
        response = post(client, b"{}", {"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_code(response) == "unknown_provider"


def test_oversized_body_is_413_by_content_length() -> None:
    """A body announced over max_body_size is 413 before it is read."""
    with fastapi_client(Recorder(), bridge_kwargs={"max_body_size": 512}) as client:
        response = post(client, *twilio_inbound(URL, "x" * 2000))
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_oversized_chunked_body_is_413() -> None:
    """A body without Content-Length is cut off at max_body_size and refused with 413."""
    body, headers = twilio_inbound(URL, "x" * 2000)

    def chunks() -> Any:
        yield body[:1000]
        yield body[1000:]

    with fastapi_client(Recorder(), bridge_kwargs={"max_body_size": 512}) as client:
        response = client.post("/sms/webhook", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_fast_mode_callback_error_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A failing callback in fast mode leaves the 200 in place and is logged."""
    with (
        caplog.at_level(logging.ERROR, logger="smsbridge.contrib"),
        fastapi_client(Recorder(fail=True)) as client,
    ):
        response = post(client, *twilio_inbound(URL))
    assert response.status_code == 200
    assert any(r.exc_info and "on purpose" in str(r.exc_info[1]) for r in caplog.records)


def test_query_string_is_verified_as_sent() -> None:
    """The query string reaches verification byte for byte (status callbacks carry one)."""
    recorder = Recorder()
    path = "/sms/webhook?smsbridge_ref=order%2F42"
    with fastapi_client(recorder, mode="inline") as client:
        response = post(
            client, *twilio_status("http://testserver" + path, "SM" + "34" * 16, "sent"), path
        )
    assert response.status_code == 200
    assert recorder.outcomes[0].event.reference == "order/42"


def test_router_is_left_out_of_openapi() -> None:
    """The webhook route does not appear in FastAPI's OpenAPI schema."""
    app = FastAPI()
    app.include_router(webhook_router(make_bridge(), Recorder()))
    assert "/sms/webhook" not in app.openapi()["paths"]


# -- async: both event loops, via httpx's ASGI transport ---------------------------------------
class AnswerSpy:
    """ASGI middleware noting when the answer has been sent, to prove it precedes the callback."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: anyio.Event | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.sent = anyio.Event()
        sent = self.sent

        async def spy(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                sent.set()

        await self.app(scope, receive, spy)


async def asgi_post(app: Any, body: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post("/sms/webhook", content=body, headers=headers)


@pytest.mark.anyio
async def test_async_inline_reply() -> None:
    """An async on_event's reply goes out as TwiML on asyncio and trio."""

    async def on_event(outcome: Any) -> str:
        await anyio.sleep(0)
        return f"you said {outcome.event.text}"

    app = Starlette(routes=[webhook_route(make_bridge(), on_event, mode="inline")])
    response = await asgi_post(app, *twilio_inbound(URL, "hi"))
    assert b"<Message>you said hi</Message>" in response.content


@pytest.mark.anyio
async def test_fast_mode_answers_before_the_callback_runs() -> None:
    """In fast mode the ack is sent first; the callback runs after it, to the end."""
    seen: list[bool] = []
    spy: AnswerSpy

    async def on_event(outcome: Any) -> None:
        assert spy.sent is not None
        seen.append(spy.sent.is_set())

    spy = AnswerSpy(Starlette(routes=[webhook_route(make_bridge(), on_event)]))
    response = await asgi_post(spy, *telnyx_inbound())
    assert response.status_code == 200
    assert seen == [True]


@pytest.mark.anyio
async def test_inline_timeout_answers_plain_ack_and_callback_finishes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the timeout the plain ack goes out; the callback, still waiting for that answer,
    then finishes, and its late reply is logged instead of sent."""
    finished: list[str] = []
    spy: AnswerSpy

    async def on_event(outcome: Any) -> str:
        assert spy.sent is not None
        await spy.sent.wait()  # only possible if the answer went out without this reply
        finished.append(outcome.provider)
        return "too late"

    bridge = make_bridge()
    spy = AnswerSpy(
        Starlette(routes=[webhook_route(bridge, on_event, mode="inline", timeout=0.05)])
    )
    with caplog.at_level(logging.WARNING, logger="smsbridge.contrib"):
        response = await asgi_post(spy, *twilio_inbound(URL))
    assert response.content == EMPTY_TWIML
    assert finished == ["twilio"]
    assert any("after the" in r.getMessage() for r in caplog.records)


def test_view_mounts_at_any_path() -> None:
    """webhook_view is a plain ASGI app: mounted elsewhere, it verifies that URL."""
    from starlette.routing import Route

    recorder = Recorder()
    view = webhook_view(make_bridge(), recorder, mode="inline")
    app = Starlette(routes=[Route("/hooks/sms", view, methods=["POST"])])
    with TestClient(app) as client:
        response = post(client, *twilio_inbound("http://testserver/hooks/sms"), "/hooks/sms")
    assert response.status_code == 200
    assert len(recorder.outcomes) == 1


@pytest.mark.anyio
async def test_fast_mode_answers_after_the_callback_once_callbacks_pile_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past MAX_PENDING callbacks still running, a webhook's callback runs before its answer:
    the sender is slowed down instead of the server's task count growing toward 503s."""
    from smsbridge.webhooks import _runner

    monkeypatch.setattr(_runner, "MAX_PENDING", 2)
    release = anyio.Event()
    answered: list[str] = []

    async def on_event(outcome: Any) -> None:
        await release.wait()

    inner = Starlette(routes=[webhook_route(make_bridge(), on_event)])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        async def spy(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered.append("answer")

        await inner(scope, receive, spy)

    async def until(count: int) -> None:
        with anyio.fail_after(5):
            while len(answered) < count:
                await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        for text in ("one", "two"):
            group.start_soon(asgi_post, app, *twilio_inbound(URL, text))
        await until(2)  # answered at once; their callbacks still hold
        group.start_soon(asgi_post, app, *twilio_inbound(URL, "three"))
        await anyio.sleep(0.2)
        assert len(answered) == 2  # the third waits for its own callback
        release.set()
        await until(3)
