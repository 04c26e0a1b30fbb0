"""How a text travels as SMS: GSM-7 or UCS-2, and how many segments it takes.

A message is GSM-7 only when every character is in the GSM 03.38 default alphabet or its
extension table (extension characters cost two septets: ESC plus the code). Otherwise the whole
message is UCS-2, counted in UTF-16 code units, so astral characters such as emoji cost two.

One segment holds 160 septets or 70 UTF-16 units. Longer messages are split into parts of
153 septets or 67 units (the concatenation header takes the rest), and a two-unit character
(an escape pair or a surrogate pair) is never cut: it moves whole to the next part.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from smsbridge._errors import MessageTooLong

if TYPE_CHECKING:
    from smsbridge._models import Encoding, SegmentInfo

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_BODY_CHARACTERS",
    "WARN_SEGMENTS",
    "check_body",
    "segments",
]

MAX_BODY_CHARACTERS: Final = 1600
"""Longest body, in characters, that both providers accept (Twilio's documented limit)."""

WARN_SEGMENTS: Final = 10
"""Segment count from which a send warrants a warning: Telnyx caps outbound SMS at 10 parts."""

# The default alphabet in code order 0x00-0x7F (3GPP TS 23.038). 0x1B is ESC, the switch to the
# extension table rather than a character, so it is left out: 127 characters.
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
_GSM7: Final = GSM7_BASIC | GSM7_EXTENSION

# Characters that take two units in each encoding. Regexes scan at C speed, and most texts
# have few or none of these, so the Python-level work is proportional to their number.
_GSM7_WIDE: Final = re.compile("[" + re.escape("".join(sorted(GSM7_EXTENSION))) + "]")
_UCS2_WIDE: Final = re.compile("[\U00010000-\U0010ffff]")

# (single-segment capacity, per-part capacity of a multipart message)
_LIMITS: Final[dict[Encoding, tuple[int, int]]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


def segments(text: str) -> SegmentInfo:
    """Work out the encoding and segment count of an SMS body.

    An empty text counts as one GSM-7 segment of 0 units: a message with an empty body still
    goes out as one SMS, and that is what providers bill.

    Args:
        text: the message body.

    Returns:
        The encoding, the number of segments, the size in units (septets for GSM-7, UTF-16
        code units for UCS-2) and the number of characters (code points).

    Examples:
        >>> import smsbridge
        >>> smsbridge.segments("Hello €")  # € is a GSM-7 extension: two septets
        SegmentInfo(encoding='GSM-7', segments=1, units=8, characters=7)
        >>> smsbridge.segments("Привет").encoding  # outside GSM-7
        'UCS-2'
        >>> smsbridge.segments("x" * 161).segments  # multipart: 153 septets per part
        2
    """
    from smsbridge._models import SegmentInfo  # at first use: see smsbridge._models

    encoding, units, sizes = _layout(text)
    return SegmentInfo(encoding=encoding, segments=len(sizes), units=units, characters=len(text))


def check_body(text: str) -> SegmentInfo:
    """Check that a body is short enough to send, and measure it.

    Args:
        text: the message body.

    Returns:
        The body's ``SegmentInfo``.

    Raises:
        MessageTooLong: the body has more than ``MAX_BODY_CHARACTERS`` characters.
    """
    # Checked before measuring, so an oversized body costs nothing to reject.
    if len(text) > MAX_BODY_CHARACTERS:
        raise MessageTooLong(
            f"message body is {len(text)} characters long; the limit is {MAX_BODY_CHARACTERS}"
        )
    return segments(text)


def _layout(text: str) -> tuple[Encoding, int, tuple[int, ...]]:
    """Return the encoding, the total units and the units in each segment of ``text``."""
    # issuperset walks the string in C and stops at the first character outside the tables.
    encoding: Encoding = "GSM-7" if _GSM7.issuperset(text) else "UCS-2"
    wide = _GSM7_WIDE if encoding == "GSM-7" else _UCS2_WIDE
    # Unit offset at which each two-unit character starts: its index plus one extra unit for
    # every two-unit character before it.
    wide_starts = [m.start() + extra for extra, m in enumerate(wide.finditer(text))]
    units = len(text) + len(wide_starts)
    single, per_part = _LIMITS[encoding]
    if units <= single:
        return encoding, units, (units,)
    return encoding, units, _split(units, per_part, frozenset(wide_starts))


def _split(units: int, per_part: int, wide_starts: frozenset[int]) -> tuple[int, ...]:
    """Cut ``units`` into parts of ``per_part``, never between the two units of one character."""
    sizes: list[int] = []
    start = 0
    while units - start > per_part:
        end = start + per_part
        # A two-unit character whose first unit would be the last of this part moves whole to
        # the next part, leaving this one a unit short.
        if end - 1 in wide_starts:
            end -= 1
        sizes.append(end - start)
        start = end
    sizes.append(units - start)
    return tuple(sizes)
