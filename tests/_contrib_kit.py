"""Signed webhooks and a recording callback for the framework adapter tests."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from smsbridge import Bridge
from smsbridge.providers import Telnyx, Twilio
from smsbridge.stores import MemoryStore
from smsbridge.testing import make_telnyx_keypair, sign_telnyx, sign_twilio

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "contrib-test-auth-token"
PAIR = make_telnyx_keypair(b"\x07" * 32)
FORM = "application/x-www-form-urlencoded"


def make_bridge(**kwargs: Any) -> Bridge:
    """A bridge with both providers configured to verify webhooks."""
    twilio = Twilio(SID, TOKEN, from_="+15017122661")
    telnyx = Telnyx("KEYcontribtest", public_key=PAIR.public_key_b64, from_="+15017122662")
    return Bridge([twilio, telnyx], store=MemoryStore(), **kwargs)


def twilio_inbound(
    url: str,
    text: str = "Hello",
    sid: str | None = None,
    *,
    account_sid: str = SID,
    auth_token: str = TOKEN,
) -> tuple[bytes, dict[str, str]]:
    """A signed Twilio inbound SMS for ``url``: (body, headers)."""
    sid = sid or "SM" + uuid.uuid4().hex
    params = [
        ("MessageSid", sid),
        ("SmsMessageSid", sid),
        ("AccountSid", account_sid),
        ("From", "+14155552671"),
        ("To", "+15017122661"),
        ("Body", text),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]
    headers = sign_twilio(url, params, auth_token=auth_token)
    headers["Content-Type"] = FORM
    return urlencode(params).encode(), headers


def twilio_status(url: str, sid: str, status: str) -> tuple[bytes, dict[str, str]]:
    """A signed Twilio status callback: (body, headers)."""
    params = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", SID),
        ("From", "+15017122661"),
        ("To", "+14155552671"),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("ApiVersion", "2010-04-01"),
    ]
    headers = sign_twilio(url, params, auth_token=TOKEN)
    headers["Content-Type"] = FORM
    return urlencode(params).encode(), headers


def telnyx_inbound(
    text: str = "Hello", timestamp: int | None = None, event_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A signed Telnyx ``message.received``: (body, headers)."""
    payload = {
        "data": {
            "record_type": "event",
            "id": event_id or str(uuid.uuid4()),
            "event_type": "message.received",
            "occurred_at": "2024-05-14T15:30:02.141+00:00",
            "payload": {
                "record_type": "message",
                "id": str(uuid.uuid4()),
                "direction": "inbound",
                "type": "SMS",
                "from": {"phone_number": "+14155552671", "carrier": "T-Mobile USA"},
                "to": [{"phone_number": "+15017122662", "status": "webhook_delivered"}],
                "text": text,
                "media": [],
                "parts": 1,
                "encoding": "GSM-7",
                "received_at": "2024-05-14T15:30:01.000+00:00",
            },
        },
        "meta": {"attempt": 1, "delivered_to": "https://example.com/sms/webhook"},
    }
    body = json.dumps(payload).encode()
    headers = sign_telnyx(body, signing_key=PAIR, timestamp=timestamp)
    headers["Content-Type"] = "application/json"
    return body, headers


def tamper(body: bytes) -> bytes:
    """The body with one character changed after signing."""
    return body.replace(b"Hello", b"Hellp", 1)


def stale_timestamp() -> int:
    """A Telnyx timestamp well outside the 300 s window."""
    return int(time.time()) - 3600


class Recorder:
    """An ``on_event`` callback recording outcomes; optionally replies, blocks or fails."""

    def __init__(
        self,
        reply: Any = None,
        *,
        block: threading.Event | None = None,
        fail: bool = False,
        sleep: float = 0.0,
    ) -> None:
        self.reply = reply
        self.block = block
        self.fail = fail
        self.sleep = sleep
        self.outcomes: list[Any] = []
        self.started = threading.Event()
        self.finished = threading.Event()

    def __call__(self, outcome: Any) -> Any:
        self.started.set()
        try:
            if self.block is not None:
                self.block.wait(10)
            if self.sleep:
                time.sleep(self.sleep)
            self.outcomes.append(outcome)
            if self.fail:
                raise RuntimeError("callback failed on purpose")
            return self.reply
        finally:
            self.finished.set()

    def wait(self) -> bool:
        """True once the callback has run (waits up to 10 s for a background thread)."""
        return self.finished.wait(10)
