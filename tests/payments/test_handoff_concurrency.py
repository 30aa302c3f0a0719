"""The hand-off sends several invoices at once, in threads with their own database connections
(PostgreSQL: SQLite's in-memory test database cannot be shared by writing threads)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection as db
from django.db import connections

from payments.models import InvoicePayment
from payments.services import handoff, invoice_payment_queue, invoice_payments_send_due

from .conftest import FINALIZED_AT, finalized_invoice

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DUE = FINALIZED_AT + timedelta(hours=1)


@pytest.fixture(autouse=True)
def _postgres_only():
    if db.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: threads writing one in-memory SQLite database lock it")


def _queued(count: int) -> list:
    invoices = [finalized_invoice(number=100 + n) for n in range(count)]
    for invoice in invoices:
        invoice_payment_queue(invoice=invoice, now=FINALIZED_AT)
    return invoices


def _keys_in_order(fake, invoice) -> list[str]:
    prefix = f"billing-{invoice.pk}-"
    return [
        c.idempotency_key.removeprefix(prefix).split("-")[0]
        for c in fake.calls
        if c.idempotency_key and c.idempotency_key.startswith(prefix)
    ]


def _sessions(expected: int | None = None) -> int:
    """Sessions open on the test database (a closed one leaves within moments: wait for it)."""
    for _ in range(50):
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            count = cursor.fetchone()[0]
        if expected is None or count == expected:
            break
        time.sleep(0.1)
    return count


def test_invoices_are_sent_several_at_once_each_once_and_each_in_order(connection, fake_stripe):
    invoices = _queued(6)
    fake_stripe.latency = 0.05
    sessions = _sessions()
    counts = invoice_payments_send_due(now=DUE, workers=3)
    assert (counts.sent, counts.failed, counts.calls) == (6, 0, 30)
    assert fake_stripe.most_at_once == 3
    assert len(fake_stripe.invoices) == 6
    assert len(fake_stripe.items) == 18
    for invoice in invoices:
        assert _keys_in_order(fake_stripe, invoice) == [
            "invoice",
            "line",
            "line",
            "line",
            "finalize",
        ]
    payments = InvoicePayment.objects.all()
    assert {p.status for p in payments} == {"sent"}
    assert len({p.external_id for p in payments}) == 6
    # Each thread closed its database connection when it ran out of work.
    assert _sessions(expected=sessions) == sessions


def test_two_runs_at_once_send_each_invoice_once(connection, fake_stripe):
    _queued(8)
    fake_stripe.latency = 0.02
    results = []

    def run() -> None:
        try:
            results.append(invoice_payments_send_due(now=DUE, workers=2))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in results) == 8
    assert len(fake_stripe.invoices) == 8
    assert len(fake_stripe.items) == 24
    assert not [c for c in fake_stripe.calls if c.replayed]
    assert set(InvoicePayment.objects.values_list("status", flat=True)) == {"sent"}


def test_an_unexpected_error_leaves_the_other_invoices_sent_and_is_raised_at_the_end(
    connection, fake_stripe, monkeypatch
):
    invoices = _queued(4)
    broken = invoices[1].pk
    plan = handoff._plan

    def failing_plan(payment):
        if payment.invoice_id == broken:
            raise RuntimeError("a bug")
        return plan(payment)

    monkeypatch.setattr(handoff, "_plan", failing_plan)
    with pytest.raises(RuntimeError, match="a bug"):
        invoice_payments_send_due(now=DUE, workers=2)
    statuses = dict(InvoicePayment.objects.values_list("invoice_id", "status"))
    assert statuses.pop(broken) == "queued"
    assert set(statuses.values()) == {"sent"}
    assert len(fake_stripe.invoices) == 3
