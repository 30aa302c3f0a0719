"""Contracts from packages: a package's terms, offsets turned into dates at a start."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError

from catalog.models import Package, PricingUnit, Product

from ..models import (
    BillingProviderConfiguration,
    Commit,
    Contract,
    Customer,
    Override,
    RevenueSystemConfiguration,
)
from ..selectors import customer_has_stripe
from .contracts import contract_create
from .hierarchy import HierarchySpec
from .spend_trackers import SpendTrackerSpec, spend_tracker_caps_check, spend_trackers_add
from .terms import (
    CommitSpec,
    CreditSpec,
    DiscountSpec,
    InvoiceItemSpec,
    OverrideSpec,
    ProfessionalServiceSpec,
    RecurringScheduleSpec,
    RecurringSpec,
    ScheduledChargeSpec,
    SegmentSpec,
    SubscriptionSpec,
    proration_rounding_spec,
)
from .transitions import TransitionSpec

# --- Contracts from packages -----------------------------------------------------------------------


def add_offset(moment: datetime, offset: dict | None) -> datetime:
    """`moment` moved by a package offset {unit: DAYS|WEEKS|MONTHS|YEARS, value} (month-end safe)."""
    if not offset:
        return moment
    unit, value = offset["unit"], int(offset["value"])
    if unit == "DAYS":
        return moment + timedelta(days=value)
    if unit == "WEEKS":
        return moment + timedelta(weeks=value)
    months = value * (12 if unit == "YEARS" else 1)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _product(pk) -> Product:
    return Product.objects.get(pk=pk)


def _unit(pk) -> PricingUnit | None:
    return PricingUnit.objects.get(pk=pk) if pk else None


def _package_balance(term: dict, start: datetime) -> dict:
    access = term.get("access_schedule") or {}
    segments = []
    for item in access.get("schedule_items", []):
        begins = add_offset(start, item["starting_at_offset"])
        segments.append(
            SegmentSpec(
                amount=_dec(item["amount"]),
                starting_at=begins,
                ending_before=add_offset(begins, item["duration"]),
            )
        )
    return {
        "product": _product(term["product_id"]),
        "access_schedule": segments,
        "credit_type": _unit(access.get("credit_type_id")),
        "name": term.get("name", ""),
        "description": term.get("description", ""),
        "priority": _dec(term.get("priority")) or Decimal(0),
        "rate_type": term.get("rate_type", Commit.RateType.LIST_RATE),
        "applicable_products": [_product(pk) for pk in term.get("applicable_product_ids", [])],
        "applicable_product_tags": term.get("applicable_product_tags", []),
        "specifiers": term.get("specifiers") or [],
        "access_type": access.get("access_type", Commit.AccessType.SPEND),
    }


def _package_items(schedule: dict | None, start: datetime) -> list[InvoiceItemSpec]:
    return [
        InvoiceItemSpec(
            timestamp=add_offset(start, item["date_offset"]),
            unit_price=_dec(item["unit_price"]),
            quantity=_dec(item["quantity"]),
        )
        for item in (schedule or {}).get("schedule_items", [])
    ]


def _package_recurring_schedule(schedule: dict | None, start: datetime):
    """A package schedule's recurring_schedule, its offsets placed from `start`."""
    recurring = (schedule or {}).get("recurring_schedule")
    if not recurring:
        return None
    begins = add_offset(start, recurring["starting_at_offset"])
    return RecurringScheduleSpec(
        amount_distribution=recurring["amount_distribution"],
        starting_at=begins,
        ending_before=add_offset(begins, recurring["duration"]),
        frequency=recurring["frequency"],
        amount=_dec(recurring.get("amount")),
        unit_price=_dec(recurring.get("unit_price")),
        quantity=_dec(recurring.get("quantity")),
    )


def _package_recurring(term: dict, kind: str, start: datetime) -> RecurringSpec:
    """A recurring commit or credit of a package: its first period starts at its offset from
    `start`; it stops making balances `duration` after that (else at the contract's end)."""
    begins = add_offset(start, term["starting_at_offset"])
    access = term["access_amount"]
    invoice = term.get("invoice_amount") or {}
    config = term.get("subscription_config") or {}
    return RecurringSpec(
        kind=kind,
        product=_product(term["product_id"]),
        starting_at=begins,
        ending_before=add_offset(begins, term["duration"]) if term.get("duration") else None,
        access_unit_price=_dec(access["unit_price"]),
        access_quantity=_dec(access.get("quantity")),
        access_type=access.get("access_type", Commit.AccessType.SPEND),
        credit_type=_unit(access.get("credit_type_id")),
        duration_periods=_dec(term["commit_duration"]["value"]),
        priority=_dec(term["priority"]),
        name=term.get("name", ""),
        description=term.get("description", ""),
        rate_type=term.get("rate_type", Commit.RateType.LIST_RATE),
        applicable_products=[_product(pk) for pk in term.get("applicable_product_ids", [])],
        applicable_product_tags=term.get("applicable_product_tags", []),
        specifiers=term.get("specifiers") or [],
        invoice_unit_price=_dec(invoice.get("unit_price")),
        invoice_quantity=_dec(invoice.get("quantity")),
        proration=term.get("proration", "FIRST_AND_LAST"),
        recurrence_frequency=term.get("recurrence_frequency", ""),
        rollover_fraction=_dec(term.get("rollover_fraction")),
        subscription=config.get("subscription_id", ""),
        allocation=config.get("allocation", "POOLED"),
        prorate_seat_increases=config.get("apply_seat_increase_config", {}).get(
            "is_prorated", True
        ),
        custom_fields=term.get("custom_fields", {}),
        proration_rounding=proration_rounding_spec(term.get("proration_rounding")),
    )


