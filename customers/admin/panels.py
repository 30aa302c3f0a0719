"""Read-only panels on the customer and contract pages: usage this period, late events, invoices,
unattributed ids. Thin: each calls metering's or invoicing's selectors and renders a template.

The selectors are imported inside the functions: metering and invoicing import the customers app,
so importing them at module level would tie the admin's import order to theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.core.cache import cache
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from catalog.admin.display import quantity_display
from catalog.selectors import product_quantity, product_unit_label

from ..models import Contract, Customer
from ..selectors import customer_current_period
from .totals import balance_amount

UNATTRIBUTED_SHOWN = 10
UNATTRIBUTED_CACHE_KEY = "admin:customers:unattributed_ids"
UNATTRIBUTED_CACHE_SECONDS = 60
GROUPS_SHOWN = 20


@dataclass(frozen=True)
class CurrentPeriod:
    starting_at: datetime
    ending_before: datetime
    contract: Contract | None

    @property
    def label(self) -> str:
        end = self.ending_before - timedelta(microseconds=1)
        source = f"billing period of {self.contract}" if self.contract else "calendar month"
        return f"{self.starting_at:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC ({source})"


def current_period(customer: Customer, now: datetime) -> CurrentPeriod:
    """The customer's current billing period (`selectors.customer_current_period`); without a
    contract in effect, the calendar month, so the page still shows this month's usage."""
    found = customer_current_period(customer=customer, now=now)
    if found is not None:
        return CurrentPeriod(*found)
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return CurrentPeriod(start, end, None)


def events_changelist_url(ids: list[str], **filters: str) -> str:
    """The usage events list filtered to events sent under any of `ids` (customer id, aliases)."""
    query = {"customer_id__in": ",".join(ids), **filters}
    return f"{reverse('admin:metering_usageevent_changelist')}?{urlencode(query)}"


def _group_breakdown(usage, ids: list[str], period: CurrentPeriod) -> list[tuple[str, str]]:
    """The value per group of the metric's first key set (the selector's own breakdown when it
    gives one), largest first, at most GROUPS_SHOWN rows."""
    from metering.selectors import usage_by_segment

    groups = getattr(usage, "groups", None)
    key_sets = usage.metric.group_keys or []
    if groups is None and key_sets:
        groups = usage_by_segment(
            metric=usage.metric,
            customer_ids=ids,
            boundaries=[period.starting_at, period.ending_before],
            group_keys=key_sets[0],
        )[0]
        keys = key_sets[0]
    else:
        keys = []
    rows = []
    for group, value in sorted((groups or {}).items(), key=lambda item: (-item[1], str(item[0]))):
        values = [
            "—" if v is None else str(v) for v in (group if isinstance(group, tuple) else (group,))
        ]
        if len(keys) == len(values):
            values = [f"{key}={text}" for key, text in zip(keys, values, strict=True)]
        label = ", ".join(values)
        rows.append((label, quantity_display(value)))
    return rows[:GROUPS_SHOWN]


def metric_unit(metric) -> str:
    """What a metric's value counts, for a person: `events`, `sum of seconds`."""
    if metric.aggregation_type == "COUNT":
        return "events"
    return f"{metric.get_aggregation_type_display().lower()} of {metric.aggregation_key}"


def in_product_units(metric, value, *, now: datetime) -> list[str]:
    """The value in the unit of each product priced from the metric that converts it
    (`= 73.6 minutes (Compute)`): what the invoice shows."""
    shown = []
    for product in metric.products.filter(archived_at__isnull=True).order_by("name"):
        quantity = product_quantity(product, value, at=now)
        if quantity == value:
            continue
        shown.append(
            f"= {quantity_display(quantity)} {product_unit_label(product, at=now)} ({product.name})"
        )
    return shown


def customer_usage_panel(customer: Customer, *, now: datetime) -> str:
    from metering.selectors import customer_ingest_ids, customer_usage_summary

    period = current_period(customer, now)
    ids = customer_ingest_ids(customer=customer)
    rows = []
    for usage in customer_usage_summary(
        customer=customer, starting_at=period.starting_at, ending_before=period.ending_before
    ):
        rows.append(
            {
                "metric": usage.metric,
                "metric_url": reverse(
                    "admin:catalog_billablemetric_change", args=[usage.metric.pk]
                ),
                "value": quantity_display(usage.value),
                "unit": metric_unit(usage.metric),
                "product_values": in_product_units(usage.metric, usage.value, now=now),
                "groups": _group_breakdown(usage, ids, period),
            }
        )
    return render_to_string(
        "admin/customers/includes/usage_panel.html",
        {
            "period": period,
            "rows": rows,
            "events_url": events_changelist_url(ids),
            "ids": ids,
        },
    )


def customer_late_events(customer: Customer) -> str:
    from invoicing.selectors import customer_late_event_count
    from metering.selectors import customer_ingest_ids

    count = customer_late_event_count(customer=customer)
    return render_to_string(
        "admin/customers/includes/late_events.html",
        {
            "count": count,
            "url": events_changelist_url(
                customer_ingest_ids(customer=customer), is_late__exact="1"
            ),
        },
    )


