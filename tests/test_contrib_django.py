"""The Django adapter, through django.test.Client with signed webhooks."""

from __future__ import annotations

import json
import logging
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import django
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
from django.conf import settings
from django.test import Client, override_settings

URL = "http://testserver/sms/webhook"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


@pytest.fixture(scope="module", autouse=True)
def django_settings() -> None:
    """Configure Django once for the process (CSRF middleware on, to prove the exemption)."""
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="contrib-tests-only",
            ALLOWED_HOSTS=["testserver", "public.example.com"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
        django.setup()


urlpatterns: list[Any] = []


@pytest.fixture
def mount() -> Iterator[Callable[..., Any]]:
    """Mount webhook_urls(...) as the whole URLconf; returns a function giving the handler."""
    from smsbridge.contrib.django import webhook_urls

    overrides: list[Any] = []

    def _mount(on_event: Any, bridge_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        module = types.ModuleType("contrib_django_urls")
        module.urlpatterns = webhook_urls(  # type: ignore[attr-defined]
            make_bridge(**(bridge_kwargs or {})), on_event, **kwargs
        )
        override = override_settings(ROOT_URLCONF=module)
        override.enable()
        overrides.append(override)
        return module.urlpatterns[0].callback.handler

    yield _mount
    for override in reversed(overrides):
        override.disable()


def post(body: bytes, headers: dict[str, str], path: str = "/sms/webhook") -> Any:
    content_type = headers.get("Content-Type", "application/octet-stream")
    other = {k: v for k, v in headers.items() if k != "Content-Type"}
    client = Client(enforce_csrf_checks=True)
    return client.post(path, data=body, content_type=content_type, headers=other)


def error_code(response: Any) -> str:
    return str(json.loads(response.content)["error"]["code"])


def test_twilio_inbound_is_acknowledged_and_handed_on(mount: Callable[..., Any]) -> None:
    """A signed Twilio SMS gets empty TwiML (CSRF exempt) and reaches on_event in fast mode."""
    recorder = Recorder()
    handler = mount(recorder)
    response = post(*twilio_inbound(URL, "Hello Django"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content == EMPTY_TWIML
    assert recorder.wait()
    handler.close()
    assert recorder.outcomes[0].event.text == "Hello Django"


def test_telnyx_inbound_is_acknowledged_and_handed_on(mount: Callable[..., Any]) -> None:
    """A signed Telnyx SMS gets a 200 and reaches on_event."""
    recorder = Recorder()
    handler = mount(recorder)
    response = post(*telnyx_inbound("Hi Django"))
    assert response.status_code == 200
    assert recorder.wait()
    handler.close()
    assert recorder.outcomes[0].provider == "telnyx"


@pytest.mark.parametrize("make", [lambda: twilio_inbound(URL), lambda: telnyx_inbound()])
def test_tampered_body_is_refused_with_403(
    mount: Callable[..., Any], make: Callable[[], tuple[bytes, dict[str, str]]]
) -> None:
    """A body changed after signing is refused with 403 invalid_signature, never handed on."""
    recorder = Recorder()
    mount(recorder, mode="inline")
    body, headers = make()
    response = post(tamper(body), headers)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert error_code(response) == "invalid_signature"
    assert recorder.outcomes == []


def test_stale_telnyx_webhook_is_refused(mount: Callable[..., Any]) -> None:
    """A Telnyx webhook signed an hour ago is refused with 403 stale_webhook."""
    recorder = Recorder()
    mount(recorder, mode="inline")
    response = post(*telnyx_inbound(timestamp=stale_timestamp()))
    assert response.status_code == 403
    assert error_code(response) == "stale_webhook"
    assert recorder.outcomes == []


def test_duplicate_delivery_is_handed_on_once(mount: Callable[..., Any]) -> None:
    """The same webhook delivered twice is acknowledged twice but handed on once."""
    recorder = Recorder()
    handler = mount(recorder)
    body, headers = telnyx_inbound()
    first, second = post(body, headers), post(body, headers)
    handler.close()
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(recorder.outcomes) == 1


def test_stale_status_is_acknowledged_not_handed_on(mount: Callable[..., Any]) -> None:
    """A late 'sent' after 'delivered' is acknowledged without reaching on_event."""
    recorder = Recorder()
    mount(recorder, mode="inline")
    sid = "SM" + "ef" * 16
    assert post(*twilio_status(URL, sid, "delivered")).status_code == 200
    assert post(*twilio_status(URL, sid, "sent")).status_code == 200
    assert [o.event.status.value for o in recorder.outcomes] == ["delivered"]


def test_inline_reply_goes_out_as_twiml(mount: Callable[..., Any]) -> None:
    """In inline mode the string on_event returns is the TwiML <Message>."""
    mount(Recorder(reply="Got it"), mode="inline")
    response = post(*twilio_inbound(URL))
    assert response.status_code == 200
    assert b"<Message>Got it</Message>" in response.content


def test_inline_timeout_answers_plain_ack(
    mount: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Past the timeout the plain ack goes out and the callback still runs to the end."""
    release = threading.Event()
    recorder = Recorder(reply="too late", block=release)
    handler = mount(recorder, mode="inline", timeout={"twilio": 0.05})
    with caplog.at_level(logging.WARNING, logger="smsbridge.contrib"):
        response = post(*twilio_inbound(URL))
        assert response.content == EMPTY_TWIML
        release.set()
        assert recorder.wait()
        handler.close()
    assert len(recorder.outcomes) == 1
    assert any("after the" in r.getMessage() for r in caplog.records)


def test_fast_mode_callback_error_is_logged(
    mount: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A failing callback in fast mode leaves the 200 in place and is logged."""
    recorder = Recorder(fail=True)
    handler = mount(recorder)
    with caplog.at_level(logging.ERROR, logger="smsbridge.contrib"):
        response = post(*twilio_inbound(URL))
        assert recorder.wait()
        handler.close()
    assert response.status_code == 200
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_unknown_request_is_400(mount: Callable[..., Any]) -> None:
    """An unsigned request that looks like no provider is 400 unknown_provider."""
    mount(Recorder())
    response = post(b"hello=world", {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert error_code(response) == "unknown_provider"


def test_oversized_body_is_413(mount: Callable[..., Any]) -> None:
    """A body over the bridge's max_body_size is 413 payload_too_large."""
    mount(Recorder(), bridge_kwargs={"max_body_size": 512})
    response = post(*twilio_inbound(URL, "x" * 2000))
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_put_is_not_allowed(mount: Callable[..., Any]) -> None:
    """Only GET and POST reach the view."""
    mount(Recorder())
    assert Client().put("/sms/webhook", data=b"", content_type="text/plain").status_code == 405


def test_public_url_behind_proxy(mount: Callable[..., Any]) -> None:
    """With public_url set, a request signed for the public URL verifies at the internal one."""
    recorder = Recorder()
    mount(recorder, mode="inline", bridge_kwargs={"public_url": "https://public.example.com"})
    body, headers = twilio_inbound("https://public.example.com/sms/webhook")
    assert post(body, headers).status_code == 200
    assert len(recorder.outcomes) == 1
