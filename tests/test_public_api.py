"""The public surface: complete, sorted __all__ lists, the design's names, and a light import."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
import types
from typing import Any

import pytest

import smsbridge
from smsbridge import _errors, _models

PUBLIC_MODULES = [
    "smsbridge",
    "smsbridge.providers",
    "smsbridge.routing",
    "smsbridge.stores",
    "smsbridge.testing",
    "smsbridge.transports",
    "smsbridge.webhooks",
]


def _existing(names: list[str]) -> list[str]:
    present = []
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        present.append(name)
    return present


MODULES = _existing(PUBLIC_MODULES)


def _isort_key(name: str) -> tuple[int, list[Any]]:
    """ruff's RUF022 order: CONSTANTS, then CamelCase, then the rest, each naturally sorted."""
    if len(name) > 1 and name.isupper():
        category = 0
    elif name[:1].isupper():
        category = 1
    else:
        category = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return category, natural


def test_the_core_public_modules_exist() -> None:
    """The package and its providers, stores and testing subpackages are importable."""
    for name in ("smsbridge", "smsbridge.providers", "smsbridge.stores", "smsbridge.testing"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_without_repeats(name: str) -> None:
    """__all__ is in ruff's isort-style order (plain alphabetical where there are no constants)."""
    names = list(importlib.import_module(name).__all__)
    assert names == sorted(names, key=_isort_key)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", MODULES)
def test_everything_listed_imports(name: str) -> None:
    """Every name in __all__ resolves, lazily loaded ones included."""
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert getattr(module, attr) is not None, f"{name}.{attr}"
        namespace: dict[str, Any] = {}
        exec(f"from {name} import {attr}", namespace)  # the user's spelling
        assert namespace[attr] is getattr(module, attr)


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_is_listed(name: str) -> None:
    """Every public class or function the module defines (or loads lazily) is in __all__."""
    module = importlib.import_module(name)
    listed = set(module.__all__)
    for attr, value in list(vars(module).items()):
        if attr.startswith("_") or isinstance(value, types.ModuleType):
            continue
        defined_in = getattr(value, "__module__", None) or ""
        # Defined here or in one of this package's private modules (not merely imported).
        ours = defined_in == name or defined_in.startswith(name + "._")
        if ours and (inspect.isclass(value) or inspect.isfunction(value)):
            assert attr in listed, f"{name}.{attr} is public but not in __all__"
    lazy = getattr(module, "_LAZY", {})
    assert set(lazy) <= listed, f"{name} loads names it does not list: {set(lazy) - listed}"


def test_every_error_class_is_exported_from_smsbridge() -> None:
    """Every exception class of the error tree is importable from smsbridge itself."""
    for attr in _errors.__all__:
        value = getattr(_errors, attr)
        if inspect.isclass(value):
            assert attr in smsbridge.__all__
            assert getattr(smsbridge, attr) is value


def test_every_model_class_is_exported_from_smsbridge() -> None:
    """Every pydantic model and MessageStatus is importable from smsbridge itself."""
    for attr in _models.__all__:
        value = getattr(_models, attr)
        if inspect.isclass(value):
            assert attr in smsbridge.__all__
            assert getattr(smsbridge, attr) is value


def test_design_section_2_names_import() -> None:
    """The names of design section 2 import from where the design says."""
    from smsbridge import (
        Bridge,
        InboundMessage,
        InvalidPhoneNumber,
        MalformedWebhook,
        MessageStatus,
        PayloadTooLarge,
        SendResult,
        SignatureError,
        SmsBridgeError,
        StaleWebhook,
        StatusEvent,
        UnknownProvider,
        WebhookError,
        WebhookRequest,
        segments,
        to_e164,
    )
    from smsbridge.providers import Telnyx, Twilio

    assert callable(Bridge.from_env)
    assert callable(Bridge.from_config)
    for method in ("send", "asend", "close", "aclose", "handle_webhook", "ahandle_webhook"):
        assert callable(getattr(Bridge, method))
    assert issubclass(InvalidPhoneNumber, ValueError)
    for cls in (SignatureError, StaleWebhook, UnknownProvider, MalformedWebhook, PayloadTooLarge):
        assert issubclass(cls, WebhookError)
        assert issubclass(cls, SmsBridgeError)
    for field in (
        "provider",
        "provider_message_id",
        "status",
        "to",
        "from_",
        "segments",
        "encoding",
        "reference",
        "attempts",
        "raw",
    ):
        assert field in SendResult.model_fields
    assert to_e164("020 7946 0018", region="GB") == "+442079460018"
    info = segments("Hello €")
    assert (info.encoding, info.segments, info.units) == ("GSM-7", 1, 8)
    assert Twilio.name == "twilio"
    assert Telnyx.name == "telnyx"
    assert {InboundMessage.__name__, StatusEvent.__name__} == {"InboundMessage", "StatusEvent"}
    assert WebhookRequest is smsbridge.WebhookRequest
    assert MessageStatus.DELIVERED.terminal


def test_message_status_has_the_eleven_values() -> None:
    """MessageStatus is a str enum of exactly the design's eleven values."""
    from smsbridge import MessageStatus

    assert [s.value for s in MessageStatus] == [
        "queued",
        "scheduled",
        "sending",
        "sent",
        "delivered",
        "read",
        "undelivered",
        "failed",
        "unknown",
        "canceled",
        "received",
    ]
    assert issubclass(MessageStatus, str)
    assert MessageStatus("delivered") == "delivered"
    assert str(MessageStatus.SENT) == "sent"


def test_testing_exposes_the_emulator_and_signers() -> None:
    """smsbridge.testing offers the emulator, the signers and the recording provider."""
    import smsbridge.testing as testing

    for attr in ("Emulator", "RecordingProvider", "sign_twilio", "sign_telnyx"):
        assert attr in testing.__all__


def _modules_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=60
    )
    return set(json.loads(out.stdout))


HEAVY = (
    "httpx",
    "pydantic",
    "phonenumbers",
    "nacl",
    "anyio",
    "smsbridge.providers.twilio",
    "smsbridge.providers.telnyx",
    "smsbridge._bridge",
    "smsbridge._models",
)


def test_import_smsbridge_is_light() -> None:
    """`import smsbridge` loads neither httpx, pydantic nor any provider module."""
    loaded = _modules_after("import smsbridge")
    assert "smsbridge" in loaded
    assert not [m for m in HEAVY if m in loaded]


def test_provider_modules_load_on_first_use() -> None:
    """Importing Twilio loads the Twilio codec (and httpx) but not the Telnyx one."""
    loaded = _modules_after("from smsbridge.providers import Twilio")
    assert "smsbridge.providers.twilio" in loaded
    assert "httpx" in loaded
    assert "smsbridge.providers.telnyx" not in loaded
    loaded = _modules_after("import smsbridge.providers")
    assert not [m for m in HEAVY if m in loaded]


def test_version_is_the_package_version() -> None:
    """smsbridge.__version__ matches the installed distribution's version."""
    from importlib.metadata import version

    assert smsbridge.__version__ == version("smsbridge")
