"""Model -> wire dicts for customers and contracts, shaped like the SDK's response models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from catalog import money
from catalog.api.presenters import credit_type_json
from core.api import format_timestamp as ts
from customers.models import (
    BillingProviderConfiguration,
    Commit,
    Contract,
    ContractConfigurationChange,
    ContractEdit,
    ContractTransition,
    ContractUsageFilter,
    Credit,
    Customer,
    Discount,
    Override,
    PaymentGate,
    ProfessionalService,
    RecurringBalance,
    ResellerRoyalty,
    ScheduledCharge,
    Subscription,
)
from customers.selectors import contract_configuration_at, contract_transitions

from . import configurations, term_edits
from . import specifiers as commit_specifiers
from .hierarchy import balance_hierarchy_json, contract_hierarchy_json
from .spend_trackers import spend_trackers_json

num = money.to_json_number


def _drop_none(data: dict) -> dict:
    return {key: value for key, value in data.items() if value is not None}


def _string_map(value) -> dict:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _aliases(customer: Customer) -> list[str]:
    return sorted(alias.alias for alias in customer.ingest_aliases.all())


def customer_json(customer: Customer) -> dict:
    """Metronome's `Customer`: external_id is required, so it falls back to an alias or the id."""
    aliases = _aliases(customer)
    return {
        "id": str(customer.pk),
        "external_id": customer.external_id or (aliases[0] if aliases else str(customer.pk)),
        "ingest_aliases": aliases,
        "name": customer.name,
        "custom_fields": _string_map({**customer.custom_fields, **customer.billing_values()}),
    }


def customer_detail_json(customer: Customer) -> dict:
    return {
        **customer_json(customer),
        "customer_config": {"salesforce_account_id": customer.salesforce_account_id or None},
        "created_at": ts(customer.created_at),
        "updated_at": ts(customer.updated_at),
        "archived_at": ts(customer.archived_at),
    }


# --- Terms ------------------------------------------------------------------------------------------------


def _named(obj) -> dict:
    return {"id": str(obj.pk), "name": obj.name}


def _access_schedule(term) -> dict:
    return {
        "access_type": term.access_type,
        "credit_type": credit_type_json(term.credit_type),
        "schedule_items": [
            {
                "id": str(segment.pk),
                "amount": num(segment.amount),
                "starting_at": ts(segment.starting_at),
                "ending_before": ts(segment.ending_before),
            }
            for segment in term.access_schedule.all()
        ],
    }


def _point_items(items) -> list[dict]:
    """Schedule items: amount, unit_price and quantity are all required by the SDK."""
    result = []
    for item in items:
        if item.amount is not None:
            amount, unit_price, quantity = item.amount, item.amount, Decimal(1)
        else:
            amount, unit_price, quantity = item.total, item.unit_price, item.quantity
        result.append(
            {
                "id": str(item.pk),
                "timestamp": ts(item.timestamp),
                "amount": num(amount),
                "unit_price": num(unit_price),
                "quantity": num(quantity),
            }
        )
    return result


def _balance_json(term, contract: Contract) -> dict:
    return {
        "id": str(term.pk),
        "product": _named(term.product),
        "created_at": ts(term.created_at),
        "access_schedule": _access_schedule(term),
        "applicable_product_ids": [str(p.pk) for p in term.applicable_products.all()],
        "applicable_product_tags": list(term.applicable_product_tags or []),
        "specifiers": commit_specifiers.as_json(term.specifiers),
        "contract": {"id": str(contract.pk)},
        "name": term.name or None,
        "description": term.description or None,
        "priority": num(term.priority),
        "rate_type": term.rate_type,
        "rolled_over_from": _rolled_over_from(term),
        "hierarchy_configuration": balance_hierarchy_json(term),
        "archived_at": ts(term.archived_at),
    }


def _rolled_over_from(term) -> dict | None:
    """Metronome's `rolled_over_from` of a rollover commit ({commit_id, contract_id}) or credit
    ({credit_id, contract_id})."""
    if term.rolled_over_from_id is None:
        return None
    source = term.rolled_over_from
    key = "credit_id" if isinstance(term, Credit) else "commit_id"
    return {key: str(source.pk), "contract_id": str(source.contract_id)}


