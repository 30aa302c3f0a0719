"""QUANTITY balances beyond one draft (database + rating): a renewal rolls the units left over
as units, and a prepaid balance threshold never counts units as money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import Credit
from invoicing.threshold_billing import _prepaid_left
from tests.invoicing.test_rollover_db import (
    AFTER,
    RENEWAL,
    _balance,
    _renew,
    _tokens,
    _view,
    _world,
    t,
)

pytestmark = pytest.mark.django_db


def test_a_renewal_rolls_a_quantity_credits_units_over_as_units():
    old, fixed = _world()
    credit = _balance(
        Credit,
        old,
        fixed,
        amount="30",
        end=t(2027, 1, 1),
        rollover_fraction=Decimal("0.5"),
        access_type="QUANTITY",
        name="30 tokens",
    )
    credit.applicable_products.set([old.rate_card.rates.get().product])
    _view(old, t(2026, 2, 1), t(2026, 2, 11))
    _tokens(old, "10", "2026-02-10T10:00:00Z")  # February's draft covers 10 of the 30 units

    new = _renew(old, ending_before=t(2026, 5, 1))
    rolled = Credit.objects.get(contract=new)
    assert rolled.access_type == "QUANTITY"
    assert rolled.access_schedule.get().amount == Decimal("10")  # (30 - 10) x 0.5 units

    _tokens(new, "14", "2026-03-05T10:00:00Z")
    march = _view(new, RENEWAL, t(2026, 3, 6))
    # 10 units covered at 150 (1500), the other 4 billed (600).
    assert [(line.type, line.quantity, line.total) for line in march.lines] == [
        ("usage", Decimal("10"), Decimal("1500")),
        ("usage", Decimal("4"), Decimal("600")),
        ("applied_commit_or_credit", Decimal("10"), Decimal("-1500")),
    ]
    assert march.total == Decimal("600")


def test_a_prepaid_balance_threshold_counts_money_not_units():
    contract, fixed = _world()
    _balance(Credit, contract, fixed, amount="700", end=t(2027, 1, 1), name="Spend")
    units = _balance(
        Credit, contract, fixed, amount="5000", end=t(2027, 1, 1), access_type="QUANTITY"
    )
    units.applicable_products.set([contract.rate_card.rates.get().product])
    assert _prepaid_left(contract, {}, AFTER) == Decimal("700")
