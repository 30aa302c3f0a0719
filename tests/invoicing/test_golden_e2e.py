"""Golden invoices end to end: the world through the ORM, the events through POST /v1/ingest, the
draft read through the API, finalization, and the persisted invoice compared with the file.

The clock of the ingest view is frozen one hour after each event (events are sent one request
each), so golden timestamps stay inside the accepted 34-day window without shifting any date: the
periods, rate changes and proration stay exactly as written in the files.

A case's SCHEDULED invoices (`expected_scheduled_invoices`) are checked the same way: the drafts
exist once the contract's drafts are ensured, each is read through the API, finalized at its date
and compared with the file; a case without them must have no scheduled invoice at all.
"""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from invoicing.models import Invoice
from invoicing.services import contract_drafts_ensure, invoice_finalize
from tests.invoicing.golden_support import (
    canonical_line,
    case_paths,
    load_case,
    parse_time,
    scheduled_dates,
)
from tests.invoicing.golden_world import build_world, line_item_as_case, sort_key

ingest_view = pytest.importorskip("metering.api.ingest")


def send_events(api_client, monkeypatch, world, events):
    for data in sorted(events, key=lambda e: parse_time(e["timestamp"])):
        frozen = parse_time(data["timestamp"]) + timedelta(hours=1)
        monkeypatch.setattr(ingest_view, "timezone", SimpleNamespace(now=lambda f=frozen: f))
        response = api_client.post("/v1/ingest", [world.event(data)], format="json")
        assert response.status_code == 200, response.content


def check_scheduled_invoices(case, world, api_client, as_case) -> None:
    """The contract's SCHEDULED invoices equal the case's `expected_scheduled_invoices`: drafts
    on read through the API, then finalized at their date (no grace), lines and totals frozen.
    `as_case(line)` turns a stored line into the golden line shape."""
    expected = case.get("expected_scheduled_invoices") or []
    drafts = list(
        Invoice.objects.filter(contract=world.contract, type=Invoice.Type.SCHEDULED).order_by(
            "start_timestamp"
        )
    )
    assert [d.start_timestamp for d in drafts] == scheduled_dates(case)
    assert [d.start_timestamp for d in drafts] == [parse_time(e["timestamp"]) for e in expected]
    for draft, item in zip(drafts, expected, strict=True):
        assert draft.status == "DRAFT"
        assert draft.end_timestamp == draft.start_timestamp
        read = api_client.get(f"/v1/customers/{world.customer.id}/invoices/{draft.id}")
        assert read.status_code == 200
        on_read = read.json()["data"]
        assert on_read["type"] == "SCHEDULED"
        assert Decimal(str(on_read["total"])) == Decimal(item["total"])
        outcome = invoice_finalize(invoice=draft, now=draft.start_timestamp)
        invoice = Invoice.objects.get(pk=outcome.invoice.pk)
        assert invoice.status == "FINALIZED"
        got = sorted(
            (canonical_line(as_case(line)) for line in invoice.line_items.all()), key=sort_key
        )
        assert got == sorted((canonical_line(line) for line in item["lines"]), key=sort_key)
        assert invoice.subtotal == Decimal(item["subtotal"])
        assert invoice.total == Decimal(item["total"])


@pytest.mark.django_db
@pytest.mark.parametrize("path", case_paths(), ids=lambda path: path.stem)
def test_golden_case_end_to_end(path, api_client, monkeypatch):
    case = load_case(path)
    world = build_world(case)
    period_start = parse_time(case["period"]["starting_at"])
    period_end = parse_time(case["period"]["ending_before"])
    contract_drafts_ensure(contract=world.contract, now=period_start)
    draft = Invoice.objects.get(
        contract=world.contract, type=Invoice.Type.USAGE, start_timestamp=period_start
    )
    assert draft.end_timestamp == period_end

    send_events(api_client, monkeypatch, world, case["events"])

    expected_lines = sorted(
        (canonical_line(line) for line in case["expected"]["lines"]), key=sort_key
    )
    read = api_client.get(f"/v1/customers/{world.customer.id}/invoices/{draft.id}")
    assert read.status_code == 200
    on_read = read.json()["data"]
    assert on_read["status"] == "DRAFT"
    assert Decimal(str(on_read["total"])) == Decimal(case["expected"]["total"])
    assert len(on_read["line_items"]) == len(expected_lines)

    outcome = invoice_finalize(invoice=draft, now=period_end + timedelta(days=2))
    invoice = Invoice.objects.get(pk=outcome.invoice.pk)
    assert invoice.status == "FINALIZED"
    got = sorted(
        (canonical_line(line_item_as_case(line, world)) for line in invoice.line_items.all()),
        key=sort_key,
    )
    assert got == expected_lines
    assert invoice.subtotal == Decimal(case["expected"]["subtotal"])
    assert invoice.total == Decimal(case["expected"]["total"])
    frozen = api_client.get(f"/v1/customers/{world.customer.id}/invoices/{draft.id}").json()
    assert frozen["data"]["total"] == on_read["total"]
    check_scheduled_invoices(case, world, api_client, lambda line: line_item_as_case(line, world))