def _payment_gate(commit: Commit) -> dict | None:
    """A gated threshold purchase's gate (not Metronome's field; extra fields are allowed):
    PENDING while its payment waits, when the commit holds nothing yet (an empty access
    schedule, a zero balance); PAID once released; FAILED when voided."""
    if not commit.threshold_kind:
        return None
    gate = PaymentGate.objects.filter(commit_id=commit.pk).first()
    if gate is None:
        return None
    return {
        "workflow_id": str(gate.pk),
        "payment_gate_type": gate.gate_type,
        "status": gate.status,
        "amount": num(gate.amount),
        "invoice_id": str(gate.invoice_id) if gate.invoice_id else None,
    }


def _made_by(term) -> dict:
    """A commit or credit a recurring one made: its `recurring_commit_id` /
    `recurring_credit_id` and, with a subscription attached, the `subscription_config`."""
    if term.recurring_id is None:
        return {}
    kind = "credit" if isinstance(term, Credit) else "commit"
    made = {f"recurring_{kind}_id": str(term.recurring_id)}
    config = subscription_config_json(term.recurring)
    if config is not None:
        made["subscription_config"] = config
    return made


def commit_json(commit: Commit, contract: Contract) -> dict:
    data = _balance_json(commit, contract) | _made_by(commit)
    data["type"] = commit.type
    data["payment_gate"] = _payment_gate(commit)
    items = list(commit.invoice_schedule.all())
    if items:
        data["invoice_schedule"] = {
            "credit_type": credit_type_json(commit.credit_type),
            "do_not_invoice": False,
            "schedule_items": _point_items(items),
        }
    if commit.rollover_fraction is not None:
        data["rollover_fraction"] = num(commit.rollover_fraction)
    if commit.counts_as_discounted is not None:
        data["spend_tracker_attributes"] = {"counts_as_discounted": commit.counts_as_discounted}
    return _drop_none(data) | {"archived_at": data["archived_at"]}


def credit_json(credit: Credit, contract: Contract) -> dict:
    data = _balance_json(credit, contract) | _made_by(credit)
    data["type"] = "CREDIT"
    return _drop_none(data) | {"archived_at": data["archived_at"]}


def _override_specifiers(override: Override) -> list[dict]:
    """The override's target as Metronome's specifiers: its one specifier (all its tags), or
    one per tag when its tags match ANY while group values or commits narrow it."""
    if not override.is_specifier:
        return []
    tags = list(override.applicable_product_tags)
    common = {
        "product_id": str(override.product_id) if override.product_id else None,
        "pricing_group_values": _string_map(override.pricing_group_values) or None,
        "presentation_group_values": _string_map(override.presentation_group_values) or None,
        "commit_ids": [str(pk) for pk in override.commit_ids] or None,
        "billing_frequency": override.billing_frequency or None,
    }
    if override.tags_match == Override.TagsMatch.ALL or len(tags) < 2:
        return [_drop_none({**common, "product_tags": tags or None})]
    return [_drop_none({**common, "product_tags": [tag]}) for tag in tags]


def override_json(override: Override) -> dict:
    tiers = sorted(override.tiers.all(), key=lambda t: t.level)
    specifiers = _override_specifiers(override)
    data = {
        "id": str(override.pk),
        "created_at": ts(override.created_at),
        "starting_at": ts(override.starting_at),
        "ending_before": ts(override.ending_before),
        "type": override.type,
        "product": _named(override.product) if override.product_id else None,
        "applicable_product_tags": None
        if specifiers
        else (list(override.applicable_product_tags) or None),
        "override_specifiers": specifiers,
        "entitled": override.entitled,
        "priority": num(override.priority),
        "is_commit_specific": override.is_commit_specific,
        "target": override.target or None,
    }
    if override.type in (Override.Type.MULTIPLIER, Override.Type.TIERED):
        data["multiplier"] = num(override.multiplier)
    if override.type == Override.Type.TIERED:
        data["override_tiers"] = [
            _drop_none({"multiplier": num(t.multiplier), "size": num(t.size)}) for t in tiers
        ]
    if override.type == Override.Type.OVERWRITE:
        unit = override.overwrite_credit_type or override.contract.rate_card.fiat_credit_type
        rate = {"rate_type": override.overwrite_rate_type, "credit_type": credit_type_json(unit)}
        if override.overwrite_rate_type == "TIERED":
            rate["tiers"] = [
                _drop_none({"price": num(t.price), "size": num(t.size)}) for t in tiers
            ]
        else:
            rate["price"] = num(override.overwrite_price)
        data["overwrite_rate"] = rate
    return _drop_none(data)


