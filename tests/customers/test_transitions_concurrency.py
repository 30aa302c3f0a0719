"""Two requests renewing the same contract at once, and two workers rolling the same renewal over
at once: one renewal, one rollover (PostgreSQL)."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from customers import services
from customers.models import BalanceLedgerEntry, Commit, ContractTransition
from invoicing import services as invoicing_services
from tests.customers.factories import AccessSegmentFactory, CommitFactory, ContractFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JAN_2026 = datetime(2026, 1, 1, tzinfo=UTC)
JAN_2027 = datetime(2027, 1, 1, tzinfo=UTC)
AFTER = datetime(2027, 1, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes writers, so there is no race to test")


def _together(target, count: int) -> tuple[list, list]:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target()
        except Exception as error:  # counted by the caller
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def _old():
    old = ContractFactory(starting_at=JAN_2026, ending_before=JAN_2027)
    commit = CommitFactory(contract=old, rollover_fraction=Decimal(1))
    AccessSegmentFactory(
        commit=commit,
        amount=Decimal("10000"),
        starting_at=JAN_2026,
        ending_before=datetime(2027, 7, 1, tzinfo=UTC),
    )
    return old


def _renew(old, now):
    return services.contract_create(
        customer=old.customer,
        rate_card=old.rate_card,
        starting_at=JAN_2027,
        now=now,
        transition=services.TransitionSpec(from_contract_id=old.pk),
    )


def test_two_renewals_of_one_contract_at_once_make_one():
    old = _old()

    results, errors = _together(lambda: _renew(old, AFTER), 3)

    assert len([r for r in results if r is not None]) == 1
    assert len(errors) == 2 and all(isinstance(e, ValidationError) for e in errors)
    assert ContractTransition.objects.count() == 1
    assert Commit.objects.filter(rolled_over_from__isnull=False).count() == 1
    assert BalanceLedgerEntry.objects.count() == 1


def test_two_workers_rolling_one_renewal_over_roll_it_over_once():
    old = _old()
    _renew(old, datetime(2026, 12, 1, tzinfo=UTC))  # ahead of time: not rolled over yet

    counts, errors = _together(
        lambda: invoicing_services.contract_transitions_roll_over_due(now=AFTER), 3
    )

    assert errors == []
    assert Commit.objects.filter(rolled_over_from__isnull=False).count() == 1
    assert BalanceLedgerEntry.objects.get().amount == Decimal("-10000")
    assert ContractTransition.objects.get().rolled_over_at == AFTER
    assert sum(counts) == 1
