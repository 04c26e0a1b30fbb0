"""``send_many`` / ``asend_many`` against the emulator: one item per input, bounded concurrency,
flat memory (inputs pulled as needed), failover per message, and never raising mid-stream."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from _routing_kit import TO, emu, emulator, telnyx, twilio

from smsbridge import Bridge, ConfigError, OutboundMessage
from smsbridge.bulk import BulkItem, BulkProgress, job_key
from smsbridge.stores import SQLiteStore
from smsbridge.testing.emulator import Emulator

__all__ = ["emu", "emulator"]  # the fixtures, re-exported so pytest finds them


def numbers(n: int) -> list[dict[str, Any]]:
    return [{"to": f"+1415555{i:04d}", "body": f"hello {i}"} for i in range(n)]


def received(emu: Emulator, provider: str = "twilio") -> list[tuple[str, str]]:
    return [(m["to"], m["text"]) for m in emu.messages(provider)]


def test_send_many_one_item_per_input(emu: Emulator) -> None:
    """Good and bad inputs each give exactly one item, matched by index, none raising."""
    good = numbers(30)
    bad: list[Any] = [
        {"to": "not a number", "body": "x"},
        {"to": TO, "body": "x", "colour": "red"},
        {"body": "no recipient"},
        {"to": TO},
        42,
    ]
    built = Bridge(twilio(emu)).message(TO, "built")
    with Bridge(twilio(emu)) as sms:
        items = list(sms.send_many([*good, *bad, built], concurrency=4))
    assert sorted(item.index for item in items) == list(range(36))
    by_index = {item.index: item for item in items}
    assert all(by_index[i].ok and by_index[i].input is good[i] for i in range(30))
    codes = [by_index[30 + i].error.code for i in range(5)]  # type: ignore[union-attr]
    assert codes == [
        "invalid_phone_number",
        "invalid_request",
        "invalid_request",
        "invalid_request",
        "invalid_request",
    ]
    assert "colour" in str(by_index[31].error)
    assert by_index[35].ok
    assert by_index[35].message is built
    assert sorted(received(emu)) == sorted([(m["to"], m["body"]) for m in good] + [(TO, "built")])


def test_from_column_is_from_(emu: Emulator) -> None:
    """A mapping may say ``from`` (as a CSV column does); giving both is refused."""
    with Bridge(twilio(emu, senders=("+15005550006",))) as sms:
        items = list(
            sms.send_many(
                [
                    {"to": TO, "body": "a", "from": "+15005550006"},
                    {"to": TO, "body": "b", "from": "+15005550006", "from_": "+15017122661"},
                ]
            )
        )
    by_index = {item.index: item for item in items}
    assert by_index[0].ok
    assert by_index[0].result.from_ == "+15005550006"
    assert by_index[1].error is not None
    assert by_index[1].error.code == "invalid_request"


@pytest.mark.anyio
async def test_asend_many_async_iterable_and_progress(emu: Emulator) -> None:
    """An async generator feeds asend_many; progress counts every item."""

    async def feed() -> AsyncIterator[dict[str, Any]]:
        for message in numbers(40):
            yield message
        yield {"to": "12", "body": "bad"}

    seen: list[int] = []

    def on_progress(progress: BulkProgress) -> None:
        seen.append(progress.done)

    async with Bridge(twilio(emu)) as sms:
        items = [item async for item in sms.asend_many(feed(), on_progress=on_progress)]
    assert len(items) == 41
    assert seen == list(range(1, 42))
    assert sum(item.ok for item in items) == 40
    assert len(received(emu)) == 40


class _Gauge:
    """An async transport that answers like Twilio after a pause, counting requests in flight."""

    def __init__(self) -> None:
        self.now = self.most = self.total = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.total += 1
        self.most = max(self.most, self.now)
        await anyio.sleep(0.01)
        self.now -= 1
        return httpx.Response(
            201,
            json={"sid": f"SM{self.total:032d}", "status": "queued", "to": TO, "num_segments": "1"},
        )


@pytest.mark.anyio
async def test_asend_many_bounded_and_lazy() -> None:
    """At most ``concurrency`` requests in flight, and inputs are pulled only as needed: the
    generator is never more than a few buffers ahead of what has been yielded."""
    from smsbridge.providers import Twilio

    gauge = _Gauge()
    pulled = 0

    def feed() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for message in numbers(2000):
            pulled += 1
            yield message

    client = httpx.AsyncClient(transport=httpx.MockTransport(gauge.handler))
    provider = Twilio("AC" + "0" * 32, "t" * 32, from_="+15017122661")
    ahead = 0
    async with Bridge(provider, async_http_client=client) as sms:
        count = 0
        async for _ in sms.asend_many(feed(), concurrency=8):
            count += 1
            ahead = max(ahead, pulled - count)
    await client.aclose()
    assert count == 2000
    assert gauge.total == 2000
    assert gauge.most == 8
    assert ahead <= 8 + 8 + 1  # in flight + waiting in the buffer + the one being taken


def test_send_many_fails_over_per_message(emu: Emulator) -> None:
    """A refused provider sends nothing; every message fails over to the next."""
    emu.fault("twilio", "refuse")
    with Bridge([twilio(emu), telnyx(emu)], breaker=None) as sms:
        items = list(sms.send_many(numbers(10), concurrency=3))
    assert all(item.ok and item.result.provider == "telnyx" for item in items)  # type: ignore[union-attr]
    assert len(emu.messages("telnyx")) == 10
    assert emu.messages("twilio") == []


def test_errors_of_the_input_iterable_are_raised_after_the_items(emu: Emulator) -> None:
    """The caller's iterable raising is the caller's error: raised once what came before is out."""

    def feed() -> Iterator[dict[str, Any]]:
        yield from numbers(5)
        raise LookupError("the source broke")

    got: list[BulkItem] = []

    def consume(sms: Bridge) -> None:
        for item in sms.send_many(feed(), concurrency=2):
            got.append(item)

    with Bridge(twilio(emu)) as sms, pytest.raises(LookupError, match="source broke"):
        consume(sms)
    assert len(got) == 5
    assert all(item.ok for item in got)


@pytest.mark.parametrize("value", [0, -1, 1001, 1.5, True, "4"])
def test_bad_concurrency_is_a_config_error(value: Any) -> None:
    from smsbridge.providers import Twilio

    sms = Bridge(Twilio("AC" + "0" * 32, "t" * 32, from_="+15017122661"))
    with pytest.raises(ConfigError) as info:
        sms.send_many([], concurrency=value)
    assert info.value.variable == "concurrency"
    with pytest.raises(ConfigError):
        sms.asend_many([], concurrency=value)


@pytest.mark.parametrize("job", ["", "x" * 101, "tab\there", 7])
def test_bad_job_name_is_a_config_error(job: Any) -> None:
    from smsbridge.providers import Twilio

    sms = Bridge(Twilio("AC" + "0" * 32, "t" * 32, from_="+15017122661"))
    with pytest.raises(ConfigError) as info:
        sms.send_many([], job=job)
    assert info.value.variable == "job"


def test_job_rerun_resumes_and_sends_only_what_is_new(emu: Emulator, tmp_path: Path) -> None:
    """A finished job run again sends nothing and returns the stored results; a changed
    message at a position is a new message; the same text twice in the input goes out twice."""
    store_path = tmp_path / "state.db"
    messages = [*numbers(20), {"to": TO, "body": "twice"}, {"to": TO, "body": "twice"}]
    with Bridge(twilio(emu), store=SQLiteStore(store_path)) as sms:
        first = {item.index: item for item in sms.send_many(messages, job="promo")}
    assert all(item.ok and not item.resumed for item in first.values())
    assert len(received(emu)) == 22

    messages[3] = {"to": TO, "body": "changed"}
    with Bridge(twilio(emu), store=SQLiteStore(store_path)) as sms:
        second = {item.index: item for item in sms.send_many(messages, job="promo")}
    assert len(received(emu)) == 23
    assert received(emu)[-1] == (TO, "changed")
    assert not second[3].resumed
    assert second[3].ok
    resumed = [i for i, item in second.items() if item.resumed]
    assert sorted(resumed) == [i for i in range(22) if i != 3]
    assert second[0].result.provider_message_id == first[0].result.provider_message_id  # type: ignore[union-attr]

    with Bridge(twilio(emu), store=SQLiteStore(store_path)) as sms:
        other = list(sms.send_many(messages[:2], job="another-job"))
    assert all(not item.resumed for item in other)  # another job's keys are its own
    assert len(received(emu)) == 25


def test_job_key_depends_on_job_position_and_content() -> None:
    a = OutboundMessage(to=TO, body="x")
    assert job_key("j", 0, a) == job_key("j", 0, OutboundMessage(to=TO, body="x"))
    assert len({job_key("j", 0, a), job_key("k", 0, a), job_key("j", 1, a)}) == 3
    assert job_key("j", 0, a) != job_key("j", 0, OutboundMessage(to=TO, body="y"))


def test_callers_idempotency_key_wins_in_a_job(emu: Emulator, tmp_path: Path) -> None:
    """A message's own idempotency key is kept: a plain send with it is the same message."""
    store = SQLiteStore(tmp_path / "state.db")
    with Bridge(twilio(emu), store=store) as sms:
        first = sms.send(to=TO, body="otp", idempotency_key="otp-1")
        (item,) = sms.send_many([{"to": TO, "body": "otp", "idempotency_key": "otp-1"}], job="j")
    assert item.resumed
    assert item.result.provider_message_id == first.provider_message_id
    assert len(received(emu)) == 1


