"""Evaluating threshold alerts, off the ingest path.

Ingestion marks customers with new usage (metering's `UsageMark`, one write per batch); the first
mark after a drain records `usage.marked`, whose handler wakes the `evaluate_alerts` task. The task
turns marks into `PendingEvaluation` rows (many batches of one customer become one evaluation:
that is the debounce), then evaluates each pending customer in its own transaction: the row's
deletion, the new states and the `alerts.*` outbox events commit together, so a crossing fires
once and a worker that dies mid-way leaves the customer pending.

Values come from the selectors the draft invoice uses (`invoicing.selectors`): the drafts rated
now, balances net of what drafts draw, the usage of the current billing period.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property

from django.db import transaction
from django.utils import timezone

from core import outbox
from core.api import format_timestamp
from customers import selectors as customer_selectors
from customers.models import Customer
from invoicing import selectors as invoice_selectors
from invoicing.models import Invoice
from invoicing.usage import metric_usage_by_group
from metering.selectors import customers_by_ingest_id
from metering.services import usage_marks_take

from ..models import Alert, CustomerAlert, PendingEvaluation
from .alerts import alerts_for

logger = logging.getLogger(__name__)

BATCH = 100
MARKS = 1000


@dataclass(frozen=True)
class Measure:
    """One value an alert compares with its threshold: `subject` is what crosses (the customer's
    current invoice, a commit...), `properties` what its webhook says about it."""

    subject: str
    value: Decimal
    triggered_by: str
    properties: dict = field(default_factory=dict)


class CustomerValues:
    """What a customer's alerts measure, each read once per evaluation."""

    def __init__(self, customer: Customer, now: datetime):
        self.customer = customer
        self.now = now

    @cached_property
    def drafts(self) -> list:
        """Draft invoices whose period has started, rated now (`invoice_views`)."""
        invoices = Invoice.objects.filter(
            customer=self.customer, status=Invoice.Status.DRAFT, start_timestamp__lte=self.now
        ).select_related("credit_type", "contract")
        return invoice_selectors.invoice_views(invoices=invoices, now=self.now)

    @cached_property
    def month_invoices(self) -> list[tuple[Invoice, Decimal]]:
        start = self.now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        finalized = Invoice.objects.filter(
            customer=self.customer,
            status=Invoice.Status.FINALIZED,
            start_timestamp__gte=start,
            start_timestamp__lt=end,
        )
        rows = [(i, i.total) for i in finalized]
        rows += [(v.invoice, v.total) for v in self.drafts if start <= v.invoice.start_timestamp]
        return rows

    @cached_property
    def balances(self) -> list:
        found = customer_selectors.customer_balances(
            customer=self.customer, include_contract_balances=True
        )
        return [*found["commit"], *found["credit"]]

    @cached_property
    def held(self) -> dict:
        return invoice_selectors.balances_now(balances=self.balances, now=self.now)

    @cached_property
    def period(self):
        return customer_selectors.customer_current_period(customer=self.customer, now=self.now)


def _base(alert: Alert, customer: Customer, now: datetime, measure: Measure) -> dict:
    return {
        "customer_id": str(customer.pk),
        "alert_id": str(alert.pk),
        "alert_name": alert.name,
        "timestamp": format_timestamp(now),
        "threshold": str(alert.threshold),
        "triggered_by": measure.triggered_by,
        **measure.properties,
    }


def _line_matches(line, group_values: list[dict]) -> bool:
    values = {**(line.pricing_group_values or {}), **(line.presentation_group_values or {})}
    return all(values.get(g["key"]) == g.get("value") for g in group_values)


def _spend(alert: Alert, values: CustomerValues) -> list[Measure]:
    current = [
        v
        for v in values.drafts
        if v.invoice.type == Invoice.Type.USAGE
        and v.invoice.end_timestamp > values.now
        and v.invoice.credit_type_id == alert.credit_type_id
    ]
    measures = []
    for view in current:
        total = view.total
        if alert.group_values:
            total = sum(
                (ln.total for ln in view.lines if _line_matches(ln, alert.group_values)),
                Decimal(0),
            )
        measures.append(
            Measure(
                subject=str(view.invoice.pk),
                value=total,
                triggered_by=f"The current usage invoice's spend is {total}.",
                properties={"current_spend": str(total), "invoice_id": str(view.invoice.pk)},
            )
        )
    return measures


def _monthly(alert: Alert, values: CustomerValues) -> list[Measure]:
    rows = [(i, t) for i, t in values.month_invoices if i.credit_type_id == alert.credit_type_id]
    if not rows:
        return []
    total = sum((t for _, t in rows), Decimal(0))
    month = f"{values.now.astimezone(UTC):%Y-%m}"
    return [
        Measure(
            subject=month,
            value=total,
            triggered_by=f"The invoices of {month} total {total}.",
            properties={"current_spend": str(total)},
        )
    ]


