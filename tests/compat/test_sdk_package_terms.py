"""A package carries every contract term the SDK's package shape has: recurring commits and
credits, threshold billing (with its commit's priority, rate type and rollover), commit and
credit specifiers, scheduled charges on usage invoices. Through the official SDK, strict
validation on: the package round trips (create, retrieve, list), and a contract made from it
equals, invoice line for line and to the cent, the same contract given the terms directly."""

from datetime import UTC, datetime

import metronome
import pytest

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


def _offset(unit: str = "DAYS", value: int = 0) -> dict:
    return {"unit": unit, "value": value}


@pytest.fixture
def offer(client):
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    metric = client.v1.billable_metrics.create(
        name="Calls",
        event_type_filter={"in_values": ["api_call"]},
        aggregation_type="SUM",
        aggregation_key="n",
    ).data.id
    calls = client.v1.contracts.products.create(
        name="API calls", type="USAGE", billable_metric_id=metric
    ).data.id
    card = client.v1.contracts.rate_cards.create(name="Standard").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=calls,
        entitled=True,
        rate_type="FLAT",
        price=2,
        starting_at=start,
    )

    def fixed(name):
        return client.v1.contracts.products.create(name=name, type="FIXED").data.id

    return {
        "start": start,
        "calls": calls,
        "card": card,
        "commit": fixed("Commitment"),
        "credit": fixed("Monthly credit"),
        "top_up": fixed("Top-up"),
        "training": client.v1.contracts.products.create(
            name="Training", type="PRO_SERVICE"
        ).data.id,
    }


def _threshold(offer) -> dict:
    return {
        "commit": {
            "product_id": offer["top_up"],
            "name": "Top-up",
            "priority": 10,
            "rate_type": "LIST_RATE",
            "rollover_fraction": 0.5,
            "duration": {"unit": "MONTHS", "value": 3},
        },
        "is_enabled": True,
        "payment_gate_config": {"payment_gate_type": "NONE"},
        "threshold_amount": 2000,
        "recharge_to_amount": 2500,
    }


def _package_terms(offer) -> dict:
    """Usage 1500 calls at 2 = 3000. Drawn by priority: the monthly credit (1) 500, the
    recurring commit (2) 1000, the prepaid commit for calls (3) 300; at creation these held
    1800, below the auto-recharge's 2000, so it bought 2500 - 1800 = 700 (priority 10), drawn
    last. 3000 - 2500 = 500 owed."""
    return {
        "commits": [
            {
                "product_id": offer["commit"],
                "type": "PREPAID",
                "name": "Calls commitment",
                "priority": 3,
                "specifiers": [{"product_id": offer["calls"]}],
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 300,
                            "starting_at_offset": _offset(),
                            "duration": _offset("YEARS", 1),
                        }
                    ]
                },
            }
        ],
        "recurring_commits": [
            {
                "product_id": offer["commit"],
                "name": "Monthly commitment",
                "priority": 2,
                "access_amount": {"unit_price": 1000, "quantity": 1, "credit_type_id": USD},
                "invoice_amount": {"unit_price": 900, "quantity": 1, "credit_type_id": USD},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "starting_at_offset": _offset(),
                "duration": _offset("YEARS", 1),
                "proration": "NONE",
                "rollover_fraction": 0.25,
            }
        ],
        "recurring_credits": [
            {
                "product_id": offer["credit"],
                "name": "Monthly credit",
                "priority": 1,
                "access_amount": {"unit_price": 500, "quantity": 1},
                "commit_duration": {"value": 1},
                "starting_at_offset": _offset(),
                "proration": "NONE",
                "specifiers": [{"product_id": offer["calls"]}],
            }
        ],
        "prepaid_balance_threshold_configuration": _threshold(offer),
    }


