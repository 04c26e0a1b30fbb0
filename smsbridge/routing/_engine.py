"""The two drivers of a routing plan: one blocking, one async. Nothing else lives here.

Every decision is in the plan (``_plan``, ``_decide``, ``_breaker``, ``_idempotency``); a
driver only performs the effects the plan yields: store calls, provider requests, read-backs
and sleeps (``time.sleep`` / ``anyio.sleep`` unless the bridge was given others).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from smsbridge import _telemetry as telemetry
from smsbridge._errors import StoreUnavailable
from smsbridge.providers._shell import Progress, atransmit, transmit
from smsbridge.routing._effects import (
    ASYNC_OPS,
    IDEMPOTENT_WRITES,
    Interrupted,
    Plan,
    Sleep,
    StoreOp,
    Transmit,
)

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.providers._shell import AsyncSender, SyncSender
    from smsbridge.routing._settings import RoutingSettings

__all__ = ["CLEANUP_SECONDS", "run_async", "run_sync", "send_async", "send_sync", "settings_of"]

T = TypeVar("T")


def settings_of(bridge: Bridge) -> RoutingSettings:
    """The bridge's routing settings."""
    return bridge.routing


def run_sync(
    plan: Plan[T],
    store: Any,
    client: Callable[[], SyncSender] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Drive ``plan`` to its end with blocking calls; its return value is returned.

    A ``KeyboardInterrupt`` (or any other ``BaseException``) while an effect runs is thrown
    into the plan as ``Interrupted``, so it can end its idempotency claim; the effects it
    asks for then are run, and the original exception is raised at the end.
    """
    value: Any = None
    error: Exception | None = None
    interrupted: Interrupted | None = None
    while True:
        try:
            effect = plan.send(value) if error is None else plan.throw(error)
        except StopIteration as stop:
            if interrupted is not None:
                raise interrupted.original from None
            return stop.value  # type: ignore[no-any-return]
        except BaseException:
            if interrupted is not None:
                raise interrupted.original from None
            raise
        value = error = None
        progress: Progress | None = None
        try:
            if isinstance(effect, StoreOp):
                value = getattr(store, effect.op)(*effect.args)
            elif interrupted is not None:
                error = interrupted  # no new request and no waiting once interrupted
            elif isinstance(effect, Transmit):
                assert client is not None
                progress = Progress()
                value = transmit(client(), effect.provider, effect.message, progress)
            elif isinstance(effect, Sleep):
                sleep(effect.seconds)
            else:
                assert client is not None
                value = client().send(effect.request)
        except Exception as exc:  # handed to the plan, which decides what it means
            error = exc
        except BaseException as exc:
            if interrupted is not None:
                raise interrupted.original from None
            written = progress is not None and progress.may_have_been_written
            interrupted = error = Interrupted(exc, written=written)
            if isinstance(effect, StoreOp) and effect.op in IDEMPOTENT_WRITES:
                # Finish the write the interruption cut short; if it fails, the key stays
                # pending until its TTL (as when the store is down).
                with contextlib.suppress(Exception):
                    getattr(store, effect.op)(*effect.args)


async def run_async(
    plan: Plan[T],
    store: Any,
    client: Callable[[], AsyncSender] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> T:
    """Async twin of ``run_sync``: the same plan, effects awaited.

    A cancellation (asyncio task cancellation, an anyio or trio cancel scope) while an effect
    runs is handled like an interruption in ``run_sync``; the store operations the plan
    asks for afterwards run shielded from it, for at most ``CLEANUP_SECONDS``.
    """
    if sleep is None:
        import anyio

        sleep = anyio.sleep
    value: Any = None
    error: Exception | None = None
    interrupted: Interrupted | None = None
    while True:
        try:
            effect = plan.send(value) if error is None else plan.throw(error)
        except StopIteration as stop:
            if interrupted is not None:
                raise interrupted.original from None
            return stop.value  # type: ignore[no-any-return]
        except BaseException:
            if interrupted is not None:
                raise interrupted.original from None
            raise
        value = error = None
        if interrupted is not None:
            if isinstance(effect, StoreOp):
                value, error = await _shielded(store, effect)
            else:
                error = interrupted
            continue
        progress: Progress | None = None
        try:
            if isinstance(effect, StoreOp):
                value = await getattr(store, ASYNC_OPS[effect.op])(*effect.args)
            elif isinstance(effect, Transmit):
                assert client is not None
                progress = Progress()
                value = await atransmit(client(), effect.provider, effect.message, progress)
            elif isinstance(effect, Sleep):
                await sleep(effect.seconds)
            else:
                assert client is not None
                value = await client().send(effect.request)
        except Exception as exc:  # handed to the plan, which decides what it means
            error = exc
        except BaseException as exc:
            written = progress is not None and progress.may_have_been_written
            interrupted = error = Interrupted(exc, written=written)
            if isinstance(effect, StoreOp) and effect.op in IDEMPOTENT_WRITES:
                await _shielded(store, effect)  # finish the write the cancellation cut short


# How long the store calls that end an interrupted send may take: bounded, because the caller
# is waiting for its cancellation to complete; past it the key stays pending until its TTL.
CLEANUP_SECONDS = 5.0


async def _shielded(store: Any, effect: StoreOp) -> tuple[Any, Exception | None]:
    """Run one store operation shielded from the cancellation being handled."""
    import anyio

    with anyio.CancelScope(shield=True) as scope:
        scope.deadline = anyio.current_time() + CLEANUP_SECONDS
        try:
            return await getattr(store, ASYNC_OPS[effect.op])(*effect.args), None
        except Exception as exc:
            return None, exc
    return None, StoreUnavailable("the store did not answer while a cancelled send was ending")


def send_sync(bridge: Bridge, message: OutboundMessage, *, job: str | None = None) -> SendResult:
    """Send ``message`` through the bridge's policy on the sync client (``job``: the bulk
    job it belongs to)."""
    from smsbridge.routing._plan import send_plan

    settings = settings_of(bridge)
    plan = send_plan(bridge, settings, message, job=job)
    # The send's span and metrics end on every way out, cancellation and Ctrl-C included.
    with telemetry.send(message) as watch:
        return watch.done(run_sync(plan, bridge.store, lambda: bridge.client, settings.sleep))


async def send_async(
    bridge: Bridge,
    message: OutboundMessage,
    *,
    job: str | None = None,
    client: AsyncSender | None = None,
) -> SendResult:
    """Async twin of ``send_sync`` (on ``client`` instead of the bridge's async client)."""
    from smsbridge.routing._plan import send_plan

    settings = settings_of(bridge)
    plan = send_plan(bridge, settings, message, job=job)
    chosen = (lambda: client) if client is not None else (lambda: bridge.async_client)
    with telemetry.send(message) as watch:
        return watch.done(await run_async(plan, bridge.store, chosen, settings.async_sleep))
