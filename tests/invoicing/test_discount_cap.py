"""A threshold discount's cap, as plain arithmetic (`rating.discount_split`) and what a spend
tracker counts (`customers.spend`): golden values a person can check, and properties where money
could be lost or doubled: the discounted and full-price parts always add up to the purchase, and
over a billing period the discount covers exactly the first `cap` of discounted purchases."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.spend import MANUAL, THRESHOLD_RECHARGE, Spend, threshold_spends, tracked
from invoicing.rating import discount_split

D = Decimal


@pytest.mark.parametrize(
    ("amount", "tracked_before", "cap", "split"),
    [
        ("2000", "700", "3000", ("2000", "0")),  # well under the cap: all discounted
        ("2000", "2700", "3000", ("300", "1700")),  # crosses it: split at the cap
        ("1000", "3000", "3000", ("0", "1000")),  # at the cap: all at full price
        ("1000", "3500", "3000", ("0", "1000")),  # past it (a cap lowered by an edit)
        ("0.75", "2999.5", "3000", ("0.5", "0.25")),  # fractions split exactly
        ("500", "0", "0", ("0", "500")),  # a zero cap: never discounted
    ],
)
def test_a_purchase_is_discounted_up_to_the_cap_and_full_price_above_it(
    amount, tracked_before, cap, split
):
    assert discount_split(amount=D(amount), tracked=D(tracked_before), cap=D(cap)) == (
        D(split[0]),
        D(split[1]),
    )


SPENDS = [
    Spend(THRESHOLD_RECHARGE, True, D(300)),
    Spend(THRESHOLD_RECHARGE, False, D(1700)),
    Spend(MANUAL, True, D(700)),
    Spend(MANUAL, False, D(250)),
]


@pytest.mark.parametrize(
    ("specifiers", "total"),
    [
        ([{"sources": ["THRESHOLD_RECHARGE"], "spend_type": "COMMIT_PURCHASE"}], "2000"),
        ([{"sources": ["MANUAL"], "spend_type": "COMMIT_PURCHASE"}], "950"),
        (
            [
                {
                    "sources": ["THRESHOLD_RECHARGE", "MANUAL"],
                    "spend_type": "COMMIT_PURCHASE",
                    "discounted": "DISCOUNTED_ONLY",
                }
            ],
            "1000",
        ),
        (
            [
                {
                    "sources": ["THRESHOLD_RECHARGE", "MANUAL"],
                    "spend_type": "COMMIT_PURCHASE",
                    "discounted": "UNDISCOUNTED_ONLY",
                }
            ],
            "1950",
        ),
        (
            [
                {"sources": ["THRESHOLD_RECHARGE"], "spend_type": "COMMIT_PURCHASE"},
                {"sources": ["THRESHOLD_RECHARGE", "MANUAL"], "spend_type": "COMMIT_PURCHASE"},
            ],
            "2950",  # a purchase two specifiers apply to counts once
        ),
    ],
)
def test_a_tracker_counts_what_its_specifiers_apply_to(specifiers, total):
    assert tracked(specifiers, SPENDS) == D(total)


amounts = st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False)


@given(amount=amounts, tracked_before=amounts, cap=amounts)
def test_the_two_parts_always_add_up_to_the_purchase(amount, tracked_before, cap):
    discounted, full = discount_split(amount=amount, tracked=tracked_before, cap=cap)
    assert discounted + full == amount
    assert D(0) <= discounted <= amount
    assert tracked_before + discounted <= max(cap, tracked_before)


@given(purchases=st.lists(amounts, max_size=8), cap=amounts)
def test_over_a_period_the_discount_covers_exactly_the_first_cap_of_purchases(purchases, cap):
    discounted_only = [
        {
            "sources": ["THRESHOLD_RECHARGE"],
            "spend_type": "COMMIT_PURCHASE",
            "discounted": "DISCOUNTED_ONLY",
        }
    ]
    spends: list[Spend] = []
    for amount in purchases:
        discounted, _ = discount_split(
            amount=amount, tracked=tracked(discounted_only, spends), cap=cap
        )
        spends += threshold_spends(amount=amount, discounted_amount=discounted)
    total = sum(purchases, D(0))
    undiscounted_only = [{**discounted_only[0], "discounted": "UNDISCOUNTED_ONLY"}]
    assert tracked(discounted_only, spends) == min(total, cap)
    assert tracked(undiscounted_only, spends) == total - min(total, cap)
    assert tracked([{"sources": ["THRESHOLD_RECHARGE"]}], spends) == total


@pytest.mark.django_db
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cents=st.integers(min_value=1, max_value=10**9),
    tracked_cents=st.integers(min_value=0, max_value=10**9),
    cap_cents=st.integers(min_value=0, max_value=10**9),
)
def test_a_split_purchase_is_invoiced_as_exactly_what_was_bought(
    django_db_blocker, cents, tracked_cents, cap_cents
):
    """Through the service that records the purchase: the invoice items' quantities add up to
    the commit bought, the discounted one at the discounted price, and the commit remembers its
    discounted part (what trackers count)."""
    from datetime import UTC, datetime

    from django.db import transaction

    from customers.services import threshold_commit_create
    from tests.catalog.factories import ProductFactory
    from tests.customers.factories import ContractFactory

    amount = D(cents)
    discounted, full = discount_split(amount=amount, tracked=D(tracked_cents), cap=D(cap_cents))
    with django_db_blocker.unblock(), transaction.atomic():
        moment = datetime(2026, 3, 12, tzinfo=UTC)
        commit = threshold_commit_create(
            contract=ContractFactory(),
            kind="SPEND",
            product=ProductFactory(fixed=True),
            amount=amount,
            starting_at=datetime(2026, 3, 1, tzinfo=UTC),
            ending_before=datetime(2026, 4, 1, tzinfo=UTC),
            invoiced_at=moment,
            now=moment,
            invoice_unit_price=D("0.75"),
            discounted_amount=discounted,
        )
        items = list(commit.invoice_schedule.all())
        at_discount = [i.quantity for i in items if i.unit_price == D("0.75")]
        at_full = [i.amount for i in items if i.unit_price is None]
        assert sum(at_discount, D(0)) == discounted
        assert sum(at_full, D(0)) == full
        assert sum(at_discount, D(0)) + sum(at_full, D(0)) == amount
        assert commit.threshold_discounted_amount == discounted
        transaction.set_rollback(True)
