"""Telnyx webhooks through ``Bridge.handle_webhook``: Ed25519 vectors and tolerance, parsing of
every fixture, status mapping, duplicates, ordering and references."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from smsbridge import (
    Bridge,
    InboundMessage,
    MalformedWebhook,
    MessageStatus,
    SignatureError,
    StaleWebhook,
    StatusEvent,
    UnknownProvider,
    WebhookRequest,
)
from smsbridge.providers import Telnyx
from smsbridge.testing import make_telnyx_keypair, sign_telnyx

FIXTURES = Path(__file__).parent / "fixtures"
SIGNATURES = json.loads((FIXTURES / "telnyx_signature.json").read_text())
RECEIVED = json.loads((FIXTURES / "telnyx_message_received.json").read_text())
SENT = json.loads((FIXTURES / "telnyx_message_sent.json").read_text())
FINALIZED = json.loads((FIXTURES / "telnyx_message_finalized.json").read_text())
STATUS_MAP = json.loads((FIXTURES / "status_map.json").read_text())
SEED = bytes.fromhex(SIGNATURES["keypair"]["seed_hex"])
PAIR = make_telnyx_keypair(SEED)
URL = "https://app.example.com/sms/webhook"
NOW = 1715700602


def make_bridge(
    public_key: str | None = PAIR.public_key_b64, now: float = NOW, **kw: Any
) -> Bridge:
    """A bridge with one Telnyx account and a fixed clock."""
    bridge = Bridge(Telnyx("KEY0123", public_key=public_key), **kw)
    bridge.clock = lambda: now  # type: ignore[attr-defined]
    return bridge


def signed(
    document: Any, *, url: str = URL, timestamp: int = NOW, **headers: str
) -> WebhookRequest:
    """A JSON POST of ``document`` signed with the fixture key at ``timestamp``."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    signature = sign_telnyx(body, signing_key=PAIR, timestamp=timestamp)
    return WebhookRequest(
        "POST", url, {"Content-Type": "application/json", **signature, **headers}, body
    )


def with_status(
    event: dict[str, Any], *statuses: str, errors: list[Any] | None = None
) -> dict[str, Any]:
    """A copy of a status event with one recipient per status (and the given errors)."""
    event = copy.deepcopy(event)
    payload = event["data"]["payload"]
    payload["to"] = [
        {
            "phone_number": f"+1312555{index:04d}",
            "status": status,
            "carrier": "X",
            "line_type": "Wireless",
        }
        for index, status in enumerate(statuses)
    ]
    if errors is not None:
        payload["errors"] = errors
    return event


# -- signature vectors -------------------------------------------------------------------------
@pytest.mark.parametrize("case", SIGNATURES["cases"], ids=lambda c: c["name"])
def test_valid_vectors_verify(case: dict[str, Any]) -> None:
    """Every valid vector verifies over its exact raw bytes at its own timestamp."""
    stamp = int(case["headers"]["telnyx-timestamp"])
    headers = {"Content-Type": "application/json", **case["headers"]}
    request = WebhookRequest("POST", URL, headers, case["raw_body"].encode())
    bridge = make_bridge(now=stamp)
    if case["name"] == "unicode_body":
        # Verified, but the body is a bare sample without ids: refused as content, not as forged.
        with pytest.raises(MalformedWebhook):
            bridge.handle_webhook(request)
    else:
        assert bridge.handle_webhook(request).provider == "telnyx"


@pytest.mark.parametrize("case", SIGNATURES["negative_cases"], ids=lambda c: c["name"])
def test_negative_vectors_are_refused(case: dict[str, Any]) -> None:
    """Re-serialised bodies, changed timestamps, other keys and flipped bits are refused."""
    headers = {
        "Content-Type": "application/json",
        "telnyx-timestamp": case["timestamp"],
        "telnyx-signature-ed25519": case["signature"],
    }
    request = WebhookRequest("POST", URL, headers, case["raw_body"].encode())
    bridge = make_bridge(case.get("public_key_base64", PAIR.public_key_b64))
    with pytest.raises(SignatureError) as info:
        bridge.handle_webhook(request)
    assert (info.value.code, info.value.status_code) == ("invalid_signature", 403)


