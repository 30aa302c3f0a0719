"""The invoice document as the customer reads it: seller, bill-to, number, dates, the service
period in words, lines grouped by product in the product's unit, tiers in words, commits and
credits applied, the total due. `invoice_document` turns an invoice as shown (`InvoiceView`) and
its parties into `Document`, which the one template (`dashboards/invoice_document.html`) prints
as the page and the PDF.

Amounts are formatted by the pricing unit (`PricingUnit.format`, `catalog.money`); nothing here
rounds or adds money except the per-product subtotals, which are sums of rounded lines."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from catalog import money
from catalog.models import PricingUnit
from invoicing.models import Invoice, InvoiceLineItem
from invoicing.selectors import InvoiceView

CUSTOMER = "customer"
STAFF = "staff"

# Metronome's applied_commit_or_credit types, as the customer reads them.
BALANCE_KINDS = {"PREPAID": "Prepaid commit", "POSTPAID": "Postpaid commit", "CREDIT": "Credit"}
# A line type that is not usage gets its kind beside its name.
LINE_KINDS = {
    "subscription": "",
    "scheduled": "",
    "commit_purchase": "Commit purchase",
    "postpaid_trueup": "Postpaid commitment true-up",
    "cpu_conversion": "Converted to the invoice currency",
}


@dataclass(frozen=True)
class Party:
    """A seller or a bill-to as printed. `account`: on a bill-to that pays for another
    customer's usage (an account hierarchy's payer), the customer whose usage it is."""

    name: str
    address_lines: tuple[str, ...] = ()
    email: str = ""
    tax_id: str = ""
    account: str = ""


@dataclass(frozen=True)
class Parties:
    """Who and how: the seller, the bill-to, and per product on the lines its display unit and
    group key order (`{product id: {"unit": str, "keys": [str]}}`)."""

    seller: Party
    bill_to: Party
    products: dict
    logo_type: str = ""
    logo_data: bytes = b""
    payment_instructions: str = ""
    number_prefix: str = ""


@dataclass(frozen=True)
class DocumentLine:
    description: str
    detail: str
    quantity: str
    unit_price: str
    amount: str
    # Staff only: why the customer's copy leaves this line out ("" when it is printed).
    left_out: str = ""


@dataclass(frozen=True)
class ProductGroup:
    name: str
    lines: tuple[DocumentLine, ...]
    subtotal: str

    @property
    def single(self) -> bool:
        """One line that is the product itself (a fee): printed as one row, no subtotal."""
        return len(self.lines) == 1 and self.lines[0].description == self.name


@dataclass(frozen=True)
class AppliedBalance:
    name: str
    kind: str
    amount: str
    deducted: bool


@dataclass(frozen=True)
class Document:
    invoice: Invoice
    audience: str
    title: str
    number: str
    status: str
    watermark: str
    seller: Party
    bill_to: Party
    logo_uri: str
    issue_date: str
    due_date: str
    terms: str
    period_caption: str
    period: str
    currency: str
    groups: tuple[ProductGroup, ...]
    applied: tuple[AppliedBalance, ...]
    subtotal: str
    applied_total: str
    total_due: str
    payment_instructions: tuple[str, ...]
    created: datetime
    left_out_count: int = 0
    notes: tuple[str, ...] = field(default=())


def currency_label(unit: PricingUnit) -> str:
    """`USD` for the built-in `USD (cents)` (its amounts print as dollars); a custom unit's name."""
    return "USD" if unit.name == money.USD_CENTS_NAME else unit.name


def display_amount(unit: PricingUnit, amount: Decimal) -> Decimal:
    """An amount in the unit people read: dollars for `USD (cents)` (for charts' axes)."""
    return amount / 100 if unit.name == money.USD_CENTS_NAME else amount


