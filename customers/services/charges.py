"""Billing a professional service as it is delivered (scheduleProServicesInvoice), and the
commits threshold billing buys (invoicing decides when; customers records them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum

from catalog.models import Product

from ..models import AccessSegment, Commit, CommitInvoiceItem, Contract, ProServiceItem
from .common import clean
from .contracts import contract_open
from .events import balance_event, contract_event
from .gates import GateSpec, payment_gate_open


@dataclass(frozen=True)
class ProServiceBilling:
    """One line of scheduleProServicesInvoice: an amount, or a quantity (at the service's unit
    price unless `unit_price` is given)."""

    professional_service_id: str
    amount: Decimal | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    metadata: str = ""


def _billed(service) -> Decimal:
    total = service.items.aggregate(total=Sum(F("unit_price") * F("quantity")))["total"]
    return Decimal(total or 0)


@transaction.atomic
def pro_services_bill(
    *, contract: Contract, issued_at: datetime, lines: Sequence[ProServiceBilling], now: datetime
) -> list[ProServiceItem]:
    """Bill professional services of the contract on the invoice dated `issued_at` (a
    SCHEDULED invoice of that date, which invoicing makes on hearing `contract.edit`). A service
    is never billed past its `max_amount`."""
    contract_open(contract)
    if not lines:
        raise ValidationError({"line_items": "Give at least one line."})
    made = []
    for index, line in enumerate(lines):
        where = f"line_items[{index}]"
        service = (
            contract.professional_services.select_for_update()
            .filter(pk=line.professional_service_id, archived_at__isnull=True)
            .first()
        )
        if service is None:
            raise ValidationError(
                {
                    f"{where}.professional_service_id": "This contract has no such professional service."
                }
            )
        if line.amount is not None:
            if line.quantity is not None or line.unit_price is not None:
                raise ValidationError({where: "Give an amount, or a quantity (and unit price)."})
            unit_price, quantity = line.amount, Decimal(1)
        else:
            if line.quantity is None:
                raise ValidationError({where: "Give an amount, or a quantity (and unit price)."})
            unit_price = service.unit_price if line.unit_price is None else line.unit_price
            quantity = line.quantity
        left = service.max_amount - _billed(service)
        if unit_price * quantity > left:
            raise ValidationError(
                {
                    where: f"This would bill {unit_price * quantity} but only {left} of the "
                    f"service's maximum {service.max_amount} is left."
                }
            )
        item = ProServiceItem(
            professional_service=service,
            timestamp=issued_at,
            unit_price=unit_price,
            quantity=quantity,
            metadata=line.metadata,
        )
        clean(item, where)
        item.save()
        made.append(item)
    contract_event("contract.edit", contract, now, ending_moved=False)
    return made


THRESHOLD_KINDS = ("PREPAID_BALANCE", "SPEND")


# Metronome's documented default for a threshold commit given no priority (the SDK's
# BaseThresholdCommit: "Lower priority commits are consumed first. Defaults to 100").
THRESHOLD_COMMIT_PRIORITY = Decimal(100)


@transaction.atomic
def threshold_commit_create(
    *,
    contract: Contract,
    kind: str,
    product: Product,
    amount: Decimal,
    starting_at: datetime,
    ending_before: datetime,
    now: datetime,
    name: str = "",
    applicable_products: Sequence[Product] = (),
    applicable_product_tags: Sequence[str] = (),
    specifiers: Sequence[dict] = (),
    credit_type_id=None,
    invoiced_at: datetime | None = None,
    invoice_unit_price: Decimal | None = None,
    gate: GateSpec | None = None,
    description: str = "",
    priority: Decimal | None = None,
    rate_type: str = Commit.RateType.LIST_RATE,
    rollover_fraction: Decimal | None = None,
    discounted_amount: Decimal | None = None,
    full_unit_price: Decimal | None = None,
) -> Commit:
    """A PREPAID commit bought by threshold billing (`kind`: PREPAID_BALANCE for an
    auto-recharge, SPEND for spend threshold billing): `amount` usable in [starting_at,
    ending_before), invoiced at `starting_at` (its own SCHEDULED invoice). With a payment
    `gate` the commit is invoiced but holds nothing until its payment succeeds: the access
    segment waits on its `PaymentGate` (`payment_gate_release`). With `invoice_unit_price` (a
    custom unit's fiat worth, a discount) it is invoiced as `amount` units at that price, not
    at `amount`. With `discounted_amount` (a discounted purchase) only that much is invoiced at
    `invoice_unit_price`; the rest, past its discount's cap, at `full_unit_price` (None: at its
    amount): two items, which add up to `amount` exactly."""
    if kind not in THRESHOLD_KINDS:
        raise ValueError(f"unknown threshold kind {kind!r}")
    commit = Commit(
        customer_id=contract.customer_id,
        contract=contract,
        product=product,
        type=Commit.Type.PREPAID,
        name=name or ("Auto-recharge" if kind == "PREPAID_BALANCE" else "Spend threshold"),
        applicable_product_tags=list(applicable_product_tags),
        specifiers=[dict(specifier) for specifier in specifiers],
        threshold_kind=kind,
        description=description,
        rate_type=rate_type,
        rollover_fraction=rollover_fraction,
        threshold_discounted_amount=discounted_amount,
    )
    commit.priority = THRESHOLD_COMMIT_PRIORITY if priority is None else priority
    if credit_type_id:
        commit.credit_type_id = credit_type_id
    clean(commit, exclude=["product"])
    commit.save()
    commit.applicable_products.set(applicable_products)
    if gate is None:
        segment = AccessSegment(
            commit=commit, amount=amount, starting_at=starting_at, ending_before=ending_before
        )
        clean(segment)
        segment.save()
    else:
        payment_gate_open(
            commit=commit,
            kind=kind,
            gate=gate,
            amount=amount,
            starting_at=starting_at,
            ending_before=ending_before,
            now=now,
        )
    parts = [(amount, invoice_unit_price)]
    if discounted_amount is not None:
        parts = [
            (discounted_amount, invoice_unit_price),
            (amount - discounted_amount, full_unit_price),
        ]
    for quantity, unit_price in parts:
        if quantity <= 0:
            continue
        CommitInvoiceItem.objects.create(
            commit=commit,
            timestamp=invoiced_at or starting_at,
            **(
                {"amount": quantity}
                if unit_price is None
                else {"unit_price": unit_price, "quantity": quantity}
            ),
        )
    balance_event("create", commit, now)
    contract_event("contract.edit", contract, now, ending_moved=False)
    return commit
