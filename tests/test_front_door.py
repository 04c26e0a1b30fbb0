"""The typed front door: ``Bridge(...)``, ``send``/``asend`` and ``handle_webhook`` signatures.

A misspelt argument is Python's own ``TypeError`` naming the method, and ``mypy --strict``
catches it in the user's code before it runs; the old spellings of the routing settings still
work for one release, each with a ``DeprecationWarning`` pointing at the caller.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import typing
import warnings
from pathlib import Path
from typing import Any

import pytest

from smsbridge import Bridge, ProviderUnavailable, SendResult
from smsbridge.routing import CircuitBreaker, Hooks, Retry
from smsbridge.stores import MemoryStore
from smsbridge.testing import RecordingProvider
from smsbridge.webhooks import WebhookOutcome, WebhookRequest

ROOT = Path(__file__).resolve().parent.parent
TO = "+14155552671"
SEND_KEYWORDS = (
    "from_",
    "media_urls",
    "region",
    "reference",
    "idempotency_key",
    "status_callback",
    "send_at",
)


def _no_sleep(seconds: float) -> None:
    return None


# -- misspelt and misplaced arguments ------------------------------------------------------------


def test_misspelt_bridge_argument_is_a_type_error_naming_bridge() -> None:
    """``Bridge(..., retries=3)`` fails as Python does for any function, naming Bridge."""
    with pytest.raises(
        TypeError, match=r"Bridge\.__init__\(\) got an unexpected keyword argument 'retries'"
    ):
        Bridge(RecordingProvider(), retries=3)  # type: ignore[call-arg]


def test_misspelt_argument_through_the_factories_still_names_bridge() -> None:
    """``from_env`` and ``RecordingProvider.bridge`` pass keywords on: the TypeError is Bridge's."""
    environ = {"SMSBRIDGE_PROVIDERS": "telnyx", "TELNYX_API_KEY": "KEYfrontdoor"}
    with pytest.raises(TypeError, match=r"Bridge\.__init__\(\) .*'retries'"):
        Bridge.from_env(environ, retries=3)
    with pytest.raises(TypeError, match=r"Bridge\.__init__\(\) .*'on_atempt'"):
        RecordingProvider().bridge(on_atempt=print)


def test_misspelt_send_keyword_is_a_type_error_naming_send() -> None:
    """``send(regoin=...)`` names ``Bridge.send()`` and the bad keyword; nothing is sent."""
    fake = RecordingProvider()
    with fake.bridge() as sms:
        with pytest.raises(
            TypeError, match=r"Bridge\.send\(\) got an unexpected keyword argument 'regoin'"
        ):
            sms.send(to=TO, body="hi", regoin="US")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match=r"Bridge\.send\(\) .*'from'"):
            sms.send(to=TO, body="hi", **{"from": "+15550001111"})
    assert fake.sent == []


@pytest.mark.anyio
async def test_misspelt_asend_keyword_is_a_type_error_naming_asend() -> None:
    """``await sms.asend(regoin=...)`` names ``Bridge.asend()``; nothing is sent."""
    fake = RecordingProvider()
    async with fake.bridge() as sms:
        with pytest.raises(
            TypeError, match=r"Bridge\.asend\(\) got an unexpected keyword argument 'regoin'"
        ):
            await sms.asend(to=TO, body="hi", regoin="US")  # type: ignore[call-arg]
    assert fake.sent == []


def test_a_third_positional_argument_is_a_type_error() -> None:
    """Everything after ``to`` and ``body`` is keyword-only: a sender given third is refused."""
    fake = RecordingProvider()
    with (
        fake.bridge() as sms,
        pytest.raises(TypeError, match=r"Bridge\.send\(\) takes from 2 to 3 positional"),
    ):
        sms.send(TO, "hi", "+15550001111")  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"Bridge\.__init__\(\) takes 2 positional"):
        Bridge(fake, MemoryStore())  # type: ignore[misc]
    assert fake.sent == []


@pytest.mark.anyio
async def test_a_third_positional_argument_to_asend_is_a_type_error() -> None:
    """The same for ``asend``."""
    fake = RecordingProvider()
    async with fake.bridge() as sms:
        with pytest.raises(TypeError, match=r"Bridge\.asend\(\) takes from 2 to 3 positional"):
            await sms.asend(TO, "hi", "+15550001111")  # type: ignore[misc]
    assert fake.sent == []


