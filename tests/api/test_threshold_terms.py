"""Threshold billing's further terms through the API: a discount (the commit bought is invoiced
at `payment_fraction` of its amount, its access keeps the whole amount), an auto-recharge in a
custom pricing unit (threshold, recharge and commit in that unit, the invoice in fiat at the rate
card's conversion), threshold balance specifiers (balances with given custom fields are not
watched), and threshold commits limited by specifiers."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Commit, Contract
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.threshold_billing import contract_thresholds_check
from tests.api.conftest import data, error
from tests.catalog.factories import (
    BillableMetricFactory,
    CreditTypeConversionFactory,
    PricingUnitFactory,
    ProductFactory,
    RateCardFactory,
    RateFactory,
)
from tests.customers.factories import CustomerFactory
from tests.invoicing.factories import ingest


@pytest.fixture
def world(db):
    """Tokens at 2 cents each, or (on the cloud card) 1 cloud credit each, a cloud credit worth
    40 cents on that card."""
    metric = BillableMetricFactory(
        aggregation_type="SUM",
        aggregation_key="num_tokens",
        event_type_filter={"in_values": ["tokens_usage"]},
        group_keys=[],
    )
    tokens = ProductFactory(name="Tokens", billable_metric=metric)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    card = RateCardFactory()
    RateFactory(rate_card=card, product=tokens, price=Decimal(2), starting_at=start)
    cloud = PricingUnitFactory(name="Cloud credits", decimal_places=2)
    cloud_card = RateCardFactory(name="Cloud")
    CreditTypeConversionFactory(
        rate_card=cloud_card, custom_credit_type=cloud, fiat_per_custom_credit=Decimal(40)
    )
    RateFactory(
        rate_card=cloud_card, product=tokens, price=Decimal(1), starting_at=start, credit_type=cloud
    )
    return {
        "customer": CustomerFactory(),
        "card": card,
        "cloud_card": cloud_card,
        "cloud": cloud,
        "tokens": tokens,
        "fixed": ProductFactory(fixed=True, name="Top-up"),
    }


def _start():
    return timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _create(post, world, card="card", **config):
    return post(
        "/v1/contracts/create",
        {
            "customer_id": str(world["customer"].pk),
            "rate_card_id": str(world[card].pk),
            "starting_at": _start().isoformat(),
            **config,
        },
    )


def _threshold(world, **extra) -> dict:
    return {
        "commit": {"product_id": str(world["fixed"].pk), "name": "Top-up"},
        "is_enabled": True,
        "payment_gate_config": {"payment_gate_type": "NONE"},
        **extra,
    }


def _tokens(world, count: int, n: int, at) -> None:
    ingest(
        [
            {
                "transaction_id": f"t{n}",
                "customer_id": str(world["customer"].pk),
                "event_type": "tokens_usage",
                "timestamp": at.isoformat(),
                "properties": {"num_tokens": str(count)},
            }
        ],
        now=timezone.now(),
    )


def _purchase_lines(contract_id) -> list[tuple]:
    lines = []
    for invoice in Invoice.objects.filter(contract_id=contract_id, type="SCHEDULED"):
        view = invoice_view(invoice=invoice)
        lines += [(line.type, line.quantity, line.unit_price, line.total) for line in view.lines]
    return lines


def test_a_discounted_recharge_costs_its_payment_fraction_and_grants_the_whole_amount(post, world):
    contract_id = data(
        _create(
            post,
            world,
            prepaid_balance_threshold_configuration=_threshold(
                world,
                threshold_amount=50,
                recharge_to_amount=100,
                discount_configuration={"payment_fraction": 0.8},
            ),
        )
    )["id"]
    (bought,) = Commit.objects.filter(contract_id=contract_id, threshold_kind="PREPAID_BALANCE")
    # Recharging 100 costs 80.00 on the invoice; the commit's access amount stays 100.
    assert [s.amount for s in bought.access_schedule.all()] == [Decimal(100)]
    assert _purchase_lines(contract_id) == [
        ("commit_purchase", Decimal(100), Decimal("0.8"), Decimal(80))
    ]
    shown = data(
        post(
            "/v2/contracts/get",
            {"contract_id": contract_id, "customer_id": str(world["customer"].pk)},
        )
    )["prepaid_balance_threshold_configuration"]
    assert shown["discount_configuration"] == {"payment_fraction": 0.8}


def test_a_discounted_spend_threshold_bills_its_fraction(post, world):
    contract_id = data(
        _create(
            post,
            world,
            spend_threshold_configuration=_threshold(
                world, threshold_amount=1000, discount_configuration={"payment_fraction": 0.85}
            ),
        )
    )["id"]
    _tokens(world, 1250, 1, timezone.now())  # 2500 owed: two whole thresholds, 2000
    bought = contract_thresholds_check(
        contract=Contract.objects.get(pk=contract_id), now=timezone.now()
    )
    assert [[s.amount for s in c.access_schedule.all()] for c in bought] == [[Decimal(2000)]]
    assert _purchase_lines(contract_id) == [
        ("commit_purchase", Decimal(2000), Decimal("0.85"), Decimal(1700))
    ]


def test_an_auto_recharge_in_a_custom_unit_is_invoiced_in_fiat_at_the_cards_rate(post, world):
    contract_id = data(
        _create(
            post,
            world,
            card="cloud_card",
            prepaid_balance_threshold_configuration=_threshold(
                world,
                threshold_amount=10,
                recharge_to_amount=50,
                custom_credit_type_id=str(world["cloud"].pk),
            ),
        )
    )["id"]
    (first,) = Commit.objects.filter(contract_id=contract_id, threshold_kind="PREPAID_BALANCE")
    assert first.credit_type_id == world["cloud"].pk
    assert [s.amount for s in first.access_schedule.all()] == [Decimal(50)]
    # 50 cloud credits at 40 cents each: 2000 cents on the purchase invoice.
    assert _purchase_lines(contract_id) == [
        ("commit_purchase", Decimal(50), Decimal(40), Decimal(2000))
    ]
    # 45 tokens at 1 credit: 5 credits left, under 10: 45 more credits, 1800 cents.
    _tokens(world, 45, 1, first.access_schedule.get().starting_at)
    contract = Contract.objects.get(pk=contract_id)
    (second,) = contract_thresholds_check(contract=contract, now=timezone.now())
    assert [s.amount for s in second.access_schedule.all()] == [Decimal(45)]
    assert sorted(_purchase_lines(contract_id)) == [
        ("commit_purchase", Decimal(45), Decimal(40), Decimal(1800)),
        ("commit_purchase", Decimal(50), Decimal(40), Decimal(2000)),
    ]
    # The usage draws the custom-unit commits: nothing is converted to fiat on the draft.
    draft = Invoice.objects.get(contract_id=contract_id, type="USAGE", status="DRAFT")
    assert invoice_view(invoice=draft).total == Decimal(0)
    shown = data(
        post(
            "/v2/contracts/get",
            {"contract_id": contract_id, "customer_id": str(world["customer"].pk)},
        )
    )["prepaid_balance_threshold_configuration"]
    assert shown["custom_credit_type_id"] == str(world["cloud"].pk)


def test_threshold_balance_specifiers_leave_balances_with_those_custom_fields_unwatched(
    post, world
):
    customer = str(world["customer"].pk)
    added = post(
        "/v1/customFields/addKey",
        {"entity": "contract_credit", "key": "kind", "enforce_uniqueness": False},
    )
    assert added.status_code == 200, added.content
    start = _start()
    exclude = [
        {
            "exclude": [
                {
                    "custom_field_filters": [
                        {"entity": "ContractCredit", "key": "kind", "value": "promo"}
                    ]
                }
            ]
        }
    ]
    contract_id = data(
        _create(
            post,
            world,
            credits=[
                {
                    "product_id": str(world["fixed"].pk),
                    "name": "Promotion",
                    "access_schedule": {
                        "schedule_items": [
                            {
                                "amount": 10000,
                                "starting_at": start.isoformat(),
                                "ending_before": start.replace(year=start.year + 1).isoformat(),
                            }
                        ]
                    },
                }
            ],
            prepaid_balance_threshold_configuration=_threshold(
                world,
                threshold_amount=1000,
                recharge_to_amount=5000,
                threshold_balance_specifiers=exclude,
            ),
        )
    )["id"]
    # The promotion (10000) is watched until it is marked as one: nothing bought yet.
    assert not Commit.objects.filter(contract_id=contract_id).exists()
    (credit,) = data(
        post("/v2/contracts/get", {"contract_id": contract_id, "customer_id": customer})
    )["credits"]
    marked = post(
        "/v1/customFields/setValues",
        {
            "entity": "contract_credit",
            "entity_id": credit["id"],
            "custom_fields": {"kind": "promo"},
        },
    )
    assert marked.status_code == 200, marked.content
    contract = Contract.objects.get(pk=contract_id)
    (bought,) = contract_thresholds_check(contract=contract, now=timezone.now())
    assert [s.amount for s in bought.access_schedule.all()] == [Decimal(5000)]
    shown = data(post("/v2/contracts/get", {"contract_id": contract_id, "customer_id": customer}))
    assert shown["prepaid_balance_threshold_configuration"]["threshold_balance_specifiers"] == (
        exclude
    )


def test_a_threshold_commit_limited_by_specifiers_is_bought_with_them(post, world):
    specifiers = [{"product_id": str(world["tokens"].pk)}]
    config = _threshold(world, threshold_amount=1000, recharge_to_amount=5000)
    config["commit"]["specifiers"] = specifiers
    contract_id = data(_create(post, world, prepaid_balance_threshold_configuration=config))["id"]
    (bought,) = Commit.objects.filter(contract_id=contract_id)
    assert bought.specifiers == specifiers
    ref = {"contract_id": contract_id, "customer_id": str(world["customer"].pk)}
    shown = data(post("/v2/contracts/get", ref))
    assert shown["prepaid_balance_threshold_configuration"]["commit"]["specifiers"] == specifiers
    assert shown["commits"][0]["specifiers"] == specifiers


def test_threshold_terms_edited_and_cleared(post, world):
    contract_id = data(
        _create(
            post,
            world,
            prepaid_balance_threshold_configuration=_threshold(
                world,
                threshold_amount=50,
                recharge_to_amount=100,
                is_enabled=False,
                discount_configuration={"payment_fraction": 0.8},
            ),
        )
    )["id"]
    ref = {"contract_id": contract_id, "customer_id": str(world["customer"].pk)}

    def shown():
        return data(post("/v2/contracts/get", ref))["prepaid_balance_threshold_configuration"]

    exclude = [
        {"exclude": [{"custom_field_filters": [{"entity": "Commit", "key": "k", "value": "v"}]}]}
    ]
    specifiers = [{"product_tags": ["ai"]}]
    edit = {
        "discount_configuration": {"payment_fraction": 0.5},
        "threshold_balance_specifiers": exclude,
        "commit": {"specifiers": specifiers},
    }
    assert (
        post(
            "/v2/contracts/edit", {**ref, "update_prepaid_balance_threshold_configuration": edit}
        ).status_code
        == 200
    )
    got = shown()
    assert got["discount_configuration"] == {"payment_fraction": 0.5}
    assert got["threshold_balance_specifiers"] == exclude
    assert got["commit"]["specifiers"] == specifiers
    clear = {
        "discount_configuration": None,
        "threshold_balance_specifiers": None,
        "commit": {"specifiers": None},
    }
    post("/v2/contracts/edit", {**ref, "update_prepaid_balance_threshold_configuration": clear})
    got = shown()
    assert "discount_configuration" not in got
    assert "threshold_balance_specifiers" not in got
    assert "specifiers" not in got["commit"]


def test_threshold_term_errors(post, world):
    where = "prepaid_balance_threshold_configuration"
    capped = _threshold(
        world,
        threshold_amount=50,
        recharge_to_amount=100,
        discount_configuration={
            "payment_fraction": 0.8,
            "cap": {"amount": 1000, "spend_tracker_alias": "x"},
        },
    )
    assert error(_create(post, world, **{where: capped}), 400) == (
        f"{where}.discount_configuration.cap.spend_tracker_alias: The contract has no spend "
        "tracker 'x'; add it (spend_trackers)."
    )
    too_much = _threshold(
        world,
        threshold_amount=50,
        recharge_to_amount=100,
        discount_configuration={"payment_fraction": 1.5},
    )
    assert error(_create(post, world, **{where: too_much}), 400).startswith(
        f"{where}.discount_configuration.payment_fraction:"
    )
    in_cloud = _threshold(
        world,
        threshold_amount=10,
        recharge_to_amount=50,
        custom_credit_type_id=str(world["cloud"].pk),
    )
    assert error(_create(post, world, **{where: in_cloud}), 400) == (
        f"{where}.custom_credit_type_id: The rate card has no conversion for Cloud credits; add "
        "one first (credit_type_conversions)."
    )
    in_fiat = {**in_cloud, "custom_credit_type_id": str(world["card"].fiat_credit_type_id)}
    assert error(_create(post, world, card="cloud_card", **{where: in_fiat}), 400) == (
        f"{where}.custom_credit_type_id: Give a custom pricing unit; without one the threshold "
        "is in the contract's currency."
    )
    both = _threshold(world, threshold_amount=50, recharge_to_amount=100)
    both["commit"]["applicable_product_tags"] = ["ai"]
    both["commit"]["specifiers"] = [{"product_tags": ["ai"]}]
    assert error(_create(post, world, **{where: both}), 400) == (
        f"{where}.commit.specifiers: Cannot be used with applicable_product_ids or "
        "applicable_product_tags; put the product and tags in the specifiers."
    )
    unfiltered = _threshold(
        world,
        threshold_amount=50,
        recharge_to_amount=100,
        threshold_balance_specifiers=[{"exclude": [{"custom_field_filters": []}]}],
    )
    assert error(_create(post, world, **{where: unfiltered}), 400).startswith(
        f"{where}.threshold_balance_specifiers[0].exclude[0].custom_field_filters:"
    )
