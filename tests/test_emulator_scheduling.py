"""Scheduled messages in the emulator: windows, holding, release on the emulator's clock,
cancel and read-back, in the providers' own formats, over plain HTTP.

No test sleeps for minutes: messages are scheduled ahead of ``emu.now()`` and released with
``emu.advance(seconds)`` (or ``POST /_emulator/advance``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from test_emulator import Receiver, receiver, tw, twilio_params, tx

from smsbridge.testing.emulator import Emulator

TO, FROM = "+13125550111", "+13125550100"
SERVICE = "MG" + "5" * 32


__all__ = ["receiver", "tw", "tx"]  # the fixtures shared with test_emulator


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    with Emulator(progress_delay=0.02) as emulator:
        yield emulator


@pytest.fixture
def emu(shared_emulator: Emulator) -> Emulator:
    """One emulator per module, reset between tests (which also puts its clock back)."""
    assert shared_emulator.wait_idle(10)
    shared_emulator.reset()
    return shared_emulator


def ahead(emu: Emulator, **delta: float) -> str:
    """The emulator's now plus ``delta``, as Twilio wants SendAt: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return (emu.now() + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def messages_path(emu: Emulator, sid: str | None = None) -> str:
    base = f"/2010-04-01/Accounts/{emu.twilio_account_sid}/Messages"
    return f"{base}/{sid}.json" if sid else f"{base}.json"


def twilio_schedule(tw: httpx.Client, emu: Emulator, **params: Any) -> httpx.Response:
    data = {"To": TO, "MessagingServiceSid": SERVICE, "Body": "Later", "ScheduleType": "fixed"}
    data.update(params)
    return tw.post(messages_path(emu), data={k: v for k, v in data.items() if v is not None})


def telnyx_schedule(tx: httpx.Client, path: str = "/messages", **fields: Any) -> httpx.Response:
    body = {"to": TO, "from": FROM, "text": "Later", **fields}
    return tx.post(path, json={k: v for k, v in body.items() if v is not None})


def twilio_cancel(tw: httpx.Client, emu: Emulator, sid: str) -> httpx.Response:
    return tw.post(messages_path(emu, sid), data={"Status": "canceled"})


def statuses(receiver: Receiver) -> list[str]:
    return [twilio_params(c)["MessageStatus"] for c in receiver.requests]


# -- Twilio -----------------------------------------------------------------------------------


def test_twilio_scheduled_message_is_held_then_sent_at_its_time(
    emu: Emulator, tw: httpx.Client, receiver: Receiver
) -> None:
    """A scheduled send answers 201 ``scheduled``; nothing happens until the clock reaches
    SendAt, then it goes queued → sent → delivered with its callbacks and a date_sent."""
    response = twilio_schedule(
        tw, emu, SendAt=ahead(emu, minutes=10), StatusCallback=receiver.url()
    )
    assert response.status_code == 201
    message = response.json()
    assert (message["status"], message["date_sent"], message["from"]) == ("scheduled", None, None)
    assert (message["messaging_service_sid"], message["num_segments"]) == (SERVICE, "0")
    (record,) = emu.messages("twilio")
    assert (record["status"], record["raw_status"]) == ("scheduled", "scheduled")
    assert record["send_at"] is not None
    assert emu.wait_idle()
    assert receiver.requests == []
    assert emu.advance(300) == []  # five minutes early: still held
    assert tw.get(message["uri"]).json()["status"] == "scheduled"
    assert emu.advance(300) == [message["sid"]]
    receiver.wait_for(3)
    assert statuses(receiver) == ["queued", "sent", "delivered"]
    assert emu.wait_idle()
    fetched = tw.get(message["uri"]).json()
    assert fetched["status"] == "delivered"
    assert fetched["date_sent"] is not None
    assert fetched["from"]
    assert emu.messages("twilio")[0]["statuses"] == ["scheduled", "queued", "sent", "delivered"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"SendAt": "+60s"}, 35114),
        ({"SendAt": "+300s"}, 35114),
        ({"SendAt": "-60s"}, 35114),
        ({"SendAt": "+36d"}, 35115),
        ({"SendAt": "next tuesday"}, 35117),
        ({"SendAt": "+10m", "MessagingServiceSid": None, "From": FROM}, 35118),
        ({"SendAt": "+10m", "ScheduleType": "recurring"}, 35126),
        ({"SendAt": "+10m", "ScheduleType": None}, 35126),
        ({"SendAt": None}, 35111),
    ],
)
def test_twilio_scheduling_errors(
    emu: Emulator, tw: httpx.Client, params: dict[str, Any], code: int
) -> None:
    """Outside the window (over 300 s, at most 35 days), without a messaging service, with a
    bad ScheduleType or SendAt: 400 with Twilio's error body, and nothing recorded."""
    offsets = {"s": "seconds", "m": "minutes", "d": "days"}
    send_at = params.get("SendAt")
    if send_at and send_at[0] in "+-":
        params["SendAt"] = ahead(emu, **{offsets[send_at[-1]]: float(send_at[:-1])})
    response = twilio_schedule(tw, emu, **params)
    body = response.json()
    assert (response.status_code, body["code"], body["status"]) == (400, code, 400)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert emu.messages() == []


