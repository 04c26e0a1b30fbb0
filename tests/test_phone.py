"""Tests for smsbridge._phone: E.164 normalisation and rejection reasons."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbridge._errors import InvalidPhoneNumber, SmsBridgeError
from smsbridge._phone import _parse, country_of, to_e164

E164 = re.compile(r"\+[1-9][0-9]{1,14}")

# (region, national form, international form, E.164)
NUMBERS = [
    ("US", "(201) 555-0123", "+1 201-555-0123", "+12015550123"),
    ("CA", "(416) 555-0199", "+1 416 555 0199", "+14165550199"),
    ("GB", "020 7946 0958", "+44 20 7946 0958", "+442079460958"),
    ("GB", "07400 123456", "+44 7400 123456", "+447400123456"),
    ("DE", "030 123456", "+49 30 123456", "+4930123456"),
    ("DE", "01512 3456789", "+49 1512 3456789", "+4915123456789"),
    ("FR", "01 23 45 67 89", "+33 1 23 45 67 89", "+33123456789"),
    ("FR", "06 12 34 56 78", "+33 6 12 34 56 78", "+33612345678"),
    ("IN", "081234 56789", "+91 81234 56789", "+918123456789"),
    ("BR", "(11) 96123-4567", "+55 11 96123-4567", "+5511961234567"),
    ("JP", "03-1234-5678", "+81 3-1234-5678", "+81312345678"),
    ("JP", "090-1234-5678", "+81 90-1234-5678", "+819012345678"),
    ("AU", "0412 345 678", "+61 412 345 678", "+61412345678"),
    ("NG", "0802 123 4567", "+234 802 123 4567", "+2348021234567"),
    ("ZA", "071 123 4567", "+27 71 123 4567", "+27711234567"),
    ("MX", "55 1234 5678", "+52 55 1234 5678", "+525512345678"),
]
IDS = [f"{region}-{e164}" for region, _, _, e164 in NUMBERS]

# (raw, region, reason)
REJECTIONS = [
    ("hello", None, "not_a_number"),
    ("", None, "not_a_number"),
    ("+", "US", "not_a_number"),
    ("2015550123", None, "unknown_country_code"),
    ("0044 20 7946 0958", None, "unknown_country_code"),
    ("+999 123456", None, "unknown_country_code"),
    ("+1 201", None, "too_short"),
    ("1234", "US", "too_short"),
    ("+1 201 555 01234567", None, "too_long"),
    ("30000000000000", "DE", "too_long"),
    ("07400 123456", "US", "too_long"),
    ("9" * 300, "US", "too_long"),
    ("999 555 0199", "US", "invalid_for_region"),
    ("+1 999 555 0199", None, "invalid"),
    ("+1 201 555 0123 ext 5", None, "invalid"),
    ("+12015550123", "XX", "unknown_region"),
    ("+12015550123", "", "unknown_region"),
    ("+12015550123", "USA", "unknown_region"),
]

regions = st.sampled_from([None, "US", "gb", "IN", "DE", "XX", ""])
digit_heavy = st.from_regex(r"(\+|00|011)?[0-9 ()\-./]{0,30}(ext\.? ?[0-9]{1,5})?", fullmatch=True)


@pytest.mark.parametrize(("region", "national", "international", "e164"), NUMBERS, ids=IDS)
def test_national_form_with_region(
    region: str, national: str, international: str, e164: str
) -> None:
    """A national number read with its region becomes the E.164 form."""
    assert to_e164(national, region) == e164


@pytest.mark.parametrize(("region", "national", "international", "e164"), NUMBERS, ids=IDS)
def test_international_form_without_region(
    region: str, national: str, international: str, e164: str
) -> None:
    """An international number written with + needs no region and becomes E.164."""
    assert to_e164(international) == e164
    assert to_e164(e164) == e164


@pytest.mark.parametrize(("region", "national", "international", "e164"), NUMBERS, ids=IDS)
def test_country_of(region: str, national: str, international: str, e164: str) -> None:
    """country_of gives the region the number belongs to, telling +1 countries apart."""
    assert country_of(e164) == region


def test_region_is_case_insensitive() -> None:
    """Regions are read case-insensitively and with surrounding spaces ignored."""
    assert to_e164("020 7946 0958", "gb") == "+442079460958"
    assert to_e164("020 7946 0958", " Gb ") == "+442079460958"


def test_plus_number_keeps_its_country_whatever_the_region() -> None:
    """A number written with + keeps its own country even when another region is given."""
    assert to_e164("+44 20 7946 0958", "US") == "+442079460958"


def test_region_international_prefix_is_read() -> None:
    """With a region, that region's international prefix is read (00 in GB, 011 in US)."""
    assert to_e164("0044 20 7946 0958", "GB") == "+442079460958"
    assert to_e164("011 44 20 7946 0958", "US") == "+442079460958"