def _invoice_total(alert: Alert, values: CustomerValues) -> list[Measure]:
    wanted = {t.upper() for t in alert.invoice_types_filter}
    measures = []
    for view in values.drafts:
        invoice = view.invoice
        if invoice.credit_type_id != alert.credit_type_id:
            continue
        if wanted and invoice.type not in wanted:
            continue
        measures.append(
            Measure(
                subject=str(invoice.pk),
                value=view.total,
                triggered_by=f"Invoice {invoice.pk} totals {view.total}.",
                properties={"invoice_id": str(invoice.pk), "invoice_total": str(view.total)},
            )
        )
    return measures


def _usage(alert: Alert, values: CustomerValues) -> list[Measure]:
    if values.period is None:
        return []
    start, end, _ = values.period
    keys = [g["key"] for g in alert.group_values]
    usage = metric_usage_by_group(
        metric=alert.billable_metric,
        customer=values.customer,
        starting_at=start,
        ending_before=end,
        group_keys=keys,
    )
    wanted = tuple(g.get("value") for g in alert.group_values)
    quantity = sum(
        (q for group, q in usage.items() if q is not None and tuple(group) == wanted),
        Decimal(0),
    )
    return [
        Measure(
            subject=start.isoformat(),
            value=quantity,
            triggered_by=f"Usage of {alert.billable_metric.name} this period is {quantity}.",
            properties={
                "billable_metric_id": str(alert.billable_metric_id),
                "current_usage": str(quantity),
            },
        )
    ]


def _active(term, now: datetime) -> list:
    return [s for s in term.access_schedule.all() if s.starting_at <= now < s.ending_before]


def _terms(alert: Alert, values: CustomerValues, kinds: tuple[str, ...]) -> list:
    return [
        t
        for t in values.balances
        if t._meta.model_name in kinds
        and t.archived_at is None
        and t.credit_type_id == alert.credit_type_id
        and _active(t, values.now)
    ]


def _percent(remaining: Decimal, total: Decimal) -> Decimal:
    return remaining * 100 / total


def _balance(alert: Alert, values: CustomerValues, kinds, *, percentage: bool) -> list[Measure]:
    measures = []
    for term in _terms(alert, values, kinds):
        kind = term._meta.model_name
        remaining = values.held[term.pk]
        total = sum((s.amount for s in _active(term, values.now)), Decimal(0))
        if percentage and not total:
            continue
        value = _percent(remaining, total) if percentage else remaining
        properties = {
            f"{kind}_id": str(term.pk),
            "credit_type_id": str(term.credit_type_id),
            "remaining_balance": str(remaining),
        }
        if percentage:
            properties["remaining_percentage"] = str(value)
        label = "credit" if kind == "credit" else "commit"
        measures.append(
            Measure(
                subject=str(term.pk),
                value=value,
                triggered_by=f"The {label} {term} has {remaining} left"
                + (f" ({value:.2f}%)." if percentage else "."),
                properties=properties,
            )
        )
    return measures


def _combined(alert: Alert, values: CustomerValues, *, percentage: bool) -> list[Measure]:
    terms = _terms(alert, values, ("commit", "credit"))
    if not terms:
        return []
    remaining = sum((values.held[t.pk] for t in terms), Decimal(0))
    total = sum((s.amount for t in terms for s in _active(t, values.now)), Decimal(0))
    if percentage and not total:
        return []
    value = _percent(remaining, total) if percentage else remaining
    properties = {"credit_type_id": str(alert.credit_type_id), "remaining_balance": str(remaining)}
    if percentage:
        properties["remaining_percentage"] = str(value)
    return [
        Measure(
            subject=f"balances:{alert.credit_type_id}",
            value=value,
            triggered_by=f"Commits and credits have {remaining} left.",
            properties=properties,
        )
    ]


def _segment_days(alert: Alert, values: CustomerValues, kind: str) -> list[Measure]:
    measures = []
    for term in _terms(alert, values, (kind,)):
        for segment in _active(term, values.now):
            days = Decimal((segment.ending_before - values.now).days)
            measures.append(
                Measure(
                    subject=str(segment.pk),
                    value=days,
                    triggered_by=f"A segment of {term} ends in {days} day(s).",
                    properties={
                        f"{kind}_id": str(term.pk),
                        "segment_id": str(segment.pk),
                        "remaining_days": str(days),
                    },
                )
            )
    return measures


def measures_for(alert: Alert, values: CustomerValues) -> list[Measure]:
    """What `alert` compares with its threshold for this customer now."""
    T = Alert.Type
    match alert.type:
        case T.SPEND:
            return _spend(alert, values)
        case T.MONTHLY_INVOICE_TOTAL:
            return _monthly(alert, values)
        case T.INVOICE_TOTAL:
            return _invoice_total(alert, values)
        case T.USAGE:
            return _usage(alert, values)
        case T.COMMIT_BALANCE | T.COMMIT_PERCENTAGE:
            return _balance(alert, values, ("commit",), percentage=alert.type in Alert.PERCENTAGE)
        case T.CREDIT_BALANCE | T.CREDIT_PERCENTAGE:
            return _balance(alert, values, ("credit",), percentage=alert.type in Alert.PERCENTAGE)
        case T.COMBINED_BALANCE | T.COMBINED_PERCENTAGE:
            return _combined(alert, values, percentage=alert.type in Alert.PERCENTAGE)
        case T.COMMIT_SEGMENT_DAYS:
            return _segment_days(alert, values, "commit")
        case T.CREDIT_SEGMENT_DAYS:
            return _segment_days(alert, values, "credit")
    return []