def test_twilio_cancel_while_scheduled(emu: Emulator, tw: httpx.Client, receiver: Receiver) -> None:
    """Status=canceled cancels a scheduled message: 200 ``canceled``, a ``canceled`` callback,
    and it never goes out; cancelling it again is 30409."""
    sid = twilio_schedule(
        tw, emu, SendAt=ahead(emu, hours=1), StatusCallback=receiver.url()
    ).json()["sid"]
    response = twilio_cancel(tw, emu, sid)
    assert response.status_code == 200
    assert (response.json()["sid"], response.json()["status"]) == (sid, "canceled")
    receiver.wait_for(1)
    assert statuses(receiver) == ["canceled"]
    assert emu.advance(2 * 3600) == []
    assert emu.wait_idle()
    assert statuses(receiver) == ["canceled"]
    fetched = tw.get(messages_path(emu, sid)).json()
    assert (fetched["status"], fetched["date_sent"]) == ("canceled", None)
    assert [m["status"] for m in emu.messages("twilio")] == ["canceled"]
    again = twilio_cancel(tw, emu, sid)
    assert (again.status_code, again.json()["code"]) == (400, 30409)


def test_twilio_cancel_too_late_or_not_scheduled(emu: Emulator, tw: httpx.Client) -> None:
    """A released message, an immediate one, or an unknown SID cannot be canceled."""
    sid = twilio_schedule(tw, emu, SendAt=ahead(emu, minutes=10)).json()["sid"]
    emu.advance(601)
    late = twilio_cancel(tw, emu, sid)
    assert (late.status_code, late.json()["code"]) == (400, 30409)
    assert late.json()["message"] == "This message cannot be canceled"
    now = tw.post(messages_path(emu), data={"To": TO, "From": FROM, "Body": "now"}).json()
    assert twilio_cancel(tw, emu, now["sid"]).json()["code"] == 30409
    unknown = twilio_cancel(tw, emu, "SM" + "0" * 32)
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)
    other = tw.post(messages_path(emu, sid), data={"Status": "sent"})
    assert (other.status_code, other.json()["code"]) == (400, 20001)


def test_twilio_read_back(emu: Emulator, tw: httpx.Client) -> None:
    """GET by SID shows a scheduled message as it is at the emulator's now; unknown: 404."""
    sid = twilio_schedule(tw, emu, SendAt=ahead(emu, minutes=6)).json()["sid"]
    fetched = tw.get(messages_path(emu, sid))
    assert (fetched.status_code, fetched.json()["status"]) == (200, "scheduled")
    emu.advance(400)
    assert tw.get(messages_path(emu, sid)).json()["status"] != "scheduled"
    missing = tw.get(messages_path(emu, "SM" + "f" * 32))
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)


# -- Telnyx -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/messages", "/messages/schedule"])
def test_telnyx_scheduled_message_is_held_then_sent_at_its_time(
    emu: Emulator, tx: httpx.Client, receiver: Receiver, path: str
) -> None:
    """``send_at`` on either endpoint answers ``scheduled`` with ``send_at``; at that time the
    message is sent with message.sent and message.finalized webhooks."""
    send_at = ahead(emu, minutes=10)
    response = telnyx_schedule(tx, path, send_at=send_at, webhook_url=receiver.url())
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["to"][0]["status"] == "scheduled"
    assert data["send_at"].startswith(send_at[:-1])
    assert data["sent_at"] is None
    fetched = tx.get(f"/messages/{data['id']}")
    assert (fetched.status_code, fetched.json()["data"]["to"][0]["status"]) == (200, "scheduled")
    assert emu.wait_idle()
    assert receiver.requests == []
    assert emu.advance(600) == [data["id"]]
    events = [json.loads(c.body)["data"] for c in receiver.wait_for(2)]
    assert [e["event_type"] for e in events] == ["message.sent", "message.finalized"]
    assert events[-1]["payload"]["to"][0]["status"] == "delivered"
    assert emu.wait_idle()
    final = tx.get(f"/messages/{data['id']}").json()["data"]
    assert final["to"][0]["status"] == "delivered"
    assert final["sent_at"] is not None
    assert emu.messages("telnyx")[0]["statuses"] == ["scheduled", "queued", "sent", "delivered"]


@pytest.mark.parametrize(
    ("path", "send_at", "code"),
    [
        ("/messages", {"minutes": 4}, "10015"),
        ("/messages", {"minutes": -1}, "10015"),
        ("/messages", {"days": 5, "minutes": 1}, "10015"),
        ("/messages", "soon", "10015"),
        ("/messages/schedule", None, "10004"),
    ],
)
def test_telnyx_scheduling_errors(
    emu: Emulator, tx: httpx.Client, path: str, send_at: Any, code: str
) -> None:
    """Outside 5 minutes to 5 days ahead, not a date-time, or missing on /schedule: a 400 in
    Telnyx's ``errors`` format pointing at ``/send_at``, and nothing recorded."""
    value = ahead(emu, **send_at) if isinstance(send_at, dict) else send_at
    response = telnyx_schedule(tx, path, send_at=value)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["code"], error["source"]) == (code, {"pointer": "/send_at"})
    assert emu.messages() == []


