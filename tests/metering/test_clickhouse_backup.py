"""`manage.py backup PATH` / `restore PATH` with the ClickHouse event store (chdb): the store's
tables go to PATH.events/ beside the database's backup and come back with it, so a restore gives
the same drafts; a backup and a store that do not match are refused before anything is replaced."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from invoicing.models import Invoice, InvoiceLineItem
from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure, invoice_finalize
from metering.stores.clickhouse.client import parse_url
from tests.invoicing.factories import ingest
from tests.invoicing.golden_support import case_paths, load_case
from tests.invoicing.golden_world import build_world

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 4, 3, tzinfo=UTC)


def _event_rows(store) -> list:
    """Per kind of row: the events stored, what the aggregates count and sum (merged rows are
    fewer, their sums the same)."""
    return store.client.rows(
        f"SELECT kind, countIf(kind = 'event'), sum(event_count), toString(sum(sum_int)) "
        f"FROM {store.database}.usage GROUP BY kind ORDER BY kind"
    )


def _drafts() -> list:
    return [
        (str(invoice.start_timestamp), invoice_view(invoice=invoice, now=NOW).total)
        for invoice in Invoice.objects.filter(status="DRAFT").order_by("start_timestamp")
    ]


@pytest.fixture
def world(chdb_store):
    from tests.catalog.factories import usd_cents

    usd_cents()
    case = load_case(case_paths()[0])
    world = build_world(case)
    contract_drafts_ensure(contract=world.contract, now=datetime(2026, 3, 20, tzinfo=UTC))
    ingest([world.event(data) for data in case["events"]])
    march = Invoice.objects.get(
        contract=world.contract, start_timestamp=datetime(2026, 3, 1, tzinfo=UTC)
    )
    invoice_finalize(invoice=march, now=NOW)
    # April's usage, in a draft rated on read from the store.
    ingest(
        [
            world.event(
                {**data, "transaction_id": f"april-{n}", "timestamp": "2026-04-02T10:00:00Z"}
            )
            for n, data in enumerate(case["events"])
        ]
    )
    return world


def test_a_backup_restores_the_event_store_and_the_same_drafts(chdb_store, world, tmp_path):
    rows, drafts = _event_rows(chdb_store), _drafts()
    assert [kind for kind, *_ in rows] == ["event", "aggregate", "day", "month"]
    assert drafts == [
        ("2026-01-01 00:00:00+00:00", Decimal("0")),
        ("2026-02-01 00:00:00+00:00", Decimal("1050")),
        ("2026-04-01 00:00:00+00:00", Decimal("1965")),
    ]
    path = tmp_path / "billing.backup"

    call_command("backup", str(path))

    events = tmp_path / "billing.backup.events"
    assert sorted(p.name for p in events.iterdir()) == [
        "duplicates.native",
        "manifest.json",
        "usage.native",
    ]
    assert not (tmp_path / "billing.backup.events.partial").exists()
    # Everything lost: the events and the invoices.
    for table in ("usage", "duplicates"):
        chdb_store.client.command(f"TRUNCATE TABLE {chdb_store.database}.{table}")
    InvoiceLineItem.objects.all().delete()
    Invoice.objects.all().delete()
    assert _event_rows(chdb_store) == []

    call_command("restore", str(path), interactive=False)

    assert _event_rows(chdb_store) == rows
    assert _drafts() == drafts
    # Restoring again gives the same, not twice the events.
    call_command("restore", str(path), interactive=False)
    assert _event_rows(chdb_store) == rows
    assert _drafts() == drafts


def test_a_backup_without_the_event_store_is_refused_by_a_clickhouse_store(
    chdb_store, world, settings, tmp_path
):
    path = tmp_path / "billing.backup"
    settings.EVENT_STORE_URL = ""
    call_command("backup", str(path))
    assert not (tmp_path / "billing.backup.events").exists()
    settings.EVENT_STORE_URL = chdb_store.url
    rows = _event_rows(chdb_store)

    with pytest.raises(CommandError, match=r"has no event store backup .*would be lost"):
        call_command("restore", str(path), interactive=False)
    assert _event_rows(chdb_store) == rows


def test_a_backup_with_the_event_store_is_refused_by_the_relational_store(
    chdb_store, world, settings, tmp_path
):
    path = tmp_path / "billing.backup"
    call_command("backup", str(path))
    settings.EVENT_STORE_URL = ""
    invoices = Invoice.objects.count()

    with pytest.raises(CommandError, match="was taken with a ClickHouse event store"):
        call_command("restore", str(path), interactive=False)
    assert Invoice.objects.count() == invoices


def test_an_event_store_backup_from_newer_code_is_refused(chdb_store, world, tmp_path):
    path = tmp_path / "billing.backup"
    call_command("backup", str(path))
    manifest = tmp_path / "billing.backup.events" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"0002_duplicates"', '"0099_later"'))

    with pytest.raises(CommandError, match=r"taken by newer code .*0099_later"):
        call_command("restore", str(path), interactive=False)


def test_a_backup_while_another_process_has_the_chdb_store_open_is_refused(chdb_store, tmp_path):
    path = tmp_path / "billing.backup"
    done = subprocess.run(
        [sys.executable, "manage.py", "backup", str(path)],
        capture_output=True,
        text=True,
        cwd=django_settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "billing_site.settings.test",
            "EVENT_STORE_URL": chdb_store.url,
        },
        timeout=120,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.startswith(
        f"CommandError: The chdb event store {parse_url(chdb_store.url).path} is open in another "
        f"process (pid {os.getpid()})."
    )
    assert not path.exists()