@pytest.mark.parametrize(
    "case", SIGNATURES["tolerance_cases"], ids=lambda c: f"{c['timestamp']}@{c['now']}"
)
def test_tolerance_cases(case: dict[str, Any]) -> None:
    """Timestamps within 300 s either way pass; further away is stale; non-numbers are refused."""
    body = SIGNATURES["cases"][0]["raw_body"].encode()
    stamp = case["timestamp"]
    if stamp.isdigit():
        headers = sign_telnyx(body, signing_key=PAIR, timestamp=int(stamp))
    else:
        headers = {"telnyx-timestamp": stamp, "telnyx-signature-ed25519": "A" * 86 + "=="}
    request = WebhookRequest("POST", URL, {"Content-Type": "application/json", **headers}, body)
    bridge = make_bridge(now=int(case["now"]))
    if case["within_tolerance"]:
        assert bridge.handle_webhook(request).event.provider == "telnyx"
    elif stamp.isdigit():
        with pytest.raises(StaleWebhook) as info:
            bridge.handle_webhook(request)
        assert (info.value.code, info.value.status_code) == ("stale_webhook", 403)
    else:
        with pytest.raises(SignatureError):
            bridge.handle_webhook(request)


def test_tolerance_is_configurable() -> None:
    """webhook_tolerance narrows (or widens) the window."""
    request = signed(RECEIVED["sms"], timestamp=NOW - 20)
    with pytest.raises(StaleWebhook):
        make_bridge(webhook_tolerance=10).handle_webhook(request)
    assert make_bridge(webhook_tolerance=30).handle_webhook(request).event


def test_headers_are_case_insensitive() -> None:
    """Telnyx-Signature-Ed25519 and TELNYX-TIMESTAMP are found whatever their case."""
    body = json.dumps(RECEIVED["sms"]).encode()
    raw = sign_telnyx(body, signing_key=PAIR, timestamp=NOW)
    headers = {
        "Telnyx-Signature-Ed25519": raw["telnyx-signature-ed25519"],
        "TELNYX-TIMESTAMP": raw["telnyx-timestamp"],
        "content-type": "application/json",
    }
    assert make_bridge().handle_webhook(WebhookRequest("POST", URL, headers, body)).event


def test_missing_or_repeated_headers_are_refused() -> None:
    """A missing timestamp, a repeated signature or a non-base64 signature is a SignatureError."""
    good = signed(RECEIVED["sms"])
    sig, stamp = good.headers["telnyx-signature-ed25519"], good.headers["telnyx-timestamp"]
    variants = [
        [("telnyx-signature-ed25519", sig)],
        [
            ("telnyx-signature-ed25519", sig),
            ("Telnyx-Signature-Ed25519", sig),
            ("telnyx-timestamp", stamp),
        ],
        [
            ("telnyx-signature-ed25519", sig),
            ("telnyx-timestamp", stamp),
            ("telnyx-timestamp", stamp),
        ],
        [("telnyx-signature-ed25519", "!" * 88), ("telnyx-timestamp", stamp)],
        [("telnyx-signature-ed25519", sig[:-4]), ("telnyx-timestamp", stamp)],
        [("telnyx-signature-ed25519", sig), ("telnyx-timestamp", "+" + stamp)],
        [("telnyx-signature-ed25519", sig), ("telnyx-timestamp", "9" * 400)],
    ]
    bridge = make_bridge()
    for headers in variants:
        with pytest.raises(SignatureError):
            bridge.handle_webhook(WebhookRequest("POST", URL, headers, good.body))


def test_no_public_key_means_rejection() -> None:
    """A Telnyx provider without public_key refuses even a correctly signed webhook."""
    with pytest.raises(SignatureError):
        make_bridge(public_key=None).handle_webhook(signed(RECEIVED["sms"]))


def test_not_configured_provider_is_unknown() -> None:
    """A Telnyx webhook at a bridge with only Twilio is UnknownProvider (400)."""
    from smsbridge.providers import Twilio

    bridge = Bridge(Twilio("AC" + "0" * 32, "token", from_="+15550001"))
    with pytest.raises(UnknownProvider) as info:
        bridge.handle_webhook(signed(RECEIVED["sms"]))
    assert info.value.status_code == 400


def test_two_accounts_on_one_bridge() -> None:
    """With two Telnyx accounts, a webhook signed by the second one verifies."""
    other = make_telnyx_keypair(b"\x05" * 32)
    bridge = Bridge(
        [
            Telnyx("KEY1", public_key=other.public_key_b64),
            Telnyx("KEY2", public_key=PAIR.public_key_b64),
        ]
    )
    bridge.clock = lambda: NOW  # type: ignore[attr-defined]
    assert bridge.handle_webhook(signed(RECEIVED["sms"])).event