def test_telnyx_cancel_while_scheduled(emu: Emulator, tx: httpx.Client, receiver: Receiver) -> None:
    """DELETE cancels a scheduled message: the message itself (not in ``data``), status
    ``cancelled`` (two l's); it is never sent and no webhook follows."""
    data = telnyx_schedule(tx, send_at=ahead(emu, hours=1), webhook_url=receiver.url()).json()
    message_id = data["data"]["id"]
    response = tx.delete(f"/messages/{message_id}")
    assert response.status_code == 200
    cancelled = response.json()
    assert (cancelled["id"], cancelled["to"][0]["status"]) == (message_id, "cancelled")
    assert "data" not in cancelled
    assert (cancelled["completed_at"], cancelled["cost"]) == (None, None)  # never charged
    assert emu.advance(7200) == []
    assert emu.wait_idle()
    assert receiver.requests == []
    fetched = tx.get(f"/messages/{message_id}").json()["data"]
    assert (fetched["to"][0]["status"], fetched["sent_at"]) == ("cancelled", None)
    (record,) = emu.messages("telnyx")
    assert (record["status"], record["statuses"]) == ("cancelled", ["scheduled", "cancelled"])


def test_telnyx_cancel_too_late(emu: Emulator, tx: httpx.Client) -> None:
    """Within a minute of send_at, or once sent, DELETE is refused; an unknown id is 404."""
    message_id = telnyx_schedule(tx, send_at=ahead(emu, minutes=10)).json()["data"]["id"]
    emu.advance(9.5 * 60)
    close = tx.delete(f"/messages/{message_id}")
    assert (close.status_code, close.json()["errors"][0]["code"]) == (400, "10015")
    assert tx.get(f"/messages/{message_id}").json()["data"]["to"][0]["status"] == "scheduled"
    emu.advance(60)
    sent = tx.delete(f"/messages/{message_id}")
    assert (sent.status_code, sent.json()["errors"][0]["code"]) == (400, "10015")
    unknown = tx.delete("/messages/00000000-0000-4000-8000-000000000000")
    assert (unknown.status_code, unknown.json()["errors"][0]["code"]) == (404, "10005")
    assert tx.get("/messages/00000000-0000-4000-8000-000000000000").status_code == 404


# -- the clock --------------------------------------------------------------------------------


def test_advance_over_the_control_api(emu: Emulator, tw: httpx.Client) -> None:
    """POST /_emulator/advance moves the clock and releases what is due; GET /_emulator/clock
    reads it; reset puts it back to real time."""
    sid = twilio_schedule(tw, emu, SendAt=ahead(emu, minutes=10)).json()["sid"]
    with httpx.Client(base_url=emu.url + "/_emulator") as control:
        assert control.get("/clock").json()["offset"] == 0
        moved = control.post("/advance", json={"seconds": 601}).json()
        assert (moved["released"], moved["offset"]) == ([sid], 601)
        assert datetime.fromisoformat(moved["now"]) > emu.now() - timedelta(seconds=5)
        for bad in ({"seconds": -1}, {"seconds": "10"}, {}):
            response = control.post("/advance", json=bad)
            assert response.status_code == 400
            assert "seconds" in response.json()["error"]
        assert control.post("/reset").status_code == 200
        assert control.get("/clock").json()["offset"] == 0


def test_held_message_is_released_in_real_time(
    emu: Emulator, tw: httpx.Client, receiver: Receiver
) -> None:
    """A held message whose time comes without an advance() is released by the emulator's
    own thread."""
    params = {"SendAt": ahead(emu, seconds=302), "StatusCallback": receiver.url()}
    sid = twilio_schedule(tw, emu, **params).json()["sid"]
    assert emu.advance(301) == []  # now about a second (at most two) before SendAt
    receiver.wait_for(3, timeout=10)
    assert statuses(receiver) == ["queued", "sent", "delivered"]
    assert twilio_params(receiver.requests[0])["MessageSid"] == sid


def test_advance_releases_in_send_at_order(
    emu: Emulator, tw: httpx.Client, tx: httpx.Client
) -> None:
    """One advance releases every due message of every provider, earliest send_at first."""
    late = twilio_schedule(tw, emu, SendAt=ahead(emu, minutes=20)).json()["sid"]
    early = telnyx_schedule(tx, send_at=ahead(emu, minutes=10)).json()["data"]["id"]
    kept = telnyx_schedule(tx, send_at=ahead(emu, days=2)).json()["data"]["id"]
    assert emu.advance(3600) == [early, late]
    assert [m["id"] for m in emu.messages() if m["status"] == "scheduled"] == [kept]
    with pytest.raises(ValueError, match="forward"):
        emu.advance(-1)
    before = emu.now()
    emu.reset()
    assert emu.now() < before - timedelta(minutes=59)
