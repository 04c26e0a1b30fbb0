"""The emulator's callbacks, received and verified by the library's own webhook code.

The emulator signs status callbacks and inbound messages (Twilio HMAC-SHA1 with the account's
token, Telnyx Ed25519 with its key); a real endpoint on 127.0.0.1 verifies them with
``Bridge.handle_webhook`` and parses them into common events.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _routing_kit import Received

from smsbridge import Bridge, MessageStatus
from smsbridge.cli._endpoint import WebhookEndpoint
from smsbridge.providers import Telnyx, Twilio
from smsbridge.testing import Emulator

TWILIO_FROM = "+15005550006"
TELNYX_FROM = "+15005550007"
HANDSET = "+14155552671"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(progress_delay=0.02) as emulator:
        yield emulator


@pytest.fixture
def wired(emu: Emulator) -> Iterator[tuple[Bridge, Received]]:
    emu.reset()
    received = Received()
    endpoint = WebhookEndpoint(None, received).start()
    bridge = Bridge(
        [
            Twilio(
                emu.twilio_account_sid,
                emu.twilio_auth_token,
                from_=TWILIO_FROM,
                base_url=emu.twilio_url,
            ),
            Telnyx(
                emu.telnyx_api_key,
                public_key=emu.telnyx_public_key,
                from_=TELNYX_FROM,
                base_url=emu.telnyx_url,
            ),
        ],
        public_url=endpoint.url,
        retry=None,
    )
    endpoint.bridge = bridge
    for provider in ("twilio", "telnyx"):
        emu.set_webhook(provider, "*", endpoint.url + bridge.webhook_path)
    try:
        yield bridge, received
    finally:
        endpoint.stop()
        bridge.close()


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_status_callbacks_verify_and_carry_the_reference(
    wired: tuple[Bridge, Received], provider: str
) -> None:
    """Every status step is verified, mapped in order to common statuses, with the reference."""
    bridge, received = wired
    sms = Bridge(bridge.provider(provider), public_url=bridge.public_url, http_client=bridge.client)
    result = sms.send(to=HANDSET, body="hello", reference=f"order-{provider}")
    events = received.until_terminal(result.provider_message_id)
    assert [e.status for e in events][-2:] == [MessageStatus.SENT, MessageStatus.DELIVERED]
    assert {e.reference for e in events} == {f"order-{provider}"}
    assert {e.provider for e in events} == {provider}


@pytest.mark.parametrize(
    ("provider", "code", "category"),
    [("twilio", "30006", "invalid_recipient"), ("telnyx", "40008", "carrier_route")],
)
def test_failed_delivery_maps_the_error(
    wired: tuple[Bridge, Received], emu: Emulator, provider: str, code: str, category: str
) -> None:
    """A failed delivery ends undelivered with the provider's code classified."""
    bridge, received = wired
    emu.fault(provider, "fail_delivery", code=code, times=1)
    sms = Bridge(bridge.provider(provider), public_url=bridge.public_url, http_client=bridge.client)
    result = sms.send(to=HANDSET, body="hello")
    last = received.until_terminal(result.provider_message_id)[-1]
    assert last.status in (MessageStatus.UNDELIVERED, MessageStatus.FAILED)
    assert last.error is not None
    assert (last.error.provider_code, last.error.code) == (code, category)


@pytest.mark.parametrize(("provider", "number"), [("twilio", TWILIO_FROM), ("telnyx", TELNYX_FROM)])
def test_inbound_messages_verify_and_parse(
    wired: tuple[Bridge, Received], emu: Emulator, provider: str, number: str
) -> None:
    """A handset's message through the emulator arrives verified, with sender, text and media."""
    _, received = wired
    answer = emu.inbound(
        provider, from_=HANDSET, to=number, text="STOP", media_urls=("https://e.test/a.jpg",)
    )
    assert answer["status_code"] == 200
    event = received.inbound()
    assert (event.provider, event.from_, event.to, event.text) == (
        provider,
        HANDSET,
        number,
        "STOP",
    )
    assert [m.url for m in event.media] == ["https://e.test/a.jpg"]
    assert event.opt_out == "STOP"
