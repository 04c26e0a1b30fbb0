"""Provider error codes classified as tests/fixtures/error_classification.json lists them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smsbridge import (
    AuthError,
    CarrierRoute,
    CarrierTransient,
    ContentRejected,
    InvalidRecipient,
    InvalidRequest,
    MessageNotFound,
    NotCancellable,
    OptedOut,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SchedulingUnavailable,
    SenderConfig,
    Unsupported,
)
from smsbridge.providers._codes import CATEGORY_CLASSES, make_error, parse_retry_after
from smsbridge.providers.telnyx import TELNYX_CODES
from smsbridge.providers.twilio import TWILIO_CODES

TABLE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "error_classification.json").read_text()
)
CODE_TABLES = {"twilio": TWILIO_CODES, "telnyx": TELNYX_CODES}
CLASSES: dict[str, type[ProviderError]] = {
    "invalid_recipient": InvalidRecipient,
    "opted_out": OptedOut,
    "content_rejected": ContentRejected,
    "invalid_request": InvalidRequest,
    "sender_config": SenderConfig,
    "auth_or_account": AuthError,
    "rate_limited": RateLimited,
    "provider_unavailable": ProviderUnavailable,
    "carrier_transient": CarrierTransient,
    "carrier_route": CarrierRoute,
}
# Categories about scheduled messages and read-back by id, which the research table (about
# sends) does not cover; their codes are mapped in the providers' send and message tables.
LATER: dict[str, type[ProviderError]] = {
    "scheduling_unavailable": SchedulingUnavailable,
    "not_cancellable": NotCancellable,
    "message_not_found": MessageNotFound,
    "unsupported": Unsupported,
}
# The class of failure each category implies. provider_unavailable depends on the HTTP status
# (503 refused, other 5xx ambiguous) and is checked on its own below.
FAILURES = {
    "invalid_recipient": "rejected",
    "opted_out": "rejected",
    "content_rejected": "rejected",
    "invalid_request": "rejected",
    "carrier_transient": "rejected",
    "sender_config": "refused",
    "auth_or_account": "refused",
    "rate_limited": "refused",
    "carrier_route": "refused",
}
CASES = [
    (provider, code, entry["category"])
    for provider in ("twilio", "telnyx")
    for code, entry in TABLE[provider].items()
]


def classify(provider: str, code: str | None, http_status: int | None) -> ProviderError:
    return make_error(
        provider,
        CODE_TABLES[provider],
        provider_code=code,
        http_status=http_status,
        detail="detail",
    )


def test_every_category_has_a_class() -> None:
    """The fixture's categories are exactly the error classes' codes."""
    assert set(TABLE["categories"]) == set(CLASSES)
    assert set(CATEGORY_CLASSES) == set(CLASSES) | set(LATER)
    for category, cls in CATEGORY_CLASSES.items():
        assert cls.code == category
        assert {**CLASSES, **LATER}[category] is cls
    assert all(cls.default_failure == "rejected" for cls in LATER.values())


@pytest.mark.parametrize(("provider", "code", "category"), CASES)
def test_code_is_classified_as_listed(provider: str, code: str, category: str) -> None:
    """Each listed code becomes its category's class, whatever the HTTP status says."""
    assert CODE_TABLES[provider][code] == category
    # 400 is a deliberately neutral status: the code alone must decide.
    error = classify(provider, code, 400)
    assert type(error) is CLASSES[category]
    assert error.code == category
    assert error.provider == provider
    assert error.provider_code == code
    if category in FAILURES:
        assert error.failure == FAILURES[category]
    else:
        assert error.failure in ("refused", "ambiguous")


@pytest.mark.parametrize(("provider", "code", "category"), CASES)
def test_class_failure_agrees_with_the_fixture_failover_flag(
    provider: str, code: str, category: str
) -> None:
    """Categories the fixture allows to fail over are refused (or unavailable); others never."""
    error = classify(provider, code, 500 if category == "provider_unavailable" else 400)
    may_fail_over = TABLE["categories"][category]["failover"]
    if may_fail_over and category != "provider_unavailable":
        assert error.failure == "refused"
    if not may_fail_over:
        assert error.failure == "rejected"


def test_tables_hold_no_codes_beyond_the_fixture() -> None:
    """Every code in the shipped tables is one the fixture lists, with the same category."""
    for provider, table in CODE_TABLES.items():
        listed = {code: entry["category"] for code, entry in TABLE[provider].items()}
        assert table == listed


@pytest.mark.parametrize(
    ("http_status", "cls", "failure"),
    [
        (401, AuthError, "refused"),
        (403, AuthError, "refused"),
        (429, RateLimited, "refused"),
        (500, ProviderUnavailable, "ambiguous"),
        (502, ProviderUnavailable, "ambiguous"),
        (503, ProviderUnavailable, "refused"),
        (504, ProviderUnavailable, "ambiguous"),
        (400, InvalidRequest, "rejected"),
        (404, InvalidRequest, "rejected"),
        (409, InvalidRequest, "rejected"),
        (422, InvalidRequest, "rejected"),
    ],
)
@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
@pytest.mark.parametrize("code", ["99999", None])
def test_unknown_code_falls_back_on_http_status(
    provider: str, code: str | None, http_status: int, cls: type[ProviderError], failure: str
) -> None:
    """An unknown or missing code is classified by HTTP status alone."""
    error = classify(provider, code, http_status)
    assert type(error) is cls
    assert error.failure == failure
    assert error.http_status == http_status
    assert error.provider_code == code


def test_no_status_at_all_is_unavailable() -> None:
    """Without a code or a status (a network failure) the category is provider_unavailable."""
    error = classify("twilio", None, None)
    assert type(error) is ProviderUnavailable


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        (" 12 ", 12.0),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Seconds and HTTP dates become a non-negative wait; anything else is None."""
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(value, now=now) == expected