def scheduled_charge_json(charge: ScheduledCharge, contract: Contract) -> dict:
    return _drop_none(
        {
            "id": str(charge.pk),
            "product": _named(charge.product),
            "name": charge.name or None,
            "schedule": {
                "credit_type": credit_type_json(contract.rate_card.fiat_credit_type),
                "schedule_items": _point_items(charge.schedule_items.all()),
            },
        }
    ) | {"archived_at": ts(charge.archived_at)}


def _quantity_schedule(subscription: Subscription) -> list[dict]:
    rows = sorted(subscription.quantities.all(), key=lambda row: row.starting_at)
    if not rows:
        return [
            _drop_none(
                {
                    "quantity": num(subscription.initial_quantity),
                    "starting_at": ts(subscription.starting_at),
                    "ending_before": ts(subscription.ending_before),
                }
            )
        ]
    schedule = []
    for index, row in enumerate(rows):
        end = rows[index + 1].starting_at if index + 1 < len(rows) else subscription.ending_before
        schedule.append(
            _drop_none(
                {
                    "quantity": num(row.quantity),
                    "starting_at": ts(row.starting_at),
                    "ending_before": ts(end),
                }
            )
        )
    return schedule


def subscription_json(subscription: Subscription, contract: Contract) -> dict:
    return _drop_none(
        {
            "id": str(subscription.pk),
            "created_at": ts(subscription.created_at),
            "billing_periods": {},
            "collection_schedule": subscription.collection_schedule,
            "proration": {
                "is_prorated": subscription.is_prorated,
                "invoice_behavior": "BILL_IMMEDIATELY",
            },
            "quantity_management_mode": subscription.quantity_management_mode,
            "quantity_schedule": _quantity_schedule(subscription),
            "seat_config": {"seat_group_key": subscription.seat_group_key}
            if subscription.seat_group_key
            else None,
            "custom_fields": _string_map(subscription.custom_fields) or None,
            "starting_at": ts(subscription.starting_at),
            "ending_before": ts(subscription.ending_before),
            "subscription_rate": {
                "billing_frequency": subscription.billing_frequency,
                "product": _named(subscription.product),
            },
            "name": subscription.name or None,
            "fiat_credit_type_id": str(contract.rate_card.fiat_credit_type_id),
        }
    )


def discount_json(discount, contract: Contract) -> dict:
    return _drop_none(
        {
            "id": str(discount.pk),
            "product": _named(discount.product),
            "name": discount.name or None,
            "schedule": {
                "credit_type": credit_type_json(contract.rate_card.fiat_credit_type),
                "schedule_items": _point_items(discount.schedule_items.all()),
            },
            "custom_fields": _string_map(discount.custom_fields) or None,
        }
    )


def professional_service_json(service) -> dict:
    return _drop_none(
        {
            "id": str(service.pk),
            "product_id": str(service.product_id),
            "unit_price": num(service.unit_price),
            "quantity": num(service.quantity),
            "max_amount": num(service.max_amount),
            "description": service.description or None,
            "custom_fields": _string_map(service.custom_fields) or None,
        }
    )


def recurring_json(term) -> dict:
    data = {
        "id": str(term.pk),
        "access_amount": _drop_none(
            {
                "access_type": term.access_type,
                "credit_type_id": str(term.credit_type_id),
                "unit_price": num(term.access_unit_price),
                "quantity": num(term.access_quantity) if term.access_quantity is not None else None,
            }
        ),
        "anchor_date": ts(term.starting_at),
        "commit_duration": {"value": num(term.duration_periods), "unit": "PERIODS"},
        "priority": num(term.priority),
        "product": _named(term.product),
        "rate_type": term.rate_type,
        "starting_at": ts(term.starting_at),
        "ending_before": ts(term.ending_before),
        "contract": {"id": str(term.contract_id)},
        "name": term.name or None,
        "description": term.description or None,
        "applicable_product_ids": [str(p.pk) for p in term.applicable_products.all()] or None,
        "applicable_product_tags": list(term.applicable_product_tags or []) or None,
        "specifiers": commit_specifiers.as_json(term.specifiers),
        "proration": term.proration,
        "recurrence_frequency": term.recurrence_frequency or None,
        "rollover_fraction": num(term.rollover_fraction)
        if term.rollover_fraction is not None
        else None,
        "hierarchy_configuration": balance_hierarchy_json(term),
    }
    if term.invoice_unit_price is not None:
        data["invoice_amount"] = {
            "credit_type_id": str(term.credit_type_id),
            "unit_price": num(term.invoice_unit_price),
            "quantity": num(term.invoice_quantity or 1),
        }
    data["proration_rounding"] = proration_rounding_json(term.proration_rounding())
    data["subscription_config"] = subscription_config_json(term)
    return _drop_none(data)