def resolved_type(alert_type: str) -> str:
    return alert_type.removesuffix("_reached") + "_resolved"


def _apply(alert: Alert, state: CustomerAlert, measures: list[Measure], now: datetime) -> int:
    """Compare, record what crossed (each subject fires once) and what fell back, save."""
    customer = state.customer
    crossed = [m for m in measures if alert.reached(m.value)]
    before = set(state.alarmed)
    fired = 0
    if not state.silent:
        for measure in crossed:
            if measure.subject not in before:
                outbox.record(
                    type=f"alerts.{alert.type}",
                    subject_id=alert.pk,
                    customer_id=customer.pk,
                    occurred_at=now,
                    payload=_base(alert, customer, now, measure),
                )
                fired += 1
        for measure in measures:
            if measure.subject in before and not alert.reached(measure.value):
                outbox.record(
                    type=f"alerts.{resolved_type(alert.type)}",
                    subject_id=alert.pk,
                    customer_id=customer.pk,
                    occurred_at=now,
                    payload=_base(alert, customer, now, measure),
                )
    status = CustomerAlert.Status.IN_ALARM if crossed else CustomerAlert.Status.OK
    values = [m.value for m in measures]
    headline = (max(values) if alert.is_high else min(values)) if values else None
    if status != state.status:
        state.updated_at = now
    state.status = status
    state.alarmed = sorted(m.subject for m in crossed)
    state.value = headline
    newly = [m for m in crossed if m.subject not in before]
    if newly:
        state.triggered_by = newly[0].triggered_by[:300]
    elif not crossed:
        state.triggered_by = ""
    state.silent = False
    state.evaluated_at = now
    state.save()
    return fired


def customer_alerts_evaluate(*, customer_id, now: datetime, pending: bool = True) -> int:
    """Evaluate every alert watching the customer, in one transaction; returns how many webhooks
    it fired. With `pending`, only if the customer is still pending (its row is deleted here:
    two workers never evaluate the same change twice)."""
    with transaction.atomic():
        if pending:
            taken, _ = PendingEvaluation.objects.filter(customer_id=customer_id).delete()
            if not taken:
                return 0
        alerts = alerts_for(customer_id)
        customer = Customer.objects.filter(pk=customer_id).first()
        if not alerts or customer is None:
            return 0
        states = {
            s.alert_id: s
            for s in CustomerAlert.objects.select_for_update(of=("self",))
            .filter(customer=customer, alert__in=alerts)
            .select_related("customer")
        }
        values = CustomerValues(customer, now)
        fired = 0
        for alert in alerts:
            state = states.get(alert.pk) or CustomerAlert(
                alert=alert, customer=customer, updated_at=now
            )
            fired += _apply(alert, state, measures_for(alert, values), now)
        return fired


def _marks_to_pending(now: datetime) -> int:
    """Turn metering's marks into pending evaluations of the customers that alerts watch."""
    with transaction.atomic():
        ids = usage_marks_take(limit=MARKS)
        if not ids:
            return 0
        customers = {c.pk for c in customers_by_ingest_id(ids).values()}
        watched = _watched(customers)
        PendingEvaluation.objects.bulk_create(
            [PendingEvaluation(customer_id=pk, queued_at=now) for pk in watched],
            ignore_conflicts=True,
        )
        return len(ids)


def _watched(customer_ids: set) -> set:
    alerts = Alert.objects.filter(status=Alert.Status.ENABLED)
    if alerts.filter(customer__isnull=True).exists():
        return set(customer_ids)
    return set(alerts.filter(customer_id__in=customer_ids).values_list("customer_id", flat=True))


def alerts_evaluate_pending(*, budget: float = 50.0) -> int:
    """The worker: drain marks and pending customers, evaluating each, for at most `budget`
    seconds (then it enqueues itself again, so other tasks get the worker in between). Returns
    how many webhooks fired."""
    started = time.monotonic()
    fired = 0
    failed: set = set()  # left pending for the next run (the hourly sweep at the latest)
    while True:
        now = timezone.now()
        marks = _marks_to_pending(now)
        pending = list(
            PendingEvaluation.objects.exclude(customer_id__in=failed)
            .order_by("queued_at")
            .values_list("customer_id", flat=True)[:BATCH]
        )
        if not marks and not pending:
            return fired
        for customer_id in pending:
            try:
                fired += customer_alerts_evaluate(customer_id=customer_id, now=timezone.now())
            except Exception:
                logger.exception("alerts: evaluating customer %s failed", customer_id)
                failed.add(customer_id)
        if time.monotonic() - started > budget:
            from django_q.tasks import async_task

            async_task("notifications.tasks.evaluate_alerts")
            return fired
