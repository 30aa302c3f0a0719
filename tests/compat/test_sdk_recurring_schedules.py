"""recurring_schedule on a commit's invoice schedule, a scheduled charge's and a discount's
schedule through the official SDK (strict): the dated items it makes, shown back and invoiced."""

from datetime import timedelta

import metronome
import pytest

from tests.compat import test_sdk_contract_terms as terms

offer = terms.offer


def _month(offer, months: int):
    moment = offer["start"]
    for _ in range(months):
        moment = (moment + timedelta(days=32)).replace(day=1)
    return moment


def test_recurring_schedules_make_dated_items_that_sum_to_the_amount(client, offer):
    quarter = _month(offer, 3)
    contract = terms._contract(
        client,
        offer,
        scheduled_charges=[
            {
                "product_id": offer["fixed"],
                "name": "Platform fee",
                "schedule": {
                    "recurring_schedule": {
                        "amount_distribution": "DIVIDED_ROUNDED",
                        "starting_at": offer["start"],
                        "ending_before": quarter,
                        "frequency": "MONTHLY",
                        "amount": 100000,
                    }
                },
            }
        ],
        commits=[
            {
                "product_id": offer["fixed"],
                "name": "Quarterly commit",
                "type": "PREPAID",
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 30000, "starting_at": offer["start"], "ending_before": quarter}
                    ]
                },
                "invoice_schedule": {
                    "recurring_schedule": {
                        "amount_distribution": "EACH",
                        "starting_at": offer["start"],
                        "ending_before": quarter,
                        "frequency": "MONTHLY",
                        "unit_price": 100,
                        "quantity": 100,
                    }
                },
            }
        ],
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    months = [offer["start"], _month(offer, 1), _month(offer, 2)]
    (charge,) = shown.scheduled_charges
    # $1,000.00 (100000 cents) in three, to the cent: the last takes the cent left over.
    assert [(i.timestamp, i.amount) for i in charge.schedule.schedule_items] == [
        (months[0], 33333),
        (months[1], 33333),
        (months[2], 33334),
    ]
    (commit,) = shown.commits
    assert [
        (i.timestamp, i.unit_price, i.quantity, i.amount)
        for i in commit.invoice_schedule.schedule_items
    ] == [(month, 100, 100, 10000) for month in months]
    purchases = {i.start_timestamp: i.total for i in terms._invoices(client, offer, "SCHEDULED")}
    assert purchases[offer["start"]] == 33333 + 10000


def test_a_recurring_discount_schedule_comes_off_each_month(client, offer):
    contract = terms._contract(
        client,
        offer,
        discounts=[
            {
                "product_id": offer["discount"],
                "name": "Launch discount",
                "schedule": {
                    "recurring_schedule": {
                        "amount_distribution": "EACH",
                        "starting_at": offer["start"],
                        "ending_before": _month(offer, 2),
                        "frequency": "MONTHLY",
                        "amount": 300,
                    }
                },
            }
        ],
    )
    terms._calls(client, offer, 5)
    (draft,) = terms._invoices(client, offer, "USAGE")
    assert terms._lines(draft) == [
        ("discount", "Launch discount", -300),
        ("usage", "API calls", 500),
    ]
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (discount,) = shown.discounts
    assert [i.amount for i in discount.schedule.schedule_items] == [300, 300]


def test_a_recurring_schedule_with_amount_and_unit_price_is_refused(client, offer):
    with pytest.raises(metronome.BadRequestError) as refused:
        terms._contract(
            client,
            offer,
            scheduled_charges=[
                {
                    "product_id": offer["fixed"],
                    "schedule": {
                        "recurring_schedule": {
                            "amount_distribution": "EACH",
                            "starting_at": offer["start"],
                            "ending_before": _month(offer, 1),
                            "frequency": "MONTHLY",
                            "amount": 100,
                            "unit_price": 100,
                        }
                    },
                }
            ],
        )
    assert refused.value.status_code == 400
    assert (
        "scheduled_charges[0].schedule.recurring_schedule.amount" in refused.value.body["message"]
    )


