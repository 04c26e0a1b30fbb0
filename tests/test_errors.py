"""The exception tree: pickling, documentation anchors, and no secrets in text."""

from __future__ import annotations

import base64
import inspect
import json
import pickle
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsbridge import _errors
from smsbridge._errors import (
    DOCS_BASE,
    AllProvidersFailed,
    ConfigError,
    InvalidPhoneNumber,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SmsBridgeError,
    UnexpectedError,
    WebhookError,
)
from smsbridge._models import Attempt, OutboundMessage
from smsbridge.providers import Telnyx, Twilio
from smsbridge.providers._codes import CATEGORY_CLASSES
from smsbridge.providers._shell import transmit

ROOT = Path(__file__).resolve().parent.parent
ERRORS_MD = ROOT / "docs" / "errors.md"
CLASSIFICATION = json.loads(
    (Path(__file__).parent / "fixtures" / "error_classification.json").read_text()
)
ERROR_CLASSES = sorted(
    (
        obj
        for obj in vars(_errors).values()
        if inspect.isclass(obj) and issubclass(obj, SmsBridgeError)
    ),
    key=lambda cls: cls.__name__,
)

SID = "AC" + "c" * 32
TOKEN = "tok-SECRET-twilio-0123456789"
API_SECRET = "sec-SECRET-apikey-0123456789"
TELNYX_KEY = "KEY-SECRET-telnyx-0123456789"
SECRETS = (
    TOKEN,
    API_SECRET,
    TELNYX_KEY,
    base64.b64encode(f"{SID}:{TOKEN}".encode()).decode(),
    base64.b64encode(f"SK{'d' * 32}:{API_SECRET}".encode()).decode(),
)


def make(cls: type[SmsBridgeError]) -> SmsBridgeError:
    """An instance of ``cls`` with every attribute set to a non-default value."""
    common: dict[str, Any] = {
        "provider": "telnyx",
        "provider_code": "40310",
        "http_status": 400,
        "failure": "rejected",
        "retry_after": 2.5,
    }
    if cls is ConfigError:
        return ConfigError("TWILIO_FROM is not set", variable="TWILIO_FROM", **common)
    if cls is InvalidPhoneNumber:
        return InvalidPhoneNumber("too short for GB", reason="too_short", **common)
    if cls is AllProvidersFailed:
        first = ProviderUnavailable("could not connect", provider="twilio", failure="refused")
        last = RateLimited(
            "Too many requests",
            provider="telnyx",
            provider_code="10011",
            http_status=429,
            retry_after=3.0,
        )
        attempts = (
            Attempt(provider="twilio", error=first, elapsed=0.1),
            Attempt(provider="telnyx", error=last, elapsed=0.2),
        )
        return AllProvidersFailed("every provider refused the message", attempts=attempts)
    if cls is UnexpectedError:
        return UnexpectedError("odd answer", accepted=True, provider_message_id="SM1", **common)
    return cls("something went wrong", **common)


def same(a: SmsBridgeError, b: SmsBridgeError) -> None:
    assert type(a) is type(b)
    assert str(a) == str(b)
    assert repr(a) == repr(b)
    assert a.args == b.args
    for name in (
        "code",
        "message",
        "provider",
        "provider_code",
        "http_status",
        "failure",
        "retry_after",
        "docs_url",
    ):
        assert getattr(a, name) == getattr(b, name), name
    assert len(a.attempts) == len(b.attempts)
    for x, y in zip(a.attempts, b.attempts, strict=True):
        assert (x.provider, x.elapsed, x.provider_message_id) == (
            y.provider,
            y.elapsed,
            y.provider_message_id,
        )
        assert (x.error is None) == (y.error is None)
        if x.error is not None and y.error is not None and x.error is not a:
            same(x.error, y.error)


