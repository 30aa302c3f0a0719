"""`core.parsers.loads_decimal`: msgspec reads bodies first; whatever it refuses is read again by
`json.loads`, so every body gives the values, or the error message, it gave before."""

import json
from decimal import Decimal

import pytest

from core.parsers import _reject_constant, loads_decimal


def stdlib(data: bytes):
    return json.loads(
        data.decode("utf-8-sig"), parse_float=Decimal, parse_constant=_reject_constant
    )


@pytest.mark.parametrize(
    "body",
    [
        b'[{"a": 1.10, "b": -0.0, "c": 1e-7, "d": 123.456e2, "e": 1E+400}]',
        b'{"big": 123456789012345678901234567890, "neg": -9223372036854775809}',
        b'{"x": 0.' + b"1" * 120 + b"}",
        b'{"a": 1, "a": 2, "t": true, "f": false, "n": null}',
        b'{"text": "caf\\u00e9 \\ud83d\\ude00 \\u0000 \xc3\xa9"}',
        b"\xef\xbb\xbf[1, 2]",
        b'"\\udfff"',
        b"  [ ]  ",
    ],
)
def test_a_body_reads_as_json_loads_with_decimals_reads_it(body):
    value = loads_decimal(body)
    assert value == stdlib(body)
    assert repr(value) == repr(stdlib(body))


@pytest.mark.parametrize(
    "body",
    [b"[NaN]", b"[Infinity]", b"[1] x", b"[1,]", b"\xff", b"[" + b"9" * 5000 + b"]", b"[" * 5000],
)
def test_a_body_json_loads_refuses_is_refused_with_its_message(body):
    with pytest.raises((ValueError, RecursionError)) as expected:
        stdlib(body)
    with pytest.raises(type(expected.value)) as refused:
        loads_decimal(body)
    assert str(refused.value) == str(expected.value)
