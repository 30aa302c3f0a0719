"""Request serializers for the contract terms of issue 14 (discounts, professional services,
recurring commits and credits, seat-based subscriptions, threshold billing) and their
conversion into the services' specs."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from catalog import money
from catalog.api.fields import NumberField
from catalog.api.serializers import COMMIT_OR_LIST_RATE, FREQUENCIES
from core.api import (
    EnumField,
    StrictBooleanField,
    StrictCharField,
    StringListField,
    StringMapField,
    TimestampField,
    UUIDStringField,
)
from customers import selectors, services

from . import hierarchy
from . import specifiers as commit_specifiers
from . import terms as base_terms

# --- Professional services -------------------------------------------------------------


class ProfessionalServiceIn(serializers.Serializer):
    product_id = UUIDStringField()
    unit_price = NumberField(min_value=0)
    quantity = NumberField(min_value=0)
    max_amount = NumberField(min_value=0)
    description = StrictCharField(required=False, allow_blank=True)
    custom_fields = StringMapField(required=False)
    netsuite_sales_order_id = StrictCharField(required=False, allow_blank=True)


# --- Recurring commits and credits -------------------------------------------------------------------


class AccessAmountIn(serializers.Serializer):
    unit_price = NumberField(min_value=0)
    quantity = NumberField(required=False, min_value=0)
    credit_type_id = UUIDStringField(required=False)
    access_type = EnumField(["SPEND", "QUANTITY"], required=False)


class CommitDurationIn(serializers.Serializer):
    value = NumberField(min_value=1, integer=True)
    unit = EnumField(["PERIODS"], required=False)


class InvoiceAmountIn(serializers.Serializer):
    unit_price = NumberField(min_value=0)
    quantity = NumberField(min_value=0)
    credit_type_id = UUIDStringField()


class SeatIncreaseIn(serializers.Serializer):
    is_prorated = StrictBooleanField()


class SubscriptionConfigIn(serializers.Serializer):
    subscription_id = StrictCharField()
    apply_seat_increase_config = SeatIncreaseIn()
    allocation = EnumField(["POOLED", "INDIVIDUAL"], required=False)


class RoundingIn(serializers.Serializer):
    """One proration_rounding entry: decimal places in the stored unit (negative: a power of
    ten) and the method."""

    decimal_places = NumberField(
        integer=True,
        min_value=money.PRORATION_ROUNDING_PLACES[0],
        max_value=money.PRORATION_ROUNDING_PLACES[1],
    )
    rounding_method = EnumField(list(money.PRORATION_ROUNDING_METHODS))


class CommitProrationRoundingIn(serializers.Serializer):
    access = RoundingIn(required=False, allow_null=True)
    invoice = RoundingIn(required=False, allow_null=True)


class CreditProrationRoundingIn(serializers.Serializer):
    access = RoundingIn(required=False, allow_null=True)
    invoice = serializers.JSONField(required=False, allow_null=True)  # refused, with the reason

    def validate_invoice(self, value):
        raise serializers.ValidationError("Credits are not invoiced.")


class _RecurringIn(serializers.Serializer):
    access_amount = AccessAmountIn()
    commit_duration = CommitDurationIn()
    priority = NumberField()
    product_id = UUIDStringField()
    starting_at = TimestampField()
    applicable_product_ids = serializers.ListField(child=UUIDStringField(), required=False)
    applicable_product_tags = StringListField(required=False)
    description = StrictCharField(required=False, allow_blank=True)
    ending_before = TimestampField(required=False)
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    proration = EnumField(["NONE", "FIRST", "LAST", "FIRST_AND_LAST"], required=False)
    rate_type = EnumField(COMMIT_OR_LIST_RATE, required=False)
    recurrence_frequency = EnumField([*FREQUENCIES, "DAILY"], required=False)
    rollover_fraction = NumberField(required=False, min_value=0, max_value=1)
    subscription_config = SubscriptionConfigIn(required=False)
    temporary_id = StrictCharField(required=False)
    custom_fields = StringMapField(required=False)
    netsuite_sales_order_id = StrictCharField(required=False, allow_blank=True)
    specifiers = commit_specifiers.specifiers_field()
    hierarchy_configuration = hierarchy.CommitHierarchyIn(required=False)

    def validate(self, attrs):
        if "quantity" not in attrs["access_amount"] and "subscription_config" not in attrs:
            raise serializers.ValidationError(
                {"access_amount.quantity": "Give a quantity, or attach a subscription."}
            )
        return attrs


class RecurringCommitIn(_RecurringIn):
    invoice_amount = InvoiceAmountIn(required=False)
    proration_rounding = CommitProrationRoundingIn(required=False)


class RecurringCreditIn(_RecurringIn):
    proration_rounding = CreditProrationRoundingIn(required=False)


def recurring(items: list[dict], kind: str, key: str) -> list[services.RecurringSpec]:
    specs = []
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        access = item["access_amount"]
        invoice = item.get("invoice_amount") or {}
        config = item.get("subscription_config") or {}
        specs.append(
            services.RecurringSpec(
                kind=kind,
                product=base_terms._product(item["product_id"], f"{where}.product_id"),
                starting_at=item["starting_at"],
                ending_before=item.get("ending_before"),
                access_unit_price=access["unit_price"],
                access_quantity=access.get("quantity"),
                access_type=access.get("access_type", "SPEND"),
                credit_type=base_terms._unit(
                    access.get("credit_type_id"), f"{where}.access_amount.credit_type_id"
                ),
                duration_periods=item["commit_duration"]["value"],
                priority=item["priority"],
                name=item.get("name", ""),
                description=item.get("description", ""),
                rate_type=item.get("rate_type", "LIST_RATE"),
                applicable_products=[
                    base_terms._product(pk, f"{where}.applicable_product_ids")
                    for pk in item.get("applicable_product_ids", [])
                ],
                applicable_product_tags=item.get("applicable_product_tags", []),
                specifiers=commit_specifiers.stored(item, where),
                invoice_unit_price=invoice.get("unit_price"),
                invoice_quantity=invoice.get("quantity"),
                proration=item.get("proration", "FIRST_AND_LAST"),
                recurrence_frequency=item.get("recurrence_frequency", ""),
                rollover_fraction=item.get("rollover_fraction"),
                child_access=hierarchy.child_access(item),
                subscription=config.get("subscription_id", ""),
                allocation=config.get("allocation", "POOLED"),
                prorate_seat_increases=config.get("apply_seat_increase_config", {}).get(
                    "is_prorated", True
                ),
                custom_fields=item.get("custom_fields", {}),
                proration_rounding=services.proration_rounding_spec(item.get("proration_rounding")),
            )
        )
    return specs


# --- Seat-based subscriptions --------------------------------------------------------------------------


class SeatConfigIn(serializers.Serializer):
    seat_group_key = StrictCharField(max_length=200)
    initial_seat_ids = StringListField()
    initial_unassigned_seats = NumberField(required=False, min_value=0, integer=True)


class QuantityUpdateIn(serializers.Serializer):
    starting_at = TimestampField()
    quantity = NumberField(required=False, min_value=0)
    quantity_delta = NumberField(required=False)


class SeatIdsIn(serializers.Serializer):
    seat_ids = StringListField()
    starting_at = TimestampField()


class SeatCountIn(serializers.Serializer):
    quantity = NumberField(min_value=0, integer=True)
    starting_at = TimestampField()


class SeatUpdatesIn(serializers.Serializer):
    add_seat_ids = SeatIdsIn(many=True, required=False)
    remove_seat_ids = SeatIdsIn(many=True, required=False)
    add_unassigned_seats = SeatCountIn(many=True, required=False)
    remove_unassigned_seats = SeatCountIn(many=True, required=False)


class SubscriptionUpdateIn(serializers.Serializer):
    subscription_id = UUIDStringField()
    ending_before = TimestampField(required=False, allow_null=True)
    quantity_updates = QuantityUpdateIn(many=True, required=False)
    seat_updates = SeatUpdatesIn(required=False)


def subscription_updates(items: list[dict]) -> list[services.SubscriptionUpdate]:
    updates = []
    for item in items:
        seats = item.get("seat_updates") or {}
        updates.append(
            services.SubscriptionUpdate(
                id=item["subscription_id"],
                quantity_updates=[dict(q) for q in item.get("quantity_updates", [])],
                add_seat_ids=[dict(x) for x in seats.get("add_seat_ids", [])],
                remove_seat_ids=[dict(x) for x in seats.get("remove_seat_ids", [])],
                add_unassigned_seats=[dict(x) for x in seats.get("add_unassigned_seats", [])],
                remove_unassigned_seats=[dict(x) for x in seats.get("remove_unassigned_seats", [])],
                ending_before=item.get("ending_before"),
                end_given="ending_before" in item,
            )
        )
    return updates


# --- Threshold billing -------------------------------------------------------------------------------


class ThresholdCommitIn(serializers.Serializer):
    product_id = UUIDStringField()
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    description = StrictCharField(required=False, allow_blank=True)
    applicable_product_ids = serializers.ListField(child=UUIDStringField(), required=False)
    applicable_product_tags = StringListField(required=False)
    specifiers = commit_specifiers.specifiers_field()
    # The bought commit's draw-down order, price of what it draws, and share rolled over.
    priority = NumberField(required=False, allow_null=True)
    rate_type = EnumField(COMMIT_OR_LIST_RATE, required=False, allow_null=True)
    rollover_fraction = NumberField(required=False, allow_null=True, min_value=0, max_value=1)


class _DurationIn(serializers.Serializer):
    unit = EnumField(["DAYS", "WEEKS", "MONTHS", "YEARS"])
    value = NumberField(integer=True, min_value=1)


class PrepaidThresholdCommitIn(ThresholdCommitIn):
    """An auto-recharge's commit: usable for `duration` from its purchase (a year if not given)."""

    duration = _DurationIn(required=False, allow_null=True)