def test_a_daily_recurring_credit_makes_one_credit_a_day(client, offer):
    start = offer["start"]
    end = start + timedelta(days=2, hours=12)
    contract = terms._contract(
        client,
        offer,
        recurring_credits=[
            {
                "product_id": offer["fixed"],
                "name": "Daily credit",
                "priority": 1,
                "starting_at": start,
                "ending_before": end,
                "recurrence_frequency": "DAILY",
                "access_amount": {"credit_type_id": terms.USD, "unit_price": 2400, "quantity": 1},
                "commit_duration": {"value": 1, "unit": "PERIODS"},
                "proration": "FIRST_AND_LAST",
            }
        ],
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (template,) = shown.recurring_credits
    assert template.recurrence_frequency == "DAILY"
    day = timedelta(days=1)
    # Two whole days of 2400, then half of the third (12 of 24 hours): 1200.
    assert sorted(
        (i.starting_at, i.ending_before, i.amount)
        for credit in shown.credits
        for i in credit.access_schedule.schedule_items
    ) == [
        (start, start + day, 2400),
        (start + day, start + 2 * day, 2400),
        (start + 2 * day, start + 3 * day, 1200),
    ]
    # 30 calls (3000) on the first day: only that day's credit covers them.
    terms._calls(client, offer, 30)
    (draft,) = terms._invoices(client, offer, "USAGE")
    assert terms._lines(draft) == [
        ("applied_commit_or_credit", "Daily credit", -2400),
        ("usage", "API calls", 3000),
    ]
    assert draft.total == 600


def test_a_custom_date_schedule_runs_periods_from_the_billing_anchor_date(client, offer):
    # Metronome's example: an anchor on the 10th, the contract from the 1st: the first
    # statement covers the 1st to the 10th, the next ones the 10th to the 10th.
    anchor = offer["start"] + timedelta(days=9)
    contract = client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        usage_statement_schedule={
            "frequency": "MONTHLY",
            "day": "CUSTOM_DATE",
            "billing_anchor_date": anchor,
        },
    ).data.id
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert shown.usage_statement_schedule.billing_anchor_date == anchor
    assert shown.usage_statement_schedule.frequency == "MONTHLY"
    periods = sorted(
        (i.start_timestamp, i.end_timestamp) for i in terms._invoices(client, offer, "USAGE")
    )
    assert periods[0] == (offer["start"], anchor)
    if len(periods) > 1:
        assert periods[1] == (anchor, _month(offer, 1) + timedelta(days=9))


def test_custom_date_without_an_anchor_is_refused(client, offer):
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.contracts.create(
            customer_id=offer["customer"],
            rate_card_id=offer["card"],
            starting_at=offer["start"],
            usage_statement_schedule={"frequency": "MONTHLY", "day": "CUSTOM_DATE"},
        )
    assert refused.value.body["message"] == (
        "usage_statement_schedule.billing_anchor_date: Required with the day CUSTOM_DATE."
    )


def test_reseller_royalties_on_amendments_are_stored_and_change_no_invoice(client, offer):
    contract = terms._contract(client, offer)
    terms._calls(client, offer, 5)
    (before,) = terms._invoices(client, offer, "USAGE")
    later = offer["start"] + timedelta(days=10)
    client.v1.contracts.amend(
        contract_id=contract,
        customer_id=offer["customer"],
        starting_at=offer["start"],
        reseller_royalties=[
            {
                "reseller_type": "AWS",
                "fraction": 0.03,
                "netsuite_reseller_id": "aws-reseller",
                "applicable_product_ids": [offer["calls"]],
                "aws_options": {"aws_account_number": "123456789012", "aws_offer_id": "offer-1"},
            }
        ],
    )
    # A second amendment changes the fraction from day 10; the rest is kept from the first.
    client.v1.contracts.amend(
        contract_id=contract,
        customer_id=offer["customer"],
        starting_at=later,
        reseller_royalties=[{"reseller_type": "AWS", "fraction": 0.05}],
    )
    v1 = client.v1.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    first, second = sorted(v1.amendments, key=lambda a: a.starting_at)
    (royalty,) = first.reseller_royalties
    assert (royalty.reseller_type, royalty.fraction, royalty.aws_offer_id) == (
        "AWS",
        0.03,
        "offer-1",
    )
    assert [(r.fraction, r.netsuite_reseller_id) for r in second.reseller_royalties] == [
        (0.05, "aws-reseller")
    ]
    assert [
        (r.fraction, r.starting_at, r.ending_before, r.applicable_product_ids)
        for r in v1.current.reseller_royalties
    ] == [
        (0.03, offer["start"], later, [offer["calls"]]),
        (0.05, later, None, [offer["calls"]]),
    ]
    v2 = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (aws,) = v2.reseller_royalties
    assert aws.reseller_type == "AWS"
    assert [(s.fraction, s.aws_account_number) for s in aws.segments] == [
        (0.03, "123456789012"),
        (0.05, "123456789012"),
    ]
    # The marketplace keeps its share of what it collects: our invoice is unchanged.
    (after,) = terms._invoices(client, offer, "USAGE")
    assert (after.total, terms._lines(after)) == (before.total, terms._lines(before))


