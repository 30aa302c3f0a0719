"""Consolidated invoices when their contracts are archived: no finalized statement is left
billed nowhere, and archiving one member of an issued lot does not unbill the others.

Golden cases (Tokens at $100.00 each, amounts in cents): A uses 3 tokens ($300.00), B 9
($900.00), the parent 1 ($100.00).
- A's statement finalized by hand before its lot, then the parent archived: the consolidated
  draft is cancelled, A's $300.00 statement is billed on its own (`invoice.unconsolidated`).
- The lot issued ($1,200.00), then A archived with `void_invoices`: the lot is voided and
  regenerated without A: B's $900.00 on a new consolidated invoice of $900.00.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.models import DomainEvent
from customers.models import BalanceLedgerEntry
from invoicing.models import Invoice
from invoicing.services import invoice_finalize, invoice_regenerate, invoices_finalize_due
from tests.customers.test_hierarchy_api import (  # noqa: F401
    _commit,
    _contract,
    _error,
    _ok,
    _tokens,
    world,
)
from tests.invoicing.factories import ingest
from tests.invoicing.test_consolidated_invoices import (
    APRIL_3,
    CONCATENATE,
    MARCH,
    _child,
    _consolidated,
    _family,
    _get,
    _usage,
    post,  # noqa: F401
)

pytestmark = pytest.mark.django_db

APRIL_5 = datetime(2026, 4, 5, tzinfo=UTC)


def _archive(post, contract, *, void_invoices: bool):  # noqa: F811
    body = {
        "customer_id": str(contract.customer_id),
        "contract_id": str(contract.pk),
        "void_invoices": void_invoices,
    }
    return _ok(post("/v1/contracts/archive", body))


def _unconsolidated() -> dict:
    return {
        event.subject_id: event.payload
        for event in DomainEvent.objects.filter(type="invoice.unconsolidated")
    }


def test_a_constituent_finalized_alone_is_billed_on_its_own_once_its_parent_is_archived(
    post,  # noqa: F811
    api_client,
    world,  # noqa: F811
):
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    head = _consolidated(parent)
    early = invoice_finalize(invoice=_usage(a), now=APRIL_3).invoice
    assert early.consolidated_into_id == head.pk
    _archive(post, parent, void_invoices=False)
    assert not Invoice.objects.filter(pk=head.pk).exists()
    early.refresh_from_db()
    assert (early.status, early.total, early.consolidated_into_id) == (
        "FINALIZED",
        Decimal("30000"),
        None,
    )
    assert _unconsolidated() == {
        str(early.pk): {
            "invoice_id": str(early.pk),
            "customer_id": str(a.customer_id),
            "contract_id": str(a.pk),
            "invoice_type": "USAGE",
            "number": early.number,
            "consolidated_invoice_id": str(head.pk),
            "payer": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)},
        }
    }
    shown = _get(api_client, early)
    assert (shown["total"], shown["billable_status"]) == (30000, "billable")
    assert _usage(b).consolidated_into_id is None
    invoices_finalize_due(now=APRIL_5)
    assert (_usage(b).status, _usage(b).consolidated_into_id) == ("FINALIZED", None)
    assert not Invoice.objects.filter(type="USAGE_CONSOLIDATED").exists()


def test_concatenate_the_parents_statement_finalized_alone_is_billed_once_its_last_child_goes(
    post,  # noqa: F811
    api_client,
    world,  # noqa: F811
):
    parent = _contract(post, world, hierarchy_configuration=CONCATENATE)
    child = _child(post, world, parent)
    _tokens(parent, 1)
    head = _consolidated(parent)
    own = invoice_finalize(invoice=_usage(parent), now=APRIL_3).invoice
    assert own.consolidated_into_id == head.pk
    _archive(post, child, void_invoices=False)
    assert not Invoice.objects.filter(pk=head.pk).exists()
    own.refresh_from_db()
    assert (own.status, own.consolidated_into_id) == ("FINALIZED", None)
    assert _unconsolidated()[str(own.pk)]["consolidated_invoice_id"] == str(head.pk)
    # A root's own statement off any consolidated invoice: billed as any invoice (no payer).
    assert "billable_status" not in _get(api_client, own)


def test_archiving_a_child_of_a_draft_lot_sends_no_unconsolidated_event(post, world):  # noqa: F811
    parent, a, b = _family(post, world)
    _tokens(b, 9)
    head = _consolidated(parent)
    _archive(post, a, void_invoices=False)
    assert [m.pk for m in _consolidated(parent).constituents.all()] == [_usage(b).pk]
    assert _consolidated(parent).pk == head.pk
    assert _unconsolidated() == {}


def test_archiving_one_child_with_void_invoices_regenerates_its_issued_lot_without_it(
    post,  # noqa: F811
    api_client,
    world,  # noqa: F811
):
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    _tokens(b, 9)
    invoices_finalize_due(now=APRIL_3)
    old, old_a, old_b = _consolidated(parent), _usage(a), _usage(b)
    assert old.total == Decimal("120000")
    _archive(post, a, void_invoices=True)
    assert {i.status for i in Invoice.objects.filter(pk__in=[old.pk, old_a.pk, old_b.pk])} == {
        "VOID"
    }
    new, new_b = _consolidated(parent), _usage(b)
    assert (new.status, new.regenerated_from_id) == ("DRAFT", old.pk)
    assert (new_b.status, new_b.regenerated_from_id, new_b.consolidated_into_id) == (
        "DRAFT",
        old_b.pk,
        new.pk,
    )
    assert not Invoice.objects.filter(contract=a, status__in=["DRAFT", "FINALIZED"]).exists()
    assert _get(api_client, new)["total"] == 90000
    invoices_finalize_due(now=APRIL_5)
    frozen = _consolidated(parent)
    assert (frozen.status, frozen.total, frozen.constituents.count()) == (
        "FINALIZED",
        Decimal("90000"),
        1,
    )
    assert _usage(b).status == "FINALIZED"


def test_archiving_the_parent_with_void_invoices_bills_its_live_children_on_their_own(
    post,  # noqa: F811
    api_client,
    world,  # noqa: F811
):
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    _tokens(b, 9)
    invoices_finalize_due(now=APRIL_3)
    old = _consolidated(parent)
    _archive(post, parent, void_invoices=True)
    assert Invoice.objects.get(pk=old.pk).status == "VOID"
    assert not Invoice.objects.filter(
        type="USAGE_CONSOLIDATED", status__in=["DRAFT", "FINALIZED"]
    ).exists()
    assert [(_usage(c).status, _usage(c).consolidated_into_id) for c in (a, b)] == [
        ("DRAFT", None),
        ("DRAFT", None),
    ]
    message = _error(post("/v1/invoices/regenerate", {"id": str(old.pk)}))
    assert message == (
        f"Contract {parent.pk} is archived: its consolidated invoice {old.pk} is not "
        "regenerated (regenerate one of its constituents: each is billed on its own)."
    )
    invoices_finalize_due(now=APRIL_5)
    assert [(_usage(c).status, _usage(c).total) for c in (a, b)] == [
        ("FINALIZED", Decimal("30000")),
        ("FINALIZED", Decimal("90000")),
    ]
    shown = _get(api_client, _usage(a))
    assert (shown["billable_status"], shown["payer"]["contract_id"]) == ("billable", str(parent.pk))


def test_finalize_due_counts_the_constituents_a_consolidated_invoice_brings_along(
    post,  # noqa: F811
    world,  # noqa: F811
):
    """A child starting on March 10: its statement sorts after the parent's consolidated
    invoice (same end, later start), whose batch finalizes it first."""
    parent = _contract(post, world)
    _contract(
        post,
        world,
        starting_at="2026-03-10T00:00:00Z",
        hierarchy_configuration={
            "parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)},
            "payer": "PARENT",
            "usage_statement_behavior": "CONSOLIDATE",
        },
    )
    assert invoices_finalize_due(now=APRIL_3, batch_size=1) == 3
    assert Invoice.objects.filter(status="FINALIZED").count() == 3


def test_finalize_due_does_not_count_a_consolidated_draft_it_removes(post, world):  # noqa: F811
    parent = _contract(post, world)
    Invoice.objects.create(
        customer_id=parent.customer_id,
        contract=parent,
        credit_type_id=parent.rate_card.fiat_credit_type_id,
        type="USAGE_CONSOLIDATED",
        start_timestamp=MARCH,
        end_timestamp=datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert invoices_finalize_due(now=APRIL_3) == 1
    assert not Invoice.objects.filter(type="USAGE_CONSOLIDATED").exists()
    assert _usage(parent).status == "FINALIZED"


def test_regenerating_a_constituent_of_an_archived_parents_lot_bills_it_on_its_own(
    post,  # noqa: F811
    world,  # noqa: F811
):
    parent, a, b = _family(post, world)
    _tokens(a, 3)
    invoices_finalize_due(now=APRIL_3)
    old_a = _usage(a)
    _ok(post("/v1/invoices/void", {"id": str(_consolidated(parent).pk)}))
    _archive(post, parent, void_invoices=False)
    again = invoice_regenerate(invoice=old_a, now=APRIL_5)
    assert (again.status, again.regenerated_from_id, again.consolidated_into_id) == (
        "DRAFT",
        old_a.pk,
        None,
    )
    assert _usage(b).consolidated_into_id is None


def test_a_lot_whose_constituent_waits_is_left_drafts_and_the_batch_is_finalized(
    post,  # noqa: F811
    world,  # noqa: F811
    caplog,
):
    """The parent trues up a $1,000.00 POSTPAID commit for March that its children draw: A
    (billed on the parent's lot) and B (its own payer, periods from March 15, not due on April
    3). On April 3 the parent's own statement waits for B's draft: the whole lot (it, A's
    statement, the consolidated invoice) is left drafts, nothing of theirs in the ledger, and
    the batch's other invoice (another customer's) is finalized: no batch failure. Once B is
    due the lot and B are finalized: $1,000.00 billed for $600.00 of usage."""
    april = "2026-04-01T00:00:00Z"
    postpaid = _commit(world, access={"type": "ALL"}, type="POSTPAID")
    postpaid["access_schedule"]["schedule_items"][0]["ending_before"] = april
    postpaid["invoice_schedule"] = {"schedule_items": [{"timestamp": april, "amount": 100000}]}
    parent = _contract(post, world, commits=[postpaid], hierarchy_configuration=CONCATENATE)
    a = _child(post, world, parent)
    link = {"parent": {"contract_id": str(parent.pk), "customer_id": str(parent.customer_id)}}
    b = _contract(
        post,
        world,
        starting_at="2026-03-15T00:00:00Z",
        hierarchy_configuration=link,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "CONTRACT_START"},
    )
    unrelated = _contract(post, world)
    _tokens(a, 3)
    _tokens(parent, 1)
    _tokens(unrelated, 1)
    ingest(
        [
            {
                "transaction_id": "lot-waits-b",
                "customer_id": str(b.customer_id),
                "event_type": "tokens_usage",
                "timestamp": "2026-03-20T00:00:00Z",
                "properties": {"num_tokens": "2"},
            }
        ]
    )
    with caplog.at_level(logging.INFO):
        assert invoices_finalize_due(now=APRIL_3) == 1
    assert "Finalizing a batch failed" not in caplog.text
    assert _usage(unrelated).status == Invoice.Status.FINALIZED
    lot = [_usage(parent), _usage(a), _consolidated(parent)]
    assert [i.status for i in lot] == [Invoice.Status.DRAFT] * 3
    assert not BalanceLedgerEntry.objects.filter(invoice_id__in=[i.pk for i in lot]).exists()
    assert invoices_finalize_due(now=datetime(2026, 4, 20, tzinfo=UTC)) == 4
    b_march = Invoice.objects.get(
        contract=b, type=Invoice.Type.USAGE, start_timestamp=b.starting_at
    )
    billed = [_consolidated(parent), b_march]
    assert [i.status for i in billed] == [Invoice.Status.FINALIZED] * 2
    assert sum(i.total for i in billed) == Decimal("100000")


def test_archiving_the_parent_with_void_invoices_sends_no_unconsolidated_for_what_it_voids(
    post,  # noqa: F811
    world,  # noqa: F811
):
    """The parent's own statement finalized by hand before its lot, then the parent archived
    with `void_invoices`: the lot is cancelled and the statement voided in one transaction, so
    it is billed nowhere: no `invoice.unconsolidated` (payments would bill it on its own)."""
    parent = _contract(post, world, hierarchy_configuration=CONCATENATE)
    a = _child(post, world, parent)
    _tokens(a, 3)
    _tokens(parent, 1)
    own = _usage(parent)
    assert own.consolidated_into_id is not None
    invoice_finalize(invoice=own, now=APRIL_3)
    _archive(post, parent, void_invoices=True)
    own.refresh_from_db()
    assert own.status == Invoice.Status.VOID
    assert str(own.pk) not in {str(subject) for subject in _unconsolidated()}


def test_regenerating_an_archived_parents_own_statement_of_its_lot_is_refused(
    post,  # noqa: F811
    world,  # noqa: F811
):
    """CONCATENATE: the lot issued, then the parent archived with `void_invoices` (the lot
    voided). Regenerating the parent's own statement is refused (400, naming the contract):
    it used to make a draft on the archived contract. Nothing is made."""
    parent = _contract(post, world, hierarchy_configuration=CONCATENATE)
    a = _child(post, world, parent)
    _tokens(a, 3)
    _tokens(parent, 1)
    invoices_finalize_due(now=APRIL_3)
    own = _usage(parent)
    assert own.consolidated_into_id is not None
    _archive(post, parent, void_invoices=True)
    own.refresh_from_db()
    assert own.status == Invoice.Status.VOID
    drafts = Invoice.objects.filter(status=Invoice.Status.DRAFT).count()
    message = _error(post("/v1/invoices/regenerate", {"id": str(own.pk)}))
    assert message == (
        f"Contract {parent.pk} is archived: invoice {own.pk} is not regenerated (an archived "
        "contract bills nothing more)."
    )
    assert Invoice.objects.filter(status=Invoice.Status.DRAFT).count() == drafts
    assert not Invoice.objects.filter(contract=parent, regenerated_from=own).exists()
