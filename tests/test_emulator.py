"""The provider emulator, driven over real loopback HTTP like a client and an app would."""

from __future__ import annotations

import base64
import hmac
import json
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import nacl.signing
import pytest
from conftest import require

from smsbridge.providers.telnyx._verify import signed_message as telnyx_message
from smsbridge.providers.twilio._signing import twilio_signature
from smsbridge.testing.emulator import Emulator

FIXTURES = Path(__file__).parent / "fixtures"
TO, FROM = "+13125550111", "+13125550100"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def sdk(name: str) -> ModuleType:
    """Import an official SDK (the bench extra); on CI a missing SDK is a failure, locally a
    skip."""
    return require(name, "bench")


def assert_same_shape(actual: Any, expected: Any, where: str = "$") -> None:
    """Same keys at every level, and the same JSON types wherever neither side is null."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(expected), f"{where}: {set(actual) ^ set(expected)}"
        for key, value in expected.items():
            assert_same_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        if expected and actual:
            assert_same_shape(actual[0], expected[0], f"{where}[0]")
    elif expected is not None and actual is not None:
        assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"


# -- an app under test that records the webhooks it receives ----------------------------------


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A tiny webhook receiver on 127.0.0.1 that records requests and answers ``status``."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self.status = 200
        self.reply = b"<Response/>"
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    receiver.requests.append(
                        Captured("POST", self.path, dict(self.headers.items()), body)
                    )
                    receiver.cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(receiver.reply)))
                self.end_headers()
                self.wfile.write(receiver.reply)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def server_bind(self) -> None:  # skip HTTPServer's slow getfqdn()
                socketserver.TCPServer.server_bind(self)

        self.server = Server(("127.0.0.1", 0), Handler)
        serve = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        serve.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Captured]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def twilio_params(captured: Captured) -> dict[str, str]:
    return dict(parse_qsl(captured.body.decode(), keep_blank_values=True))


def assert_twilio_signed(captured: Captured, url: str, token: str) -> None:
    pairs = parse_qsl(captured.body.decode(), keep_blank_values=True)
    expected = twilio_signature(token, url, pairs)
    assert hmac.compare_digest(captured.headers["X-Twilio-Signature"], expected)


def assert_telnyx_signed(captured: Captured, public_key_b64: str) -> None:
    stamp = captured.headers["telnyx-timestamp"]
    signature = base64.b64decode(captured.headers["telnyx-signature-ed25519"])
    key = nacl.signing.VerifyKey(base64.b64decode(public_key_b64))
    key.verify(telnyx_message(stamp, captured.body), signature)
    assert abs(int(stamp) - time.time()) < 60


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    with Emulator(progress_delay=0.02, twilio_api_keys={"SK" + "a" * 32: "key-secret"}) as e:
        yield e


@pytest.fixture
def emu(shared_emulator: Emulator) -> Emulator:
    """One emulator per module, reset between tests (which also exercises reset())."""
    assert shared_emulator.wait_idle(10)
    shared_emulator.reset()
    return shared_emulator


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def tw(emu: Emulator) -> Iterator[httpx.Client]:
    auth = (emu.twilio_account_sid, emu.twilio_auth_token)
    with httpx.Client(base_url=emu.twilio_url, auth=auth) as client:
        yield client


@pytest.fixture
def tx(emu: Emulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {emu.telnyx_api_key}"}
    with httpx.Client(base_url=emu.telnyx_url + "/v2", headers=headers) as client:
        yield client


def messages_path(emu: Emulator) -> str:
    return f"/2010-04-01/Accounts/{emu.twilio_account_sid}/Messages.json"


def twilio_send(client: httpx.Client, emu: Emulator, **params: Any) -> httpx.Response:
    data = {"To": TO, "From": FROM, "Body": "Hello", **params}
    return client.post(messages_path(emu), data={k: v for k, v in data.items() if v is not None})


def telnyx_send(client: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"to": TO, "from": FROM, "text": "Hello", **fields}
    return client.post("/messages", json={k: v for k, v in body.items() if v is not None})


# -- Twilio API -------------------------------------------------------------------------------


def test_twilio_send_matches_fixture_shape(
    emu: Emulator, tw: httpx.Client, receiver: Receiver
) -> None:
    """A send with the fixture's params answers 201 with the fixture's keys and types."""
    spec = fixture("twilio_send.json")
    # The fixture's callback host is real; keep the test off the network.
    pairs = [
        (k, receiver.url() if k == "StatusCallback" else v) for k, v in spec["request"]["params"]
    ]
    form = {"Content-Type": spec["request"]["content_type"]}
    response = tw.post(messages_path(emu), content=urlencode(pairs), headers=form)
    assert response.status_code == 201
    message = response.json()
    assert_same_shape(message, spec["response_201"])
    assert message["sid"].startswith("MM")
    assert len(message["sid"]) == 34
    assert (message["status"], message["num_media"], message["num_segments"]) == (
        "queued",
        "2",
        "1",
    )
    assert message["date_created"].endswith(" +0000")
    assert [m["id"] for m in emu.messages("twilio")] == [message["sid"]]


def test_twilio_messaging_service_send_is_accepted(emu: Emulator, tw: httpx.Client) -> None:
    """Without From, a Messaging Service send is ``accepted`` with no sender and 0 segments."""
    service = "MG" + "f" * 32
    message = twilio_send(tw, emu, From=None, MessagingServiceSid=service).json()
    assert (message["status"], message["from"], message["num_segments"]) == ("accepted", None, "0")
    assert message["messaging_service_sid"] == service
    assert emu.wait_idle()
    fetched = tw.get(message["uri"]).json()
    assert fetched["status"] == "delivered"
    assert fetched["from"]
    assert emu.messages()[0]["statuses"] == ["accepted", "queued", "sent", "delivered"]


def test_twilio_fetch_shows_progress(emu: Emulator, tw: httpx.Client) -> None:
    """Fetching a message after its progression shows delivered, a send date and a price."""
    sid = twilio_send(tw, emu).json()["sid"]
    assert emu.wait_idle()
    fetched = tw.get(f"/2010-04-01/Accounts/{emu.twilio_account_sid}/Messages/{sid}.json")
    body = fetched.json()
    assert (fetched.status_code, body["status"]) == (200, "delivered")
    assert body["date_sent"]
    assert isinstance(body["price"], str)


def test_twilio_list_filters_and_pages(emu: Emulator, tw: httpx.Client) -> None:
    """The list filters on To, From and DateSent>= and pages with next_page_uri."""
    first = twilio_send(tw, emu).json()["sid"]
    second = twilio_send(tw, emu, To="+13125550122").json()["sid"]
    path = messages_path(emu)
    listed = tw.get(path, params={"To": TO}).json()
    assert [m["sid"] for m in listed["messages"]] == [first]
    assert tw.get(path, params={"From": "+19999999999"}).json()["messages"] == []
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(tw.get(path, params={"DateSent>": today}).json()["messages"]) == 2
    assert tw.get(path, params={"DateSent<": "2000-01-01"}).json()["messages"] == []
    page = tw.get(path, params={"PageSize": 1}).json()
    assert [m["sid"] for m in page["messages"]] == [second]
    assert page["next_page_uri"]
    assert page["page_size"] == 1
    assert [m["sid"] for m in tw.get(page["next_page_uri"]).json()["messages"]] == [first]
    assert tw.get(path, params={"DateSent>": "yesterday"}).json()["code"] == 20001


def test_twilio_auth_failures(emu: Emulator) -> None:
    """Missing or wrong credentials, or another account's path, get 401 with code 20003."""
    path = messages_path(emu)
    data = {"To": TO, "From": FROM, "Body": "x"}
    sid, token = emu.twilio_account_sid, emu.twilio_auth_token
    other = "/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json"
    attempts = [
        (None, path),
        ((sid, "wrong"), path),
        (("SKnope", token), path),
        ((sid, token), other),
    ]
    for auth, target in attempts:
        response = httpx.post(emu.twilio_url + target, data=data, auth=auth)
        assert response.status_code == 401
        assert set(response.json()) == {"code", "message", "more_info", "status"}
        assert (response.json()["code"], response.json()["status"]) == (20003, 401)
    assert not emu.messages()