def test_the_tree_is_complete() -> None:
    """The module defines the classes its docstring draws, all below SmsBridgeError."""
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert len(names) == 30
    for name in names:
        assert name in (_errors.__doc__ or "")
        assert name in _errors.__all__


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_pickles_with_its_attributes(cls: type[SmsBridgeError]) -> None:
    """An error survives pickling with message, code, provider details and extras intact."""
    error = make(cls)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(error, protocol=protocol))
        same(error, copy)
    if cls is ConfigError:
        assert copy.variable == "TWILIO_FROM"
    if cls is InvalidPhoneNumber:
        assert copy.reason == "too_short"
        assert isinstance(copy, ValueError)
    if issubclass(cls, WebhookError):
        assert copy.status_code == cls.status_code
    if cls is UnexpectedError:
        assert (copy.accepted, copy.provider_message_id) == (True, "SM1")


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_attempts_referring_back_to_the_error_survive_pickling(
    cls: type[SmsBridgeError],
) -> None:
    """An error whose last attempt holds the error itself unpickles into the same cycle."""
    error = make(cls)
    error.attempts = (*error.attempts, Attempt(provider="twilio", error=error, elapsed=0.3))
    copy = pickle.loads(pickle.dumps(error))
    assert copy.attempts[-1].error is copy
    assert copy.attempts[-1].provider == "twilio"
    same(error, copy)
    # The same cycle pickled from the attempt's side.
    attempt = pickle.loads(pickle.dumps(error.attempts[-1]))
    assert attempt.error is not None
    assert attempt.error.attempts[-1] is attempt


def test_all_providers_failed_reads_like_its_last_attempt() -> None:
    """AllProvidersFailed copies the last attempt's code, failure and details, pickled too."""
    error = make(AllProvidersFailed)
    last = error.attempts[-1].error
    assert last is not None
    for candidate in (error, pickle.loads(pickle.dumps(error))):
        assert isinstance(candidate, AllProvidersFailed)
        assert candidate.code == last.code == "rate_limited"
        assert candidate.failure == "refused"
        assert candidate.provider_code == "10011"
        assert candidate.http_status == 429
        assert candidate.retry_after == 3.0
        assert [a.provider for a in candidate.attempts] == ["twilio", "telnyx"]
        assert candidate.docs_url.endswith("#all-providers-failed")


def test_all_providers_failed_without_attempts_keeps_its_own_code() -> None:
    """Without attempts AllProvidersFailed keeps the code all_providers_failed."""
    error = AllProvidersFailed("nothing to try")
    assert error.code == "all_providers_failed"
    assert pickle.loads(pickle.dumps(error)).code == "all_providers_failed"


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _sections() -> dict[str, str]:
    """Anchor -> section text for every heading in docs/errors.md."""
    sections: dict[str, str] = {}
    anchor = None
    in_code = False
    for line in ERRORS_MD.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"^#{1,6} (.+)$", line)
        if match:
            anchor = _slug(match.group(1))
            assert anchor not in sections, f"duplicate heading anchor {anchor}"
            sections[anchor] = ""
        elif anchor is not None:
            sections[anchor] += line + "\n"
    return sections


def test_docs_base_points_at_errors_md() -> None:
    """docs_url links into the docs site's page built from docs/errors.md (directory URLs:
    docs/errors.md is served as errors/), which exists in the repository."""
    assert DOCS_BASE == "https://smsbridge.github.io/smsbridge/errors/"
    assert ERRORS_MD.is_file()


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_docs_url_anchor_exists_and_documents_the_code(cls: type[SmsBridgeError]) -> None:
    """Each class's docs_url fragment is a heading of docs/errors.md that names its code."""
    error = cls("x")
    base, _, fragment = error.docs_url.partition("#")
    assert base == DOCS_BASE
    sections = _sections()
    assert fragment in sections, f"docs/errors.md has no heading for #{fragment}"
    assert f"`{cls.code}`" in sections[fragment]
    assert f"`{cls.__name__}`" in sections[fragment]


@pytest.mark.parametrize("category", sorted(CATEGORY_CLASSES))
def test_docs_list_every_provider_code_of_a_category(category: str) -> None:
    """The entry of each provider category names every Twilio and Telnyx code that maps to it."""
    section = _sections()[category.replace("_", "-")]
    for provider in ("twilio", "telnyx"):
        for code, entry in CLASSIFICATION[provider].items():
            if entry["category"] != category:
                continue
            first, last = int(code), int(code)
            mentioned = re.search(rf"\b{code}\b", section) is not None
            # A range such as "20012 to 20017" covers the codes inside it.
            for lo, hi in re.findall(r"\b(\d{5}) to (\d{5})\b", section):
                mentioned = mentioned or int(lo) <= first <= last <= int(hi)
            assert mentioned, f"{provider} {code} missing from the {category} entry"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_docs_state_the_failure_class(cls: type[SmsBridgeError]) -> None:
    """Each entry states its failure class (or HTTP status for webhook errors)."""
    section = _sections()[cls("x").docs_url.partition("#")[2]]
    if issubclass(cls, WebhookError) and cls is not WebhookError:
        assert f"HTTP {cls.status_code}" in section
    elif cls.default_failure is not None:
        assert f"`{cls.default_failure}`" in section
    else:
        assert "failure" in section


