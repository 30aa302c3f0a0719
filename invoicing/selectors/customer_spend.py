"""CUSTOMER-scope composite rates (Metronome's composite charges: "calculated across spend
within the same customer and is billed to one contract"): which contract bills one, and the
charges of the customer's other contracts that it counts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from catalog.models import Product as ProductModel
from catalog.models import Rate as RateModel
from customers import periods
from customers.models import Contract
from invoicing.models import Invoice
from invoicing.rating import (
    CompositeScope,
    CustomerSpend,
    LineType,
    Period,
    ProductType,
    RateType,
    rate_invoice,
)

from .engine_inputs import overlapping


def _live_contracts(contract: Contract, period: Period) -> list[Contract]:
    """The customer's contracts (this one too) that are not archived and overlap the period."""
    return list(
        Contract.objects.filter(
            customer_id=contract.customer_id,
            archived_at__isnull=True,
            starting_at__lt=period.ending_before,
        )
        .filter(Q(ending_before__isnull=True) | Q(ending_before__gt=period.starting_at))
        .select_related("customer", "rate_card__fiat_credit_type")
    )


def customer_composites_billed_here(
    *, contract: Contract, period: Period, product_ids: Iterable[str]
) -> set[str]:
    """Of these composite products (priced on `contract`'s card by a CUSTOMER-scope rate in the
    period), the ones `contract` bills: among the customer's live contracts whose card prices the
    product that way in the period, the one that started first (then was created first), so the
    customer's spend is charged once."""
    product_ids = set(product_ids)
    if not product_ids:
        return set()
    contracts = _live_contracts(contract, period)
    priced = {
        (str(card), str(product))
        for card, product in overlapping(
            RateModel.objects.filter(
                rate_card_id__in={c.rate_card_id for c in contracts},
                product_id__in=product_ids,
                rate_type__in=sorted(RateType.COMPOSITE),
                composite_scope=CompositeScope.CUSTOMER,
                entitled=True,
            ),
            period,
        ).values_list("rate_card_id", "product_id")
    }
    billed = set()
    for product_id in product_ids:
        candidates = [c for c in contracts if (str(c.rate_card_id), product_id) in priced]
        first = min(
            candidates, key=lambda c: (c.starting_at, c.created_at, str(c.pk)), default=None
        )
        if first is None or first.pk == contract.pk:
            billed.add(product_id)
    return billed


def customer_spend(*, contract: Contract, period: Period) -> tuple[CustomerSpend, ...]:
    """The charge lines of the customer's other live contracts that start in `period`, in the
    unit of `contract`'s card: their usage invoices of the billing periods overlapping it, frozen
    lines when finalized, else rated now (without their own customer spend); composite lines and
    lines in a custom unit are left out, as a composite leaves them out of its own invoice."""
    from .preload import RatingPreload  # the preload calls this module

    unit = contract.rate_card.fiat_credit_type_id
    spend: list[CustomerSpend] = []
    for other in _live_contracts(contract, period):
        if other.pk == contract.pk or other.rate_card.fiat_credit_type_id != unit:
            continue
        billing_periods = list(
            periods.periods_between(
                periods.schedule_for(other), period.starting_at, period.ending_before
            )
        )
        invoices = {
            invoice.start_timestamp: invoice
            for invoice in Invoice.objects.filter(
                contract=other,
                type=Invoice.Type.USAGE,
                start_timestamp__in=[p.starting_at for p in billing_periods],
            ).exclude(status=Invoice.Status.VOID)
        }
        for billing in billing_periods:
            invoice = invoices.get(billing.starting_at)
            if invoice is not None and invoice.status == Invoice.Status.FINALIZED:
                spend.extend(_frozen(other, invoice, period))
                continue
            rating = RatingPreload([(other, billing)]).rating_input(
                other.pk, billing.starting_at, with_customer_spend=False
            )
            spend.extend(
                CustomerSpend(
                    contract_id=str(other.pk),
                    product_id=line.product_id,
                    product_tags=line.product_tags,
                    starting_at=line.starting_at,
                    total=line.total,
                )
                for line in rate_invoice(rating).lines
                if _counts(line.type, line.product_type, line.credit_type_id is None)
                and period.contains(line.starting_at)
            )
    return tuple(spend)


def _frozen(other: Contract, invoice: Invoice, period: Period) -> list[CustomerSpend]:
    lines = [
        line
        for line in invoice.line_items.all()
        if line.starting_at is not None
        and period.contains(line.starting_at)
        and line.product_id is not None
        and _counts(line.type, line.product_type, line.credit_type_id == invoice.credit_type_id)
    ]
    tags = dict(
        ProductModel.objects.filter(pk__in={line.product_id for line in lines}).values_list(
            "pk", "tags"
        )
    )
    return [
        CustomerSpend(
            contract_id=str(other.pk),
            product_id=str(line.product_id),
            product_tags=tuple(tags.get(line.product_id) or ()),
            starting_at=line.starting_at,
            total=line.total,
        )
        for line in lines
    ]


def _counts(line_type: str, product_type: str, in_invoice_unit: bool) -> bool:
    return (
        line_type in LineType.CHARGES and product_type != ProductType.COMPOSITE and in_invoice_unit
    )
