"""A package whose usage statement day is CUSTOM_DATE: each contract made from it counts its
billing periods from its own billing anchor date (usage_statement_schedule.billing_anchor_date
on contract create), else from its start."""

from datetime import UTC, datetime

import pytest

from customers import periods
from customers.models import Contract
from tests.api.conftest import data, error
from tests.catalog.factories import RateCardFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def package(post):
    body = {
        "name": "Mid-month",
        "rate_card_id": str(RateCardFactory().pk),
        "usage_statement_schedule": {"frequency": "MONTHLY", "day": "CUSTOM_DATE"},
    }
    return data(post("/v1/packages/create", body))["id"]


def _contract(post, package, **extra) -> dict:
    body = {
        "customer_id": str(CustomerFactory().pk),
        "package_id": package,
        "starting_at": "2026-03-01T00:00:00Z",
        **extra,
    }
    return post("/v1/contracts/create", body)


def test_the_package_shows_custom_date(post, package):
    shown = data(post("/v1/packages/get", {"package_id": package}))
    assert shown["usage_statement_schedule"] == {"frequency": "MONTHLY", "day": "CUSTOM_DATE"}


def test_a_contract_counts_its_periods_from_its_anchor_date(post, package):
    schedule = {
        "frequency": "MONTHLY",
        "day": "CUSTOM_DATE",
        "billing_anchor_date": "2026-02-15T00:00:00Z",
    }
    made = data(_contract(post, package, usage_statement_schedule=schedule))
    contract = Contract.objects.get(pk=made["id"])

    assert contract.usage_statement_day == "CUSTOM_DATE"
    assert contract.billing_anchor_date == datetime(2026, 2, 15, tzinfo=UTC)
    first = periods.period_containing(
        periods.schedule_for(contract), datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert (first.starting_at, first.ending_before) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 15, tzinfo=UTC),
    )


def test_without_an_anchor_date_the_contract_start_is_it(post, package):
    made = data(_contract(post, package))
    contract = Contract.objects.get(pk=made["id"])
    assert contract.billing_anchor_date == datetime(2026, 3, 1, tzinfo=UTC)


def test_the_package_sets_the_frequency(post, package):
    schedule = {"frequency": "QUARTERLY", "billing_anchor_date": "2026-02-15T00:00:00Z"}
    assert error(_contract(post, package, usage_statement_schedule=schedule), 400) == (
        "usage_statement_schedule.frequency: The package sets it (MONTHLY)."
    )


def test_an_anchor_date_needs_a_custom_date_package(post):
    body = {"name": "Plain", "rate_card_id": str(RateCardFactory().pk)}
    plain = data(post("/v1/packages/create", body))["id"]
    schedule = {"frequency": "MONTHLY", "billing_anchor_date": "2026-02-15T00:00:00Z"}
    assert error(_contract(post, plain, usage_statement_schedule=schedule), 400) == (
        "usage_statement_schedule.billing_anchor_date: Only for a package whose usage "
        "statement day is CUSTOM_DATE; this package sets the day."
    )