def _dated(offer) -> dict:
    """The package's terms as a contract's own, dated from the contract's start."""
    start = offer["start"]
    year_later = start.replace(year=start.year + 1)
    terms = _package_terms(offer)
    (commit,) = terms["commits"]
    commit["access_schedule"] = {
        "schedule_items": [{"amount": 300, "starting_at": start, "ending_before": year_later}]
    }
    for key in ("recurring_commits", "recurring_credits"):
        for term in terms[key]:
            term.pop("starting_at_offset")
            term["starting_at"] = start
            if term.pop("duration", None):
                term["ending_before"] = year_later
    return {**terms, "ending_before": year_later}


def _customer(client, alias: str) -> str:
    return client.v1.customers.create(name=alias, ingest_aliases=[alias]).data.id


def _invoices(client, customer) -> list[tuple]:
    found = []
    for invoice in client.v1.customers.invoices.list(customer_id=customer, status="DRAFT"):
        lines = sorted(
            (line.name, line.type, line.quantity, line.unit_price, line.total)
            for line in invoice.line_items
        )
        found.append(
            (invoice.type, invoice.start_timestamp, lines, invoice.subtotal, invoice.total)
        )
    return sorted(found, key=lambda row: (row[0], row[1]))


def test_a_package_round_trips_every_term(client, offer):
    package = client.v1.packages.create(
        name="Growth",
        rate_card_id=offer["card"],
        duration={"unit": "YEARS", "value": 1},
        scheduled_charges_on_usage_invoices="ALL",
        spend_threshold_configuration={
            "commit": {"product_id": offer["top_up"], "priority": 4},
            "is_enabled": False,
            "payment_gate_config": {"payment_gate_type": "NONE"},
            "threshold_amount": 10000,
        },
        **_package_terms(offer),
    ).data.id

    shown = client.v1.packages.retrieve(package_id=package).data
    (commit,) = shown.commits
    assert [s.to_dict() for s in commit.specifiers] == [{"product_id": offer["calls"]}]
    (recurring,) = shown.recurring_commits
    assert recurring.product.id == offer["commit"]
    assert recurring.access_amount.to_dict() == {
        "credit_type_id": USD,
        "unit_price": 1000,
        "quantity": 1,
    }
    assert recurring.invoice_amount.unit_price == 900
    assert (recurring.priority, recurring.rate_type, recurring.proration) == (
        2,
        "LIST_RATE",
        "NONE",
    )
    assert recurring.starting_at_offset.to_dict() == _offset()
    assert recurring.duration.to_dict() == _offset("YEARS", 1)
    assert recurring.rollover_fraction == 0.25
    (credit,) = shown.recurring_credits
    assert credit.access_amount.credit_type_id == USD
    assert [s.to_dict() for s in credit.specifiers] == [{"product_id": offer["calls"]}]
    recharge = shown.prepaid_balance_threshold_configuration
    assert (recharge.threshold_amount, recharge.recharge_to_amount) == (2000, 2500)
    assert recharge.commit.to_dict() == _threshold(offer)["commit"]
    assert shown.spend_threshold_configuration.commit.priority == 4
    assert shown.spend_threshold_configuration.is_enabled is False
    assert shown.scheduled_charges_on_usage_invoices == "ALL"
    (listed,) = [p for p in client.v1.packages.list() if p.id == package]
    assert listed.recurring_commits[0].id == recurring.id


