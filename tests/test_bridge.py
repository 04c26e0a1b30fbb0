"""Bridge end to end against the emulator: a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from smsbridge import (
    AuthError,
    Bridge,
    ConfigError,
    InvalidPhoneNumber,
    InvalidRequest,
    MessageStatus,
    MessageTooLong,
    OptedOut,
    ProviderUnavailable,
    RateLimited,
)
from smsbridge.providers import Telnyx, Twilio
from smsbridge.providers._base import Provider
from smsbridge.testing import Emulator, RecordingProvider
from smsbridge.transports import AiohttpSender

TWILIO_FROM = "+13125550100"
TELNYX_FROM = "+13125550101"
SERVICE_SID = "MG" + "ab" * 16
PROFILE_ID = "740572b6-099c-44a1-89b9-6c92163bc68d"
API_KEY_SID = "SK" + "5e" * 16
API_KEY_SECRET = "apikey-secret-not-for-logs-0123"
MEDIA = ["https://example.com/a.jpg", "https://example.com/b.png"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module; each test starts from a clean slate (see ``emu``)."""
    with Emulator(
        progress_delay=0,
        deliver_callbacks=False,
        twilio_api_keys={API_KEY_SID: API_KEY_SECRET},
    ) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, reset before and after the test."""
    emulator.reset()
    yield emulator
    emulator.reset()


def twilio(emu: Emulator, **kwargs: Any) -> Twilio:
    kwargs.setdefault("from_", TWILIO_FROM)
    return Twilio(emu.twilio_account_sid, emu.twilio_auth_token, base_url=emu.twilio_url, **kwargs)


def telnyx(emu: Emulator, **kwargs: Any) -> Telnyx:
    kwargs.setdefault("from_", TELNYX_FROM)
    return Telnyx(
        emu.telnyx_api_key,
        public_key=emu.telnyx_public_key,
        base_url=emu.telnyx_url,
        **kwargs,
    )


def provider(emu: Emulator, name: str, **kwargs: Any) -> Provider:
    return twilio(emu, **kwargs) if name == "twilio" else telnyx(emu, **kwargs)


def env(emu: Emulator, providers: str = "twilio,telnyx") -> dict[str, str]:
    """A complete environment for both providers, pointed at the emulator."""
    return {
        "SMSBRIDGE_PROVIDERS": providers,
        "TWILIO_ACCOUNT_SID": emu.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": emu.twilio_auth_token,
        "TWILIO_FROM": TWILIO_FROM,
        "TWILIO_BASE_URL": emu.twilio_url,
        "TWILIO_TIMEOUT": "5",
        "TELNYX_API_KEY": emu.telnyx_api_key,
        "TELNYX_PUBLIC_KEY": emu.telnyx_public_key,
        "TELNYX_FROM": TELNYX_FROM,
        "TELNYX_BASE_URL": emu.telnyx_url,
        "TELNYX_TIMEOUT": "5",
    }


class Counter:
    """httpx event hook counting the requests a client sends."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def asynchronous(self, request: httpx.Request) -> None:
        self.requests.append(request)


# -- sending -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_send_sms(emu: Emulator, name: str) -> None:
    """A sync SMS reaches the provider and comes back as a SendResult."""
    with Bridge(provider(emu, name)) as sms:
        result = sms.send(to="+14155552671", body="Your code is 123456", reference="order-42")
    (record,) = emu.messages(name)
    assert result.provider == name
    assert result.provider_message_id == record["id"]
    assert result.status is MessageStatus.QUEUED
    assert result.to == "+14155552671"
    assert result.from_ == (TWILIO_FROM if name == "twilio" else TELNYX_FROM)
    assert result.reference == "order-42"
    assert (result.segments, result.encoding) == (1, "GSM-7")
    assert [a.provider for a in result.attempts] == [name]
    assert result.attempts[0].ok
    assert (record["to"], record["text"], record["media_urls"]) == (
        "+14155552671",
        "Your code is 123456",
        [],
    )


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_send_mms(emu: Emulator, name: str) -> None:
    """A sync MMS carries its media URLs to the provider in order."""
    with Bridge(provider(emu, name)) as sms:
        result = sms.send(to="+14155552671", body="Photos", media_urls=MEDIA)
    (record,) = emu.messages(name)
    assert record["media_urls"] == MEDIA
    assert result.provider_message_id == record["id"]