def subscription_config_json(term: RecurringBalance) -> dict | None:
    """A recurring commit's or credit's `subscription_config`; None without a subscription."""
    if not term.subscription_id:
        return None
    return {
        "subscription_id": str(term.subscription_id),
        "allocation": term.allocation,
        "apply_seat_increase_config": {"is_prorated": term.prorate_seat_increases},
    }


def proration_rounding_json(rounding: dict[str, tuple[int, str]]) -> dict | None:
    """A proration_rounding ({"access"|"invoice": (places, method)}) in the SDK's shape; None
    when it has none."""
    return {
        prefix: {"decimal_places": places, "rounding_method": method}
        for prefix, (places, method) in rounding.items()
    } or None


def payment_gate_json(config: dict) -> dict:
    """A stored payment_gate_config (the precalculated tax amount as a JSON number)."""
    data = dict(config)
    tax = data.get("precalculated_tax_config")
    if tax is not None:
        data["precalculated_tax_config"] = {**tax, "tax_amount": num(Decimal(tax["tax_amount"]))}
    return data


def threshold_json(config: dict | None) -> dict | None:
    """A stored threshold configuration in Metronome's V2 shape (numbers as JSON numbers)."""
    if not config:
        return None
    commit = config["commit"]
    data = {
        "commit": _drop_none(
            {
                "product_id": commit["product_id"],
                "name": commit.get("name") or None,
                "description": commit.get("description") or None,
                "applicable_product_ids": commit.get("applicable_product_ids") or None,
                "applicable_product_tags": commit.get("applicable_product_tags") or None,
                "specifiers": commit_specifiers.as_json(commit.get("specifiers")),
                "priority": num(Decimal(commit["priority"])) if "priority" in commit else None,
                "rate_type": commit.get("rate_type"),
                "rollover_fraction": num(Decimal(commit["rollover_fraction"]))
                if "rollover_fraction" in commit
                else None,
                "duration": commit.get("duration"),
            }
        ),
        "is_enabled": config["is_enabled"],
        "payment_gate_config": payment_gate_json(config["payment_gate_config"]),
        "threshold_amount": num(Decimal(config["threshold_amount"])),
    }
    if "recharge_to_amount" in config:
        data["recharge_to_amount"] = num(Decimal(config["recharge_to_amount"]))
    discount = config.get("discount_configuration")
    if discount:
        data["discount_configuration"] = {
            "payment_fraction": num(Decimal(discount["payment_fraction"]))
        }
        if discount.get("cap"):
            data["discount_configuration"]["cap"] = {
                "amount": num(Decimal(discount["cap"]["amount"])),
                "spend_tracker_alias": discount["cap"]["spend_tracker_alias"],
            }
    if config.get("custom_credit_type_id"):
        data["custom_credit_type_id"] = config["custom_credit_type_id"]
    if config.get("threshold_balance_specifiers"):
        data["threshold_balance_specifiers"] = config["threshold_balance_specifiers"]
    return data


def _recurring_terms(contract: Contract, *, leave_out: frozenset = frozenset()) -> dict:
    """`recurring_commits` and `recurring_credits` (live ones; `leave_out`: ids not to list)."""
    recurring = [
        t
        for t in contract.recurring_balances.all()
        if t.archived_at is None and str(t.pk) not in leave_out
    ]
    return {
        "recurring_commits": [recurring_json(t) for t in recurring if t.kind == "COMMIT"] or None,
        "recurring_credits": [recurring_json(t) for t in recurring if t.kind == "CREDIT"] or None,
    }