class StripeGateIn(serializers.Serializer):
    payment_type = EnumField(["INVOICE", "PAYMENT_INTENT"])
    invoice_metadata = StringMapField(required=False)


class PrecalculatedTaxIn(serializers.Serializer):
    tax_amount = NumberField(min_value=0)
    tax_name = StrictCharField(required=False, allow_blank=True, max_length=200)


class PaymentGateIn(serializers.Serializer):
    """Metronome's payment_gate_config: NONE (the commit is usable at once), STRIPE (the
    commit's invoice is charged in Stripe, as a Stripe invoice or a PaymentIntent) or EXTERNAL
    (the integrator charges it and reports the outcome)."""

    payment_gate_type = EnumField(["NONE", "STRIPE", "EXTERNAL"])
    stripe_config = StripeGateIn(required=False)
    tax_type = EnumField(["NONE", "STRIPE", "ANROK", "PRECALCULATED"], required=False)
    precalculated_tax_config = PrecalculatedTaxIn(required=False)

    def validate_tax_type(self, value):
        if value == "ANROK":
            raise serializers.ValidationError(
                "ANROK needs an Anrok integration, which this product does not have; use NONE, "
                "PRECALCULATED or (with a STRIPE gate) STRIPE."
            )
        return value

    def validate(self, attrs):
        gate = attrs["payment_gate_type"]
        tax = attrs.get("tax_type", "NONE")
        stripe = attrs.get("stripe_config")
        if gate == "STRIPE" and stripe is None:
            raise serializers.ValidationError(
                {"stripe_config": "A STRIPE gate needs stripe_config.payment_type."}
            )
        if gate != "STRIPE" and stripe is not None:
            raise serializers.ValidationError(
                {"stripe_config": "Only a STRIPE payment gate takes a stripe_config."}
            )
        if stripe and stripe.get("invoice_metadata") and stripe["payment_type"] != "INVOICE":
            raise serializers.ValidationError(
                {"stripe_config.invoice_metadata": "Only with payment_type INVOICE."}
            )
        if tax == "STRIPE" and (gate != "STRIPE" or stripe["payment_type"] != "INVOICE"):
            raise serializers.ValidationError(
                {"tax_type": "STRIPE tax needs a STRIPE gate paid by INVOICE."}
            )
        if gate == "NONE" and tax != "NONE":
            raise serializers.ValidationError(
                {"tax_type": "Tax is only calculated for a payment-gated commit."}
            )
        if (tax == "PRECALCULATED") != ("precalculated_tax_config" in attrs):
            raise serializers.ValidationError(
                {"precalculated_tax_config": "Given with tax_type PRECALCULATED, and only then."}
            )
        return attrs


