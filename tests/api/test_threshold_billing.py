"""Threshold billing on contract create (no longer "not supported yet"): an auto-recharge buys
the commit that brings the prepaid balance back up, spend threshold billing bills whole
thresholds of the current draft at once; both are invoiced on their own SCHEDULED invoice and
drawn by the usage; the check runs on contract events and from its schedule."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from customers.models import Commit
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.threshold_billing import contract_thresholds_check, thresholds_check_all
from tests.api.conftest import data, error
from tests.catalog.factories import (
    BillableMetricFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)
from tests.customers.factories import CustomerFactory
from tests.invoicing.factories import ingest


@pytest.fixture
def world(db):
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
        starting_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return {"customer": CustomerFactory(), "card": card, "fixed": ProductFactory(fixed=True)}


def _now():
    from django.utils import timezone

    return timezone.now()


def _contract(post, world, **config) -> str:
    start = _now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return data(
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(world["customer"].pk),
                "rate_card_id": str(world["card"].pk),
                "starting_at": start.isoformat(),
                **config,
            },
        )
    )["id"]


def _threshold_commit(world, **extra) -> dict:
    return {
        "commit": {"product_id": str(world["fixed"].pk), "name": "Top-up"},
        "is_enabled": True,
        "payment_gate_config": {"payment_gate_type": "NONE"},
        **extra,
    }


def test_auto_recharge_buys_up_to_its_target_at_once_and_again_when_drawn(post, world):
    contract_id = _contract(
        post,
        world,
        prepaid_balance_threshold_configuration=_threshold_commit(
            world, threshold_amount=1000, recharge_to_amount=5000
        ),
    )
    # The balance starts at 0, below 1000: a 5000 commit is bought when the contract is made.
    first = Commit.objects.get(contract_id=contract_id, threshold_kind="PREPAID_BALANCE")
    assert [s.amount for s in first.access_schedule.all()] == [Decimal(5000)]
    assert [i.amount for i in first.invoice_schedule.all()] == [Decimal(5000)]
    assert Invoice.objects.filter(contract_id=contract_id, type="SCHEDULED").count() == 1
    # 2,100 tokens at 2 = 4200 drawn: 800 left, below 1000: 4200 more brings it back to 5000.
    # (The usage is inside the commit's access, which starts on the hour it was bought.)
    now = _now()
    access_start = first.access_schedule.get().starting_at
    ingest(
        [
            {
                "transaction_id": "t1",
                "customer_id": str(world["customer"].pk),
                "event_type": "tokens_usage",
                "timestamp": access_start.isoformat(),
                "properties": {"num_tokens": "2100"},
            }
        ],
        now=now,
    )
    from customers.models import Contract

    bought = contract_thresholds_check(contract=Contract.objects.get(pk=contract_id), now=now)
    assert [[s.amount for s in c.access_schedule.all()] for c in bought] == [[Decimal(4200)]]
    # Nothing more while the balance is at its target.
    assert contract_thresholds_check(contract=Contract.objects.get(pk=contract_id), now=now) == []


def test_spend_threshold_bills_whole_thresholds_of_the_draft(post, world):
    contract_id = _contract(
        post, world, spend_threshold_configuration=_threshold_commit(world, threshold_amount=1000)
    )
    assert not Commit.objects.filter(contract_id=contract_id).exists()
    now = _now()
    ingest(
        [
            {
                "transaction_id": "t1",
                "customer_id": str(world["customer"].pk),
                "event_type": "tokens_usage",
                "timestamp": (now - timedelta(minutes=5)).isoformat(),
                "properties": {"num_tokens": "1250"},
            }
        ],
        now=now,
    )
    draft = Invoice.objects.get(contract_id=contract_id, type="USAGE", status="DRAFT")
    assert invoice_view(invoice=draft, now=now).total == Decimal(2500)
    assert thresholds_check_all(now=now) == 1
    commit = Commit.objects.get(contract_id=contract_id, threshold_kind="SPEND")
    assert [s.amount for s in commit.access_schedule.all()] == [Decimal(2000)]
    # The usage draws the commit: the draft asks for what is left under the threshold.
    assert invoice_view(invoice=draft, now=now).total == Decimal(500)
    assert thresholds_check_all(now=now) == 0


def test_threshold_configurations_are_shown_and_edited(post, world):
    contract_id = _contract(
        post, world, spend_threshold_configuration=_threshold_commit(world, threshold_amount=1000)
    )
    ref = {"contract_id": contract_id, "customer_id": str(world["customer"].pk)}
    got = data(post("/v2/contracts/get", ref))["spend_threshold_configuration"]
    assert (got["threshold_amount"], got["is_enabled"]) == (1000, True)
    post(
        "/v2/contracts/edit",
        {
            **ref,
            "update_spend_threshold_configuration": {"threshold_amount": 3000, "is_enabled": False},
        },
    )
    got = data(post("/v2/contracts/get", ref))["spend_threshold_configuration"]
    assert (got["threshold_amount"], got["is_enabled"]) == (3000, False)


def test_threshold_errors(post, world):
    bad = _threshold_commit(world, threshold_amount=1000, recharge_to_amount=500)
    assert (
        error(
            post(
                "/v1/contracts/create",
                {
                    "customer_id": str(world["customer"].pk),
                    "rate_card_id": str(world["card"].pk),
                    "starting_at": "2026-01-01T00:00:00Z",
                    "prepaid_balance_threshold_configuration": bad,
                },
            ),
            400,
        )
        == "prepaid_balance_threshold_configuration.recharge_to_amount: Must be more than threshold_amount."
    )
    gated = _threshold_commit(world, threshold_amount=1000)
    gated["payment_gate_config"] = {"payment_gate_type": "STRIPE"}
    assert "A STRIPE gate needs stripe_config.payment_type." in error(
        post(
            "/v1/contracts/create",
            {
                "customer_id": str(world["customer"].pk),
                "rate_card_id": str(world["card"].pk),
                "starting_at": "2026-01-01T00:00:00Z",
                "spend_threshold_configuration": gated,
            },
        ),
        400,
    )
