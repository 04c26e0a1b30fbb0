"""The fast paths in ``smsbridge.webhooks._speedups`` equal their standard-library versions:
the same result, or the same exception class, on arbitrary inputs and on the nasty ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbridge import MalformedWebhook
from smsbridge.webhooks._common import load_json, parse_form
from smsbridge.webhooks._speedups import json_loads_utf8, parse_qsl_bytes

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def outcome(func: Callable[[bytes], Any], data: bytes) -> tuple[str, Any]:
    """``("ok", repr of the result)`` or ``("raised", the exception class)``; repr compares
    NaN, -0.0 and key order exactly."""
    try:
        return "ok", repr(func(data))
    except Exception as exc:  # the class is what is compared
        return "raised", type(exc)


# -- forms -------------------------------------------------------------------------------------
def stdlib_form(body: bytes) -> list[tuple[str, str]]:
    return parse_qsl(body.decode(), keep_blank_values=True, errors="strict")


def assert_form_equal(body: bytes) -> None:
    assert outcome(parse_qsl_bytes, body) == outcome(stdlib_form, body), body


FORM_CHARS = "%0123456789aAfFgG=&+\\x\x00é ;#"
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=10)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_form_equals_parse_qsl_on_any_bytes(body: bytes) -> None:
    """Arbitrary bytes: the same pairs, or the same exception."""
    assert_form_equal(body)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=FORM_CHARS, max_size=60))
def test_form_equals_parse_qsl_on_escape_heavy_text(text: str) -> None:
    """Text dense in separators, escapes, backslashes and NULs."""
    assert_form_equal(text.encode())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), max_size=8), st.booleans())
def test_form_equals_parse_qsl_on_encoded_pairs(pairs: list[tuple[str, str]], raw: bool) -> None:
    """Well-formed bodies (the fast path), and the same pairs joined unencoded."""
    if raw:
        body = "&".join(f"{k}={v}" for k, v in pairs)
    else:
        body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)
    assert_form_equal(body.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"a=%00",
        b"a%00=1",
        b"a=\x00",
        b"a=1+2",
        b"a=1%2B2",
        b"a=%2b%2B+",
        b"a=%ff",
        b"a=\xff",
        b"a=%e9",
        b"a=%C3%A9",
        b"a=%ed%a0%80",
        b"a=%",
        b"a=%2",
        b"a=%zz",
        b"a=%%41",
        b"==",
        b"a==b",
        b"=",
        b"&&",
        b"a=1&&b=2",
        b"a=&=b",
        b"a",
        b"a&b=1",
        b"&a=1&",
        b"a=1;b=2",
        b"a=\\x41",
        b"a=%5Cx41",
        b"a=\\",
        b"a=1#frag",
        b"%41%42=%43",
        b"a=%41%4",
    ],
)
def test_form_nasty_cases(body: bytes) -> None:
    """NUL raw or escaped, '+' and %2B, invalid UTF-8, lone '%', '==', empty fields..."""
    assert_form_equal(body)


def test_form_fixture_bodies() -> None:
    """Every Twilio fixture body decodes as parse_qsl decodes it."""
    for name in ("twilio_inbound.json", "twilio_status.json"):
        for case in json.loads((FIXTURES / name).read_text())["cases"]:
            assert_form_equal(case["raw_body"].encode())


def test_parse_form_refuses_invalid_utf8_as_malformed() -> None:
    """The codecs' wrapper turns the decoding error into MalformedWebhook."""
    assert parse_form(b"a=%C3%A9&b=+") == [("a", "é"), ("b", " ")]
    for body in (b"a=%ff", b"a=\xff", b"\xff"):
        with pytest.raises(MalformedWebhook):
            parse_form(body)


# -- JSON --------------------------------------------------------------------------------------
def stdlib_json(body: bytes) -> Any:
    return json.loads(body.decode())


def assert_json_equal(body: bytes) -> None:
    assert outcome(json_loads_utf8, body) == outcome(stdlib_json, body), body


JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
SPACE = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0", max_size=3)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=60))
def test_json_equals_loads_on_any_bytes(body: bytes) -> None:
    """Arbitrary bytes: the same document, or the same exception."""
    assert_json_equal(body)


@settings(max_examples=500, deadline=None)
@given(JSON_VALUE, SPACE, SPACE, st.sampled_from(["", "x", "{}", "]", ",1", "\x00", "//"]))
def test_json_equals_loads_on_documents(value: Any, before: str, after: str, extra: str) -> None:
    """Documents with whitespace around them (JSON's and others), and trailing data."""
    text = json.dumps(value)
    for body in (text, before + text + after, text + after + extra):
        assert_json_equal(body.encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]":,0123456789.eE-+ tfnulrase\\u"', max_size=40))
