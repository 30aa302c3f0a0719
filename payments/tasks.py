"""django-q2 entry points, each a thin wrapper over a service (schedules: schedules.py)."""

from django.utils import timezone

from payments.services import invoice_payment_send, invoice_payments_send_due


def send_invoices() -> str:
    """Hand off the finalized invoices whose delay has passed, and void in Stripe what we
    voided; failures are retried with backoff."""
    counts = invoice_payments_send_due(now=timezone.now())
    return f"sent {counts.sent}, voided {counts.voided}, failed {counts.failed}"


def send_invoice_payment(payment_id: str) -> str:
    """One payment at once (the admin's "retry now")."""
    outcome, _ = invoice_payment_send(payment_id=payment_id, now=timezone.now())
    return outcome