def _more_terms(contract: Contract) -> dict:
    return {
        "discounts": [
            discount_json(d, contract) for d in contract.discounts.all() if d.archived_at is None
        ]
        or None,
        "professional_services": [
            professional_service_json(p)
            for p in contract.professional_services.all()
            if p.archived_at is None
        ]
        or None,
        **_recurring_terms(contract),
        "prepaid_balance_threshold_configuration": threshold_json(
            contract.prepaid_balance_threshold_configuration
        ),
        "spend_threshold_configuration": threshold_json(contract.spend_threshold_configuration),
    }


def reseller_royalty_json(royalty: ResellerRoyalty, *, products: bool = True) -> dict:
    """One reseller royalty segment (`products`: with its applicable products, as contracts show
    it; an amendment's own list leaves them out, as Metronome's `Amendment` does)."""
    data = {
        "reseller_type": royalty.reseller_type,
        "fraction": num(royalty.fraction),
        "netsuite_reseller_id": royalty.netsuite_reseller_id,
        "reseller_contract_value": num(royalty.reseller_contract_value),
        "starting_at": ts(royalty.starting_at),
        "ending_before": ts(royalty.ending_before),
        "aws_account_number": royalty.aws_account_number or None,
        "aws_offer_id": royalty.aws_offer_id or None,
        "aws_payer_reference_id": royalty.aws_payer_reference_id or None,
        "gcp_account_id": royalty.gcp_account_id or None,
        "gcp_offer_id": royalty.gcp_offer_id or None,
    }
    if products:
        data["applicable_product_ids"] = list(royalty.applicable_product_ids) or None
        data["applicable_product_tags"] = list(royalty.applicable_product_tags) or None
    return _drop_none(data)


def _royalties_v1(contract: Contract, *, leave_out: frozenset | None = None) -> dict:
    """v1 `current` / `initial` (`leave_out`: what edits added): the royalty segments; `initial`
    leaves out those amendments and edits added."""
    segments = [
        reseller_royalty_json(r)
        for r in contract.reseller_royalties.all()
        if leave_out is None or (r.amendment_id is None and str(r.pk) not in leave_out)
    ]
    return {"reseller_royalties": segments} if segments else {}


def reseller_royalties_v2_json(contract: Contract) -> list[dict] | None:
    """ContractV2's `reseller_royalties`: the segments grouped by reseller type."""
    grouped: dict[str, list[dict]] = {}
    for royalty in contract.reseller_royalties.all():
        grouped.setdefault(royalty.reseller_type, []).append(reseller_royalty_json(royalty))
    return [{"reseller_type": k, "segments": v} for k, v in grouped.items()] or None


# --- Contracts ---------------------------------------------------------------------------------------


def billing_anchor_date(contract: Contract) -> datetime:
    """Periods align on the first of the month, the contract start or the custom anchor (UTC)."""
    if contract.billing_anchor_date is not None:
        return contract.billing_anchor_date.astimezone(UTC)
    start = contract.starting_at.astimezone(UTC)
    if contract.usage_statement_day == Contract.StatementDay.FIRST_OF_MONTH:
        return start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start


def transition_json(transition: ContractTransition) -> dict:
    return {
        "type": transition.type,
        "from_contract_id": str(transition.from_contract_id),
        "to_contract_id": str(transition.to_contract_id),
    }


def _terms_json(contract: Contract, extras=None, *, leave_out: frozenset = frozenset()) -> dict:
    """The contract's terms; `leave_out`: ids of terms not to list (v1 `initial` leaves out
    what edits and amendments added later)."""
    extras = extras or _no_extras

    def kept(rows):
        return [row for row in rows if str(row.pk) not in leave_out]

    return _drop_none(
        {
            "created_at": ts(contract.created_at),
            "created_by": contract.created_by or "api",
            "starting_at": ts(contract.starting_at),
            "ending_before": ts(contract.ending_before),
            "name": contract.name or None,
            "rate_card_id": str(contract.rate_card_id),
            "net_payment_terms_days": contract.net_payment_terms_days,
            "multiplier_override_prioritization": contract.multiplier_override_prioritization,
            "usage_statement_schedule": {
                "billing_anchor_date": ts(billing_anchor_date(contract)),
                "frequency": contract.usage_statement_frequency,
            },
            "transitions": [transition_json(t) for t in contract_transitions(contract=contract)],
            "hierarchy_configuration": contract_hierarchy_json(contract),
            "commits": [commit_json(c, contract) | extras(c) for c in kept(contract.commits.all())],
            "credits": [credit_json(c, contract) | extras(c) for c in kept(contract.credits.all())],
            "overrides": [
                override_json(o) for o in kept(contract.overrides.all()) if o.archived_at is None
            ],
            "scheduled_charges": [
                scheduled_charge_json(c, contract) for c in kept(contract.scheduled_charges.all())
            ],
        }
    )


