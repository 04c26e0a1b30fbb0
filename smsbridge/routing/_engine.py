"""The two drivers of a routing plan: one blocking, one async. Nothing else lives here.

Every decision is in the plan (``_plan``, ``_decide``, ``_breaker``, ``_idempotency``); a
driver only performs the effects the plan yields: store calls, provider requests, read-backs
and sleeps (``time.sleep`` / ``anyio.sleep`` unless the bridge was given others).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from smsbridge.providers._shell import atransmit, transmit
from smsbridge.routing._effects import ASYNC_OPS, Plan, Sleep, StoreOp, Transmit

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.providers._shell import AsyncSender, SyncSender
    from smsbridge.routing._settings import RoutingSettings

__all__ = ["run_async", "run_sync", "send_async", "send_sync", "settings_of"]

T = TypeVar("T")


def settings_of(bridge: Bridge) -> RoutingSettings:
    """The bridge's routing settings (built from its options on first use if need be)."""
    settings: RoutingSettings | None = getattr(bridge, "routing", None)
    if settings is None:
        from smsbridge.routing._settings import RoutingSettings

        settings = RoutingSettings.from_options(getattr(bridge, "options", {}))
        bridge.routing = settings
    return settings


def run_sync(
    plan: Plan[T],
    store: Any,
    client: Callable[[], SyncSender] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Drive ``plan`` to its end with blocking calls; its return value is returned."""
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            effect = plan.send(value) if error is None else plan.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = error = None
        try:
            if isinstance(effect, StoreOp):
                value = getattr(store, effect.op)(*effect.args)
            elif isinstance(effect, Transmit):
                assert client is not None
                value = transmit(client(), effect.provider, effect.message)
            elif isinstance(effect, Sleep):
                sleep(effect.seconds)
            else:
                assert client is not None
                value = client().send(effect.request)
        except Exception as exc:  # handed to the plan, which decides what it means
            error = exc


async def run_async(
    plan: Plan[T],
    store: Any,
    client: Callable[[], AsyncSender] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> T:
    """Async twin of :func:`run_sync`: the same plan, effects awaited."""
    if sleep is None:
        import anyio

        sleep = anyio.sleep
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            effect = plan.send(value) if error is None else plan.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = error = None
        try:
            if isinstance(effect, StoreOp):
                value = await getattr(store, ASYNC_OPS[effect.op])(*effect.args)
            elif isinstance(effect, Transmit):
                assert client is not None
                value = await atransmit(client(), effect.provider, effect.message)
            elif isinstance(effect, Sleep):
                await sleep(effect.seconds)
            else:
                assert client is not None
                value = await client().send(effect.request)
        except Exception as exc:  # handed to the plan, which decides what it means
            error = exc


def send_sync(bridge: Bridge, message: OutboundMessage) -> SendResult:
    """Send ``message`` through the bridge's policy on the sync client."""
    from smsbridge.routing._plan import send_plan

    settings = settings_of(bridge)
    plan = send_plan(bridge, settings, message)
    return run_sync(plan, bridge.store, lambda: bridge.client, settings.sleep)


async def send_async(bridge: Bridge, message: OutboundMessage) -> SendResult:
    """Async twin of :func:`send_sync`."""
    from smsbridge.routing._plan import send_plan

    settings = settings_of(bridge)
    plan = send_plan(bridge, settings, message)
    return await run_async(plan, bridge.store, lambda: bridge.async_client, settings.async_sleep)
