"""The pipeline: size -> detect -> verify -> parse -> duplicates and ordering -> outcome.

Nothing in the request is trusted before its signature verifies; every refusal is a
``WebhookError`` with a stable code. The sync and async entry points share
everything except the store calls.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from smsbridge._errors import (
    MalformedWebhook,
    PayloadTooLarge,
    StoreUnavailable,
    WebhookError,
)
from smsbridge._telemetry import atraced_webhook, traced_webhook
from smsbridge.webhooks._common import NO_ORDER, Parsed, VerifyContext
from smsbridge.webhooks._outcome import WebhookOutcome
from smsbridge.webhooks._receivers import Receivers, detect
from smsbridge.webhooks._refusals import RefusalLog
from smsbridge.webhooks._request import WebhookRequest, WebhookResponse
from smsbridge.webhooks._urls import public_url_for

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.providers._base import WebhookCodec
    from smsbridge.stores._degrade import DegradeOpen

__all__ = ["MAX_HEADER_CHARS", "ahandle", "detect", "error_response", "handle", "prepare"]


log = logging.getLogger("smsbridge.webhooks")

# Headers plus URL beyond this are refused before any work (no provider sends close to it).
MAX_HEADER_CHARS = 64 * 1024


def prepare(bridge: Bridge, request: WebhookRequest) -> tuple[WebhookCodec, Parsed]:
    """Everything short of the store: check size, detect, verify, parse.

    Returns:
        The codec of the provider that sent ``request``, and its verified events.

    Raises:
        WebhookError: the request is refused (see ``smsbridge.webhooks``).
    """
    limit = bridge.max_body_size
    if len(request.body) > limit:
        raise PayloadTooLarge(f"webhook body is over the {limit}-byte limit")
    if request.headers.size + len(request.url) > MAX_HEADER_CHARS:
        raise PayloadTooLarge("webhook headers and URL are over the size limit")
    codec, providers = bridge.webhook_pipeline.receivers.detect(request)
    if bridge.public_url or bridge.trusted_proxies:
        try:
            url = public_url_for(bridge, request)
        except ValueError:
            raise MalformedWebhook("forwarded headers do not form a URL") from None
    else:
        url = request.url
    if not url.isascii():
        try:
            url.encode()
        except UnicodeEncodeError:  # a lone surrogate: no provider signed that
            raise MalformedWebhook("the request URL is not valid text") from None
    context = VerifyContext(url, float(bridge.clock()), bridge.webhook_tolerance)
    return codec, codec.verify(providers, request, context)


def _outcome(
    codec: WebhookCodec, parsed: Parsed, duplicate: bool, flags: tuple[bool, ...] | None
) -> WebhookOutcome:
    events = parsed.events
    if flags is None:
        flags, stale = (False,) * len(events), False
    else:
        ordered = [
            flag for flag, key in zip(flags, parsed.order_keys, strict=True) if key is not None
        ]
        stale = bool(ordered) and all(ordered)
    return WebhookOutcome(
        parsed.provider, events, codec.acknowledge(), duplicate, stale, flags, codec=codec
    )


def _stale(previous: int | None, rank: int) -> bool:
    return previous is not None and previous > rank


def _refused(bridge: Bridge, request: WebhookRequest, error: WebhookError) -> WebhookError:
    """Report a refusal to the bridge's refusal log (rate-limited per code); return it."""
    refusals = bridge.refusal_log
    if refusals is None:
        refusals = bridge.refusal_log = RefusalLog()
    refusals.refused(error, lambda: public_url_for(bridge, request))
    return error


def _prepare(bridge: Bridge, request: WebhookRequest) -> tuple[WebhookCodec, Parsed]:
    """``prepare``, with every refusal logged and any other exception made a 400."""
    try:
        return prepare(bridge, request)
    except WebhookError as exc:
        raise _refused(bridge, request, exc) from None
    except Exception:
        # Whatever a request holds must end in a 4xx, never a 500 and a traceback in the
        # server's log: this is a bug in smsbridge, logged as such, and the request refused.
        log.exception("a webhook could not be processed (a bug: please report it)")
        error = MalformedWebhook("the request could not be processed")
        raise _refused(bridge, request, error) from None


