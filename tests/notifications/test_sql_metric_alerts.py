"""The alert evaluator reads a draft priced by a SQL metric through the same draft selector as a
person's read (`invoicing.selectors.invoice_views`), so it shares the SQL metric's kept hours:
the contract's warm task keeps them first (`invoicing.tasks.warm_sql_metric_drafts`), and an
evaluation after new events reads only the hours that gained them, measuring what the draft
shows. It needs no hours of its own kept inline."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from invoicing.models import Invoice
from metering.models import SqlMetricResult
from metering.stores import event_store
from notifications.models import CustomerAlert

from .conftest import USD, stamp

pytestmark = pytest.mark.django_db


def test_a_spend_alert_over_a_sql_metric_measures_the_draft_reading_only_new_hours(
    world, api_client, monkeypatch
):
    post = world["post"]
    start = world["start"]
    metric = post(
        "/v1/billable-metrics/create",
        {
            "name": "Tokens (SQL)",
            "sql": "SELECT SUM(CAST(properties.tokens AS DECIMAL)) AS value FROM events "
            "WHERE event_type = 'tokens'",
        },
    )["id"]
    product = post(
        "/v1/contract-pricing/products/create",
        {"name": "Tokens (SQL)", "type": "USAGE", "billable_metric_id": metric},
    )["id"]
    card = post("/v1/contract-pricing/rate-cards/create", {"name": "SQL"})["id"]
    post(
        "/v1/contract-pricing/rate-cards/addRate",
        {
            "rate_card_id": card,
            "product_id": product,
            "entitled": True,
            "rate_type": "FLAT",
            "price": 3,
            "credit_type_id": USD,
            "starting_at": stamp(start - timedelta(days=400)),
        },
    )
    customer = post("/v1/customers", {"name": "Sql", "ingest_aliases": ["sql-co"]})["id"]

    def ingest(tokens: int, at: datetime) -> None:
        event = {
            "transaction_id": str(uuid.uuid4()),
            "customer_id": "sql-co",
            "event_type": "tokens",
            "timestamp": stamp(at),
            "properties": {"tokens": str(tokens)},
        }
        assert api_client.post("/v1/ingest", [event], format="json").status_code == 200

    ingest(100, start + timedelta(minutes=5))  # before the contract: the warm task keeps it
    contract = post(
        "/v1/contracts/create",
        {
            "customer_id": customer,
            "rate_card_id": card,
            "starting_at": stamp(start),
            "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        },
    )["id"]
    assert SqlMetricResult.objects.get(metric_id=metric).fingerprint.startswith("hourly:")
    alert = post(
        "/v1/alerts/create",
        {
            "name": "Spend",
            "alert_type": "spend_threshold_reached",
            "threshold": 1000,
            "customer_id": customer,
            "credit_type_id": USD,
        },
    )["id"]

    store = event_store()
    reads = []
    original = store.sql_metric_rows

    def counted(**kwargs):
        reads.append(kwargs.get("ranges"))
        return original(**kwargs)

    monkeypatch.setattr(store, "sql_metric_rows", counted)
    moment = datetime.now(UTC) - timedelta(minutes=1)
    ingest(250, moment)  # 350 tokens at 3 cents: 1050
    state = CustomerAlert.objects.get(alert_id=alert)
    assert (state.status, state.value) == ("in_alarm", Decimal("1050"))
    # One read, of the hour that gained the event (not the whole period).
    hour = moment.replace(minute=0, second=0, microsecond=0)
    assert reads == [[(hour, hour + timedelta(hours=1))]]

    draft = Invoice.objects.get(contract_id=contract, type="USAGE", start_timestamp=start)
    shown = api_client.get(f"/v1/customers/{customer}/invoices/{draft.pk}").json()["data"]
    assert shown["total"] == 1050