def test_twilio_api_key_auth(emu: Emulator) -> None:
    """An API key SID and secret authenticate for the account in the path."""
    auth = ("SK" + "a" * 32, "key-secret")
    data = {"To": TO, "From": FROM, "Body": "x"}
    assert httpx.post(emu.twilio_url + messages_path(emu), data=data, auth=auth).status_code == 201


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"To": None}, 21604),
        ({"To": "+1312555"}, 21211),
        ({"To": "13125550111"}, 21211),
        ({"From": None}, 21603),
        ({"From": "not a number!"}, 21212),
        ({"Body": None}, 21602),
        ({"Body": "x" * 1601}, 21617),
        ({"StatusCallback": "ftp://x"}, 21609),
    ],
)
def test_twilio_validation_errors(
    emu: Emulator, tw: httpx.Client, params: dict[str, Any], code: int
) -> None:
    """Each invalid send gets a 400 with Twilio's code and error body, and is not recorded."""
    response = twilio_send(tw, emu, **params)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert response.json()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert not emu.messages()


def test_twilio_opted_out_and_wrong_content_type(emu: Emulator, tw: httpx.Client) -> None:
    """An opted-out recipient gets 21610; a JSON body is not read, so To is missing (21604)."""
    emu.opt_out("twilio", TO)
    assert twilio_send(tw, emu).json()["code"] == 21610
    emu.opt_in("twilio", TO)
    assert twilio_send(tw, emu).status_code == 201
    response = tw.post(messages_path(emu), json={"To": TO, "From": FROM, "Body": "x"})
    assert (response.status_code, response.json()["code"]) == (400, 21604)


def test_twilio_not_found_and_method(emu: Emulator, tw: httpx.Client) -> None:
    """Unknown messages and paths are 404/20404; a wrong method is 405/20004."""
    base = f"/2010-04-01/Accounts/{emu.twilio_account_sid}"
    assert tw.get(f"{base}/Messages/SM{'0' * 32}.json").json()["code"] == 20404
    assert tw.get(f"{base}/Calls.json").json()["code"] == 20404
    assert tw.get("/nothing/here").status_code == 404
    response = tw.delete(f"{base}/Messages.json")
    assert (response.status_code, response.json()["code"]) == (405, 20004)


