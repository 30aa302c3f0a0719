"""The customers' rules (issue 2, point 2): aliases belong to one customer; contract and term
windows start before they end (access segments on the hour); each valid and invalid, with the
message, and the database constraint that backs it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import AccessSegment, IngestAlias
from tests.customers.factories import (
    AccessSegmentFactory,
    CommitFactory,
    ContractFactory,
    CustomerFactory,
    IngestAliasFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def messages(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return caught.value.message_dict


# ---------------------------------------------------------------------------------------------
# An alias belongs to one customer


def test_a_new_alias_is_valid():
    IngestAlias(customer=CustomerFactory(), alias="acme-prod").full_clean()


def test_an_existing_alias_revalidates_for_its_own_customer():
    alias = IngestAliasFactory(alias="acme-prod")

    alias.full_clean()


def test_an_alias_of_another_customer_is_refused():
    IngestAliasFactory(alias="acme-prod", customer=CustomerFactory(name="Acme AI"))
    taken = IngestAlias(customer=CustomerFactory(name="Globex"), alias="acme-prod")

    assert messages(taken)["alias"] == [
        "The ingest alias 'acme-prod' already belongs to customer 'Acme AI'."
    ]


def test_the_database_refuses_an_alias_for_two_customers():
    IngestAliasFactory(alias="acme-prod")

    with pytest.raises(IntegrityError), transaction.atomic():
        IngestAlias.objects.create(customer=CustomerFactory(), alias="acme-prod")


def test_the_database_refuses_an_empty_alias():
    with pytest.raises(IntegrityError), transaction.atomic():
        IngestAlias.objects.create(customer=CustomerFactory(), alias="")


# ---------------------------------------------------------------------------------------------
# Windows: start before end; access segments on the hour


def test_a_contract_that_ends_after_it_starts_is_valid():
    ContractFactory.build(
        customer=CustomerFactory(), rate_card=ContractFactory().rate_card, ending_before=FEB
    ).full_clean()


def test_a_contract_that_ends_before_it_starts_is_refused():
    contract = ContractFactory.build(
        customer=CustomerFactory(),
        rate_card=ContractFactory().rate_card,
        starting_at=FEB,
        ending_before=JAN,
    )

    assert messages(contract)["ending_before"] == ["Must be after the start."]


def test_the_database_refuses_a_contract_that_ends_before_it_starts():
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractFactory(starting_at=FEB, ending_before=JAN)


def test_an_hour_aligned_access_segment_is_valid():
    AccessSegment(
        commit=CommitFactory(), amount=Decimal("100"), starting_at=JAN, ending_before=FEB
    ).full_clean()


def test_an_access_segment_off_the_hour_is_refused():
    segment = AccessSegment(
        commit=CommitFactory(),
        amount=Decimal("100"),
        starting_at=datetime(2026, 1, 1, 9, 15, tzinfo=UTC),
        ending_before=FEB,
    )

    assert messages(segment)["starting_at"] == [
        "Must be on an hour boundary (minutes and seconds zero, UTC)."
    ]


def test_an_access_segment_that_ends_before_it_starts_is_refused():
    segment = AccessSegment(
        commit=CommitFactory(), amount=Decimal("100"), starting_at=FEB, ending_before=JAN
    )

    assert messages(segment)["ending_before"] == ["Must be after the start."]


def test_the_database_refuses_a_segment_with_two_owners():
    commit = CommitFactory()
    credit_owner = AccessSegmentFactory(commit=commit)

    with pytest.raises(IntegrityError), transaction.atomic():
        AccessSegment.objects.filter(pk=credit_owner.pk).update(commit=None)


def test_a_subscription_that_ends_before_it_starts_is_refused():
    subscription = SubscriptionFactory.build(
        contract=ContractFactory(),
        product=SubscriptionFactory().product,
        starting_at=FEB,
        ending_before=JAN,
    )

    assert messages(subscription)["ending_before"] == ["Must be after the start."]


def test_a_commit_belongs_to_its_contract_customer():
    commit = CommitFactory.build(contract=ContractFactory(), customer=CustomerFactory())

    assert messages(commit)["contract"] == ["The contract belongs to another customer."]
