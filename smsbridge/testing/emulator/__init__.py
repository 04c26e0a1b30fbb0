"""The provider emulator (public as ``smsbridge.testing.Emulator``): one generic engine, and
one *personality* module per provider it can play.

Layout
======

Generic modules (private, never name a provider; they loop over the personalities):

* ``_emulator``: ``Emulator`` itself: lifecycle, listeners (the shared one and one per
  personality), request routing, ``environment()``, ``info()``, ``emu.<provider>_...``
  attributes;
* ``_controls``, ``_control_api``: faults, webhooks, inbound messages, opt-outs and inspection,
  as Python methods and as the ``/_emulator/...`` HTTP control API;
* ``_state``: what every personality shares (messages, opt-outs, webhooks, idempotency
  records, the fault board, the clock) and the scheduling of status changes;
* ``_schedule``: the emulator's clock (real time plus what ``advance()`` added) and the
  holding of scheduled messages until their time;
* ``_faults``: fault kinds, their validation and consumption;
* ``_delivery``: the timer and webhook delivery threads, and the delivery log;
* ``_server``: the HTTP/1.1 listeners;
* ``_common``: request/response values, message records, number and date formats, ids;
* ``_personality``: the ``Personality`` interface and ``discover``.

Personality modules (public names, one per provider): ``twilio``, ``telnyx``, ``vonage``; a
provider's scheduling act (window, errors, cancel) sits beside its personality in
``_schedule_<name>`` (``_schedule_twilio``, ``_schedule_telnyx``), and its wire formats (the
message resource it answers with, the bodies of its webhooks) in ``_payloads_<name>``. Each
personality holds the rest of the provider's act: request routing and authentication, send
validation, read-back and listing, error bodies, edge-fault answers, status callbacks and
inbound webhooks (their bodies from ``_payloads_<name>``, signed with the signer of the
provider's package, ``smsbridge.providers.<name>._signer``), its fake account (constructor
options, attributes, ``environment()`` variables, ``info()``).

Discovery
=========

The emulator plays every provider of the registry (``smsbridge.providers._registry.names()``)
that has a module ``smsbridge.testing.emulator.<name>`` here, taking its module-level
``PERSONALITY`` (a ``Personality`` subclass whose ``name`` is that registry name). A
registry name without such a module is skipped. Personalities are ordered by ``rank``.

Adding a personality (say ``vonage``)
=====================================

1. The provider itself: ``smsbridge/providers/vonage/`` and its ``BUILTIN`` registry entry.
2. ``smsbridge/testing/emulator/vonage.py`` with a subclass of ``Personality`` and
   ``PERSONALITY = VonagePersonality``. Fill in, typed and documented on the base class:

   * class attributes: ``name = "vonage"``, ``title = "Vonage"``, ``rank`` (after the others,
     e.g. 30: it orders ``SMSBRIDGE_PROVIDERS``), ``path_prefixes`` (its API paths on the shared
     listener, distinct from the others'), ``options`` (``Emulator(vonage_api_key=...)``
     keyword arguments with defaults; ``vonage_port`` comes for free), ``secret_options``,
     ``statuses`` (``smsbridge.providers.vonage._statuses``' table), ``delivery_failures``
     (statuses a ``fail_delivery`` fault may end in, with default error codes) and
     ``example_error_code``;
   * ``__init__(state, options)``: read the options (credentials, keys);
   * ``is_send``, ``handle`` (the API: authenticate, validate, opt-outs, message faults,
     ``state.add_message`` and ``state.progress``), ``edge_fault`` (``http_error`` and
     ``rate_limit`` answers in its error format);
   * ``status_callback`` and ``inbound``: a ``Delivery`` whose
     ``build(url, attempt)`` returns the body and signed headers of each attempt;
   * ``attributes`` (``emu.vonage_api_key``, ...), ``environment`` (``VONAGE_*`` variables for
     ``Bridge.from_env``), ``info``; optionally ``reset``.

   ``.twilio`` (form-encoded, HMAC-signed) and ``.telnyx`` (JSON, Ed25519-signed, with
   retries and idempotency keys), with their ``_payloads_<name>`` modules, are complete
   examples.
3. Nothing else: the emulator, its control API, ``smsbridge emulator`` and ``environment()``
   pick it up. Tests that drive it go with the others (``tests/test_emulator*.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbridge._lazy import module_getattr as _module_getattr

if TYPE_CHECKING:
    from smsbridge.testing.emulator._emulator import Emulator
    from smsbridge.testing.emulator._personality import Personality, discover

__all__ = ["Emulator", "Personality", "discover"]

_LAZY = {
    "Emulator": "smsbridge.testing.emulator._emulator:Emulator",
    "Personality": "smsbridge.testing.emulator._personality:Personality",
    "discover": "smsbridge.testing.emulator._personality:discover",
}

__getattr__ = _module_getattr(__name__, _LAZY)
