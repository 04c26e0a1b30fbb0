"""Several OS processes sharing one redis-server: one send per key, one view of breakers,
and the documented behaviour when Redis goes away."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _redis_server import RedisServer
from _routing_kit import TELNYX_FROM, TO, TWILIO_FROM, Counter, emulator, telnyx, twilio

from smsbridge import Bridge, StoreUnavailable
from smsbridge.routing import CircuitBreaker
from smsbridge.stores import RedisStore
from smsbridge.testing.emulator import Emulator

__all__ = ["emulator"]

# A sender process: configure a bridge like the test's, say "ready", wait for "go", send once.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from smsbridge import Bridge, SmsBridgeError
    from smsbridge.providers import Telnyx, Twilio
    from smsbridge.routing import CircuitBreaker
    from smsbridge.stores import RedisStore

    cfg = json.loads(sys.argv[1])
    store = RedisStore(cfg["redis"])
    store.ping()
    bridge = Bridge(
        [
            Twilio(cfg["sid"], cfg["token"], from_=cfg["twilio_from"], base_url=cfg["twilio_url"]),
            Telnyx(cfg["api_key"], from_=cfg["telnyx_from"], base_url=cfg["telnyx_url"]),
        ],
        store=store,
        retry=None,
        breaker=CircuitBreaker(failures=1, cooldown=600),
    )
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        result = bridge.send(to=cfg["to"], body=cfg["body"], idempotency_key=cfg["key"])
        out = {"id": result.provider_message_id, "provider": result.provider,
               "attempts": len(result.attempts)}
    except SmsBridgeError as exc:
        out = {"error": exc.code}
    print(json.dumps(out), flush=True)
    """
)


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, reset for this test."""
    emulator.reset()
    yield emulator
    emulator.reset()


def _senders(
    tmp_path: Path, emu: Emulator, redis_url: str, count: int, **cfg: Any
) -> list[subprocess.Popen[str]]:
    script = tmp_path / "sender.py"
    script.write_text(SCRIPT)
    config = {
        "redis": redis_url,
        "sid": emu.twilio_account_sid,
        "token": emu.twilio_auth_token,
        "api_key": emu.telnyx_api_key,
        "twilio_url": emu.twilio_url,
        "telnyx_url": emu.telnyx_url,
        "twilio_from": TWILIO_FROM,
        "telnyx_from": TELNYX_FROM,
        "to": TO,
        "body": "one message only",
        "key": "order-42",
        **cfg,
    }
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    return processes


def _go(processes: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = []
    for process in processes:
        out, _ = process.communicate(timeout=60)
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def test_two_processes_same_key_same_moment_send_once(
    tmp_path: Path, emu: Emulator, redis_server: RedisServer
) -> None:
    """Two processes send the same key at once: exactly one request reaches the emulator."""
    emu.fault("twilio", "latency", seconds=0.3)  # keeps the first in flight while both race
    processes = _senders(tmp_path, emu, redis_server.url, 2)
    outputs = _go(processes)
    assert len(emu.messages()) == 1
    assert {o["id"] for o in outputs} == {emu.messages()[0]["id"]}
    assert sorted(o["attempts"] for o in outputs) == [0, 1]  # one sent, one replayed


def test_breaker_opened_in_one_process_is_seen_in_another(
    tmp_path: Path, emu: Emulator, redis_server: RedisServer
) -> None:
    """A process whose Twilio send failed opens the breaker; this process then skips Twilio."""
    emu.fault("twilio", "http_error", status=503)
    (output,) = _go(_senders(tmp_path, emu, redis_server.url, 1))
    assert output["provider"] == "telnyx"
    emu.clear_faults()

    store = RedisStore(redis_server.url)
    breaker = CircuitBreaker(failures=1, cooldown=600)
    here = twilio(emu, timeout=None)
    assert breaker.state(store, here) == "open"
    counter = Counter(emu)
    bridge = Bridge([here, telnyx(emu)], store=store, breaker=breaker, http_client=counter.client())
    assert bridge.send(to=TO, body="hello").provider == "telnyx"
    assert counter.sends("twilio") == 0
    store.close()


def test_redis_stopped_mid_test(
    emu: Emulator, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis goes away: idempotent sends fail with StoreUnavailable and send nothing; plain
    sends go on with breakers degraded open, logged once; all is normal when it is back."""
    caplog.set_level(logging.INFO, logger="smsbridge")
    counter = Counter(emu)
    store = RedisStore(redis_server.url, connect_timeout=0.5, socket_timeout=0.5)
    bridge = Bridge(
        [twilio(emu), telnyx(emu)],
        store=store,
        http_client=counter.client(),
        breaker=CircuitBreaker(refresh=0),  # read the store on every send, for this test
    )
    bridge.send(to=TO, body="before", idempotency_key="k-1")

    redis_server.stop()
    with pytest.raises(StoreUnavailable):
        bridge.send(to=TO, body="before", idempotency_key="k-1")  # cannot check: no re-send
    with pytest.raises(StoreUnavailable):
        bridge.send(to=TO, body="new", idempotency_key="k-2")
    assert len(emu.messages()) == 1
    assert counter.sends("twilio") == 1

    bridge.routing.breaker_guard.recheck = 0  # try the store on every send, for this test
    assert bridge.send(to=TO, body="plain 1").provider == "twilio"
    assert bridge.send(to=TO, body="plain 2").provider == "twilio"
    warnings = [r for r in caplog.records if "store unavailable" in r.getMessage()]
    assert len(warnings) == 1

    redis_server.start()
    assert bridge.send(to=TO, body="after", idempotency_key="k-3").attempts
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert len(emu.messages()) == 4
    store.close()


@pytest.mark.anyio
async def test_async_idempotent_send_with_redis_down(
    emu: Emulator, redis_server: RedisServer
) -> None:
    """asend with a key and no Redis: StoreUnavailable, nothing sent."""
    redis_server.stop()
    counter = Counter(emu)
    store = RedisStore(redis_server.url, connect_timeout=0.5)
    async with Bridge(
        [twilio(emu)], store=store, async_http_client=counter.async_client()
    ) as bridge:
        with pytest.raises(StoreUnavailable):
            await bridge.asend(to=TO, body="hi", idempotency_key="k-9")
        result = await bridge.asend(to=TO, body="plain")
    assert result.provider == "twilio"
    assert counter.sends("twilio") == 1
    await store.aclose()
