"""A threshold commit (auto-recharge or spend threshold) given no priority takes Metronome's
documented default, 100 (the SDK's BaseThresholdCommit: "Defaults to 100 if not specified"), so
the contract's own commits and credits (priority 0 unless given) are drawn before it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.services import threshold_commit_create
from tests.catalog.factories import ProductFactory
from tests.customers.factories import ContractFactory

pytestmark = pytest.mark.django_db

MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize("given, stored", [(None, Decimal(100)), (Decimal(5), Decimal(5))])
def test_a_threshold_commit_without_a_priority_takes_100(given, stored):
    commit = threshold_commit_create(
        contract=ContractFactory(),
        kind="PREPAID_BALANCE",
        product=ProductFactory(fixed=True),
        amount=Decimal(4000),
        starting_at=MAR,
        ending_before=APR,
        now=MAR,
        priority=given,
    )
    commit.refresh_from_db()
    assert commit.priority == stored
