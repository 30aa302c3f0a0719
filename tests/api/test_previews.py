"""previewEvents (what the drafts would be, nothing stored) and createHistoricalInvoices (past
periods from given quantities: previewed, or stored finalized in place of their drafts).

Every preview test runs on both event stores: the run's configured one and the in-process
ClickHouse store (`chdb_store`); the expected numbers are the same literal values for both."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.models import Invoice
from metering.definitions import definitions_cached
from metering.models import (
    IngestedTransaction,
    MetricAggregate,
    MetricDistinctValue,
    MetricRollup,
    UsageEvent,
)
from metering.services import usage_events_ingest, usage_preview
from metering.stores import clickhouse as clickhouse_store
from metering.stores import event_store
from tests.api.conftest import USD, data, error
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)
from tests.customers.factories import CustomerFactory, IngestAliasFactory
from tests.invoicing.factories import ingest


@pytest.fixture(params=["configured", "chdb"])
def store(request, settings):
    """The run's event store, then the in-process ClickHouse store (once if they are the same)."""
    if request.param == "chdb":
        if (settings.EVENT_STORE_URL or "").startswith("chdb:"):
            pytest.skip("the configured store is chdb already")
        return request.getfixturevalue("chdb_store")
    return event_store()


def _rows() -> dict:
    """How many rows the store holds, table by table (and, on ClickHouse, how many databases)."""
    found = event_store()
    if found.name == "clickhouse":
        counts = {
            table: found.client.rows(f"SELECT count() FROM {found.database}.{table}")[0][0]
            for table in ("usage", "duplicates")
        }
        counts["databases"] = found.client.rows("SELECT count() FROM system.databases")[0][0]
        return counts
    return {
        model.__name__: model.objects.count()
        for model in (
            UsageEvent,
            IngestedTransaction,
            MetricAggregate,
            MetricDistinctValue,
            MetricRollup,
        )
    }


@pytest.fixture
def world(store, post):
    metric = BillableMetricFactory(
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[],
    )
    card = RateCardFactory()
    tokens = ProductFactory(name="Tokens", billable_metric=metric)
    RateFactory(
        rate_card=card,
        product=tokens,
        price=Decimal(2),
        starting_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    customer = CustomerFactory()
    month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (month - timedelta(days=1)).replace(day=1)
    contract = data(
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(customer.pk),
                "rate_card_id": str(card.pk),
                "starting_at": start.isoformat(),
            },
        )
    )["id"]
    return {
        "customer": customer,
        "card": card,
        "contract": contract,
        "tokens": tokens,
        "start": start,
        "month": month,
    }


def _event(n: int, tokens: str, when: datetime) -> dict:
    return {
        "transaction_id": f"p{n}",
        "event_type": "tokens_usage",
        "timestamp": when.isoformat(),
        "properties": {"num_tokens": tokens},
    }


def test_preview_merge_and_replace_leave_nothing_behind(world, post, get):
    customer = world["customer"]
    now = timezone.now()
    stored = {**_event(1, "100", now - timedelta(minutes=2)), "customer_id": str(customer.pk)}
    ingest([stored], now=now)
    before = _rows()
    url = f"/v1/customers/{customer.pk}/previewEvents"
    events = [_event(2, "50", now - timedelta(minutes=1))]
    merged = data(post(url, {"events": events, "mode": "merge"}))
    assert [(i["type"], i["total"]) for i in merged] == [("USAGE", 300)]
    replaced = data(post(url, {"events": events}))
    assert [i["total"] for i in replaced] == [100]
    # Nothing was kept: the store holds what it held, and the draft is as before.
    assert _rows() == before
    drafts = data(get(f"/v1/customers/{customer.pk}/invoices", {"status": "DRAFT"}))
    assert [i["total"] for i in drafts if i["type"] == "USAGE" and i["total"]] == [200]
    bad = post(url, {"events": [{"event_type": "tokens_usage", "timestamp": "yesterday"}]})
    assert "timestamp" in error(bad, 400)
    assert _rows() == before


