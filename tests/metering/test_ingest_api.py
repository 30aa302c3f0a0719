"""POST /v1/ingest: the wire contract, every validation rule, gzip, auth and dedup."""

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.metering.stored import dropped, stored_count, stored_one

pytestmark = pytest.mark.django_db


def _now() -> datetime:
    return datetime.now(UTC)


def event(**overrides) -> dict:
    body = {
        "transaction_id": str(uuid.uuid4()),
        "customer_id": "acme@example.com",
        "event_type": "api_call",
        "timestamp": (_now() - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "properties": {"tokens": "1500", "region": "eu"},
    }
    body.update(overrides)
    return body


def post(client: APIClient, body, **extra):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/v1/ingest", raw, content_type="application/json", **extra)


def assert_rejected(client, body, message: str):
    response = post(client, body)
    assert response.status_code == 400, response.content
    assert response.json() == {"message": message}
    assert stored_count() == 0


def test_an_accepted_batch_answers_200_with_an_empty_body(api_client):
    response = post(api_client, [event(), event()])
    assert response.status_code == 200
    assert response.content == b""
    assert stored_count() == 2


def test_event_fields_are_stored_as_received(api_client):
    sent = event(customer_id="Some-Alias", properties={"tokens": 12, "price": 0.1, "ok": True})
    post(api_client, [sent])
    stored = stored_one()
    assert stored.transaction_id == sent["transaction_id"]
    assert stored.customer_id == "Some-Alias"
    assert stored.event_type == "api_call"
    assert stored.properties == {"tokens": 12, "price": Decimal("0.1"), "ok": True}
    assert isinstance(stored.properties["price"], Decimal)


def test_decimal_properties_keep_every_digit(api_client):
    stamp = event()["timestamp"]
    raw = (
        '[{"transaction_id": "t-1", "customer_id": "c", "event_type": "e", "timestamp": "'
        + stamp
        + '", "properties": {"amount": 0.100000000000000000000000000001, '
        '"n": 12345678901234567890}}]'
    ).encode()
    assert post(api_client, raw).status_code == 200
    properties = stored_one().properties
    assert properties["amount"] == Decimal("0.100000000000000000000000000001")
    assert properties["n"] == 12345678901234567890


@pytest.mark.parametrize(
    "body",
    [{"transaction_id": "x"}, [], "text", None, 12],
    ids=["object", "empty", "string", "null", "number"],
)
def test_the_body_must_be_an_array_of_events(api_client, body):
    assert_rejected(api_client, body, "The body must be a JSON array of 1 to 100 events.")


def test_at_most_100_events(api_client):
    assert_rejected(
        api_client, [event() for _ in range(101)], "A batch holds at most 100 events (got 101)."
    )


def test_exactly_100_events_are_accepted(api_client):
    assert post(api_client, [event() for _ in range(100)]).status_code == 200
    assert stored_count() == 100


def test_invalid_json_is_a_400(api_client):
    response = post(api_client, b'[{"transaction_id": ')
    assert response.status_code == 400
    assert response.json()["message"].startswith("Body is not valid JSON")


def test_nan_is_not_a_number(api_client):
    stamp = event()["timestamp"]
    raw = (
        '[{"transaction_id":"a","customer_id":"c","event_type":"e","timestamp":"'
        + stamp
        + '","properties":{"x":NaN}}]'
    ).encode()
    response = post(api_client, raw)
    assert response.status_code == 400
    assert "NaN" in response.json()["message"]


def test_an_event_must_be_an_object(api_client):
    assert_rejected(api_client, [event(), "nope"], "event 1: must be an object")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("transaction_id", None, "is required"),
        ("transaction_id", "", "must not be empty"),
        ("transaction_id", 12, "must be a string"),
        ("transaction_id", "x" * 129, "must be at most 128 characters (got 129)"),
        ("customer_id", None, "is required"),
        ("customer_id", "", "must not be empty"),
        ("customer_id", ["a"], "must be a string"),
        ("customer_id", "c" * 256, "must be at most 255 characters (got 256)"),
        ("event_type", None, "is required"),
        ("event_type", "", "must not be empty"),
        ("event_type", True, "must be a string"),
    ],
)
def test_text_fields(api_client, field, value, problem):
    bad = event(**{field: value})
    if value is None:
        del bad[field]
    assert_rejected(api_client, [event(), event(), event(), bad], f"event 3: {field}: {problem}")


def test_a_128_character_transaction_id_is_accepted(api_client):
    assert post(api_client, [event(transaction_id="t" * 128)]).status_code == 200


def test_timestamp_is_required(api_client):
    bad = event()
    del bad["timestamp"]
    assert_rejected(api_client, [bad], "event 0: timestamp: is required")


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-01-01",
        "2024-13-01T00:00:00Z",
        "2024-01-01T25:00:00Z",
        1700000000,
        None,
        "2024-01-01T00:00:00+0100",
    ],
)
def test_timestamp_must_be_rfc_3339(api_client, value):
    response = post(api_client, [event(timestamp=value)])
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "event 0: timestamp: must be an RFC 3339 timestamp such as 2024-01-01T00:00:00Z (got "
    )
    assert stored_count() == 0


