"""Spend trackers and a capped threshold discount through the official SDK, strict validation
on: trackers on contract create, the cap measured by one, a commit's spend_tracker_attributes,
the trackers' accumulated spend on the v1 and v2 reads, and v2 edits adding and archiving
trackers.

By hand: an auto-recharge in cloud credits (40 cents each) recharges to 50 at half price, the
discount capped at 30 credits of discounted purchases in the billing period. Made with nothing
held, it buys 50: 30 at 20 cents (600) and, past the cap, 20 at 40 cents (800): 1400."""

import metronome
import pytest

from tests.compat.test_sdk_threshold_terms import offer  # noqa: F401

PROMO = {
    "alias": "promo",
    "applicable_spend_specifiers": [
        {
            "sources": ["THRESHOLD_RECHARGE"],
            "spend_type": "COMMIT_PURCHASE",
            "discounted": "DISCOUNTED_ONLY",
        }
    ],
    "reset_frequency": "BILLING_PERIOD",
}


@pytest.fixture
def contract(client, offer):  # noqa: F811
    return client.v1.contracts.create(
        customer_id=offer["customer"],
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        spend_trackers=[
            {**PROMO, "credit_type_id": offer["cloud"]},
            {
                "alias": "all_fiat",
                "applicable_spend_specifiers": [
                    {"sources": ["THRESHOLD_RECHARGE", "MANUAL"], "spend_type": "COMMIT_PURCHASE"}
                ],
                "credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
                "reset_frequency": "BILLING_PERIOD",
            },
        ],
        commits=[
            {
                "type": "PREPAID",
                "product_id": offer["fixed"],
                "applicable_product_ids": [offer["fixed"]],
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 250,
                            "starting_at": offer["start"],
                            "ending_before": offer["start"].replace(year=offer["start"].year + 1),
                        }
                    ]
                },
                "invoice_schedule": {
                    "schedule_items": [{"timestamp": offer["start"], "amount": 250}]
                },
                "spend_tracker_attributes": {"counts_as_discounted": False},
            }
        ],
        prepaid_balance_threshold_configuration={
            "commit": {"product_id": offer["fixed"], "name": "Top-up"},
            "is_enabled": True,
            "payment_gate_config": {"payment_gate_type": "NONE"},
            "threshold_amount": 10,
            "recharge_to_amount": 50,
            "custom_credit_type_id": offer["cloud"],
            "discount_configuration": {
                "payment_fraction": 0.5,
                "cap": {"amount": 30, "spend_tracker_alias": "promo"},
            },
        },
    ).data.id


def test_a_capped_discount_is_split_at_its_cap_and_the_trackers_show_it(client, offer, contract):  # noqa: F811
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    cap = shown.prepaid_balance_threshold_configuration.discount_configuration.cap
    assert (cap.amount, cap.spend_tracker_alias) == (30, "promo")
    trackers = {t.alias: t for t in shown.spend_trackers}
    assert trackers["promo"].accumulated_spend.amount == 30
    assert trackers["promo"].accumulated_spend.period_starting_at == offer["start"]
    assert trackers["promo"].applicable_spend_specifiers[0].discounted == "DISCOUNTED_ONLY"
    assert trackers["all_fiat"].accumulated_spend.amount == 250
    (manual,) = [c for c in shown.commits if c.name != "Top-up"]
    assert manual.spend_tracker_attributes.counts_as_discounted is False
    v1 = client.v1.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert {t.alias: t.accumulated_spend.amount for t in v1.spend_trackers} == {
        "promo": 30,
        "all_fiat": 250,
    }
    (purchase,) = [
        invoice
        for invoice in client.v1.customers.invoices.list(
            customer_id=offer["customer"], status="DRAFT"
        )
        if invoice.type == "SCHEDULED" and invoice.total != 250
    ]
    lines = sorted(
        (line.type, line.quantity, line.unit_price, line.total) for line in purchase.line_items
    )
    assert lines == [("commit_purchase", 20, 40, 800), ("commit_purchase", 30, 20, 600)]
    assert purchase.total == 1400


def test_edits_add_and_archive_trackers(client, offer, contract):  # noqa: F811
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v2.contracts.edit(
            contract_id=contract, customer_id=offer["customer"], archive_spend_trackers=["promo"]
        )
    assert refused.value.body["message"] == (
        "archive_spend_trackers[0]: The discount cap of prepaid_balance_threshold_configuration "
        "is measured by 'promo'; change it first."
    )
    client.v2.contracts.edit(
        contract_id=contract,
        customer_id=offer["customer"],
        add_spend_trackers=[{**PROMO, "alias": "promo_2", "credit_type_id": offer["cloud"]}],
        update_prepaid_balance_threshold_configuration={
            "discount_configuration": {"cap": {"amount": 60, "spend_tracker_alias": "promo_2"}}
        },
        archive_spend_trackers=["all_fiat"],
    )
    client.v2.contracts.edit(
        contract_id=contract, customer_id=offer["customer"], archive_spend_trackers=["promo"]
    )
    shown = client.v2.contracts.retrieve(contract_id=contract, customer_id=offer["customer"]).data
    assert [t.alias for t in shown.spend_trackers] == ["promo_2"]
    discount = shown.prepaid_balance_threshold_configuration.discount_configuration
    assert (discount.payment_fraction, discount.cap.spend_tracker_alias) == (0.5, "promo_2")
    # The new tracker counts the month's discounted purchases too: the 30 bought before it.
    assert shown.spend_trackers[0].accumulated_spend.amount == 30


