"""One current billing period per customer (customers.selectors.customer_current_period), shared
by the customer page and POST /v1/usage/groups with current_period."""

from datetime import UTC, datetime

import pytest

from customers.admin.panels import current_period
from customers.selectors import customer_current_period
from tests.customers.factories import ContractFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_earliest_started_contract_in_effect_gives_the_period():
    customer = CustomerFactory()
    first = ContractFactory(
        customer=customer, starting_at=t(2026, 1, 15, 10), usage_statement_day="CONTRACT_START"
    )
    ContractFactory(customer=customer, starting_at=t(2026, 3, 1))  # calendar months

    assert customer_current_period(customer=customer, now=t(2026, 3, 20)) == (
        t(2026, 3, 15, 10),
        t(2026, 4, 15, 10),
        first,
    )


def test_a_period_cut_off_the_hour_is_widened_to_whole_hours():
    customer = CustomerFactory()
    contract = ContractFactory(
        customer=customer, starting_at=t(2026, 1, 1), ending_before=t(2026, 3, 10, 12, 30)
    )

    assert customer_current_period(customer=customer, now=t(2026, 3, 5)) == (
        t(2026, 3, 1),
        t(2026, 3, 10, 13),
        contract,
    )


def test_without_a_contract_in_effect_there_is_none_and_the_page_shows_the_calendar_month():
    customer = CustomerFactory()
    ContractFactory(customer=customer, starting_at=t(2026, 1, 1), ending_before=t(2026, 2, 1))
    ContractFactory(customer=customer, starting_at=t(2026, 1, 1), archived_at=t(2026, 1, 2))

    assert customer_current_period(customer=customer, now=t(2026, 3, 5)) is None
    shown = current_period(customer, t(2026, 3, 5))
    assert (shown.starting_at, shown.ending_before, shown.contract) == (
        t(2026, 3, 1),
        t(2026, 4, 1),
        None,
    )
