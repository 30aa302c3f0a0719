"""Moving a contract's end (updateEndDate, v2 edit): its drafts follow, and it cannot end before
what was already billed."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from customers import services
from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure, invoice_finalize
from tests.invoicing.factories import ContractFactory

pytestmark = pytest.mark.django_db


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def usage_periods(contract):
    return [
        (i.start_timestamp, i.end_timestamp, i.status)
        for i in Invoice.objects.filter(contract=contract, type="USAGE").order_by("start_timestamp")
    ]


def test_an_earlier_end_removes_later_drafts_and_cuts_the_spanning_one():
    contract = ContractFactory(starting_at=t(2026, 1, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 10))
    assert len(usage_periods(contract)) == 3
    services.contract_update_end_date(
        contract=contract, ending_before=t(2026, 2, 15), now=t(2026, 3, 10)
    )
    assert usage_periods(contract) == [
        (t(2026, 1, 1), t(2026, 2, 1), "DRAFT"),
        (t(2026, 2, 1), t(2026, 2, 15), "DRAFT"),
    ]


def test_a_later_end_through_v2_edit_gets_the_missing_draft():
    contract = ContractFactory(starting_at=t(2026, 1, 1), ending_before=t(2026, 2, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 10))
    services.contract_edit(contract=contract, ending_before=t(2026, 3, 1), now=t(2026, 3, 10))
    assert usage_periods(contract) == [
        (t(2026, 1, 1), t(2026, 2, 1), "DRAFT"),
        (t(2026, 2, 1), t(2026, 3, 1), "DRAFT"),
    ]


def test_an_end_before_a_finalized_invoice_is_refused():
    contract = ContractFactory(starting_at=t(2026, 1, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 1, 10))
    invoice_finalize(invoice=Invoice.objects.get(contract=contract), now=t(2026, 2, 5))
    with pytest.raises(ValidationError) as refused:
        services.contract_update_end_date(
            contract=contract, ending_before=t(2026, 1, 20), now=t(2026, 2, 5)
        )
    assert refused.value.message_dict["ending_before"] == [
        "This contract has a finalized invoice ending 2026-02-01T00:00:00+00:00, after "
        "2026-01-20T00:00:00+00:00; void it first."
    ]
    with pytest.raises(ValidationError):
        services.contract_edit(contract=contract, ending_before=t(2026, 1, 20), now=t(2026, 2, 5))
