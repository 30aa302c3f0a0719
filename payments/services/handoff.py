"""Hand-off of finalized invoices to Stripe, and voiding them there.

- `invoice.finalized` (heard in handlers.py) queues the invoice when its contract has an active
  Stripe configuration: it is sent after the connection's hand-off delay.
- The `payments.send_invoices` schedule (or `manage.py invoices_send_to_providers`) sends what is
  due, several invoices at once (`STRIPE_HANDOFF_WORKERS` threads): a thread claims a payment in
  a short transaction, calls Stripe outside any transaction, then records the answer (status
  "sent" and Stripe's invoice id) or the error (retried with backoff,
  `invoice.billing_provider_error` raised). Requests never call Stripe.
- `invoice.voided` asks for the Stripe invoice to be voided; the same schedule does it.
Every attempt is logged (`HandoffAttempt`)."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache, partial

from django.conf import settings
from django.db import connection as db_connection
from django.db import connections, transaction
from django.db.models import F, Prefetch
from django_q.tasks import async_task

from catalog.money import USD_CENTS_ID, round_amount
from core import outbox
from core.outbox import LONGEST_RETRY, retry_delay
from customers.models import (
    BillingProviderConfiguration,
    Contract,
    ContractConfigurationChange,
    PaymentGate,
)
from customers.selectors import contract_billing_configuration
from customers.services import payment_gate_event
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.payment_gates import PaymentGateConflict, payment_gate_settle
from invoicing.selectors import invoice_payer_contract, invoice_payers, lines_in_total

from .. import stripe_api
from ..models import HandoffAttempt, InvoicePayment
from ..selectors import StripeAccount, payments_due, stripe_account

logger = logging.getLogger(__name__)

Status = InvoicePayment.Status
STRIPE = "stripe"
# A gated commit is charged at once, whatever the customer's usual collection method.
CHARGE_AUTOMATICALLY = "charge_automatically"
# How long a worker holds a payment while it calls Stripe (longer than any run of calls).
CLAIM = timedelta(minutes=10)


class HandoffProblem(Exception):
    """Something on our side prevents sending (no connection, no configuration): retried, with
    the longest backoff, until someone fixes it."""


# --- Queue and void requests (outbox handlers) ----------------------------------------------------


def _configuration(invoice: Invoice) -> BillingProviderConfiguration | None:
    """Where the invoice is billed: the configuration of the contract that pays for it (its
    own, or in an account hierarchy its payer's: a child with payer PARENT is billed to its
    parent's customer, never its own), the one in effect at the start of its period."""
    return contract_billing_configuration(
        contract=invoice_payer_contract(invoice), at=invoice.start_timestamp
    )


def invoice_payment_queue(*, invoice: Invoice, now: datetime) -> InvoicePayment | None:
    """A finalized invoice whose payer's contract has an active Stripe configuration (the one
    in effect at the start of the invoice's period: a v2 edit may switch it from a period on)
    waits for its hand-off (`now` + the connection's delay). Idempotent: an invoice is queued
    once. A usage statement consolidated into a parent's invoice is not billed on its own."""
    existing = InvoicePayment.objects.filter(invoice=invoice).first()
    if existing is not None:
        return existing
    queued = invoice_payments_queue(invoices=[invoice], finalized_at={invoice.pk: now})
    return queued[0] if queued else None


def invoice_payments_queue(
    *, invoices: list[Invoice], finalized_at: dict[object, datetime]
) -> list[InvoicePayment]:
    """`invoice_payment_queue` for a batch of finalized invoices (`finalized_at`: {invoice id:
    when}), written with one INSERT; their contracts are best read with the invoices, their
    configuration changes prefetched. Returns the payments queued now (an invoice already
    queued is left as it is)."""
    queued = set(
        InvoicePayment.objects.filter(invoice__in=invoices).values_list("invoice_id", flat=True)
    )
    stripe_connection = cache(stripe_account)  # read once, when an invoice goes to Stripe
    # A usage statement consolidated into a parent's invoice is not billed on its own; the
    # others are billed to the contract that pays for them (an account hierarchy's payer).
    invoices = [
        invoice
        for invoice in invoices
        if invoice.pk not in queued and invoice.consolidated_into_id is None
    ]
    paying = _payer_contracts(invoices)
    payments = []
    for invoice in invoices:
        config = contract_billing_configuration(
            contract=paying.get(invoice.pk, invoice.contract), at=invoice.start_timestamp
        )
        if config is None or config.billing_provider != STRIPE:
            continue
        account = stripe_connection()
        delay = account.handoff_delay if account is not None else timedelta(hours=1)
        default_method = account.default_collection_method if account is not None else ""
        now = finalized_at[invoice.pk]
        payments.append(
            InvoicePayment(
                invoice=invoice,
                billing_provider=STRIPE,
                billing_provider_configuration_id=config.pk,
                provider_customer_id=config.billing_provider_customer_id,
                collection_method=config.stripe_collection_method or default_method,
                status=Status.QUEUED,
                status_changed_at=now,
                send_after=now + delay,
            )
        )
    return InvoicePayment.objects.bulk_create(payments)


def _payer_contracts(invoices: list[Invoice]) -> dict[object, Contract]:
    """{invoice pk: the contract that pays for it} for the invoices an account hierarchy's
    payer pays for (others are billed to their own contract), in a few queries."""
    own = {invoice.pk: invoice.contract_id for invoice in invoices}
    payers = {
        pk: payer.contract_id
        for pk, payer in invoice_payers(invoices).items()
        if payer.contract_id != own[pk]
    }
    if not payers:
        return {}
    contracts = (
        Contract.objects.select_related("billing_provider_configuration")
        .prefetch_related(
            Prefetch(
                "configuration_changes",
                ContractConfigurationChange.objects.select_related(
                    "billing_provider_configuration"
                ),
            )
        )
        .in_bulk(set(payers.values()))
    )
    return {pk: contracts[contract_id] for pk, contract_id in payers.items()}


def _gate_configuration(invoice: Invoice) -> BillingProviderConfiguration | None:
    """Where a gated commit is charged: the paying contract's Stripe configuration, or else the
    paying customer's newest active one (a STRIPE gate needs the customer to have one)."""
    payer = invoice_payer_contract(invoice)
    config = contract_billing_configuration(contract=payer, at=invoice.start_timestamp)
    if config is not None and config.billing_provider == STRIPE:
        return config
    return (
        BillingProviderConfiguration.objects.filter(
            customer_id=payer.customer_id, billing_provider=STRIPE, archived_at__isnull=True
        )
        .order_by("-created_at")
        .first()
    )


def payment_gate_payment_queue(*, gate: PaymentGate, now: datetime) -> InvoicePayment | None:
    """A STRIPE-gated threshold commit's invoice is charged at once (no hand-off delay: a
    worker task is queued after commit), automatically, as a Stripe invoice or a
    PaymentIntent. Idempotent."""
    invoice = Invoice.objects.select_related("contract").filter(pk=gate.invoice_id).first()
    if invoice is None or gate.gate_type != PaymentGate.GateType.STRIPE:
        return None
    with transaction.atomic():
        payment = InvoicePayment.objects.select_for_update().filter(invoice=invoice).first()
        if payment is not None and payment.payment_gate_id is not None:
            return payment
        config = _gate_configuration(invoice)
        if payment is None:
            payment = InvoicePayment(
                invoice=invoice,
                billing_provider=STRIPE,
                status=Status.QUEUED,
                status_changed_at=now,
            )
        if payment.status != Status.QUEUED:
            return payment
        payment.billing_provider_configuration_id = config.pk if config else None
        payment.provider_customer_id = config.billing_provider_customer_id if config else ""
        payment.collection_method = CHARGE_AUTOMATICALLY
        payment.send_after = now
        payment.payment_gate_id = gate.pk
        payment.gate_payment_type = gate.payment_type
        payment.save()
    # At once, by a worker (never in the request that bought it); the schedule is the safety net.
    transaction.on_commit(
        partial(async_task, "payments.tasks.send_invoice_payment", str(payment.pk))
    )
    return payment


def invoice_payment_void_request(*, invoice: Invoice, now: datetime) -> InvoicePayment | None:
    """Our invoice was voided: one never sent is simply not sent; one in Stripe is voided there
    by the schedule (a paid one cannot be: staff refund it in Stripe, the error says so)."""
    with transaction.atomic():
        payment = InvoicePayment.objects.select_for_update().filter(invoice=invoice).first()
        if payment is None or payment.status == Status.VOIDED:
            return payment
        if payment.status == Status.PAID:
            payment.last_error = (
                "Our invoice was voided, but Stripe's is paid and cannot be voided: refund the "
                "payment in Stripe."
            )
            payment.last_error_at = now
            payment.save(update_fields=["last_error", "last_error_at", "updated_at"])
            _event("invoice.billing_provider_error", payment, now)
            return payment
        in_flight = payment.claimed_until is not None and payment.claimed_until > now
        if not payment.external_id and not in_flight:
            _move(payment, Status.VOIDED, now)
            payment.last_error = ""
            payment.next_attempt_at = None
            payment.save()
            return payment
        payment.void_requested_at = now
        payment.next_attempt_at = None
        payment.save(update_fields=["void_requested_at", "next_attempt_at", "updated_at"])
        return payment


def invoice_payment_retry_now(*, payment: InvoicePayment, now: datetime) -> InvoicePayment:
    """Staff's "retry now": the payment is due at once (the admin then starts a worker task)."""
    InvoicePayment.objects.filter(pk=payment.pk).update(next_attempt_at=now, updated_at=now)
    payment.refresh_from_db()
    return payment


# --- The schedule ----------------------------------------------------------------------------------


@dataclass
class HandoffCounts:
    sent: int = 0
    voided: int = 0
    failed: int = 0
    calls: int = 0


def invoice_payments_send_due(
    *, now: datetime, limit: int = 1000, workers: int | None = None
) -> HandoffCounts:
    """Send (or void) every payment due, up to `workers` invoices at once (the
    `STRIPE_HANDOFF_WORKERS` setting): each thread takes the next payment, claims it and makes
    its calls in order, so the guarantees of one payment hold as they do alone. Called inside a
    transaction (whose rows other connections cannot see yet), it sends one after another."""
    due = [payment.pk for payment in payments_due(now=now, limit=limit)]
    workers = min(settings.STRIPE_HANDOFF_WORKERS if workers is None else workers, len(due))
    if workers <= 1 or db_connection.in_atomic_block:
        outcomes = [invoice_payment_send(payment_id=pk, now=now) for pk in due]
    else:
        outcomes = _send_in_threads(due, workers, now)
    counts = HandoffCounts()
    for outcome, calls in outcomes:
        counts.calls += calls
        if outcome == "sent":
            counts.sent += 1
        elif outcome == "voided":
            counts.voided += 1
        elif outcome == "failed":
            counts.failed += 1
    return counts


def _send_in_threads(payment_ids: list, workers: int, now: datetime) -> list[tuple[str, int]]:
    """`invoice_payment_send` of each payment in a pool of threads, each with its own database
    connection, closed when the thread has no more work. An unexpected error (not Stripe's: those
    are recorded on the payment) does not stop the other payments; the first is raised at the
    end, once every thread is done."""
    pending = queue.SimpleQueue()
    for pk in payment_ids:
        pending.put(pk)
    outcomes: list[tuple[str, int]] = []
    errors: list[Exception] = []

    def work() -> None:
        try:
            while True:
                try:
                    pk = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcomes.append(invoice_payment_send(payment_id=pk, now=now))
                except Exception as exc:
                    logger.exception("payments: sending payment %s failed", pk)
                    errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=work, name=f"stripe-handoff-{n}", daemon=True)
        for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return outcomes


