"""Hostile input (issue 12, part 4): CR/LF, NUL, XML metacharacters, URL syntax and very long
strings in every field that reaches a header, a URL or a body; TwiML replies echoing inbound
text; raw bytes against the emulator's HTTP server.

The outbound rule: each value ends in a typed ``SmsBridgeError`` before any request, or in a
request (captured with ``httpx.MockTransport``) whose headers carry no CR/LF/NUL and whose URL
and body encode the value so that it adds no header, parameter or path segment.

The emulator rule: every request, however broken, gets a 4xx (or 505 for an HTTP version it
does not speak) or a closed connection within a timeout, and the server keeps answering. The
nastiest cases live in ``fixtures/hostile/`` (one raw request per file, replayed every run);
hypothesis adds a bounded run on top (``HOSTILE_EXAMPLES`` raises it locally).
"""

from __future__ import annotations

import json
import os
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsbridge import Bridge, SmsBridgeError, WebhookRequest
from smsbridge.providers import Telnyx, Twilio, Vonage
from smsbridge.providers._base import Provider
from smsbridge.testing import Emulator, sign_twilio

CORPUS = Path(__file__).parent / "fixtures" / "hostile"
TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT = "AC" + "0" * 32
SID = "SM" + "a" * 32
UUID = "40385f64-5717-4562-b3fc-2c963f66afa6"
PUBLIC = "https://app.example.com"
TO, FROM = "+13125550111", "+13125550100"

# The tokens every field is fed with: alone, and inside an otherwise plausible value.
TOKENS = [
    "\r",
    "\n",
    "\r\n",
    "\x00",
    "\u2028",
    "<",
    ">",
    "&",
    '"',
    "'",
    "]]>",
    "%0d%0a",
    "../",
    "?",
    "#",
    "\r\nX-Injected: 1\r\n\r\n",
    "<![CDATA[x]]><Redirect>https://evil.example</Redirect>",
    "a" * 5000,
    "\r\n" * 3000,
]
IDS = [f"{t!r:.24}" for t in TOKENS]
# Characters no URL the library builds or sends may carry raw.
URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\s]")
HEADER_UNSAFE = re.compile(rb"[\r\n\x00]")


# -- outbound: providers, a capturing transport ------------------------------------------------
def twilio() -> Provider:
    return Twilio(ACCOUNT, TOKEN, from_=FROM)


def telnyx() -> Provider:
    return Telnyx("KEY0123", from_=FROM)


def vonage() -> Provider:
    return Vonage("a1b2c3d", "Sup3rS3cretApiValue", from_=FROM)


PROVIDERS: dict[str, Callable[[], Provider]] = {
    "twilio": twilio,
    "telnyx": telnyx,
    "vonage": vonage,
}
SEND_PATHS = {
    "twilio": f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
    "telnyx": "/v2/messages",
    "vonage": "/v1/messages",
}
# Every field a send's body may carry (form names for Twilio, JSON keys for the others).
FIELDS = {
    "twilio": {"To", "From", "MessagingServiceSid", "Body", "MediaUrl", "StatusCallback"},
    "telnyx": {"to", "from", "messaging_profile_id", "text", "media_urls", "type", "webhook_url"},
    "vonage": {
        "to",
        "from",
        "channel",
        "message_type",
        "text",
        "image",
        "client_ref",
        "webhook_url",
        "webhook_version",
    },
}
# One answer every codec reads as a success (send, cancel and fetch alike).
ANSWER = {
    "sid": SID,
    "status": "queued",
    "to": TO,
    "data": {"id": UUID, "to": [{"phone_number": TO, "status": "queued"}]},
    "message_uuid": UUID,
}


def bridge_for(name: str, seen: list[httpx.Request], **kwargs: Any) -> tuple[Bridge, httpx.Client]:
    """A bridge on one provider whose requests land in ``seen``; every one is answered OK."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    kwargs.setdefault("public_url", PUBLIC)
    bridge = Bridge(PROVIDERS[name](), http_client=client, any_sender=True, retry=None, **kwargs)
    return bridge, client


def check_headers(request: httpx.Request) -> None:
    for key, value in request.headers.raw:
        assert not HEADER_UNSAFE.search(key), key
        assert not HEADER_UNSAFE.search(value), (key, value)
    key = request.headers.get("Idempotency-Key")
    if key is not None:  # Telnyx: the caller's key, or a digest of it
        assert re.fullmatch(r"[A-Za-z0-9_:-]{1,255}", key), key


def check_url(request: httpx.Request, path: str) -> None:
    """The URL is exactly ``path``, with no query: nothing added a segment or a parameter."""
    raw = request.url.raw_path
    assert not re.search(rb"[\x00-\x20\x7f-\xff]", raw), raw
    assert request.url.path == path
    assert request.url.query == b""
    assert request.url.host in ("api.twilio.com", "api.telnyx.com", "api.nexmo.com")


def sent_fields(name: str, request: httpx.Request) -> dict[str, list[Any]]:
    """The send's body as field -> values, checked to hold only the fields a send carries."""
    if name == "twilio":
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        text = request.content.decode("ascii")  # urlencoded: nothing raw survives
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
        fields: dict[str, list[Any]] = {}
        for key, value in pairs:
            fields.setdefault(key, []).append(value)
        repeated = [k for k, v in fields.items() if len(v) > 1 and k != "MediaUrl"]
        assert not repeated, repeated
    else:
        document = json.loads(request.content)
        assert isinstance(document, dict)
        fields = {key: [value] for key, value in document.items()}
    assert set(fields) <= FIELDS[name], set(fields) - FIELDS[name]
    return fields