def _no_extras(term) -> dict:
    return {}


def _subscriptions(contract: Contract) -> list[dict]:
    return [
        subscription_json(s, contract)
        for s in contract.subscriptions.all()
        if s.archived_at is None
    ]


def billing_configuration_json(config: BillingProviderConfiguration) -> dict:
    """Metronome's customer billing provider configuration. For Stripe, `configuration` holds
    `stripe_customer_id` and `stripe_collection_method` (as Metronome's set call takes them)."""
    configuration = dict(config.configuration or {})
    if config.billing_provider == BillingProviderConfiguration.Provider.STRIPE:
        configuration["stripe_customer_id"] = config.billing_provider_customer_id
        if config.stripe_collection_method:
            configuration["stripe_collection_method"] = config.stripe_collection_method
    else:
        configuration.setdefault("customer_id", config.billing_provider_customer_id)
    return {
        "id": str(config.pk),
        "archived_at": ts(config.archived_at),
        "billing_provider": config.billing_provider,
        "configuration": configuration,
        "customer_id": str(config.customer_id),
        "delivery_method": config.delivery_method,
        "delivery_method_configuration": {},
        "delivery_method_id": str(config.delivery_method_id or ""),
    }


def _billing(contract: Contract) -> dict | None:
    """The configuration its invoices go to now (a v2 edit may have switched it)."""
    config = contract_configuration_at(
        contract=contract,
        kind=ContractConfigurationChange.Kind.BILLING_PROVIDER,
        at=timezone.now(),
    )
    return billing_configuration_json(config) if config is not None else None


def contract_v2_json(contract: Contract, extras=None) -> dict:
    """`ContractV2`: the contract as it is now, flat. `extras(term)`: fields to add to each
    commit and credit (balance, ledger)."""
    data = {
        "id": str(contract.pk),
        "customer_id": str(contract.customer_id),
        **_terms_json(contract, extras),
        "usage_filter": [usage_filter_json(f) for f in contract.usage_filters.all()],
        "subscriptions": _subscriptions(contract),
        **_more_terms(contract),
        "reseller_royalties": reseller_royalties_v2_json(contract),
        "spend_trackers": spend_trackers_json(contract, timezone.now()),
        "custom_fields": _string_map(contract.custom_fields),
        "package_id": str(contract.package_id) if contract.package_id else None,
        "uniqueness_key": contract.uniqueness_key,
        "customer_billing_provider_configuration": _billing(contract),
        "scheduled_charges_on_usage_invoices": "ALL"
        if contract.scheduled_charges_on_usage_invoices
        else None,
        **configurations.contract_configurations_json(contract),
    }
    return _drop_none(data) | {"archived_at": ts(contract.archived_at)}


def contract_v1_json(contract: Contract, extras=None) -> dict:
    """v1 `Contract`: `current` (every term), `initial` (without the terms edits and
    amendments added later) and the `amendments`."""
    edits = list(contract.edits.all())
    added = frozenset(
        pk
        for edit in edits
        for key, ids in (edit.changes or {}).items()
        if key.startswith("add_")
        for pk in ids
    )
    data = {
        "id": str(contract.pk),
        "customer_id": str(contract.customer_id),
        "amendments": [
            amendment_json(edit, contract)
            for edit in edits
            if edit.kind == ContractEdit.Kind.AMENDMENT
        ],
        "initial": _terms_json(contract, extras, leave_out=added)
        | _royalties_v1(contract, leave_out=added)
        | _drop_none(_recurring_terms(contract, leave_out=added)),
        "current": _terms_json(contract, extras)
        | _royalties_v1(contract)
        | _drop_none(_recurring_terms(contract)),
        "prepaid_balance_threshold_configuration": threshold_json(
            contract.prepaid_balance_threshold_configuration
        ),
        "spend_threshold_configuration": threshold_json(contract.spend_threshold_configuration),
        "spend_trackers": spend_trackers_json(contract, timezone.now()),
        "subscriptions": _subscriptions(contract),
        "custom_fields": _string_map(contract.custom_fields),
        "package_id": str(contract.package_id) if contract.package_id else None,
        "uniqueness_key": contract.uniqueness_key,
        "customer_billing_provider_configuration": _billing(contract),
        "scheduled_charges_on_usage_invoices": "ALL"
        if contract.scheduled_charges_on_usage_invoices
        else None,
        **configurations.contract_configurations_json(contract),
    }
    return _drop_none(data) | {"archived_at": ts(contract.archived_at)}


