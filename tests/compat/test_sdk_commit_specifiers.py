"""Commit and credit specifiers through the official SDK, strict validation on: on create (commits,
credits, recurring ones, customer-level ones), on edit, in what contracts and balance lists show,
and in what the draft draws (a commit limited to one region draws only that region's usage)."""

import uuid
from datetime import UTC, datetime

import metronome
import pytest


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def offer(client):
    """Compute hours priced per region (us 100, eu 200), a FIXED product for the balances, a
    customer and this month's contract start."""
    start = _month_start(datetime.now(UTC))
    metric = client.v1.billable_metrics.create(
        name="Compute",
        event_type_filter={"in_values": ["compute"]},
        aggregation_type="SUM",
        aggregation_key="hours",
        group_keys=[["region"]],
    ).data.id
    compute = client.v1.contracts.products.create(
        name="Compute",
        type="USAGE",
        billable_metric_id=metric,
        pricing_group_key=["region"],
        tags=["compute"],
    ).data.id
    card = client.v1.contracts.rate_cards.create(name="Standard").data.id
    client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=card,
        rates=[
            {
                "product_id": compute,
                "entitled": True,
                "rate_type": "FLAT",
                "price": price,
                "starting_at": start,
                "pricing_group_values": {"region": region},
            }
            for region, price in (("us", 100), ("eu", 200))
        ],
    )
    return {
        "start": start,
        "compute": compute,
        "card": card,
        "fixed": client.v1.contracts.products.create(name="Commitment", type="FIXED").data.id,
        "customer": client.v1.customers.create(name="Acme", ingest_aliases=["acme-spec"]).data.id,
    }


def _access(offer, amount: int) -> dict:
    return {
        "schedule_items": [
            {
                "amount": amount,
                "starting_at": offer["start"],
                "ending_before": offer["start"].replace(year=offer["start"].year + 1),
            }
        ]
    }


def _contract(client, offer, **terms) -> str:
    return client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        usage_statement_schedule={"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        **terms,
    ).data.id


def _compute(client, offer, hours: int, region: str) -> None:
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": "acme-spec",
                "event_type": "compute",
                "timestamp": offer["start"].isoformat(),
                "properties": {"hours": hours, "region": region},
            }
        ]
    )


def _draft(client, offer):
    (draft,) = [
        invoice
        for invoice in client.v1.customers.invoices.list(
            customer_id=offer["customer"], status="DRAFT"
        )
        if invoice.type == "USAGE"
    ]
    return draft


def test_a_commit_limited_to_one_region_draws_only_that_regions_usage(client, offer):
    us_only = [{"product_id": offer["compute"], "pricing_group_values": {"region": "us"}}]
    contract = _contract(
        client,
        offer,
        commits=[
            {
                "product_id": offer["fixed"],
                "type": "PREPAID",
                "name": "US compute",
                "priority": 1,
                "access_schedule": _access(offer, 5000),
                "specifiers": us_only,
            }
        ],
        credits=[
            {
                "product_id": offer["fixed"],
                "name": "Tagged",
                "priority": 2,
                "access_schedule": _access(offer, 300),
                "specifiers": [{"product_tags": ["compute"]}, {"product_id": offer["fixed"]}],
            }
        ],
    )
    _compute(client, offer, 10, "us")  # 1000
    _compute(client, offer, 5, "eu")  # 1000

    draft = _draft(client, offer)
    applied = sorted(
        (line.name, line.total)
        for line in draft.line_items
        if line.type == "applied_commit_or_credit"
    )
    # The commit takes all of us (1000 of its 5000) and nothing of eu; the credit 300 of eu.
    assert applied == [("Tagged", -300), ("US compute", -1000)]
    assert draft.total == 700
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (commit,) = shown.commits
    assert [s.to_dict() for s in commit.specifiers] == us_only
    (credit,) = shown.credits
    assert [s.to_dict() for s in credit.specifiers] == [
        {"product_tags": ["compute"]},
        {"product_id": offer["fixed"]},
    ]
    v1 = client.v1.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert [s.to_dict() for s in v1.current.commits[0].specifiers] == us_only


def test_specifiers_on_recurring_and_customer_level_balances(client, offer):
    eu_only = [{"product_id": offer["compute"], "pricing_group_values": {"region": "eu"}}]
    contract = _contract(
        client,
        offer,
        recurring_credits=[
            {
                "product_id": offer["fixed"],
                "access_amount": {"unit_price": 400, "quantity": 1},
                "commit_duration": {"value": 1},
                "priority": 1,
                "starting_at": offer["start"],
                "name": "Monthly EU credit",
                "specifiers": eu_only,
            }
        ],
    )
    commit = client.v1.customers.commits.create(
        customer_id=offer["customer"],
        product_id=offer["fixed"],
        type="PREPAID",
        priority=5,
        access_schedule=_access(offer, 2000),
        specifiers=[{"presentation_group_values": {"team": "a"}}],
    ).data.id
    listed = client.v1.customers.commits.list(customer_id=offer["customer"]).data
    assert [(c.id, [s.to_dict() for s in c.specifiers]) for c in listed] == [
        (commit, [{"presentation_group_values": {"team": "a"}}])
    ]
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (recurring,) = shown.recurring_credits
    assert [s.to_dict() for s in recurring.specifiers] == eu_only
    assert shown.credits  # one made per period, each with the template's specifiers
    for made in shown.credits:
        assert [s.to_dict() for s in made.specifiers] == eu_only

    _compute(client, offer, 10, "us")  # 1000: the EU credit leaves it alone
    _compute(client, offer, 1, "eu")  # 200: drawn by the EU credit
    # The customer-level commit wants team "a", which no usage carries: it draws nothing.
    assert _draft(client, offer).total == 1000


def test_specifiers_edited_and_refused_beside_applicable_products(client, offer):
    contract = _contract(
        client,
        offer,
        commits=[
            {
                "product_id": offer["fixed"],
                "type": "PREPAID",
                "name": "Any compute",
                "access_schedule": _access(offer, 5000),
            }
        ],
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    commit = shown.commits[0].id
    assert shown.commits[0].specifiers is None
    _compute(client, offer, 10, "us")
    _compute(client, offer, 5, "eu")
    assert _draft(client, offer).total == 0

    eu_only = [{"product_id": offer["compute"], "pricing_group_values": {"region": "eu"}}]
    client.v2.contracts.edit_commit(
        commit_id=commit, customer_id=offer["customer"], specifiers=eu_only
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert [s.to_dict() for s in shown.commits[0].specifiers] == eu_only
    assert _draft(client, offer).total == 1000  # the us usage is owed again at once

    with pytest.raises(metronome.BadRequestError) as refused:
        _contract(
            client,
            offer,
            commits=[
                {
                    "product_id": offer["fixed"],
                    "type": "PREPAID",
                    "access_schedule": _access(offer, 100),
                    "applicable_product_ids": [offer["compute"]],
                    "specifiers": eu_only,
                }
            ],
        )
    assert refused.value.body["message"] == (
        "commits[0].specifiers: Cannot be used with applicable_product_ids or "
        "applicable_product_tags; put the product and tags in the specifiers."
    )
    missing = str(uuid.uuid4())
    with pytest.raises(metronome.NotFoundError) as unknown:
        client.v2.contracts.edit(
            contract_id=contract,
            customer_id=offer["customer"],
            add_credits=[
                {
                    "product_id": offer["fixed"],
                    "access_schedule": _access(offer, 100),
                    "specifiers": [{"product_id": missing}],
                }
            ],
        )
    assert unknown.value.body["message"] == f"Product {missing} not found."