def invoice_payment_send(*, payment_id, now: datetime) -> tuple[str, int]:
    """One payment's due work: ("sent" | "voided" | "failed" | "skipped", Stripe calls made)."""
    payment = _claim(payment_id, now)
    if payment is None:
        return "skipped", 0
    if payment.void_requested_at is not None:
        return _void(payment, now)
    try:
        account, plan = _plan(payment)
    except HandoffProblem as exc:
        _failed(payment, HandoffAttempt.Action.SEND, str(exc), calls=0, retryable=False, now=now)
        return "failed", 0

    def remember(external_id: str) -> None:
        # Known at once: a later attempt fills this Stripe invoice instead of making another.
        InvoicePayment.objects.filter(pk=payment.pk).update(external_id=external_id)

    try:
        client = stripe_api.client_for(account.secret_key)
        if payment.gate_payment_type == PaymentGate.PaymentType.PAYMENT_INTENT:
            result = stripe_api.payment_intent_send(client, plan, external_id=payment.external_id)
        else:
            result = stripe_api.invoice_send(
                client, plan, external_id=payment.external_id, on_created=remember
            )
    except stripe_api.StripeCallError as exc:
        _failed(
            payment,
            HandoffAttempt.Action.SEND,
            str(exc),
            calls=exc.calls,
            retryable=exc.retryable,
            now=now,
        )
        return "failed", exc.calls
    _sent(payment, plan, result, now)
    return "sent", result.calls


