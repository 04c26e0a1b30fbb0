"""Running the application's ``on_event`` callback for a webhook, with no framework imported.

This is the part of a webhook endpoint that every adapter shares (the framework adapters in
``smsbridge.contrib`` and the standard library server behind ``smsbridge demo``). An adapter
only reads its framework's request (method, URL, headers, raw body, peer address) and writes a
``WebhookResponse`` back. Everything else lives here: building the
``WebhookRequest``, the body size limit, mapping errors to responses, and the
two ways of running the callback:

* ``"fast"``: the provider is acknowledged at once and the callback runs afterwards (in the
  background); its errors are logged, never raised.
* ``"inline"``: the callback runs before the answer, and a string it returns is the reply (TwiML
  ``<Message>`` for Twilio). It is bounded by a timeout below the provider's own (Telnyx wants a
  2xx within 2 s, Twilio within 15 s); past it the plain acknowledgement goes out and the
  callback finishes in the background.

Duplicates and stale status events are acknowledged without calling the callback.

This module is core: it imports neither ``smsbridge.contrib`` nor any web framework.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Union

from smsbridge._errors import ConfigError, PayloadTooLarge, SmsBridgeError, WebhookError

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.webhooks import WebhookOutcome, WebhookRequest, WebhookResponse

__all__ = [
    "FALLBACK_TIMEOUT",
    "MAX_PENDING",
    "Mode",
    "OnEvent",
    "WebhookHandler",
    "build_request",
    "content_length_error",
    "error_to_response",
    "read_limited",
    "too_large",
]

# The logger the framework adapters have always documented for callback failures; the
# standard library server of ``smsbridge demo`` shares it.
log = logging.getLogger("smsbridge.contrib")

Mode = Literal["fast", "inline"]
#: Fast-mode callbacks an async adapter lets run after their answers. Past it, a webhook's
#: callback runs before its answer: under a sustained burst the provider waits a little longer
#: for each acknowledgement instead of the server's task count growing until it answers 503
#: (uvicorn counts a request's task until the callback after its answer is done).
MAX_PENDING = 64
Reply = Union[str, "WebhookResponse", None]
OnEvent = Callable[["WebhookOutcome"], Reply | Awaitable[Reply]]
"""The application's callback: gets the outcome, may return a reply (sync or async)."""

# Below the providers' own limits (Telnyx 2 s, Twilio 15 s), leaving room for the network.
FALLBACK_TIMEOUT = 1.5


def build_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    remote_addr: str | None = None,
) -> WebhookRequest:
    """A ``WebhookRequest`` from what a framework exposes.

    Args:
        method: the HTTP method.
        url: the full URL as the application saw it, query string exactly as sent.
        headers: a mapping or name/value pairs (repeats kept).
        body: the raw body bytes.
        remote_addr: the peer address, used to decide whether forwarded headers are trusted.
    """
    from smsbridge.webhooks import WebhookRequest

    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    return WebhookRequest(
        method=method.upper(), url=url, headers=pairs, body=body, remote_addr=remote_addr
    )


def error_to_response(exc: SmsBridgeError) -> WebhookResponse:
    """The answer to an error: the webhook error's own status, 503 for anything else.

    A non-webhook error here is ours (the shared store is down, say): 503 makes the provider
    retry later, when the webhook can be de-duplicated properly.
    """
    from smsbridge.webhooks import WebhookResponse, error_response

    if isinstance(exc, WebhookError):
        return error_response(exc)
    log.error("webhook could not be handled: %s", exc)
    body = json.dumps({"error": {"code": exc.code, "message": exc.message}}).encode()
    return WebhookResponse(status_code=503, headers={"Content-Type": "application/json"}, body=body)


def content_length_error(headers: Iterable[tuple[str, str]], limit: int) -> PayloadTooLarge | None:
    """A ``PayloadTooLarge`` when ``Content-Length`` announces more than ``limit`` bytes.

    Checked before reading, so an oversized body is never buffered.
    """
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                size = int(value.strip())
            except ValueError:
                return None
            if size > limit:
                return too_large(limit)
    return None