def test_a_contract_from_the_package_bills_as_the_same_terms_given_directly(client, offer):
    package = client.v1.packages.create(
        name="Growth",
        rate_card_id=offer["card"],
        duration={"unit": "YEARS", "value": 1},
        **_package_terms(offer),
    ).data.id
    from_package = _customer(client, "from-package")
    direct = _customer(client, "direct")
    client.v1.contracts.create(
        customer_id=from_package, package_id=package, starting_at=offer["start"]
    )
    client.v1.contracts.create(
        customer_id=direct, rate_card_id=offer["card"], starting_at=offer["start"], **_dated(offer)
    )
    now = datetime.now(UTC)
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"calls-{alias}",
                "customer_id": alias,
                "event_type": "api_call",
                "timestamp": now.isoformat(),
                "properties": {"n": 1500},
            }
            for alias in ("from-package", "direct")
        ]
    )

    made = _invoices(client, from_package)
    assert made == _invoices(client, direct)
    (usage,) = [row for row in made if row[0] == "USAGE"]
    assert usage[2] == sorted(
        [
            ("API calls", "usage", 1500, 2, 3000),
            ("Calls commitment", "applied_commit_or_credit", None, None, -300),
            ("Monthly commitment", "applied_commit_or_credit", None, None, -1000),
            ("Monthly credit", "applied_commit_or_credit", None, None, -500),
            ("Top-up", "applied_commit_or_credit", None, None, -700),
        ]
    )
    assert (usage[3], usage[4]) == (3000, 500)
    # This month's purchases (the recurring commit is bought again each month).
    purchases = sorted(
        line for row in made if row[0] == "SCHEDULED" and row[1] <= now for line in row[2]
    )
    assert [(line[0], line[4]) for line in purchases] == [
        ("Monthly commitment", 900),
        ("Top-up", 700),
    ]


def test_bad_package_terms_are_refused_by_field(client, offer):
    terms = _package_terms(offer)
    del terms["recurring_commits"][0]["access_amount"]
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(name="Bad", rate_card_id=offer["card"], **terms)
    assert refused.value.body["message"] == (
        "recurring_commits[0].access_amount: This field is required."
    )

    threshold = _threshold(offer)
    threshold["recharge_to_amount"] = 1000
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=offer["card"],
            prepaid_balance_threshold_configuration=threshold,
        )
    assert refused.value.body["message"] == (
        "prepaid_balance_threshold_configuration.recharge_to_amount: "
        "Must be more than threshold_amount."
    )

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=offer["card"],
            credits=[
                {
                    "product_id": offer["credit"],
                    "applicable_product_ids": [offer["calls"]],
                    "specifiers": [{"product_id": offer["calls"]}],
                    "access_schedule": {
                        "schedule_items": [
                            {
                                "amount": 1,
                                "starting_at_offset": _offset(),
                                "duration": _offset("DAYS", 1),
                            }
                        ]
                    },
                }
            ],
        )
    assert refused.value.body["message"].startswith("credits[0].specifiers: Cannot be used with")

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=offer["card"],
            extra_body={
                "reseller_royalties": [
                    {"reseller_type": "GCP", "fraction": 0.2, "netsuite_reseller_id": "g"}
                ]
            },
        )
    assert refused.value.body["message"] == (
        "reseller_royalties[0].applicable_product_ids: Give applicable_product_ids or "
        "applicable_product_tags (or both)."
    )

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=offer["card"],
            extra_body={
                "professional_services": [
                    {
                        "product_id": offer["commit"],
                        "unit_price": 1,
                        "quantity": 1,
                        "max_amount": 1,
                    }
                ]
            },
        )
    assert refused.value.body["message"] == (
        "professional_services[0].product_id: Professional services use a PRO_SERVICE product."
    )

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=offer["card"],
            spend_trackers=[
                {
                    "alias": "t",
                    "applicable_spend_specifiers": [
                        {"sources": ["MANUAL"], "spend_type": "COMMIT_PURCHASE"}
                    ],
                    "credit_type_id": USD,
                    "reset_frequency": "WEEKLY",
                }
            ],
        )
    assert refused.value.body["message"] == (
        "spend_trackers[0].reset_frequency: 'WEEKLY' is not one of BILLING_PERIOD."
    )


def test_a_stripe_gated_package_needs_the_customers_stripe_configuration(client, offer):
    threshold = _threshold(offer)
    threshold["payment_gate_config"] = {
        "payment_gate_type": "STRIPE",
        "stripe_config": {"payment_type": "INVOICE"},
    }
    package = client.v1.packages.create(
        name="Gated", rate_card_id=offer["card"], prepaid_balance_threshold_configuration=threshold
    ).data.id
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.create(
            customer_id=_customer(client, "no-stripe"),
            package_id=package,
            starting_at=offer["start"],
        )
    assert refused.value.body["message"].startswith(
        "package_id: The package's threshold billing is charged through Stripe"
    )


