"""The statements one `POST /v1/ingest` sends: on PostgreSQL, with the API token cached, the one
ingest statement and nothing else (no token read, no BEGIN/COMMIT, no SAVEPOINT, no SET, no
outbox or mark write of its own). A guard: it fails if a statement comes back."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from catalog.models import BillableMetric
from core import authentication
from metering.stores import event_store
from tests.metering.stored import stored_count
from tests.statements import statements_sent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _token_cache_on(settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    authentication.api_tokens_forget()
    yield
    authentication.api_tokens_forget()


def _batch(count: int) -> bytes:
    moment = (datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    return json.dumps(
        [
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": f"customer-{index % 3}",
                "event_type": "api_call",
                "timestamp": moment,
                "properties": {"tokens": str(index + 1), "model": f"m{index % 2}"},
            }
            for index in range(count)
        ]
    ).encode()


def _post(client: APIClient, body: bytes):
    return client.post("/v1/ingest", body, content_type="application/json")


def test_one_ingest_request_sends_only_the_ingest_statement(api_token):
    if event_store().name != "relational":
        pytest.skip("the relational store's statements")
    BillableMetric.objects.create(
        name="Tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": ["api_call"]},
        group_keys=[["model"]],
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token}")
    # Two batches first: in tests the token's creation "commits" (and clears it from the cache)
    # when the first request's transaction ends.
    assert _post(client, _batch(5)).status_code == 200
    assert _post(client, _batch(5)).status_code == 200

    with statements_sent() as sent:
        answer = _post(client, _batch(100))

    assert answer.status_code == 200
    assert stored_count() == 110
    if connection.vendor == "postgresql":
        assert len(sent) == 1, sent
        assert sent[0].startswith("WITH sig AS (")
    else:
        # SQLite: the store's own transaction (`metering/stores/relational/sqlite.py`).
        assert [sql.split()[0] for sql in sent] == [
            "SELECT",  # the late-event rule's ingest aliases (in Python on SQLite)
            "SAVEPOINT",  # the store's transaction (BEGIN IMMEDIATE outside a test)
            "SELECT",  # the API token still valid (inside PostgreSQL's one statement)
            "SELECT",  # the metric definitions' signature
            "INSERT",  # the dedup ledger
            "INSERT",  # the events
            "SELECT",  # usage marks: was any set?
            "INSERT",  # usage marks
            "SELECT",  # the day and month tier's watermark
            "WITH",  # the hourly pre-aggregates already there
            "INSERT",  # the hourly pre-aggregates
            "RELEASE",
        ]


def test_the_first_request_of_a_token_reads_it_once(api_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token}")

    with statements_sent() as sent:
        answer = _post(client, _batch(3))

    assert answer.status_code == 200
    token_reads = [sql for sql in sent if '"core_apitoken"' in sql]
    # The read, the last-used minute, and the store's check that the token is still valid where
    # it writes: inside the ingest statement on PostgreSQL, a query of its own in the write's
    # transaction elsewhere.
    check = "WITH" if connection.vendor == "postgresql" else "SELECT"
    assert [sql.split()[0] for sql in token_reads] == ["SELECT", "UPDATE", check]
