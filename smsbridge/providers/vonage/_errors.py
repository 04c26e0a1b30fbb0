"""Vonage's error codes mapped to the stable categories (see docs/errors.md).

Vonage uses one numbering for two different things, so there are two tables:

* ``VONAGE_CODES``, the Messages API error list (``/api-errors/messages-olympus``), which
  status webhooks carry in ``error.type`` (``…#1240``) and ``error.title``;
* ``VONAGE_SEND_CODES``, what the send endpoint's RFC 7807 ``type`` fragment says on a
  4xx: its examples reuse numbers with other meanings (``#1060`` is an invalid client
  reference there, a barred account in the list) and generic words (``#low-balance``).

A send's answer is classified by its HTTP status first (``send_category``): 401, 402 and
403 are the account, 429 is a rate limit and 5xx the provider, whatever the fragment says
(Vonage's examples give ``#1000`` for both a 429 and a 500). Only other 4xx answers are told
apart by the fragment.
"""

from __future__ import annotations

from smsbridge.providers._codes import code_table

__all__ = ["VONAGE_CODES", "VONAGE_SEND_CODES", "code_from_type", "send_category"]

# The Messages API error list (status webhooks). Categories are our proposal, as for the others.
VONAGE_CODES = code_table(
    {
        "invalid_recipient": "1040 1050 1170 1190 1260 1280 1300 1310",
        "opted_out": "1240",
        "content_rejected": "1210 1270",
        "invalid_request": "1010 1020 1021 1022 1090 1130 1150 1320 1340 1380 1381 1382",
        "sender_config": "1120",
        "auth_or_account": "1060 1070 1080 1110 1140 1160 1350 1370",
        "rate_limited": "1000 1241",
        "provider_unavailable": "1030 1100",
        "carrier_transient": "1180 1220 1230 1290 1330 1360",
        "carrier_route": "1200 1250 1331",
    }
)
"""The Messages API error list (what status webhooks carry) -> the stable error code it
reports (``{"1240": "opted_out", ...}``; docs/errors.md lists them by code)."""

# The send endpoint's ``type`` fragments, for 4xx answers other than 401/402/403/429.
VONAGE_SEND_CODES: dict[str, str] = {
    **code_table(
        {
            "invalid_recipient": "110 1170",
            "sender_config": "1120",
            "invalid_request": "1060 1100 1110 1140 1150",
        }
    ),
    "invalid-json": "invalid_request",
    "invalid-params": "invalid_request",
    "not-found": "invalid_request",
    "rate-limit": "rate_limited",
    **dict.fromkeys(
        (
            "unauthorized",
            "unathorized",  # sic: Vonage's published 401 example spells it so
            "forbidden",
            "unprovisioned",
            "account-suspended",
            "invalid-api-key",
            "invalid-signature",
            "jwt-expired",
            "jwt-revoked",
            "low-balance",
        ),
        "auth_or_account",
    ),
}

_BY_STATUS = {401: "auth_or_account", 402: "auth_or_account", 403: "auth_or_account"}


def code_from_type(value: object) -> str | None:
    """The code an RFC 7807 ``type`` URL names in its fragment (``…/messages#1150`` ->
    ``"1150"``), or ``None`` when there is none."""
    if not isinstance(value, str) or "#" not in value:
        return None
    code = value.rpartition("#")[2].strip()
    return code[:64] or None


def send_category(http_status: int, code: str | None) -> str:
    """The category of an unsuccessful send answer (HTTP status first; see the module doc)."""
    if http_status == 429:
        return "rate_limited"
    if http_status >= 500:
        return "provider_unavailable"
    by_status = _BY_STATUS.get(http_status)
    if by_status is not None:
        return by_status
    return VONAGE_SEND_CODES.get(code or "", "invalid_request")
