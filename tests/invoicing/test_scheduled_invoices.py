"""SCHEDULED invoices: commit purchases and scheduled charges on invoices of their own, one per
contract and date (start = end = the date), unless the contract says
`scheduled_charges_on_usage_invoices`; drafts made with the contract and following its edits;
finalized at their date (no grace) with numbers from the same counter; void and regenerate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import BalanceLedgerEntry, CommitInvoiceItem, ScheduledChargeItem
from customers.services import (
    CommitSpec,
    InvoiceItemSpec,
    ScheduleChanges,
    ScheduledChargeSpec,
    ScheduledChargeUpdate,
    SegmentSpec,
    contract_archive,
    contract_create,
    contract_edit,
)
from invoicing.models import Invoice
from invoicing.rating import rate_invoice, rating_input_from_json
from invoicing.selectors import invoice_view
from invoicing.services import (
    InvoiceStateError,
    contract_drafts_ensure,
    drafts_ensure_all,
    invoice_finalize,
    invoice_regenerate,
    invoice_void,
    invoices_finalize_due,
)
from tests.invoicing.factories import CustomerFactory, ProductFactory, RateFactory, ingest

pytestmark = pytest.mark.django_db

SCHEDULED = Invoice.Type.SCHEDULED
USAGE = Invoice.Type.USAGE


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _offering():
    rate = RateFactory(price=Decimal("150"), product__name="Input Tokens")
    rate.product.billable_metric.group_keys = []
    rate.product.billable_metric.save()
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Onboarding")
    commit_product = ProductFactory(type="FIXED", billable_metric=None, name="Commitment")
    return rate, fixed, commit_product


def _contract(*, on_usage: bool = False, now=None, charges=None, commits=None):
    """A contract from 2026-01-01: a $100 onboarding charge on Mar 1 and Mar 15 12:00, and a
    prepaid commit of 3000 cents invoiced 2000 on Mar 1 and 1000 on Apr 1, usable all year."""
    rate, fixed, commit_product = _offering()
    if charges is None:
        charges = [
            ScheduledChargeSpec(
                product=fixed,
                name="Onboarding",
                items=[
                    InvoiceItemSpec(timestamp=t(2026, 3, 1), amount=Decimal("10000")),
                    InvoiceItemSpec(
                        timestamp=t(2026, 3, 15, 12),
                        unit_price=Decimal("1999"),
                        quantity=Decimal("1.5"),
                    ),
                ],
            )
        ]
    if commits is None:
        commits = [
            CommitSpec(
                product=commit_product,
                name="Prepaid commitment",
                priority=Decimal(1),
                access_schedule=[
                    SegmentSpec(
                        amount=Decimal("3000"),
                        starting_at=t(2026, 1, 1),
                        ending_before=t(2027, 1, 1),
                    )
                ],
                invoice_schedule=[
                    InvoiceItemSpec(timestamp=t(2026, 3, 1), amount=Decimal("2000")),
                    InvoiceItemSpec(timestamp=t(2026, 4, 1), amount=Decimal("1000")),
                ],
            )
        ]
    contract = contract_create(
        customer=CustomerFactory(),
        rate_card=rate.rate_card,
        starting_at=t(2026, 1, 1),
        now=now or t(2026, 3, 2),
        scheduled_charges_on_usage_invoices=on_usage,
        scheduled_charges=charges,
        commits=commits,
    )
    return contract


def _tokens(contract, amount: str, when: str, transaction_id: str):
    ingest(
        [
            {
                "transaction_id": transaction_id,
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": when,
                "properties": {"num_tokens": amount},
            }
        ]
    )


def _scheduled(contract, status=None):
    queryset = Invoice.objects.filter(contract=contract, type=SCHEDULED)
    if status:
        queryset = queryset.filter(status=status)
    return list(queryset.order_by("start_timestamp"))


def _lines(view):
    return [(line.type, line.name, line.total) for line in view.lines]


# --- Drafts ---------------------------------------------------------------------------------------


def test_a_contract_makes_one_scheduled_draft_per_date_with_its_creation():
    contract = _contract()

    drafts = _scheduled(contract)

    assert [(d.start_timestamp, d.end_timestamp, d.status) for d in drafts] == [
        (t(2026, 3, 1), t(2026, 3, 1), "DRAFT"),
        (t(2026, 3, 15, 12), t(2026, 3, 15, 12), "DRAFT"),
        (t(2026, 4, 1), t(2026, 4, 1), "DRAFT"),  # in the future: made at once too
    ]
    # The charge and the commit purchase due at the same instant share one invoice.
    march_first = invoice_view(invoice=drafts[0], now=t(2026, 3, 2))
    assert _lines(march_first) == [
        ("scheduled", "Onboarding", Decimal("10000")),
        ("commit_purchase", "Prepaid commitment", Decimal("2000")),
    ]
    assert (march_first.subtotal, march_first.total) == (Decimal("12000"), Decimal("12000"))
    assert _lines(invoice_view(invoice=drafts[1])) == [
        ("scheduled", "Onboarding", Decimal("2999"))  # 1.5 x 1999 = 2998.5, half up
    ]
    assert _lines(invoice_view(invoice=drafts[2])) == [
        ("commit_purchase", "Prepaid commitment", Decimal("1000"))
    ]


def test_the_usage_invoice_keeps_usage_and_draw_down_only():
    contract = _contract()
    _tokens(contract, "10", "2026-03-05T10:00:00Z", "tx-1")  # 10 x 150 = 1500
    march = Invoice.objects.get(contract=contract, type=USAGE, start_timestamp=t(2026, 3, 1))

    view = invoice_view(invoice=march, now=t(2026, 3, 6))

    assert [(line.type, line.total) for line in view.lines] == [
        ("usage", Decimal("1500")),
        ("applied_commit_or_credit", Decimal("-1500")),
    ]
    assert (view.subtotal, view.total) == (Decimal("1500"), Decimal("0"))


def test_with_scheduled_charges_on_usage_invoices_everything_is_on_the_usage_invoice():
    contract = _contract(on_usage=True)
    _tokens(contract, "10", "2026-03-05T10:00:00Z", "tx-1")
    march = Invoice.objects.get(contract=contract, start_timestamp=t(2026, 3, 1))

    view = invoice_view(invoice=march, now=t(2026, 3, 6))

    assert _scheduled(contract) == []
    assert march.type == USAGE
    assert [(line.type, line.total) for line in view.lines] == [
        ("usage", Decimal("1500")),
        ("scheduled", Decimal("10000")),
        ("scheduled", Decimal("2999")),
        ("commit_purchase", Decimal("2000")),
        ("applied_commit_or_credit", Decimal("-1500")),
    ]
    assert view.total == Decimal("14999")


# --- Finalization ---------------------------------------------------------------------------------


def test_a_scheduled_draft_is_finalized_at_its_date_without_grace_exactly_once():
    contract = _contract(now=t(2026, 2, 20))
    march_first = _scheduled(contract)[0]

    assert invoices_finalize_due(now=t(2026, 2, 28, 23, 59)) == 1  # January's usage invoice
    assert Invoice.objects.get(pk=march_first.pk).status == "DRAFT"
    assert invoices_finalize_due(now=t(2026, 3, 1)) == 1  # at its date; February's waits for grace
    assert invoices_finalize_due(now=t(2026, 3, 1, 0, 30)) == 0

    invoice = Invoice.objects.get(pk=march_first.pk)
    assert invoice.status == "FINALIZED"
    assert invoice.issued_at == t(2026, 3, 1)
    assert (invoice.subtotal, invoice.total) == (Decimal("12000"), Decimal("12000"))
    assert [(line.type, line.total) for line in invoice.line_items.order_by("position")] == [
        ("scheduled", Decimal("10000")),
        ("commit_purchase", Decimal("2000")),
    ]
    # The frozen snapshot re-rates to the cent.
    assert rate_invoice(rating_input_from_json(invoice.rating_snapshot)).total == invoice.total
    # Its lines never change after: an edit of the item does not reach it.
    ScheduledChargeItem.objects.filter(timestamp=t(2026, 3, 1)).update(amount=Decimal("1"))
    assert invoice_view(invoice=Invoice.objects.get(pk=invoice.pk)).total == Decimal("12000")


def test_numbers_are_gap_free_across_usage_and_scheduled_invoices():
    contract = _contract(now=t(2026, 4, 10))  # usage drafts January to April

    invoices_finalize_due(now=t(2026, 5, 3))  # grace: April's usage invoice ends May 1 + 24 h

    finalized = Invoice.objects.filter(contract=contract, status="FINALIZED").order_by("number")
    assert [(i.type, i.start_timestamp, i.number) for i in finalized] == [
        (USAGE, t(2026, 1, 1), 1),
        (USAGE, t(2026, 2, 1), 2),
        (SCHEDULED, t(2026, 3, 1), 3),
        (SCHEDULED, t(2026, 3, 15, 12), 4),
        (USAGE, t(2026, 3, 1), 5),
        (SCHEDULED, t(2026, 4, 1), 6),
        (USAGE, t(2026, 4, 1), 7),
    ]


def test_finalizing_a_scheduled_invoice_writes_nothing_to_the_ledger():
    contract = _contract()
    _tokens(contract, "10", "2026-03-05T10:00:00Z", "tx-1")

    invoices_finalize_due(now=t(2026, 3, 20))  # both March 1 and March 15 scheduled invoices
    assert BalanceLedgerEntry.objects.count() == 0
    invoices_finalize_due(now=t(2026, 4, 3))  # March's usage invoice: the draw, once
    assert list(BalanceLedgerEntry.objects.values_list("type", "amount")) == [
        (BalanceLedgerEntry.Type.PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION, Decimal("-1500"))
    ]
    invoices_finalize_due(now=t(2026, 4, 4))
    assert BalanceLedgerEntry.objects.count() == 1


def test_an_event_at_a_finalized_scheduled_invoices_date_is_not_late():
    contract = _contract()
    invoices_finalize_due(now=t(2026, 3, 2))  # the Mar 1 scheduled invoice only

    (event,) = ingest(
        [
            {
                "transaction_id": "tx-at-the-date",
                "customer_id": str(contract.customer_id),
                "event_type": "tokens_usage",
                "timestamp": "2026-03-01T00:00:00Z",
                "properties": {"num_tokens": "1"},
            }
        ],
        now=t(2026, 3, 2),
    )
    assert event.is_late is False


# --- Edits ----------------------------------------------------------------------------------------


def test_editing_terms_updates_drafts_and_never_finalized_invoices():
    contract = _contract(now=t(2026, 3, 2))
    invoices_finalize_due(now=t(2026, 3, 2))  # Mar 1 is finalized; Mar 15 and Apr 1 drafts
    charge = contract.scheduled_charges.get()
    commit = contract.commits.get()
    march_fifteenth = ScheduledChargeItem.objects.get(timestamp=t(2026, 3, 15, 12))

    contract_edit(
        contract=contract,
        now=t(2026, 3, 3),
        update_scheduled_charges=[
            ScheduledChargeUpdate(
                id=charge.pk,
                invoice_schedule=ScheduleChanges(
                    update=[{"id": march_fifteenth.pk, "timestamp": t(2026, 3, 20)}],
                    add=[InvoiceItemSpec(timestamp=t(2026, 4, 1), amount=Decimal("500"))],
                ),
            )
        ],
    )

    assert [(i.start_timestamp, i.status) for i in _scheduled(contract)] == [
        (t(2026, 3, 1), "FINALIZED"),
        (t(2026, 3, 20), "DRAFT"),  # the item moved: its old draft is gone
        (t(2026, 4, 1), "DRAFT"),
    ]
    april = _scheduled(contract)[2]
    assert _lines(invoice_view(invoice=april)) == [
        ("scheduled", "Onboarding", Decimal("500")),
        ("commit_purchase", "Prepaid commitment", Decimal("1000")),
    ]
    finalized = _scheduled(contract)[0]
    assert finalized.total == Decimal("12000")

    # Archiving the commit and the charge removes the drafts; the finalized invoice stays.
    contract_edit(
        contract=contract,
        now=t(2026, 3, 4),
        archive_commits=[commit.pk],
        archive_scheduled_charges=[charge.pk],
    )
    assert [(i.start_timestamp, i.status) for i in _scheduled(contract)] == [
        (t(2026, 3, 1), "FINALIZED")
    ]
    finalized.refresh_from_db()
    assert (finalized.status, finalized.total) == ("FINALIZED", Decimal("12000"))


def test_a_term_added_by_an_edit_makes_its_scheduled_draft():
    contract = _contract(charges=[], commits=[])
    assert _scheduled(contract) == []
    fixed = ProductFactory(type="FIXED", billable_metric=None, name="Setup")

    contract_edit(
        contract=contract,
        now=t(2026, 3, 3),
        add_scheduled_charges=[
            ScheduledChargeSpec(
                product=fixed,
                items=[InvoiceItemSpec(timestamp=t(2026, 6, 1), amount=Decimal("700"))],
            )
        ],
    )

    (draft,) = _scheduled(contract)
    assert draft.start_timestamp == t(2026, 6, 1)
    assert invoice_view(invoice=draft).total == Decimal("700")


def test_an_amount_edited_outside_the_services_shows_on_the_drafts_next_read():
    contract = _contract()
    april = _scheduled(contract)[2]
    CommitInvoiceItem.objects.filter(timestamp=t(2026, 4, 1)).update(amount=Decimal("1250"))

    assert invoice_view(invoice=april).total == Decimal("1250")


def test_the_scheduled_task_removes_drafts_of_dates_no_longer_scheduled():
    contract = _contract()
    ScheduledChargeItem.objects.filter(timestamp=t(2026, 3, 15, 12)).delete()

    drafts_ensure_all(now=t(2026, 3, 5))

    assert [i.start_timestamp for i in _scheduled(contract)] == [t(2026, 3, 1), t(2026, 4, 1)]


def test_archiving_the_contract_cancels_scheduled_drafts_and_keeps_finalized_ones():
    contract = _contract()
    invoices_finalize_due(now=t(2026, 3, 2))

    contract_archive(contract=contract, void_invoices=False, now=t(2026, 3, 3))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 4))

    assert [(i.start_timestamp, i.status) for i in _scheduled(contract)] == [
        (t(2026, 3, 1), "FINALIZED")
    ]


# --- Void and regenerate --------------------------------------------------------------------------


def test_void_and_regenerate_a_scheduled_invoice():
    contract = _contract()
    first = invoice_finalize(invoice=_scheduled(contract)[0], now=t(2026, 3, 1, 1)).invoice
    CommitInvoiceItem.objects.filter(timestamp=t(2026, 3, 1)).update(amount=Decimal("2500"))

    voided = invoice_void(invoice=first, now=t(2026, 3, 2))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))  # no new draft by itself
    assert [(i.status, i.start_timestamp) for i in _scheduled(contract)][:1] == [
        ("VOID", t(2026, 3, 1))
    ]
    assert len(_scheduled(contract)) == 3

    new = invoice_regenerate(invoice=voided, now=t(2026, 3, 2))
    assert (new.type, new.status, new.start_timestamp, new.end_timestamp) == (
        SCHEDULED,
        "DRAFT",
        t(2026, 3, 1),
        t(2026, 3, 1),
    )
    assert invoice_view(invoice=new).total == Decimal("12500")  # today's data
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 3))  # the regenerated draft stays
    assert Invoice.objects.filter(pk=new.pk, status="DRAFT").exists()
    outcome = invoice_finalize(invoice=new, now=t(2026, 3, 3))
    assert outcome.invoice.number == first.number + 1
    assert outcome.invoice.total == Decimal("12500")


# --- API ------------------------------------------------------------------------------------------


def test_api_lists_invoices_by_type(api_client):
    contract = _contract()
    url = f"/v1/customers/{contract.customer_id}/invoices"

    scheduled = api_client.get(url, {"type": "SCHEDULED"}).json()["data"]
    usage = api_client.get(url, {"type": "USAGE"}).json()["data"]
    consolidated = api_client.get(url, {"type": "usage_consolidated"}).json()["data"]
    everything = api_client.get(url).json()["data"]

    assert [(i["type"], i["start_timestamp"], i["end_timestamp"]) for i in scheduled] == [
        ("SCHEDULED", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"),
        ("SCHEDULED", "2026-03-15T12:00:00Z", "2026-03-15T12:00:00Z"),
        ("SCHEDULED", "2026-04-01T00:00:00Z", "2026-04-01T00:00:00Z"),
    ]
    assert scheduled[0]["total"] == 12000
    assert [line["type"] for line in scheduled[0]["line_items"]] == [
        "scheduled",
        "commit_purchase",
    ]
    assert {i["type"] for i in usage} == {"USAGE"}
    assert [i["start_timestamp"] for i in usage] == [
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    ]
    # Only an account hierarchy's parent has consolidated invoices (test_consolidated_invoices).
    assert consolidated == []
    assert len(everything) == 6


def test_api_finalized_scheduled_invoice_has_an_issue_date(api_client):
    contract = _contract()
    invoices_finalize_due(now=t(2026, 3, 2))
    first = _scheduled(contract)[0]

    data = api_client.get(f"/v1/customers/{contract.customer_id}/invoices/{first.pk}").json()[
        "data"
    ]

    assert (data["type"], data["status"], data["issued_at"]) == (
        "SCHEDULED",
        "FINALIZED",
        "2026-03-02T00:00:00Z",
    )


def test_api_refuses_an_unknown_type(api_client):
    contract = _contract()

    response = api_client.get(f"/v1/customers/{contract.customer_id}/invoices", {"type": "X"})

    assert response.status_code == 400
    assert "type" in response.json()["message"]


# --- Admin ----------------------------------------------------------------------------------------


def test_admin_pages_show_scheduled_invoices(admin_client):
    contract = _contract()
    invoices_finalize_due(now=t(2026, 3, 2))
    draft, finalized = _scheduled(contract, "DRAFT")[0], _scheduled(contract, "FINALIZED")[0]

    listing = admin_client.get(reverse("admin:invoicing_invoice_changelist"), {"type": "SCHEDULED"})
    page = admin_client.get(reverse("admin:invoicing_invoice_change", args=[finalized.pk]))
    draft_page = admin_client.get(reverse("admin:invoicing_invoice_change", args=[draft.pk]))
    printable = admin_client.get(reverse("admin:invoicing_invoice_print", args=[finalized.pk]))
    contract_page = admin_client.get(reverse("admin:customers_contract_change", args=[contract.pk]))

    for response in (listing, page, draft_page, printable, contract_page):
        assert response.status_code == 200
    assert "2026-03-01 00:00 UTC (scheduled date)" in page.content.decode()
    assert "Scheduled" in page.content.decode()
    assert "$120.00" in printable.content.decode()
    assert "<th>Date</th><td>March 1, 2026</td>" in printable.content.decode()
    body = contract_page.content.decode()
    assert "2026-03-15 12:00 UTC (scheduled date)" in body
    assert '<td data-label="Type">Scheduled</td>' in body
    assert '<td data-label="Type">Usage</td>' in body


# --- Terms edited without the services (the admin's inline forms) ---------------------------------


def test_a_due_scheduled_draft_left_without_items_is_removed_not_finalized():
    contract = _contract()
    ScheduledChargeItem.objects.filter(timestamp=t(2026, 3, 15, 12)).delete()

    invoices_finalize_due(now=t(2026, 3, 20))

    assert [(i.start_timestamp, i.status, i.number) for i in _scheduled(contract)] == [
        (t(2026, 3, 1), "FINALIZED", 3),  # after January's and February's usage invoices
        (t(2026, 4, 1), "DRAFT", None),
    ]


def test_finalizing_a_scheduled_draft_with_nothing_scheduled_is_refused():
    contract = _contract()
    draft = _scheduled(contract)[1]
    ScheduledChargeItem.objects.filter(timestamp=t(2026, 3, 15, 12)).delete()

    with pytest.raises(InvoiceStateError, match="Nothing is scheduled"):
        invoice_finalize(invoice=draft, now=t(2026, 3, 20))

    assert Invoice.objects.get(pk=draft.pk).status == "DRAFT"


# --- The flag changed after invoices were finalized: nothing is billed twice ----------------------


def _set_on_usage(contract, value: bool) -> None:
    contract.scheduled_charges_on_usage_invoices = value
    contract.save(update_fields=["scheduled_charges_on_usage_invoices"])


def test_dates_a_finalized_usage_invoice_billed_get_no_scheduled_invoice():
    contract = _contract(on_usage=True, now=t(2026, 3, 2))
    invoices_finalize_due(now=t(2026, 4, 3))  # March's usage invoice, with the March items
    _set_on_usage(contract, False)

    contract_drafts_ensure(contract=contract, now=t(2026, 4, 3))

    assert [i.start_timestamp for i in _scheduled(contract)] == [t(2026, 4, 1)]


def test_dates_billed_before_scheduled_invoices_existed_get_no_scheduled_invoice():
    contract = _contract(on_usage=True, now=t(2026, 3, 2))
    invoices_finalize_due(now=t(2026, 4, 3))
    march = Invoice.objects.get(contract=contract, type=USAGE, start_timestamp=t(2026, 3, 1))
    legacy = dict(march.rating_snapshot)
    del legacy["invoice_type"], legacy["scheduled_charges_on_usage_invoices"]
    Invoice.objects.filter(pk=march.pk).update(rating_snapshot=legacy)
    _set_on_usage(contract, False)

    contract_drafts_ensure(contract=contract, now=t(2026, 4, 3))

    assert [i.start_timestamp for i in _scheduled(contract)] == [t(2026, 4, 1)]
    assert rate_invoice(rating_input_from_json(legacy)).total == march.total


def test_dates_with_a_finalized_scheduled_invoice_stay_off_the_usage_invoice():
    contract = _contract(now=t(2026, 3, 2))
    invoices_finalize_due(now=t(2026, 3, 2))  # the Mar 1 scheduled invoice
    _set_on_usage(contract, True)
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 3))  # drops the other drafts
    march = Invoice.objects.get(contract=contract, type=USAGE, start_timestamp=t(2026, 3, 1))

    view = invoice_view(invoice=march, now=t(2026, 3, 20))

    assert [(i.start_timestamp, i.status) for i in _scheduled(contract)] == [
        (t(2026, 3, 1), "FINALIZED")
    ]
    assert _lines(view) == [("scheduled", "Onboarding", Decimal("2999"))]  # Mar 15 only


def test_api_date_filters_take_a_scheduled_invoices_date_as_its_period(api_client):
    contract = _contract()
    url = f"/v1/customers/{contract.customer_id}/invoices"

    response = api_client.get(
        url,
        {
            "type": "SCHEDULED",
            "starting_on": "2026-03-01T00:00:00Z",
            "ending_before": "2026-04-01T00:00:00Z",
        },
    )

    assert [i["start_timestamp"] for i in response.json()["data"]] == [
        "2026-03-01T00:00:00Z",
        "2026-03-15T12:00:00Z",  # not Apr 1: ending_before is exclusive for a date
    ]
    march = api_client.get(
        url, {"starting_on": "2026-03-01T00:00:00Z", "ending_before": "2026-04-01T00:00:00Z"}
    ).json()["data"]
    assert sorted((i["start_timestamp"], i["type"]) for i in march) == [
        ("2026-03-01T00:00:00Z", "SCHEDULED"),
        ("2026-03-01T00:00:00Z", "USAGE"),
        ("2026-03-15T12:00:00Z", "SCHEDULED"),
    ]
