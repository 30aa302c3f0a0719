"""Dashboards' reads: the parties of an invoice document (frozen at finalization, or today's for
a draft), the pricing units its lines use, the invoice documents as rendered, and what each
embedded dashboard shows (invoices, usage over time, commits and credits)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from catalog.models import PricingUnit, Product
from core.api import format_timestamp
from customers.models import Commit, Customer
from customers.selectors import balance_ledger, customer_balances
from invoicing.models import Invoice
from invoicing.selectors import (
    InvoiceView,
    balances_now,
    customer_breakdowns,
    invoice_payers,
    invoice_view,
    invoice_views,
    spend_over_time,
    window_start,
)

from .document import (
    CUSTOMER,
    Document,
    Parties,
    Party,
    currency_label,
    date_words,
    display_amount,
    invoice_document,
    period_words,
    quantity_words,
)
from .embed import Embed
from .models import CompanyLogo, CompanyProfile, FrozenDocument


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def seller_of(profile: CompanyProfile) -> dict:
    return {
        "name": profile.name,
        "address_lines": list(_lines(profile.address)),
        "email": profile.email,
        "tax_id": profile.tax_id,
        "payment_instructions": profile.payment_instructions,
        "number_prefix": profile.invoice_number_prefix,
    }


def bill_to_of(customer: Customer) -> dict:
    return {
        "name": customer.bill_to_name,
        "address_lines": list(_lines(customer.billing_address)),
        "email": customer.billing_email,
    }


def invoice_bill_to(invoice: Invoice) -> dict:
    """Who the invoice is billed to: its customer, or in an account hierarchy the customer that
    pays for it (`invoice_payers`), with `account` naming the customer whose usage it is."""
    return invoices_bill_to([invoice])[invoice.pk]


def invoices_bill_to(invoices: list[Invoice]) -> dict:
    """{invoice pk: `invoice_bill_to`} for a batch of invoices (their customers selected with
    them), in a few queries."""
    payers = invoice_payers(invoices)
    paying_ids = {
        payers[invoice.pk].customer_id
        for invoice in invoices
        if invoice.pk in payers and payers[invoice.pk].customer_id != invoice.customer_id
    }
    paying = Customer.objects.in_bulk(paying_ids) if paying_ids else {}
    result = {}
    for invoice in invoices:
        payer = payers.get(invoice.pk)
        if payer is None or payer.customer_id == invoice.customer_id:
            result[invoice.pk] = bill_to_of(invoice.customer)
        else:
            result[invoice.pk] = {
                **bill_to_of(paying[payer.customer_id]),
                "account": invoice.customer.bill_to_name,
            }
    return result


def products_of(product_ids) -> dict:
    """{product id: {"unit": display unit, "keys": pricing then presentation group keys}}."""
    return {
        str(product.pk): {
            "unit": product.unit_label,
            "keys": [*product.pricing_group_key, *product.presentation_group_key],
        }
        for product in Product.objects.filter(pk__in={pid for pid in product_ids if pid})
    }


def _parties(seller: dict, bill_to: dict, products: dict, logo: CompanyLogo | None) -> Parties:
    return Parties(
        seller=Party(
            name=seller["name"],
            address_lines=tuple(seller["address_lines"]),
            email=seller["email"],
            tax_id=seller["tax_id"],
        ),
        bill_to=Party(
            name=bill_to["name"],
            address_lines=tuple(bill_to["address_lines"]),
            email=bill_to["email"],
            account=bill_to.get("account", ""),
        ),
        products=products,
        logo_type=logo.content_type if logo else "",
        logo_data=bytes(logo.data) if logo else b"",
        payment_instructions=seller["payment_instructions"],
        number_prefix=seller["number_prefix"],
    )


def document_parties(*, view: InvoiceView) -> Parties:
    """A finalized or void invoice's parties as frozen when it was finalized; a draft's (or an
    invoice finalized before documents were frozen) from today's profile, customer and products."""
    invoice = view.invoice
    if invoice.status != Invoice.Status.DRAFT:
        frozen = FrozenDocument.objects.select_related("logo").filter(invoice=invoice).first()
        if frozen is not None:
            return _parties(frozen.seller, frozen.bill_to, frozen.products, frozen.logo)
    profile = CompanyProfile.current()
    return _parties(
        seller_of(profile),
        invoice_bill_to(invoice),
        products_of(line.product_id for line in view.lines),
        profile.logo,
    )


def document_units(view: InvoiceView) -> dict[str, PricingUnit]:
    """The pricing units of the invoice and of its lines, by id (one query)."""
    ids = {str(view.invoice.credit_type_id), *(str(line.credit_type_id) for line in view.lines)}
    return {str(unit.pk): unit for unit in PricingUnit.objects.filter(pk__in=ids)}


def invoice_document_for(
    *, invoice: Invoice, now: datetime, audience: str = CUSTOMER, zero_lines: bool = False
) -> Document:
    """The document of `invoice` as of `now` (a draft is rated now)."""
    view = invoice_view(invoice=invoice, now=now)
    return invoice_document(
        view=view,
        parties=document_parties(view=view),
        units=document_units(view),
        audience=audience,
        now=now,
        zero_lines=zero_lines,
    )


