"""`manage.py backup PATH` / `restore PATH` round-trip a database with events and a finalized
invoice, on SQLite (online backup API) and PostgreSQL (pg_dump / pg_restore)."""

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum

from invoicing.models import Invoice, InvoiceLineItem
from invoicing.services import contract_drafts_ensure, invoice_finalize
from metering.models import MetricAggregate, UsageEvent
from tests.invoicing.factories import ingest
from tests.invoicing.golden_support import case_paths, load_case
from tests.invoicing.golden_world import build_world

pytestmark = pytest.mark.django_db(transaction=True)


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def figures() -> dict:
    return {
        "events": UsageEvent.objects.count(),
        "aggregated": MetricAggregate.objects.aggregate(n=Sum("event_count"))["n"],
        "invoices": Invoice.objects.count(),
        "finalized": list(
            Invoice.objects.filter(status="FINALIZED").values_list("number", "total")
        ),
        "lines": InvoiceLineItem.objects.count(),
        "line_total": InvoiceLineItem.objects.aggregate(s=Sum("total"))["s"],
    }


@pytest.fixture
def world():
    from tests.catalog.factories import usd_cents

    usd_cents()
    case = load_case(case_paths()[0])
    world = build_world(case)
    contract_drafts_ensure(contract=world.contract, now=t(2026, 3, 20))
    ingest([world.event(data) for data in case["events"]])
    march = Invoice.objects.get(contract=world.contract, start_timestamp=t(2026, 3, 1))
    invoice_finalize(invoice=march, now=t(2026, 4, 3))
    return world


def test_a_backup_restores_every_event_and_invoice(world, tmp_path):
    before = figures()
    assert before["events"] > 0 and before["finalized"] and before["lines"] > 0
    path = tmp_path / "billing.backup"
    call_command("backup", str(path))
    assert path.stat().st_size > 0
    assert not (tmp_path / "billing.backup.partial").exists()

    # Whatever happens afterwards (here: everything lost) is undone by the restore.
    InvoiceLineItem.objects.all().delete()
    Invoice.objects.all().delete()
    UsageEvent.objects.all().delete()
    MetricAggregate.objects.all().delete()
    assert figures()["events"] == 0

    call_command("restore", str(path), interactive=False)
    assert figures() == before
    # The restored database is in working order: the draft of April is still rated on read.
    assert Invoice.objects.filter(status="DRAFT").exists()


def test_restoring_something_else_is_refused(db, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup")
    with pytest.raises(CommandError, match=r"is not a backup made by `manage\.py backup`"):
        call_command("restore", str(junk), interactive=False)
    other = tmp_path / "other.backup"
    other.write_bytes(b"PGDMP" if connection.vendor == "sqlite" else b"SQLite format 3\x00")
    with pytest.raises(CommandError, match="Restore it into the same kind of database"):
        call_command("restore", str(other), interactive=False)
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("restore", str(tmp_path / "missing"), interactive=False)