def unattributed_forget() -> None:
    """Drop the cached unattributed ids (a customer or its aliases changed in the admin)."""
    cache.delete(UNATTRIBUTED_CACHE_KEY)


def unattributed_box(*, now: datetime) -> dict:
    """Context for the box on the customer list: ids sent by events that no customer owns.

    The selector groups the last 34 days of events (about 0.6 s for 1,000,000 events on
    PostgreSQL), so its answer is cached for a minute and dropped whenever a customer is saved
    here, which is how staff add the missing alias.
    """
    from metering.selectors import unattributed_customer_ids

    found = cache.get(UNATTRIBUTED_CACHE_KEY)
    if found is None:
        found = unattributed_customer_ids(now=now, limit=UNATTRIBUTED_SHOWN + 1)
        cache.set(UNATTRIBUTED_CACHE_KEY, found, UNATTRIBUTED_CACHE_SECONDS)
    events_list = reverse("admin:metering_usageevent_changelist")
    add_customer = reverse("admin:customers_customer_add")
    rows = [
        {
            "customer_id": row.customer_id,
            "events": row.events,
            "last_timestamp": row.last_timestamp,
            "events_url": f"{events_list}?{urlencode({'q': row.customer_id})}",
            "add_url": f"{add_customer}?{urlencode({'ingest_alias': row.customer_id})}",
        }
        for row in found[:UNATTRIBUTED_SHOWN]
    ]
    try:
        all_url = reverse("admin:metering_usageevent_unattributed")
    except NoReverseMatch:  # the metering admin may not provide the page
        all_url = None
    return {"rows": rows, "more": len(found) > UNATTRIBUTED_SHOWN, "all_url": all_url}


def contract_invoices_panel(contract: Contract, *, now: datetime) -> str:
    from invoicing.models import Invoice
    from invoicing.selectors import contract_invoices, invoice_views

    rows = []
    invoices = list(contract_invoices(contract=contract))
    # The drafts (usage, scheduled and consolidated) rated with one preload.
    drafts = [invoice for invoice in invoices if invoice.status == Invoice.Status.DRAFT]
    draft_totals = {view.invoice.pk: view.total for view in invoice_views(invoices=drafts, now=now)}
    for invoice in invoices:
        is_draft = invoice.status == Invoice.Status.DRAFT
        total = draft_totals[invoice.pk] if is_draft else invoice.total
        rows.append(
            {
                "url": reverse("admin:invoicing_invoice_change", args=[invoice.pk]),
                "type": invoice.get_type_display(),
                "period": invoice.period_label,
                "status": invoice.get_status_display(),
                "is_draft": is_draft,
                "number": invoice.number,
                "total": invoice.credit_type.format(total),
            }
        )
    return render_to_string("admin/customers/includes/contract_invoices.html", {"rows": rows})


def _ledger_rows(term, ledger: list[dict]) -> list[dict]:
    from customers.models import BalanceLedgerEntry

    rows = []
    for row in ledger:
        invoice_url = None
        if row["invoice_id"] is not None:
            try:
                invoice_url = reverse("admin:invoicing_invoice_change", args=[row["invoice_id"]])
            except NoReverseMatch:  # the invoicing admin may not be installed
                invoice_url = None
        rows.append(
            {
                "date": f"{row['timestamp'].astimezone(UTC):%Y-%m-%d %H:%M} UTC",
                "type": BalanceLedgerEntry.Type(row["type"]).label,
                "amount": balance_amount(term, row["amount"]),
                "invoice_url": invoice_url,
                "reason": row["reason"],
            }
        )
    return rows


def _kind(term, is_commit: bool) -> str:
    kind = f"{term.get_type_display()} commit" if is_commit else "Credit"
    if term.is_rollover:
        source = term.rolled_over_from
        return f"Rollover {kind.lower()} (from contract {source.contract_id})"
    return kind


def balances_panel(terms, *, now: datetime, empty: str) -> str:
    """Each commit and credit with what it holds now (live drafts' draws taken off, as the API's
    `balance`) and its ledger, oldest entry first."""
    from invoicing.selectors import balances_now

    from ..selectors import balance_ledger

    terms = list(terms)
    held = balances_now(balances=terms, now=now)
    rows = []
    for term in terms:
        is_commit = term._meta.model_name == "commit"
        rows.append(
            {
                "name": str(term),
                "url": reverse(f"admin:customers_{term._meta.model_name}_change", args=[term.pk]),
                "kind": _kind(term, is_commit),
                "product": term.product,
                "priority": quantity_display(term.priority),
                "balance": balance_amount(term, held[term.pk]),
                "ledger": _ledger_rows(term, balance_ledger(balance=term)),
            }
        )
    return render_to_string(
        "admin/customers/includes/balances_panel.html",
        {"rows": rows, "empty": empty, "now": f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC"},
    )