def test_twilio_chunked_body_and_underscore_callback(emu: Emulator, tw: httpx.Client) -> None:
    """A chunked form body is read like any other; a callback host with "_" is 21609."""
    form = urlencode({"To": TO, "From": FROM, "Body": "chunked"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = tw.post(messages_path(emu), content=iter([form[:10], form[10:]]), headers=headers)
    assert response.status_code == 201
    assert response.json()["body"] == "chunked"
    bad = twilio_send(tw, emu, StatusCallback="https://my_app.example/status")
    assert (bad.status_code, bad.json()["code"]) == (400, 21609)


def test_twilio_status_callbacks_are_signed(
    emu: Emulator, tw: httpx.Client, receiver: Receiver
) -> None:
    """Each status change is POSTed to StatusCallback, signed, with the fixture's parameters."""
    url = receiver.url("/status?tenant=acme")
    sid = twilio_send(tw, emu, StatusCallback=url).json()["sid"]
    sent, delivered = receiver.wait_for(2)
    assert emu.wait_idle()
    expected = {k for k, _ in fixture("twilio_status.json")["cases"][1]["params"]}
    assert set(twilio_params(delivered)) == expected - {"MessagingServiceSid"}
    assert twilio_params(sent)["MessageStatus"] == "sent"
    assert twilio_params(delivered)["MessageStatus"] == "delivered"
    assert twilio_params(delivered)["MessageSid"] == sid
    for captured in (sent, delivered):
        assert captured.path == "/status?tenant=acme"
        assert captured.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert_twilio_signed(captured, url, emu.twilio_auth_token)
    tokens = {c.headers["I-Twilio-Idempotency-Token"] for c in (sent, delivered)}
    assert len(tokens) == 2
    log = emu.callbacks()
    assert [(e["event"], e["status_code"], e["url"]) for e in log] == [
        ("sent", 200, url),
        ("delivered", 200, url),
    ]


def test_twilio_fail_delivery(emu: Emulator, tw: httpx.Client, receiver: Receiver) -> None:
    """fail_delivery ends in undelivered with the error code, in the callback and the resource."""
    emu.fault("twilio", "fail_delivery", code=30007, times=1)
    message = twilio_send(tw, emu, StatusCallback=receiver.url()).json()
    _, last = receiver.wait_for(2)
    assert emu.wait_idle()
    assert twilio_params(last)["MessageStatus"] == "undelivered"
    assert twilio_params(last)["ErrorCode"] == "30007"
    fetched = tw.get(message["uri"]).json()
    assert (fetched["status"], fetched["error_code"]) == ("undelivered", 30007)
    emu.fault("twilio", "fail_delivery", status="failed", code="30034", times=1)
    twilio_send(tw, emu, StatusCallback=receiver.url())
    failed = receiver.wait_for(3)[2]
    assert twilio_params(failed)["MessageStatus"] == "failed"
    assert twilio_params(failed)["ErrorCode"] == "30034"


def test_twilio_shared_key_callbacks(receiver: Receiver) -> None:
    """With a SharedKey configured, callbacks are signed HMAC-SHA256 with its secret."""
    with Emulator(progress_delay=0.01, twilio_shared_key=("KHabc", "s3cret", "HMAC_SHA256")) as e:
        auth = (e.twilio_account_sid, e.twilio_auth_token)
        data = {"To": TO, "From": FROM, "Body": "x", "StatusCallback": receiver.url()}
        httpx.post(e.twilio_url + messages_path(e), data=data, auth=auth)
        captured = receiver.wait_for(1)[0]
    settings = captured.headers["X-Twilio-Webhooks-Signature-Settings"]
    assert settings == "key=KHabc,algorithm=HMAC_SHA256"
    pairs = parse_qsl(captured.body.decode())
    expected = twilio_signature("s3cret", receiver.url(), pairs, "HMAC_SHA256")
    assert captured.headers["X-Twilio-Signature"] == expected


# -- Telnyx API -------------------------------------------------------------------------------


def test_telnyx_send_matches_fixture_shape(
    emu: Emulator, tx: httpx.Client, receiver: Receiver
) -> None:
    """A send with the fixture's body answers 200 with the fixture's keys and types."""
    spec = fixture("telnyx_send.json")
    # The fixture's webhook hosts are real; keep the test off the network.
    request = {**spec["request"]["json"], "webhook_url": receiver.url()}
    request["webhook_failover_url"] = receiver.url("/failover")
    response = tx.post("/messages", json=request)
    assert response.status_code == 200
    assert_same_shape(response.json(), spec["response_200"])
    data = response.json()["data"]
    assert data["to"][0]["status"] == "queued"
    assert data["webhook_url"] == receiver.url()
    assert (data["encoding"], data["parts"], data["type"]) == ("GSM-7", 1, "SMS")
    mms = tx.post("/messages", json=spec["request_mms"]["json"]).json()["data"]
    assert mms["type"] == "MMS"
    assert mms["media"][0]["url"] == "https://example.com/a.jpg"


def test_telnyx_retrieve(emu: Emulator, tx: httpx.Client) -> None:
    """GET /v2/messages/{id} shows the current status; an unknown id is 404/10005."""
    message_id = telnyx_send(tx).json()["data"]["id"]
    assert emu.wait_idle()
    data = tx.get(f"/messages/{message_id}").json()["data"]
    assert data["to"][0]["status"] == "delivered"
    assert data["cost"]["currency"] == "USD"
    missing = tx.get("/messages/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (404, "10005")
    assert tx.get("/calls").json()["errors"][0]["code"] == "10005"


def test_telnyx_number_pool(emu: Emulator, tx: httpx.Client) -> None:
    """Without from, a messaging profile (or /number_pool) picks a sender from the pool."""
    profile = "740572b6-099c-44a1-89b9-6c92163bc68d"
    pooled = telnyx_send(tx, **{"from": None, "messaging_profile_id": profile}).json()["data"]
    assert pooled["from"]["phone_number"]
    assert pooled["messaging_profile_id"] == profile
    body = {"to": TO, "text": "Hi", "messaging_profile_id": profile}
    assert tx.post("/messages/number_pool", json=body).status_code == 200
    missing = tx.post("/messages/number_pool", json={"to": TO, "text": "Hi"})
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (400, "10004")
    assert len(emu.messages("telnyx")) == 2


def test_telnyx_auth_failures(emu: Emulator) -> None:
    """A missing or wrong bearer key gets 401 with code 10009."""
    url = emu.telnyx_url + "/v2/messages"
    body = {"to": TO, "from": FROM, "text": "x"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "10009"
    assert not emu.messages()


@pytest.mark.parametrize(
    ("content", "code", "status"),
    [
        (b"not json", "10015", 400),
        (b"[1, 2]", "10015", 400),
        (json.dumps({"to": 13125550111, "text": "x", "from": FROM}).encode(), "10015", 400),
        (json.dumps({"to": TO, "from": FROM}).encode(), "10015", 400),
        (
            json.dumps({"to": TO, "from": FROM, "text": "x", "media_urls": "a"}).encode(),
            "10015",
            400,
        ),
        (json.dumps({"from": FROM, "text": "x"}).encode(), "10004", 400),
        (json.dumps({"to": TO, "text": "x"}).encode(), "10004", 400),
        (json.dumps({"to": "+1312555", "from": FROM, "text": "x"}).encode(), "40310", 400),
        (json.dumps({"to": TO, "from": "??", "text": "x"}).encode(), "40305", 400),
        (
            json.dumps({"to": TO, "from": FROM, "text": "x", "webhook_url": "x"}).encode(),
            "10003",
            400,
        ),
    ],
)
def test_telnyx_validation_errors(
    emu: Emulator, tx: httpx.Client, content: bytes, code: str, status: int
) -> None:
    """Malformed or invalid sends get a typed 4xx in Telnyx's error format, never a 500."""
    response = tx.post("/messages", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["code"] == code
    assert isinstance(error["title"], str)
    assert not emu.messages()


def test_telnyx_opted_out(emu: Emulator, tx: httpx.Client) -> None:
    """An opted-out recipient gets 40300."""
    emu.opt_out("telnyx", TO)
    response = telnyx_send(tx)
    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "40300")


def test_telnyx_idempotency_key(emu: Emulator, tx: httpx.Client) -> None:
    """Same key and bytes replay the first answer; other bytes get 422; keys are validated."""
    body = json.dumps({"to": TO, "from": FROM, "text": "otp 1234"}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": "otp-9f1c"}
    first = tx.post("/messages", content=body, headers=headers)
    again = tx.post("/messages", content=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(emu.messages("telnyx")) == 1
    assert emu.messages()[0]["idempotency_key"] == "otp-9f1c"
    other = tx.post("/messages", content=body.replace(b"1234", b"9999"), headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"]
    fresh = tx.post("/messages", content=body, headers={**headers, "Idempotency-Key": "otp-2"})
    assert fresh.json()["data"]["id"] != first.json()["data"]["id"]
    bad = tx.post("/messages", content=body, headers={**headers, "Idempotency-Key": "a b"})
    assert bad.status_code == 400
    assert len(emu.messages("telnyx")) == 2


def test_telnyx_idempotency_key_under_concurrency(emu: Emulator) -> None:
    """Concurrent retries with one key create exactly one message."""
    body = json.dumps({"to": TO, "from": FROM, "text": "once"}).encode()
    headers = {
        "Authorization": f"Bearer {emu.telnyx_api_key}",
        "Content-Type": "application/json",
        "Idempotency-Key": "same-key",
    }
    ids: list[str] = []

    def send() -> None:
        response = httpx.post(emu.telnyx_url + "/v2/messages", content=body, headers=headers)
        ids.append(response.json()["data"]["id"])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1
    assert len(ids) == 8
    assert len(emu.messages("telnyx")) == 1


def test_telnyx_webhooks_are_signed_envelopes(
    emu: Emulator, tx: httpx.Client, receiver: Receiver
) -> None:
    """message.sent then message.finalized arrive signed, shaped like the fixtures."""
    message_id = telnyx_send(tx, webhook_url=receiver.url()).json()["data"]["id"]
    sent, finalized = receiver.wait_for(2)
    events = [json.loads(c.body) for c in (sent, finalized)]
    assert_same_shape(events[0], fixture("telnyx_message_sent.json")["event"])
    assert_same_shape(events[1], fixture("telnyx_message_finalized.json")["delivered"])
    assert [e["data"]["event_type"] for e in events] == ["message.sent", "message.finalized"]
    assert [e["data"]["payload"]["to"][0]["status"] for e in events] == ["sent", "delivered"]
    assert {e["data"]["payload"]["id"] for e in events} == {message_id}
    assert events[1]["meta"] == {"attempt": 1, "delivered_to": receiver.url()}
    for captured in (sent, finalized):
        assert_telnyx_signed(captured, emu.telnyx_public_key)


def test_telnyx_profile_webhook_and_failure(
    emu: Emulator, tx: httpx.Client, receiver: Receiver
) -> None:
    """Without webhook_url the number's webhook gets events; fail_delivery reports its error."""
    emu.set_webhook("telnyx", FROM, receiver.url("/profile"))
    emu.fault("telnyx", "fail_delivery", times=1)
    telnyx_send(tx)
    _, finalized = receiver.wait_for(2)
    event = json.loads(finalized.body)
    assert finalized.path == "/profile"
    assert_same_shape(event, fixture("telnyx_message_finalized.json")["delivery_failed"])
    payload = event["data"]["payload"]
    assert payload["to"][0]["status"] == "delivery_failed"
    assert payload["errors"][0]["code"] == "40008"
    emu.fault("telnyx", "fail_delivery", status="sending_failed", code=40014, times=1)
    telnyx_send(tx)
    only = json.loads(receiver.wait_for(3)[2].body)["data"]
    assert (only["event_type"], only["payload"]["to"][0]["status"]) == (
        "message.finalized",
        "sending_failed",
    )


def test_telnyx_webhook_retries_then_failover(
    emu: Emulator, tx: httpx.Client, receiver: Receiver
) -> None:
    """A failing webhook URL is tried three times with rising attempt numbers, then failover."""
    receiver.status = 500
    telnyx_send(
        tx,
        webhook_url=receiver.url("/primary"),
        webhook_failover_url=receiver.url("/failover"),
    )
    assert emu.wait_idle(10)
    sent_attempts = [
        (c.path, json.loads(c.body)["meta"]["attempt"])
        for c in receiver.requests
        if json.loads(c.body)["data"]["event_type"] == "message.sent"
    ]
    assert sent_attempts == [
        ("/primary", 1),
        ("/primary", 2),
        ("/primary", 3),
        ("/failover", 1),
        ("/failover", 2),
        ("/failover", 3),
    ]
    assert all(e["status_code"] == 500 for e in emu.callbacks())


def test_unreachable_webhook_is_logged_not_raised(emu: Emulator, tw: httpx.Client) -> None:
    """A callback URL nobody listens on is recorded as an error; the emulator keeps serving."""
    twilio_send(tw, emu, StatusCallback="http://127.0.0.1:9/nowhere")
    assert emu.wait_idle()
    log = emu.callbacks()
    assert len(log) == 2
    assert all(e["status_code"] is None and e["error"] for e in log)
    assert twilio_send(tw, emu).status_code == 201


def test_fifty_concurrent_keep_alive_clients(emu: Emulator) -> None:
    """Fifty threads sharing one pooled client all get their messages accepted."""
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    auth = (emu.twilio_account_sid, emu.twilio_auth_token)
    statuses: list[int] = []
    with httpx.Client(base_url=emu.twilio_url, auth=auth, limits=limits) as client:

        def work() -> None:
            statuses.extend(twilio_send(client, emu).status_code for _ in range(4))

        threads = [threading.Thread(target=work) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [201] * 200
    assert len({m["id"] for m in emu.messages("twilio")}) == 200


# -- fault injection --------------------------------------------------------------------------


def test_refuse_on_own_port_is_connect_error(emu: Emulator, tw: httpx.Client) -> None:
    """refuse closes the provider's listener: pooled and new connections get ConnectError."""
    assert twilio_send(tw, emu).status_code == 201  # leaves a pooled keep-alive connection
    emu.fault("twilio", "refuse")
    with pytest.raises(httpx.ConnectError):
        twilio_send(tw, emu)
    with pytest.raises(httpx.ConnectError):
        httpx.post(emu.twilio_url + messages_path(emu))
    assert httpx.get(emu.telnyx_url + "/v2/messages/x").status_code == 401  # Telnyx unaffected
    emu.clear_faults("twilio")
    assert twilio_send(tw, emu).status_code == 201
    assert len(emu.messages()) == 2


def test_refuse_on_shared_port_and_duration(emu: Emulator) -> None:
    """Through the shared URL a refused provider drops the connection; duration= ends it."""
    emu.fault("telnyx", "refuse", duration=0.3)
    headers = {"Authorization": f"Bearer {emu.telnyx_api_key}"}
    body = {"to": TO, "from": FROM, "text": "x"}
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(emu.url + "/v2/messages", json=body, headers=headers)
    with pytest.raises(httpx.ConnectError):
        httpx.post(emu.telnyx_url + "/v2/messages", json=body, headers=headers)
    time.sleep(0.45)
    assert httpx.post(emu.telnyx_url + "/v2/messages", json=body, headers=headers).is_success
    with pytest.raises(ValueError, match="refuse"):
        emu.fault("telnyx", "refuse", times=1)


def test_http_error_fault(emu: Emulator, tw: httpx.Client, tx: httpx.Client) -> None:
    """http_error answers a realistic 5xx (JSON or gateway HTML) and records nothing."""
    emu.fault("twilio", "http_error", status=503, times=1)
    emu.fault("twilio", "http_error", status=502, times=1)
    emu.fault("telnyx", "http_error", status=500, times=1)
    first, second = twilio_send(tw, emu), twilio_send(tw, emu)
    assert (first.status_code, first.json()["code"]) == (503, 20503)
    assert second.status_code == 502
    assert second.headers["content-type"] == "text/html"
    failed = telnyx_send(tx)
    assert (failed.status_code, failed.json()["errors"][0]["code"]) == (500, "10007")
    assert not emu.messages()
    assert not emu.faults()
    assert twilio_send(tw, emu).status_code == 201


def test_http_error_after_accept_is_ambiguous(emu: Emulator, tw: httpx.Client) -> None:
    """http_error with accept=True answers 500 although the message was accepted."""
    emu.fault("twilio", "http_error", status=500, accept=True, times=1)
    assert twilio_send(tw, emu).status_code == 500
    assert len(emu.messages("twilio")) == 1


def test_rate_limit_fault(emu: Emulator, tw: httpx.Client, tx: httpx.Client) -> None:
    """rate_limit answers 429 with Retry-After (Twilio 20429) or x-ratelimit-* (Telnyx 10011)."""
    emu.fault("twilio", "rate_limit", retry_after=3, times=1)
    emu.fault("telnyx", "rate_limit", retry_after=2.5, times=1)
    twilio = twilio_send(tw, emu)
    assert (twilio.status_code, twilio.json()["code"], twilio.headers["Retry-After"]) == (
        429,
        20429,
        "3",
    )
    telnyx = telnyx_send(tx)
    assert (telnyx.status_code, telnyx.json()["errors"][0]["code"]) == (429, "10011")
    assert telnyx.headers["x-ratelimit-reset"] == "3"
    assert telnyx.headers["x-ratelimit-remaining"] == "0"
    assert not emu.messages()


def test_latency_fault_and_match_all(emu: Emulator, tw: httpx.Client) -> None:
    """latency delays sends only, unless match='all' makes reads slow too."""
    emu.fault("twilio", "latency", seconds=0.3, times=1)
    started = time.monotonic()
    assert tw.get(messages_path(emu)).status_code == 200
    assert time.monotonic() - started < 0.25
    assert twilio_send(tw, emu).status_code == 201
    assert time.monotonic() - started >= 0.3
    emu.fault("twilio", "http_error", status=503, match="all", times=1)
    assert tw.get(messages_path(emu)).status_code == 503


def test_accept_then_hang(emu: Emulator, tw: httpx.Client) -> None:
    """The message is recorded but no answer comes: the client times out reading."""
    emu.fault("twilio", "accept_then_hang", times=1)
    auth = (emu.twilio_account_sid, emu.twilio_auth_token)
    with (
        httpx.Client(base_url=emu.twilio_url, auth=auth, timeout=0.5) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        twilio_send(impatient, emu)
    assert len(emu.messages("twilio")) == 1
    assert twilio_send(tw, emu).status_code == 201  # the fault was used up


def test_accept_then_hang_then_idempotent_retry(emu: Emulator) -> None:
    """A Telnyx retry with the same Idempotency-Key after a hang replays the lost answer."""
    emu.fault("telnyx", "accept_then_hang", times=1)
    body = json.dumps({"to": TO, "from": FROM, "text": "x"}).encode()
    headers = {
        "Authorization": f"Bearer {emu.telnyx_api_key}",
        "Content-Type": "application/json",
        "Idempotency-Key": "retry-1",
    }
    url = emu.telnyx_url + "/v2/messages"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, content=body, headers=headers, timeout=0.5)
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.json()["data"]["id"] == emu.messages()[0]["id"]
    assert len(emu.messages()) == 1


def test_error_code_fault(emu: Emulator, tw: httpx.Client, tx: httpx.Client) -> None:
    """error_code answers a permanent provider error with its usual HTTP status."""
    emu.fault("twilio", "error_code", code=21610, times=1)
    emu.fault("telnyx", "error_code", code=40300, times=1)
    emu.fault("telnyx", "error_code", code="40001", status=403, message="nope", times=1)
    twilio = twilio_send(tw, emu)
    assert (twilio.status_code, twilio.json()["code"]) == (400, 21610)
    telnyx = telnyx_send(tx)
    assert (telnyx.status_code, telnyx.json()["errors"][0]["code"]) == (400, "40300")
    custom = telnyx_send(tx)
    assert custom.status_code == 403
    assert custom.json()["errors"][0]["detail"] == "nope"
    assert not emu.messages()


def test_fault_bookkeeping(emu: Emulator, tw: httpx.Client) -> None:
    """times=N applies N times; faults() lists them; clear_faults clears; bad input fails."""
    emu.fault("twilio", "http_error", status=503, times=2)
    emu.fault("telnyx", "latency", seconds=1)
    listed = emu.faults()
    assert [(f["provider"], f["kind"], f["times"]) for f in listed] == [
        ("twilio", "http_error", 2),
        ("telnyx", "latency", None),
    ]
    assert [twilio_send(tw, emu).status_code for _ in range(3)] == [503, 503, 201]
    assert emu.clear_faults("telnyx") == 1
    assert emu.faults() == []
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.fault("twilio", "explode")
    with pytest.raises(ValueError, match="takes no parameter"):
        emu.fault("twilio", "latency", seconds=1, sedonds=2)
    with pytest.raises(ValueError, match="unknown provider"):
        emu.fault("sinch", "refuse")
    with pytest.raises(ValueError, match="status"):
        emu.fault("telnyx", "fail_delivery", status="undelivered")


# -- inbound messages -------------------------------------------------------------------------


def test_twilio_inbound(emu: Emulator, receiver: Receiver) -> None:
    """inbound() POSTs a signed Twilio webhook with the fixture's params and returns the answer."""
    emu.set_webhook("twilio", FROM, receiver.url("/sms"))
    result = emu.inbound("twilio", TO, FROM, "Yes, 3pm works – thanks!")
    captured = receiver.wait_for(1)[0]
    expected = {k for k, _ in fixture("twilio_inbound.json")["cases"][0]["params"]}
    params = twilio_params(captured)
    assert set(params) == expected - {"MessagingServiceSid"}
    assert (params["From"], params["To"], params["Body"]) == (TO, FROM, "Yes, 3pm works – thanks!")
    assert_twilio_signed(captured, receiver.url("/sms"), emu.twilio_auth_token)
    assert result["status_code"] == 200
    assert result["body"] == "<Response/>"
    assert result["message_id"] == params["MessageSid"]


def test_twilio_inbound_mms_and_wildcard(emu: Emulator, receiver: Receiver) -> None:
    """Media become MediaUrlN/MediaContentTypeN; the "*" webhook catches any number."""
    emu.set_webhook("twilio", "*", receiver.url())
    emu.inbound("twilio", TO, "+13125550199", "pic", ["https://e.test/a.jpg"])
    params = twilio_params(receiver.wait_for(1)[0])
    assert params["NumMedia"] == "1"
    assert params["MessageSid"].startswith("MM")
    assert (params["MediaUrl0"], params["MediaContentType0"]) == (
        "https://e.test/a.jpg",
        "image/jpeg",
    )


def test_telnyx_inbound(emu: Emulator, receiver: Receiver) -> None:
    """inbound() POSTs a signed message.received envelope shaped like the fixture."""
    emu.set_webhook("telnyx", FROM, receiver.url())
    result = emu.inbound("telnyx", TO, FROM, "Here is the photo", ["https://e.test/p.jpeg"])
    captured = receiver.wait_for(1)[0]
    event = json.loads(captured.body)
    assert_same_shape(event, fixture("telnyx_message_received.json")["mms"])
    payload = event["data"]["payload"]
    assert (payload["from"]["phone_number"], payload["to"][0]["phone_number"]) == (TO, FROM)
    assert payload["media"][0]["url"] == "https://e.test/p.jpeg"
    assert_telnyx_signed(captured, emu.telnyx_public_key)
    assert result["status_code"] == 200
    assert result["message_id"] == payload["id"]


def test_inbound_stop_opts_out(emu: Emulator, tw: httpx.Client, receiver: Receiver) -> None:
    """A handset texting STOP is opted out (21610 next time) until it texts START."""
    emu.set_webhook("twilio", "*", receiver.url())
    emu.inbound("twilio", TO, FROM, " stop ")
    assert twilio_send(tw, emu).json()["code"] == 21610
    emu.inbound("twilio", TO, FROM, "START")
    assert twilio_send(tw, emu).status_code == 201


def test_inbound_without_webhook(emu: Emulator) -> None:
    """Without a configured webhook inbound() raises LookupError (404 over HTTP)."""
    with pytest.raises(LookupError):
        emu.inbound("telnyx", TO, FROM, "hi")
    body = {"provider": "telnyx", "from": TO, "to": FROM, "text": "hi"}
    assert httpx.post(emu.url + "/_emulator/inbound", json=body).status_code == 404


# -- control API over HTTP --------------------------------------------------------------------


def test_control_api(
    emu: Emulator, tw: httpx.Client, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    """The /_emulator endpoints mirror the Python methods."""
    control = httpx.Client(base_url=emu.url + "/_emulator")
    request.addfinalizer(control.close)
    info = control.get("/info").json()
    assert info["twilio"]["account_sid"] == emu.twilio_account_sid
    assert info["telnyx"]["public_key"] == emu.telnyx_public_key
    assert info["telnyx"]["api_base_url"] == emu.telnyx_url + "/v2"
    created = control.post("/faults", json={"provider": "twilio", "kind": "http_error", "times": 1})
    assert created.status_code == 201
    assert created.json()["fault"]["status"] == 503
    assert len(control.get("/faults").json()["faults"]) == 1
    assert control.delete("/faults", params={"provider": "twilio"}).json() == {"cleared": 1}
    twilio_send(tw, emu)
    assert len(control.get("/messages", params={"provider": "twilio"}).json()["messages"]) == 1
    assert control.get("/messages", params={"provider": "telnyx"}).json()["messages"] == []
    hook = {"provider": "telnyx", "number": "*", "url": receiver.url()}
    assert control.post("/webhooks", json=hook).status_code == 200
    sent = {"provider": "telnyx", "from": TO, "to": FROM, "text": "hi"}
    assert control.post("/inbound", json=sent).json()["delivery"]["status_code"] == 200
    assert control.post("/opt_out", json={"provider": "twilio", "number": TO}).status_code == 200
    assert twilio_send(tw, emu).json()["code"] == 21610
    assert control.post("/wait_idle", json={"timeout": 5}).json() == {"idle": True}
    assert control.post("/reset").status_code == 200
    assert emu.messages() == []
    assert emu.callbacks() == []
    assert twilio_send(tw, emu).status_code == 201  # the opt-out was forgotten too


def test_control_api_bad_input(emu: Emulator, request: pytest.FixtureRequest) -> None:
    """Bad control requests get 400/404/405 JSON errors, never a 500."""
    control = httpx.Client(base_url=emu.url + "/_emulator")
    request.addfinalizer(control.close)
    cases = [
        (control.post("/faults", content=b"{nope"), 400),
        (control.post("/faults", json={"provider": "twilio", "kind": "boom"}), 400),
        (control.post("/faults", json={"provider": "twilio"}), 400),
        (control.post("/faults", json=[1]), 400),
        (control.post("/inbound", json={"provider": "twilio"}), 400),
        (control.get("/messages", params={"provider": "sinch"}), 400),
        (control.get("/nothing"), 404),
        (control.put("/faults"), 405),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert "error" in response.json()
    assert httpx.get(emu.url + "/elsewhere").status_code == 404


# -- lifecycle and official SDKs --------------------------------------------------------------


def test_stop_ends_hanging_requests_and_hides_secrets() -> None:
    """stop() ends a hanging request promptly; the repr never shows the credentials."""
    emu = Emulator(progress_delay=0.01).start()
    assert emu.twilio_auth_token not in repr(emu)
    assert emu.telnyx_api_key not in repr(emu)
    emu.fault("twilio", "accept_then_hang")
    errors: list[BaseException] = []
    auth = (emu.twilio_account_sid, emu.twilio_auth_token)

    def call() -> None:
        with httpx.Client(base_url=emu.twilio_url, auth=auth) as client:
            try:
                twilio_send(client, emu)
            except httpx.HTTPError as exc:
                errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    assert caller.is_alive()  # hanging, with the message accepted
    assert len(emu.messages()) == 1
    started = time.monotonic()
    emu.stop()
    caller.join(5)
    assert time.monotonic() - started < 3
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.RemoteProtocolError)
    emu.stop()  # idempotent
    with pytest.raises(RuntimeError):
        emu.start()


def test_twilio_official_sdk(emu: Emulator) -> None:
    """twilio-python sends, fetches and lists through the emulator and raises its own errors."""
    rest = sdk("twilio.rest")
    exceptions = sdk("twilio.base.exceptions")
    client = rest.Client(emu.twilio_account_sid, emu.twilio_auth_token)
    client.api.base_url = emu.twilio_url
    message = client.messages.create(
        to=TO, from_=FROM, body="hi", media_url=["https://e.test/a.jpg"]
    )
    assert message.sid.startswith("MM")
    assert message.status == "queued"
    assert message.num_media == "1"
    assert emu.wait_idle()
    assert client.messages(message.sid).fetch().status == "delivered"
    assert [m.sid for m in client.messages.list(to=TO, limit=5)] == [message.sid]
    with pytest.raises(exceptions.TwilioRestException) as invalid:
        client.messages.create(to="+1312555", from_=FROM, body="hi")
    assert (invalid.value.code, invalid.value.status) == (21211, 400)
    bad = rest.Client(emu.twilio_account_sid, "wrong")
    bad.api.base_url = emu.twilio_url
    with pytest.raises(exceptions.TwilioRestException) as denied:
        bad.messages.create(to=TO, from_=FROM, body="hi")
    assert denied.value.code == 20003


def test_telnyx_official_sdk(emu: Emulator) -> None:
    """telnyx-python sends (with an idempotency key), retrieves, and raises its typed errors."""
    telnyx = sdk("telnyx")
    client = telnyx.Telnyx(
        api_key=emu.telnyx_api_key, base_url=emu.telnyx_url + "/v2", max_retries=0
    )
    sent = client.messages.send(to=TO, from_=FROM, text="hi", idempotency_key="sdk-1")
    again = client.messages.send(to=TO, from_=FROM, text="hi", idempotency_key="sdk-1")
    assert sent.data.id == again.data.id
    assert sent.data.to[0].status == "queued"
    assert len(emu.messages("telnyx")) == 1
    assert emu.wait_idle()
    assert client.messages.retrieve(sent.data.id).data.to[0].status == "delivered"
    with pytest.raises(telnyx.BadRequestError) as invalid:
        client.messages.send(to="+1312555", from_=FROM, text="hi")
    assert invalid.value.body["errors"][0]["code"] == "40310"
    with pytest.raises(telnyx.NotFoundError):
        client.messages.retrieve("00000000-0000-4000-8000-000000000000")
    emu.fault("telnyx", "rate_limit", times=1)
    with pytest.raises(telnyx.RateLimitError):
        client.messages.send(to=TO, from_=FROM, text="hi")
    wrong = telnyx.Telnyx(api_key="nope", base_url=emu.telnyx_url + "/v2", max_retries=0)
    with pytest.raises(telnyx.AuthenticationError):
        wrong.messages.send(to=TO, from_=FROM, text="hi")