# --- Embedded dashboards -----------------------------------------------------------------------


def embed_customer(embed: Embed) -> Customer | None:
    return Customer.objects.filter(pk=embed.customer_id).first()


def embed_invoices(*, embed: Embed, customer: Customer):
    """The customer's invoices the invoices dashboard lists, newest first, as its options say:
    `contract_id`, `invoice_type`, `invoice_status_filter` (default: drafts and finalized, void
    too unless `hide_voided_invoices`), `billable_status_filter` ("unbillable": the usage
    statements billed on an account hierarchy parent's consolidated invoice; "billable": the
    others)."""
    queryset = Invoice.objects.filter(customer=customer).select_related("credit_type", "customer")
    options = embed.options
    if options.get("contract_id"):
        queryset = queryset.filter(contract_id=options["contract_id"])
    if options.get("invoice_type"):
        queryset = queryset.filter(type=options["invoice_type"])
    statuses = {
        "VOID": ["VOID"],
        "FINALIZED": ["FINALIZED"],
        "DRAFT": ["DRAFT"],
        "FINALIZED_AND_DRAFT": ["FINALIZED", "DRAFT"],
    }.get(options.get("invoice_status_filter", "ALL"))
    if statuses is not None:
        queryset = queryset.filter(status__in=statuses)
    elif embed.flag("hide_voided_invoices"):
        queryset = queryset.exclude(status=Invoice.Status.VOID)
    billable = options.get("billable_status_filter")
    if billable in ("billable", "unbillable"):
        queryset = queryset.filter(consolidated_into__isnull=billable == "billable")
    return queryset.order_by("-start_timestamp", "-created_at")


def embed_invoice(*, embed: Embed, customer: Customer, invoice_id) -> Invoice | None:
    """One invoice of the dashboard's list, or None (another customer's, or filtered out)."""
    try:
        pk = uuid.UUID(str(invoice_id))
    except ValueError:
        return None
    return embed_invoices(embed=embed, customer=customer).filter(pk=pk).first()


def invoices_dashboard(*, embed: Embed, customer: Customer, now: datetime) -> dict:
    invoices = list(embed_invoices(embed=embed, customer=customer)[:100])
    prefix = CompanyProfile.current().invoice_number_prefix
    rows = []
    for view in invoice_views(invoices=invoices, now=now):
        invoice = view.invoice
        issued = invoice.issued_at
        rows.append(
            {
                "id": str(invoice.pk),
                "number": f"{prefix}{invoice.number}" if invoice.number else "",
                "status": invoice.status,
                "status_label": invoice.get_status_display(),
                "type": invoice.type,
                "period": period_words(invoice.start_timestamp, invoice.end_timestamp),
                "issued": date_words(issued.date()) if issued else "",
                "due": (
                    date_words(issued.date() + timedelta(days=invoice.net_payment_terms_days))
                    if issued
                    else ""
                ),
                "total": invoice.format(view.total),
            }
        )
    return {"customer": customer.bill_to_name, "invoices": rows}


def _series_label(embed: Embed, line, keys: list[str]) -> str:
    """A series' (or an engine line's) group values in the product's key order, with the
    embed's display names."""
    values = {**dict(line.pricing_group_values), **dict(line.presentation_group_values)}
    ordered = [k for k in keys if k in values] + sorted(k for k in values if k not in keys)
    return " - ".join(embed.group_value_name(k, str(values[k])) for k in ordered)


def usage_periods(*, embed: Embed, customer: Customer) -> list[tuple[datetime, datetime]]:
    """The billing periods of the customer's live usage invoices, newest first (at most 12)."""
    queryset = Invoice.objects.filter(
        customer=customer,
        type=Invoice.Type.USAGE,
        status__in=[Invoice.Status.DRAFT, Invoice.Status.FINALIZED],
    )
    if embed.options.get("contract_id"):
        queryset = queryset.filter(contract_id=embed.options["contract_id"])
    pairs = queryset.values_list("start_timestamp", "end_timestamp").distinct()
    return sorted(set(pairs), reverse=True)[:12]