# -- parsing every fixture ---------------------------------------------------------------------
def test_received_sms_fixture() -> None:
    """message.received becomes an InboundMessage with ids, numbers, text, parts and time."""
    outcome = make_bridge().handle_webhook(signed(RECEIVED["sms"]))
    event = outcome.event
    assert isinstance(event, InboundMessage)
    assert event.id == "84cca175-9755-4859-b67f-4730d7f58aa3"
    assert (event.from_, event.to) == ("+13125550111", "+13125550100")
    assert event.text == "Yes, 3pm works for me"
    assert event.segments == 1
    assert event.media == ()
    assert event.received_at == datetime(2024, 5, 14, 15, 30, 1, 987000, tzinfo=timezone.utc)
    assert event.raw == RECEIVED["sms"]


def test_received_mms_fixture() -> None:
    """An MMS carries each media item's URL and content type."""
    event = make_bridge().handle_webhook(signed(RECEIVED["mms"])).event
    assert isinstance(event, InboundMessage)
    assert [(m.url, m.content_type) for m in event.media] == [
        ("https://media.telnyx.example/8b2c1f.jpeg", "image/jpeg")
    ]


def test_sent_fixture() -> None:
    """message.sent becomes a sent StatusEvent per recipient."""
    outcome = make_bridge().handle_webhook(signed(SENT["event"]))
    event = outcome.event
    assert isinstance(event, StatusEvent)
    assert event.status is MessageStatus.SENT
    assert event.provider_message_id == "40385f64-5717-4562-b3fc-2c963f66afa6"
    assert (event.to, event.from_) == ("+13125550111", "+13125550100")
    assert event.occurred_at == datetime(2024, 5, 14, 15, 31, 0, 512000, tzinfo=timezone.utc)
    assert event.error is None


@pytest.mark.parametrize(
    ("name", "status", "code", "failure"),
    [
        ("delivered", MessageStatus.DELIVERED, None, None),
        ("delivery_failed", MessageStatus.UNDELIVERED, "carrier_route", "refused"),
        ("delivery_unconfirmed", MessageStatus.UNKNOWN, None, None),
    ],
)
def test_finalized_fixtures(
    name: str, status: MessageStatus, code: str | None, failure: str | None
) -> None:
    """message.finalized maps delivered, delivery_failed (40008) and delivery_unconfirmed."""
    event = make_bridge().handle_webhook(signed(FINALIZED[name])).event
    assert isinstance(event, StatusEvent)
    assert event.status is status
    if code is None:
        assert event.error is None
    else:
        assert event.error is not None
        assert (event.error.code, event.error.failure, event.error.provider_code) == (
            code,
            failure,
            "40008",
        )
        assert (
            event.error.message
            == "Undeliverable - The recipient carrier did not accept the message."
        )


@pytest.mark.parametrize(("raw", "common"), sorted(STATUS_MAP["telnyx_to_status"].items()))
def test_every_telnyx_status_maps(raw: str, common: str) -> None:
    """Each raw per-recipient Telnyx status in status_map.json becomes its common status."""
    event = make_bridge().handle_webhook(signed(with_status(FINALIZED["delivered"], raw))).event
    assert isinstance(event, StatusEvent)
    assert event.status.value == common
    assert event.raw_status == raw


@pytest.mark.parametrize(("code", "expected"), [("40005", "undelivered"), ("40014", "failed")])
def test_expired_depends_on_the_error_code(code: str, expected: str) -> None:
    """expired + 40005 (left Telnyx) is undelivered; expired + 40014 (in Telnyx's queue) failed."""
    errors = [{"code": code, "title": "Message expired"}]
    event = (
        make_bridge()
        .handle_webhook(signed(with_status(FINALIZED["delivered"], "expired", errors=errors)))
        .event
    )
    assert isinstance(event, StatusEvent)
    assert event.status.value == expected
    assert event.error is not None
    assert event.error.provider_code == code


def test_one_event_per_recipient() -> None:
    """A status naming three recipients yields three events; .event is the first."""
    outcome = make_bridge().handle_webhook(
        signed(with_status(FINALIZED["delivered"], "delivered", "delivery_failed", "sent"))
    )
    assert [e.status for e in outcome.events] == [
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.SENT,
    ]
    assert outcome.event is outcome.events[0]
    assert len({e.to for e in outcome.events}) == 3
    assert outcome.stale_flags == (False, False, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "STOP"),
        (" stop\n", "STOP"),
        ("End", "STOP"),
        ("Yes", "START"),
        ("info", "HELP"),
        ("stop now", None),
    ],
)
def test_opt_out_keywords(text: str, expected: str | None) -> None:
    """Telnyx inbound texts that are exactly a standard keyword set the opt-out intent."""
    event = copy.deepcopy(RECEIVED["sms"])
    event["data"]["payload"]["text"] = text
    parsed = make_bridge().handle_webhook(signed(event)).event
    assert isinstance(parsed, InboundMessage)
    assert parsed.opt_out == expected