def test_json_equals_loads_on_json_like_text(text: str) -> None:
    """Text made of JSON's own characters: mostly errors, which must be the same."""
    assert_json_equal(text.encode())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b" ",
        b' {"a": 1}',
        b'\n\t{"a": 1}\r\n',
        b'{"a": 1} x',
        b'{"a": 1}{"b": 2}',
        b'{"a": 1}  ',
        b"1 2",
        b"\xef\xbb\xbf{}",
        b"\xff{}",
        b'{"a": "\xff"}',
        b'"\\ud800"',
        b"NaN",
        b"-Infinity",
        b"[1e400, -0.0, 1.5e-400]",
        b"12345678901234567890123456789",
        b'{"a": 1, "a": 2}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"[" * 500 + b"]" * 500,
        b"{'a': 1}",
        b"[1,]",
        b"\x00",
    ],
    ids=lambda body: repr(body[:24]),
)
def test_json_nasty_cases(body: bytes) -> None:
    """Leading whitespace, trailing data, BOM, invalid UTF-8, deep nesting, NaN..."""
    assert_json_equal(body)


def test_json_fixture_bodies() -> None:
    """Every Telnyx fixture event, compact and indented, loads as json.loads loads it."""
    for name in (
        "telnyx_message_received.json",
        "telnyx_message_sent.json",
        "telnyx_message_finalized.json",
    ):
        for value in json.loads((FIXTURES / name).read_text()).values():
            if isinstance(value, dict) and "data" in value:
                assert_json_equal(json.dumps(value, separators=(",", ":")).encode())
                assert_json_equal(json.dumps(value, indent=2).encode())


def test_load_json_is_the_fast_path() -> None:
    """The codecs' ``load_json`` is the fenced fast path (callers catch ValueError)."""
    assert load_json is json_loads_utf8
    assert isinstance(outcome(load_json, b"\xff")[1], type)
    assert issubclass(outcome(load_json, b"\xff")[1], ValueError)


# -- building event models without validating twice ------------------------------------------------


def _fixture_events() -> list[Any]:
    """Every event the webhook fixtures parse into, through the real codecs."""
    from datetime import datetime, timezone

    from smsbridge.providers.telnyx._parse import parse_telnyx
    from smsbridge.providers.twilio._parse import parse_twilio_form

    events: list[Any] = []
    for name in ("telnyx_message_received", "telnyx_message_sent", "telnyx_message_finalized"):
        document = json.loads((FIXTURES / f"{name}.json").read_text())
        for key, value in document.items():
            if isinstance(value, dict) and "data" in value:
                body = json.dumps(value).encode()
                url = f"https://app.example/sms/webhook?smsbridge_ref={key}"
                events += parse_telnyx(body, url).events
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    for name in ("twilio_inbound", "twilio_status"):
        for case in json.loads((FIXTURES / f"{name}.json").read_text())["cases"]:
            params = case.get("params")
            if isinstance(params, dict):
                pairs = [(k, v) for k, v in params.items() if isinstance(v, str)]
                events += parse_twilio_form(pairs, "https://app.example/hook", now).events
    return events


def test_construct_checked_equals_validation_on_every_fixture_event() -> None:
    """The fast constructor builds exactly what validation builds: same value, dump, fields
    set and (for the hashable models) hash, on every event the fixtures give."""
    from pydantic import BaseModel

    from smsbridge.webhooks._common import build
    from smsbridge.webhooks._speedups import construct_checked, construct_works

    events = _fixture_events()
    assert len(events) >= 5
    assert build is construct_checked, "pydantic's internals changed: the fast path is off"

    def models(event: BaseModel) -> list[BaseModel]:
        nested = [v for v in vars(event).values() if isinstance(v, BaseModel)]
        nested += [m for v in vars(event).values() if isinstance(v, tuple) for m in v]
        return [event, *(m for m in nested if isinstance(m, BaseModel))]

    for event in events:
        for model in models(event):
            values = {name: getattr(model, name) for name in type(model).model_fields}
            fast = construct_checked(type(model), dict(values))
            slow = type(model)(**values)
            assert fast == slow
            assert fast.model_dump() == slow.model_dump()
            assert fast.model_dump_json() == slow.model_dump_json()
            assert fast.model_fields_set == slow.model_fields_set
            assert construct_works(type(model), values) or "raw" in values
