"""The late-event hook on both databases (PostgreSQL answers it in one statement): aliases win
over customer ids, ids that are not UUIDs are fine, only a canonical customer id is that customer
(as for attribution), only finalized usage periods count."""

from datetime import UTC, datetime

import pytest

from invoicing.models import Invoice
from invoicing.selectors import events_late
from invoicing.services import contract_drafts_ensure, invoice_finalize
from tests.invoicing.factories import ContractFactory, IngestAliasFactory

pytestmark = pytest.mark.django_db


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _finalized_march(contract) -> None:
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    invoice_finalize(
        invoice=Invoice.objects.get(contract=contract, start_timestamp=t(2026, 3, 1)),
        now=t(2026, 4, 3),
    )


def test_an_alias_that_looks_like_another_customers_id_follows_the_alias():
    finalized = ContractFactory(starting_at=t(2026, 3, 1))
    other = ContractFactory(starting_at=t(2026, 3, 1))
    IngestAliasFactory(customer=finalized.customer, alias=str(other.customer_id))
    _finalized_march(finalized)
    contract_drafts_ensure(contract=other, now=t(2026, 3, 2))
    assert events_late([(str(other.customer_id), t(2026, 3, 10))]) == [True]


def test_the_customers_own_id_is_late_and_a_draft_period_is_not():
    finalized = ContractFactory(starting_at=t(2026, 3, 1))
    draft = ContractFactory(starting_at=t(2026, 3, 1))
    _finalized_march(finalized)
    contract_drafts_ensure(contract=draft, now=t(2026, 3, 2))
    assert events_late(
        [
            (str(finalized.customer_id), t(2026, 3, 31, 23, 59)),
            (str(draft.customer_id), t(2026, 3, 10)),
            (str(finalized.customer_id), t(2026, 4, 1)),
            ("not-a-uuid", t(2026, 3, 10)),
            (str(finalized.customer_id).upper(), t(2026, 3, 10)),
        ]
    ) == [True, False, False, False, False]


def test_a_batch_repeating_one_customer_answers_each_event():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    _finalized_march(contract)
    customer = str(contract.customer_id)
    moments = [t(2026, 2, 28), t(2026, 3, 1), t(2026, 3, 15), t(2026, 4, 1), t(2026, 3, 15)]
    assert events_late([(customer, m) for m in moments]) == [False, True, True, False, True]


def test_an_empty_batch_has_no_late_events():
    assert events_late([]) == []