def test_a_package_cap_is_measured_by_one_of_its_spend_trackers(client, offer):  # noqa: F811
    threshold = {
        "commit": {"product_id": offer["fixed"]},
        "is_enabled": True,
        "payment_gate_config": {"payment_gate_type": "NONE"},
        "threshold_amount": 1000,
        "discount_configuration": {
            "payment_fraction": 0.9,
            "cap": {"amount": 5000, "spend_tracker_alias": "monthly"},
        },
    }
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Capped", rate_card_id=offer["card"], spend_threshold_configuration=threshold
        )
    assert refused.value.body["message"] == (
        "spend_threshold_configuration.discount_configuration.cap.spend_tracker_alias: The "
        "package has no spend tracker 'monthly'; add it (spend_trackers)."
    )
    with pytest.raises(metronome.BadRequestError) as refused:
        client.v1.packages.create(
            name="Capped",
            rate_card_id=offer["card"],
            spend_threshold_configuration=threshold,
            spend_trackers=[{**PROMO, "alias": "monthly", "credit_type_id": offer["cloud"]}],
        )
    assert refused.value.body["message"] == (
        "spend_threshold_configuration.discount_configuration.cap.spend_tracker_alias: The "
        "spend tracker 'monthly' counts another pricing unit than the threshold buys in."
    )


def _drafts(client, customer) -> list[tuple]:
    found = []
    for invoice in client.v1.customers.invoices.list(customer_id=customer, status="DRAFT"):
        lines = sorted(
            (line.name, line.type, line.quantity, line.unit_price, line.total)
            for line in invoice.line_items
        )
        found.append((invoice.type, invoice.start_timestamp, lines, invoice.total))
    return sorted(found, key=lambda row: (row[0], row[1]))


def test_a_contract_from_a_package_with_spend_trackers_bills_as_the_same_terms_given_directly(
    client,
    offer,  # noqa: F811
    contract,
):
    """The contract fixture's trackers and capped auto-recharge, as a package (no commit: a
    package's commits have no spend_tracker_attributes). Made with nothing held, each buys 50
    cloud credits: 30 at 20 cents (600), 20 past the cap at 40 cents (800)."""
    trackers = [
        {**PROMO, "credit_type_id": offer["cloud"]},
        {
            "alias": "all_fiat",
            "applicable_spend_specifiers": [
                {"sources": ["THRESHOLD_RECHARGE", "MANUAL"], "spend_type": "COMMIT_PURCHASE"}
            ],
            "credit_type_id": "2714e483-4ff1-48e4-9e25-ac732e8f24f2",
            "reset_frequency": "BILLING_PERIOD",
        },
    ]
    recharge = client.v1.contracts.retrieve(
        contract_id=contract, customer_id=offer["customer"]
    ).data.prepaid_balance_threshold_configuration.to_dict()
    recharge["commit"] = {"product_id": offer["fixed"], "name": "Top-up"}
    package = client.v1.packages.create(
        name="Capped",
        rate_card_id=offer["card"],
        spend_trackers=trackers,
        prepaid_balance_threshold_configuration=recharge,
    ).data.id
    shown = client.v1.packages.retrieve(package_id=package).data
    assert [t.to_dict() for t in shown.spend_trackers] == trackers
    assert shown.prepaid_balance_threshold_configuration.discount_configuration.cap.to_dict() == {
        "amount": 30,
        "spend_tracker_alias": "promo",
    }
    (listed,) = [p for p in client.v1.packages.list() if p.id == package]
    assert [t.alias for t in listed.spend_trackers] == ["promo", "all_fiat"]

    from_package = client.v1.customers.create(name="From package").data.id
    direct = client.v1.customers.create(name="Direct").data.id
    made = client.v1.contracts.create(
        customer_id=from_package, package_id=package, starting_at=offer["start"]
    ).data.id
    client.v1.contracts.create(
        customer_id=direct,
        rate_card_id=offer["card"],
        starting_at=offer["start"],
        spend_trackers=trackers,
        prepaid_balance_threshold_configuration=recharge,
    )

    assert _drafts(client, from_package) == _drafts(client, direct)
    (purchase,) = [row for row in _drafts(client, from_package) if row[0] == "SCHEDULED"]
    assert sorted((line[2], line[3], line[4]) for line in purchase[2]) == [
        (20, 40, 800),
        (30, 20, 600),
    ]
    assert purchase[3] == 1400
    got = client.v2.contracts.retrieve(contract_id=made, customer_id=from_package).data
    assert {t.alias: t.accumulated_spend.amount for t in got.spend_trackers} == {
        "promo": 30,
        "all_fiat": 0,
    }