def _claim(payment_id, now: datetime) -> InvoicePayment | None:
    with transaction.atomic():
        payment = (
            InvoicePayment.objects.select_for_update(skip_locked=True).filter(pk=payment_id).first()
        )
        if payment is None or (payment.claimed_until is not None and payment.claimed_until > now):
            return None
        due = payment.void_requested_at is not None or (
            payment.status == Status.QUEUED and payment.send_after <= now
        )
        if not due:
            return None
        payment.claimed_until = now + CLAIM
        payment.save(update_fields=["claimed_until"])
    return payment


def currency_of(invoice: Invoice) -> str:
    """Stripe's currency code for the invoice's pricing unit: `usd` for USD (cents), otherwise
    the three letters a fiat unit's name starts with ("EUR", "GBP (pence)")."""
    unit = invoice.credit_type
    if str(unit.pk) == USD_CENTS_ID:
        return "usd"
    code = unit.name.split(" ", 1)[0]
    if unit.is_currency and len(code) == 3 and code.isalpha():
        return code.lower()
    raise HandoffProblem(
        f"The pricing unit {unit.name} is not a currency Stripe knows (its name should start "
        "with the three-letter currency code)."
    )


def line_description(line: InvoiceLineItem) -> str:
    """The product and its group values, and the tier: "API calls · region: eu · tier 2"."""
    parts = [line.name]
    values = {**(line.pricing_group_values or {}), **(line.presentation_group_values or {})}
    if values:
        parts.append(", ".join(f"{key}: {value}" for key, value in sorted(values.items())))
    elif line.group_key:
        parts.append(f"{line.group_key}: {line.group_value}")
    if line.tier_level is not None:
        parts.append(f"tier {line.tier_level}")
    if line.origin_invoice_id is not None:
        # A consolidated invoice's line: whose usage it was.
        parts.append(line.origin_invoice.customer.name)
    return " · ".join(parts)[:500]