@pytest.mark.anyio
@pytest.mark.parametrize("media", [[], MEDIA], ids=["sms", "mms"])
@pytest.mark.parametrize("name", ["twilio", "telnyx"])
async def test_asend(emu: Emulator, name: str, media: list[str]) -> None:
    """asend sends SMS and MMS on asyncio and trio alike."""
    async with Bridge(provider(emu, name)) as sms:
        result = await sms.asend(to="(415) 555-2671", region="US", body="Hi", media_urls=media)
    (record,) = emu.messages(name)
    assert result.provider_message_id == record["id"]
    assert record["to"] == "+14155552671"
    assert record["media_urls"] == media


@pytest.mark.anyio
async def test_concurrent_asends_share_one_client(emu: Emulator, anyio_backend: str) -> None:
    """Twenty concurrent asends all arrive, through the bridge's one pooled async client."""
    results: list[str] = []
    async with Bridge(telnyx(emu)) as sms:

        async def one(i: int) -> None:
            result = await sms.asend(to="+14155552671", body=f"message {i}")
            results.append(result.provider_message_id)

        async with anyio.create_task_group() as group:
            for i in range(20):
                group.start_soon(one, i)
        client = sms.async_client
        # The bridge's own transport: aiohttp on asyncio, httpx under trio.
        expected = AiohttpSender if anyio_backend == "asyncio" else httpx.AsyncClient
        assert isinstance(client, expected)
        assert not client.is_closed
    assert client.is_closed
    assert sorted(results) == sorted(m["id"] for m in emu.messages("telnyx"))
    assert len(set(results)) == 20


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("07400 123456", "gb", "+447400123456"),
        ("030 901820", "DE", "+4930901820"),
        ("+1 415-555-2671", None, "+14155552671"),
    ],
)
def test_national_numbers_are_sent_as_e164(
    emu: Emulator, raw: str, region: str | None, e164: str
) -> None:
    """A national `to` with a region is normalised to E.164 before it is sent."""
    with Bridge(twilio(emu)) as sms:
        result = sms.send(to=raw, region=region, body="hi")
    assert result.to == e164
    assert emu.messages("twilio")[0]["to"] == e164


def test_invalid_number_is_refused_before_any_request(emu: Emulator) -> None:
    """An invalid `to` raises InvalidPhoneNumber and nothing reaches the server."""
    counter = Counter()
    with httpx.Client(event_hooks={"request": [counter]}) as client:
        sms = Bridge(twilio(emu), http_client=client)
        with pytest.raises(InvalidPhoneNumber):
            sms.send(to="555-2671", body="hi")
        with pytest.raises(InvalidPhoneNumber):
            sms.send(to="(415) 555-2671", body="hi")  # national, but no region
    assert counter.requests == []
    assert emu.messages() == []


def test_body_over_1600_characters_is_refused_before_any_request(emu: Emulator) -> None:
    """A body over 1600 characters raises MessageTooLong and the server sees nothing."""
    counter = Counter()
    with httpx.Client(event_hooks={"request": [counter]}) as client:
        sms = Bridge(twilio(emu), http_client=client)
        with pytest.raises(MessageTooLong) as info:
            sms.send(to="+14155552671", body="a" * 1601)
        assert info.value.failure == "rejected"
        assert isinstance(info.value, ValueError)
        sms.send(to="+14155552671", body="a" * 1600)
    assert len(counter.requests) == 1
    assert [len(m["text"]) for m in emu.messages()] == [1600]


def test_empty_message_is_refused_before_any_request(emu: Emulator) -> None:
    """A message with neither body nor media raises InvalidRequest without a request."""
    with Bridge(twilio(emu)) as sms, pytest.raises(InvalidRequest):
        sms.send(to="+14155552671", body="")
    assert emu.messages() == []


