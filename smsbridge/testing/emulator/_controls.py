"""The control half of ``Emulator``: faults, webhooks, inbound messages, inspection, and
the clock of scheduled messages."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from smsbridge.testing.emulator._common import START_WORDS, STOP_WORDS
from smsbridge.testing.emulator._delivery import Dispatcher
from smsbridge.testing.emulator._personality import Personality
from smsbridge.testing.emulator._server import Listener
from smsbridge.testing.emulator._state import EmulatorState

__all__ = ["EmulatorControls"]


class EmulatorControls:
    """Methods that steer and inspect a running emulator (mixed into ``Emulator``)."""

    _state: EmulatorState
    _dispatcher: Dispatcher
    _apis: dict[str, Personality]
    _own: dict[str, Listener]
    _refusal_lock: threading.Lock
    _stopping: threading.Event
    _timers: list[threading.Timer]
    _started: bool

    def set_webhook(self, provider: str, number: str, url: str) -> None:
        """Where ``provider`` sends inbound messages for ``number`` (``"*"``: any number).

        A personality may also use it for status events of messages sent from that number
        without a callback URL of their own, as a messaging profile's webhook (see its module).
        """
        self._state.check_provider(provider)
        with self._state.lock:
            self._state.webhooks[provider][number] = url

    def inbound(
        self, provider: str, from_: str, to: str, text: str, media_urls: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Simulate a handset texting ``to``: POST the signed webhook now and report the answer.

        A ``STOP``-type keyword also opts ``from_`` out (and ``START`` back in), as the
        providers' default keyword handling does.

        Returns:
            ``provider``, ``message_id``, ``url``, ``status_code`` (``None`` if unreachable),
            ``body`` and ``content_type`` of the app's answer, and ``error``.

        Raises:
            LookupError: no webhook is configured for ``to`` (see ``set_webhook``).
        """
        self._state.check_provider(provider)
        url = self._state.webhook_for(provider, to)
        if url is None:
            raise LookupError(f"no {provider} webhook for {to}: call set_webhook() first")
        word = text.strip().upper()
        if word in STOP_WORDS or word in START_WORDS:
            self._state.set_opt_out(provider, from_, word in STOP_WORDS)
        api = self._apis[provider]
        entry = self._dispatcher.deliver_now(api.inbound(from_, to, text, tuple(media_urls), url))
        return {
            "provider": provider,
            "message_id": entry["message_id"],
            "url": url,
            "status_code": entry["status_code"],
            "body": entry["response_body"],
            "content_type": entry.get("response_content_type", ""),
            "error": entry["error"],
        }

    def fault(
        self,
        provider: str,
        kind: str,
        *,
        times: int | None = None,
        duration: float | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Inject a fault into ``provider``; see ``._faults`` for kinds and params.

        Args:
            provider: the name of an emulated provider (see ``providers``).
            kind: ``refuse``, ``http_error`` (``status``, ``accept``), ``rate_limit``
                (``retry_after``), ``latency`` (``seconds``), ``accept_then_hang``,
                ``error_code`` (``code``, ``status``, ``message``), ``fail_delivery``
                (``code``, ``status``). ``match="all"`` makes an edge fault hit reads too.
            times: apply to the next ``times`` matching requests, then clear.
            duration: clear after this many seconds.

        Returns:
            The fault's description (with its ``id``).
        """
        created = self._state.faults.add(provider, kind, times=times, duration=duration, **params)
        if kind == "refuse":
            self._sync_refusals()
            if duration is not None:
                timer = threading.Timer(duration + 0.01, self._sync_refusals)
                timer.daemon = True
                timer.start()
                self._timers.append(timer)
        return created.describe()

    def clear_faults(self, provider: str | None = None) -> int:
        """Remove every fault (of one provider); returns how many were removed."""
        if provider is not None:
            self._state.check_provider(provider)
        removed = self._state.faults.clear(provider)
        self._sync_refusals()
        return removed

    def faults(self) -> list[dict[str, Any]]:
        """The active faults, oldest first."""
        return self._state.faults.describe()

    def opt_out(self, provider: str, number: str) -> None:
        """Make sends from ``provider`` to ``number`` fail as opted out (its opt-out error)."""
        self._state.check_provider(provider)
        self._state.set_opt_out(provider, number, True)

    def opt_in(self, provider: str, number: str) -> None:
        """Undo ``opt_out``."""
        self._state.check_provider(provider)
        self._state.set_opt_out(provider, number, False)

    def messages(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Every message the provider(s) accepted, oldest first (what a test counts as sent)."""
        if provider is not None:
            self._state.check_provider(provider)
        return [record.summary() for record in self._state.list_messages(provider)]

    def callbacks(self) -> list[dict[str, Any]]:
        """Every webhook delivery attempt: ``url``, ``status_code``, ``event``, ``error``, …"""
        return self._dispatcher.log()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no status change or webhook is pending; ``False`` if ``timeout`` passed.

        Messages scheduled for later do not count: ``advance`` releases them."""
        return self._dispatcher.wait_idle(timeout)

    def now(self) -> datetime:
        """The emulator's clock (timezone-aware UTC): real time plus every ``advance`` since
        the start or the last ``reset``. Scheduling windows are measured from it."""
        return self._state.now()

    def advance(self, seconds: float) -> list[str]:
        """Move the emulator's clock ``seconds`` forward and release every scheduled message
        whose time has come, earliest ``send_at`` first, before returning.

        Each released message takes its first status at once (with its webhook) and the rest
        ``progress_delay`` apart, as an immediate send does: ``wait_idle`` then waits for
        them. Schedule ten minutes ahead and ``advance(600)``: no test sleeps for minutes.

        Returns:
            The ids of the released messages, in the order they were released.

        Raises:
            ValueError: ``seconds`` is negative or not finite (the clock only moves forward).
        """
        return self._state.scheduler.advance(seconds)

    def reset(self) -> None:
        """Forget messages (scheduled ones too), faults, webhooks, opt-outs, idempotency
        records and the log, and put the clock back to real time."""
        self._state.reset()
        for api in self._apis.values():
            api.reset()
        self._sync_refusals()

    def _sync_refusals(self) -> None:
        with self._refusal_lock:
            if self._stopping.is_set():
                return
            for provider, listener in self._own.items():
                if self._state.faults.refusing(provider):
                    listener.pause()
                elif self._started:
                    listener.resume()