def _store_failed(guard: DegradeOpen, exc: Exception) -> None:
    """Note a store failure: unavailability as it is; anything else (a broken custom store)
    as unavailability too, so the webhook is still handled, unflagged."""
    if not isinstance(exc, StoreUnavailable):
        log.error("the store raised %s; handled as unavailable", type(exc).__name__)
        exc = StoreUnavailable(f"the store failed ({type(exc).__name__})")
    guard.failed(exc)


@traced_webhook  # a smsbridge.webhook span and the smsbridge.webhooks counter
def handle(bridge: Bridge, request: WebhookRequest) -> WebhookOutcome:
    """Verify, parse and acknowledge one webhook (``Bridge.handle_webhook``).

    A delivery seen before comes back with ``duplicate=True``; a status older than one
    already seen for its message and recipient with ``stale=True``. If the store cannot be
    reached the webhook is still handled, unflagged, and a warning is logged once per outage
    (the store is then left alone for a few seconds at a time): losing a provider's event is
    worse than seeing it twice. Every refusal is logged at WARNING on ``smsbridge.webhooks``
    with its code and a hint, at most once per code a minute.

    Raises:
        WebhookError: ``SignatureError``/``StaleWebhook`` (403), ``UnknownProvider``/
            ``MalformedWebhook`` (400), ``PayloadTooLarge`` (413); never anything else for
            anything the request contains.
    """
    codec, parsed = _prepare(bridge, request)
    store, ttl, guard = bridge.store, bridge.dedupe_ttl, bridge.dedupe_guard
    if not guard.should_try():  # the store is down: leave it alone until the next recheck
        return _outcome(codec, parsed, False, None)
    try:
        if not store.claim(parsed.dedupe_key, "1", ttl):
            outcome = _outcome(codec, parsed, True, None)
        elif parsed.order_keys == NO_ORDER:  # the usual inbound message: nothing to order
            outcome = _outcome(codec, parsed, False, None)
        else:
            flags = tuple(
                False if key is None else _stale(store.advance(key[0], key[1], ttl), key[1])
                for key in parsed.order_keys
            )
            outcome = _outcome(codec, parsed, False, flags)
    except Exception as exc:
        _store_failed(guard, exc)  # logged once per outage, not once per webhook
        return _outcome(codec, parsed, False, None)
    guard.recovered()
    return outcome


@atraced_webhook
async def ahandle(bridge: Bridge, request: WebhookRequest) -> WebhookOutcome:
    """Async twin of ``handle``, using the store's async operations."""
    codec, parsed = _prepare(bridge, request)
    store, ttl, guard = bridge.store, bridge.dedupe_ttl, bridge.dedupe_guard
    if not guard.should_try():
        return _outcome(codec, parsed, False, None)
    try:
        if not await store.aclaim(parsed.dedupe_key, "1", ttl):
            outcome = _outcome(codec, parsed, True, None)
        else:
            flags = []
            for key in parsed.order_keys:
                previous = None if key is None else await store.aadvance(key[0], key[1], ttl)
                flags.append(key is not None and _stale(previous, key[1]))
            outcome = _outcome(codec, parsed, False, tuple(flags))
    except Exception as exc:
        _store_failed(guard, exc)
        return _outcome(codec, parsed, False, None)
    guard.recovered()
    return outcome


class WebhookPipeline:
    """One bridge's webhook pipeline (``Bridge.webhook_pipeline``): its receiving providers
    grouped by codec, prepared once, and the two entry points.

    Args:
        bridge: the bridge whose providers, store and settings the pipeline uses.
    """

    __slots__ = ("bridge", "receivers")

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.receivers = Receivers.of_providers(bridge.webhook_providers)

    def handle(self, request: WebhookRequest) -> WebhookOutcome:
        """``handle`` for this bridge."""
        return handle(self.bridge, request)

    async def ahandle(self, request: WebhookRequest) -> WebhookOutcome:
        """``ahandle`` for this bridge."""
        return await ahandle(self.bridge, request)


def error_response(exc: WebhookError) -> WebhookResponse:
    """The HTTP answer to a refused webhook (400, 403 or 413 with a small JSON body)."""
    return WebhookResponse.for_error(exc)