def payment_gate_config(data: dict, where: str, customer) -> dict:
    """A validated payment_gate_config as stored (numbers as strings). A STRIPE gate needs the
    customer's Stripe billing provider configuration, which is where it is charged."""
    stored: dict = {"payment_gate_type": data["payment_gate_type"]}
    if data["payment_gate_type"] == "STRIPE":
        # A package's (customer None) is checked when a contract is made from it.
        if customer is not None and not selectors.customer_has_stripe(customer):
            raise serializers.ValidationError(
                {
                    f"{where}.payment_gate_config.payment_gate_type": "A STRIPE gate needs the "
                    "customer's Stripe billing provider configuration; add one first."
                }
            )
        stripe = data["stripe_config"]
        stored["stripe_config"] = {"payment_type": stripe["payment_type"]}
        if stripe.get("invoice_metadata"):
            stored["stripe_config"]["invoice_metadata"] = dict(stripe["invoice_metadata"])
    if data.get("tax_type"):
        stored["tax_type"] = data["tax_type"]
    tax = data.get("precalculated_tax_config")
    if tax is not None:
        stored["precalculated_tax_config"] = {"tax_amount": str(tax["tax_amount"])}
        if tax.get("tax_name"):
            stored["precalculated_tax_config"]["tax_name"] = tax["tax_name"]
    return stored