def check_callback(url: str, reference: str | None, path: str = "/sms/webhook") -> None:
    """A status-callback URL the bridge built: on the public URL, the reference its only
    query parameter, no raw control characters or spaces, no climbing or extra segments."""
    assert not URL_UNSAFE.search(url), url
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example.com", path)
    assert parts.fragment == ""
    expected = {} if reference is None else {"smsbridge_ref": [reference]}
    assert parse_qs(parts.query, keep_blank_values=True) == expected


def send_kwargs(field: str, value: str) -> dict[str, Any]:
    """Arguments of a send with ``value`` in ``field`` (embedded in a URL for URL fields)."""
    kwargs: dict[str, Any] = {"to": TO, "body": "hello", "reference": "order-1"}
    if field == "media_urls":
        kwargs["media_urls"] = [f"https://media.example.com/a{value}.jpg"]
    elif field == "media_urls_raw":
        kwargs["media_urls"] = [value]
    elif field == "status_callback":
        kwargs["status_callback"] = f"https://cb.example.com/s{value}?x=1"
    elif field == "to_embedded":
        kwargs["to"] = TO + value
    else:
        kwargs[field] = value
    return kwargs


SEND_FIELDS = [
    "to",
    "to_embedded",
    "from_",
    "body",
    "media_urls",
    "media_urls_raw",
    "reference",
    "idempotency_key",
    "status_callback",
]


@pytest.mark.parametrize("name", list(PROVIDERS))
@pytest.mark.parametrize("field", SEND_FIELDS)
def test_send_fields_are_refused_or_encoded(name: str, field: str) -> None:
    for token in TOKENS:
        for value in (token, f"ok{token}X-Injected: 1"):
            seen: list[httpx.Request] = []
            bridge, client = bridge_for(name, seen)
            kwargs = send_kwargs(field, value)
            with client:
                try:
                    bridge.send(**kwargs)
                except SmsBridgeError:
                    assert seen == [], f"{field}={value!r:.40}: refused after a request"
                    continue
            assert len(seen) == 1, (field, value)
            request = seen[0]
            check_headers(request)
            check_url(request, SEND_PATHS[name])
            check_body_round_trip(name, request, kwargs)


def check_body_round_trip(name: str, request: httpx.Request, kwargs: dict[str, Any]) -> None:
    """Each value comes back out of the body whole, in its own field."""
    fields = sent_fields(name, request)
    from_ = kwargs.get("from_", FROM)
    media = kwargs.get("media_urls", [])
    if name == "twilio":
        # A from_ the bridge does not take (blank) falls back to the provider's sender.
        assert fields["From"] in ([from_], [FROM])
        assert fields.get("Body", [""]) == [kwargs["body"]]
        assert fields.get("MediaUrl", []) == media
        callback = fields["StatusCallback"][0]
    else:
        wire = from_[1:] if name == "vonage" and from_.startswith("+") else from_
        assert fields["from"] in ([wire], [FROM], [FROM[1:]])
        image = fields.get("image", [{}])[0]
        got_media = fields.get("media_urls", [image.get("url")] if image else [[]])[0]
        assert got_media == (media if name == "telnyx" else (media[0] if media else [])), media
        text = fields.get("text", [image.get("caption", "")])[0]
        assert text == kwargs["body"]
        callback = fields["webhook_url"][0]
        if name == "vonage":
            assert fields["client_ref"] == [kwargs["reference"]]
    if "status_callback" in kwargs:
        assert callback == kwargs["status_callback"]
    else:
        check_callback(callback, kwargs["reference"])


