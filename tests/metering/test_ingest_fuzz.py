"""Fuzzing POST /v1/ingest with hypothesis: bodies of every shape a careless client or an attacker
sends (types, sizes, encodings, unicode, offsets, decimals, nesting depth, 101 events, 2,001
properties, gzip variants). Whatever the body, the answer is never a 5xx, a 4xx says why in
{"message"}, and a refused batch stored nothing."""

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering.models import DuplicateEvent, IngestedTransaction, MetricAggregate, UsageEvent

from .factories import BillableMetricFactory

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)

special_text = st.sampled_from(
    [
        "",
        "\x00",
        "a\x00",
        "\udfff",
        "\ud83d",
        "x\ud800y",
        "\ud83d\ude00",
        "\u202e",
        "é",
        " ",
        "9" * 300,
    ]
)
any_text = st.one_of(special_text, st.text(max_size=40), st.text(st.characters(codec="utf-8")))

numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(
        lambda digits, exponent: Decimal((0, tuple(int(d) for d in digits), exponent)),
        st.text("0123456789", min_size=1, max_size=60),
        st.integers(min_value=-130, max_value=40),
    ),
    st.floats(allow_nan=False),
)


def _stamp(moment: datetime, offset_minutes: int, style: int) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    try:
        local = moment.astimezone(zone)
    except OverflowError:
        return moment.isoformat()
    text = local.isoformat()
    return [text, text.replace("+00:00", "Z"), local.replace(tzinfo=None).isoformat()][style]


timestamps = st.one_of(
    st.builds(
        _stamp,
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
            lambda d: d.replace(tzinfo=UTC)
        )
        | st.builds(lambda h: NOW - timedelta(hours=h), st.integers(-30, 40 * 24)),
        st.integers(min_value=-1439, max_value=1439),
        st.integers(min_value=0, max_value=2),
    ),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "2024-02-30T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.1234567890123Z",
            "now",
        ]
    ),
    any_text,
    numbers,
)

scalars = st.one_of(any_text, numbers, st.booleans(), st.none())
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=8,
)
property_values = st.one_of(
    scalars, st.sampled_from(["12.5", "1e26", "-0", "NaN", "1e-101"]), json_values
)
properties = st.one_of(
    st.dictionaries(
        st.sampled_from(["tokens", "region", "model"]) | any_text, property_values, max_size=6
    ),
    json_values,
)


@st.composite
def events(draw):
    event = {}
    fields = {
        "transaction_id": st.one_of(st.uuids().map(str), any_text, scalars),
        "customer_id": st.one_of(st.sampled_from(["acme", "beta"]), any_text, scalars),
        "event_type": st.one_of(st.just("api_call"), any_text, scalars),
        "timestamp": timestamps,
        "properties": properties,
    }
    for name, strategy in fields.items():
        if draw(st.integers(0, 9)) > 0:  # each field missing now and then
            event[name] = draw(strategy)
    if draw(st.integers(0, 19)) == 0:
        event[draw(any_text)] = draw(json_values)
    return event


batches = st.one_of(
    st.lists(events(), min_size=1, max_size=5),
    st.lists(events(), min_size=1, max_size=5).map(lambda b: b * 21),  # 101+ events
    st.just(
        [
            {
                "transaction_id": "many-properties",
                "customer_id": "acme",
                "event_type": "api_call",
                "timestamp": NOW.isoformat(),
                "properties": {f"p{i}": i for i in range(2001)},
            }
        ]
    ),
    json_values,
    st.builds(lambda depth: "[" * depth + "]" * depth, st.integers(1, 5000)),  # nesting
)


def _encode(body, ascii_only: bool) -> bytes:
    if isinstance(body, str) and body.startswith("["):
        return body.encode()  # the nesting case, already JSON text

    def number(value):
        if isinstance(value, Decimal):
            return str(value)  # NaN and sNaN and Infinity included: not JSON numbers
        raise TypeError

    text = json.dumps(body, ensure_ascii=ascii_only, default=number)
    return text.encode("utf-8", "surrogatepass")  # raw surrogates when not escaped


def _wrapped(raw: bytes, how: str) -> tuple[bytes, dict]:
    if how == "plain":
        return raw, {}
    if how == "bom":
        return b"\xef\xbb\xbf" + raw, {}
    if how == "utf-16":
        return raw.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass"), {}
    packed = gzip.compress(raw)
    variants = {
        "gzip": packed,
        "gzip-members": gzip.compress(raw[: len(raw) // 2]) + gzip.compress(raw[len(raw) // 2 :]),
        "gzip-truncated": packed[: len(packed) // 2],
        "gzip-trailing": packed + b"garbage",
        "gzip-claimed": raw,
    }
    return variants[how], {"HTTP_CONTENT_ENCODING": "gzip"}


def _stored() -> tuple[int, int, int, int]:
    return (
        UsageEvent.objects.count(),
        IngestedTransaction.objects.count(),
        DuplicateEvent.objects.count(),
        MetricAggregate.objects.count(),
    )


@pytest.fixture
def metrics(db):
    BillableMetricFactory(
        aggregation_type="SUM", aggregation_key="tokens", group_keys=[["region", "model"]]
    )
    BillableMetricFactory(aggregation_type="UNIQUE", aggregation_key="model")


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=batches,
    ascii_only=st.booleans(),
    how=st.sampled_from(
        [
            "plain",
            "bom",
            "utf-16",
            "gzip",
            "gzip-members",
            "gzip-truncated",
            "gzip-trailing",
            "gzip-claimed",
        ]
    ),
)
def test_no_body_answers_5xx_and_a_refused_batch_stores_nothing(
    api_client, metrics, body, ascii_only, how
):
    raw, headers = _wrapped(_encode(body, ascii_only), how)
    before = _stored()
    response = api_client.post("/v1/ingest", raw, content_type="application/json", **headers)
    assert response.status_code < 500, response.content
    if response.status_code == 200:
        assert response.content == b""
        return
    assert response.status_code in (400, 413), response.content
    assert set(response.json()) == {"message"}
    assert _stored() == before