class DiscountCapIn(serializers.Serializer):
    amount = NumberField(min_value=0)
    spend_tracker_alias = StrictCharField(max_length=200)


class DiscountConfigurationIn(serializers.Serializer):
    """A threshold commit's discount: the customer pays `payment_fraction` of its amount, until
    the spend tracker `cap.spend_tracker_alias` has accumulated `cap.amount` in the billing
    period (the contract's trackers are checked by the view)."""

    payment_fraction = NumberField(min_value=0, max_value=1)
    cap = DiscountCapIn(required=False, allow_null=True)


BALANCE_FILTER_ENTITIES = ["Commit", "ContractCredit", "ContractCreditOrCommit"]


class BalanceCustomFieldFilterIn(serializers.Serializer):
    entity = serializers.ChoiceField(
        BALANCE_FILTER_ENTITIES,
        error_messages={
            "invalid_choice": "'{input}' is not one of Commit, ContractCredit, "
            "ContractCreditOrCommit."
        },
    )
    key = StrictCharField()
    value = StrictCharField(allow_blank=True)


class BalanceExcludeIn(serializers.Serializer):
    custom_field_filters = BalanceCustomFieldFilterIn(many=True, allow_empty=False)


class ThresholdBalanceSpecifierIn(serializers.Serializer):
    """Which balances an auto-recharge leaves out: those whose custom fields match ALL the
    filters of ANY exclude."""

    exclude = BalanceExcludeIn(many=True)


class _ThresholdIn(serializers.Serializer):
    commit = ThresholdCommitIn()
    is_enabled = StrictBooleanField()
    payment_gate_config = PaymentGateIn()
    threshold_amount = NumberField(min_value=0)
    discount_configuration = DiscountConfigurationIn(required=False)


class PrepaidThresholdIn(_ThresholdIn):
    commit = PrepaidThresholdCommitIn()
    recharge_to_amount = NumberField(min_value=0)
    custom_credit_type_id = UUIDStringField(required=False)
    threshold_balance_specifiers = ThresholdBalanceSpecifierIn(many=True, required=False)

    def validate(self, attrs):
        if attrs["recharge_to_amount"] <= attrs["threshold_amount"]:
            raise serializers.ValidationError(
                {"recharge_to_amount": "Must be more than threshold_amount."}
            )
        return attrs


class SpendThresholdIn(_ThresholdIn):
    def validate_threshold_amount(self, value):
        if value <= 0:
            raise serializers.ValidationError("Must be more than 0.")
        return value


def _discount(data: dict | None) -> dict | None:
    if data is None:
        return None
    stored = {"payment_fraction": str(data["payment_fraction"])}
    cap = data.get("cap")
    if cap is not None:
        stored["cap"] = {
            "amount": str(cap["amount"]),
            "spend_tracker_alias": cap["spend_tracker_alias"],
        }
    return stored


def _discount_in(stored: dict) -> dict:
    """A stored discount_configuration as the request would give it (numbers as Decimals)."""
    given: dict = {}
    if stored.get("payment_fraction") is not None:
        given["payment_fraction"] = Decimal(stored["payment_fraction"])
    if stored.get("cap"):
        given["cap"] = {**stored["cap"], "amount": Decimal(stored["cap"]["amount"])}
    return given


def _custom_unit(pk, where: str, rate_card) -> str:
    """A threshold's custom pricing unit: a custom (not currency) unit the contract's rate card
    converts to fiat (the commit bought is invoiced at that rate)."""
    field = f"{where}.custom_credit_type_id"
    unit = base_terms._unit(pk, field)
    if unit.is_currency:
        raise serializers.ValidationError(
            {
                field: "Give a custom pricing unit; without one the threshold is in the contract's "
                "currency."
            }
        )
    if (
        rate_card is not None
        and not rate_card.credit_type_conversions.filter(custom_credit_type=unit).exists()
    ):
        raise serializers.ValidationError(
            {
                field: f"The rate card has no conversion for {unit.name}; add one first "
                "(credit_type_conversions)."
            }
        )
    return str(unit.pk)