def _package_royalty(term: dict, start: datetime) -> dict:
    """A package's reseller royalty as a contract's: from its offset (else the contract start),
    for its duration (else open)."""
    royalty = {
        key: _dec(value) if key in ("fraction", "reseller_contract_value") else value
        for key, value in term.items()
        if key not in ("id", "starting_at_offset", "duration")
    }
    begins = add_offset(start, term.get("starting_at_offset"))
    royalty["starting_at"] = begins
    if term.get("duration"):
        royalty["ending_before"] = add_offset(begins, term["duration"])
    return royalty


def _package_threshold(config: dict | None, customer: Customer) -> dict | None:
    """A package's threshold configuration for `customer`'s contract: a STRIPE payment gate
    charges the customer's Stripe billing provider configuration, which must exist."""
    if not config:
        return None
    gate = config["payment_gate_config"]["payment_gate_type"]
    if gate == "STRIPE" and not customer_has_stripe(customer):
        raise ValidationError(
            {
                "package": "The package's threshold billing is charged through Stripe: add the "
                "customer's Stripe billing provider configuration first."
            }
        )
    return config


def package_terms_at(package: Package, start: datetime) -> dict:
    """The package's terms as contract term specs, every date placed relative to `start`."""
    terms = package.terms or {}
    commits = [
        CommitSpec(
            **_package_balance(term, start),
            type=term["type"],
            rollover_fraction=_dec(term.get("rollover_fraction")),
            invoice_schedule=_package_items(term.get("invoice_schedule"), start),
            invoice_recurring=_package_recurring_schedule(term.get("invoice_schedule"), start),
        )
        for term in terms.get("commits", [])
    ]
    credits = [CreditSpec(**_package_balance(term, start)) for term in terms.get("credits", [])]
    overrides = []
    for term in terms.get("overrides", []):
        spec = (term.get("override_specifiers") or [{}])[0]
        begins = add_offset(start, term["starting_at_offset"])
        overwrite = term.get("overwrite_rate") or {}
        overrides.append(
            OverrideSpec(
                starting_at=begins,
                ending_before=add_offset(begins, term["duration"])
                if term.get("duration")
                else None,
                type=term.get("type", Override.Type.MULTIPLIER),
                product=_product(spec["product_id"]) if spec.get("product_id") else None,
                applicable_product_tags=spec.get("product_tags", []),
                tags_match=Override.TagsMatch.ALL,
                pricing_group_values=spec.get("pricing_group_values", {}),
                presentation_group_values=spec.get("presentation_group_values", {}),
                billing_frequency=spec.get("billing_frequency", ""),
                multiplier=_dec(term.get("multiplier")),
                overwrite_rate_type=overwrite.get("rate_type", ""),
                overwrite_price=_dec(overwrite.get("price")),
                overwrite_credit_type=_unit(overwrite.get("credit_type_id")),
                overwrite_tiers=[
                    (_dec(t.get("size")), _dec(t["price"])) for t in overwrite.get("tiers", [])
                ],
                tiers=[(_dec(t.get("size")), _dec(t["multiplier"])) for t in term.get("tiers", [])],
                entitled=term.get("entitled"),
                priority=_dec(term.get("priority")),
                is_commit_specific=term.get("is_commit_specific", False),
                target=term.get("target", ""),
            )
        )
    scheduled_charges = [
        ScheduledChargeSpec(
            product=_product(term["product_id"]),
            items=_package_items(term.get("schedule"), start),
            recurring=_package_recurring_schedule(term.get("schedule"), start),
            name=term.get("name", ""),
        )
        for term in terms.get("scheduled_charges", [])
    ]
    subscriptions = []
    for term in terms.get("subscriptions", []):
        begins = add_offset(start, term.get("starting_at_offset"))
        subscriptions.append(
            SubscriptionSpec(
                product=_product(term["subscription_rate"]["product_id"]),
                billing_frequency=term["subscription_rate"]["billing_frequency"],
                collection_schedule=term["collection_schedule"],
                is_prorated=(term.get("proration") or {}).get("is_prorated", True),
                initial_quantity=_dec(term.get("initial_quantity")) or Decimal(1),
                starting_at=begins,
                ending_before=add_offset(begins, term["duration"])
                if term.get("duration")
                else None,
                name=term.get("name", ""),
                temporary_id=term.get("temporary_id", ""),
                quantity_management_mode=term.get("quantity_management_mode", "QUANTITY_ONLY"),
                seat_group_key=(term.get("seat_config") or {}).get("seat_group_key", ""),
                initial_unassigned_seats=_dec(
                    (term.get("seat_config") or {}).get("initial_unassigned_seats", 0)
                ),
            )
        )
    return {
        "commits": commits,
        "credits": credits,
        "overrides": overrides,
        "scheduled_charges": scheduled_charges,
        "subscriptions": subscriptions,
        "recurring_commits": [
            _package_recurring(term, "COMMIT", start) for term in terms.get("recurring_commits", [])
        ],
        "recurring_credits": [
            _package_recurring(term, "CREDIT", start) for term in terms.get("recurring_credits", [])
        ],
        "discounts": [
            DiscountSpec(
                product=_product(term["product_id"]),
                items=_package_items(term.get("schedule"), start),
                recurring=_package_recurring_schedule(term.get("schedule"), start),
                name=term.get("name", ""),
                custom_fields=term.get("custom_fields", {}),
            )
            for term in terms.get("discounts", [])
        ],
        "professional_services": [
            ProfessionalServiceSpec(
                product=_product(term["product_id"]),
                unit_price=_dec(term["unit_price"]),
                quantity=_dec(term["quantity"]),
                max_amount=_dec(term["max_amount"]),
                description=term.get("description", ""),
                custom_fields=term.get("custom_fields", {}),
            )
            for term in terms.get("professional_services", [])
        ],
        "reseller_royalties": [
            _package_royalty(term, start) for term in terms.get("reseller_royalties", [])
        ],
        "scheduled_charges_on_usage_invoices": bool(
            terms.get("scheduled_charges_on_usage_invoices")
        ),
    }


