"""The pipeline: size -> detect -> verify -> parse -> duplicates and ordering -> outcome.

Nothing in the request is trusted before its signature verifies; every refusal is a
:class:`~smsbridge.WebhookError` with a stable code. The sync and async entry points share
everything except the store calls.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from smsbridge._errors import (
    MalformedWebhook,
    PayloadTooLarge,
    StoreUnavailable,
    UnknownProvider,
    WebhookError,
)
from smsbridge.webhooks._common import NO_ORDER, Parsed
from smsbridge.webhooks._outcome import WebhookOutcome
from smsbridge.webhooks._refusals import REFUSALS, RefusalLog
from smsbridge.webhooks._request import WebhookRequest, WebhookResponse
from smsbridge.webhooks._telnyx import parse_telnyx, verify_key_for, verify_telnyx
from smsbridge.webhooks._twilio import keys_for, verify_twilio
from smsbridge.webhooks._twilio_parse import parse_twilio_form, parse_twilio_json
from smsbridge.webhooks._urls import public_url_for

__all__ = ["MAX_HEADER_CHARS", "ahandle", "detect", "error_response", "handle"]


log = logging.getLogger("smsbridge.webhooks")

# Headers plus URL beyond this are refused before any work (no provider sends close to it).
MAX_HEADER_CHARS = 64 * 1024
_FORM = "application/x-www-form-urlencoded"

_KEYS: weakref.WeakKeyDictionary[Any, _Keys] = weakref.WeakKeyDictionary()


def detect(request: WebhookRequest) -> str:
    """The provider that sent ``request``: by signature header first, then by content type
    and shape (Twilio: form data with ``MessageSid``/``AccountSid``; Telnyx: JSON with
    ``event_type``).

    Raises:
        UnknownProvider: the request looks like neither provider.
    """
    headers = request.headers._first
    if "x-twilio-signature" in headers:
        return "twilio"
    if "telnyx-signature-ed25519" in headers:
        return "telnyx"
    ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = request.body
    if request.method in ("GET", "HEAD"):
        if "MessageSid=" in request.url or "AccountSid=" in request.url:
            return "twilio"
    elif ctype in ("", _FORM) and (b"MessageSid=" in body or b"AccountSid=" in body):
        return "twilio"
    if (ctype == "application/json" or ctype.endswith("+json")) and b'"event_type"' in body:
        return "telnyx"
    if "telnyx-timestamp" in headers:
        return "telnyx"
    if "x-twilio-webhooks-signature-settings" in headers or "i-twilio-idempotency-token" in headers:
        return "twilio"
    raise UnknownProvider("the request matches neither Twilio nor Telnyx webhooks")


# The attribute a provider verifies its webhooks with, per provider name.
_VERIFIES = {"twilio": "auth_token", "telnyx": "public_key_bytes"}


class _Keys:
    """A bridge's providers by name with their verification keys, prepared once per policy."""

    __slots__ = ("by_name", "policy", "telnyx", "telnyx_raw", "twilio")

    def __init__(self, policy: Any, providers: Iterable[Any]) -> None:
        grouped: dict[str, list[Any]] = {}
        for provider in providers:
            # Only providers that hold a way to verify their webhooks receive them: a test
            # double named "twilio" (RecordingProvider) gets UnknownProvider, not a crash.
            needs = _VERIFIES.get(provider.name)
            if needs is not None and hasattr(provider, needs):
                grouped.setdefault(provider.name, []).append(provider)
        self.policy = policy
        self.by_name = {name: tuple(found) for name, found in grouped.items()}
        self.twilio = [keys_for(p) for p in self.by_name.get("twilio", ())]
        telnyx = self.by_name.get("telnyx", ())
        # Kept beside the raw key objects so a replaced public_key_bytes is noticed.
        self.telnyx_raw = [(p, p.public_key_bytes) for p in telnyx]
        self.telnyx = [verify_key_for(p) for p in telnyx]

    def telnyx_keys(self) -> list[bytes | None]:
        """The Telnyx keys, rebuilt for any provider whose key was replaced."""
        for provider, raw in self.telnyx_raw:
            if provider.public_key_bytes is not raw:
                self.telnyx_raw = [(p, p.public_key_bytes) for p, _ in self.telnyx_raw]
                self.telnyx = [verify_key_for(p) for p, _ in self.telnyx_raw]
                break
        return self.telnyx


def _receivers(bridge: Any) -> Any:
    # Senders and receive-only providers alike verify their webhooks.
    return getattr(bridge, "webhook_providers", None) or bridge.providers


def _keys(bridge: Any) -> _Keys:
    policy = getattr(bridge, "policy", None)
    try:
        cached = _KEYS.get(bridge)
    except TypeError:  # not weak-referenceable: prepare every time
        return _Keys(policy, _receivers(bridge))
    if cached is None or cached.policy is not policy or policy is None:
        cached = _KEYS[bridge] = _Keys(policy, _receivers(bridge))
    return cached


def _clock(bridge: Any) -> float:
    # An injectable clock (tests): a ``clock`` attribute, or a ``clock`` bridge option.
    clock = getattr(bridge, "clock", None)
    if clock is None:
        options = getattr(bridge, "options", None)
        clock = options.get("clock") if options else None
    return time.time() if clock is None else float(clock())