def test_unsupported_event_type_is_malformed() -> None:
    """A verified event other than message.received/sent/finalized is MalformedWebhook."""
    event = copy.deepcopy(SENT["event"])
    event["data"]["event_type"] = "call.initiated"
    with pytest.raises(MalformedWebhook):
        make_bridge().handle_webhook(signed(event))


def test_timestamps_in_other_forms() -> None:
    """Z suffixes and other fraction lengths are read; unreadable times become None."""
    event = copy.deepcopy(SENT["event"])
    event["data"]["occurred_at"] = "2024-05-14T15:31:00.5Z"
    parsed = make_bridge().handle_webhook(signed(event)).event
    assert parsed.occurred_at == datetime(2024, 5, 14, 15, 31, 0, 500000, tzinfo=timezone.utc)
    event["data"]["occurred_at"] = "yesterday"
    event["data"]["id"] = "other-event"
    assert make_bridge().handle_webhook(signed(event)).event.occurred_at is None


# -- duplicates, ordering, references ----------------------------------------------------------
def test_retry_with_same_event_id_is_duplicate() -> None:
    """Telnyx retrying the same data.id is flagged duplicate and still parsed."""
    bridge = make_bridge()
    first = bridge.handle_webhook(signed(RECEIVED["sms"]))
    retry = copy.deepcopy(RECEIVED["sms"])
    retry["meta"]["attempt"] = 2
    second = bridge.handle_webhook(signed(retry, timestamp=NOW + 5))
    assert not first.duplicate
    assert second.duplicate
    assert second.event.id == first.event.id


def test_late_sent_after_delivered_is_stale() -> None:
    """message.sent arriving after message.finalized(delivered) is stale; the reverse is not."""
    bridge = make_bridge()
    assert not bridge.handle_webhook(signed(FINALIZED["delivered"])).stale
    late = bridge.handle_webhook(signed(SENT["event"]))
    assert late.stale
    assert not late.duplicate
    fresh = make_bridge()
    assert not fresh.handle_webhook(signed(SENT["event"])).stale
    assert not fresh.handle_webhook(signed(FINALIZED["delivered"])).stale


def test_stale_flags_per_recipient() -> None:
    """With several recipients only the late ones are flagged; .stale needs all of them."""
    bridge = make_bridge()
    bridge.handle_webhook(signed(with_status(FINALIZED["delivered"], "delivered")))
    mixed = copy.deepcopy(with_status(SENT["event"], "sent", "sent"))
    outcome = bridge.handle_webhook(signed(mixed))
    assert outcome.stale_flags == (True, False)
    assert not outcome.stale


def test_reference_round_trip() -> None:
    """The reference in the webhook_url the bridge set comes back on each status event."""
    bridge = make_bridge(public_url="https://app.example.com")
    callback = bridge.status_callback_url("order-42")
    assert callback is not None
    outcome = bridge.handle_webhook(signed(FINALIZED["delivered"], url=callback))
    assert outcome.event.reference == "order-42"


# -- responses ---------------------------------------------------------------------------------
def test_telnyx_gets_a_plain_200() -> None:
    """The ack is 200 JSON; a reply is the same plain 200 (the app sends the reply itself)."""
    outcome = make_bridge().handle_webhook(signed(RECEIVED["sms"]))
    assert outcome.response.status_code == 200
    assert outcome.response.headers["Content-Type"] == "application/json"
    assert json.loads(outcome.response.body) == {"ok": True}
    reply = outcome.reply("Thanks!")
    assert reply.status_code == 200
    assert b"Thanks" not in reply.body


# -- async -------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_async_handle_matches_sync() -> None:
    """ahandle_webhook verifies, parses, de-duplicates and orders like the sync one."""
    bridge = make_bridge()
    delivered = await bridge.ahandle_webhook(signed(FINALIZED["delivered"]))
    again = await bridge.ahandle_webhook(signed(FINALIZED["delivered"]))
    late = await bridge.ahandle_webhook(signed(SENT["event"]))
    assert delivered.event.status is MessageStatus.DELIVERED
    assert again.duplicate
    assert late.stale
    with pytest.raises(StaleWebhook):
        await bridge.ahandle_webhook(signed(RECEIVED["sms"], timestamp=NOW - 3600))
