"""`manage.py backup PATH` / `restore PATH` with the ClickHouse event store (chdb): the store's
tables go to PATH.events/ beside the database's backup and come back with it, so a restore gives
the same drafts; a backup and a store that do not match are refused before anything is replaced."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from billing_site import backups
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.selectors import invoice_view
from invoicing.services import contract_drafts_ensure, invoice_finalize
from metering.models import UsageMark
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


def test_events_accepted_after_the_database_backup_are_kept_and_their_customers_marked(
    chdb_store, world, tmp_path, monkeypatch
):
    """The store is snapshotted after the database: an event accepted in between is in the
    store's backup (it was acknowledged), and the restore marks its customer for alerts, which
    the restored database never did. The snapshot's copies of the tables are gone."""
    path = tmp_path / "billing.backup"
    real_database_backup = backups.database_backup
    now = datetime.now(UTC)

    def database_then_an_event(*args, **kwargs):
        kind = real_database_backup(*args, **kwargs)
        event = {
            "transaction_id": "in-between",
            "customer_id": "acme-late",
            "event_type": "x",
            "timestamp": (now - timedelta(hours=1)).isoformat(),
            "properties": {},
        }
        ingest([event], now=datetime.now(UTC))
        return kind

    monkeypatch.setattr(backups, "database_backup", database_then_an_event)
    UsageMark.objects.all().delete()  # the database's backup holds no mark
    call_command("backup", str(path))
    rows = _event_rows(chdb_store)
    manifest = json.loads((tmp_path / "billing.backup.events" / "manifest.json").read_text())
    assert manifest["database_started_at"] <= manifest["taken_at"]
    assert chdb_store.client.rows(
        "SELECT count() FROM system.tables WHERE position(name, '_snapshot_') > 0"
    ) == [[0]]

    call_command("restore", str(path), interactive=False)

    assert _event_rows(chdb_store) == rows
    assert [e.transaction_id for e in chdb_store.recent_events(transaction_id="in-between")] == [
        "in-between"
    ]
    assert list(UsageMark.objects.values_list("customer_id", flat=True)) == ["acme-late"]


def test_the_store_is_snapshotted_while_no_flush_can_run(chdb_store, world, tmp_path, monkeypatch):
    from metering.stores.clickhouse import backup as store_backup

    held = []
    real_snapshot = store_backup._snapshot

    def snapshot(client, table, copy):
        held.append((table.name, chdb_store._writer.locked()))
        return real_snapshot(client, table, copy)

    monkeypatch.setattr(store_backup, "_snapshot", snapshot)
    call_command("backup", str(tmp_path / "billing.backup"))
    assert held == [("usage", True), ("duplicates", True)]
    assert not chdb_store._writer.locked()