def _extras(offer, *, dated: bool) -> dict:
    """A discount of 200 two days into the contract, a professional service and an AWS
    royalty (beyond the SDK's package shape: extra fields), with offsets or dated."""
    start = offer["start"]
    when = start.replace(day=3)
    discount_item = (
        {"timestamp": when.isoformat(), "unit_price": 200, "quantity": 1}
        if dated
        else {"date_offset": _offset("DAYS", 2), "unit_price": 200, "quantity": 1}
    )
    royalty = {
        "reseller_type": "AWS",
        "fraction": 0.1,
        "netsuite_reseller_id": "aws-1",
        "applicable_product_tags": ["marketplace"],
    }
    if dated:
        royalty["starting_at"] = start.isoformat()
    else:
        royalty["starting_at_offset"] = _offset()
    return {
        "discounts": [
            {
                "product_id": offer["credit"],
                "name": "Launch discount",
                "schedule": {"schedule_items": [discount_item]},
            }
        ],
        "professional_services": [
            {
                "product_id": offer["training"],
                "unit_price": 15000,
                "quantity": 4,
                "max_amount": 60000,
            }
        ],
        "reseller_royalties": [royalty],
    }


def test_discounts_services_and_royalties_of_a_package_reach_its_contracts(client, offer):
    package = client.v1.packages.create(
        name="Launch",
        rate_card_id=offer["card"],
        extra_body=_extras(offer, dated=False),
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data.to_dict()
    assert shown["discounts"][0]["schedule"]["schedule_items"][0]["date_offset"] == _offset(
        "DAYS", 2
    )
    assert shown["professional_services"][0]["max_amount"] == 60000
    assert shown["reseller_royalties"][0]["fraction"] == 0.1

    from_package = _customer(client, "from-package")
    direct = _customer(client, "direct")
    made = client.v1.contracts.create(
        customer_id=from_package, package_id=package, starting_at=offer["start"]
    ).data.id
    client.v1.contracts.create(
        customer_id=direct,
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        extra_body=_extras(offer, dated=True),
    )
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"calls-{alias}",
                "customer_id": alias,
                "event_type": "api_call",
                "timestamp": datetime.now(UTC).isoformat(),
                "properties": {"n": 150},
            }
            for alias in ("from-package", "direct")
        ]
    )

    invoices = _invoices(client, from_package)
    assert invoices == _invoices(client, direct)
    (usage,) = [row for row in invoices if row[0] == "USAGE"]
    # 150 calls at 2 = 300, less the 200 discount dated in this period: 100.
    assert (usage[3], usage[4]) == (300, 100)
    contract = client.v2.contracts.retrieve(contract_id=made, customer_id=from_package).data
    (service,) = contract.professional_services
    assert (service.unit_price, service.quantity, service.max_amount) == (15000, 4, 60000)
    (royalty,) = contract.reseller_royalties
    assert royalty.reseller_type == "AWS"
    assert royalty.segments[0].fraction == 0.1
    assert royalty.segments[0].starting_at == offer["start"]


