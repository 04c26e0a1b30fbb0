"""Phone numbers in, E.164 out, on top of the ``phonenumbers`` package.

Every rejection is an ``InvalidPhoneNumber`` whose ``reason`` is one stable
word:

* ``"not_a_number"``: the text does not look like a phone number at all (or is not a str).
* ``"unknown_country_code"``: no country code could be found: the number has no ``+`` and no
  region was given, or the code after ``+`` is assigned to no country.
* ``"too_short"`` / ``"too_long"``: too few or too many digits for the country (or more than
  the 15 digits E.164 allows).
* ``"invalid_for_region"``: a national number that is not valid in the given region.
* ``"invalid"``: any other number that is not valid (an unassigned range, an extension).
* ``"unknown_region"``: the region argument is not a region ``phonenumbers`` knows.

Input is read as leniently as ``phonenumbers`` reads it: spaces, punctuation, a ``tel:`` prefix,
full-width digits and the letters of vanity numbers (``1-800-FLOWERS``) are all accepted.
"""

from __future__ import annotations

import functools
from typing import Final, NamedTuple

import phonenumbers

from smsbridge._errors import InvalidPhoneNumber

__all__ = ["country_of", "to_e164"]

# phonenumbers refuses longer input anyway; refusing it first keeps huge strings out of the
# caches, whose keys are the raw input.
_MAX_INPUT: Final = 250
_SHOWN: Final = 40
_CACHE_SIZE: Final = 4096
_MAX_E164_DIGITS: Final = 15

_PARSE_REASONS: Final = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown_country_code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not_a_number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too_short",
    phonenumbers.NumberParseException.TOO_LONG: "too_long",
}
_LENGTH_REASONS: Final = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown_country_code",
    phonenumbers.ValidationResult.TOO_SHORT: "too_short",
    # Dialable only inside its own area (no area code): too short to reach from anywhere else.
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "too_short",
    phonenumbers.ValidationResult.TOO_LONG: "too_long",
}
_WHY: Final = {
    "not_a_number": "is not a phone number",
    "too_short": "is too short to be a phone number",
    "too_long": "is too long to be a phone number",
    "invalid": "is not a valid phone number",
}


class _Outcome(NamedTuple):
    """What parsing one (raw, region) pair gave: an E.164 string, or a reason and a message."""

    e164: str | None
    reason: str = ""
    message: str = ""


def to_e164(raw: str, region: str | None = None) -> str:
    """Normalise a phone number to E.164 (``+`` and digits only).

    Without a region the number must be international and start with ``+``: ``00`` is not taken
    as an international prefix, because it is not one everywhere (North America dials ``011``)
    and a bare ``00...`` is ambiguous. With a region, national formats of that region are read,
    and so is that region's own international prefix (``00`` in ``GB``, ``011`` in ``US``); a
    number written with ``+`` keeps its own country whatever the region.

    Results are cached per ``(raw, region)``, failures included.

    Args:
        raw: the number as typed, e.g. ``"020 7946 0958"`` or ``"+1 (201) 555-0123"``.
        region: ISO 3166 region for national numbers, e.g. ``"GB"``; case-insensitive.

    Returns:
        The number in E.164 form, e.g. ``"+442079460958"``.

    Raises:
        InvalidPhoneNumber: the input is not a valid phone number (or not a str) or the region
            is unknown; ``reason`` says why in one stable word (see the module docstring).
    """
    if not isinstance(raw, str):
        raise InvalidPhoneNumber(
            f"expected the phone number as a str, got {type(raw).__name__}", reason="not_a_number"
        ) from None
    if region is not None:
        if not isinstance(region, str):
            raise InvalidPhoneNumber(
                f"expected the region as a str, got {type(region).__name__}",
                reason="unknown_region",
            ) from None
        if region.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidPhoneNumber(
                f"{_show(region)} is not a known region code (ISO 3166, like 'US' or 'GB')",
                reason="unknown_region",
            ) from None
        # Normalised before the cache so "gb" and "GB" share entries.
        region = region.strip().upper()
    if len(raw) > _MAX_INPUT:
        raise InvalidPhoneNumber(
            f"{_show(raw)} is too long to be a phone number ({len(raw)} characters)",
            reason="too_long",
        ) from None
    outcome = _parse(raw, region)
    if outcome.e164 is None:
        # A new exception every time: a cached instance would pile up tracebacks and be shared
        # between threads.
        raise InvalidPhoneNumber(outcome.message, reason=outcome.reason) from None
    return outcome.e164


