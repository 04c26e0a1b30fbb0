"""The Flask adapter, through Flask's own test client with signed webhooks."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import flask
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

from smsbridge.contrib.flask import webhook_blueprint, webhook_view

URL = "http://localhost/sms/webhook"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'

Client = Callable[..., Any]


def make_app(on_event: Any, **kwargs: Any) -> tuple[flask.Flask, Any]:
    """A Flask app with the webhook blueprint; returns the app and the view's handler."""
    bridge_kwargs = kwargs.pop("bridge_kwargs", {})
    app = flask.Flask("contrib_test")
    app.register_blueprint(webhook_blueprint(make_bridge(**bridge_kwargs), on_event, **kwargs))
    view: Any = app.view_functions["smsbridge.webhook"]
    return app, view.handler


def post(app: flask.Flask, body: bytes, headers: dict[str, str], path: str = "/sms/webhook") -> Any:
    return app.test_client().post(path, data=body, headers=headers)


def error_code(response: Any) -> str:
    return str(json.loads(response.data)["error"]["code"])


def test_twilio_inbound_is_acknowledged_and_handed_on() -> None:
    """A signed Twilio SMS gets empty TwiML at once and reaches on_event in fast mode."""
    recorder = Recorder()
    app, handler = make_app(recorder)
    response = post(app, *twilio_inbound(URL, "Hello there"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml"
    assert response.data == EMPTY_TWIML
    assert recorder.wait()
    handler.close()
    assert recorder.outcomes[0].provider == "twilio"
    assert recorder.outcomes[0].event.text == "Hello there"


def test_telnyx_inbound_is_acknowledged_and_handed_on() -> None:
    """A signed Telnyx SMS gets a 200 and reaches on_event."""
    recorder = Recorder()
    app, handler = make_app(recorder)
    response = post(app, *telnyx_inbound("Hi from Telnyx"))
    assert response.status_code == 200
    assert recorder.wait()
    handler.close()
    assert recorder.outcomes[0].provider == "telnyx"
    assert recorder.outcomes[0].event.text == "Hi from Telnyx"


@pytest.mark.parametrize("make", [lambda: twilio_inbound(URL), lambda: telnyx_inbound()])
def test_tampered_body_is_refused_with_403(
    make: Callable[[], tuple[bytes, dict[str, str]]],
) -> None:
    """A body changed after signing is refused with 403 invalid_signature, never handed on."""
    recorder = Recorder()
    app, _ = make_app(recorder, mode="inline")
    body, headers = make()
    response = post(app, tamper(body), headers)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    assert error_code(response) == "invalid_signature"
    assert recorder.outcomes == []


def test_stale_telnyx_webhook_is_refused() -> None:
    """A Telnyx webhook signed an hour ago is refused with 403 stale_webhook."""
    recorder = Recorder()
    app, _ = make_app(recorder, mode="inline")
    response = post(app, *telnyx_inbound(timestamp=stale_timestamp()))
    assert response.status_code == 403
    assert error_code(response) == "stale_webhook"
    assert recorder.outcomes == []


def test_duplicate_delivery_is_acknowledged_once_handed_on() -> None:
    """The same webhook delivered twice is acknowledged twice but handed to on_event once."""
    recorder = Recorder()
    app, handler = make_app(recorder)
    body, headers = twilio_inbound(URL)
    first = post(app, body, headers)
    second = post(app, body, headers)
    handler.close()
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.data == EMPTY_TWIML
    assert len(recorder.outcomes) == 1


def test_stale_status_is_acknowledged_not_handed_on() -> None:
    """A late 'sent' after 'delivered' is acknowledged without reaching on_event."""
    recorder = Recorder()
    app, _ = make_app(recorder, mode="inline")
    sid = "SM" + "ab" * 16
    assert post(app, *twilio_status(URL, sid, "delivered")).status_code == 200
    late = post(app, *twilio_status(URL, sid, "sent"))
    assert late.status_code == 200
    assert [o.event.status.value for o in recorder.outcomes] == ["delivered"]


def test_inline_reply_goes_out_as_twiml() -> None:
    """In inline mode the string on_event returns is the TwiML <Message>, escaped."""
    app, _ = make_app(Recorder(reply="Thanks & see you <soon>"), mode="inline")
    response = post(app, *twilio_inbound(URL))
    assert response.status_code == 200
    assert b"<Message>Thanks &amp; see you &lt;soon&gt;</Message>" in response.data


def test_inline_async_callback_replies() -> None:
    """An async on_event works in Flask's sync view and its reply is sent."""

    async def on_event(outcome: Any) -> str:
        return f"echo: {outcome.event.text}"

    app, _ = make_app(on_event, mode="inline")
    response = post(app, *twilio_inbound(URL, "ping"))
    assert b"<Message>echo: ping</Message>" in response.data


def test_inline_reply_to_telnyx_is_plain_ack() -> None:
    """Telnyx has no inline replies: a returned string still answers with the plain 200."""
    recorder = Recorder(reply="not sent inline")
    app, _ = make_app(recorder, mode="inline")
    response = post(app, *telnyx_inbound())
    assert response.status_code == 200
    assert b"not sent inline" not in response.data
    assert len(recorder.outcomes) == 1


def test_inline_timeout_answers_plain_ack_and_callback_finishes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the timeout the plain ack goes out; the callback still finishes and its late
    reply is logged, not sent."""
    release = threading.Event()
    recorder = Recorder(reply="too late", block=release)
    app, handler = make_app(recorder, mode="inline", timeout=0.05)
    with caplog.at_level(logging.WARNING, logger="smsbridge.contrib"):
        response = post(app, *twilio_inbound(URL))
        assert response.data == EMPTY_TWIML
        assert recorder.outcomes == []
        release.set()
        assert recorder.wait()
        handler.close()
    assert len(recorder.outcomes) == 1
    assert any("after the" in r.getMessage() for r in caplog.records)


def test_fast_mode_callback_error_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """A failing callback in fast mode leaves the 200 in place and is logged."""
    recorder = Recorder(fail=True)
    app, handler = make_app(recorder)
    with caplog.at_level(logging.ERROR, logger="smsbridge.contrib"):
        response = post(app, *twilio_inbound(URL))
        assert recorder.wait()
        handler.close()
    assert response.status_code == 200
    assert any(r.exc_info and "on purpose" in str(r.exc_info[1]) for r in caplog.records)


def test_inline_callback_error_still_acknowledges(caplog: pytest.LogCaptureFixture) -> None:
    """A failing callback in inline mode answers with the plain ack and logs the error."""
    app, _ = make_app(Recorder(fail=True), mode="inline")
    with caplog.at_level(logging.ERROR, logger="smsbridge.contrib"):
        response = post(app, *twilio_inbound(URL))
    assert response.data == EMPTY_TWIML
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_unknown_request_is_400() -> None:
    """An unsigned request that looks like no provider is 400 unknown_provider."""
    app, _ = make_app(Recorder())
    response = post(app, b'{"hello": "world"}', {"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_code(response) == "unknown_provider"


def test_oversized_body_is_413() -> None:
    """A body over the bridge's max_body_size is 413 payload_too_large."""
    app, _ = make_app(Recorder(), bridge_kwargs={"max_body_size": 512})
    body, headers = twilio_inbound(URL, "x" * 2000)
    response = post(app, body, headers)
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_url_with_query_is_signed_as_sent() -> None:
    """The query string reaches verification exactly as sent (status callbacks carry one)."""
    recorder = Recorder()
    app, _ = make_app(recorder, mode="inline")
    url = URL + "?smsbridge_ref=order%2F42"
    response = post(
        app,
        *twilio_status(url, "SM" + "cd" * 16, "delivered"),
        path="/sms/webhook?smsbridge_ref=order%2F42",
    )
    assert response.status_code == 200
    assert recorder.outcomes[0].event.reference == "order/42"


def test_custom_path_and_view() -> None:
    """webhook_view mounts anywhere; requests signed for that path verify."""
    recorder = Recorder()
    app = flask.Flask("contrib_view")
    view = webhook_view(make_bridge(), recorder, mode="inline")
    app.add_url_rule("/hooks/sms", "sms", view, methods=["POST"])
    response = post(app, *twilio_inbound("http://localhost/hooks/sms"), path="/hooks/sms")
    assert response.status_code == 200
    assert len(recorder.outcomes) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "slow"},
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": float("nan")},
        {"timeout": float("inf")},
        {"timeout": "soon"},
        {"timeout": {"twilio": 0}},
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, Any]) -> None:
    """An unknown mode or a timeout that is not a positive finite number is refused at once."""
    from smsbridge import ConfigError

    with pytest.raises(ConfigError):
        webhook_blueprint(make_bridge(), Recorder(), **kwargs)


def test_on_event_must_be_callable() -> None:
    """A callback that cannot be called is refused when the blueprint is built."""
    from smsbridge import ConfigError

    with pytest.raises(ConfigError):
        webhook_blueprint(make_bridge(), "not a function")  # type: ignore[arg-type]