def _unix(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.astimezone(UTC).timestamp())


def _plan(payment: InvoicePayment) -> tuple[StripeAccount, stripe_api.StripeInvoicePlan]:
    invoice = Invoice.objects.select_related(
        "credit_type", "contract__billing_provider_configuration"
    ).get(pk=payment.invoice_id)
    if invoice.status != Invoice.Status.FINALIZED:
        raise HandoffProblem(f"The invoice is {invoice.status}; only finalized ones are sent.")
    account = stripe_account()
    if account is None or not account.secret_key:
        raise HandoffProblem(
            "Stripe is not connected: enter its secret key in Billing providers (or set "
            "STRIPE_SECRET_KEY)."
        )
    if not account.enabled:
        raise HandoffProblem("The Stripe connection is turned off in Billing providers.")
    gate = _gate_of(payment)
    config = _gate_configuration(invoice) if gate is not None else _configuration(invoice)
    if config is None or config.billing_provider != STRIPE:
        raise HandoffProblem(
            "The contract that pays for the invoice has no active Stripe configuration (set "
            "the customer's Stripe customer id on the customer's page)."
        )
    payment.billing_provider_configuration_id = config.pk
    payment.provider_customer_id = config.billing_provider_customer_id
    payment.collection_method = (
        CHARGE_AUTOMATICALLY
        if gate is not None
        else config.stripe_collection_method or account.default_collection_method
    )
    currency = currency_of(invoice)
    places = invoice.credit_type.decimal_places
    invoice_id = str(invoice.pk)
    fingerprint = stripe_api.key_fingerprint(
        payment.provider_customer_id, payment.collection_method
    )
    lines = list(
        lines_in_total(invoice_ids=[invoice.pk])
        .exclude(total=0)
        .select_related("origin_invoice__customer")
    )
    items = tuple(
        stripe_api.StripeItem(
            line_id=str(line.pk),
            amount=stripe_api.minor_units(line.total, places),
            description=line_description(line),
            idempotency_key=stripe_api.item_key(invoice_id, str(line.pk), fingerprint),
            period_start=_unix(line.starting_at),
            period_end=_unix(line.ending_before),
        )
        for line in lines
    )
    if sum(item.amount for item in items) != stripe_api.minor_units(invoice.total, places):
        raise HandoffProblem("The invoice's lines do not add up to its total; nothing was sent.")
    create_key, finalize_key = stripe_api.invoice_keys(invoice_id, fingerprint)
    if gate is not None and gate.payment_type == PaymentGate.PaymentType.PAYMENT_INTENT:
        create_key = stripe_api.payment_intent_key(invoice_id, fingerprint)
    number = f"#{invoice.number}" if invoice.number else invoice_id
    metadata = {
        "invoice_id": invoice_id,
        "invoice_number": str(invoice.number or ""),
        "customer_id": str(invoice.customer_id),
        "contract_id": str(invoice.contract_id),
    }
    if config.customer_id != invoice.customer_id:
        # An account hierarchy's payer: the Stripe customer is the payer's, the usage a child's.
        metadata["payer_customer_id"] = str(config.customer_id)
    # A PRECALCULATED tax is a `tax` line of the invoice (sent with the other lines); an
    # invoice finalized before tax lines existed gets it as an extra item, once either way.
    if gate is not None and not any(line.type == "tax" for line in lines):
        items += _gate_tax(gate, invoice_id, places, fingerprint)
        # The integrator's metadata first: our ids win a clash (the webhooks rely on them).
        metadata = {**gate.invoice_metadata, **metadata, "workflow_id": str(gate.pk)}
    plan = stripe_api.StripeInvoicePlan(
        invoice_id=invoice_id,
        customer=payment.provider_customer_id,
        currency=currency,
        collection_method=payment.collection_method,
        days_until_due=invoice.net_payment_terms_days,
        description=f"Invoice {number}, {invoice.period_label}",
        metadata=metadata,
        create_key=create_key,
        finalize_key=finalize_key,
        items=items,
        automatic_tax=gate is not None and gate.tax_type == "STRIPE",
    )
    return account, plan