def prepare(bridge: Any, request: WebhookRequest) -> Parsed:
    """Everything short of the store: check size, detect, verify, parse.

    Raises:
        WebhookError: the request is refused (see :mod:`smsbridge.webhooks`).
    """
    limit = getattr(bridge, "max_body_size", 64 * 1024)
    if len(request.body) > limit:
        raise PayloadTooLarge(f"webhook body is over the {limit}-byte limit")
    headers = request.headers
    if headers.size + len(request.url) > MAX_HEADER_CHARS:
        raise PayloadTooLarge("webhook headers and URL are over the size limit")
    # The signature headers decide at once; detect() only for requests without one.
    if "x-twilio-signature" in headers._first:
        name = "twilio"
    elif "telnyx-signature-ed25519" in headers._first:
        name = "telnyx"
    else:
        name = detect(request)
    keys = _keys(bridge)
    if name not in keys.by_name:
        raise UnknownProvider(f"a {name} webhook arrived but no {name} provider is configured")
    if getattr(bridge, "public_url", None) or getattr(bridge, "trusted_proxies", None):
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
    clock = getattr(bridge, "clock", None)  # Bridge always has one; _clock() for the rest
    now = _clock(bridge) if clock is None else float(clock())
    if name == "twilio":
        _, params = verify_twilio(keys.twilio, request, url)
        when = datetime.fromtimestamp(now, timezone.utc)
        if params is None:
            return parse_twilio_json(request.body, url, when)
        return parse_twilio_form(params, url, when)
    tolerance = getattr(bridge, "webhook_tolerance", 300.0)
    verify_telnyx(keys.telnyx_keys(), request, now, tolerance)
    return parse_telnyx(request.body, url)


def _outcome(parsed: Parsed, duplicate: bool, flags: tuple[bool, ...] | None) -> WebhookOutcome:
    events = parsed.events
    if flags is None:
        flags, stale = (False,) * len(events), False
    else:
        ordered = [
            flag for flag, key in zip(flags, parsed.order_keys, strict=True) if key is not None
        ]
        stale = bool(ordered) and all(ordered)
    return WebhookOutcome._make(parsed.provider, events, duplicate, stale, flags)


def _stale(previous: int | None, rank: int) -> bool:
    return previous is not None and previous > rank


def _refused(bridge: Any, request: WebhookRequest, error: WebhookError) -> WebhookError:
    """Report a refusal to the bridge's refusal log (rate-limited per code); return it."""
    refusals = getattr(bridge, "refusal_log", REFUSALS)
    if refusals is None:
        refusals = bridge.refusal_log = RefusalLog()
    refusals.refused(error, lambda: public_url_for(bridge, request))
    return error


def _prepare(bridge: Any, request: WebhookRequest) -> Parsed:
    """:func:`prepare`, with every refusal logged and any other exception made a 400."""
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


def _store_failed(guard: Any, exc: Exception) -> None:
    """Note a store failure: unavailability as it is; anything else (a broken custom store)
    as unavailability too, so the webhook is still handled, unflagged."""
    if not isinstance(exc, StoreUnavailable):
        log.error("the store raised %s; handled as unavailable", type(exc).__name__)
        exc = StoreUnavailable(f"the store failed ({type(exc).__name__})")
    guard.failed(exc)


def handle(bridge: Any, request: WebhookRequest) -> WebhookOutcome:
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
    parsed = _prepare(bridge, request)
    store, ttl, guard = bridge.store, bridge.dedupe_ttl, bridge.dedupe_guard
    if not guard.should_try():  # the store is down: leave it alone until the next recheck
        return _outcome(parsed, False, None)
    try:
        if not store.claim(parsed.dedupe_key, "1", ttl):
            outcome = _outcome(parsed, True, None)
        elif parsed.order_keys == NO_ORDER:  # the usual inbound message: nothing to order
            events = parsed.events
            outcome = WebhookOutcome._make(parsed.provider, events, False, False, (False,))
        else:
            flags = tuple(
                False if key is None else _stale(store.advance(key[0], key[1], ttl), key[1])
                for key in parsed.order_keys
            )
            outcome = _outcome(parsed, False, flags)
    except Exception as exc:
        _store_failed(guard, exc)  # logged once per outage, not once per webhook
        return _outcome(parsed, False, None)
    guard.recovered()
    return outcome


async def ahandle(bridge: Any, request: WebhookRequest) -> WebhookOutcome:
    """Async twin of :func:`handle`, using the store's async operations."""
    parsed = _prepare(bridge, request)
    store, ttl, guard = bridge.store, bridge.dedupe_ttl, bridge.dedupe_guard
    if not guard.should_try():
        return _outcome(parsed, False, None)
    try:
        if not await store.aclaim(parsed.dedupe_key, "1", ttl):
            outcome = _outcome(parsed, True, None)
        else:
            flags = []
            for key in parsed.order_keys:
                previous = None if key is None else await store.aadvance(key[0], key[1], ttl)
                flags.append(key is not None and _stale(previous, key[1]))
            outcome = _outcome(parsed, False, tuple(flags))
    except Exception as exc:
        _store_failed(guard, exc)
        return _outcome(parsed, False, None)
    guard.recovered()
    return outcome


def error_response(exc: WebhookError) -> WebhookResponse:
    """The HTTP answer to a refused webhook (400, 403 or 413 with a small JSON body)."""
    return WebhookResponse.for_error(exc)
