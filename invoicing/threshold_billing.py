"""Threshold billing: a contract's prepaid balance auto-recharge and spend threshold billing
(`Contract.prepaid_balance_threshold_configuration`, `spend_threshold_configuration`).

Invoicing evaluates them, because both need what the live drafts draw and owe: on hearing a
contract being made or edited (an enabled configuration is evaluated at once) and every few
minutes from its schedule (`invoicing.check_thresholds`), so usage that crosses a threshold is
acted on within minutes. What to buy is the engine's arithmetic (`rating.thresholds`); the
commit is recorded by customers (`threshold_commit_create`), whose events make the drafts
follow: the purchase is invoiced on a SCHEDULED invoice of its own, and the usage draws the
commit down.

A configuration in a custom pricing unit (`custom_credit_type_id`) watches and buys in that unit
and is invoiced in fiat at the rate card's conversion; the commit's `priority`, `rate_type` and
`rollover_fraction` are the bought commit's (draw-down order, COMMIT_RATE pricing, rollover at
renewal) and an auto-recharge's `duration` its access (a year if not given); a
`discount_configuration` invoices the commit at its `payment_fraction` (its access keeps the
whole amount), up to its `cap` if it has one: measured by a spend tracker of the contract over
the billing period, the part of a purchase past the cap is invoiced at full price
(`rating.discount_split`); `threshold_balance_specifiers` leave balances out of what an
auto-recharge watches; the commit's `specifiers` limit what draws it.

With a payment gate (`payment_gate_config` STRIPE or EXTERNAL) the commit is bought without a
balance: its invoice, dated the moment it was bought, is finalized at once and
`payment_gate.threshold_reached` (and, for EXTERNAL, `payment_gate.external_initiate`) recorded;
the balance starts when the payment is reported (`payment_gates.payment_gate_settle`). While a
gated purchase waits, its threshold does not buy again; after a gated payment failed (a declined
Stripe card, an EXTERNAL payment the integrator cancelled), it waits an hour, doubling with each
further failure in a row up to a day (`customers.services.payment_gate_retry_at`), instead of
asking for the payment again every 5 minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q

from catalog.models import CreditTypeConversion, Product
from customers import periods
from customers.models import Commit, Contract, Credit
from customers.selectors import spend_tracker_accumulated, spend_tracker_live
from customers.services import (
    GateSpec,
    add_offset,
    payment_gate_pending,
    payment_gate_retry_at,
    threshold_commit_create,
)
from invoicing.models import Invoice
from invoicing.payment_gates import payment_gate_invoice
from invoicing.rating import (
    balance_excluded,
    discount_split,
    recharge_amount,
    spend_threshold_amount,
    threshold_unit_price,
)
from invoicing.selectors import balances_now, invoice_view
from invoicing.services import contract_drafts_ensure


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _prepaid_left(contract: Contract, config: dict, now: datetime) -> Decimal:
    """What the contract's prepaid commits and credits (its own and the customer-level ones
    applying to it) hold now in the configuration's unit (its `custom_credit_type_id`, else the
    contract's fiat unit), net of what live drafts draw; those its `threshold_balance_specifiers`
    exclude (by their custom fields) are left out, and so are QUANTITY balances (units, not
    money)."""
    unit = config.get("custom_credit_type_id") or contract.rate_card.fiat_credit_type_id
    exclusions = config.get("threshold_balance_specifiers") or ()
    terms = [
        *Commit.objects.filter(
            Q(contract=contract) | Q(contract__isnull=True, customer_id=contract.customer_id),
            type=Commit.Type.PREPAID,
            archived_at__isnull=True,
            credit_type_id=unit,
            access_type=Commit.AccessType.SPEND,
        ),
        *Credit.objects.filter(
            Q(contract=contract) | Q(contract__isnull=True, customer_id=contract.customer_id),
            archived_at__isnull=True,
            credit_type_id=unit,
            access_type=Credit.AccessType.SPEND,
        ),
    ]
    live = [
        term
        for term in terms
        if not balance_excluded(
            exclusions, is_credit=isinstance(term, Credit), custom_fields=term.custom_fields or {}
        )
        and term.access_schedule.filter(starting_at__lte=now, ending_before__gt=now).exists()
    ]
    return sum(balances_now(balances=live, now=now).values(), Decimal(0))


def _discount_terms(
    contract: Contract,
    config: dict,
    amount: Decimal,
    now: datetime,
    fiat_per_custom: Decimal | None,
) -> dict:
    """How much of a purchase of `amount` is bought at the discount (all of it without a cap;
    with one, what is left under it in the tracker's billing period) and what the rest costs
    per unit (the custom unit's worth in fiat, `fiat_per_custom`; None: its amount)."""
    discount = config.get("discount_configuration")
    if not discount:
        return {}
    cap = discount.get("cap")
    if not cap:
        return {"discounted_amount": amount}
    tracker = spend_tracker_live(contract=contract, alias=cap["spend_tracker_alias"])
    tracked = spend_tracker_accumulated(tracker=tracker, now=now)[0] if tracker else Decimal(0)
    discounted, _ = discount_split(amount=amount, tracked=tracked, cap=Decimal(cap["amount"]))
    return {
        "discounted_amount": discounted,
        "full_unit_price": threshold_unit_price(fiat_per_custom=fiat_per_custom),
    }


def _fiat_per_custom(contract: Contract, config: dict) -> Decimal | None:
    """The rate card's worth in fiat of the configuration's custom unit (None: it buys in
    fiat). Read once per purchase."""
    unit = config.get("custom_credit_type_id")
    if not unit:
        return None
    return (
        CreditTypeConversion.objects.filter(
            rate_card_id=contract.rate_card_id, custom_credit_type_id=unit
        )
        .values_list("fiat_per_custom_credit", flat=True)
        .get()
    )


def _commit_terms(contract: Contract, config: dict, fiat_per_custom: Decimal | None) -> dict:
    """The bought commit's terms: its product, name and scope; in a custom pricing unit, that
    unit; invoiced per unit at `threshold_unit_price` when in a custom unit (the rate card's
    conversion) or discounted (`discount_configuration.payment_fraction`); its priority, rate type
    and rollover fraction when the configuration gives them."""
    commit = config["commit"]
    unit = config.get("custom_credit_type_id")
    fraction = (config.get("discount_configuration") or {}).get("payment_fraction")
    return {
        "credit_type_id": unit or None,
        "invoice_unit_price": threshold_unit_price(
            payment_fraction=Decimal(fraction) if fraction is not None else None,
            fiat_per_custom=fiat_per_custom,
        ),
        "product": Product.objects.get(pk=commit["product_id"]),
        "name": commit.get("name", ""),
        "applicable_products": list(
            Product.objects.filter(pk__in=commit.get("applicable_product_ids") or [])
        ),
        "applicable_product_tags": commit.get("applicable_product_tags") or [],
        "specifiers": commit.get("specifiers") or [],
        "description": commit.get("description", ""),
        "priority": Decimal(commit["priority"]) if "priority" in commit else None,
        "rate_type": commit.get("rate_type") or Commit.RateType.LIST_RATE,
        "rollover_fraction": Decimal(commit["rollover_fraction"])
        if "rollover_fraction" in commit
        else None,
    }


def _recharge(contract: Contract, config: dict, now: datetime) -> Commit | None:
    left = _prepaid_left(contract, config, now)
    amount = recharge_amount(
        left=left,
        threshold=Decimal(config["threshold_amount"]),
        recharge_to=Decimal(config["recharge_to_amount"]),
    )
    if amount <= 0:
        return None
    start = _hour(now)
    end = add_offset(start, config["commit"].get("duration") or {"unit": "YEARS", "value": 1})
    if contract.ending_before is not None:
        end = min(end, contract.ending_before)
    if end <= start:
        return None
    return _buy(
        contract,
        config,
        kind="PREPAID_BALANCE",
        amount=amount,
        starting_at=start,
        ending_before=end,
        invoiced_at=start,
        now=now,
    )


def _spend(contract: Contract, config: dict, now: datetime) -> Commit | None:
    billing = periods.period_containing(periods.schedule_for(contract), now)
    if billing is None:
        return None
    draft = Invoice.objects.filter(
        contract=contract,
        type=Invoice.Type.USAGE,
        status=Invoice.Status.DRAFT,
        start_timestamp=billing.starting_at,
    ).first()
    if draft is None:
        return None
    owed = invoice_view(invoice=draft, now=now).total
    amount = spend_threshold_amount(owed=owed, threshold=Decimal(config["threshold_amount"]))
    if amount <= 0:
        return None
    end = billing.ending_before
    if end.minute or end.second or end.microsecond:
        end = _hour(end) + timedelta(hours=1)
    return _buy(
        contract,
        config,
        kind="SPEND",
        amount=amount,
        starting_at=_hour(billing.starting_at),
        ending_before=end,
        invoiced_at=_hour(now),
        now=now,
    )


def _buy(contract: Contract, config: dict, *, kind: str, invoiced_at: datetime, now, **terms):
    """The commit, at once or behind its payment gate."""
    gate = GateSpec.from_config(config.get("payment_gate_config"))
    fiat_per_custom = _fiat_per_custom(contract, config)
    terms.update(_discount_terms(contract, config, terms["amount"], now, fiat_per_custom))
    terms.update(_commit_terms(contract, config, fiat_per_custom))
    if gate is None:
        return threshold_commit_create(
            contract=contract,
            kind=kind,
            invoiced_at=invoiced_at,
            now=now,
            **terms,
        )
    # Its own invoice, dated now (not the hour): a purchase whose payment failed leaves a void
    # invoice at its moment, and the next purchase needs an invoice of its own.
    commit = threshold_commit_create(
        contract=contract,
        kind=kind,
        invoiced_at=now,
        gate=gate,
        now=now,
        **terms,
    )
    contract_drafts_ensure(contract=contract, now=now)
    payment_gate_invoice(gate=commit.payment_gate, invoiced_at=now, now=now)
    return commit


@transaction.atomic
def contract_thresholds_check(*, contract: Contract, now: datetime) -> list[Commit]:
    """Evaluate the contract's enabled threshold configurations once (the contract row locked,
    so two workers never buy twice); returns the commits bought."""
    contract = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("rate_card")
        .get(pk=contract.pk)
    )
    if contract.archived_at is not None or contract.starting_at > now:
        return []
    if contract.ending_before is not None and contract.ending_before <= now:
        return []
    bought = []
    for kind, config, buy in (
        ("PREPAID_BALANCE", contract.prepaid_balance_threshold_configuration, _recharge),
        ("SPEND", contract.spend_threshold_configuration, _spend),
    ):
        if not (config and config.get("is_enabled")):
            continue
        if payment_gate_pending(contract_id=contract.pk, kind=kind) is not None:
            continue  # no second purchase while one waits on its payment
        retry_at = payment_gate_retry_at(contract_id=contract.pk, kind=kind)
        if retry_at is not None and now < retry_at:
            continue  # its last payments failed: cool down before asking again
        commit = buy(contract, config, now)
        if commit is not None:
            bought.append(commit)
    return bought


def thresholds_check_all(*, now: datetime) -> int:
    """Every live contract with an enabled threshold configuration, checked; the commits bought."""
    contracts = (
        Contract.objects.filter(archived_at__isnull=True, starting_at__lte=now)
        .filter(Q(ending_before__isnull=True) | Q(ending_before__gt=now))
        .filter(
            Q(prepaid_balance_threshold_configuration__is_enabled=True)
            | Q(spend_threshold_configuration__is_enabled=True)
        )
    )
    return sum(len(contract_thresholds_check(contract=c, now=now)) for c in contracts)