def _gate_of(payment: InvoicePayment) -> PaymentGate | None:
    if payment.payment_gate_id is None:
        return None
    return PaymentGate.objects.filter(pk=payment.payment_gate_id).first()


def _gate_tax(gate: PaymentGate, invoice_id: str, places: int, fingerprint: str) -> tuple:
    """A PRECALCULATED tax is charged beside the commit, as one more item."""
    tax = gate.precalculated_tax
    if gate.tax_type != "PRECALCULATED" or not tax or Decimal(tax["tax_amount"]) == 0:
        return ()
    amount = stripe_api.minor_units(round_amount(Decimal(tax["tax_amount"]), places), places)
    return (
        stripe_api.StripeItem(
            line_id="tax",
            amount=amount,
            description=(tax.get("tax_name") or "Tax")[:500],
            idempotency_key=stripe_api.item_key(invoice_id, "tax", fingerprint),
        ),
    )


def _void(payment: InvoicePayment, now: datetime) -> tuple[str, int]:
    # A PaymentIntent is voided only after it failed: there is nothing left in Stripe to void.
    if (
        not payment.external_id
        or payment.gate_payment_type == PaymentGate.PaymentType.PAYMENT_INTENT
    ):
        with transaction.atomic():
            locked = InvoicePayment.objects.select_for_update().get(pk=payment.pk)
            _move(locked, Status.VOIDED, now)
            locked.void_requested_at = None
            locked.claimed_until = None
            locked.save()
        return "voided", 0
    account = stripe_account()
    if account is None or not account.secret_key:
        _failed(
            payment,
            HandoffAttempt.Action.VOID,
            "Stripe is not connected: the Stripe invoice cannot be voided.",
            calls=0,
            retryable=False,
            now=now,
        )
        return "failed", 0
    try:
        result = stripe_api.invoice_void(
            stripe_api.client_for(account.secret_key),
            external_id=payment.external_id,
            invoice_id=str(payment.invoice_id),
            finalized=payment.external_finalized,
        )
    except stripe_api.StripeCallError as exc:
        _failed(
            payment,
            HandoffAttempt.Action.VOID,
            str(exc),
            calls=exc.calls,
            retryable=exc.retryable,
            now=now,
        )
        return "failed", exc.calls
    with transaction.atomic():
        locked = InvoicePayment.objects.select_for_update().get(pk=payment.pk)
        _move(locked, Status.VOIDED, now)
        locked.void_requested_at = None
        locked.claimed_until = None
        locked.last_error = ""
        locked.next_attempt_at = None
        locked.attempts = F("attempts") + 1
        locked.save()
        _attempt(locked, HandoffAttempt.Action.VOID, now, calls=result.calls)
    return "voided", result.calls