def contract_create_from_package(
    *,
    customer: Customer,
    package: Package,
    starting_at: datetime,
    now: datetime,
    uniqueness_key: str | None = None,
    custom_fields: dict | None = None,
    created_by: str = "admin",
    transition: TransitionSpec | None = None,
    billing_provider_configuration: BillingProviderConfiguration | None = None,
    billing_anchor_date: datetime | None = None,
    revenue_system_configuration: RevenueSystemConfiguration | None = None,
    hierarchy: HierarchySpec | None = None,
) -> Contract:
    """A contract that copies a package: rate card, schedule and terms, dated from `starting_at`;
    its invoices go to `billing_provider_configuration` (one of the customer's), and `hierarchy`
    places it in an account hierarchy, as for a contract made without a package. A package
    whose usage statement day is CUSTOM_DATE counts the contract's periods from
    `billing_anchor_date` (its start when not given)."""
    if package.archived_at is not None:
        raise ValidationError({"package": "This package is archived; new contracts cannot use it."})
    custom_date = package.usage_statement_day == "CUSTOM_DATE"
    if billing_anchor_date is not None and not custom_date:
        raise ValidationError(
            {
                "billing_anchor_date": "Only for a package whose usage statement day is "
                "CUSTOM_DATE; this package sets the day."
            }
        )
    ending_before = None
    if package.duration_unit:
        ending_before = add_offset(
            starting_at, {"unit": package.duration_unit, "value": package.duration_value}
        )
    contract = contract_create(
        customer=customer,
        rate_card=package.rate_card,
        starting_at=starting_at,
        ending_before=ending_before,
        now=now,
        name=package.contract_name or package.name,
        usage_statement_frequency=package.usage_statement_frequency,
        usage_statement_day=package.usage_statement_day,
        billing_anchor_date=(billing_anchor_date or starting_at) if custom_date else None,
        net_payment_terms_days=package.net_payment_terms_days,
        multiplier_override_prioritization=package.multiplier_override_prioritization,
        uniqueness_key=uniqueness_key,
        custom_fields=custom_fields,
        package=package,
        created_by=created_by,
        transition=transition,
        billing_provider_configuration=billing_provider_configuration,
        revenue_system_configuration=revenue_system_configuration,
        hierarchy=hierarchy,
        prepaid_balance_threshold_configuration=_package_threshold(
            (package.terms or {}).get("prepaid_balance_threshold_configuration"), customer
        ),
        spend_threshold_configuration=_package_threshold(
            (package.terms or {}).get("spend_threshold_configuration"), customer
        ),
        **package_terms_at(package, starting_at),
    )
    # Spend trackers have no dates (they reset each billing period): copied as they are.
    spend_trackers_add(
        contract=contract,
        specs=[
            SpendTrackerSpec(
                alias=term["alias"],
                credit_type=_unit(term["credit_type_id"]),
                applicable_spend_specifiers=term["applicable_spend_specifiers"],
                reset_frequency=term["reset_frequency"],
            )
            for term in (package.terms or {}).get("spend_trackers", [])
        ],
        now=now,
        prefix="package.spend_trackers",
    )
    spend_tracker_caps_check(contract=contract, where={})
    return contract
