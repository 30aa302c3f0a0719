"""The batch loader used by finalization gives, contract by contract, exactly what the
one-contract selector gives."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import selectors
from customers.models import Commit
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    CommitInvoiceItemFactory,
    ContractFactory,
    CreditFactory,
)

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)


def _world():
    first = ContractFactory()
    sibling = ContractFactory(customer=first.customer)
    lonely = ContractFactory()
    own = CommitFactory(contract=first, priority=Decimal("2"))
    AccessSegmentFactory(commit=own, amount=Decimal("10000"))
    CommitInvoiceItemFactory(commit=own, timestamp=FEB, amount=Decimal("10000"))
    postpaid = CommitFactory(contract=sibling, type=Commit.Type.POSTPAID)
    AccessSegmentFactory(commit=postpaid, amount=Decimal("700"))
    everywhere = CreditFactory(contract=None, customer=first.customer)
    AccessSegmentFactory(commit=None, credit=everywhere, amount=Decimal("500"))
    only_sibling = CreditFactory(contract=None, customer=first.customer)
    only_sibling.applicable_contracts.set([sibling])
    AccessSegmentFactory(commit=None, credit=only_sibling, amount=Decimal("250"))
    return [first, sibling, lonely]


def test_batch_equals_one_contract_at_a_time():
    contracts = _world()
    periods = {
        contracts[0].pk: (FEB, MAR),
        contracts[1].pk: (JAN, FEB),
        contracts[2].pk: (FEB, MAR),
    }

    batch = selectors.balances_for_rating_many(contracts=contracts, period_by_contract=periods)

    for contract in contracts:
        one = selectors.balances_for_rating(contract=contract, period=periods[contract.pk])
        assert batch[contract.pk] == one
    assert [b["type"] for b in batch[contracts[1].pk]] == ["POSTPAID", "CREDIT", "CREDIT"]
    assert batch[contracts[2].pk] == []


def test_batch_terms_cost_does_not_grow_with_contracts():
    few = _world()
    many = few + _world() + _world()

    def queries(contracts):
        with CaptureQueriesContext(connection) as captured:
            selectors.balance_terms_many(contracts=contracts)
        return len(captured)

    assert queries(many) == queries(few)
