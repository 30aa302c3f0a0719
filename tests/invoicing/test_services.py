"""Drafts, finalization (numbering, snapshot, idempotency), void and regenerate, late events."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings

from invoicing.models import Invoice, InvoiceNumberSequence
from invoicing.rating import rate_invoice, rating_input_from_json
from invoicing.selectors import (
    contract_invoices,
    customer_late_event_count,
    events_late,
    finalized_periods_for,
    invoice_view,
    is_late,
)
from invoicing.services import (
    InvoiceStateError,
    contract_drafts_ensure,
    contract_drafts_fit,
    drafts_ensure_all,
    invoice_finalize,
    invoice_regenerate,
    invoice_void,
    invoices_finalize_due,
)
from tests.invoicing.factories import ContractFactory, IngestAliasFactory, RateFactory, ingest
from tests.invoicing.golden_support import case_paths, load_case
from tests.invoicing.golden_world import build_world
from tests.metering.stored import stored_events

pytestmark = pytest.mark.django_db


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def periods_of(contract):
    return [
        (i.start_timestamp, i.end_timestamp, i.status)
        for i in Invoice.objects.filter(contract=contract).order_by("start_timestamp")
    ]


def event(customer_id, when, tokens="1000000", **properties):
    (stored,) = ingest(
        [
            {
                "transaction_id": f"tx-{when.isoformat()}-{tokens}",
                "customer_id": customer_id,
                "event_type": "tokens_usage",
                "timestamp": when.isoformat(),
                "properties": {
                    "num_tokens": tokens,
                    "model_name": "model-A",
                    "user_id": "alice",
                    **properties,
                },
            }
        ]
    )
    return stored


def seed_world():
    """The seed's example: model A at 1.50 and model B at 0.30 per million tokens (in cents)."""
    case = load_case(case_paths()[0])
    return case, build_world(case)


def test_contract_drafts_ensure_creates_every_started_period_once():
    contract = ContractFactory(starting_at=t(2026, 1, 15))
    assert contract_drafts_ensure(contract=contract, now=t(2026, 3, 2)) == 3
    assert contract_drafts_ensure(contract=contract, now=t(2026, 3, 2)) == 0
    assert periods_of(contract) == [
        (t(2026, 1, 15), t(2026, 2, 1), "DRAFT"),
        (t(2026, 2, 1), t(2026, 3, 1), "DRAFT"),
        (t(2026, 3, 1), t(2026, 4, 1), "DRAFT"),
    ]


def test_a_contract_starting_later_gets_its_first_period_draft():
    contract = ContractFactory(starting_at=t(2026, 6, 10))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    assert periods_of(contract) == [(t(2026, 6, 10), t(2026, 7, 1), "DRAFT")]


def test_drafts_ensure_all_covers_active_contracts_only():
    active = ContractFactory(starting_at=t(2026, 3, 1))
    archived = ContractFactory(starting_at=t(2026, 3, 1), archived_at=t(2026, 3, 1))
    assert drafts_ensure_all(now=t(2026, 3, 5)) == 1
    assert len(periods_of(active)) == 1
    assert periods_of(archived) == []


def test_draft_reads_every_event_already_stored():
    _case, world = seed_world()
    contract_drafts_ensure(contract=world.contract, now=t(2026, 3, 5))
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    assert invoice_view(invoice=draft, now=t(2026, 3, 5)).total == Decimal(0)
    event("acme-prod", t(2026, 3, 4), "2000000")
    view = invoice_view(invoice=draft, now=t(2026, 3, 5))
    assert view.total == Decimal("300")
    assert [(line.quantity, line.unit_price, line.total) for line in view.lines] == [
        (Decimal("2"), Decimal("150"), Decimal("300"))
    ]
    assert draft.line_items.count() == 0


def test_finalize_freezes_lines_snapshot_number_and_issue_date():
    case, world = seed_world()
    contract_drafts_ensure(contract=world.contract, now=t(2026, 3, 5))
    ingest([world.event(data) for data in case["events"]])
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    on_read = invoice_view(invoice=draft, now=t(2026, 4, 2))
    outcome = invoice_finalize(invoice=draft, now=t(2026, 4, 2, 1))
    invoice = Invoice.objects.get(pk=draft.pk)
    assert outcome.finalized
    assert invoice.status == "FINALIZED"
    assert invoice.issued_at == t(2026, 4, 2, 1)
    assert invoice.number == 1
    assert invoice.total == Decimal(case["expected"]["total"])
    assert invoice.total == on_read.total
    frozen = list(invoice.line_items.order_by("position"))
    assert [(li.name, li.quantity, li.unit_price, li.total) for li in frozen] == [
        (li.name, li.quantity, li.unit_price, li.total) for li in on_read.lines
    ]
    # Re-rating the snapshot reproduces the invoice to the cent.
    rerated = rate_invoice(rating_input_from_json(invoice.rating_snapshot))
    assert rerated.total == invoice.total
    assert rerated.subtotal == invoice.subtotal
    assert [line.total for line in rerated.lines] == [li.total for li in frozen]
    # The next period's draft exists.
    assert (t(2026, 4, 1), t(2026, 5, 1), "DRAFT") in periods_of(world.contract)