def test_a_recurring_schedule_of_a_package_makes_the_contracts_dated_items(client, offer):
    """Beyond the SDK's package shape (an extra field in the schedule): a scheduled charge's
    recurring_schedule with offsets, 1000 each month for three months from the start."""
    recurring = {
        "amount_distribution": "EACH",
        "frequency": "MONTHLY",
        "amount": 1000,
        "starting_at_offset": _offset(),
        "duration": _offset("MONTHS", 3),
    }
    package = client.v1.packages.create(
        name="Support",
        rate_card_id=offer["card"],
        scheduled_charges=[
            {
                "product_id": offer["commit"],
                "name": "Support",
                "schedule": {"recurring_schedule": recurring},
            }
        ],
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data
    assert shown.scheduled_charges[0].schedule.to_dict()["recurring_schedule"] == recurring

    customer = _customer(client, "recurring")
    made = client.v1.contracts.create(
        customer_id=customer, package_id=package, starting_at=offer["start"]
    ).data.id
    (charge,) = client.v2.contracts.retrieve(
        contract_id=made, customer_id=customer
    ).data.scheduled_charges
    start = offer["start"]
    months = [
        start.replace(
            month=(start.month - 1 + n) % 12 + 1, year=start.year + (start.month - 1 + n) // 12
        )
        for n in range(3)
    ]
    assert [(item.timestamp, item.amount) for item in charge.schedule.schedule_items] == [
        (month, 1000) for month in months
    ]

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=offer["card"],
            scheduled_charges=[
                {
                    "product_id": offer["commit"],
                    "schedule": {
                        "recurring_schedule": {**recurring, "amount_distribution": "SOME"}
                    },
                }
            ],
        )
    assert refused.value.body["message"] == (
        "scheduled_charges[0].schedule.recurring_schedule.amount_distribution: 'SOME' is not "
        "one of DIVIDED, DIVIDED_ROUNDED, EACH."
    )


def test_a_recurring_credit_of_a_package_follows_its_subscription(client, offer):
    """A recurring credit of 100 per seat (POOLED) linked, by temporary_id, to the package's
    subscription of 3 seats: each contract made from it gets 300 a month."""
    seats = client.v1.contracts.products.create(name="Seats", type="SUBSCRIPTION").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=offer["card"],
        product_id=seats,
        entitled=True,
        rate_type="SUBSCRIPTION",
        price=1000,
        billing_frequency="MONTHLY",
        starting_at=offer["start"],
    )
    package = client.v1.packages.create(
        name="Per seat",
        rate_card_id=offer["card"],
        subscriptions=[
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": False},
                "subscription_rate": {"product_id": seats, "billing_frequency": "MONTHLY"},
                "initial_quantity": 3,
            }
        ],
        recurring_credits=[
            {
                "product_id": offer["credit"],
                "name": "Seat credit",
                "priority": 1,
                "access_amount": {"unit_price": 100},
                "commit_duration": {"value": 1},
                "starting_at_offset": _offset(),
                "proration": "NONE",
                "subscription_config": {
                    "subscription_id": "seats",
                    "allocation": "POOLED",
                    "apply_seat_increase_config": {"is_prorated": True},
                },
            }
        ],
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data
    assert shown.recurring_credits[0].subscription_config.subscription_template_id == "seats"

    customer = _customer(client, "per-seat")
    made = client.v1.contracts.create(
        customer_id=customer, package_id=package, starting_at=offer["start"]
    ).data.id
    contract = client.v2.contracts.retrieve(contract_id=made, customer_id=customer).data
    (subscription,) = contract.subscriptions
    (recurring,) = contract.recurring_credits
    assert recurring.subscription_config.subscription_id == subscription.id
    this_month = [
        c
        for c in contract.credits
        if c.access_schedule.schedule_items[0].starting_at == offer["start"]
    ]
    assert [c.access_schedule.schedule_items[0].amount for c in this_month] == [300]

    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Bad",
            rate_card_id=offer["card"],
            recurring_credits=[
                {
                    "product_id": offer["credit"],
                    "priority": 1,
                    "access_amount": {"unit_price": 100},
                    "commit_duration": {"value": 1},
                    "starting_at_offset": _offset(),
                    "subscription_config": {
                        "subscription_id": "nope",
                        "apply_seat_increase_config": {"is_prorated": True},
                    },
                }
            ],
        )
    assert refused.value.body["message"] == (
        "recurring_credits[0].subscription_config.subscription_id: Name one of the package's "
        "subscriptions by its temporary_id."
    )
