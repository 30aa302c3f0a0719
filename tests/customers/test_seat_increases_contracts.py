"""Seat increases on a contract (the services the API calls, the clock given): a SEAT_BASED
subscription's seats added inside a period top up the recurring commits and credits attached to
it, at once and once; seats removed take nothing back and the next period has fewer; a period
whose usage invoice is finalized never changes. In cents: 100.00 a seat (10000) a month, April
2026 has 30 days, seats added on 11 April have 20 of them left (2 x 10000 x 20/30 = 13333)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from customers import services
from customers.models import Commit, Credit, Subscription
from invoicing.models import Invoice
from invoicing.selectors import invoice_view
from invoicing.services import invoices_finalize_due
from tests.invoicing.factories import CustomerFactory, ProductFactory, RateFactory

pytestmark = pytest.mark.django_db

D = Decimal
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
APR_5 = datetime(2026, 4, 5, tzinfo=UTC)
APR_11 = datetime(2026, 4, 11, tzinfo=UTC)
APR_20 = datetime(2026, 4, 20, 9, 30, tzinfo=UTC)
APR_21 = datetime(2026, 4, 21, tzinfo=UTC)
MAY_1 = datetime(2026, 5, 1, tzinfo=UTC)
MAY_11 = datetime(2026, 5, 11, tzinfo=UTC)
JUL_1 = datetime(2026, 7, 1, tzinfo=UTC)


def _contract(*, kind="CREDIT", allocation="POOLED", prorated=True, seat_ids=(), unassigned=2):
    """April to June; a SEAT_BASED subscription (seats at 0) and a recurring commit or credit of
    10000 a seat a month on it (a commit also invoiced 10000 a seat). Made on 1 April."""
    seats = ProductFactory(type="SUBSCRIPTION", billable_metric=None, name="Seats")
    rate = RateFactory(
        product=seats,
        rate_type="SUBSCRIPTION",
        price=D(0),
        billing_frequency="MONTHLY",
        starting_at=APR_1,
    )
    pool = ProductFactory(type="FIXED", billable_metric=None, name="Pool")
    term = services.RecurringSpec(
        kind=kind,
        product=pool,
        name="Seat pool",
        starting_at=APR_1,
        access_unit_price=D(10000),
        invoice_unit_price=D(10000) if kind == "COMMIT" else None,
        invoice_quantity=D(1) if kind == "COMMIT" else None,
        subscription="seats",
        allocation=allocation,
        prorate_seat_increases=prorated,
    )
    return services.contract_create(
        customer=CustomerFactory(name="Acme"),
        rate_card=rate.rate_card,
        starting_at=APR_1,
        ending_before=JUL_1,
        now=APR_1,
        subscriptions=[
            services.SubscriptionSpec(
                product=seats,
                billing_frequency="MONTHLY",
                quantity_management_mode="SEAT_BASED",
                seat_group_key="user_id",
                initial_seat_ids=list(seat_ids),
                initial_unassigned_seats=D(unassigned),
                temporary_id="seats",
            )
        ],
        **{f"recurring_{kind.lower()}s": [term]},
    )


def _seats(contract, now, **changes) -> None:
    """A v2 edit's update_subscriptions: {add_unassigned_seats: [(at, n)], add_seat_ids:
    [(at, [ids])], ...}."""
    subscription = Subscription.objects.get(contract=contract)
    update = {
        key: [
            {"starting_at": at, "quantity" if "unassigned" in key else "seat_ids": value}
            for at, value in items
        ]
        for key, items in changes.items()
    }
    services.contract_edit(
        contract=contract,
        now=now,
        update_subscriptions=[services.SubscriptionUpdate(id=str(subscription.pk), **update)],
    )


def _balance(contract, start, seat_id="", model=Credit):
    return model.objects.get(contract=contract, recurrence_start=start, seat_id=seat_id)


def _segments(balance) -> list[tuple]:
    return [
        (s.starting_at, s.ending_before, s.amount, s.seats)
        for s in balance.access_schedule.order_by("starting_at", "amount")
    ]


def _invoices(commit) -> list[tuple]:
    return [(i.timestamp, i.amount) for i in commit.invoice_schedule.order_by("timestamp")]


def test_two_seats_added_on_the_11th_add_two_thirds_of_two_seats_to_the_pool():
    contract = _contract()
    _seats(contract, APR_11, add_unassigned_seats=[(APR_11, D(2))])
    assert _segments(_balance(contract, APR_1)) == [
        (APR_1, MAY_1, D(20000), D(2)),
        (APR_11, MAY_1, D(13333), D(2)),  # 333.33 in all
    ]
    # May has not started: it is made again with the four seats.
    assert _segments(_balance(contract, MAY_1)) == [
        (MAY_1, datetime(2026, 6, 1, tzinfo=UTC), D(40000), D(4))
    ]


def test_not_prorated_the_pool_gains_two_whole_seats():
    contract = _contract(prorated=False)
    _seats(contract, APR_11, add_unassigned_seats=[(APR_11, D(2))])
    assert [s[2] for s in _segments(_balance(contract, APR_1))] == [D(20000), D(20000)]  # 400.00


def test_replaying_the_same_seats_and_making_the_balances_again_adds_nothing():
    contract = _contract(seat_ids=["u1", "u2"], unassigned=0)
    for _ in range(2):
        _seats(contract, APR_11, add_seat_ids=[(APR_11, ["u3", "u4"])])
        services.recurring_balances_materialize(contract=contract, now=APR_20)
    assert _segments(_balance(contract, APR_1)) == [
        (APR_1, MAY_1, D(20000), D(2)),
        (APR_11, MAY_1, D(13333), D(2)),
    ]


def test_a_commit_invoices_the_increase_on_its_date_and_the_scheduled_draft_shows_it():
    contract = _contract(kind="COMMIT")
    commit = _balance(contract, APR_1, model=Commit)
    assert _invoices(commit) == [(APR_1, D(20000))]  # 2 seats x 10000
    _seats(contract, APR_11, add_unassigned_seats=[(APR_11, D(2))])
    assert _invoices(commit) == [(APR_1, D(20000)), (APR_11, D(13333))]
    draft = Invoice.objects.get(contract=contract, type="SCHEDULED", start_timestamp=APR_11)
    assert invoice_view(invoice=draft).total == D(13333)


def test_an_increase_recorded_late_is_invoiced_on_the_next_hour_not_in_the_past():
    contract = _contract(kind="COMMIT")
    _seats(contract, APR_20, add_unassigned_seats=[(APR_11, D(2))])
    commit = _balance(contract, APR_1, model=Commit)
    # Access from the 11th (20 days of 30), invoiced when it was recorded (the next hour).
    assert _segments(commit)[1] == (APR_11, MAY_1, D(13333), D(2))
    assert _invoices(commit)[1] == (APR_20.replace(minute=0) + timedelta(hours=1), D(13333))


def test_a_decrease_keeps_this_period_and_the_next_period_has_fewer_seats():
    contract = _contract(unassigned=4)
    _seats(contract, APR_11, remove_unassigned_seats=[(APR_11, D(3))])
    assert _segments(_balance(contract, APR_1)) == [(APR_1, MAY_1, D(40000), D(4))]
    june = datetime(2026, 6, 1, tzinfo=UTC)
    assert _segments(_balance(contract, MAY_1)) == [(MAY_1, june, D(10000), D(1))]
    # Back up to 4 from the 21st: April holds 4 already, May is made again with 4.
    _seats(contract, APR_11, add_unassigned_seats=[(APR_21, D(3))])
    assert _segments(_balance(contract, APR_1)) == [(APR_1, MAY_1, D(40000), D(4))]
    assert _segments(_balance(contract, MAY_1)) == [(MAY_1, june, D(40000), D(4))]


def test_a_scheduled_increase_withdrawn_before_it_starts_leaves_nothing():
    contract = _contract(kind="COMMIT")
    _seats(contract, APR_5, add_unassigned_seats=[(MAY_11, D(2))])
    may = _balance(contract, MAY_1, model=Commit)
    assert [s[2:] for s in _segments(may)] == [(D(20000), D(2)), (D(13548), D(2))]  # 21/31
    assert _invoices(may) == [(MAY_1, D(20000)), (MAY_11, D(13548))]
    _seats(contract, APR_5, remove_unassigned_seats=[(MAY_11, D(2))])
    assert [s[2:] for s in _segments(may)] == [(D(20000), D(2))]
    assert _invoices(may) == [(MAY_1, D(20000))]


def test_a_seat_assigned_mid_period_gets_its_own_prorated_balance_and_keeps_it():
    contract = _contract(kind="COMMIT", allocation="INDIVIDUAL", seat_ids=["u1", "u2"])
    _seats(contract, APR_11, add_seat_ids=[(APR_11, ["u3"])])
    u3 = _balance(contract, APR_1, "u3", model=Commit)
    assert _segments(u3) == [(APR_11, MAY_1, D(6667), D(1))]
    assert _invoices(u3) == [(APR_11, D(6667))]
    # Made for May too (not started); removed from the 21st: April's stays, May's is withdrawn.
    assert _segments(_balance(contract, MAY_1, "u3", model=Commit))[0][2] == D(10000)
    _seats(contract, APR_11, remove_seat_ids=[(APR_21, ["u3"])])
    assert _segments(_balance(contract, APR_1, "u3", model=Commit)) == [
        (APR_11, MAY_1, D(6667), D(1))
    ]
    assert not Commit.objects.filter(contract=contract, recurrence_start=MAY_1, seat_id="u3")


def test_a_finalized_period_never_changes_and_the_next_one_gains_the_seats():
    contract = _contract(kind="COMMIT")
    may_5 = datetime(2026, 5, 5, tzinfo=UTC)
    assert invoices_finalize_due(now=MAY_1 + settings.BILLING_FINALIZATION_GRACE) >= 1
    april = Invoice.objects.get(contract=contract, type="USAGE", start_timestamp=APR_1)
    assert april.status == "FINALIZED"
    frozen = (april.total, list(april.line_items.values_list("type", "total")))
    _seats(contract, may_5, add_unassigned_seats=[(APR_11, D(2))])
    april.refresh_from_db()
    assert (april.total, list(april.line_items.values_list("type", "total"))) == frozen
    assert _segments(_balance(contract, APR_1, model=Commit)) == [(APR_1, MAY_1, D(20000), D(2))]
    # May began with 4 seats, its pool was made with 2: the two are added from its start, whole.
    may = _balance(contract, MAY_1, model=Commit)
    assert [s[2:] for s in _segments(may)] == [(D(20000), D(2)), (D(20000), D(2))]
    assert _invoices(may) == [(MAY_1, D(20000)), (may_5, D(20000))]


def test_a_quantity_of_three_is_prorated_and_rounded_once_on_the_whole():
    # 3 x 10000 from 21 April (10 of 30 days): 10000; a unit's 3333.33 rounded, x 3, is 9999.
    rate = RateFactory(price=D(1))
    term = services.RecurringSpec(
        kind="CREDIT",
        product=ProductFactory(type="FIXED", billable_metric=None),
        starting_at=APR_21,
        access_unit_price=D(10000),
        access_quantity=D(3),
        proration="FIRST",
    )
    contract = services.contract_create(
        customer=CustomerFactory(),
        rate_card=rate.rate_card,
        starting_at=APR_1,
        ending_before=MAY_1,
        now=APR_1,
        recurring_credits=[term],
    )
    assert [s[2:] for s in _segments(_balance(contract, APR_1))] == [(D(10000), None)]
