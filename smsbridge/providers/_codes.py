"""Stable error categories and their error classes, shared by every provider.

Each provider's own table (``providers/<name>/_errors.py``) maps its codes to these categories,
following ``tests/fixtures/error_classification.json`` (our research's proposal); unknown codes
fall back on the HTTP status.
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

__all__ = ["CATEGORY_CLASSES", "code_table", "make_error", "parse_retry_after", "recast"]


def code_table(spec: Mapping[str, str]) -> dict[str, str]:
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
        SchedulingUnavailable,
        NotCancellable,
        MessageNotFound,
        Unsupported,
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
    by_status: Mapping[int, str] | None = None,
) -> ProviderError:
    """Build the typed error for a provider's answer, classifying on its code first.

    ``by_status`` gives categories for HTTP statuses that mean more on one endpoint than
    anywhere (a 404 on a message's own URL: no such message); it is read only when the table
    does not know the code, before the general fallback on the status.
    """
    category = (
        table.get(provider_code or "")
        or (by_status or {}).get(http_status or 0)
        or category_for_status(http_status)
    )
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


def recast(error: ProviderError, category: str) -> ProviderError:
    """``error`` as the class of ``category``, with the same message and provider fields (for
    an answer whose meaning the endpoint decides: see the Telnyx cancel)."""
    return CATEGORY_CLASSES[category](
        error.message,
        provider=error.provider,
        provider_code=error.provider_code,
        http_status=error.http_status,
        retry_after=error.retry_after,
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