def country_of(e164: str) -> str | None:
    """Return the ISO 3166 region code of an international number, for routing by country.

    Args:
        e164: a number in E.164 form (any international form starting with ``+`` works).

    Returns:
        The region code, e.g. ``"GB"`` or ``"US"`` (numbers sharing the ``+1`` code are told
        apart by their area code: ``"+14165550199"`` is ``"CA"``), or ``None`` when the input
        is not a parsable international number or belongs to no country (``+800``, ``+882``).
    """
    if not isinstance(e164, str) or len(e164) > _MAX_INPUT:
        return None
    return _country_of(e164)


# Failures are cached as well as successes: a bad number tends to come back (bulk lists,
# retried jobs), parsing it costs as much as parsing a good one, and an immutable outcome is
# safe to share where an exception instance is not.
@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse(raw: str, region: str | None) -> _Outcome:
    try:
        return _read(raw, region)
    except Exception:
        # The contract is that arbitrary text only ever gives InvalidPhoneNumber; a parser bug
        # on some odd input must not break it.
        return _Outcome(None, "invalid", f"{_show(raw)} could not be read as a phone number")


def _read(raw: str, region: str | None) -> _Outcome:
    try:
        number = phonenumbers.parse(raw, region, keep_raw_input=True)
    except phonenumbers.NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "not_a_number")
        if reason == "unknown_country_code":
            why = (
                "has no country code: write it with a leading + or give its region"
                if region is None and not raw.lstrip().startswith("+")
                else "has a country code that belongs to no country"
            )
            return _Outcome(None, reason, f"{_show(raw)} {why}")
        return _Outcome(None, reason, f"{_show(raw)} {_WHY[reason]}")
    reason = _LENGTH_REASONS.get(phonenumbers.is_possible_number_with_reason(number), "")
    if reason == "unknown_country_code":
        return _Outcome(None, reason, f"{_show(raw)} has a country code that belongs to no country")
    if reason:
        return _Outcome(None, reason, f"{_show(raw)} {_WHY[reason]}")
    if not phonenumbers.is_valid_number(number):
        national = number.country_code_source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY
        if region is not None and national:
            return _Outcome(
                None, "invalid_for_region", f"{_show(raw)} is not a valid number in {region}"
            )
        return _Outcome(None, "invalid", f"{_show(raw)} {_WHY['invalid']}")
    if number.extension:
        # E.164 has no room for an extension and SMS cannot reach one; dropping it silently
        # would text the switchboard.
        return _Outcome(None, "invalid", f"{_show(raw)} has an extension, which SMS cannot reach")
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # phonenumbers' metadata accepts a few national numbers (some German ranges) that end up
    # longer than the 15 digits E.164 allows and providers accept.
    if len(e164) > _MAX_E164_DIGITS + 1:
        return _Outcome(None, "too_long", f"{_show(raw)} has more digits than E.164 allows (15)")
    return _Outcome(e164)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _country_of(e164: str) -> str | None:
    try:
        number = phonenumbers.parse(e164, None)
    except Exception:
        # Not a parsable international number: no country to route by.
        return None
    region: str | None = phonenumbers.region_code_for_number(number)
    # "001" marks non-geographic codes and None an unmatched shared code: neither is a country.
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def _show(text: str) -> str:
    """Quote user input for a message: repr escapes control characters, long input is cut."""
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "…"
    return repr(text)
