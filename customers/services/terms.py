"""Contract terms as specs (commits, credits, overrides, scheduled charges, subscriptions), and
adding them to a contract with every model rule checked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q

from catalog.models import PricingUnit, Product, tiers_problem

from ..hierarchy import child_access_normal
from ..models import (
    AccessSegment,
    Commit,
    CommitInvoiceItem,
    Contract,
    ContractUsageFilter,
    Credit,
    Discount,
    DiscountItem,
    Override,
    OverrideTier,
    ProfessionalService,
    RecurringBalance,
    ScheduledCharge,
    ScheduledChargeItem,
    Subscription,
    SubscriptionQuantity,
)
from ..models.common import quantity_errors
from ..recurring import schedule_items_from_recurrence
from .common import clean
from .gates import GateSpec

# --- Contract terms -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentSpec:
    amount: Decimal
    starting_at: datetime
    ending_before: datetime


@dataclass(frozen=True)
class InvoiceItemSpec:
    timestamp: datetime
    amount: Decimal | None = None
    unit_price: Decimal | None = None
    quantity: Decimal | None = None


@dataclass(frozen=True)
class RecurringScheduleSpec:
    """Metronome's `recurring_schedule`: dated items made once, when the term is added
    (`customers.recurring.schedule_items_from_recurrence` says which)."""

    amount_distribution: str
    starting_at: datetime
    ending_before: datetime
    frequency: str
    amount: Decimal | None = None
    unit_price: Decimal | None = None
    quantity: Decimal | None = None

    def items(self, decimal_places: int) -> list[InvoiceItemSpec]:
        made = schedule_items_from_recurrence(
            amount_distribution=self.amount_distribution,
            starting_at=self.starting_at,
            ending_before=self.ending_before,
            frequency=self.frequency,
            amount=self.amount,
            unit_price=self.unit_price,
            quantity=self.quantity,
            decimal_places=decimal_places,
        )
        return [InvoiceItemSpec(i.timestamp, i.amount, i.unit_price, i.quantity) for i in made]


@dataclass(frozen=True)
class CreditSpec:
    product: Product
    access_schedule: Sequence[SegmentSpec]
    credit_type: PricingUnit | None = None
    name: str = ""
    description: str = ""
    priority: Decimal = Decimal(0)
    rate_type: str = Commit.RateType.LIST_RATE
    applicable_products: Sequence[Product] = ()
    applicable_product_tags: Sequence[str] = ()
    # Metronome's specifiers as stored: [{product_id, product_tags, pricing_group_values,
    # presentation_group_values}, ...] (never with applicable products or tags).
    specifiers: Sequence[dict] = ()
    rollover_fraction: Decimal | None = None
    access_type: str = Commit.AccessType.SPEND
    # hierarchy_configuration.child_access as stored (None: not given, NONE).
    child_access: dict | None = None


@dataclass(frozen=True)
class CommitSpec(CreditSpec):
    type: str = Commit.Type.PREPAID
    invoice_schedule: Sequence[InvoiceItemSpec] = ()
    invoice_recurring: RecurringScheduleSpec | None = None
    # A v2 edit's add_commits[].payment_gate_config: pending (no balance) until its invoice is paid.
    payment_gate: GateSpec | None = None
    # spend_tracker_attributes.counts_as_discounted (None: not given).
    counts_as_discounted: bool | None = None


@dataclass(frozen=True)
class OverrideSpec:
    starting_at: datetime
    type: str = Override.Type.MULTIPLIER
    ending_before: datetime | None = None
    product: Product | None = None
    applicable_product_tags: Sequence[str] = ()
    # ANY: Metronome's top-level tags; ALL: an override specifier's product_tags.
    tags_match: str = Override.TagsMatch.ANY
    pricing_group_values: dict = field(default_factory=dict)
    presentation_group_values: dict = field(default_factory=dict)
    billing_frequency: str = ""
    commit_ids: Sequence[str] = ()
    multiplier: Decimal | None = None
    overwrite_rate_type: str = ""
    overwrite_price: Decimal | None = None
    overwrite_credit_type: PricingUnit | None = None
    overwrite_tiers: Sequence[tuple[Decimal | None, Decimal]] = ()
    tiers: Sequence[tuple[Decimal | None, Decimal]] = ()  # (size, multiplier) for TIERED
    entitled: bool | None = None
    priority: Decimal | None = None
    is_commit_specific: bool = False
    target: str = ""


@dataclass(frozen=True)
class ScheduledChargeSpec:
    product: Product
    items: Sequence[InvoiceItemSpec]
    name: str = ""
    recurring: RecurringScheduleSpec | None = None


@dataclass(frozen=True)
class SubscriptionSpec:
    product: Product
    billing_frequency: str
    collection_schedule: str = Subscription.CollectionSchedule.ADVANCE
    is_prorated: bool = True
    initial_quantity: Decimal = Decimal(1)
    starting_at: datetime | None = None
    ending_before: datetime | None = None
    name: str = ""
    quantity_management_mode: str = Subscription.QuantityManagementMode.QUANTITY_ONLY
    seat_group_key: str = ""
    initial_seat_ids: Sequence[str] = ()
    initial_unassigned_seats: Decimal = Decimal(0)
    temporary_id: str = ""
    custom_fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DiscountSpec:
    product: Product
    items: Sequence[InvoiceItemSpec]
    name: str = ""
    custom_fields: dict = field(default_factory=dict)
    recurring: RecurringScheduleSpec | None = None


@dataclass(frozen=True)
class ProfessionalServiceSpec:
    product: Product
    unit_price: Decimal
    quantity: Decimal
    max_amount: Decimal
    description: str = ""
    custom_fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RecurringSpec:
    """A recurring commit (kind COMMIT) or credit (CREDIT); `subscription` is a subscription id,
    or the `temporary_id` of one added in the same request."""

    kind: str
    product: Product
    starting_at: datetime
    access_unit_price: Decimal
    priority: Decimal = Decimal(0)
    access_quantity: Decimal | None = None
    duration_periods: Decimal = Decimal(1)
    ending_before: datetime | None = None
    name: str = ""
    description: str = ""
    rate_type: str = "LIST_RATE"
    applicable_products: Sequence[Product] = ()
    applicable_product_tags: Sequence[str] = ()
    specifiers: Sequence[dict] = ()
    credit_type: PricingUnit | None = None
    invoice_unit_price: Decimal | None = None
    invoice_quantity: Decimal | None = None
    proration: str = "FIRST_AND_LAST"
    recurrence_frequency: str = ""
    rollover_fraction: Decimal | None = None
    subscription: str = ""
    allocation: str = "POOLED"
    # apply_seat_increase_config.is_prorated: seats added inside a period, prorated or in full.
    prorate_seat_increases: bool = True
    custom_fields: dict = field(default_factory=dict)
    access_type: str = Commit.AccessType.SPEND
    # proration_rounding: {"access"|"invoice": (decimal places, HALF_UP|FLOOR|CEILING)}.
    proration_rounding: dict = field(default_factory=dict)
    child_access: dict | None = None


def proration_rounding_spec(given: dict | None) -> dict:
    """proration_rounding as sent or stored ({"access": {decimal_places, rounding_method}, ...})
    as a RecurringSpec takes it: {"access"|"invoice": (places, method)}, null entries left out."""
    return {
        prefix: (int(entry["decimal_places"]), entry["rounding_method"])
        for prefix, entry in (given or {}).items()
        if entry is not None
    }


def rounding_fields(rounding: dict | None) -> dict:
    """A proration_rounding ({"access"|"invoice": (places, method)}; None clears it) as the
    RecurringBalance fields it sets."""
    rounding = rounding or {}
    fields = {}
    for prefix in ("access", "invoice"):
        places, method = rounding.get(prefix) or (None, "")
        fields[f"{prefix}_rounding_places"] = places
        fields[f"{prefix}_rounding_method"] = method
    return fields


def dot(prefix: str) -> str:
    return f"{prefix}." if prefix else ""


def add_balance(
    model, contract: Contract | None, spec: CreditSpec, prefix: str, *, held=False, **extra
):
    """A commit or credit of `contract`; with contract None, a customer-level one (the customer
    is then in `extra`). `held`: its access segments are checked but not written (a payment
    gate writes them when paid)."""
    if contract is not None:
        extra.setdefault("customer", contract.customer)
    term = model(
        contract=contract,
        product=spec.product,
        name=spec.name,
        description=spec.description,
        priority=spec.priority,
        rate_type=spec.rate_type,
        applicable_product_tags=list(spec.applicable_product_tags),
        specifiers=[dict(specifier) for specifier in spec.specifiers],
        rollover_fraction=spec.rollover_fraction,
        access_type=spec.access_type,
        child_access=child_access_normal(spec.child_access),
        **extra,
    )
    if spec.credit_type is not None:
        term.credit_type = spec.credit_type
    if not spec.access_schedule:
        raise ValidationError(
            {f"{dot(prefix)}access_schedule": "Give at least one access segment."}
        )
    # The product's type rule is clean()'s (in its words), not limit_choices_to's generic one.
    clean(term, prefix, exclude=["product"])
    if term.access_type == Commit.AccessType.QUANTITY:
        _check_quantity_scope(spec, prefix)
    term.save()
    term.applicable_products.set(spec.applicable_products)
    owner = "commit" if model is Commit else "credit"
    for index, segment in enumerate(spec.access_schedule):
        row = AccessSegment(
            amount=segment.amount,
            starting_at=segment.starting_at,
            ending_before=segment.ending_before,
            **{owner: term},
        )
        clean(row, f"{dot(prefix)}access_schedule.schedule_items[{index}]")
        if not held:
            row.save()
    return term


def _check_quantity_scope(spec: CreditSpec | RecurringSpec, prefix: str) -> None:
    """A QUANTITY balance holds units of usage products named one by one (by
    applicable_product_ids or specifiers' product_id): each unit of any of them draws one."""
    if spec.credit_type is not None and not spec.credit_type.is_currency:
        # Its units are covered at lines' fiat rates; a custom unit's lines are converted later.
        raise ValidationError(
            {
                f"{dot(prefix)}access_schedule.credit_type_id": "A QUANTITY balance covers "
                "usage priced in the contract's currency: leave credit_type_id out."
            }
        )
    named = {str(product.pk) for product in spec.applicable_products}
    named |= {str(s["product_id"]) for s in spec.specifiers if s.get("product_id")}
    field = "specifiers" if spec.specifiers else "applicable_product_ids"
    if not named:
        raise ValidationError(
            {
                f"{dot(prefix)}applicable_product_ids": "A QUANTITY balance holds units of named "
                "usage products: give applicable_product_ids (or specifiers with a product_id)."
            }
        )
    other = Product.objects.filter(pk__in=named).exclude(type=Product.Type.USAGE).first()
    if other is not None:
        raise ValidationError(
            {
                f"{dot(prefix)}{field}": f"A QUANTITY balance holds units of usage products; "
                f"{other.name} ({other.pk}) is a {other.type} product."
            }
        )


def quantity_balance_check(
    spec: CreditSpec | RecurringSpec, prefix: str, *, postpaid: bool = False
) -> None:
    """A QUANTITY commit's or credit's (or recurring term's) rules before one is made: the
    model's (`quantity_errors`, which clean() applies when a contract gets it) and its scope.
    A package's terms are checked by it, so the package is refused, not its contracts."""
    errors = quantity_errors(
        rate_type=spec.rate_type,
        tags=spec.applicable_product_tags,
        specifiers=spec.specifiers,
        postpaid=postpaid,
    )
    if errors:
        raise ValidationError({f"{dot(prefix)}{name}": text for name, text in errors.items()})
    _check_quantity_scope(spec, prefix)


def _gate_problem(spec: CommitSpec) -> dict[str, str]:
    """Why this commit cannot be payment gated (a gate holds one access segment and charges
    one invoice)."""
    if spec.type != Commit.Type.PREPAID:
        return {"type": "Only a PREPAID commit is payment gated."}
    if len(spec.access_schedule) != 1:
        return {"access_schedule.schedule_items": "A payment-gated commit has one access segment."}
    if len(spec.invoice_schedule) != 1 or spec.invoice_recurring is not None:
        return {
            "invoice_schedule.schedule_items": "A payment-gated commit is invoiced once: give "
            "one schedule item (what is charged)."
        }
    return {}


def add_commit(contract: Contract | None, spec: CommitSpec, prefix: str, **extra) -> Commit:
    gated = spec.payment_gate is not None
    if gated and (problem := _gate_problem(spec)):
        raise ValidationError({f"{dot(prefix)}{k}": v for k, v in problem.items()})
    if spec.counts_as_discounted is not None:
        extra["counts_as_discounted"] = spec.counts_as_discounted
    commit = add_balance(Commit, contract, spec, prefix, held=gated, type=spec.type, **extra)
    _add_schedule_items(
        CommitInvoiceItem,
        _with_recurrence(
            spec.invoice_schedule, spec.invoice_recurring, commit.credit_type.decimal_places
        ),
        f"{dot(prefix)}invoice_schedule.schedule_items",
        commit=commit,
    )
    return commit


def _with_recurrence(
    items: Sequence[InvoiceItemSpec], recurring: RecurringScheduleSpec | None, decimal_places: int
) -> list[InvoiceItemSpec]:
    """A schedule's listed items and those its recurring_schedule makes, in date order."""
    made = recurring.items(decimal_places) if recurring is not None else []
    return sorted([*items, *made], key=lambda item: item.timestamp)


def _add_schedule_items(model, items, prefix: str, **owner) -> None:
    """Validate and save the dated items of a commit's invoice schedule or a scheduled charge."""
    for index, item in enumerate(items):
        row = model(
            timestamp=item.timestamp,
            amount=item.amount,
            unit_price=item.unit_price,
            quantity=item.quantity,
            **owner,
        )
        clean(row, f"{prefix}[{index}]")
        row.save()


def _add_credit(contract: Contract, spec: CreditSpec, prefix: str) -> Credit:
    return add_balance(Credit, contract, spec, prefix)


def _add_override(contract: Contract, spec: OverrideSpec, prefix: str) -> Override:
    override = Override(
        contract=contract,
        type=spec.type,
        starting_at=spec.starting_at,
        ending_before=spec.ending_before,
        product=spec.product,
        applicable_product_tags=list(spec.applicable_product_tags),
        tags_match=spec.tags_match,
        pricing_group_values=dict(spec.pricing_group_values),
        presentation_group_values=dict(spec.presentation_group_values),
        billing_frequency=spec.billing_frequency,
        commit_ids=[str(pk) for pk in spec.commit_ids],
        multiplier=spec.multiplier,
        overwrite_rate_type=spec.overwrite_rate_type,
        overwrite_price=spec.overwrite_price,
        overwrite_credit_type=spec.overwrite_credit_type,
        entitled=spec.entitled,
        priority=spec.priority,
        is_commit_specific=spec.is_commit_specific,
        target=spec.target,
    )
    errors = {}
    if spec.type == Override.Type.TIERED and not spec.tiers:
        errors[f"{prefix}.tiers"] = "A tiered override needs tiers of multipliers."
    if spec.overwrite_rate_type == "TIERED":
        problem = tiers_problem(list(spec.overwrite_tiers))
        if problem:
            errors[f"{prefix}.overwrite_rate.tiers"] = problem
    if errors:
        raise ValidationError(errors)
    clean(override, prefix)
    override.save()
    for level, (size, multiplier) in enumerate(spec.tiers, start=1):
        OverrideTier.objects.create(
            override=override, level=level, size=size, multiplier=multiplier
        )
    for level, (size, price) in enumerate(spec.overwrite_tiers, start=1):
        OverrideTier.objects.create(override=override, level=level, size=size, price=price)
    return override


def _add_scheduled_charge(contract: Contract, spec: ScheduledChargeSpec, prefix: str):
    charge = ScheduledCharge(contract=contract, product=spec.product, name=spec.name)
    items = _with_recurrence(
        spec.items, spec.recurring, contract.rate_card.fiat_credit_type.decimal_places
    )
    if not items:
        raise ValidationError({f"{prefix}.schedule.schedule_items": "Give at least one date."})
    clean(charge, prefix, exclude=["product"])
    charge.save()
    _add_schedule_items(
        ScheduledChargeItem,
        items,
        f"{prefix}.schedule.schedule_items",
        scheduled_charge=charge,
    )
    return charge


def _add_subscription(contract: Contract, spec: SubscriptionSpec, prefix: str) -> Subscription:
    subscription = Subscription(
        contract=contract,
        product=spec.product,
        name=spec.name,
        billing_frequency=spec.billing_frequency,
        collection_schedule=spec.collection_schedule,
        is_prorated=spec.is_prorated,
        initial_quantity=spec.initial_quantity,
        starting_at=spec.starting_at or contract.starting_at,
        ending_before=spec.ending_before or contract.ending_before,
        quantity_management_mode=spec.quantity_management_mode,
        seat_group_key=spec.seat_group_key,
        custom_fields=dict(spec.custom_fields),
    )
    seats = list(dict.fromkeys(spec.initial_seat_ids))
    if spec.quantity_management_mode == Subscription.QuantityManagementMode.SEAT_BASED:
        subscription.initial_quantity = Decimal(len(seats)) + spec.initial_unassigned_seats
    elif seats:
        raise ValidationError(
            {f"{prefix}.seat_config": "Only a SEAT_BASED subscription has seats."}
        )
    clean(subscription, prefix, exclude=["product"])
    subscription.save()
    quantity = SubscriptionQuantity(
        subscription=subscription,
        starting_at=subscription.starting_at,
        quantity=subscription.initial_quantity,
        seat_ids=seats,
        unassigned_seats=spec.initial_unassigned_seats,
    )
    clean(quantity, prefix)
    quantity.save()
    return subscription


def _add_discount(contract: Contract, spec: DiscountSpec, prefix: str) -> Discount:
    discount = Discount(
        contract=contract,
        product=spec.product,
        name=spec.name,
        custom_fields=dict(spec.custom_fields),
    )
    items = _with_recurrence(
        spec.items, spec.recurring, contract.rate_card.fiat_credit_type.decimal_places
    )
    if not items:
        raise ValidationError({f"{prefix}.schedule.schedule_items": "Give at least one date."})
    clean(discount, prefix, exclude=["product"])
    discount.save()
    _add_schedule_items(DiscountItem, items, f"{prefix}.schedule.schedule_items", discount=discount)
    return discount


def _add_professional_service(
    contract: Contract, spec: ProfessionalServiceSpec, prefix: str
) -> ProfessionalService:
    service = ProfessionalService(
        contract=contract,
        product=spec.product,
        unit_price=spec.unit_price,
        quantity=spec.quantity,
        max_amount=spec.max_amount,
        description=spec.description,
        custom_fields=dict(spec.custom_fields),
    )
    clean(service, prefix, exclude=["product"])
    service.save()
    return service


def _add_recurring(
    contract: Contract, spec: RecurringSpec, prefix: str, subscriptions: dict
) -> RecurringBalance:
    subscription = None
    if spec.subscription:
        subscription = subscriptions.get(spec.subscription) or (
            contract.subscriptions.filter(pk=_uuid_or_none(spec.subscription)).first()
        )
        if subscription is None:
            raise ValidationError(
                {
                    f"{prefix}.subscription_config.subscription_id": "No such subscription on this "
                    "contract (give its id, or the temporary_id of one added with it)."
                }
            )
    if spec.duration_periods != spec.duration_periods.to_integral_value():
        raise ValidationError(
            {f"{prefix}.commit_duration.value": "Give a whole number of periods."}
        )
    recurring = RecurringBalance(
        contract=contract,
        kind=spec.kind,
        product=spec.product,
        name=spec.name,
        description=spec.description,
        priority=spec.priority,
        rate_type=spec.rate_type,
        access_type=spec.access_type,
        applicable_product_tags=list(spec.applicable_product_tags),
        specifiers=[dict(specifier) for specifier in spec.specifiers],
        access_unit_price=spec.access_unit_price,
        access_quantity=spec.access_quantity,
        invoice_unit_price=spec.invoice_unit_price,
        invoice_quantity=spec.invoice_quantity,
        duration_periods=spec.duration_periods,
        starting_at=spec.starting_at,
        ending_before=spec.ending_before,
        proration=spec.proration,
        recurrence_frequency=spec.recurrence_frequency,
        rollover_fraction=spec.rollover_fraction,
        subscription=subscription,
        allocation=spec.allocation,
        prorate_seat_increases=spec.prorate_seat_increases,
        custom_fields=dict(spec.custom_fields),
        **rounding_fields(spec.proration_rounding),
        child_access=child_access_normal(spec.child_access),
    )
    if spec.credit_type is not None:
        recurring.credit_type = spec.credit_type
    clean(recurring, prefix, exclude=["product"])
    if recurring.access_type == Commit.AccessType.QUANTITY:
        _check_quantity_scope(spec, prefix)
    recurring.save()
    recurring.applicable_products.set(spec.applicable_products)
    return recurring


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@dataclass
class AddedTerms:
    commits: list[Commit] = field(default_factory=list)
    credits: list[Credit] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    scheduled_charges: list[ScheduledCharge] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    discounts: list[Discount] = field(default_factory=list)
    professional_services: list[ProfessionalService] = field(default_factory=list)
    recurring_commits: list[RecurringBalance] = field(default_factory=list)
    recurring_credits: list[RecurringBalance] = field(default_factory=list)

    KINDS = (
        "commits",
        "credits",
        "overrides",
        "scheduled_charges",
        "subscriptions",
        "discounts",
        "professional_services",
        "recurring_commits",
        "recurring_credits",
    )

    def changes(self) -> dict[str, list[str]]:
        """The ids added, by kind, as a `ContractEdit` records them (`add_commits`, ...)."""
        return {
            f"add_{kind}": [str(term.pk) for term in getattr(self, kind)] for kind in self.KINDS
        }


def add_terms(
    contract: Contract,
    *,
    commits: Sequence[CommitSpec] = (),
    credits: Sequence[CreditSpec] = (),
    overrides: Sequence[OverrideSpec] = (),
    scheduled_charges: Sequence[ScheduledChargeSpec] = (),
    subscriptions: Sequence[SubscriptionSpec] = (),
    discounts: Sequence[DiscountSpec] = (),
    professional_services: Sequence[ProfessionalServiceSpec] = (),
    recurring_commits: Sequence[RecurringSpec] = (),
    recurring_credits: Sequence[RecurringSpec] = (),
    names: dict[str, str] | None = None,
) -> AddedTerms:
    """Add terms to `contract`; `names` maps each kind to the request's key (errors say
    `add_commits[0]...` for an edit). Recurring commits and credits are made after the
    subscriptions they may name by temporary id; their first occurrences are made by
    `recurring_balances_materialize`, which the caller runs."""
    names = names or {}
    added = AddedTerms()
    for index, spec in enumerate(commits):
        added.commits.append(
            add_commit(contract, spec, f"{names.get('commits', 'commits')}[{index}]")
        )
    for index, spec in enumerate(credits):
        added.credits.append(
            _add_credit(contract, spec, f"{names.get('credits', 'credits')}[{index}]")
        )
    for index, spec in enumerate(overrides):
        added.overrides.append(
            _add_override(contract, spec, f"{names.get('overrides', 'overrides')}[{index}]")
        )
    for index, spec in enumerate(scheduled_charges):
        key = names.get("scheduled_charges", "scheduled_charges")
        added.scheduled_charges.append(_add_scheduled_charge(contract, spec, f"{key}[{index}]"))
    temporary: dict[str, Subscription] = {}
    for index, spec in enumerate(subscriptions):
        key = names.get("subscriptions", "subscriptions")
        subscription = _add_subscription(contract, spec, f"{key}[{index}]")
        added.subscriptions.append(subscription)
        if spec.temporary_id:
            temporary[spec.temporary_id] = subscription
    for index, spec in enumerate(discounts):
        key = names.get("discounts", "discounts")
        added.discounts.append(_add_discount(contract, spec, f"{key}[{index}]"))
    for index, spec in enumerate(professional_services):
        key = names.get("professional_services", "professional_services")
        added.professional_services.append(
            _add_professional_service(contract, spec, f"{key}[{index}]")
        )
    for kind, specs in (
        ("recurring_commits", recurring_commits),
        ("recurring_credits", recurring_credits),
    ):
        for index, spec in enumerate(specs):
            key = f"{names.get(kind, kind)}[{index}]"
            getattr(added, kind).append(_add_recurring(contract, spec, key, temporary))
    return added


def usage_filter_add(
    contract: Contract,
    *,
    group_key: str,
    group_values: Sequence[str],
    starting_at: datetime,
    where: str = "",
) -> ContractUsageFilter:
    """From `starting_at`, only usage whose `group_key` is one of `group_values` is the
    contract's: the filter in effect then ends there, later ones are replaced."""
    contract.usage_filters.filter(starting_at__gte=starting_at).delete()
    contract.usage_filters.filter(starting_at__lt=starting_at).filter(
        Q(ending_before__isnull=True) | Q(ending_before__gt=starting_at)
    ).update(ending_before=starting_at)
    usage_filter = ContractUsageFilter(
        contract=contract,
        group_key=group_key,
        group_values=list(group_values),
        starting_at=starting_at,
    )
    clean(usage_filter, where)
    usage_filter.save()
    return usage_filter