def date_words(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def period_words(start: datetime, end: datetime) -> str:
    """[start, end) as the inclusive dates a customer reads: `December 1-31, 2026`,
    `November 15 - December 14, 2026`, `December 15, 2026 - January 14, 2027`."""
    first = start.date()
    last = (end - timedelta(microseconds=1)).date() if end > start else first
    if first == last:
        return date_words(first)
    if first.year != last.year:
        return f"{date_words(first)} - {date_words(last)}"
    if first.month != last.month:
        return f"{first:%B} {first.day} - {last:%B} {last.day}, {last.year}"
    return f"{first:%B} {first.day}-{last.day}, {last.year}"


def quantity_words(value: Decimal | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{money.normalize(value):,f}"
    return f"{text} {unit}" if unit else text


def tier_words(line: InvoiceLineItem, unit: str) -> str:
    """`First 2`, `Next 3`, `Over 5` (with the product's unit when it has one); "" for a rate
    with a single open tier."""
    if line.tier_level is None:
        return ""
    if line.tier_size is None:
        if line.tier_level == 1:
            return ""
        return f"Over {quantity_words(line.tier_starting_at, unit)}"
    words = "First" if line.tier_level == 1 else "Next"
    return f"{words} {quantity_words(line.tier_size, unit)}"


def group_label(line: InvoiceLineItem, keys: list[str]) -> str:
    """The line's pricing and presentation group values in the product's key order, `1080p -
    marketing` (values of keys the product no longer names follow, by key)."""
    values = {**(line.pricing_group_values or {}), **(line.presentation_group_values or {})}
    ordered = [values[k] for k in keys if k in values]
    ordered += [values[k] for k in sorted(values) if k not in keys]
    return " - ".join(str(v) for v in ordered)


def _left_out(line: InvoiceLineItem, *, zero_lines: bool) -> str:
    if line.is_unpriced:
        return "Usage without a price: not charged, not on the customer's copy."
    if line.total == 0 and not zero_lines:
        return "Zero amount: not on the customer's copy."
    return ""


def _line(
    line: InvoiceLineItem,
    *,
    invoice: Invoice,
    unit_of_line: PricingUnit,
    product: dict,
    zero_lines: bool,
) -> DocumentLine:
    unit = product.get("unit", "")
    label = group_label(line, product.get("keys", []))
    details = []
    if line.type == InvoiceLineItem.Type.USAGE:
        details.append(tier_words(line, unit))
    elif LINE_KINDS.get(line.type):
        details.append(LINE_KINDS[line.type])
    window = (line.starting_at, line.ending_before)
    whole = (invoice.start_timestamp, invoice.end_timestamp)
    if all(window) and window != whole and not invoice.is_scheduled:
        details.append(period_words(*window))
    if line.is_prorated:
        details.append("prorated")
    return DocumentLine(
        description=label or line.name,
        detail=", ".join(d for d in details if d),
        quantity=quantity_words(line.quantity, unit if line.type == "usage" else ""),
        unit_price="" if line.is_unpriced else unit_of_line.format(line.unit_price),
        amount=unit_of_line.format(line.total),
        left_out=_left_out(line, zero_lines=zero_lines),
    )


def invoice_document(
    *,
    view: InvoiceView,
    parties: Parties,
    units: dict,
    audience: str,
    now: datetime,
    zero_lines: bool = False,
) -> Document:
    """The document of `view` for `audience`: CUSTOMER leaves out lines without a price and
    lines of zero amount (unless `zero_lines`: an embedded dashboard's
    show_zero_usage_line_items); STAFF keeps them, each saying why the customer's copy leaves
    it out. `units`: {pricing unit id: PricingUnit} of the invoice and its lines."""
    invoice = view.invoice
    unit = units[str(invoice.credit_type_id)]
    groups: dict[tuple, list] = {}
    applied = []
    left_out = 0
    # A consolidated invoice's lines are grouped by the account whose usage they were.
    accounts = {member.pk: member.customer.bill_to_name for member in view.constituents}
    for line in view.lines:
        line_unit = units.get(str(line.credit_type_id), unit)
        account = accounts.get(line.origin_invoice_id)
        name = f"{line.name} ({account})" if account else line.name
        if line.type == InvoiceLineItem.Type.APPLIED_COMMIT_OR_CREDIT:
            kind = line.applied_commit_or_credit_type
            deducted = kind != "POSTPAID" and line_unit.pk == unit.pk
            applied.append(
                AppliedBalance(
                    name=name,
                    kind=BALANCE_KINDS.get(kind, kind),
                    amount=line_unit.format(line.total),
                    deducted=deducted,
                )
            )
            continue
        printed = _line(
            line,
            invoice=invoice,
            unit_of_line=line_unit,
            product=parties.products.get(str(line.product_id), {}),
            zero_lines=zero_lines,
        )
        if printed.left_out:
            left_out += 1
            if audience == CUSTOMER:
                continue
        key = (str(line.origin_invoice_id or ""), str(line.product_id or ""), line.name)
        entry = groups.setdefault(key, [name, [], money.ZERO])
        entry[1].append(printed)
        if line_unit.pk == unit.pk:
            entry[2] += line.total
    applied_total = sum((line.total for line in view.lines if _deducted(line, unit)), money.ZERO)
    issued = invoice.issued_at
    terms = f"Net {invoice.net_payment_terms_days} days"
    if issued is not None:
        issue_date = date_words(issued.date())
        due_date = date_words(issued.date() + timedelta(days=invoice.net_payment_terms_days))
    else:
        issue_date = "Not issued yet (draft)"
        due_date = f"{invoice.net_payment_terms_days} days after issue"
    number = f"{parties.number_prefix}{invoice.number}" if invoice.number else ""
    watermark = {Invoice.Status.DRAFT: "DRAFT", Invoice.Status.VOID: "VOID"}.get(invoice.status, "")
    notes = []
    if invoice.status == Invoice.Status.DRAFT:
        notes.append("Draft: amounts change as usage arrives until the invoice is issued.")
    if invoice.status == Invoice.Status.VOID:
        notes.append("This invoice was voided and is not payable.")
    return Document(
        invoice=invoice,
        audience=audience,
        title=f"Invoice {number}" if number else "Invoice (draft)",
        number=number,
        status=invoice.get_status_display(),
        watermark=watermark,
        seller=parties.seller,
        bill_to=parties.bill_to,
        logo_uri=(
            f"data:{parties.logo_type};base64,{base64.b64encode(parties.logo_data).decode()}"
            if parties.logo_data
            else ""
        ),
        issue_date=issue_date,
        due_date=due_date,
        terms=terms,
        period_caption="Date" if invoice.is_scheduled else "Service period",
        period=period_words(invoice.start_timestamp, invoice.end_timestamp),
        currency=currency_label(unit),
        groups=tuple(
            ProductGroup(name=name, lines=tuple(lines), subtotal=unit.format(subtotal))
            for name, lines, subtotal in groups.values()
        ),
        applied=tuple(applied),
        subtotal=unit.format(view.subtotal),
        applied_total=unit.format(applied_total),
        total_due=unit.format(view.total),
        payment_instructions=tuple(
            line for line in parties.payment_instructions.splitlines() if line.strip()
        ),
        created=issued if issued is not None else now,
        left_out_count=left_out,
        notes=tuple(notes),
    )


def _deducted(line: InvoiceLineItem, unit: PricingUnit) -> bool:
    return (
        line.type == InvoiceLineItem.Type.APPLIED_COMMIT_OR_CREDIT
        and line.applied_commit_or_credit_type != "POSTPAID"
        and str(line.credit_type_id) == str(unit.pk)
    )