@pytest.mark.parametrize(
    "bad",
    [
        {"body": 123},
        {"from_": 5},
        {"reference": 42},
        {"idempotency_key": 7},
        {"status_callback": b"https://x"},
        {"media_urls": "https://example.com/a.jpg"},
        {"media_urls": 5},
        {"media_urls": [1]},
        {"media_urls": ["ftp://example.com/a.jpg"]},
        {"media_urls": ["https:///a.jpg"]},
        {"media_urls": ["/relative/a.jpg"]},
        {"media_urls": ["https://example.com/a b.jpg"]},
        {"media_urls": ["https://example.com/a.jpg\r\nX-Injected: 1"]},
        {"media_urls": ["https://example.com/\x00.jpg"]},
        {"media_urls": ["https://[/a.jpg"]},
        {"media_urls": [f"https://example.com/{i}.jpg" for i in range(11)]},
        {"body": "lone \ud800 surrogate"},
        {"reference": "\udcff"},
    ],
    ids=lambda bad: next(iter(bad)),
)
def test_bad_arguments_are_typed_errors_before_any_request(
    emu: Emulator, bad: dict[str, Any]
) -> None:
    """An argument of the wrong type raises InvalidRequest (rejected), never another error."""
    with Bridge(twilio(emu)) as sms, pytest.raises(InvalidRequest) as info:
        sms.send(**{"to": "+14155552671", "body": "hi", **bad})
    assert info.value.failure == "rejected"
    assert emu.messages() == []


def test_media_only_mms_with_body_none(emu: Emulator) -> None:
    """body=None with media sends a media-only MMS."""
    with Bridge(twilio(emu)) as sms:
        sms.send(to="+14155552671", body=None, media_urls=MEDIA)  # type: ignore[arg-type]
    (record,) = emu.messages("twilio")
    assert (record["text"], record["media_urls"]) == ("", MEDIA)