def test_signatures_have_no_catch_all_keywords() -> None:
    """No ``**kwargs`` left on the front door; send's options are keyword-only."""
    for method in (Bridge.__init__, Bridge.send, Bridge.asend):
        kinds = [p.kind for p in inspect.signature(method).parameters.values()]
        assert inspect.Parameter.VAR_KEYWORD not in kinds, method
        assert inspect.Parameter.VAR_POSITIONAL not in kinds, method
    for method in (Bridge.send, Bridge.asend):
        params = inspect.signature(method).parameters
        assert list(params)[:3] == ["self", "to", "body"]
        keyword_only = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert tuple(keyword_only) == SEND_KEYWORDS


def _hints(function: Any) -> dict[str, Any]:
    """``typing.get_type_hints`` with the names ``_bridge`` imports only for type checkers."""
    import smsbridge._bridge as module

    names = {
        "WebhookRequest": WebhookRequest,
        "WebhookOutcome": WebhookOutcome,
        "SendResult": SendResult,
    }
    return typing.get_type_hints(function, globalns={**vars(module), **names})


def test_handle_webhook_is_typed_request_to_outcome() -> None:
    """``handle_webhook`` / ``ahandle_webhook`` take a WebhookRequest and give a WebhookOutcome."""
    for method in (Bridge.handle_webhook, Bridge.ahandle_webhook):
        assert _hints(method) == {"request": WebhookRequest, "return": WebhookOutcome}
    assert _hints(Bridge.send)["return"] is SendResult
    assert _hints(Bridge.asend)["return"] is SendResult


# -- mypy --strict on a user's file ----------------------------------------------------------------

BAD = """\
from smsbridge import Bridge
from smsbridge.testing import RecordingProvider

sms = Bridge([RecordingProvider()], retries=3)
sms.send(to="+14155552671", body="hi", regoin="US")
"""

GOOD = """\
from smsbridge import Bridge, SendResult
from smsbridge.routing import CircuitBreaker, Hooks, Retry
from smsbridge.testing import RecordingProvider
from smsbridge.webhooks import WebhookOutcome, WebhookRequest


def on_attempt(attempt: object) -> None:
    print(attempt)


sms = Bridge(
    [RecordingProvider()],
    public_url="https://app.example.com/sms/webhook",
    retry=Retry(total=2),
    breaker=CircuitBreaker(failures=3),
    hooks=Hooks(on_attempt=on_attempt),
    idempotency_ttl=3600,
    reconcile=True,
    any_sender=True,
)
result: SendResult = sms.send(
    "+14155552671", "hi", region="US", reference="r-1", media_urls=["https://e.test/a.jpg"]
)
outcome: WebhookOutcome = sms.handle_webhook(WebhookRequest("POST", "https://a.test/", {}, b""))
hook: str | None = sms.webhook_url


async def later() -> SendResult:
    return await sms.asend(to="+14155552671", body="hi", idempotency_key="k-1")
"""


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on ``source`` as a user's own file, smsbridge imported from this repo."""
    user = tmp_path / "user_app.py"
    user.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MYPYPATH", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file",
            os.devnull,
            "--python-version",
            "3.10",
            "--no-error-summary",
            str(user),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_mypy_strict_catches_misspelt_arguments(tmp_path: Path) -> None:
    """A misspelt ``send`` keyword and a misspelt ``Bridge`` argument fail type checking."""
    done = _mypy(tmp_path, BAD)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'Unexpected keyword argument "retries" for "Bridge"' in done.stdout
    assert 'Unexpected keyword argument "regoin" for "send" of "Bridge"' in done.stdout
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, done.stdout


def test_mypy_strict_passes_correct_code(tmp_path: Path) -> None:
    """Code using the typed arguments, send/asend and handle_webhook type-checks clean."""
    done = _mypy(tmp_path, GOOD)
    assert done.returncode == 0, done.stdout + done.stderr


# -- deprecated spellings --------------------------------------------------------------------------


def test_retry_int_warns_and_still_means_total() -> None:
    """``retry=2`` warns, at the caller's line, and still retries twice."""
    with pytest.warns(DeprecationWarning, match=r"retry=<int>.*Retry\(total=n\)") as record:
        Bridge(RecordingProvider(), retry=2)
    assert record[0].filename == __file__, "the warning points at the caller"
    fake = RecordingProvider()
    with pytest.warns(DeprecationWarning, match=r"retry=<int>") as record:
        sms = fake.bridge(retry=2, sleep=_no_sleep)
    assert record[0].filename == __file__, "through a helper too"
    assert sms.routing.retry == Retry(total=2)
    fake.fail_next(503, times=2)
    with sms:
        result = sms.send(to=TO, body="hi")
    assert [a.failure for a in result.attempts] == ["refused", "refused", None]
    assert len(fake.sent) == 1


