"""POST /v1/ingest at the edge: text PostgreSQL cannot store, timestamps whose offset leaves the
calendar, gzip read as RFC 1952 says. Each answers a 400 naming the event and field, never a 500,
and a refused batch stores nothing."""

import gzip
import json

import pytest

from tests.metering.stored import stored_count, stored_one
from tests.metering.test_ingest_api import assert_rejected, event, post

pytestmark = pytest.mark.django_db

BAD = "must not contain NUL characters or unpaired surrogates"


def raw_batch(*events) -> bytes:
    # json.dumps writes "\u0000" and "\udfff" as the escapes a client would send.
    return json.dumps(list(events)).encode()


@pytest.mark.parametrize("field", ["transaction_id", "customer_id", "event_type"])
@pytest.mark.parametrize("text", ["a\x00b", "a\udfffb", "\ud83d"])
def test_nul_and_lone_surrogates_in_event_fields_are_a_400(api_client, field, text):
    assert_rejected(
        api_client, raw_batch(event(), event(**{field: text})), f"event 1: {field}: {BAD}"
    )


@pytest.mark.parametrize("text", ["\x00", "x\udc00"])
def test_nul_and_lone_surrogates_in_property_values_are_a_400(api_client, text):
    assert_rejected(
        api_client,
        raw_batch(event(properties={"region": "eu", "name": text})),
        f"event 0: properties.name: {BAD}",
    )


def test_a_nul_in_a_property_key_is_a_400_with_the_key_shown_escaped(api_client):
    assert_rejected(
        api_client,
        raw_batch(event(properties={"bad\x00key": "1"})),
        f"event 0: properties.bad\\u0000key: {BAD}",
    )


def test_a_nul_in_the_timestamp_is_a_400(api_client):
    assert_rejected(
        api_client,
        raw_batch(event(timestamp="2024-01-01T00:00:00\x00")),
        f"event 0: timestamp: {BAD}",
    )


def test_raw_utf8_surrogate_bytes_are_not_valid_json(api_client):
    body = raw_batch(event(customer_id="SURROGATE")).replace(b"SURROGATE", b"\xed\xbf\xbf")
    response = post(api_client, body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Body is not valid JSON:")
    assert stored_count() == 0


def test_a_valid_surrogate_pair_and_other_escapes_are_accepted(api_client):
    assert post(api_client, raw_batch(event(customer_id="caf\u00e9 \U0001f600"))).status_code == 200
    assert stored_one().customer_id == "caf\u00e9 \U0001f600"


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_timestamps_whose_offset_leaves_the_calendar_are_a_400(api_client, stamp):
    assert_rejected(
        api_client,
        [event(timestamp=stamp)],
        f'event 0: timestamp: "{stamp}" is outside the years 1-9999 once its offset is applied',
    )


def test_a_multi_member_gzip_body_is_read_whole(api_client):
    first, second = event(), event()
    body = json.dumps([first, second]).encode()
    half = body.index(b"}, {") + 1
    raw = gzip.compress(body[:half]) + gzip.compress(body[half:])
    assert post(api_client, raw, HTTP_CONTENT_ENCODING="gzip").status_code == 200
    assert stored_count() == 2


@pytest.mark.parametrize("tail", [b"garbage", b"\x00\x00\x00\x00", b"\x1f"])
def test_bytes_after_the_last_gzip_member_are_a_400(api_client, tail):
    raw = gzip.compress(json.dumps([event()]).encode()) + tail
    response = post(api_client, raw, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Body is not valid gzip")
    assert stored_count() == 0


def test_a_truncated_gzip_body_is_a_400(api_client):
    raw = gzip.compress(json.dumps([event()]).encode())[:-6]
    response = post(api_client, raw, HTTP_CONTENT_ENCODING="gzip")
    assert response.json() == {"message": "Body is not valid gzip: the last member is incomplete."}
    assert response.status_code == 400


def test_a_gzip_body_larger_than_10_mib_decompressed_is_a_400(api_client):
    member = gzip.compress(b" " * (6 * 1024 * 1024))
    response = post(api_client, member + member, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert response.json() == {"message": "Decompressed body is larger than 10 MiB."}
