"""The send engine: tries a policy's candidates, deciding by each failure's class.

rejected stops at once; refused moves on to the next candidate; ambiguous stops unless the
bridge opted in to at-least-once delivery.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from smsbridge._errors import AllProvidersFailed, ProviderError, SmsBridgeError
from smsbridge._models import Attempt
from smsbridge.providers._shell import atransmit, transmit

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import OutboundMessage, SendResult
    from smsbridge.providers._base import Provider

__all__ = ["send_async", "send_sync"]


def _no_candidate(message: OutboundMessage) -> SmsBridgeError:
    from smsbridge._errors import SenderConfig

    need = "MMS" if message.is_mms else "SMS"
    return SenderConfig(f"no configured provider can send this {need}", failure="refused")


def _stop(bridge: Bridge, error: SmsBridgeError) -> bool:
    if error.failure == "rejected":
        return True
    return error.failure == "ambiguous" and bridge.delivery == "at_most_once"


def _conclude(attempts: list[Attempt], error: SmsBridgeError) -> SmsBridgeError:
    error.attempts = tuple(attempts)
    return error


def _all_failed(attempts: list[Attempt]) -> AllProvidersFailed:
    lines = "; ".join(f"{a.provider}: {a.error}" for a in attempts)
    return AllProvidersFailed(f"every provider refused the message ({lines})", attempts=tuple(attempts))


def send_sync(bridge: Bridge, message: OutboundMessage) -> SendResult:
    """Send ``message`` through the bridge's policy on the sync client."""
    candidates = bridge.policy.candidates(message)
    if not candidates:
        raise _no_candidate(message)
    attempts: list[Attempt] = []
    for provider in candidates:
        start = time.perf_counter()
        try:
            result = transmit(bridge.client, provider, message)
        except ProviderError as exc:
            attempts.append(Attempt(provider=provider.name, error=exc, elapsed=time.perf_counter() - start))
            if _stop(bridge, exc):
                raise _conclude(attempts, exc) from None
            continue
        return _success(result, attempts, provider, start)
    raise _finish_failed(attempts)


async def send_async(bridge: Bridge, message: OutboundMessage) -> SendResult:
    """Async twin of :func:`send_sync`."""
    candidates = bridge.policy.candidates(message)
    if not candidates:
        raise _no_candidate(message)
    attempts: list[Attempt] = []
    for provider in candidates:
        start = time.perf_counter()
        try:
            result = await atransmit(bridge.async_client, provider, message)
        except ProviderError as exc:
            attempts.append(Attempt(provider=provider.name, error=exc, elapsed=time.perf_counter() - start))
            if _stop(bridge, exc):
                raise _conclude(attempts, exc) from None
            continue
        return _success(result, attempts, provider, start)
    raise _finish_failed(attempts)


def _success(
    result: SendResult, attempts: list[Attempt], provider: Provider, start: float
) -> SendResult:
    attempts.append(
        Attempt(
            provider=provider.name,
            elapsed=time.perf_counter() - start,
            provider_message_id=result.provider_message_id,
        )
    )
    return result.model_copy(update={"attempts": tuple(attempts)})


def _finish_failed(attempts: list[Attempt]) -> SmsBridgeError:
    if len(attempts) == 1 and attempts[0].error is not None:
        return _conclude(attempts, attempts[0].error)
    return _all_failed(attempts)