@pytest.mark.parametrize("name", list(PROVIDERS))
@pytest.mark.parametrize("operation", ["cancel", "fetch"])
def test_message_ids_never_reach_a_path_unchecked(name: str, operation: str) -> None:
    valid = {"twilio": SID, "telnyx": UUID, "vonage": UUID}[name]
    for token in TOKENS:
        for value in (token, valid + token, token + valid, f"{valid}/{token}"):
            seen: list[httpx.Request] = []
            bridge, client = bridge_for(name, seen)
            with client, pytest.raises(SmsBridgeError):
                getattr(bridge, operation)(name, value)
            assert seen == [], f"{operation}({value!r:.40}) sent a request"
    # The valid id goes through, as one path segment.
    if name != "vonage":
        seen = []
        bridge, client = bridge_for(name, seen)
        with client:
            getattr(bridge, operation)(name, valid)
        (request,) = seen
        check_headers(request)
        assert request.url.path.rsplit("/", 1)[-1] in (valid, valid + ".json")


@pytest.mark.parametrize("where", ["public_url", "webhook_path"])
@pytest.mark.parametrize("token", TOKENS, ids=IDS)
def test_public_url_and_webhook_path_refused_or_clean(where: str, token: str) -> None:
    """Construction refuses the value (ConfigError), or every status-callback URL it builds is
    clean: no raw control characters, no query but the reference, no fragment, no ``..``."""
    kwargs = (
        {"public_url": f"{PUBLIC}/base{token}"}
        if where == "public_url"
        else {"webhook_path": f"/hook{token}"}
    )
    seen: list[httpx.Request] = []
    try:
        bridge, client = bridge_for("twilio", seen, **kwargs)
    except SmsBridgeError:
        return
    with client:
        bridge.send(TO, "hello", reference="order-1")
    (request,) = seen
    check_headers(request)
    callback = sent_fields("twilio", request)["StatusCallback"][0]
    assert not URL_UNSAFE.search(callback), callback
    parts = urlsplit(callback)
    assert parts.netloc == "app.example.com"
    assert parts.fragment == ""
    assert parse_qs(parts.query, keep_blank_values=True) == {"smsbridge_ref": ["order-1"]}
    assert not {".", ".."} & set(parts.path.split("/")), parts.path


# -- webhook replies ---------------------------------------------------------------------------
WEBHOOK_URL = f"{PUBLIC}/sms/webhook"
BODIES = [
    "<b>hi</b> & bye",
    "]]>",
    "<![CDATA[x]]>",
    "\"quoted\" 'single'",
    "</Message><Redirect>https://evil.example</Redirect><Message>",
    "&amp; &#0; &#x1F; &bogus;",
    "line\r\nbreak\rand\u2028sep",
    "nul\x00and\x01\x08\x0b\x0c\x1f\ufffe\uffff controls",
    "<" * 2000,
]


def xml_text(text: str) -> str:
    """What an XML parser reads back from ``text`` written into a reply: characters XML
    cannot carry are dropped, line ends normalised."""
    kept = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", text)
    return kept.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("text", BODIES, ids=[f"{b!r:.20}" for b in BODIES])
def test_twiml_reply_echoing_an_inbound_is_well_formed(text: str) -> None:
    bridge = Bridge(Twilio(ACCOUNT, TOKEN, from_=FROM), public_url=PUBLIC)
    params = [
        ("MessageSid", "SM" + "b" * 32),
        ("AccountSid", ACCOUNT),
        ("From", TO),
        ("To", FROM),
        ("Body", text),
        ("NumMedia", "0"),
    ]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign_twilio(WEBHOOK_URL, params, auth_token=TOKEN),
    }
    outcome = bridge.handle_webhook(
        WebhookRequest("POST", WEBHOOK_URL, headers, urlencode(params).encode())
    )
    echoed = outcome.event.text  # type: ignore[union-attr]
    assert echoed == text
    for response in (outcome.response, outcome.reply(f"You said: {echoed}"), outcome.reply(None)):
        for key, value in response.headers.items():
            assert not re.search("[\r\n\x00]", key + value), (key, value)
        root = ET.fromstring(response.body)
        assert root.tag == "Response"
        assert [child.tag for child in root] in ([], ["Message"])
    message = ET.fromstring(outcome.reply(f"You said: {echoed}").body).find("Message")
    assert message is not None
    assert len(message) == 0  # text only: no element smuggled in
    assert message.text == xml_text(f"You said: {text}")


@pytest.mark.parametrize("name", ["telnyx", "vonage"])
def test_replies_without_inline_messages_never_echo(name: str) -> None:
    codec = PROVIDERS[name]().webhook_codec()
    ack = codec.acknowledge()
    for text in BODIES:
        reply = codec.reply(text)
        assert (reply.status_code, reply.body) == (ack.status_code, ack.body)