def read_limited(read: Callable[[int], bytes], limit: int) -> bytes | None:
    """Read a body through ``read`` to its end, or return ``None`` once it passes ``limit``.

    ``read(n)`` may return fewer bytes than asked (a socket-backed WSGI stream does), so this
    reads until the stream ends.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = read(min(65536, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def too_large(limit: int) -> PayloadTooLarge:
    """The error for a body over ``limit`` bytes."""
    return PayloadTooLarge(f"webhook body is larger than {limit} bytes")


class WebhookHandler:
    """The framework-free core of an adapter: the mode, the timeouts and the callback.

    Args:
        bridge: the ``Bridge`` that verifies and parses webhooks.
        on_event: called with each ``WebhookOutcome`` that is neither
            a duplicate nor stale; sync or async. In inline mode a returned string is the reply
            (a returned ``WebhookResponse`` is sent as it is).
        mode: ``"fast"`` (acknowledge, then run the callback) or ``"inline"``.
        timeout: inline mode's bound on the callback, in seconds: one number for every
            provider, a mapping of provider name to seconds, or ``None`` for the defaults
            (1.5 s for Telnyx, 12 s for Twilio).

    Raises:
        ConfigError: an unknown mode, a callback that is not callable, or a timeout that is not
            a positive number.
    """

    def __init__(
        self,
        bridge: Bridge,
        on_event: OnEvent,
        *,
        mode: Mode = "fast",
        timeout: float | Mapping[str, float] | None = None,
    ) -> None:
        if mode not in ("fast", "inline"):
            raise ConfigError("mode must be 'fast' or 'inline'", variable="mode")
        if not callable(on_event):
            raise ConfigError("on_event must be callable", variable="on_event")
        self.bridge = bridge
        self.on_event = on_event
        self.mode: Mode = mode
        # Per provider name; absent names use their codec's own inline_reply_seconds.
        self.timeouts: dict[str, float] = {}
        self.default_timeout: float | None = None
        if isinstance(timeout, Mapping):
            self.timeouts = {str(k): _positive(v) for k, v in timeout.items()}
        elif timeout is not None:
            self.default_timeout = _positive(timeout)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # Fast-mode callbacks still running on the async path (one event loop: no lock).
        self.pending = 0

    # -- settings ------------------------------------------------------------------------
    @property
    def max_body_size(self) -> int:
        """The bridge's body limit; adapters stop reading past it."""
        return int(getattr(self.bridge, "max_body_size", 64 * 1024))

    def timeout_for(self, outcome: WebhookOutcome) -> float:
        """Seconds inline mode waits for the callback on ``outcome``: the configured timeout,
        else the provider's own (its codec's ``inline_reply_seconds``, safely under the time
        it waits for an answer)."""
        found = self.timeouts.get(outcome.provider, self.default_timeout)
        if found is not None:
            return found
        codec = outcome.codec
        return FALLBACK_TIMEOUT if codec is None else codec.inline_reply_seconds

    @staticmethod
    def wants_callback(outcome: WebhookOutcome) -> bool:
        """False for duplicates and stale events: they are only acknowledged."""
        return not (outcome.duplicate or outcome.stale)

    # -- replies -------------------------------------------------------------------------
    def reply_response(self, outcome: WebhookOutcome, reply: Any) -> WebhookResponse:
        """The answer for what an inline callback returned."""
        from smsbridge.webhooks import WebhookResponse

        if reply is None:
            return outcome.response
        if isinstance(reply, WebhookResponse):
            return reply
        if isinstance(reply, str):
            return outcome.reply(reply)
        log.warning(
            "on_event returned %s; only a str, a WebhookResponse or None is a reply",
            type(reply).__name__,
            extra=_context(outcome),
        )
        return outcome.response

    def late_reply(self, outcome: WebhookOutcome, reply: Any) -> None:
        """Log a reply that came after the timeout and so was never sent."""
        if reply is not None:
            log.warning(
                "on_event replied after the %.1f s timeout; the plain acknowledgement was sent"
                " instead (send the reply with bridge.send)",
                self.timeout_for(outcome),
                extra=_context(outcome),
            )

    def ignored_reply(self, outcome: WebhookOutcome, reply: Any) -> None:
        """Log a reply returned in fast mode, where the answer has already gone."""
        if reply is not None:
            log.warning(
                "on_event returned a reply in fast mode, where it is ignored (use mode='inline')",
                extra=_context(outcome),
            )

    # -- sync frameworks (Flask, Django, the standard library's server) -------------------
    def handle_stream(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        read: Callable[[int], bytes],
        remote_addr: str | None,
    ) -> WebhookResponse:
        """Read the raw body through ``read`` (never past the size limit) and handle it."""
        limit = self.max_body_size
        error = content_length_error(headers, limit)
        # The raw stream, never a parsed form: the signature covers the exact bytes.
        body = None if error else read_limited(read, limit)
        if body is None:
            return error_to_response(error or too_large(limit))
        return self.handle_sync(build_request(method, url, headers, body, remote_addr))

    def handle_sync(self, request: WebhookRequest) -> WebhookResponse:
        """Verify ``request``, run the callback as the mode says, return the answer."""
        try:
            outcome: WebhookOutcome = self.bridge.handle_webhook(request)
        except SmsBridgeError as exc:
            return error_to_response(exc)
        if not self.wants_callback(outcome):
            return outcome.response
        executor = self._pool()
        if self.mode == "fast":
            future = executor.submit(self._call_sync, outcome)
            future.add_done_callback(lambda f: self._after(f, outcome, self.ignored_reply))
            return outcome.response
        future = executor.submit(self._call_sync, outcome)
        try:
            reply = future.result(timeout=self.timeout_for(outcome))
        except concurrent.futures.TimeoutError:
            future.add_done_callback(lambda f: self._after(f, outcome, self.late_reply))
            return outcome.response
        except Exception:
            log.exception("on_event failed; the webhook was acknowledged", extra=_context(outcome))
            return outcome.response
        return self.reply_response(outcome, reply)

    def _call_sync(self, outcome: WebhookOutcome) -> Any:
        result = self.on_event(outcome)
        if inspect.isawaitable(result):
            # An async callback in a sync framework: this worker thread has no loop of its own.
            return asyncio.run(_awaited(result))
        return result

    @staticmethod
    def _after(
        future: concurrent.futures.Future[Any],
        outcome: WebhookOutcome,
        then: Callable[[WebhookOutcome, Any], None],
    ) -> None:
        exc = future.exception()
        if exc is not None:
            log.error(
                "on_event failed; the webhook was acknowledged",
                exc_info=(type(exc), exc, exc.__traceback__),
                extra=_context(outcome),
            )
            return
        then(outcome, future.result())

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=8, thread_name_prefix="smsbridge-webhook"
                )
            return self._executor

    def close(self, wait: bool = True) -> None:
        """Stop the worker threads of sync adapters, by default after running callbacks end."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait)

    # -- async frameworks (Starlette, FastAPI) -------------------------------------------
    async def call_async(self, outcome: WebhookOutcome) -> Any:
        """Run the callback on the running loop (async) or in a worker thread (sync)."""
        import anyio.to_thread

        if _is_async_callable(self.on_event):
            result = self.on_event(outcome)
        else:
            result = await anyio.to_thread.run_sync(self.on_event, outcome)
        if inspect.isawaitable(result):
            result = await result
        return result

    @property
    def backlogged(self) -> bool:
        """True when so many fast-mode callbacks are still running that the next webhook
        should wait for its own before being answered (see ``MAX_PENDING``)."""
        return self.pending >= MAX_PENDING

    async def call_logged(
        self, outcome: WebhookOutcome, then: Callable[[WebhookOutcome, Any], None]
    ) -> None:
        """Run the callback, log its failure, hand its reply to ``then``; never raises."""
        self.pending += 1
        try:
            reply = await self.call_async(outcome)
        except Exception:
            log.exception("on_event failed; the webhook was acknowledged", extra=_context(outcome))
            return
        finally:
            self.pending -= 1
        then(outcome, reply)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _is_async_callable(obj: Any) -> bool:
    while hasattr(obj, "func") and not inspect.isfunction(obj):  # functools.partial
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(
        getattr(obj, "__call__", None)  # noqa: B004 - callable objects with an async __call__
    )


def _positive(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError("timeout must be a number of seconds", variable="timeout") from None
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError("timeout must be a positive, finite number", variable="timeout")
    return seconds


def _context(outcome: WebhookOutcome) -> dict[str, Any]:
    event = outcome.event
    message_id = getattr(event, "provider_message_id", None) or getattr(event, "id", None)
    return {"provider": outcome.provider, "message_id": message_id}