@pytest.mark.parametrize(("raw", "region", "reason"), REJECTIONS)
def test_rejection_reasons(raw: str, region: str | None, reason: str) -> None:
    """Each kind of bad input is rejected with its stable reason word and a message."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        to_e164(raw, region)
    assert caught.value.reason == reason
    assert caught.value.message


@pytest.mark.parametrize("raw", [None, 12015550123, b"+12015550123", ["+12015550123"], 1.5])
def test_non_str_number_rejected(raw: object) -> None:
    """A number that is not a str is rejected as not_a_number, never with a TypeError."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        to_e164(raw)  # type: ignore[arg-type]
    assert caught.value.reason == "not_a_number"


@pytest.mark.parametrize("region", [1, b"US", ["US"]])
def test_non_str_region_rejected(region: object) -> None:
    """A region that is not a str is rejected as unknown_region."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        to_e164("+12015550123", region)  # type: ignore[arg-type]
    assert caught.value.reason == "unknown_region"


def test_error_is_a_value_error() -> None:
    """InvalidPhoneNumber is both a ValueError and an SmsBridgeError with its own code."""
    with pytest.raises(ValueError, match="not a phone number") as caught:
        to_e164("hello")
    assert isinstance(caught.value, SmsBridgeError)
    assert caught.value.code == "invalid_phone_number"


def test_error_is_not_chained() -> None:
    """Errors are raised from None, so no parser internals ride along as the cause."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        to_e164("+999 123456")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize("raw", ["+1 201 555 0123 " + "9" * 100, "x" * 1000, "\x00" * 60])
def test_long_input_is_truncated_in_message(raw: str) -> None:
    """A long input is cut to about 40 characters in the message, never shown whole."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        to_e164(raw)
    assert raw not in caught.value.message
    assert len(caught.value.message) < 300


def test_huge_input_is_rejected() -> None:
    """A megabyte of digits is rejected as too_long without trying to parse it."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        to_e164("1" * 1_000_000, "US")
    assert caught.value.reason == "too_long"


def test_control_characters_and_surrogates_only_raise_invalid_phone_number() -> None:
    """Control characters and lone surrogates never cause anything but InvalidPhoneNumber."""
    for raw in ["\x00", "\ud800", "+1\ud800201", "\n\r\t", "\x1b[31m+1"]:
        with pytest.raises(InvalidPhoneNumber):
            to_e164(raw)


def test_cache_hits_reraise_fresh_errors() -> None:
    """A repeated invalid number raises the same reason from the cache, as a new exception."""
    hits = _parse.cache_info().hits
    errors = []
    for _ in range(2):
        with pytest.raises(InvalidPhoneNumber) as caught:
            to_e164("+1 999 555 0100", "us")
        errors.append(caught.value)
    assert _parse.cache_info().hits > hits
    assert errors[0] is not errors[1]
    assert errors[0].reason == errors[1].reason == "invalid"
    assert errors[0].message == errors[1].message


def test_cache_hits_return_the_same_number() -> None:
    """A repeated valid number comes back the same from the cache, whatever the region case."""
    assert to_e164("020 7946 0958", "GB") == to_e164("020 7946 0958", "gb") == "+442079460958"


@pytest.mark.parametrize("raw", ["junk", "", "+999 1", "+80012345678", "2015550123", None, 5])
def test_country_of_unknown(raw: object) -> None:
    """country_of gives None for text that is no international number or has no country."""
    assert country_of(raw) is None  # type: ignore[arg-type]


REASONS = {
    "not_a_number",
    "unknown_country_code",
    "too_short",
    "too_long",
    "invalid_for_region",
    "invalid",
    "unknown_region",
}


def check_arbitrary(raw: str, region: str | None) -> None:
    """Call to_e164 and accept only an E.164 string that round-trips, or InvalidPhoneNumber."""
    error: InvalidPhoneNumber | None = None
    try:
        result = to_e164(raw, region)
    except InvalidPhoneNumber as exc:
        error = exc
    if error is not None:
        assert error.reason in REASONS
        assert len(error.message) < 300
        return
    assert E164.fullmatch(result)
    assert to_e164(result) == result


@given(st.text(), regions)
def test_arbitrary_text_only_raises_invalid_phone_number(raw: str, region: str | None) -> None:
    """Any text, with or without a region, gives E.164 or InvalidPhoneNumber, nothing else."""
    check_arbitrary(raw, region)


@given(st.text(min_size=200, max_size=400), regions)
def test_arbitrary_long_text_only_raises_invalid_phone_number(raw: str, region: str | None) -> None:
    """Long text around the parser's length limit gives only InvalidPhoneNumber."""
    check_arbitrary(raw, region)


@given(digit_heavy, regions)
def test_digit_heavy_text_only_raises_invalid_phone_number(raw: str, region: str | None) -> None:
    """Strings of digits and phone punctuation give E.164 or InvalidPhoneNumber, nothing else."""
    check_arbitrary(raw, region)