def package_contract_json(contract: Contract) -> dict:
    return _drop_none(
        {
            "contract_id": str(contract.pk),
            "customer_id": str(contract.customer_id),
            "starting_at": ts(contract.starting_at),
            "ending_before": ts(contract.ending_before),
        }
    ) | {"archived_at": ts(contract.archived_at)}


def _by_ids(manager, ids) -> list:
    rows = {str(row.pk): row for row in manager.filter(pk__in=list(ids or []))}
    return [rows[pk] for pk in ids or [] if pk in rows]


def usage_filter_json(usage_filter) -> dict:
    return _drop_none(
        {
            "group_key": usage_filter.group_key,
            "group_values": list(usage_filter.group_values),
            "starting_at": ts(usage_filter.starting_at),
            "ending_before": ts(usage_filter.ending_before),
        }
    )


def edit_history_json(edit, contract: Contract) -> dict:
    """One `ContractEdit` as v2 edit / getEditHistory answer it: the terms it added (as they are
    now), the ids it archived, removed or updated, and its field changes."""
    changes = edit.changes or {}
    fields = changes.get("fields", [])
    data = {
        "id": str(edit.pk),
        "timestamp": ts(edit.created_at),
        "uniqueness_key": edit.uniqueness_key,
        "update_contract_name": contract.name if "name" in fields else None,
        "update_contract_end_date": ts(contract.ending_before)
        if "ending_before" in fields
        else None,
        "add_commits": [
            commit_json(c, contract) for c in _by_ids(Commit.objects, changes.get("add_commits"))
        ]
        or None,
        "add_credits": [
            credit_json(c, contract) for c in _by_ids(Credit.objects, changes.get("add_credits"))
        ]
        or None,
        "add_overrides": [
            override_json(o) for o in _by_ids(Override.objects, changes.get("add_overrides"))
        ]
        or None,
        "add_scheduled_charges": [
            scheduled_charge_json(c, contract)
            for c in _by_ids(ScheduledCharge.objects, changes.get("add_scheduled_charges"))
        ]
        or None,
        "add_subscriptions": [
            subscription_json(x, contract)
            for x in _by_ids(Subscription.objects, changes.get("add_subscriptions"))
        ]
        or None,
        "add_usage_filters": [
            usage_filter_json(f)
            for f in _by_ids(ContractUsageFilter.objects, changes.get("add_usage_filters"))
        ]
        or None,
        "add_discounts": [
            discount_json(d, contract)
            for d in _by_ids(Discount.objects, changes.get("add_discounts"))
        ]
        or None,
        "add_reseller_royalties": [
            reseller_royalty_json(r)
            for r in _by_ids(ResellerRoyalty.objects, changes.get("add_reseller_royalties"))
        ]
        or None,
        "add_pro_services": [
            professional_service_json(p)
            for p in _by_ids(ProfessionalService.objects, changes.get("add_professional_services"))
        ]
        or None,
        "add_recurring_commits": [
            recurring_json(t)
            for t in _by_ids(RecurringBalance.objects, changes.get("add_recurring_commits"))
        ]
        or None,
        "add_recurring_credits": [
            recurring_json(t)
            for t in _by_ids(RecurringBalance.objects, changes.get("add_recurring_credits"))
        ]
        or None,
    }
    for key in (
        "archive_commits",
        "archive_credits",
        "archive_scheduled_charges",
        "remove_overrides",
        "update_commits",
        "update_credits",
        "update_scheduled_charges",
    ):
        if changes.get(key):
            data[key] = [{"id": pk} for pk in changes[key]]
    if changes.get("update_subscriptions"):
        data["update_subscriptions"] = [{"id": pk} for pk in changes["update_subscriptions"]]
    data.update(term_edits.history_json(changes))
    data.update(configurations.edit_configurations_json(changes))
    return _drop_none(data)


