"""Issue 14's contract terms through the official SDK, strict validation on: discounts and
professional services, recurring commits, seat-based subscriptions (seats added, their
histories, per-seat balances) and threshold billing, each with the figures the drafts show."""

import uuid
from datetime import UTC, datetime, timedelta

import metronome
import pytest

from tests.compat.conftest import USD


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def offer(client):
    """This month's contract start, a per-call product at 100, seats at 1000 a month, a
    professional service, a FIXED product for commits and one for discounts."""
    start = _month_start(datetime.now(UTC))
    metric = client.v1.billable_metrics.create(
        name="Calls",
        event_type_filter={"in_values": ["api_call"]},
        aggregation_type="COUNT",
        group_keys=[["user_id"]],
    ).data.id
    calls = client.v1.contracts.products.create(
        name="API calls",
        type="USAGE",
        billable_metric_id=metric,
        presentation_group_key=["user_id"],
    ).data.id
    seats = client.v1.contracts.products.create(name="Seats", type="SUBSCRIPTION").data.id
    card = client.v1.contracts.rate_cards.create(name="Standard").data.id
    client.v1.contracts.rate_cards.rates.add_many(
        rate_card_id=card,
        rates=[
            {
                "product_id": calls,
                "entitled": True,
                "rate_type": "FLAT",
                "price": 100,
                "starting_at": start,
            },
            {
                "product_id": seats,
                "entitled": True,
                "rate_type": "SUBSCRIPTION",
                "price": 1000,
                "billing_frequency": "MONTHLY",
                "starting_at": start,
            },
        ],
    )
    customer = client.v1.customers.create(name="Acme", ingest_aliases=["acme-terms"]).data.id
    return {
        "start": start,
        "calls": calls,
        "seats": seats,
        "service": client.v1.contracts.products.create(
            name="Onboarding", type="PROFESSIONAL_SERVICE"
        ).data.id,
        "fixed": client.v1.contracts.products.create(name="Commitment", type="FIXED").data.id,
        "discount": client.v1.contracts.products.create(name="Discounts", type="FIXED").data.id,
        "card": card,
        "customer": customer,
    }


def _contract(client, offer, **terms) -> str:
    return client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        usage_statement_schedule={"frequency": "MONTHLY", "day": "FIRST_OF_MONTH"},
        **terms,
    ).data.id


def _calls(client, offer, count: int, user: str = "u1") -> None:
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": str(uuid.uuid4()),
                "customer_id": "acme-terms",
                "event_type": "api_call",
                "timestamp": offer["start"].isoformat(),
                "properties": {"user_id": user},
            }
            for _ in range(count)
        ]
    )


def _invoices(client, offer, kind: str) -> list:
    return [
        invoice
        for invoice in client.v1.customers.invoices.list(
            customer_id=offer["customer"], status="DRAFT"
        )
        if invoice.type == kind
    ]


def _lines(invoice) -> list[tuple]:
    return sorted((line.type, line.name, line.total) for line in invoice.line_items)


def test_discounts_come_off_the_draft_and_pro_services_are_billed_on_their_own(client, offer):
    contract = _contract(
        client,
        offer,
        discounts=[
            {
                "product_id": offer["discount"],
                "name": "Launch discount",
                "schedule": {"schedule_items": [{"timestamp": offer["start"], "amount": 300}]},
            }
        ],
        professional_services=[
            {
                "product_id": offer["service"],
                "unit_price": 15000,
                "quantity": 2,
                "max_amount": 30000,
                "description": "Onboarding",
            }
        ],
    )
    _calls(client, offer, 5)
    (draft,) = _invoices(client, offer, "USAGE")
    assert _lines(draft) == [
        ("discount", "Launch discount", -300),
        ("usage", "API calls", 500),
    ]
    assert (draft.subtotal, draft.total) == (500, 200)

    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (discount,) = shown.discounts
    assert discount.name == "Launch discount" and discount.product.id == offer["discount"]
    assert [i.amount for i in discount.schedule.schedule_items] == [300]
    (service,) = shown.professional_services
    assert (service.unit_price, service.quantity, service.max_amount) == (15000, 2, 30000)

    billed = client.v1.contracts.schedule_pro_services_invoice(
        contract_id=contract,
        customer_id=offer["customer"],
        issued_at=offer["start"],
        line_items=[
            {"professional_service_id": service.id, "quantity": 1},
            {"professional_service_id": service.id, "amount": 10000},
        ],
    )
    (invoice,) = billed.data
    assert invoice.type == "SCHEDULED"
    assert sorted((line.type, line.total) for line in invoice.line_items) == [
        ("professional_service", 10000),
        ("professional_service", 15000),
    ]
    assert invoice.total == 25000
    # 5000 of the 30000 is left: 6000 more is refused, naming the line.
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.schedule_pro_services_invoice(
            contract_id=contract,
            customer_id=offer["customer"],
            issued_at=offer["start"],
            line_items=[{"professional_service_id": service.id, "amount": 6000}],
        )
    assert "line_items[0]" in refused.value.body["message"]
    assert "5000" in refused.value.body["message"]


