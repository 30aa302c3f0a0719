"""What one evaluation pass costs, counted (never timed): a batch of customers has each draft
rated once, for its totals and for what it draws from a commit or credit alike; its usage read
once per metric and window; and the same number of queries whatever the number of its
customers and of the alerts watching them. These fail if an alert type rates the draft or reads
usage on its own again (per alert or per customer), or if the balance draws rate it again."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import metering.selectors
from invoicing.selectors import draw_order, invoices
from notifications.services.evaluation import customers_alerts_evaluate

from .conftest import USD, stamp

pytestmark = pytest.mark.django_db

KINDS = [
    ("spend_threshold_reached", {}),
    ("invoice_total_reached", {}),
    ("monthly_invoice_total_spend_threshold_reached", {}),
    ("usage_threshold_reached", {"billable_metric_id": "metric"}),
    ("low_remaining_contract_credit_and_commit_balance_reached", {"credit_type_id": USD}),
]


def _customer(world, name: str) -> str:
    customer = world["post"]("/v1/customers", {"name": name})["id"]
    world["post"](
        "/v1/contracts/create",
        {
            "customer_id": customer,
            "rate_card_id": world["rate_card"],
            "starting_at": stamp(world["start"]),
            "usage_statement_schedule": {"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        },
    )
    return customer


def _commit(world) -> None:
    """A prepaid commit of 1,000 cents on Acme's contract (its draft draws from it)."""
    world["post"](
        "/v1/contracts/customerCommits/create",
        {
            "customer_id": world["customer"],
            "product_id": world["fixed"],
            "type": "PREPAID",
            "priority": 1,
            "applicable_contract_ids": [world["contract"]],
            "invoice_contract_id": world["contract"],
            "access_schedule": {
                "credit_type_id": USD,
                "schedule_items": [
                    {
                        "amount": 1000,
                        "starting_at": world["start"].isoformat(),
                        "ending_before": (world["start"] + timedelta(days=400)).isoformat(),
                    }
                ],
            },
        },
    )


def _global_alerts(world, threshold: int) -> None:
    """One alert of each kind watching every customer."""
    for kind, extra in KINDS:
        world["post"](
            "/v1/alerts/create",
            {
                "name": f"{kind} {threshold}",
                "alert_type": kind,
                "threshold": threshold,
                **{key: world.get(value, value) for key, value in extra.items()},
            },
        )


@pytest.fixture
def three(world):
    """Acme (with a commit) and two more customers, each with usage this period, watched by one
    global alert of each kind."""
    customers = [world["customer"], _customer(world, "Beta"), _customer(world, "Gamma")]
    _commit(world)
    for index, customer in enumerate(customers):
        world["ingest"](100 + index, customer_id=customer)
    _global_alerts(world, 10**9)
    return customers


def _counted(monkeypatch) -> Counter:
    """Counts the engine's ratings (for totals, for balance draws) and metering's usage reads."""
    counts: Counter = Counter()

    def count(module, name: str, label: str) -> None:
        original = getattr(module, name)

        def counted(*args, **kwargs):
            counts[label] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    count(invoices, "rate_invoice", "rated")
    # The drafts a balance's draws are read from are rated in their turn (`draw_order`).
    count(draw_order, "rate_invoice", "rated for balance draws")
    count(metering.selectors, "usage_by_customer", "usage reads")
    count(metering.selectors, "usage_by_segment", "usage reads")
    return counts


def _evaluate(customers) -> int:
    with CaptureQueriesContext(connection) as queries:
        customers_alerts_evaluate(customer_ids=customers, now=datetime.now(UTC), pending=False)
    return len(queries)


def test_a_batch_rates_each_draft_once_and_reads_its_usage_once_whatever_its_alerts(
    world, three, monkeypatch
):
    counts = _counted(monkeypatch)
    _evaluate(three)
    # Three drafts rated once each: for totals (spend, invoice total, monthly) and, Acme's, for
    # what it draws from its commit; one usage read (the drafts' and the usage alerts') for all.
    assert counts == {"rated": 3, "usage reads": 1}

    _global_alerts(world, 10**10)  # twice the alerts
    counts.clear()
    _evaluate(three)
    assert counts == {"rated": 3, "usage reads": 1}


def test_the_balance_draws_rate_the_draft_first_when_a_balance_alert_comes_first(
    world, monkeypatch
):
    """Alone, a balance alert rates the draft for its draws; the totals reuse that rating."""
    _commit(world)
    world["ingest"](100)
    world["post"](
        "/v1/alerts/create",
        {
            "name": "Low",
            "alert_type": "low_remaining_contract_credit_and_commit_balance_reached",
            "threshold": 10,
            "credit_type_id": USD,
        },
    )
    world["post"](
        "/v1/alerts/create",
        {"name": "Spend", "alert_type": "spend_threshold_reached", "threshold": 10**9},
    )
    counts = _counted(monkeypatch)
    _evaluate([world["customer"]])
    assert counts == {"rated for balance draws": 1, "usage reads": 1}


def test_a_batchs_queries_do_not_grow_with_its_customers_or_their_alerts(world, three):
    _evaluate(three)  # the states made: later passes update them
    alone = _evaluate(three[:1])
    together = _evaluate(three)
    assert together == alone

    _global_alerts(world, 10**10)
    _evaluate(three)
    assert _evaluate(three) == together
