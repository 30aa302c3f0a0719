"""A draft preview (previewEvents) on PostgreSQL takes no lock a real ingest waits on: with two
connections, a preview stopped inside its scope (in `present`, while its events are ingested into
it and its drafts rated) and an ingest for the same customer, the same hour, group and
transaction ids, sent meanwhile with a lock timeout, completes. The preview answers as if alone;
what is stored is the stored events and the real ingest, nothing of the preview."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from invoicing.models import Invoice
from invoicing.previews import customer_events_preview
from invoicing.selectors import invoice_view
from metering.models import MetricRollup, RollupWatermark
from metering.services import usage_events_ingest
from metering.stores.relational.rollups import rollups_fold
from tests.api.conftest import data
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)
from tests.customers.factories import CustomerFactory
from tests.metering.conftest import postgres_only

# Long enough for a loaded machine; an ingest that waits on the preview's locks fails after it.
LOCK_TIMEOUT = "5s"


def _event(tx: str, tokens: str, when: datetime, customer_id: str) -> dict:
    return {
        "transaction_id": tx,
        "customer_id": customer_id,
        "event_type": "tokens_usage",
        "timestamp": when.isoformat(),
        "properties": {"num_tokens": tokens},
    }


def _world(post):
    metric = BillableMetricFactory(
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[],
    )
    card = RateCardFactory()
    RateFactory(
        rate_card=card,
        product=ProductFactory(name="Tokens", billable_metric=metric),
        price=Decimal(2),
        starting_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    customer = CustomerFactory()
    month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    data(
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(customer.pk),
                "rate_card_id": str(card.pk),
                "starting_at": month.isoformat(),
            },
        )
    )
    return customer, month


def _draft_total(customer, month) -> Decimal:
    draft = Invoice.objects.get(
        customer=customer, type="USAGE", status="DRAFT", start_timestamp=month
    )
    return invoice_view(invoice=draft, now=timezone.now()).total


def _preview_in_thread(customer, events, mode, inside, release, answers, errors):
    """The preview in its own connection, stopped in `present` until `release`."""

    def present(view):
        inside.set()
        release.wait(60)
        return view.total

    def run():
        try:
            answers.extend(
                customer_events_preview(
                    customer=customer,
                    events=events,
                    now=timezone.now(),
                    mode=mode,
                    present=present,
                )
            )
        except BaseException as exc:
            errors.append(exc)
            inside.set()
        finally:
            connection.close()

    return threading.Thread(target=run)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("mode", "previewed"), [("merge", Decimal(300)), ("replace", Decimal(100))]
)
def test_an_ingest_for_the_customer_completes_while_a_preview_lasts(post, mode, previewed):
    postgres_only()
    customer, month = _world(post)
    here = str(customer.pk)
    now = timezone.now()
    when = max(now - timedelta(minutes=1), month)
    usage_events_ingest(events=[_event("s1", "100", when, here)], now=now)
    # The preview's events: the stored event's hour and group (its hourly row), and an id the
    # real ingest below also sends.
    events = [_event("p1", "40", when, here), _event("shared", "10", when, here)]
    inside, release = threading.Event(), threading.Event()
    answers: list = []
    errors: list = []
    thread = _preview_in_thread(customer, events, mode, inside, release, answers, errors)
    thread.start()
    try:
        assert inside.wait(60)
        assert errors == []
        with connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            usage_events_ingest(
                events=[_event("shared", "7", when, here), _event("c2", "3", when, here)],
                now=timezone.now(),
            )
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        release.set()
        thread.join()
    assert errors == []
    # As if alone: rated before the real ingest arrived (merge: stored 100 + 50; replace: the
    # preview's 50 alone), at 2 cents a token.
    assert answers == [previewed]
    # Stored: the stored event and the real ingest ("shared" is the real one's 7), at 2 cents.
    assert _draft_total(customer, month) == Decimal(220)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_fold_during_a_preview_moves_nothing_and_the_next_one_goes_on(post):
    """The preview holds the tier's watermark (its own rows are exact for it); ingestion is not
    held back by it, and the fold after the preview moves the watermark."""
    postgres_only()
    customer, month = _world(post)
    here = str(customer.pk)
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    start = hour - timedelta(hours=3)
    MetricRollup.objects.all().delete()
    RollupWatermark.objects.update_or_create(pk=1, defaults={"folded_before": start})
    when = max(start + timedelta(minutes=5), month)
    usage_events_ingest(events=[_event("s1", "100", when, here)], now=now)
    inside, release = threading.Event(), threading.Event()
    answers: list = []
    errors: list = []
    events = [_event("p1", "50", when, here)]
    thread = _preview_in_thread(customer, events, "merge", inside, release, answers, errors)
    thread.start()
    try:
        assert inside.wait(60)
        assert rollups_fold(now=now) == start
    finally:
        release.set()
        thread.join()
    assert errors == []
    assert answers == [Decimal(300)]
    assert rollups_fold(now=now) == hour - timedelta(hours=1)
    assert _draft_total(customer, month) == Decimal(200)