def test_more_than_ten_segments_warns(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    """A body over 10 segments is sent, with a logged warning and a warning on the result."""
    with Bridge(twilio(emu)) as sms, caplog.at_level(logging.WARNING, logger="smsbridge"):
        result = sms.send(to="+14155552671", body="a" * 1531)  # 11 GSM-7 segments
    assert result.segments == 11
    (warning,) = result.warnings
    assert "11" in warning
    records = [r for r in caplog.records if r.name == "smsbridge" and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in records] == [warning]


def test_ten_segments_do_not_warn(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    """Exactly 10 segments is sent without a warning."""
    with Bridge(twilio(emu)) as sms, caplog.at_level(logging.WARNING, logger="smsbridge"):
        result = sms.send(to="+14155552671", body="a" * 1530)
    assert result.segments == 10
    assert result.warnings == ()
    assert not [r for r in caplog.records if r.name == "smsbridge"]


# -- failures from a real server -----------------------------------------------------------


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_opted_out_recipient_is_rejected(emu: Emulator, name: str) -> None:
    """The provider's opt-out answer becomes OptedOut, rejected, with one attempt."""
    emu.opt_out(name, "+14155552671")
    with Bridge(provider(emu, name)) as sms, pytest.raises(OptedOut) as info:
        sms.send(to="+14155552671", body="hi")
    error = info.value
    assert error.failure == "rejected"
    assert error.provider == name
    assert error.provider_code == ("21610" if name == "twilio" else "40300")
    assert [a.provider for a in error.attempts] == [name]
    assert error.attempts[0].error is error


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_rate_limit_carries_retry_after(emu: Emulator, name: str) -> None:
    """A 429 from the server becomes RateLimited with the server's retry_after."""
    emu.fault(name, "rate_limit", times=1, retry_after=7)
    with Bridge(provider(emu, name), retry=None) as sms, pytest.raises(RateLimited) as info:
        sms.send(to="+14155552671", body="hi")
    assert info.value.retry_after == 7.0
    assert info.value.http_status == 429
    assert info.value.failure == "refused"


def test_wrong_credentials_are_an_auth_error(emu: Emulator) -> None:
    """A wrong auth token is refused by the server as AuthError."""
    bad = Twilio(emu.twilio_account_sid, "wrong-token", from_=TWILIO_FROM, base_url=emu.twilio_url)
    with Bridge(bad, retry=None) as sms, pytest.raises(AuthError) as info:
        sms.send(to="+14155552671", body="hi")
    assert info.value.failure == "refused"
    assert "wrong-token" not in str(info.value)


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_refused_connection_is_refused(emu: Emulator, name: str) -> None:
    """A provider that refuses connections gives ProviderUnavailable, refused."""
    emu.fault(name, "refuse")
    try:
        with (
            Bridge(provider(emu, name), retry=None) as sms,
            pytest.raises(ProviderUnavailable) as info,
        ):
            sms.send(to="+14155552671", body="hi")
    finally:
        emu.clear_faults()
    assert info.value.failure == "refused"
    assert emu.messages() == []


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_configured_timeout_reaches_the_client(emu: Emulator, name: str) -> None:
    """A server slower than a 0.2 s timeout gives ProviderUnavailable, ambiguous."""
    emu.fault(name, "latency", seconds=1.0, times=1)
    # retry=None: the router may retry an ambiguous Telnyx send (Idempotency-Key); test the shell.
    sms = Bridge(provider(emu, name, timeout=0.2), retry=None)
    with sms, pytest.raises(ProviderUnavailable) as info:
        sms.send(to="+14155552671", body="hi")
    assert info.value.failure == "ambiguous"


@pytest.mark.anyio
async def test_configured_timeout_reaches_the_async_client(emu: Emulator) -> None:
    """The async path honours the configured timeout too: ambiguous."""
    emu.fault("telnyx", "latency", seconds=1.0, times=1)
    async with Bridge(telnyx(emu, timeout=0.2), retry=None) as sms:
        with pytest.raises(ProviderUnavailable) as info:
            await sms.asend(to="+14155552671", body="hi")
    assert info.value.failure == "ambiguous"


def test_timeout_from_the_environment_reaches_the_client(emu: Emulator) -> None:
    """TWILIO_TIMEOUT from the environment bounds the wait: ambiguous after 0.2 s."""
    emu.fault("twilio", "latency", seconds=1.0, times=1)
    settings = {**env(emu, "twilio"), "TWILIO_TIMEOUT": "0.2"}
    with Bridge.from_env(settings, retry=None) as sms, pytest.raises(ProviderUnavailable) as info:
        sms.send(to="+14155552671", body="hi")
    assert info.value.failure == "ambiguous"


# -- clients and lifecycle -----------------------------------------------------------------


def test_context_manager_closes_its_own_client(emu: Emulator) -> None:
    """Leaving `with` closes the pooled client the bridge created."""
    with Bridge(twilio(emu)) as sms:
        sms.send(to="+14155552671", body="hi")
        client = sms.client
        assert isinstance(client, httpx.Client)
        assert not client.is_closed
    assert client.is_closed


@pytest.mark.anyio
async def test_async_context_manager_closes_its_own_clients(
    emu: Emulator, anyio_backend: str
) -> None:
    """Leaving `async with` closes the async client (and a sync one) the bridge created."""
    async with Bridge(twilio(emu)) as sms:
        await sms.asend(to="+14155552671", body="hi")
        aclient, client = sms.async_client, sms.client
        expected = AiohttpSender if anyio_backend == "asyncio" else httpx.AsyncClient
        assert isinstance(aclient, expected)
        assert isinstance(client, httpx.Client)
    assert aclient.is_closed
    assert client.is_closed


def test_injected_client_is_used_and_not_closed(emu: Emulator) -> None:
    """A client the caller injects sends the requests and stays open after the bridge closes."""
    counter = Counter()
    with httpx.Client(event_hooks={"request": [counter]}) as client:
        with Bridge(twilio(emu), http_client=client) as sms:
            sms.send(to="+14155552671", body="hi")
            assert sms.client is client
        assert not client.is_closed
        assert len(counter.requests) == 1
        sms.send(to="+14155552671", body="again")  # still usable
        assert len(counter.requests) == 2


@pytest.mark.anyio
async def test_injected_async_client_is_used_and_not_closed(emu: Emulator) -> None:
    """An injected async client sends the requests and stays open after aclose."""
    counter = Counter()
    async with httpx.AsyncClient(event_hooks={"request": [counter.asynchronous]}) as client:
        async with Bridge(telnyx(emu), async_http_client=client) as sms:
            await sms.asend(to="+14155552671", body="hi")
            assert sms.async_client is client
        assert not client.is_closed
        assert len(counter.requests) == 1


# -- configuration -------------------------------------------------------------------------


def test_from_env_reads_the_store(emu: Emulator, tmp_path: Path) -> None:
    """SMSBRIDGE_STORE picks the store: a SQLite file keeps a key across bridges (processes),
    memory: is the default."""
    from smsbridge.stores import MemoryStore, SQLiteStore

    assert isinstance(Bridge.from_env(env(emu)).store, MemoryStore)
    assert isinstance(
        Bridge.from_env({**env(emu), "SMSBRIDGE_STORE": "memory:"}).store, MemoryStore
    )
    settings = {**env(emu), "SMSBRIDGE_STORE": f"sqlite:///{tmp_path / 'sms.db'}"}
    with Bridge.from_env(settings) as first:
        assert isinstance(first.store, SQLiteStore)
        sent = first.send(to="+14155552671", body="once", idempotency_key="env-store-1")
    with Bridge.from_env(settings) as second:
        again = second.send(to="+14155552671", body="once", idempotency_key="env-store-1")
    assert again.provider_message_id == sent.provider_message_id
    assert len(emu.messages()) == 1
    assert (tmp_path / "sms.db").exists()


def test_a_password_in_a_bad_store_url_is_never_shown(emu: Emulator) -> None:
    """A malformed store URL's password stays out of the error."""
    with pytest.raises(ConfigError) as info:
        Bridge.from_env({**env(emu), "SMSBRIDGE_STORE": "redis://:hunter2@[::1/0"})
    assert "hunter2" not in str(info.value)
    assert info.value.variable == "SMSBRIDGE_STORE"


def test_receive_only_providers_verify_webhooks_but_never_send(emu: Emulator) -> None:
    """SMSBRIDGE_RECEIVE_ONLY keeps the old vendor's webhooks (late status callbacks) while
    every send goes through SMSBRIDGE_PROVIDERS."""
    from smsbridge import WebhookRequest
    from smsbridge.testing import sign_twilio

    settings = {**env(emu), "SMSBRIDGE_PROVIDERS": "telnyx", "SMSBRIDGE_RECEIVE_ONLY": "twilio"}
    with Bridge.from_env(settings) as sms:
        assert [p.name for p in sms.providers] == ["telnyx"]
        assert [p.name for p in sms.webhook_providers] == ["telnyx", "twilio"]
        assert sms.send(to="+14155552671", body="hi").provider == "telnyx"
        url = "https://app.example.com/sms/webhook"
        params = [("MessageSid", "SM" + "b" * 32), ("MessageStatus", "delivered")]
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **sign_twilio(url, params, auth_token=emu.twilio_auth_token),
        }
        from urllib.parse import urlencode

        body = urlencode(params).encode()
        outcome = sms.handle_webhook(WebhookRequest("POST", url, headers, body))
        assert outcome.provider == "twilio"
        with pytest.raises(ConfigError):
            sms.provider("twilio")  # not a sender
    assert emu.messages("twilio") == []
    config = {"providers": ["telnyx"], "receive_only": ["twilio"], "telnyx": {"api_key": "K"}}
    config["twilio"] = {"account_sid": emu.twilio_account_sid, "auth_token": "t"}  # type: ignore[assignment]
    assert [p.name for p in Bridge.from_config(config).webhook_providers] == ["telnyx", "twilio"]


def test_a_webhook_to_a_recording_provider_is_a_typed_error() -> None:
    """A RecordingProvider (even one named like a real provider) cannot verify webhooks:
    UnknownProvider, never AttributeError."""
    from smsbridge import UnknownProvider, WebhookRequest
    from smsbridge.testing import RecordingProvider, sign_twilio

    url = "https://app.example.com/sms/webhook"
    params = [("MessageSid", "SM1"), ("From", "+1"), ("To", "+2")]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign_twilio(url, params, auth_token="t"),
    }
    from urllib.parse import urlencode

    request = WebhookRequest("POST", url, headers, urlencode(params).encode())
    for name in ("recording", "twilio", "telnyx"):
        with pytest.raises(UnknownProvider):
            RecordingProvider(name).bridge().handle_webhook(request)


