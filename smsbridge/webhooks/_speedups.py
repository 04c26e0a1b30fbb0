"""The two speed-ups of the webhook path that pay, fenced here with their plain equivalents.

Each function returns exactly what its standard-library expression returns, and raises the
same exception class, for every input (``tests/test_speedups.py`` checks both on arbitrary
inputs); only the time differs. ``python benchmarks/bench_speedups.py`` measures each against
its plain version, alone on the fixture bodies and inside ``handle_webhook``.

* ``parse_qsl_bytes``: ``parse_qsl(body.decode(), keep_blank_values=True,
  errors="strict")``, about 3x faster on the form bodies Twilio sends: 19 us saved on an
  inbound SMS alone, 26-29 us (30%) of the Twilio ``handle_webhook`` call.
* ``json_loads_utf8``: ``json.loads(body.decode())`` (JSON text is UTF-8, RFC 8259
  section 8.1): 1.2 us saved on a Telnyx body alone, 0.4-4 us (about 2%) of the Telnyx
  ``handle_webhook`` call: the one to drop first if it ever gets in the way.

Anything new goes here only with a measured saving of several per cent of the call it speeds
up, and a test that it equals the plain version.
"""

from __future__ import annotations

import json
from codecs import escape_decode
from json.scanner import make_scanner
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote_to_bytes

from pydantic import BaseModel

__all__ = ["construct_checked", "construct_works", "json_loads_utf8", "parse_qsl_bytes"]

# bytes.translate tables: keep only the separators; turn both separators into NUL and '+'
# into a space, in one pass.
_ONLY_SEPARATORS = bytes(b for b in range(256) if b not in b"&=")
_MARK = bytes.maketrans(b"&=+", b"\x00\x00 ")


def _percent_decode(data: bytes) -> bytes:
    """``unquote_to_bytes(data)``; in C when every ``%`` starts a two-digit hex escape and no
    backslash is present: ``%XX`` becomes ``\\xXX`` for the bytes-escape decoder, which
    refuses anything else (and the plain function runs instead)."""
    if b"\\" not in data:
        try:
            return escape_decode(data.replace(b"%", b"\\x"))[0]
        except ValueError:
            pass
    return unquote_to_bytes(data)


def parse_qsl_bytes(body: bytes) -> list[tuple[str, str]]:
    """``parse_qsl(body.decode(), keep_blank_values=True, errors="strict")``, faster.

    When every field is ``name=value`` (the separators alternate ``=&=&…=``) and no NUL is
    present, raw or escaped, the whole body is marked, percent-decoded and split in a handful
    of C-level passes; any other body goes to ``parse_qsl``.

    Raises:
        UnicodeDecodeError: the body, or a percent-escape in it, is not valid UTF-8.
    """
    separators = body.translate(None, _ONLY_SEPARATORS)
    count = len(separators) // 2
    if (
        len(separators) % 2
        and separators == b"=&" * count + b"="
        and b"\x00" not in body
        and b"%00" not in body
    ):
        marked = body.translate(_MARK)
        if b"%" in marked:
            marked = _percent_decode(marked)
        tokens = marked.decode().split("\x00")
        return list(zip(tokens[::2], tokens[1::2], strict=True))
    return parse_qsl(body.decode(), keep_blank_values=True, errors="strict")


# The C scanner ``json.loads`` ends up in, with the default decoder's settings.
_SCAN = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_JSON_SPACE = " \t\n\r"


def json_loads_utf8(body: bytes) -> Any:
    """``json.loads(body.decode())``, faster: it calls the C scanner directly, skipping the
    whitespace regular expressions ``loads`` runs around it; any body the scanner does not
    take whole (leading whitespace, extra data, an error) goes to ``json.loads``.

    Raises:
        UnicodeDecodeError: not UTF-8.
        json.JSONDecodeError: not JSON.
        RecursionError: nested too deeply.
    """
    text = body.decode()
    try:
        document, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        return json.loads(text)
    return document


_set = object.__setattr__
M = TypeVar("M", bound=BaseModel)


def construct_checked(cls: type[M], values: dict[str, Any]) -> M:
    """``cls(**values)`` without validating again: ``values`` holds every field of ``cls``, in
    declaration order, each already checked by the webhook parser.

    It fills the instance the way pydantic's own ``model_construct`` does, minus that method's
    per-field default handling. Measured inside ``handle_webhook`` it saves about 7 us a
    webhook (6-11 % of the call; ``benchmarks/bench_speedups.py``), where alone it looks like
    2 us: the validator's code and data evict the signature check's from the CPU caches.
    ``construct_works`` decides at import whether pydantic's internals still allow it;
    ``tests/test_speedups.py`` checks it equals validation on every fixture event.
    """
    model = object.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def construct_works(sample: type[BaseModel], values: dict[str, Any]) -> bool:
    """Whether ``construct_checked`` builds ``sample`` equal to validation (same value,
    dump and hash): false after a pydantic change it does not anticipate."""
    try:
        fast = construct_checked(sample, dict(values))
        slow = sample(**values)
        return fast == slow and fast.model_dump() == slow.model_dump() and hash(fast) == hash(slow)
    except Exception:  # any surprise in pydantic's internals: validate instead
        return False
