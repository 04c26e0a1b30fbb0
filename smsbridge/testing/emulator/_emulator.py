"""``Emulator``: every personality's messaging API on 127.0.0.1, in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from smsbridge.testing.emulator._common import Request, Response, json_response
from smsbridge.testing.emulator._control_api import handle_control
from smsbridge.testing.emulator._controls import EmulatorControls
from smsbridge.testing.emulator._delivery import Dispatcher
from smsbridge.testing.emulator._personality import Personality, discover
from smsbridge.testing.emulator._server import Listener
from smsbridge.testing.emulator._state import Config, EmulatorState

__all__ = ["Emulator"]


class Emulator(EmulatorControls):
    """A local fake of the providers' messaging APIs, for tests, demos and benchmarks.

    It accepts sends in the providers' real request formats, answers with their real response
    and error bodies, moves each accepted message through ``queued → sent → delivered`` (or a
    configured failure), delivers correctly signed status callbacks and inbound messages, and
    injects faults on demand. All credentials are fake and exposed by ``info``.

    Every provider with a personality (see ``smsbridge.testing.emulator``) is emulated, each
    adding its own keyword arguments (``<provider>_...``, e.g. its fake credentials, and
    ``<provider>_port``) and attributes: ``emu.<provider>_url`` and, for instance, its account
    ids and credentials (``emu.<provider>_auth_token``); ``providers`` lists them.

    With ``separate_ports=True`` (the default) each provider also gets a listener of its own
    (``emu.<provider>_url``); point providers there so that a ``refuse`` fault closes that
    socket and clients see a real ``httpx.ConnectError``. ``url`` serves every provider and
    the ``/_emulator/`` control API; a refused provider reached through it gets its connection
    closed unanswered (``httpx.RemoteProtocolError``).

    Scheduled messages are held until the emulator's clock (``now``: real time plus every
    ``advance``) reaches their time, and can be cancelled and read back meanwhile, each in
    its provider's format. See docs/emulator.md for examples.

    Args:
        host: the address to listen on.
        port: the shared listener's port (0: a free one).
        progress_delay: seconds between a message's status steps (``queued``, ``sent``,
            ``delivered``).
        deliver_callbacks: send status callbacks to the messages' callback URLs.
        separate_ports: give each provider a listener of its own too.
        **options: each personality's options (``twilio_auth_token=``, ``telnyx_port=``, ...).

    Examples:
        >>> from smsbridge import Bridge
        >>> from smsbridge.providers import Twilio
        >>> from smsbridge.testing import Emulator
        >>> with Emulator() as emu:
        ...     twilio = Twilio(
        ...         emu.twilio_account_sid,
        ...         emu.twilio_auth_token,
        ...         from_="+15017122661",
        ...         base_url=emu.twilio_url,
        ...     )
        ...     with Bridge(twilio) as sms:
        ...         result = sms.send(to="+14155552671", body="Your order shipped")
        ...     print([message["to"] for message in emu.messages("twilio")])
        ['+14155552671']

        Faults make a provider fail on demand: ``emu.fault("twilio", "http_error",
        status=503)``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        progress_delay: float = 0.3,
        deliver_callbacks: bool = True,
        separate_ports: bool = True,
        **options: Any,
    ) -> None:
        if progress_delay < 0:
            raise ValueError("progress_delay must be >= 0")
        personalities = {personality.name: personality for personality in discover()}
        known = {
            name: {**personality.options, f"{name}_port": 0}
            for name, personality in personalities.items()
        }
        for option in options:
            if not any(option in defaults for defaults in known.values()):
                raise TypeError(
                    f"Emulator.__init__() got an unexpected keyword argument {option!r}"
                )
        chosen = {
            name: {option: options.get(option, default) for option, default in defaults.items()}
            for name, defaults in known.items()
        }
        self._config = Config(progress_delay=progress_delay, deliver_callbacks=deliver_callbacks)
        self._stopping = threading.Event()
        # Webhook retries follow the pace of the emulated world (fast in tests, visible in demos).
        self._dispatcher = Dispatcher(retry_delay=progress_delay)
        self._state = EmulatorState(self._config, self._dispatcher, personalities)
        self._main = Listener(host, port, "main", self._app, self._stopping)
        self._own: dict[str, Listener] = {}
        if separate_ports:
            for name in personalities:
                own_port = int(chosen[name][f"{name}_port"])
                self._own[name] = Listener(host, own_port, name, self._app, self._stopping)
        self._apis: dict[str, Personality] = {
            name: personality(self._state, chosen[name])
            for name, personality in personalities.items()
        }
        self._host = host
        self._refusal_lock = threading.Lock()
        self._timers: list[threading.Timer] = []
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Open the listening sockets and start the background threads; returns ``self``."""
        if self._stopping.is_set():
            raise RuntimeError("an Emulator cannot be restarted once stopped: create a new one")
        if not self._started:
            self._dispatcher.start()
            self._state.scheduler.start()
            self._main.start()
            for listener in self._own.values():
                listener.start()
            self._started = True
            self._sync_refusals()  # faults injected before start apply from the first request
        return self

    def stop(self) -> None:
        """Close every socket (hanging requests end), stop the threads. Idempotent."""
        self._stopping.set()
        for timer in self._timers:
            timer.cancel()
        # Closing a listener waits for its accept loop to notice; close them all at once.
        closers = [
            threading.Thread(target=listener.stop, daemon=True)
            for listener in (self._main, *self._own.values())
        ]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join()
        self._state.scheduler.stop()
        if self._started:
            self._dispatcher.close()
            self._started = False

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._started else "stopped"
        hidden = "".join(
            f", {option}=***" for api in self._apis.values() for option in api.secret_options
        )
        return f"Emulator(url={self.url!r}, {state}{hidden})"

    # -- addresses and accounts ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL serving every provider and the control API, ``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self._main.port}"

    @property
    def providers(self) -> tuple[str, ...]:
        """The names of the emulated providers, in their personalities' rank order."""
        return tuple(self._apis)

    def __getattr__(self, name: str) -> str:
        """The personalities' attributes: ``<provider>_url`` (the base URL for that provider's
        client: its own listener with ``separate_ports``, else ``url``), and each one's
        ``attributes`` (account ids, fake credentials, public keys, ...)."""
        apis: dict[str, Personality] | None = self.__dict__.get("_apis")
        if apis is not None and not name.startswith("_"):
            for provider, api in apis.items():
                if name == f"{provider}_url":
                    return self._base_url(provider)
                value = api.attributes().get(name)
                if value is not None:
                    return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self) -> Iterable[str]:
        names = set(super().__dir__())
        for provider, api in self._apis.items():
            names.add(f"{provider}_url")
            names.update(api.attributes())
        return sorted(names)

    def environment(self) -> dict[str, str]:
        """The variables that point ``Bridge.from_env()`` (or ``smsbridge send``/``serve``) at
        this emulator: every provider, each on its own listener, sending from the emulator's
        pool numbers.

        Examples:
            >>> sms = Bridge.from_env({**os.environ, **emu.environment()})
        """
        variables = {"SMSBRIDGE_PROVIDERS": ",".join(self._apis)}
        for provider, api in self._apis.items():
            variables.update(api.environment(self._base_url(provider)))
        return variables

    def info(self) -> dict[str, Any]:
        """URLs, account ids and the (fake, deliberately exposed) credentials of this emulator."""
        return {
            "url": self.url,
            **{name: api.info(self._base_url(name)) for name, api in self._apis.items()},
            "progress_delay": self._config.progress_delay,
            "deliver_callbacks": self._config.deliver_callbacks,
            "note": "credentials are fake, generated for this emulator; safe to share",
        }

    def _base_url(self, provider: str) -> str:
        listener = self._own.get(provider, self._main)
        return f"http://{self._host}:{listener.port}"

    # -- request routing ----------------------------------------------------------------------

    def _app(self, request: Request, role: str) -> Response:
        path = request.path
        if path.startswith("/_emulator/"):
            return handle_control(self, request)
        # A provider's own listener answers everything in its format (another's path: a 404).
        api = self._apis.get(role)
        if api is None:
            api = next((api for api in self._apis.values() if api.claims(path)), None)
        if api is None:
            return json_response(404, {"error": f"no endpoint {path}: see /_emulator/info"})
        if self._state.faults.refusing(api.name):
            return Response(action="close")
        # A scheduled message whose time has come is released before anything reads it, even
        # if the release thread has not woken yet: answers always match the emulator's clock.
        self._state.scheduler.release_due()
        latency, fault = self._state.faults.take_edge(api.name, api.is_send(request))
        response = api.handle(request) if fault is None else api.edge_fault(fault)
        response.delay += latency
        return response