def _collect(provider: Any, handler: Any) -> ProviderError:
    message = OutboundMessage(to="+13125550111", body="hi", from_="+13125550100")
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(ProviderError) as info,
    ):
        transmit(client, provider, message)
    return info.value


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


PROVIDERS = [
    Twilio(SID, TOKEN, from_="+13125550100"),
    Twilio(SID, TOKEN, from_="+13125550100", api_key="SK" + "d" * 32, api_secret=API_SECRET),
    Telnyx(TELNYX_KEY, from_="+13125550100"),
]


@pytest.mark.parametrize("provider", PROVIDERS, ids=["twilio-token", "twilio-key", "telnyx"])
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(401, json={"code": 20003, "message": "Authenticate"}),
        httpx.Response(401, json={"errors": [{"code": "10009", "title": "Authentication failed"}]}),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(429, headers={"Retry-After": "3"}, json={}),
    ],
    ids=["twilio-401", "telnyx-401", "502", "429"],
)
def test_provider_errors_never_show_credentials(provider: Any, answer: httpx.Response) -> None:
    """str and repr of errors from failed sends contain no token, key or Basic credentials."""
    error = _collect(provider, lambda request: answer)
    _assert_clean(str(error), repr(error), error.message, repr(error.attempts))


@pytest.mark.parametrize("provider", PROVIDERS, ids=["twilio-token", "twilio-key", "telnyx"])
def test_transport_errors_do_not_echo_the_exception_text(provider: Any) -> None:
    """A network exception whose text holds the request's headers is not copied into the error."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"failed: {request.headers['authorization']}")

    error = _collect(provider, handler)
    assert error.failure == "refused"
    _assert_clean(str(error), repr(error))
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_all_providers_failed_text_has_no_credentials() -> None:
    """An AllProvidersFailed built from real failed sends shows no credentials."""
    errors = [_collect(p, lambda r: httpx.Response(503, text="down")) for p in PROVIDERS]
    attempts = tuple(Attempt(provider=e.provider or "", error=e) for e in errors)
    error = AllProvidersFailed(
        f"every provider refused ({'; '.join(map(str, errors))})", attempts=attempts
    )
    _assert_clean(str(error), repr(error), repr(error.attempts))


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({"TWILIO_ACCOUNT_SID": TOKEN, "TWILIO_AUTH_TOKEN": TOKEN}, "TWILIO_ACCOUNT_SID"),
        (
            {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_API_KEY": API_SECRET},
            "TWILIO_API_SECRET",
        ),
        ({"TELNYX_API_KEY": TELNYX_KEY, "TELNYX_PUBLIC_KEY": TELNYX_KEY}, "TELNYX_PUBLIC_KEY"),
        ({"TELNYX_API_KEY": TELNYX_KEY, "TELNYX_TIMEOUT": TELNYX_KEY}, "TELNYX_TIMEOUT"),
    ],
)
def test_config_errors_never_echo_values(settings: dict[str, str], variable: str) -> None:
    """A ConfigError names the variable but never repeats the (possibly secret) value."""
    from smsbridge import Bridge

    providers = "twilio" if "TWILIO_AUTH_TOKEN" in settings else "telnyx"
    with pytest.raises(ConfigError) as info:
        Bridge.from_config({"SMSBRIDGE_PROVIDERS": providers, **settings})
    error = info.value
    assert error.variable == variable
    assert variable in str(error)
    _assert_clean(str(error), repr(error))


def test_str_and_repr_show_code_and_details() -> None:
    """str shows the code, message, provider code and status; repr the class, code and failure."""
    error = RateLimited(
        "Too many requests", provider="twilio", provider_code="20429", http_status=429
    )
    assert str(error) == (
        "[rate_limited] Too many requests; provider=twilio; provider_code=20429; http_status=429"
    )
    assert repr(error) == "RateLimited('Too many requests', code='rate_limited', failure='refused')"