def test_a_recurring_commit_is_made_for_the_period_invoiced_and_drawn(client, offer):
    contract = _contract(
        client,
        offer,
        recurring_commits=[
            {
                "product_id": offer["fixed"],
                "name": "Monthly commit",
                "priority": 1,
                "starting_at": offer["start"],
                "access_amount": {"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
                "invoice_amount": {"credit_type_id": USD, "unit_price": 1000, "quantity": 1},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "proration": "NONE",
            }
        ],
    )
    _calls(client, offer, 4)
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (template,) = shown.recurring_commits
    assert template.name == "Monthly commit" and template.access_amount.unit_price == 1000
    # This month's commit, and the next one made ahead of its period.
    next_month = _month_start(offer["start"] + timedelta(days=32))
    made = [c for c in shown.commits if c.name == "Monthly commit"]
    assert sorted(
        (i.amount, i.starting_at, i.ending_before)
        for c in made
        for i in c.access_schedule.schedule_items
    ) == [
        (1000, offer["start"], next_month),
        (1000, next_month, _month_start(next_month + timedelta(days=32))),
    ]
    purchases = {i.start_timestamp: _lines(i) for i in _invoices(client, offer, "SCHEDULED")}
    assert purchases[offer["start"]] == [("commit_purchase", "Monthly commit", 1000)]
    (draft,) = _invoices(client, offer, "USAGE")
    assert _lines(draft) == [
        ("applied_commit_or_credit", "Monthly commit", -400),
        ("usage", "API calls", 400),
    ]
    assert draft.total == 0


def test_seats_added_their_histories_and_per_seat_credits(client, offer):
    contract = _contract(
        client,
        offer,
        subscriptions=[
            {
                "temporary_id": "seats",
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": False},
                "subscription_rate": {
                    "product_id": offer["seats"],
                    "billing_frequency": "MONTHLY",
                },
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"seat_group_key": "user_id", "initial_seat_ids": ["u1", "u2"]},
            }
        ],
        recurring_credits=[
            {
                "product_id": offer["fixed"],
                "name": "Seat credit",
                "priority": 1,
                "starting_at": offer["start"],
                "access_amount": {"credit_type_id": USD, "unit_price": 250},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "subscription_config": {
                    "subscription_id": "seats",
                    "allocation": "INDIVIDUAL",
                    "apply_seat_increase_config": {"is_prorated": False},
                },
            }
        ],
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (subscription,) = shown.subscriptions
    assert subscription.quantity_management_mode == "SEAT_BASED"
    # 3 calls by u1 (300): u1's own 250 credit draws 250 of it; u2's credit is untouched.
    _calls(client, offer, 3, user="u1")
    seats = client.v1.contracts.list_seat_balances(
        contract_id=contract, customer_id=offer["customer"]
    ).data
    assert [(s.seat_id, [(b.starting_balance, b.balance) for b in s.balances]) for s in seats] == [
        ("u1", [(250, 0)]),
        ("u2", [(250, 250)]),
    ]

    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        update_subscriptions=[
            {
                "subscription_id": subscription.id,
                "seat_updates": {
                    "add_seat_ids": [{"seat_ids": ["u3"], "starting_at": offer["start"]}]
                },
            }
        ],
    )
    history = client.v1.contracts.get_subscription_seats_history(
        contract_id=contract, customer_id=offer["customer"], subscription_id=subscription.id
    ).data
    assert [(h.starting_at, sorted(h.assigned_seat_ids), h.total_quantity) for h in history] == [
        (offer["start"], ["u1", "u2", "u3"], 3)
    ]
    quantities = client.v1.contracts.retrieve_subscription_quantity_history(
        contract_id=contract, customer_id=offer["customer"], subscription_id=subscription.id
    ).data
    assert [
        (h.starting_at, [(d.quantity, d.unit_price, d.total) for d in h.data])
        for h in quantities.history
    ] == [(offer["start"], [(3, 1000, 3000)])]
    # Seats in advance, 3 x 1000; u1's 300 of calls less its 250 credit.
    (draft,) = _invoices(client, offer, "USAGE")
    assert _lines(draft) == [
        ("applied_commit_or_credit", "Seat credit", -250),
        ("subscription", "Seats", 3000),
        ("usage", "API calls", 300),
    ]
    assert draft.total == 3050
    seats = client.v1.contracts.list_seat_balances(
        contract_id=contract, customer_id=offer["customer"], seat_ids=["u3"]
    ).data
    assert [(s.seat_id, [b.balance for b in s.balances]) for s in seats] == [("u3", [250])]