def test_finalized_invoice_ignores_later_events():
    _case, world = seed_world()
    contract_drafts_ensure(contract=world.contract, now=t(2026, 3, 5))
    event("acme-prod", t(2026, 3, 4), "1000000")
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    invoice_finalize(invoice=draft, now=t(2026, 4, 3))
    event("acme-prod", t(2026, 3, 5), "5000000")
    view = invoice_view(invoice=Invoice.objects.get(pk=draft.pk), now=t(2026, 4, 4))
    assert view.total == Decimal("150")
    assert [line.quantity for line in view.lines] == [Decimal("1")]


def test_finalize_twice_finalizes_once():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    draft = Invoice.objects.get(contract=contract)
    assert invoice_finalize(invoice=draft, now=t(2026, 4, 3)).finalized
    again = invoice_finalize(invoice=draft, now=t(2026, 4, 4))
    assert not again.finalized
    assert again.invoice.issued_at == t(2026, 4, 3)
    assert InvoiceNumberSequence.objects.get(name="invoice").last_number == 1


@override_settings(BILLING_FINALIZATION_GRACE=timedelta(hours=24))
def test_finalize_due_respects_the_grace_period_and_numbers_in_sequence():
    first = ContractFactory(starting_at=t(2026, 2, 1))
    second = ContractFactory(starting_at=t(2026, 3, 1))
    drafts_ensure_all(now=t(2026, 3, 10))
    assert invoices_finalize_due(now=t(2026, 4, 1, 23, 59)) == 1  # February only
    assert invoices_finalize_due(now=t(2026, 4, 2)) == 2  # both Marches
    assert invoices_finalize_due(now=t(2026, 4, 2)) == 0
    numbers = sorted(Invoice.objects.filter(status="FINALIZED").values_list("number", flat=True))
    assert numbers == [1, 2, 3]
    assert (t(2026, 4, 1), t(2026, 5, 1), "DRAFT") in periods_of(first)
    assert (t(2026, 4, 1), t(2026, 5, 1), "DRAFT") in periods_of(second)


def test_finalize_invoices_command_takes_now():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    call_command("finalize_invoices", "--now", "2026-04-05T00:00:00Z")
    assert [s for _, _, s in periods_of(contract)] == ["FINALIZED", "DRAFT"]


def test_finalize_refuses_a_void_invoice():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    draft = Invoice.objects.get(contract=contract)
    invoice_finalize(invoice=draft, now=t(2026, 4, 3))
    invoice_void(invoice=draft, now=t(2026, 4, 4))
    with pytest.raises(InvoiceStateError):
        invoice_finalize(invoice=draft, now=t(2026, 4, 5))


def test_void_only_a_finalized_invoice():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    draft = Invoice.objects.get(contract=contract)
    with pytest.raises(InvoiceStateError, match="DRAFT"):
        invoice_void(invoice=draft, now=t(2026, 3, 3))
    invoice_finalize(invoice=draft, now=t(2026, 4, 3))
    voided = invoice_void(invoice=draft, now=t(2026, 4, 4))
    assert (voided.status, voided.voided_at) == ("VOID", t(2026, 4, 4))
    with pytest.raises(InvoiceStateError):
        invoice_void(invoice=draft, now=t(2026, 4, 5))