def test_from_env_reads_os_environ(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bridge.from_env() reads the process environment and sends through the first provider."""
    for key, value in env(emu, "telnyx,twilio").items():
        monkeypatch.setenv(key, value)
    with Bridge.from_env() as sms:
        assert [p.name for p in sms.providers] == ["telnyx", "twilio"]
        result = sms.send(to="+14155552671", body="hi")
    assert result.provider == "telnyx"
    assert len(emu.messages("telnyx")) == 1


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_swapping_vendors_is_a_change_of_smsbridge_providers(emu: Emulator, name: str) -> None:
    """With every variable set, SMSBRIDGE_PROVIDERS alone decides where messages go."""
    with Bridge.from_env(env(emu, name)) as sms:
        result = sms.send(to="+14155552671", body="hi")
    assert result.provider == name
    assert [m["provider"] for m in emu.messages()] == [name]


def test_from_env_settings_reach_the_providers(emu: Emulator) -> None:
    """Every variable ends up on the provider it configures."""
    settings = {
        **env(emu),
        "TWILIO_MESSAGING_SERVICE_SID": SERVICE_SID,
        "TWILIO_API_KEY": API_KEY_SID,
        "TWILIO_API_SECRET": API_KEY_SECRET,
        "TELNYX_MESSAGING_PROFILE_ID": PROFILE_ID,
        "TWILIO_TIMEOUT": "3",
        "TELNYX_TIMEOUT": "4.5",
        "TWILIO_SHARED_KEYS": "KSaaa=secret-one, KSbbb=secret-two",
    }
    sms = Bridge.from_env(settings)
    tw, tx = sms.provider("twilio"), sms.provider("telnyx")
    assert isinstance(tw, Twilio)
    assert isinstance(tx, Telnyx)
    assert (tw.account_sid, tw.auth_token, tw.from_) == (
        emu.twilio_account_sid,
        emu.twilio_auth_token,
        TWILIO_FROM,
    )
    assert (tw.messaging_service_sid, tw.api_key, tw.base_url) == (
        SERVICE_SID,
        API_KEY_SID,
        emu.twilio_url,
    )
    assert (tx.from_, tx.public_key, tx.messaging_profile_id, tx.base_url) == (
        TELNYX_FROM,
        emu.telnyx_public_key,
        PROFILE_ID,
        emu.telnyx_url,
    )
    assert tw.timeout == httpx.Timeout(3.0)
    assert tx.timeout == httpx.Timeout(4.5)
    assert tw.shared_keys == {"KSaaa": "secret-one", "KSbbb": "secret-two"}


def test_api_key_from_env_authenticates(emu: Emulator) -> None:
    """TWILIO_API_KEY/TWILIO_API_SECRET authenticate the send instead of the auth token."""
    settings = {
        **env(emu, "twilio"),
        "TWILIO_API_KEY": API_KEY_SID,
        "TWILIO_API_SECRET": API_KEY_SECRET,
    }
    with Bridge.from_env(settings) as sms:
        assert sms.send(to="+14155552671", body="hi").provider == "twilio"
    settings["TWILIO_API_SECRET"] = "not-the-secret"
    with Bridge.from_env(settings, retry=None) as sms, pytest.raises(AuthError):
        sms.send(to="+14155552671", body="hi")


@pytest.mark.parametrize("name", ["twilio", "telnyx"])
def test_sender_pool_without_from(emu: Emulator, name: str) -> None:
    """Without a FROM, the messaging service or profile sends the message."""
    settings = env(emu, name)
    del settings["TWILIO_FROM"], settings["TELNYX_FROM"]
    settings["TWILIO_MESSAGING_SERVICE_SID"] = SERVICE_SID
    settings["TELNYX_MESSAGING_PROFILE_ID"] = PROFILE_ID
    with Bridge.from_env(settings) as sms:
        sms.send(to="+14155552671", body="hi")
    (record,) = emu.messages(name)
    assert record["sender_pool"] == (SERVICE_SID if name == "twilio" else PROFILE_ID)


def test_from_config_nested_mapping(emu: Emulator) -> None:
    """from_config accepts nested per-provider keyword arguments (a parsed TOML file)."""
    config = {
        "providers": ["telnyx"],
        "telnyx": {"api_key": emu.telnyx_api_key, "from_": TELNYX_FROM, "base_url": emu.telnyx_url},
    }
    with Bridge.from_config(config) as sms:
        assert sms.send(to="+14155552671", body="hi").provider == "telnyx"
    assert len(emu.messages("telnyx")) == 1


def test_from_config_flat_mapping_is_the_environment_format(emu: Emulator) -> None:
    """from_config with the environment's variable names builds the same bridge."""
    a, b = Bridge.from_config(env(emu)), Bridge.from_env(env(emu))
    assert [repr(p) for p in a.providers] == [repr(p) for p in b.providers]


@pytest.mark.parametrize(
    "variable",
    ["SMSBRIDGE_PROVIDERS", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TELNYX_API_KEY"],
)
def test_missing_variable_raises_config_error_naming_it(emu: Emulator, variable: str) -> None:
    """A missing required variable raises ConfigError naming it."""
    settings = env(emu)
    del settings[variable]
    with pytest.raises(ConfigError) as info:
        Bridge.from_env(settings)
    assert info.value.variable == variable
    assert variable in str(info.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMSBRIDGE_PROVIDERS", "twilio,nexmo"),
        ("SMSBRIDGE_PROVIDERS", " , "),
        ("SMSBRIDGE_PROVIDERS", "twilio,twilio"),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("TWILIO_ACCOUNT_SID", "SK" + "0" * 32),
        ("TWILIO_ACCOUNT_SID", "AC" + "0" * 32 + "\n"),
        ("TWILIO_AUTH_TOKEN", "token with spaces"),
        ("TWILIO_AUTH_TOKEN", "token\n"),
        ("TWILIO_FROM", "not a number!"),
        ("TWILIO_FROM", "(312) 555-0100"),
        ("TWILIO_MESSAGING_SERVICE_SID", "MG123"),
        ("TWILIO_API_KEY", "SK123"),
        ("TWILIO_BASE_URL", "ftp://127.0.0.1"),
        ("TWILIO_TIMEOUT", "soon"),
        ("TWILIO_TIMEOUT", "-1"),
        ("TWILIO_TIMEOUT", "0"),
        ("TWILIO_TIMEOUT", "nan"),
        ("TWILIO_TIMEOUT", "inf"),
        ("TWILIO_TIMEOUT", "1e400"),
        ("TELNYX_TIMEOUT", "1e9"),
        ("TELNYX_API_KEY", "KEYé"),
        ("TELNYX_PUBLIC_KEY", "not-base64"),
        ("TELNYX_PUBLIC_KEY", "AAAA"),
        ("TELNYX_FROM", "+1"),
        ("TELNYX_MESSAGING_PROFILE_ID", "profile-1"),
        ("TELNYX_BASE_URL", "api.telnyx.com"),
        ("TELNYX_BASE_URL", "http://[::1"),
        ("TELNYX_TIMEOUT", "nan-seconds"),
        ("TWILIO_SHARED_KEYS", "KSaaa"),
        ("TWILIO_SHARED_KEYS", "=secret"),
        ("TELNYX_BASE_URL", "https://api.telnyx.com/v2"),
        ("TWILIO_BASE_URL", "https://api.twilio.com/2010-04-01"),
        ("SMSBRIDGE_STORE", "postgres://db/sms"),
        ("SMSBRIDGE_STORE", "sqlite://"),
        ("SMSBRIDGE_STORE", "redis"),
        ("SMSBRIDGE_RECEIVE_ONLY", "vonagee"),
        ("SMSBRIDGE_RECEIVE_ONLY", "twilio"),
    ],
)
def test_malformed_variable_raises_config_error_naming_it(
    emu: Emulator, variable: str, value: str
) -> None:
    """A malformed variable raises ConfigError naming it."""
    settings = {**env(emu), variable: value}
    if variable == "TWILIO_API_KEY":
        settings["TWILIO_API_SECRET"] = API_KEY_SECRET
    with pytest.raises(ConfigError) as info:
        Bridge.from_env(settings)
    assert info.value.variable == variable
    assert variable in str(info.value)


@pytest.mark.parametrize(
    "timeout", ["5", float("nan"), -1, 0, True, httpx.Timeout(5.0, read=float("inf"))]
)
def test_unusable_timeout_in_code_is_a_config_error(emu: Emulator, timeout: Any) -> None:
    """A timeout that is not a positive finite number raises ConfigError when built."""
    with pytest.raises(ConfigError) as info:
        telnyx(emu, timeout=timeout)
    assert info.value.variable == "TELNYX_TIMEOUT"


def test_api_key_without_secret_names_the_secret(emu: Emulator) -> None:
    """TWILIO_API_KEY without TWILIO_API_SECRET names the missing secret."""
    with pytest.raises(ConfigError) as info:
        Bridge.from_env({**env(emu), "TWILIO_API_KEY": API_KEY_SID})
    assert info.value.variable == "TWILIO_API_SECRET"


def test_nested_config_missing_key_names_the_variable() -> None:
    """A nested config without a required key names the variable to set."""
    with pytest.raises(ConfigError) as info:
        Bridge.from_config({"providers": ["twilio"], "twilio": {"auth_token": "t"}})
    assert info.value.variable == "TWILIO_ACCOUNT_SID"


def test_send_without_a_sender_names_the_variable(emu: Emulator) -> None:
    """A provider with neither FROM nor a sender pool raises ConfigError at send time."""
    settings = env(emu, "twilio")
    del settings["TWILIO_FROM"]
    with Bridge.from_env(settings) as sms, pytest.raises(ConfigError) as info:
        sms.send(to="+14155552671", body="hi")
    assert info.value.variable == "TWILIO_FROM"
    assert emu.messages() == []


# -- secrets -------------------------------------------------------------------------------


def test_reprs_hide_secrets(emu: Emulator) -> None:
    """Reprs of the bridge, providers, results and errors never show a credential."""
    secrets = (emu.twilio_auth_token, emu.telnyx_api_key, API_KEY_SECRET)
    settings = {**env(emu), "TWILIO_API_KEY": API_KEY_SID, "TWILIO_API_SECRET": API_KEY_SECRET}
    emu.opt_out("telnyx", "+14155552672")
    with Bridge.from_env(settings) as sms:
        result = sms.send(to="+14155552671", body="hi", idempotency_key=uuid.uuid4().hex)
        with pytest.raises(OptedOut) as info:
            Bridge(sms.provider("telnyx")).send(to="+14155552672", body="hi")
        texts = [
            repr(sms),
            str(sms),
            repr(sms.providers),
            repr(sms.policy),
            repr(result),
            str(result),
            repr(info.value),
            str(info.value),
            repr(info.value.attempts),
        ]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert "twilio" in repr(sms)


@pytest.mark.parametrize("proxy", ["proxy.internal", "10.0.0.0/33", ""])
def test_bad_trusted_proxy_is_a_config_error_at_start(proxy: str) -> None:
    """A trusted_proxies entry that is not an address or network fails when the bridge is built."""
    with pytest.raises(ConfigError) as info:
        Bridge(RecordingProvider(), trusted_proxies=[proxy])
    assert info.value.variable == "trusted_proxies"


@pytest.mark.parametrize("name", ["webhook_tolerance", "max_body_size", "dedupe_ttl"])
@pytest.mark.parametrize("value", [0, -1, float("nan"), "5", True])
def test_webhook_numbers_must_be_positive(name: str, value: Any) -> None:
    """Webhook limits must be positive numbers, named in the error."""
    with pytest.raises(ConfigError) as info:
        Bridge(RecordingProvider(), **{name: value})
    assert info.value.variable == name


def test_clock_decides_telnyx_staleness() -> None:
    """The bridge's clock is what a Telnyx timestamp is compared with."""
    from smsbridge import StaleWebhook, WebhookRequest
    from smsbridge.testing import make_telnyx_keypair, sign_telnyx

    pair = make_telnyx_keypair(b"\x01" * 32)
    body = b'{"data":{"event_type":"message.received","id":"e1","payload":{}}}'
    headers = sign_telnyx(body, signing_key=pair, timestamp=1_000_000)
    sms = Bridge(Telnyx("KEY1", public_key=pair.public_key_b64), clock=lambda: 1_000_301.0)
    with pytest.raises(StaleWebhook):
        sms.handle_webhook(WebhookRequest("POST", "https://a.test/hook", headers, body))


def test_default_async_sender_closes_with_its_loop(emu: Emulator) -> None:
    """A bridge never closed still leaves no open aiohttp session once asyncio.run ends (the
    loop's shutdown closes it), and the next asyncio.run gets a working session again."""
    import asyncio

    sms = Bridge(twilio(emu))

    async def once() -> AiohttpSender:
        await sms.asend(to="+14155552671", body="hi")
        sender = sms.async_client
        assert isinstance(sender, AiohttpSender)
        assert not sender.is_closed
        return sender

    sender = asyncio.run(once())
    assert sender.is_closed
    assert asyncio.run(once()) is sender
    assert sender.is_closed
    assert len(emu.messages("twilio")) == 2