def _exclusions(items: list[dict]) -> list[dict]:
    return [
        {
            "exclude": [
                {"custom_field_filters": [dict(f) for f in e["custom_field_filters"]]}
                for e in item["exclude"]
            ]
        }
        for item in items
    ]


def threshold_config(data: dict | None, where: str, customer, rate_card=None) -> dict | None:
    """A validated threshold configuration as stored (numbers as strings, product checked; a
    custom unit checked against `rate_card`'s conversions when given)."""
    if data is None:
        return None
    commit = data["commit"]
    base_terms._product(commit["product_id"], f"{where}.commit.product_id")
    for pk in commit.get("applicable_product_ids", []):
        base_terms._product(pk, f"{where}.commit.applicable_product_ids")
    stored = {
        "is_enabled": data["is_enabled"],
        "threshold_amount": str(data["threshold_amount"]),
        "payment_gate_config": payment_gate_config(data["payment_gate_config"], where, customer),
        "commit": {
            "product_id": str(commit["product_id"]),
            "name": commit.get("name", ""),
            "description": commit.get("description", ""),
            "applicable_product_ids": [str(pk) for pk in commit.get("applicable_product_ids", [])],
            "applicable_product_tags": list(commit.get("applicable_product_tags", [])),
            "specifiers": commit_specifiers.stored(commit, f"{where}.commit"),
            **threshold_commit_extras(commit),
        },
    }
    if "recharge_to_amount" in data:
        stored["recharge_to_amount"] = str(data["recharge_to_amount"])
    if data.get("discount_configuration") is not None:
        stored["discount_configuration"] = _discount(data["discount_configuration"])
    if data.get("custom_credit_type_id"):
        stored["custom_credit_type_id"] = _custom_unit(
            data["custom_credit_type_id"], where, rate_card
        )
    if data.get("threshold_balance_specifiers"):
        stored["threshold_balance_specifiers"] = _exclusions(data["threshold_balance_specifiers"])
    return stored


THRESHOLD_COMMIT_EXTRAS = ("priority", "rate_type", "rollover_fraction", "duration")


def threshold_commit_extras(commit: dict) -> dict:
    """A validated threshold commit's priority, rate_type, rollover_fraction and duration as
    stored (numbers as strings); those not given (or null) are left out."""
    stored: dict = {}
    for key in ("priority", "rollover_fraction"):
        if commit.get(key) is not None:
            stored[key] = str(commit[key])
    if commit.get("rate_type"):
        stored["rate_type"] = commit["rate_type"]
    if commit.get("duration"):
        stored["duration"] = {
            "unit": commit["duration"]["unit"],
            "value": int(commit["duration"]["value"]),
        }
    return stored


def _validated(serializer, value, field: str, **kwargs):
    checked = serializer(data=value, **kwargs)
    if not checked.is_valid():
        raise serializers.ValidationError({field: checked.errors})
    return checked.validated_data