def test_regenerate_makes_a_new_draft_of_the_period_from_todays_data():
    _case, world = seed_world()
    contract_drafts_ensure(contract=world.contract, now=t(2026, 3, 5))
    event("acme-prod", t(2026, 3, 4), "1000000")
    draft = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    invoice_finalize(invoice=draft, now=t(2026, 4, 3))
    event("acme-prod", t(2026, 3, 5), "1000000")
    with pytest.raises(InvoiceStateError, match="only a VOID"):
        invoice_regenerate(invoice=draft, now=t(2026, 4, 4))
    invoice_void(invoice=draft, now=t(2026, 4, 4))
    new = invoice_regenerate(invoice=draft, now=t(2026, 4, 4))
    assert (new.status, new.regenerated_from_id) == ("DRAFT", draft.id)
    assert (new.start_timestamp, new.end_timestamp) == (draft.start_timestamp, draft.end_timestamp)
    assert invoice_view(invoice=new, now=t(2026, 4, 4)).total == Decimal("300")
    with pytest.raises(InvoiceStateError, match="already has a DRAFT"):
        invoice_regenerate(invoice=draft, now=t(2026, 4, 4))
    outcome = invoice_finalize(invoice=new, now=t(2026, 4, 5))
    assert (outcome.invoice.number, outcome.invoice.total) == (2, Decimal("300"))


def test_drafts_ensure_leaves_a_voided_period_alone():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    draft = Invoice.objects.get(contract=contract)
    invoice_finalize(invoice=draft, now=t(2026, 4, 3))
    invoice_void(invoice=draft, now=t(2026, 4, 4))
    contract_drafts_ensure(contract=contract, now=t(2026, 4, 5))
    assert [s for _, _, s in periods_of(contract)] == ["VOID", "DRAFT"]


def test_finalized_periods_for_ids_and_aliases_and_late_count():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    alias = IngestAliasFactory(customer=contract.customer, alias="acme-prod")
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    invoice_finalize(invoice=Invoice.objects.get(contract=contract), now=t(2026, 4, 3))
    found = finalized_periods_for(customer_ids=[str(contract.customer_id), alias.alias, "nobody"])
    assert found[alias.alias] == [(t(2026, 3, 1), t(2026, 4, 1))]
    assert found[str(contract.customer_id)] == [(t(2026, 3, 1), t(2026, 4, 1))]
    assert "nobody" not in found
    assert is_late(found[alias.alias], t(2026, 3, 31, 23))
    assert not is_late(found[alias.alias], t(2026, 4, 1))
    # Sent after the March invoice was finalized: the March event is late, the April one not.
    late, on_time = ingest(
        [
            {
                "transaction_id": f"tx-{when:%m-%d}",
                "customer_id": "acme-prod",
                "event_type": "tokens_usage",
                "timestamp": when.isoformat(),
                "properties": {"num_tokens": "1"},
            }
            for when in (t(2026, 3, 20), t(2026, 4, 2))
        ],
        now=t(2026, 4, 5),
    )
    assert (late.is_late, on_time.is_late) == (True, False)
    assert customer_late_event_count(customer=contract.customer) == 1


