"""Provider error codes mapped to stable categories, and categories to error classes.

The code tables follow ``tests/fixtures/error_classification.json`` (our research's proposal);
where we refine it the reason is in a comment. Unknown codes fall back on the HTTP status.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from smsbridge._errors import (
    AuthError,
    CarrierRoute,
    CarrierTransient,
    ContentRejected,
    Failure,
    InvalidRecipient,
    InvalidRequest,
    OptedOut,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SenderConfig,
)

__all__ = ["CATEGORY_CLASSES", "TELNYX_CODES", "TWILIO_CODES", "make_error", "parse_retry_after"]


def _table(spec: Mapping[str, str]) -> dict[str, str]:
    """Expand ``"category": "code code-range ..."`` into ``{code: category}``."""
    table: dict[str, str] = {}
    for category, codes in spec.items():
        for token in codes.split():
            if "-" in token:
                first, last = token.split("-")
                for code in range(int(first), int(last) + 1):
                    table[str(code)] = category
            else:
                table[token] = category
    return table


TWILIO_CODES = _table(
    {
        "invalid_recipient": "21211 21614 30005 30006",
        "opted_out": "21610 30004",
        "content_rejected": "30007",
        "invalid_request": "21602 21617",
        "sender_config": "21408 21606 21612 30010 30032 30034",
        "auth_or_account": "20003 30002",
        "rate_limited": "20429 14107 30001 30022 30023",
        "provider_unavailable": "20500 20503",
        "carrier_transient": "30003 30009",
        "carrier_route": "30008",
    }
)

TELNYX_CODES = _table(
    {
        "invalid_recipient": "10001 10002 10016 40001 40012 40301 40310 40319",
        "opted_out": "40300",
        "content_rejected": "40002 40009 40015 40017 40322",
        "invalid_request": "10003 10004 10005 10006 10015 40302 40304 40316 40317 40328",
        "sender_config": (
            "40003 40010 40013 40100 40150 40151 40305 40306 40308 40309 40312 40315 40320 "
            "40321 40329"
        ),
        "auth_or_account": "10009 10010 20002 20006 20012-20017 20100 40311 40313 40314",
        "rate_limited": "10011 40011 40014 40016 40018 40318",
        "provider_unavailable": "10007 10008",
        "carrier_transient": "40004 40005 40006",
        "carrier_route": "40008",
    }
)

CATEGORY_CLASSES: dict[str, type[ProviderError]] = {
    cls.code: cls
    for cls in (
        InvalidRecipient,
        OptedOut,
        ContentRejected,
        InvalidRequest,
        SenderConfig,
        AuthError,
        RateLimited,
        ProviderUnavailable,
        CarrierTransient,
        CarrierRoute,
    )
}


def category_for_status(http_status: int | None) -> str:
    """The category of an unknown code, from the HTTP status alone."""
    if http_status in (401, 403):
        return "auth_or_account"
    if http_status == 429:
        return "rate_limited"
    if http_status is None or http_status >= 500:
        return "provider_unavailable"
    return "invalid_request"


def unavailable_failure(http_status: int | None) -> Failure:
    """503 says the request was not taken in; any other 5xx may have been processed."""
    return "refused" if http_status == 503 else "ambiguous"


def make_error(
    provider: str,
    table: Mapping[str, str],
    *,
    provider_code: str | None,
    http_status: int | None,
    detail: str,
    retry_after: float | None = None,
) -> ProviderError:
    """Build the typed error for a provider's answer, classifying on its code first."""
    category = table.get(provider_code or "") or category_for_status(http_status)
    cls = CATEGORY_CLASSES[category]
    failure: Failure | None = None
    if cls is ProviderUnavailable:
        # Twilio's 20503 says "service unavailable" whatever the status line; otherwise the
        # HTTP status decides whether the request may have been processed.
        failure = unavailable_failure(503 if provider_code == "20503" else http_status)
    return cls(
        detail or f"{provider} answered HTTP {http_status}",
        provider=provider,
        provider_code=provider_code,
        http_status=http_status,
        failure=failure,
        retry_after=retry_after,
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` (seconds or HTTP date) or a reset-in-seconds
    header; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds == float("inf"):  # NaN or infinity: not a delay
        return None
    return max(0.0, seconds)
