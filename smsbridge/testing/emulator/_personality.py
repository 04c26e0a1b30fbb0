"""The personality interface: everything the emulator does differently for each provider.

A personality is a subclass of ``Personality`` in ``smsbridge/testing/emulator/<name>.py``,
published there as ``PERSONALITY``. Its class attributes describe the provider (they are read
before any emulator exists); an instance plays the provider inside one ``Emulator``, with
the shared ``EmulatorState`` and the constructor options
it declared. The generic modules never name a provider: they loop over ``discover``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import keyword
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from smsbridge._models import MessageStatus

if TYPE_CHECKING:
    from smsbridge.testing.emulator._common import MessageRecord, Request, Response, Step
    from smsbridge.testing.emulator._delivery import Delivery
    from smsbridge.testing.emulator._faults import Fault
    from smsbridge.testing.emulator._state import EmulatorState

__all__ = ["PACKAGE", "Personality", "discover"]

PACKAGE = __name__.rpartition(".")[0]  # smsbridge.testing.emulator: where personalities live


class Personality(ABC):
    """One provider as the emulator plays it: its API, its faults, its webhooks, its account.

    Subclass it, fill in the class attributes and the abstract methods, and set
    ``PERSONALITY = YourPersonality`` at module level. One instance is created per
    ``Emulator``; it may keep per-emulator state of its own (and forget it in
    ``reset``), but messages, opt-outs, webhooks and faults live in ``state``.

    Examples:
        The emulator plays every personality ``discover`` finds:

        >>> from smsbridge.testing.emulator import discover
        >>> [personality.name for personality in discover()]
        ['twilio', 'telnyx', 'vonage']
    """

    # -- what the provider is (class attributes) ----------------------------------------------

    name: ClassVar[str]
    """The provider's registry name, which is also this module's name: ``"twilio"``."""

    title: ClassVar[str]
    """Its display name in messages: ``"Twilio"``."""

    rank: ClassVar[int]
    """Order among personalities, lowest first: in ``SMSBRIDGE_PROVIDERS`` of
    ``environment()`` (the failover order), ``info()``, listings and error messages."""

    path_prefixes: ClassVar[tuple[str, ...]]
    """Request paths of its API on the shared listener (``emu.url``): ``("/2010-04-01/",)``.
    Its own listener (``emu.<name>_url``) sends it every request, whatever the path."""

    options: ClassVar[Mapping[str, Any]]
    """Its keyword arguments of ``Emulator(...)`` with their defaults, each named
    ``<name>_...`` (``{"twilio_auth_token": "..."}``). ``<name>_port`` is added for every
    personality by the emulator itself: do not declare it."""

    secret_options: ClassVar[tuple[str, ...]] = ()
    """Options shown as ``***`` in ``repr(emulator)`` (its fake credentials)."""

    cli_options: ClassVar[Mapping[str, str]] = {}
    """Text options ``smsbridge emulator`` offers as flags (``twilio_auth_token`` becomes
    ``--twilio-auth-token``), with their help."""

    statuses: ClassVar[Mapping[str, MessageStatus]]
    """Its message statuses in the common vocabulary: the provider package's ``_statuses``
    table. A status whose common status is terminal completes a message (``completed_at``)."""

    delivery_failures: ClassVar[Mapping[str, str | None]]
    """The statuses a ``fail_delivery`` fault may end a message in, each with its default
    error code (``None``: no code); the first one is the default status."""

    example_error_code: ClassVar[str]
    """An error code to suggest when an ``error_code`` fault is given none: ``"21610"``."""

    def __init__(self, state: EmulatorState, options: Mapping[str, Any]) -> None:
        """Bind to one emulator. ``options`` holds every key of ``options``, defaulted.

        Subclasses read their options here (call ``super().__init__`` first) and may raise
        ``ValueError`` or ``TypeError`` for a bad one.
        """
        self.state = state

    @classmethod
    def available(cls) -> bool:
        """Whether this process can run the personality (its provider's optional libraries
        are installed). An unavailable one is left out of the emulator altogether, so its
        ``environment()`` never names a provider the application cannot build."""
        return True

    @classmethod
    def claims(cls, path: str) -> bool:
        """Whether a request for ``path`` on the shared listener is for this provider."""
        return path.startswith(cls.path_prefixes)

    @classmethod
    def is_final(cls, status: str) -> bool:
        """Whether no later status follows ``status`` (one of ``statuses``)."""
        common = cls.statuses.get(status)
        return common is not None and common.terminal

    # -- the API (server threads) -------------------------------------------------------------

    @abstractmethod
    def is_send(self, request: Request) -> bool:
        """Whether ``request`` creates a message: edge faults match only those by default."""

    @abstractmethod
    def handle(self, request: Request) -> Response:
        """Answer one API request (authenticate it, then send, read back, list, ...).

        A valid send checks ``state.is_opted_out``, takes its message faults with
        ``state.faults.take_message(self.name)`` (``error_code``, ``accept_then_hang``,
        ``http_error`` with ``accept``, ``fail_delivery``), records a
        ``MessageRecord`` with ``state.add_message`` and
        schedules its status changes with ``state.progress(record, steps, self.status_callback)``.
        A scheduled send records its ``send_at`` (checked against ``state.now()``) and calls
        ``state.hold`` instead: the steps start when the emulator's clock reaches that time,
        unless ``state.cancel`` cancelled it first.
        Idempotency keys can be honoured with ``state.recall_answer`` / ``state.remember_answer``.
        """

    @abstractmethod
    def edge_fault(self, fault: Fault) -> Response:
        """The answer to an ``http_error`` (``fault.params["status"]``) or ``rate_limit``
        (``fault.params["retry_after"]``) fault, in the provider's error format."""

    # -- webhooks (timer and delivery threads) ------------------------------------------------

    @abstractmethod
    def status_callback(self, record: MessageRecord, step: Step) -> Delivery | None:
        """The signed status webhook for ``record`` having just reached ``step``, or ``None``
        (no URL to call). The ``Delivery``'s ``build(url, attempt)`` signs each attempt."""

    @abstractmethod
    def inbound(
        self, from_: str, to: str, text: str, media_urls: tuple[str, ...], url: str
    ) -> Delivery:
        """The signed webhook the provider sends to ``url`` when ``from_`` texts ``to``."""

    # -- what an application needs to know ----------------------------------------------------

    @abstractmethod
    def attributes(self) -> Mapping[str, str]:
        """Its attributes on the emulator, each named ``<name>_...``: account ids, fake
        credentials (``{"twilio_auth_token": ...}`` makes ``emu.twilio_auth_token``).
        ``emu.<name>_url`` is provided by the emulator."""

    @abstractmethod
    def environment(self, base_url: str) -> dict[str, str]:
        """The variables pointing ``Bridge.from_env()`` at this provider on ``base_url``
        (``<NAME>_BASE_URL``, credentials, a sender); ``SMSBRIDGE_PROVIDERS`` is added for all."""

    @abstractmethod
    def info(self, base_url: str) -> dict[str, Any]:
        """Its entry of ``Emulator.info()`` (and ``GET /_emulator/info``): ``base_url`` and the
        account, credentials included (they are fake)."""

    def reset(self) -> None:  # noqa: B027 (an optional hook: nothing to forget by default)
        """Forget whatever this instance remembers itself (``Emulator.reset()``); the shared
        state is reset by the emulator."""


@functools.cache
def discover() -> tuple[type[Personality], ...]:
    """The personality of every registered provider that has one, in ``rank``
    order: ``smsbridge.testing.emulator.<name>`` for each ``smsbridge.providers`` registry name
    (a name without such a module is skipped, and so is one whose ``available``
    is false)."""
    from smsbridge.providers._registry import names

    found: list[type[Personality]] = []
    for name in names():
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            continue  # not a module name: it cannot have a personality
        module_name = f"{PACKAGE}.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        personality = getattr(importlib.import_module(module_name), "PERSONALITY", None)
        if not (
            isinstance(personality, type)
            and issubclass(personality, Personality)
            and getattr(personality, "name", None) == name
        ):
            raise TypeError(
                f"{module_name}.PERSONALITY must be a Personality subclass named {name!r}"
            )
        if personality.available():
            found.append(personality)
    return tuple(sorted(found, key=lambda personality: (personality.rank, personality.name)))