def usage_dashboard(
    *, embed: Embed, customer: Customer, now: datetime, period_start: datetime | None = None
) -> dict:
    """Usage by day of one billing period (the current one unless `period_start` names
    another), per product and group values in the product's unit, and the spend so far: the
    invoice breakdowns' usage lines and totals, up to today."""
    periods = usage_periods(embed=embed, customer=customer)
    chosen = next((p for p in periods if p[0] == period_start), None)
    if chosen is None:
        chosen = next((p for p in periods if p[0] <= now < p[1]), periods[0] if periods else None)
    data = {
        "customer": customer.bill_to_name,
        "periods": [
            {"starting_on": format_timestamp(start), "label": period_words(start, end)}
            for start, end in periods
        ],
        "period": None,
        "windows": [],
        "products": [],
        "spend": {
            "per_window": [],
            "cumulative": [],
            "cumulative_display": [],
            "total": "",
            "currency": "",
        },
    }
    if chosen is None:
        return data
    start, end = chosen
    # Days after today have no usage yet (events are at most a day ahead): the chart stops there.
    until = min(end, window_start(now, "DAY") + timedelta(days=2))
    over_time = spend_over_time(
        customer_breakdowns(
            customer=customer,
            starting_on=start,
            ending_before=max(until, start + timedelta(microseconds=1)),
            contract_id=embed.options.get("contract_id"),
        )
    )
    products = {
        str(p.pk): p for p in Product.objects.filter(pk__in={s.product_id for s in over_time.usage})
    }
    # Series by product and label (two group values may read alike once renamed: added up).
    labelled: dict[tuple[str, str], list[Decimal]] = {}
    for series in over_time.usage:
        product = products[series.product_id]
        label = _series_label(
            embed, series, [*product.pricing_group_key, *product.presentation_group_key]
        )
        values = labelled.setdefault(
            (series.product_id, label), [Decimal(0)] * len(over_time.windows)
        )
        for at, quantity in enumerate(series.quantities):
            values[at] += quantity
    by_product: dict[str, list] = {}
    for (product_id, label), values in sorted(
        labelled.items(), key=lambda i: (products[i[0][0]].name, i[0][1])
    ):
        if not embed.flag("show_zero_usage_line_items") and not any(values):
            continue
        total = sum(values, Decimal(0))
        by_product.setdefault(product_id, []).append(
            {
                "label": label or products[product_id].name,
                "quantities": values,
                "total": total,
                "total_label": quantity_words(total),
            }
        )
    data["period"] = {
        "starting_on": format_timestamp(start),
        "ending_before": format_timestamp(end),
        "label": period_words(start, end),
    }
    data["windows"] = [format_timestamp(moment) for moment in over_time.windows]
    data["products"] = [
        {
            "id": product_id,
            "name": products[product_id].name,
            "unit": products[product_id].unit_label,
            # What the series are split by, with the embed's display names ("Resolution - Team").
            "group_by": " - ".join(
                embed.group_key_name(key)
                for key in (
                    *products[product_id].pricing_group_key,
                    *products[product_id].presentation_group_key,
                )
            ),
            "series": entries,
        }
        for product_id, entries in by_product.items()
    ]
    unit = over_time.credit_type
    if unit is not None:
        data["spend"] = {
            "per_window": list(over_time.spend),
            "cumulative": list(over_time.spend_so_far),
            "cumulative_display": [display_amount(unit, a) for a in over_time.spend_so_far],
            "total": unit.format(over_time.spend_so_far[-1]),
            "currency": currency_label(unit),
        }
    return data


def balances_dashboard(*, embed: Embed, customer: Customer, now: datetime) -> dict:
    """The customer's commits and credits (customer-level and its contracts', or one contract's
    with the `contract_id` option): what each granted, what is left now (live drafts' draws
    taken off) and its burn-down, from the ledger."""
    found = customer_balances(customer=customer, include_contract_balances=True)
    terms = [
        *found["commit"].order_by("priority", "created_at"),
        *found["credit"].order_by("priority", "created_at"),
    ]
    contract_id = embed.options.get("contract_id")
    if contract_id:
        terms = [t for t in terms if t.contract_id is None or str(t.contract_id) == contract_id]
    credit_type_id = embed.options.get("credit_ledger_credit_type_id")
    if credit_type_id:
        terms = [t for t in terms if str(t.credit_type_id) == credit_type_id]
    held = balances_now(balances=terms, now=now)
    rows = []
    for term in terms:
        is_commit = isinstance(term, Commit)
        segments = list(term.access_schedule.all())
        granted = sum((s.amount for s in segments), Decimal(0))
        left = held[term.pk]
        moments: dict[datetime, Decimal] = {}
        running = Decimal(0)
        for entry in balance_ledger(balance=term):
            running += entry["amount"]
            moments[entry["timestamp"]] = running
        moments[now] = left  # live drafts' draws taken off
        burn_down = [
            {
                "at": format_timestamp(moment),
                "date": date_words(moment.date()),
                "balance": balance,
                "balance_display": display_amount(term.credit_type, balance),
                "balance_label": term.credit_type.format(balance),
            }
            for moment, balance in sorted(moments.items())
        ]
        used = 1 - left / granted if granted > 0 else Decimal(0)
        rows.append(
            {
                "id": str(term.pk),
                "name": term.product.name if embed.flag("hide_grant_name") else str(term),
                "kind": "Credit" if not is_commit else f"{term.get_type_display()} commit",
                "product": term.product.name,
                "currency": currency_label(term.credit_type),
                "granted": term.credit_type.format(granted),
                "left": term.credit_type.format(left),
                "used_percent": max(0, min(100, int(used * 100))),
                "starts": date_words(min(s.starting_at for s in segments).date())
                if segments
                else "",
                "ends": date_words(
                    (max(s.ending_before for s in segments) - timedelta(microseconds=1)).date()
                )
                if segments
                else "",
                "burn_down": burn_down,
            }
        )
    return {"customer": customer.bill_to_name, "balances": rows}