def test_contract_invoices_newest_first():
    contract = ContractFactory(starting_at=t(2026, 1, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    starts = [i.start_timestamp.month for i in contract_invoices(contract=contract)]
    assert starts == [3, 2, 1]


def test_tiered_rate_factory_world_finalizes():
    rate = RateFactory(rate_type="TIERED", price=None)
    rate.tiers.create(level=1, size=Decimal(1), price=Decimal(100))
    rate.tiers.create(level=2, price=Decimal(80))
    contract = ContractFactory(rate_card=rate.rate_card, starting_at=t(2026, 3, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    event(str(contract.customer_id), t(2026, 3, 3), "3")
    invoice = invoice_finalize(invoice=Invoice.objects.get(contract=contract), now=t(2026, 4, 5))
    lines = list(invoice.invoice.line_items.order_by("position"))
    assert [(li.tier_level, li.quantity, li.total) for li in lines] == [
        (1, Decimal(1), Decimal(100)),
        (2, Decimal(2), Decimal(160)),
    ]


def test_events_late_hook_answers_per_event():
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    IngestAliasFactory(customer=contract.customer, alias="acme-prod")
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    invoice_finalize(invoice=Invoice.objects.get(contract=contract), now=t(2026, 4, 3))
    assert events_late(
        [
            ("acme-prod", t(2026, 3, 31)),
            (str(contract.customer_id), t(2026, 3, 1)),
            ("acme-prod", t(2026, 4, 1)),
            ("someone-else", t(2026, 3, 15)),
        ]
    ) == [True, True, False, False]


def test_late_event_through_ingestion_is_flagged_and_changes_no_finalized_invoice():
    services = pytest.importorskip("metering.services")
    contract = ContractFactory(starting_at=t(2026, 3, 1))
    IngestAliasFactory(customer=contract.customer, alias="acme-prod")
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    invoice = invoice_finalize(
        invoice=Invoice.objects.get(contract=contract), now=t(2026, 4, 3)
    ).invoice
    services.usage_events_ingest(
        events=[
            {
                "transaction_id": "late-1",
                "customer_id": "acme-prod",
                "event_type": "tokens_usage",
                "timestamp": "2026-03-30T10:00:00Z",
                "properties": {"num_tokens": "1000000", "model_name": "model-A"},
            },
            {
                "transaction_id": "on-time-1",
                "customer_id": "acme-prod",
                "event_type": "tokens_usage",
                "timestamp": "2026-04-02T10:00:00Z",
                "properties": {"num_tokens": "1000000", "model_name": "model-A"},
            },
        ],
        now=t(2026, 4, 5),
        is_late=events_late,
    )
    assert {e.transaction_id: e.is_late for e in stored_events()} == {
        "late-1": True,
        "on-time-1": False,
    }
    assert customer_late_event_count(customer=contract.customer) == 1
    assert invoice_view(invoice=Invoice.objects.get(pk=invoice.pk)).total == invoice.total


def test_one_failing_invoice_does_not_hold_back_the_batch(monkeypatch):
    from invoicing import services

    good = ContractFactory(starting_at=t(2026, 3, 1))
    bad = ContractFactory(starting_at=t(2026, 3, 1))
    broken = RateFactory(rate_card=bad.rate_card)
    drafts_ensure_all(now=t(2026, 3, 2))
    real = services.rate_invoice

    def flaky(rating_input):
        if any(rate.id == str(broken.id) for rate in rating_input.rates):
            raise RuntimeError("a broken rate card")
        return real(rating_input)

    monkeypatch.setattr(services, "rate_invoice", flaky)
    assert invoices_finalize_due(now=t(2026, 4, 5)) == 1
    assert [s for _, _, s in periods_of(good)] == ["FINALIZED", "DRAFT"]
    assert [s for _, _, s in periods_of(bad)] == ["DRAFT", "DRAFT"]
    assert Invoice.objects.get(contract=good, status="FINALIZED").number == 1


@pytest.mark.parametrize("void_invoices", [False, True])
def test_archiving_a_contract_cancels_drafts_and_voids_on_request(void_invoices):
    from invoicing.services import contract_invoices_archive

    contract = ContractFactory(starting_at=t(2026, 2, 1))
    contract_drafts_ensure(contract=contract, now=t(2026, 3, 2))
    invoice_finalize(
        invoice=Invoice.objects.get(contract=contract, start_timestamp=t(2026, 2, 1)),
        now=t(2026, 3, 3),
    )
    contract.archived_at = t(2026, 3, 4)
    contract.save()
    result = contract_invoices_archive(
        contract=contract, void_invoices=void_invoices, now=t(2026, 3, 4)
    )
    assert result == {"drafts_cancelled": 1, "voided": int(void_invoices)}
    assert [s for _, _, s in periods_of(contract)] == ["VOID" if void_invoices else "FINALIZED"]
    assert drafts_ensure_all(now=t(2026, 5, 1)) == 0


def test_fitting_drafts_to_an_earlier_end_cuts_one_and_removes_the_later_ones():
    contract = ContractFactory(starting_at=t(2026, 1, 10), usage_statement_day="CONTRACT_START")
    contract_drafts_ensure(contract=contract, now=t(2026, 4, 20))
    invoice_finalize(
        invoice=Invoice.objects.get(contract=contract, start_timestamp=t(2026, 1, 10)),
        now=t(2026, 2, 12),
    )
    contract.ending_before = t(2026, 2, 25)
    contract.save(update_fields=["ending_before"])

    outcome = contract_drafts_fit(contract=contract, now=t(2026, 4, 20))

    assert outcome == {"drafts_removed": 2, "drafts_cut": 1}
    assert periods_of(contract) == [
        (t(2026, 1, 10), t(2026, 2, 10), Invoice.Status.FINALIZED),
        (t(2026, 2, 10), t(2026, 2, 25), Invoice.Status.DRAFT),
    ]
    # What a fresh draft of the same contract would be: the same period.
    Invoice.objects.filter(contract=contract, status=Invoice.Status.DRAFT).delete()
    contract_drafts_ensure(contract=contract, now=t(2026, 4, 20))
    assert periods_of(contract)[-1] == (t(2026, 2, 10), t(2026, 2, 25), Invoice.Status.DRAFT)
    assert contract_drafts_fit(contract=contract, now=t(2026, 4, 20)) == {
        "drafts_removed": 0,
        "drafts_cut": 0,
    }