def _stamp(moment: datetime, style: str) -> str:
    if style == "Z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "offset":
        return moment.astimezone(
            __import__("datetime").timezone(timedelta(hours=5, minutes=30))
        ).isoformat()
    if style == "fraction":
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".123456789Z"
    if style == "millis":
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".000Z"
    if style == "naive":
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "space":
        return moment.strftime("%Y-%m-%d %H:%M:%S+00:00")
    raise AssertionError(style)


@pytest.mark.parametrize("style", ["Z", "offset", "fraction", "millis", "naive", "space"])
def test_timestamp_forms_are_read_as_utc(api_client, style):
    moment = (_now() - timedelta(days=2)).replace(microsecond=0)
    assert post(api_client, [event(timestamp=_stamp(moment, style))]).status_code == 200
    stored = stored_one().timestamp
    expected = moment + (timedelta(microseconds=123456) if style == "fraction" else timedelta())
    assert stored == expected


def test_timestamp_older_than_34_days_is_refused(api_client):
    stamp = _stamp(_now() - timedelta(days=34, minutes=5), "Z")
    assert_rejected(
        api_client,
        [event(timestamp=stamp)],
        f"event 0: timestamp: {stamp} is more than 34 days old",
    )


def test_timestamp_within_34_days_is_accepted(api_client):
    stamp = _stamp(_now() - timedelta(days=33, hours=23), "Z")
    assert post(api_client, [event(timestamp=stamp)]).status_code == 200


def test_timestamp_more_than_24_hours_ahead_is_refused(api_client):
    stamp = _stamp(_now() + timedelta(hours=24, minutes=5), "Z")
    assert_rejected(
        api_client,
        [event(timestamp=stamp)],
        f"event 0: timestamp: {stamp} is more than 24 hours in the future",
    )


def test_timestamp_less_than_24_hours_ahead_is_accepted(api_client):
    stamp = _stamp(_now() + timedelta(hours=23), "Z")
    assert post(api_client, [event(timestamp=stamp)]).status_code == 200


def test_properties_are_optional(api_client):
    bad = event()
    del bad["properties"]
    assert post(api_client, [bad]).status_code == 200
    assert stored_one().properties == {}


@pytest.mark.parametrize("value", [[1, 2], "text", 3, None])
def test_properties_must_be_an_object(api_client, value):
    assert_rejected(
        api_client, [event(), event(properties=value)], "event 1: properties: must be an object"
    )


@pytest.mark.parametrize("value", [None, [1], {"a": 1}])
def test_property_values_are_strings_numbers_or_booleans(api_client, value):
    assert_rejected(
        api_client,
        [event(properties={"fine": "x", "bad": value})],
        "event 0: properties: bad: must be a string, number or boolean",
    )


def test_at_most_2000_properties(api_client):
    many = {f"p{i}": "v" for i in range(2001)}
    assert_rejected(
        api_client,
        [event(properties=many)],
        "event 0: properties: at most 2000 properties (got 2001)",
    )


def test_2000_properties_are_accepted(api_client):
    assert (
        post(api_client, [event(properties={f"p{i}": i for i in range(2000)})]).status_code == 200
    )


def test_huge_numbers_are_refused(api_client):
    assert_rejected(
        api_client,
        [event(properties={"n": 10**30})],
        "event 0: properties: n: number out of range (at most 26 digits before the point and 100 "
        "after)",
    )


def test_a_rejected_batch_stores_nothing(api_client):
    good = event()
    response = post(api_client, [good, event(customer_id="")])
    assert response.status_code == 400
    assert stored_count() == 0
    # The good event was not remembered as seen either: sending it alone is accepted.
    assert post(api_client, [good]).status_code == 200
    assert stored_count() == 1


def test_gzip_body_is_accepted(api_client):
    raw = gzip.compress(json.dumps([event(), event()]).encode())
    response = post(api_client, raw, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert stored_count() == 2


def test_bad_gzip_is_a_400(api_client):
    response = post(api_client, b"not gzip", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Body is not valid gzip")


def test_no_token_is_a_401_with_a_message(db):
    response = post(APIClient(), [event()])
    assert response.status_code == 401
    assert set(response.json()) == {"message"}
    assert stored_count() == 0


def test_a_wrong_token_is_a_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = post(client, [event()])
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid, expired or revoked API token."}


def test_a_duplicate_across_batches_is_dropped_silently(api_client):
    sent = event()
    assert post(api_client, [sent]).status_code == 200
    again = dict(sent, properties={"tokens": "9"})
    response = post(api_client, [again, event()])
    assert response.status_code == 200
    assert response.content == b""
    assert stored_count() == 2
    assert stored_one(transaction_id=sent["transaction_id"]).properties["tokens"] == ("1500")
    assert dropped(sent["transaction_id"])[0].properties == {"tokens": "9"}


def test_a_duplicate_inside_a_batch_counts_once(api_client):
    sent = event()
    assert post(api_client, [sent, dict(sent), event()]).status_code == 200
    assert stored_count(transaction_id=sent["transaction_id"]) == 1
    assert stored_count() == 2
    assert len(dropped(sent["transaction_id"])) == 1


def test_a_body_over_10_mib_is_refused(api_client):
    response = post(api_client, b"[" + b" " * (10 * 1024 * 1024) + b"]")
    assert response.status_code == 400
    assert response.json() == {"message": "The body is larger than 10 MiB."}
