"""``Emulator``: Twilio- and Telnyx-compatible messaging APIs on 127.0.0.1, in-process."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from smsbridge._signing import TwilioAlgorithm
from smsbridge.testing._emulator_common import (
    PROVIDERS,
    Request,
    Response,
    json_response,
)
from smsbridge.testing._emulator_control_api import handle_control
from smsbridge.testing._emulator_controls import EmulatorControls
from smsbridge.testing._emulator_delivery import Dispatcher
from smsbridge.testing._emulator_server import Listener
from smsbridge.testing._emulator_state import Config, EmulatorState
from smsbridge.testing._emulator_telnyx import TelnyxApi
from smsbridge.testing._emulator_telnyx_wire import edge_fault_response as telnyx_edge
from smsbridge.testing._emulator_twilio import TwilioApi
from smsbridge.testing._emulator_twilio_wire import edge_fault_response as twilio_edge
from smsbridge.testing._signers import make_telnyx_keypair

__all__ = ["Emulator"]

DEFAULT_TWILIO_ACCOUNT_SID = "AC" + "e1" * 16
# Fake credentials of the emulated accounts: they open nothing but this local emulator.
DEFAULT_TWILIO_AUTH_TOKEN = "emulator0auth0token0not0a0secret"  # noqa: S105
DEFAULT_TELNYX_API_KEY = "KEYEMULATOR_not_a_secret"
# Fixed so that an app in another process can be configured once with the same public key.
DEFAULT_TELNYX_SEED = hashlib.sha256(b"smsbridge emulator telnyx signing key v1").digest()


class Emulator(EmulatorControls):
    """A local fake of Twilio's and Telnyx's messaging APIs, for tests, demos and benchmarks.

    It accepts sends in the providers' real request formats, answers with their real response
    and error bodies, moves each accepted message through ``queued → sent → delivered`` (or a
    configured failure), delivers correctly signed status callbacks and inbound messages, and
    injects faults on demand. All credentials are fake and exposed by :meth:`info`.

    With ``separate_ports=True`` (the default) each provider also gets a listener of its own
    (:attr:`twilio_url`, :attr:`telnyx_url`); point providers there so that a ``refuse`` fault
    closes that socket and clients see a real ``httpx.ConnectError``. :attr:`url` serves both
    providers and the ``/_emulator/`` control API; a refused provider reached through it gets its
    connection closed unanswered (``httpx.RemoteProtocolError``).

    Example::

        with Emulator(progress_delay=0.05) as emu:
            emu.fault("twilio", "rate_limit", times=1, retry_after=2)
            twilio = Twilio(account_sid=emu.twilio_account_sid,
                            auth_token=emu.twilio_auth_token, base_url=emu.twilio_url)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        twilio_account_sid: str = DEFAULT_TWILIO_ACCOUNT_SID,
        twilio_auth_token: str = DEFAULT_TWILIO_AUTH_TOKEN,
        twilio_api_keys: Mapping[str, str] | None = None,
        twilio_shared_key: tuple[str, str, TwilioAlgorithm] | None = None,
        telnyx_api_key: str = DEFAULT_TELNYX_API_KEY,
        telnyx_signing_seed: bytes | None = None,
        progress_delay: float = 0.3,
        deliver_callbacks: bool = True,
        separate_ports: bool = True,
        twilio_port: int = 0,
        telnyx_port: int = 0,
    ) -> None:
        if progress_delay < 0:
            raise ValueError("progress_delay must be >= 0")
        keys = make_telnyx_keypair(telnyx_signing_seed or DEFAULT_TELNYX_SEED)
        self._config = Config(
            twilio_account_sid=twilio_account_sid,
            twilio_auth_token=twilio_auth_token,
            twilio_api_keys=dict(twilio_api_keys or {}),
            twilio_shared_key=twilio_shared_key,
            telnyx_api_key=telnyx_api_key,
            telnyx_keys=keys,
            progress_delay=progress_delay,
            deliver_callbacks=deliver_callbacks,
        )
        self._stopping = threading.Event()
        # Webhook retries follow the pace of the emulated world (fast in tests, visible in demos).
        self._dispatcher = Dispatcher(retry_delay=progress_delay)
        self._state = EmulatorState(self._config, self._dispatcher)
        self._apis: dict[str, TwilioApi | TelnyxApi] = {
            "twilio": TwilioApi(self._state),
            "telnyx": TelnyxApi(self._state),
        }
        self._main = Listener(host, port, "main", self._app, self._stopping)
        self._own: dict[str, Listener] = {}
        if separate_ports:
            self._own["twilio"] = Listener(host, twilio_port, "twilio", self._app, self._stopping)
            self._own["telnyx"] = Listener(host, telnyx_port, "telnyx", self._app, self._stopping)
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
        return f"Emulator(url={self.url!r}, {state}, twilio_auth_token=***, telnyx_api_key=***)"

    # -- addresses and accounts ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL serving both providers and the control API, ``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self._main.port}"

    @property
    def twilio_url(self) -> str:
        """Base URL for a Twilio client (the Twilio-only listener with ``separate_ports``)."""
        listener = self._own.get("twilio", self._main)
        return f"http://{self._host}:{listener.port}"

    @property
    def telnyx_url(self) -> str:
        """Base URL for Telnyx, without ``/v2`` (its own listener with ``separate_ports``)."""
        listener = self._own.get("telnyx", self._main)
        return f"http://{self._host}:{listener.port}"

    @property
    def twilio_account_sid(self) -> str:
        """The emulated Twilio account SID."""
        return self._config.twilio_account_sid

    @property
    def twilio_auth_token(self) -> str:
        """The emulated (fake) Twilio auth token: signs status callbacks and inbound webhooks."""
        return self._config.twilio_auth_token

    @property
    def telnyx_api_key(self) -> str:
        """The emulated (fake) Telnyx API key."""
        return self._config.telnyx_api_key

    @property
    def telnyx_public_key(self) -> str:
        """Base64 Ed25519 public key that verifies this emulator's Telnyx webhooks."""
        return self._config.telnyx_keys.public_key_b64

    def environment(self) -> dict[str, str]:
        """The variables that point ``Bridge.from_env()`` (or ``smsbridge send``/``serve``) at
        this emulator: both providers, each on its own listener, sending from the emulator's
        pool numbers.

        Example:
            >>> sms = Bridge.from_env({**os.environ, **emu.environment()})
        """
        config = self._config
        return {
            "SMSBRIDGE_PROVIDERS": "twilio,telnyx",
            "TWILIO_BASE_URL": self.twilio_url,
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_FROM": config.twilio_pool_number,
            "TELNYX_BASE_URL": self.telnyx_url,
            "TELNYX_API_KEY": self.telnyx_api_key,
            "TELNYX_PUBLIC_KEY": self.telnyx_public_key,
            "TELNYX_FROM": config.telnyx_pool_number,
        }

    def info(self) -> dict[str, Any]:
        """URLs, account ids and the (fake, deliberately exposed) credentials of this emulator."""
        return {
            "url": self.url,
            "twilio": {
                "base_url": self.twilio_url,
                "account_sid": self.twilio_account_sid,
                "auth_token": self.twilio_auth_token,
                "api_key_sids": sorted(self._config.twilio_api_keys),
            },
            "telnyx": {
                "base_url": self.telnyx_url,
                "api_base_url": self.telnyx_url + "/v2",
                "api_key": self.telnyx_api_key,
                "public_key": self.telnyx_public_key,
            },
            "progress_delay": self._config.progress_delay,
            "deliver_callbacks": self._config.deliver_callbacks,
            "note": "credentials are fake, generated for this emulator; safe to share",
        }

    # -- request routing ----------------------------------------------------------------------

    def _app(self, request: Request, role: str) -> Response:
        path = request.path
        if path.startswith("/_emulator/"):
            return handle_control(self, request)
        if path.startswith("/2010-04-01/"):
            provider = "twilio"
        elif path.startswith("/v2/"):
            provider = "telnyx"
        elif role in PROVIDERS:
            provider = role
        else:
            return json_response(404, {"error": f"no endpoint {path}: see /_emulator/info"})
        if role in PROVIDERS and provider != role:
            provider = role  # the other provider's path on this listener: a 404 in its format
        if self._state.faults.refusing(provider):
            return Response(action="close")
        api = self._apis[provider]
        latency, fault = self._state.faults.take_edge(provider, api.is_send(request))
        if fault is None:
            response = api.handle(request)
        else:
            response = (twilio_edge if provider == "twilio" else telnyx_edge)(fault)
        response.delay += latency
        return response