def test_send_many_honours_a_given_sync_client(emu: Emulator) -> None:
    """A bridge given its own sync client sends on it (threads), not on a transport of ours."""
    seen: list[str] = []
    hooks = {"request": [lambda r: seen.append(r.method)]}
    with httpx.Client(event_hooks=hooks) as client, Bridge(twilio(emu), http_client=client) as sms:
        items = list(sms.send_many(numbers(12), concurrency=3))
    assert all(item.ok for item in items)
    assert seen == ["POST"] * 12
    assert len(received(emu)) == 12


@pytest.mark.parametrize("given_client", [False, True])
def test_send_many_stopped_early_takes_no_new_input(emu: Emulator, given_client: bool) -> None:
    """Leaving the loop early: the sends in flight finish, nothing new is taken."""
    pulled = 0

    def feed() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for message in numbers(500):
            pulled += 1
            yield message

    client = httpx.Client() if given_client else None
    with Bridge(twilio(emu), http_client=client) as sms:
        for item in sms.send_many(feed(), concurrency=4):
            assert item.ok
            break
    if client is not None:
        client.close()
    sent = len(received(emu))
    assert 1 <= sent <= pulled <= 1 + 4 + 4 + 1  # the item, in flight, buffered, being taken
    assert sent == pulled  # every message taken was sent: none lost half-way


@pytest.mark.anyio
async def test_asend_many_stopped_early_cancels_the_rest(emu: Emulator, tmp_path: Path) -> None:
    """Leaving asend_many early cancels the sends in flight; rerunning the job afterwards
    sends each message at most once."""
    emu.fault("twilio", "latency", seconds=0.2)
    store = SQLiteStore(tmp_path / "state.db")
    sms = Bridge(twilio(emu), store=store)
    # aclosing: leaving early closes the iterator at once (under trio it must be closed in
    # the task that iterated it, see docs/bulk.md).
    async with sms, contextlib.aclosing(sms.asend_many(numbers(40), concurrency=5, job="j")) as it:
        async for _ in it:
            break
    emu.clear_faults()
    async with Bridge(twilio(emu), store=store) as sms:
        items = [item async for item in sms.asend_many(numbers(40), concurrency=5, job="j")]
    assert len(items) == 40
    texts = [text for _, text in received(emu)]
    assert len(texts) == len(set(texts)), "a message went out twice"
    assert all(item.ok or item.ambiguous for item in items)
