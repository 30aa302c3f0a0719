from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from core.schedules import all_schedules
from invoicing import tasks
from invoicing.models import Invoice
from tests.invoicing.factories import ContractFactory

pytestmark = pytest.mark.django_db


def test_invoicing_schedules_are_declared_and_installed_idempotently():
    names = {spec.name for spec in all_schedules()}
    assert {"invoicing.ensure_drafts", "invoicing.finalize_due_invoices"} <= names
    call_command("setup_schedules")
    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="invoicing.finalize_due_invoices")
    assert schedule.func == "invoicing.tasks.finalize_due_invoices"
    assert Schedule.objects.filter(name="invoicing.finalize_due_invoices").count() == 1


def test_tasks_are_thin_wrappers_over_the_services(monkeypatch):
    ContractFactory(starting_at=datetime(2026, 1, 1, tzinfo=UTC))
    monkeypatch.setattr(tasks.timezone, "now", lambda: datetime(2026, 2, 15, tzinfo=UTC))
    assert tasks.ensure_drafts() == 2
    assert tasks.finalize_due_invoices() == 1
    assert Invoice.objects.filter(status="FINALIZED").count() == 1