def edit_json(result, contract: Contract) -> dict:
    return edit_history_json(result.edit, contract)


def amendment_json(edit, contract: Contract) -> dict:
    """A v1 amendment: the terms it added, from its `starting_at`."""
    changes = edit.changes or {}
    return _drop_none(
        {
            "id": str(edit.pk),
            "created_at": ts(edit.created_at),
            "created_by": edit.created_by or "api",
            "starting_at": ts(edit.starting_at),
            "commits": [
                commit_json(c, contract)
                for c in _by_ids(Commit.objects, changes.get("add_commits"))
            ],
            "credits": [
                credit_json(c, contract)
                for c in _by_ids(Credit.objects, changes.get("add_credits"))
            ],
            "overrides": [
                override_json(o) for o in _by_ids(Override.objects, changes.get("add_overrides"))
            ],
            "scheduled_charges": [
                scheduled_charge_json(c, contract)
                for c in _by_ids(ScheduledCharge.objects, changes.get("add_scheduled_charges"))
            ],
            "reseller_royalties": [
                reseller_royalty_json(r, products=False)
                for r in ResellerRoyalty.objects.filter(amendment=edit)
            ]
            or None,
        }
    )


# --- Balances and ledgers --------------------------------------------------------------------------------

MANUAL_TYPES = {"PREPAID_COMMIT_MANUAL", "POSTPAID_COMMIT_MANUAL", "CREDIT_MANUAL"}


def ledger_entry_json(row: dict) -> dict:
    """One ledger entry (a row of `selectors.balance_ledger`) in the SDK's `Ledger*Entry` shape."""
    data = {
        "type": row["type"],
        "amount": num(row["amount"]),
        "timestamp": ts(row["timestamp"]),
        "segment_id": str(row["segment_id"]) if row["segment_id"] else None,
        "invoice_id": str(row["invoice_id"]) if row["invoice_id"] else None,
        "contract_id": str(row["contract_id"]) if row["contract_id"] else None,
        "reason": row["reason"] or ("" if row["type"] in MANUAL_TYPES else None),
        "new_contract_id": str(row["new_contract_id"]) if row.get("new_contract_id") else None,
    }
    return _drop_none(data)


def balance_extras(*, balances: dict | None = None, ledgers: dict | None = None):
    """`extras` for the contract presenters: `balance` from {term id: Decimal}, `ledger` from
    {term id: [ledger rows]}."""

    def extras(term) -> dict:
        data = {}
        if balances is not None:
            data["balance"] = num(balances.get(term.pk, Decimal(0)))
        if ledgers is not None:
            data["ledger"] = [ledger_entry_json(row) for row in ledgers.get(term.pk, [])]
        return data

    return extras


def customer_balance_json(term: Commit | Credit, extras=None) -> dict:
    """A customer-level (or, listed with the contract ones, contract-level) `Commit` / `Credit`."""
    data = {
        "id": str(term.pk),
        "type": term.type,
        "product": _named(term.product),
        "created_at": ts(term.created_at),
        "access_schedule": _access_schedule(term),
        "applicable_product_ids": [str(p.pk) for p in term.applicable_products.all()],
        "applicable_product_tags": list(term.applicable_product_tags or []),
        "specifiers": commit_specifiers.as_json(term.specifiers),
        "applicable_contract_ids": [str(c.pk) for c in term.applicable_contracts.all()],
        "contract": {"id": str(term.contract_id)} if term.contract_id else None,
        "name": term.name or None,
        "description": term.description or None,
        "priority": num(term.priority),
        "rate_type": term.rate_type,
        "uniqueness_key": term.uniqueness_key,
        "rollover_fraction": num(term.rollover_fraction)
        if term.rollover_fraction is not None
        else None,
        "rolled_over_from": _rolled_over_from(term),
    }
    if isinstance(term, Commit):
        data["payment_gate"] = _payment_gate(term)
        if term.invoice_contract_id:
            data["invoice_contract"] = {"id": str(term.invoice_contract_id)}
        items = list(term.invoice_schedule.all())
        if items:
            data["invoice_schedule"] = {
                "credit_type": credit_type_json(term.credit_type),
                "do_not_invoice": False,
                "schedule_items": _point_items(items),
            }
    data = _drop_none(data) | _made_by(term) | {"archived_at": ts(term.archived_at)}
    return data | (extras(term) if extras else {})