def threshold_update(
    current: dict | None, changes: dict, where: str, customer, rate_card=None
) -> dict:
    """update_*_threshold_configuration: the given fields over the stored configuration (null
    clears discount_configuration, custom_credit_type_id, threshold_balance_specifiers and the
    commit's specifiers)."""
    if current is None:
        raise serializers.ValidationError(
            {where: "This contract has no such threshold configuration; add it first."}
        )
    merged = dict(current)
    for key in ("is_enabled",):
        if key in changes:
            merged[key] = changes[key]
    for key in ("threshold_amount", "recharge_to_amount"):
        if changes.get(key) is not None:
            merged[key] = str(Decimal(changes[key]))
    if changes.get("commit"):
        given = changes["commit"]
        extras = {key: given[key] for key in THRESHOLD_COMMIT_EXTRAS if key in given}
        prepaid = "recharge_to_amount" in merged
        if "duration" in extras and not prepaid:
            raise serializers.ValidationError(
                {f"{where}.commit.duration": "Only an auto-recharge's commit has it."}
            )
        if extras:
            checked = _validated(
                PrepaidThresholdCommitIn if prepaid else ThresholdCommitIn,
                {"product_id": merged["commit"]["product_id"], **extras},
                f"{where}.commit",
            )
        commit = {
            **{k: v for k, v in merged["commit"].items() if k not in extras},
            **{k: v for k, v in given.items() if k not in THRESHOLD_COMMIT_EXTRAS},
        }
        if extras:
            commit.update(threshold_commit_extras({k: checked.get(k) for k in extras}))
        if changes["commit"].get("specifiers") is not None:
            commit["specifiers"] = _validated(
                commit_specifiers.CommitSpecifierIn,
                changes["commit"]["specifiers"],
                f"{where}.commit.specifiers",
                many=True,
            )
        commit["specifiers"] = commit_specifiers.stored(commit, f"{where}.commit")
        merged["commit"] = commit
    if "discount_configuration" in changes:
        value = changes["discount_configuration"]
        current_discount = merged.pop("discount_configuration", None) or {}
        if value is not None:
            # Metronome's update: a field left out keeps its value; null removes it.
            value = {**_discount_in(current_discount), **value}
        if value is not None and value.get("payment_fraction") is not None:
            merged["discount_configuration"] = _discount(
                _validated(DiscountConfigurationIn, value, f"{where}.discount_configuration")
            )
    for key in ("custom_credit_type_id", "threshold_balance_specifiers"):
        if key in changes:
            if "recharge_to_amount" not in merged:
                raise serializers.ValidationError(
                    {f"{where}.{key}": "Only a prepaid balance threshold has it."}
                )
            merged.pop(key, None)
    if changes.get("custom_credit_type_id"):
        merged["custom_credit_type_id"] = _custom_unit(
            changes["custom_credit_type_id"], where, rate_card
        )
    if changes.get("threshold_balance_specifiers"):
        merged["threshold_balance_specifiers"] = _exclusions(
            _validated(
                ThresholdBalanceSpecifierIn,
                changes["threshold_balance_specifiers"],
                f"{where}.threshold_balance_specifiers",
                many=True,
            )
        )
    if changes.get("payment_gate_config") is not None:
        gate = PaymentGateIn(data=changes["payment_gate_config"])
        if not gate.is_valid():
            raise serializers.ValidationError({f"{where}.payment_gate_config": gate.errors})
        merged["payment_gate_config"] = payment_gate_config(gate.validated_data, where, customer)
    return merged


class _AwsOptionsIn(serializers.Serializer):
    aws_account_number = StrictCharField(required=False, max_length=200)
    aws_offer_id = StrictCharField(required=False, max_length=200)
    aws_payer_reference_id = StrictCharField(required=False, max_length=200)


class _GcpOptionsIn(serializers.Serializer):
    gcp_account_id = StrictCharField(required=False, max_length=200)
    gcp_offer_id = StrictCharField(required=False, max_length=200)


class ResellerRoyaltyIn(serializers.Serializer):
    """Metronome's `reseller_royalties[]` (AWS or GCP marketplace resellers) of a contract, an
    amendment or an edit (`add_reseller_royalties`)."""

    reseller_type = EnumField(["AWS", "AWS_PRO_SERVICE", "GCP", "GCP_PRO_SERVICE"])
    fraction = NumberField(required=False, min_value=0, max_value=1)
    netsuite_reseller_id = StrictCharField(required=False, max_length=200)
    reseller_contract_value = NumberField(required=False, min_value=0)
    starting_at = TimestampField(required=False)
    ending_before = TimestampField(required=False, allow_null=True)
    applicable_product_ids = serializers.ListField(child=UUIDStringField(), required=False)
    applicable_product_tags = StringListField(required=False)
    aws_options = _AwsOptionsIn(required=False)
    gcp_options = _GcpOptionsIn(required=False)

    def validate(self, attrs):
        aws = attrs["reseller_type"].startswith("AWS")
        wrong = "gcp_options" if aws else "aws_options"
        if wrong in attrs:
            raise serializers.ValidationError(
                {wrong: f"Only for a {'GCP' if aws else 'AWS'} reseller."}
            )
        return attrs


def reseller_royalties(items: list[dict], key: str) -> list[dict]:
    """Validated royalties, flat as the service stores them (the products checked: 404)."""
    flat = []
    for index, item in enumerate(items):
        item = dict(item)
        if "applicable_product_ids" in item:
            where = f"{key}[{index}].applicable_product_ids"
            item["applicable_product_ids"] = [
                str(base_terms._product(pk, where).pk) for pk in item["applicable_product_ids"]
            ]
        flat.append(
            {
                **{k: v for k, v in item.items() if not k.endswith("_options")},
                **item.get("aws_options", {}),
                **item.get("gcp_options", {}),
            }
        )
    return flat