# -- the emulator's HTTP parsing ---------------------------------------------------------------
ANSWER_TIMEOUT = 5.0
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(progress_delay=0.05) as emu:
        yield emu


def port_of(emu: Emulator) -> int:
    return int(emu.url.rsplit(":", 1)[1])


def exchange(port: int, raw: bytes, timeout: float = ANSWER_TIMEOUT) -> bytes:
    """Send ``raw``, close our side, read until the server closes; fail after ``timeout``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all: allowed
        sock.settimeout(timeout)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received
            except TimeoutError:
                raise AssertionError(f"no answer within {timeout} s; got {received!r:.200}")
            if not chunk:
                return received
            received += chunk


def statuses(answer: bytes) -> list[int]:
    """The status of the first answer (later ones may be to pipelined leftovers)."""
    match = STATUS_LINE.match(answer)
    assert answer == b"" or match is not None, f"not an HTTP/1.x answer: {answer[:120]!r}"
    return [] if match is None else [int(match.group(1))]


def assert_alive(emu: Emulator) -> None:
    answer = httpx.get(emu.url + "/_emulator/info", timeout=ANSWER_TIMEOUT)
    assert answer.status_code == 200


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.http"))


def test_corpus_is_there() -> None:
    assert len(corpus()) >= 15


@pytest.mark.parametrize("case", corpus(), ids=lambda p: p.stem)
def test_emulator_corpus_gets_4xx_or_closed(emulator: Emulator, case: Path) -> None:
    answer = exchange(port_of(emulator), case.read_bytes())
    for status in statuses(answer):
        assert 400 <= status < 500 or status == 505, (case.name, answer[:300])
    assert_alive(emulator)


def test_emulator_answers_while_a_client_stalls_mid_body(emulator: Emulator) -> None:
    port = port_of(emulator)
    head = b"POST /v2/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as stalled:
        stalled.sendall(head)
        assert_alive(emulator)


METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW", "", "G\x00T"]
TARGETS = [
    f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
    f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}.json",
    "/v2/messages",
    f"/v2/messages/{UUID}",
    "/v1/messages",
    "/_emulator/info",
    "/_emulator/messages",
    "*",
    "http://evil.example/",
    "//double",
]
VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1.1", "HTTP/x", "", "http/1.1"]
NASTY = st.sampled_from(
    [b"\r", b"\n", b"\r\n", b"\x00", b"\xff", b" ", b"\t", b"<", b"]]>", b"%0d%0a", b"\r\n\r\n"]
)
chunks = st.lists(st.one_of(NASTY, st.binary(max_size=40)), max_size=6).map(b"".join)


@st.composite
def raw_requests(draw: st.DrawFn) -> bytes:
    """Mostly well-shaped requests with one or more parts broken; sometimes pure noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=3000))
    method = draw(st.sampled_from(METHODS)).encode("latin-1")
    target = draw(st.sampled_from(TARGETS)).encode() + draw(chunks)
    version = draw(st.sampled_from(VERSIONS)).encode()
    eol = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    lines = [b" ".join(part for part in (method, target, version) if part)]
    body = draw(st.binary(max_size=300))
    length = draw(
        st.sampled_from(
            [
                None,
                str(len(body)).encode(),
                str(len(body) + 50).encode(),
                b"-1",
                b"1_0",
                b"+5",
                b"0x10",
                b"99999999999999999999999",
                b"5, 6",
                b"",
            ]
        )
    )
    if length is not None:
        lines.append(b"Content-Length: " + length)
    if draw(st.booleans()):
        lines.append(b"Transfer-Encoding: " + draw(st.sampled_from([b"chunked", b"gzip, chunked"])))
        size = draw(st.sampled_from([b"5", b"zz", b"-1", b"FFFFFFFFFFFFFFFFFF", b"0x5", b"0"]))
        body = size + b"\r\n" + body[:5] + b"\r\n" + draw(st.sampled_from([b"0\r\n\r\n", b""]))
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from([b"Host", b"Authorization", b"X-A", b"", b"Bad Name"]))
        lines.append(name + b": " + draw(chunks))
    if draw(st.integers(0, 14)) == 0:
        lines.append(b"X-Huge: " + b"a" * draw(st.sampled_from([70_000, 200_000])))
    return eol.join(lines) + eol + eol + body


EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "60"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=raw_requests())
def test_emulator_survives_generated_requests(emulator: Emulator, raw: bytes) -> None:
    answer = exchange(port_of(emulator), raw)
    for status in statuses(answer):
        assert status < 500 or status == 505, (raw[:300], answer[:300])
    assert_alive(emulator)
