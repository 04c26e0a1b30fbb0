"""``cancel`` and ``fetch``: one request about one message, to the provider that holds it.

The codecs build and read the requests (``Provider.build_cancel_request``/``parse_cancel``,
``build_fetch_request``/``parse_fetch``); this module finds the provider, does the I/O (once
sync, once async) and types every failure as a send's are typed. A provider that cannot do
the operation raises ``Unsupported`` before any request.

Cancelling is idempotent: when the provider says a message cannot be cancelled, it is read
back, and one that is already ``canceled`` is returned as the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from smsbridge._errors import (
    ConfigError,
    InvalidRequest,
    NotCancellable,
    SmsBridgeError,
    UnexpectedError,
)
from smsbridge._status import MessageStatus
from smsbridge.providers._shell import classify_transport_error

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import SendResult
    from smsbridge.providers._base import Provider

__all__ = ["acancel", "afetch", "cancel", "fetch"]


def target(
    bridge: Bridge, message: SendResult | str, message_id: str | None
) -> tuple[Provider, str]:
    """The provider holding the message and its id there: from a ``SendResult``, or from a
    provider name and an id. Receive-only providers count (their messages can be read)."""
    if isinstance(message, str):
        if not isinstance(message_id, str) or not message_id:
            raise InvalidRequest(
                "give the message's id after the provider's name: fetch('twilio', 'SM...')",
                failure="rejected",
            )
        name, provider_message_id = message, message_id
    elif message_id is not None:
        raise InvalidRequest(
            "give a SendResult alone, or a provider name and a message id", failure="rejected"
        )
    else:
        name, provider_message_id = message.provider, message.provider_message_id
    for provider in bridge.webhook_providers:
        if provider.name == name:
            return provider, provider_message_id
    names = ", ".join(p.name for p in bridge.webhook_providers)
    raise ConfigError(f"no provider named {name!r} is configured ({names})", variable="providers")


def _parsed(provider: Provider, reader: str, response: httpx.Response, pmid: str) -> SendResult:
    try:
        result: SendResult = getattr(provider, reader)(response, pmid)
    except SmsBridgeError:
        raise
    except Exception as exc:  # an answer of a shape the codec did not expect
        raise UnexpectedError(
            f"{provider.name} answered in a shape smsbridge cannot read ({type(exc).__name__})",
            provider=provider.name,
            http_status=response.status_code,
            failure="ambiguous",
        ) from exc
    return result


def _call(bridge: Bridge, provider: Provider, op: str, pmid: str) -> SendResult:
    request = getattr(provider, f"build_{op}_request")(pmid)
    try:
        response = bridge.client.send(request)
    except (httpx.RequestError, OSError) as exc:
        raise classify_transport_error(provider.name, exc) from None
    return _parsed(provider, f"parse_{op}", response, pmid)


async def _acall(bridge: Bridge, provider: Provider, op: str, pmid: str) -> SendResult:
    request = getattr(provider, f"build_{op}_request")(pmid)
    try:
        response = await bridge.async_client.send(request)
    except (httpx.RequestError, OSError) as exc:
        raise classify_transport_error(provider.name, exc) from None
    return _parsed(provider, f"parse_{op}", response, pmid)


def fetch(bridge: Bridge, message: SendResult | str, message_id: str | None) -> SendResult:
    """See ``smsbridge.Bridge.fetch``."""
    provider, pmid = target(bridge, message, message_id)
    return _call(bridge, provider, "fetch", pmid)


async def afetch(bridge: Bridge, message: SendResult | str, message_id: str | None) -> SendResult:
    """See ``smsbridge.Bridge.afetch``."""
    provider, pmid = target(bridge, message, message_id)
    return await _acall(bridge, provider, "fetch", pmid)


def cancel(bridge: Bridge, message: SendResult | str, message_id: str | None) -> SendResult:
    """See ``smsbridge.Bridge.cancel``."""
    provider, pmid = target(bridge, message, message_id)
    try:
        return _call(bridge, provider, "cancel", pmid)
    except NotCancellable as refused:
        return _already_canceled(refused, _call(bridge, provider, "fetch", pmid))


async def acancel(bridge: Bridge, message: SendResult | str, message_id: str | None) -> SendResult:
    """See ``smsbridge.Bridge.acancel``."""
    provider, pmid = target(bridge, message, message_id)
    try:
        return await _acall(bridge, provider, "cancel", pmid)
    except NotCancellable as refused:
        return _already_canceled(refused, await _acall(bridge, provider, "fetch", pmid))


def _already_canceled(refused: NotCancellable, now: SendResult) -> SendResult:
    """Cancelling twice is not an error: a message already canceled is the result."""
    if now.status is MessageStatus.CANCELED:
        return now
    raise refused