def test_a_payment_gated_commit_added_by_an_edit_holds_nothing_until_paid(client, offer):
    from customers.models import PaymentGate
    from invoicing.payment_gates import payment_gate_settle

    contract = terms._contract(client, offer)
    month = _month(offer, 1)
    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        add_commits=[
            {
                "product_id": offer["fixed"],
                "name": "Gated prepay",
                "type": "PREPAID",
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 2000, "starting_at": offer["start"], "ending_before": month}
                    ]
                },
                "invoice_schedule": {
                    "schedule_items": [{"timestamp": offer["start"], "amount": 2000}]
                },
                "payment_gate_config": {"payment_gate_type": "EXTERNAL"},
            }
        ],
    )
    terms._calls(client, offer, 5)
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (commit,) = shown.commits
    assert commit.access_schedule.schedule_items == []
    gate = PaymentGate.objects.get(commit_id=commit.id)
    assert (gate.threshold_kind, gate.status, gate.amount) == ("MANUAL", "PENDING", 2000)
    # Its invoice is final at once (what the integrator collects); the draft is not drawn yet.
    (purchase,) = client.v1.customers.invoices.list(
        customer_id=offer["customer"], status="FINALIZED"
    )
    assert (str(purchase.id), purchase.total) == (str(gate.invoice_id), 2000)
    (draft,) = terms._invoices(client, offer, "USAGE")
    assert draft.total == 500

    payment_gate_settle(gate=gate, outcome="paid", now=offer["start"], by="test")
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert [i.amount for i in shown.commits[0].access_schedule.schedule_items] == [2000]
    (draft,) = terms._invoices(client, offer, "USAGE")
    assert terms._lines(draft) == [
        ("applied_commit_or_credit", "Gated prepay", -500),
        ("usage", "API calls", 500),
    ]


def test_a_gated_commit_needs_one_invoice_item(client, offer):
    contract = terms._contract(client, offer)
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v2.contracts.edit(
            contract_id=contract,
            customer_id=offer["customer"],
            add_commits=[
                {
                    "product_id": offer["fixed"],
                    "type": "PREPAID",
                    "access_schedule": {
                        "schedule_items": [
                            {
                                "amount": 2000,
                                "starting_at": offer["start"],
                                "ending_before": _month(offer, 1),
                            }
                        ]
                    },
                    "payment_gate_config": {"payment_gate_type": "EXTERNAL"},
                }
            ],
        )
    assert refused.value.body["message"] == (
        "add_commits[0].invoice_schedule.schedule_items: A payment-gated commit is invoiced "
        "once: give one schedule item (what is charged)."
    )


def test_recurring_schedules_on_amendments_and_customer_commits(client, offer):
    contract = terms._contract(client, offer)
    quarter = _month(offer, 3)
    recurring = {
        "amount_distribution": "DIVIDED_ROUNDED",
        "starting_at": offer["start"],
        "ending_before": quarter,
        "frequency": "MONTHLY",
        "amount": 1000,
    }
    client.v1.contracts.amend(
        contract_id=contract,
        customer_id=offer["customer"],
        starting_at=offer["start"],
        scheduled_charges=[
            {"product_id": offer["fixed"], "schedule": {"recurring_schedule": recurring}}
        ],
    )
    client.v1.customers.commits.create(
        customer_id=offer["customer"],
        product_id=offer["fixed"],
        priority=1,
        type="PREPAID",
        name="Customer prepay",
        invoice_contract_id=contract,
        access_schedule={
            "schedule_items": [
                {"amount": 1000, "starting_at": offer["start"], "ending_before": quarter}
            ]
        },
        invoice_schedule={"recurring_schedule": {**recurring, "amount_distribution": "DIVIDED"}},
    )
    v1 = client.v1.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (amendment,) = v1.amendments
    (charge,) = amendment.scheduled_charges
    assert [i.amount for i in charge.schedule.schedule_items] == [333, 333, 334]
    (commit,) = client.v1.customers.commits.list(customer_id=offer["customer"]).data
    assert [i.amount for i in commit.invoice_schedule.schedule_items] == [
        333.333333333333,
        333.333333333333,
        333.333333333334,
    ]


def test_reseller_royalties_on_create_and_on_edits(client, offer):
    contract = terms._contract(
        client,
        offer,
        reseller_royalties=[
            {
                "reseller_type": "GCP",
                "fraction": 0.2,
                "netsuite_reseller_id": "gcp-reseller",
                "starting_at": offer["start"],
                "applicable_product_tags": ["cloud"],
                "gcp_options": {"gcp_account_id": "acct-9"},
            }
        ],
    )
    later = offer["start"] + timedelta(days=3)
    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        add_reseller_royalties=[{"reseller_type": "GCP", "fraction": 0.1, "starting_at": later}],
    )
    v1 = client.v1.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert [(r.fraction, r.ending_before) for r in v1.initial.reseller_royalties] == [(0.2, later)]
    assert [(r.fraction, r.gcp_account_id) for r in v1.current.reseller_royalties] == [
        (0.2, "acct-9"),
        (0.1, "acct-9"),
    ]
    (history,) = client.v2.contracts.get_edit_history(
        contract_id=contract, customer_id=offer["customer"]
    ).data
    assert [(r.fraction, r.starting_at) for r in history.add_reseller_royalties] == [(0.1, later)]
    v2 = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    (gcp,) = v2.reseller_royalties
    assert [(s.fraction, s.starting_at, s.ending_before) for s in gcp.segments] == [
        (0.2, offer["start"], later),
        (0.1, later, None),
    ]