def test_retry_zero_warns_and_still_never_retries() -> None:
    """``retry=0`` warns and still means no retries: one refusal is final."""
    with pytest.warns(DeprecationWarning, match=r"retry=<int>") as record:
        Bridge(RecordingProvider(), retry=0)
    assert record[0].filename == __file__
    fake = RecordingProvider()
    with pytest.warns(DeprecationWarning, match=r"retry=<int>"):
        sms = fake.bridge(retry=0, sleep=_no_sleep)
    assert sms.routing.retry.total == 0
    fake.fail_next(503)
    with sms, pytest.raises(ProviderUnavailable) as caught:
        sms.send(to=TO, body="hi")
    assert [a.failure for a in caught.value.attempts] == ["refused"]
    assert fake.sent == []


def test_deprecations_through_from_env_point_at_the_caller() -> None:
    """``Bridge.from_env(env, retry=0)`` warns at the caller's line, not inside smsbridge
    (Python's default filters show DeprecationWarnings only for ``__main__`` code)."""
    env = {
        "SMSBRIDGE_PROVIDERS": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
    }
    with pytest.warns(DeprecationWarning, match=r"retry=False.*retry=None") as record:
        sms = Bridge.from_env(env, retry=False)
    assert record[0].filename == __file__
    assert sms.routing.retry.total == 0


def test_breaker_false_warns_and_still_means_no_breaker() -> None:
    """``breaker=False`` warns and still turns the breaker off."""
    with pytest.warns(DeprecationWarning, match=r"breaker=False.*breaker=None") as record:
        sms = Bridge(RecordingProvider(), breaker=False)
    assert record[0].filename == __file__
    assert sms.routing.breaker is None


def test_loose_hooks_warn_and_are_still_called() -> None:
    """``on_attempt=`` / ``on_failover=`` / ``on_breaker_change=`` warn and are still called."""
    first, second = RecordingProvider("first"), RecordingProvider("second")
    seen: list[Any] = []
    with pytest.warns(DeprecationWarning, match=r"on_attempt=.*hooks=Hooks") as record:
        sms = RecordingProvider.routed(
            [first, second],
            retry=None,
            breaker=CircuitBreaker(failures=1, cooldown=600),
            on_attempt=lambda attempt: seen.append(("attempt", attempt.provider)),
            on_failover=lambda old, new, error: seen.append(("failover", old, new)),
            on_breaker_change=lambda provider, old, new: seen.append(
                ("breaker", provider, old, new)
            ),
        )
    assert len(record) == 1, "one warning names every loose hook"
    assert all(name in str(record[0].message) for name in ("on_failover=", "on_breaker_change="))
    first.fail_next(503)
    with sms:
        assert sms.send(to=TO, body="hi").provider == "second"
    assert seen == [
        ("attempt", "first"),
        ("breaker", "first", "closed", "open"),
        ("failover", "first", "second"),
        ("attempt", "second"),
    ]


def test_loose_hook_joins_the_hooks_given() -> None:
    """A deprecated ``on_attempt=`` is added to ``hooks=Hooks(...)``, not in place of it."""
    first, second = RecordingProvider("first"), RecordingProvider("second")
    failovers: list[str] = []
    attempts: list[str] = []
    with pytest.warns(DeprecationWarning, match=r"on_attempt="):
        sms = RecordingProvider.routed(
            [first, second],
            retry=None,
            hooks=Hooks(on_failover=lambda old, new, error: failovers.append(f"{old}>{new}")),
            on_attempt=lambda attempt: attempts.append(attempt.provider),
        )
    first.fail_next(503)
    with sms:
        sms.send(to=TO, body="hi")
    assert (attempts, failovers) == (["first", "second"], ["first>second"])


def test_new_spellings_do_not_warn() -> None:
    """``retry=None``, ``Retry(...)``, ``breaker=None`` and ``hooks=Hooks(...)`` are silent."""
    attempts: list[str] = []
    fake = RecordingProvider()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Bridge(fake, retry=None, breaker=None)
        sms = fake.bridge(
            retry=Retry(total=0),
            hooks=Hooks(on_attempt=lambda attempt: attempts.append(attempt.provider)),
        )
        with sms:
            sms.send(to=TO, body="hi")
    assert attempts == ["recording"]
