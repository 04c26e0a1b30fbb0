"""Tests for smsbridge._segments: GSM-7 / UCS-2 encoding choice and segment counting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbridge._errors import MessageTooLong
from smsbridge._segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_BODY_CHARACTERS,
    WARN_SEGMENTS,
    _layout,
    check_body,
    segments,
)

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "segments.json").read_text("utf-8"))
CASES: list[dict[str, Any]] = FIXTURE["cases"]

GSM7 = GSM7_BASIC | GSM7_EXTENSION

# Text that mixes GSM characters (often) with anything else, including astral ones.
mixed_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(sorted(GSM7)),
        st.sampled_from(sorted(GSM7_EXTENSION)),
        st.characters(),
    ),
    max_size=400,
)


def reference_sizes(text: str) -> list[int]:
    """Count segment sizes the slow, obvious way: one character at a time."""
    gsm = all(ch in GSM7 for ch in text)
    widths = [
        (2 if ch in GSM7_EXTENSION else 1) if gsm else (2 if ord(ch) > 0xFFFF else 1) for ch in text
    ]
    single, per_part = (160, 153) if gsm else (70, 67)
    if sum(widths) <= single:
        return [sum(widths)]
    sizes = [0]
    for width in widths:
        if sizes[-1] + width > per_part:
            sizes.append(0)
        sizes[-1] += width
    return sizes


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_fixture_vectors(case: dict[str, Any]) -> None:
    """Every vector in fixtures/segments.json gives its encoding, units, segments and split."""
    info = segments(case["text"])
    assert info.encoding == case["encoding"]
    assert info.units == case["units"]
    assert info.segments == case["segments"]
    assert info.characters == case["chars_codepoints"]
    assert list(_layout(case["text"])[2]) == case["units_per_segment"]


def test_fixture_has_all_cases() -> None:
    """The fixture file still holds the 19 vectors the protocol notes describe."""
    assert len(CASES) == 19


def test_tables_match_fixture() -> None:
    """The basic table has the 127 characters of the fixture and the extension table its 10."""
    rules = FIXTURE["rules"]
    assert frozenset(rules["gsm7_basic_charset_127_plus_ESC"]) == GSM7_BASIC
    assert len(GSM7_BASIC) == 127
    assert frozenset(rules["gsm7_extension_chars_cost_2_septets"]) == GSM7_EXTENSION
    assert {f"{ord(ch):#x}" for ch in GSM7_EXTENSION} == set(rules["gsm7_extension_codepoints"])
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_constants() -> None:
    """The body limit is 1600 characters and the segment warning starts at 10."""
    assert MAX_BODY_CHARACTERS == 1600
    assert WARN_SEGMENTS == 10


def test_empty_text_is_one_gsm_segment() -> None:
    """An empty body is GSM-7 with 0 units and counts as 1 segment, as providers bill it."""
    info = segments("")
    assert (info.encoding, info.segments, info.units, info.characters) == ("GSM-7", 1, 0, 0)


def test_docstring_example() -> None:
    """'Hello €' is GSM-7, one segment of 8 septets (the euro sign costs two)."""
    info = segments("Hello €")
    assert (info.encoding, info.segments, info.units, info.characters) == ("GSM-7", 1, 8, 7)


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 153 * 2, "GSM-7", 2),
        ("a" * (153 * 2 + 1), "GSM-7", 3),
        ("ж" * 70, "UCS-2", 1),
        ("ж" * 71, "UCS-2", 2),
        ("ж" * 67 * 2, "UCS-2", 2),
        ("ж" * (67 * 2 + 1), "UCS-2", 3),
    ],
)
def test_limits(text: str, encoding: str, count: int) -> None:
    """One segment holds 160 septets or 70 units; multipart parts hold 153 or 67."""
    info = segments(text)
    assert info.encoding == encoding
    assert info.segments == count


def test_escape_pair_never_split() -> None:
    """A euro sign that would straddle parts moves whole to the next: 152a€152a is 3 segments."""
    text = "a" * 152 + "€" + "a" * 152
    assert segments(text).segments == 3
    assert _layout(text)[2] == (152, 153, 1)


def test_surrogate_pair_never_split() -> None:
    """An emoji that would straddle parts moves whole to the next: 66ж😀66ж is 3 segments."""
    text = "ж" * 66 + "😀" + "ж" * 66
    info = segments(text)
    assert (info.encoding, info.units, info.segments, info.characters) == ("UCS-2", 134, 3, 133)
    assert _layout(text)[2] == (66, 67, 1)


def test_c_cedilla_case() -> None:
    """Capital Ç is in the GSM basic table, lowercase ç is not and forces UCS-2."""
    assert segments("Ç").encoding == "GSM-7"
    assert segments("ç").encoding == "UCS-2"


def test_escape_character_itself_is_not_gsm() -> None:
    """A literal ESC (U+001B) is the table switch, not a character, so it forces UCS-2."""
    assert segments("a\x1bb").encoding == "UCS-2"


def test_lone_surrogate_counts_one_unit() -> None:
    """A lone surrogate (invalid but possible in a str) is UCS-2 and counts one unit."""
    info = segments("a\ud800")
    assert (info.encoding, info.units, info.characters) == ("UCS-2", 2, 2)


def test_check_body_at_limit() -> None:
    """check_body accepts 1600 characters and measures them."""
    info = check_body("a" * 1600)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 1600, 11)


def test_check_body_counts_code_points() -> None:
    """check_body counts characters, so 1600 emoji (3200 UTF-16 units) are accepted."""
    info = check_body("😀" * 1600)
    assert (info.characters, info.units) == (1600, 3200)


def test_check_body_over_limit() -> None:
    """check_body rejects 1601 characters with MessageTooLong naming the length and the limit."""
    with pytest.raises(MessageTooLong) as caught:
        check_body("a" * 1601)
    assert "1601" in caught.value.message
    assert "1600" in caught.value.message
    assert isinstance(caught.value, ValueError)


@given(mixed_text)
def test_encoding_is_gsm_exactly_when_every_char_is_in_the_tables(text: str) -> None:
    """The encoding is GSM-7 if and only if every character is in the basic or extension table."""
    expected = "GSM-7" if all(ch in GSM7 for ch in text) else "UCS-2"
    assert segments(text).encoding == expected


@given(mixed_text)
def test_units_and_characters(text: str) -> None:
    """Units are septets (extension chars 2) or UTF-16 units; characters are code points."""
    info = segments(text)
    if info.encoding == "GSM-7":
        expected = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
    else:
        expected = len(text.encode("utf-16-le", "surrogatepass")) // 2
    assert info.units == expected
    assert info.characters == len(text)


@given(mixed_text)
def test_split_matches_reference(text: str) -> None:
    """The split agrees with a character-by-character reference and adds up to the units."""
    _, units, sizes = _layout(text)
    assert list(sizes) == reference_sizes(text)
    assert sum(sizes) == units
    assert segments(text).segments == len(sizes)


@given(mixed_text, st.one_of(st.sampled_from(sorted(GSM7)), st.characters()))
def test_segments_never_decrease_when_text_grows(text: str, extra: str) -> None:
    """Appending a character never lowers the segment count."""
    assert segments(text + extra).segments >= segments(text).segments


@given(st.text(alphabet=st.sampled_from(["a", "€"]), min_size=150, max_size=700))
def test_escape_pairs_never_split(text: str) -> None:
    """With many escape pairs, no part ends on the first half of a pair."""
    sizes = _layout(text)[2]
    widths = [2 if ch == "€" else 1 for ch in text]
    # Replay the split: every part boundary must fall between characters.
    boundaries = {sum(sizes[: i + 1]) for i in range(len(sizes))}
    offsets = {0}
    total = 0
    for width in widths:
        total += width
        offsets.add(total)
    assert boundaries <= offsets