def _sent(payment, plan, result: stripe_api.StripeResult, now: datetime) -> None:
    with transaction.atomic():
        locked = InvoicePayment.objects.select_for_update().get(pk=payment.pk)
        locked.billing_provider_configuration_id = payment.billing_provider_configuration_id
        locked.provider_customer_id = payment.provider_customer_id
        locked.collection_method = payment.collection_method
        locked.external_id = result.external_id
        locked.external_finalized = True
        locked.invoiced_total = result.total
        locked.currency = result.currency or plan.currency
        locked.hosted_invoice_url = result.hosted_invoice_url[:1000]
        locked.pdf_url = result.pdf_url[:1000]
        locked.external_payment_id = result.payment_id or locked.external_payment_id
        locked.sent_at = now
        locked.claimed_until = None
        locked.last_error = ""
        locked.next_attempt_at = None
        locked.attempts = F("attempts") + 1
        if locked.status == Status.QUEUED:
            moved = {"paid": Status.PAID, "failed": Status.FAILED}.get(result.status, Status.SENT)
            if moved == Status.FAILED:
                locked.last_error = result.error
                locked.last_error_at = now
            _move(locked, moved, now)
        locked.save()
        _attempt(locked, HandoffAttempt.Action.SEND, now, calls=result.calls)
        if result.action_required:
            payment_gate_action_required(locked, now)