def test_threshold_billing_on_create_buys_and_shows_its_commit(client, offer):
    contract = _contract(
        client,
        offer,
        prepaid_balance_threshold_configuration={
            "commit": {"product_id": offer["fixed"], "name": "Top-up"},
            "is_enabled": True,
            "payment_gate_config": {"payment_gate_type": "NONE"},
            "threshold_amount": 1000,
            "recharge_to_amount": 5000,
        },
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    config = shown.prepaid_balance_threshold_configuration
    assert (config.threshold_amount, config.recharge_to_amount, config.is_enabled) == (
        1000,
        5000,
        True,
    )
    (bought,) = shown.commits
    assert bought.name == "Top-up" and bought.type == "PREPAID"
    assert [i.amount for i in bought.access_schedule.schedule_items] == [5000]
    (purchase,) = _invoices(client, offer, "SCHEDULED")
    assert _lines(purchase) == [("commit_purchase", "Top-up", 5000)]

    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        update_prepaid_balance_threshold_configuration={"is_enabled": False},
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert shown.prepaid_balance_threshold_configuration.is_enabled is False


def test_payment_gated_threshold_configurations_round_trip(client, offer):
    from customers.models import BillingProviderConfiguration, PaymentGate

    BillingProviderConfiguration.objects.create(
        customer_id=offer["customer"],
        billing_provider="stripe",
        billing_provider_customer_id="cus_Gated",
    )
    stripe_gate = {
        "payment_gate_type": "STRIPE",
        "stripe_config": {"payment_type": "INVOICE", "invoice_metadata": {"po": "PO-7"}},
        "tax_type": "STRIPE",
    }
    external_gate = {
        "payment_gate_type": "EXTERNAL",
        "tax_type": "PRECALCULATED",
        "precalculated_tax_config": {"tax_amount": 80, "tax_name": "VAT"},
    }
    contract = _contract(
        client,
        offer,
        prepaid_balance_threshold_configuration={
            "commit": {"product_id": offer["fixed"], "name": "Top-up"},
            "is_enabled": True,
            "payment_gate_config": stripe_gate,
            "threshold_amount": 1000,
            "recharge_to_amount": 5000,
        },
        spend_threshold_configuration={
            "commit": {"product_id": offer["fixed"], "name": "Spend"},
            "is_enabled": True,
            "payment_gate_config": external_gate,
            "threshold_amount": 2000,
        },
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    prepaid = shown.prepaid_balance_threshold_configuration.payment_gate_config
    assert prepaid.to_dict() == stripe_gate
    spend = shown.spend_threshold_configuration.payment_gate_config
    assert spend.to_dict() == external_gate
    # The recharge was bought behind its gate: invoiced, but nothing usable until paid.
    (bought,) = shown.commits
    assert bought.name == "Top-up"
    assert bought.access_schedule.schedule_items == []
    gate = PaymentGate.objects.get(commit_id=bought.id)
    assert bought.to_dict()["payment_gate"] == {
        "workflow_id": str(gate.pk),
        "payment_gate_type": "STRIPE",
        "status": "PENDING",
        "amount": 5000,
        "invoice_id": str(gate.invoice_id),
    }
    listed = client.v2.contracts.list(customer_id=offer["customer"]).data
    assert [
        c.prepaid_balance_threshold_configuration.payment_gate_config.to_dict() for c in listed
    ] == [stripe_gate]
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v2.contracts.edit(
            contract_id=contract,
            customer_id=offer["customer"],
            update_spend_threshold_configuration={
                "payment_gate_config": {"payment_gate_type": "EXTERNAL", "tax_type": "ANROK"}
            },
        )
    assert refused.value.body["message"].startswith(
        "update_spend_threshold_configuration.payment_gate_config.tax_type: ANROK needs"
    )