@pytest.fixture
def metered(world):
    """Five more products on `api_call` events, one per aggregation, at 1 cent a unit; the SUM
    shown per region."""
    made = {}
    for aggregation, key in [
        ("COUNT", ""),
        ("SUM", "n"),
        ("MAX", "n"),
        ("LATEST", "n"),
        ("UNIQUE", "user"),
    ]:
        metric = BillableMetricFactory(
            name=aggregation,
            aggregation_type=aggregation,
            aggregation_key=key,
            event_type_filter={"in_values": ["api_call"]},
            property_filters=[],
            group_keys=[["region"]],
        )
        product = ProductFactory(
            name=aggregation,
            billable_metric=metric,
            presentation_group_key=["region"] if aggregation == "SUM" else [],
        )
        RateFactory(
            rate_card=world["card"],
            product=product,
            price=Decimal(1),
            starting_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        made[aggregation] = product
    return made


def _call(tx: str, when: datetime, n, region: str, user: str, customer_id=None) -> dict:
    event = {
        "transaction_id": tx,
        "event_type": "api_call",
        "timestamp": when.isoformat(),
        "properties": {"n": n, "region": region, "user": user},
    }
    if customer_id is not None:
        event["customer_id"] = customer_id
    return event


def _quantities(invoice: dict) -> dict:
    """{(product name, presentation values): quantity} of an answer's usage lines."""
    return {
        (
            line["name"],
            tuple(sorted((line.get("presentation_group_values") or {}).items())),
        ): Decimal(str(line["quantity"]))
        for line in invoice["line_items"]
        if line.get("quantity") is not None and line["name"] != "Tokens"
    }


def _preview_world(world, metered):
    customer = world["customer"]
    alias = IngestAliasFactory(customer=customer, alias="acme-prod").alias
    now = timezone.now().replace(second=0, microsecond=0)
    here = str(customer.pk)
    ingest(
        [
            _call("s1", now - timedelta(minutes=30), "5", "eu", "u1", here),
            _call("s2", now - timedelta(minutes=20), "7", "us", "u2", alias),
        ],
        now=now,
    )
    events = [
        # Already stored under this id (s1): merge counts it once, as stored.
        _call("s1", now - timedelta(minutes=25), "100", "eu", "u1"),
        _call("p2", now - timedelta(minutes=10), "3", "eu", "u2"),
        _call("p3", now - timedelta(minutes=5), "9", "us", "u3", alias),
        # Into the previous period's draft.
        _call("p4", world["month"] - timedelta(hours=21), "4", "eu", "u1"),
        # A repeat inside the batch: dropped.
        _call("p2", now - timedelta(minutes=9), "50", "us", "u9"),
    ]
    return customer, events, now


def test_a_merge_preview_dedups_resolves_aliases_and_reaches_earlier_periods(world, metered, post):
    customer, events, _ = _preview_world(world, metered)
    before = _rows()
    url = f"/v1/customers/{customer.pk}/previewEvents"
    answers = data(post(url, {"events": events, "mode": "merge"}))
    assert [a["start_timestamp"] for a in answers] == [
        world["start"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        world["month"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]
    assert _quantities(answers[0]) == {
        ("COUNT", ()): Decimal(1),
        ("SUM", (("region", "eu"),)): Decimal(4),
        ("MAX", ()): Decimal(4),
        ("LATEST", ()): Decimal(4),
        ("UNIQUE", ()): Decimal(1),
    }
    assert _quantities(answers[1]) == {
        ("COUNT", ()): Decimal(4),
        ("SUM", (("region", "eu"),)): Decimal(8),
        ("SUM", (("region", "us"),)): Decimal(16),
        ("MAX", ()): Decimal(9),
        ("LATEST", ()): Decimal(9),
        ("UNIQUE", ()): Decimal(3),
    }
    assert _rows() == before


def test_a_replace_preview_rates_the_events_alone(world, metered, post, get):
    customer, events, _ = _preview_world(world, metered)
    before = _rows()
    url = f"/v1/customers/{customer.pk}/previewEvents"
    answers = data(post(url, {"events": events, "mode": "replace"}))
    assert _quantities(answers[1]) == {
        ("COUNT", ()): Decimal(3),
        ("SUM", (("region", "eu"),)): Decimal(103),
        ("SUM", (("region", "us"),)): Decimal(9),
        ("MAX", ()): Decimal(100),
        ("LATEST", ()): Decimal(9),
        ("UNIQUE", ()): Decimal(3),
    }
    assert _quantities(answers[0])[("SUM", (("region", "eu"),))] == Decimal(4)
    assert _rows() == before
    # The stored draft still counts the stored events only.
    draft = Invoice.objects.get(
        customer=customer, type="USAGE", status="DRAFT", start_timestamp=world["month"]
    )
    shown = data(get(f"/v1/customers/{customer.pk}/invoices/{draft.pk}"))
    assert _quantities(shown)[("COUNT", ())] == Decimal(2)
    assert _quantities(shown)[("SUM", (("region", "us"),))] == Decimal(7)


def test_a_concurrent_ingest_goes_to_the_store_and_not_into_the_preview(chdb_store, monkeypatch):
    """ClickHouse: while a preview lasts, another thread's ingest is stored for real (and the
    preview, reading the stored rows live, sees it too); the preview's events reach no one else,
    and nothing of the preview is left."""
    metric = BillableMetricFactory(
        aggregation_type="SUM", aggregation_key="n", event_type_filter={}, property_filters=[]
    )
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    bounds = [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)]

    def total():
        usage = event_store().usage_by_segment(
            metric=metric, customer_ids=["c"], bounds=bounds, group_keys=[]
        )
        return usage[0].get((), Decimal(0))

    def batch(tx, n):
        return [
            {
                "transaction_id": tx,
                "customer_id": "c",
                "event_type": "x",
                "timestamp": (now - timedelta(hours=1)).isoformat(),
                "properties": {"n": n},
            }
        ]

    usage_events_ingest(events=batch("s1", "5"), now=now)
    # The other thread must not need the test's database connection (held by the test's
    # transaction on SQLite): no usage marks, the metric definitions the main thread loaded.
    monkeypatch.setattr(clickhouse_store, "usage_marks_record", lambda *args: False)
    monkeypatch.setattr(
        clickhouse_store, "definitions_signature", lambda: definitions_cached().signature
    )
    before = _rows()
    seen = {}
    with usage_preview(customer_ids=["c"]):
        usage_events_ingest(events=batch("p1", "100"), now=now)

        def other():
            usage_events_ingest(events=batch("c1", "7"), now=now)
            seen["other"] = total()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        seen["preview"] = total()
    assert seen == {"other": Decimal(12), "preview": Decimal(112)}
    assert total() == Decimal(12)
    after = _rows()
    assert after["databases"] == before["databases"]
    assert after["usage"] > before["usage"]  # c1's event and aggregate rows
    assert sorted(e.transaction_id for e in event_store().recent_events()) == ["c1", "s1"]


def test_historical_invoices_previewed_then_stored(world, post):
    start, month = world["start"], world["month"]
    item = {
        "contract_id": world["contract"],
        "customer_id": str(world["customer"].pk),
        "credit_type_id": USD,
        "inclusive_start_date": start.isoformat(),
        "exclusive_end_date": month.isoformat(),
        "issue_date": month.isoformat(),
        "usage_line_items": [
            {
                "product_id": str(world["tokens"].pk),
                "inclusive_start_date": start.isoformat(),
                "exclusive_end_date": month.isoformat(),
                "quantity": 7,
            }
        ],
    }
    preview = data(
        post("/v1/contracts/createHistoricalInvoices", {"invoices": [item], "preview": True})
    )
    assert [(i["status"], i["total"]) for i in preview] == [("FINALIZED", 14)]
    assert not Invoice.objects.filter(contract_id=world["contract"], status="FINALIZED").exists()
    stored = data(
        post("/v1/contracts/createHistoricalInvoices", {"invoices": [item], "preview": False})
    )
    invoice = Invoice.objects.get(pk=stored[0]["id"])
    assert (invoice.status, invoice.total, invoice.issued_at) == ("FINALIZED", Decimal(14), month)
    assert not Invoice.objects.filter(
        contract_id=world["contract"], status="DRAFT", start_timestamp=start
    ).exists()
    again = post("/v1/contracts/createHistoricalInvoices", {"invoices": [item], "preview": False})
    assert (
        error(again, 400)
        == "invoices[0]: This period already has a finalized invoice; void it first."
    )
    off = {**item, "inclusive_start_date": (start + timedelta(days=2)).isoformat()}
    assert error(
        post("/v1/contracts/createHistoricalInvoices", {"invoices": [off], "preview": True}), 400
    ) == (
        "invoices[0].inclusive_start_date: The dates must be one of the contract's billing periods "
        "(its usage statement schedule)."
    )


def test_a_preview_rates_sql_metrics_from_its_events(world, post, get):
    """A SQL metric reads the preview's events; a replace preview whose events fall in the same
    hours, as many as were stored, is not answered from the draft's kept result."""
    made = data(
        post(
            "/v1/billable-metrics/create",
            {
                "name": "SQL tokens",
                "sql": "SELECT SUM(CAST(properties.n AS DECIMAL)) AS value FROM events "
                "WHERE event_type = 'api_call'",
            },
        )
    )
    product = ProductFactory(name="SQL", billable_metric_id=made["id"])
    RateFactory(
        rate_card=world["card"],
        product=product,
        price=Decimal(1),
        starting_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    customer = world["customer"]
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    if hour == world["month"]:
        hour += timedelta(minutes=1)
    ingest([_call("s1", hour, 5, "eu", "u1", str(customer.pk))], now=timezone.now())
    draft = Invoice.objects.get(
        customer=customer, type="USAGE", status="DRAFT", start_timestamp=world["month"]
    )
    url = f"/v1/customers/{customer.pk}/invoices/{draft.pk}"
    assert _quantities(data(get(url)))[("SQL", ())] == Decimal(5)
    preview = f"/v1/customers/{customer.pk}/previewEvents"
    events = [_call("p1", hour, 100, "eu", "u1")]
    merged = data(post(preview, {"events": events, "mode": "merge"}))
    assert _quantities(merged[0])[("SQL", ())] == Decimal(105)
    replaced = data(post(preview, {"events": events, "mode": "replace"}))
    assert _quantities(replaced[0])[("SQL", ())] == Decimal(100)
    assert _quantities(data(get(url)))[("SQL", ())] == Decimal(5)