def _failed(payment, action: str, error: str, *, calls: int, retryable: bool, now) -> None:
    """Record the error, back off (the longest wait when someone must fix something first), and
    raise `invoice.billing_provider_error` when the error is new."""
    logger.warning("payments: %s of invoice %s failed: %s", action, payment.pk, error)
    with transaction.atomic():
        locked = InvoicePayment.objects.select_for_update().get(pk=payment.pk)
        attempts = locked.attempts + 1
        new_error = locked.last_error != error
        locked.attempts = attempts
        locked.last_error = error
        locked.last_error_at = now
        locked.next_attempt_at = now + (retry_delay(attempts) if retryable else LONGEST_RETRY)
        locked.claimed_until = None
        for name in ("billing_provider_configuration_id", "provider_customer_id"):
            setattr(locked, name, getattr(payment, name))
        locked.collection_method = payment.collection_method
        locked.save()
        _attempt(locked, action, now, calls=calls, error=error)
        if new_error:
            _event("invoice.billing_provider_error", locked, now, error=error)


def _attempt(payment, action: str, now: datetime, *, calls: int, error: str = "") -> None:
    HandoffAttempt.objects.create(
        payment_id=payment.pk,
        action=action,
        started_at=now,
        finished_at=now,
        provider_calls=calls,
        succeeded=not error,
        error=error,
    )


def _move(payment: InvoicePayment, status: str, now: datetime) -> None:
    """A new payment status, and `invoice.payment_status.updated` (the caller saves)."""
    previous = payment.status
    if previous == status:
        return
    payment.status = status
    payment.status_changed_at = now
    _event("invoice.payment_status.updated", payment, now, previous_status=previous)
    _gate_follow(payment, status, now)


# What a gated commit's payment status means for its gate: paid releases it, a failure voids it.
GATE_OUTCOMES = {Status.PAID: "paid", Status.FAILED: "failed"}


def _gate_follow(payment: InvoicePayment, status: str, now: datetime) -> None:
    gate = _gate_of(payment)
    if gate is None or status not in GATE_OUTCOMES:
        return
    try:
        payment_gate_settle(
            gate=gate,
            outcome=GATE_OUTCOMES[status],
            now=now,
            by="stripe",
            reason=payment.last_error or "The Stripe payment failed.",
        )
    except PaymentGateConflict:
        # Stripe said paid after staff cancelled it (or failed after it was released): the
        # gate keeps its decision; the payment status shows what Stripe says.
        logger.warning("payments: Stripe's %s for gate %s conflicts with its state", status, gate)


def payment_gate_action_required(payment: InvoicePayment, now: datetime) -> None:
    """The customer must act (3-D Secure) before the gated commit's payment can succeed."""
    gate = _gate_of(payment)
    if gate is not None and gate.status == PaymentGate.Status.PENDING:
        payment_gate_event(
            "payment_gate.payment_pending_action_required",
            gate,
            now,
            external_payment_id=payment.external_payment_id or payment.external_id,
        )


def _event(type_: str, payment: InvoicePayment, now: datetime, **extra) -> None:
    invoice = Invoice.objects.only("customer_id", "contract_id").get(pk=payment.invoice_id)
    outbox.record(
        type=type_,
        subject_id=payment.invoice_id,
        occurred_at=now,
        customer_id=invoice.customer_id,
        payload={
            "invoice_id": str(payment.invoice_id),
            "customer_id": str(invoice.customer_id),
            "contract_id": str(invoice.contract_id),
            "billing_provider": payment.billing_provider,
            "external_invoice_id": payment.external_id or None,
            "payment_status": payment.status,
            **extra,
        },
    )
