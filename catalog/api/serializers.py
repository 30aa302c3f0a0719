"""Request serializers (what a call may send) and schema serializers (what it answers) for the
offering's endpoints. Answers are built by catalog.api.presenters; the *Out classes here describe
them for the OpenAPI schema and mirror the SDK's response models.
"""

from rest_framework import serializers

from catalog.api import package_terms
from catalog.api.fields import DecimalStringField, NumberField
from catalog.models import BillableMetric, Frequency, Product, Rate
from core.api import (
    EnumField,
    StrictBooleanField,
    StrictCharField,
    StringListField,
    StringMapField,
    TimestampField,
    UUIDStringField,
)

AGGREGATION_TYPES = [c for c, _ in BillableMetric.AggregationType.choices]
PRODUCT_TYPES = [c for c, _ in Product.Type.choices]
RATE_TYPES = [c for c, _ in Rate.RateType.choices]
FREQUENCIES = [c for c, _ in Frequency.choices]
COMPOSITE_SCOPES = [c for c, _ in Rate.CompositeScope.choices]
ARCHIVE_FILTERS = ["ARCHIVED", "NOT_ARCHIVED", "ALL"]
DURATION_UNITS = ["DAYS", "WEEKS", "MONTHS", "YEARS"]
FLAT_OR_TIERED = ["FLAT", "TIERED"]
COMMIT_OR_LIST_RATE = ["COMMIT_RATE", "LIST_RATE"]
# How a commit or credit is drawn down: SPEND, its cost; QUANTITY, the units used.
ACCESS_TYPES = ["SPEND", "QUANTITY"]
COMMIT_TYPES = ["PREPAID", "POSTPAID"]
OVERRIDE_TYPES = ["OVERWRITE", "MULTIPLIER", "TIERED"]
STATEMENT_DAYS = ["FIRST_OF_MONTH", "CONTRACT_START"]
STATEMENT_DAYS_IN = [*STATEMENT_DAYS, "CUSTOM_DATE"]


class IdIn(serializers.Serializer):
    id = UUIDStringField()


# --- Pricing units ------------------------------------------------------------------------------------


class PricingUnitCreateIn(serializers.Serializer):
    name = StrictCharField(max_length=200)


class PricingUnitOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    is_currency = serializers.BooleanField()


# --- Billable metrics ----------------------------------------------------------------------------------


class EventTypeFilterIn(serializers.Serializer):
    in_values = StringListField(required=False)
    not_in_values = StringListField(required=False)


class PropertyFilterIn(serializers.Serializer):
    name = StrictCharField()
    exists = StrictBooleanField(required=False, allow_null=True)
    in_values = StringListField(required=False, allow_null=True)
    not_in_values = StringListField(required=False, allow_null=True)


class BillableMetricCreateIn(serializers.Serializer):
    name = StrictCharField(max_length=200)
    aggregation_type = EnumField(AGGREGATION_TYPES, required=False)
    aggregation_key = StrictCharField(max_length=200, required=False, allow_blank=True)
    event_type_filter = EventTypeFilterIn(required=False)
    property_filters = serializers.ListField(child=PropertyFilterIn(), required=False)
    group_keys = serializers.ListField(child=StringListField(), required=False)
    custom_fields = StringMapField(required=False)
    sql = StrictCharField(required=False)

    def validate(self, attrs):
        if attrs.get("sql"):
            others = [
                key
                for key in (
                    "aggregation_type",
                    "aggregation_key",
                    "event_type_filter",
                    "property_filters",
                    "group_keys",
                )
                if key in self.initial_data
            ]
            if others:
                raise serializers.ValidationError(
                    {others[0]: "A SQL metric is defined by its query alone."}
                )
            return attrs
        if not attrs.get("aggregation_type"):
            raise serializers.ValidationError(
                {"aggregation_type": f"This field is required ({', '.join(AGGREGATION_TYPES)})."}
            )
        return attrs


class BillableMetricRenameIn(serializers.Serializer):
    name = StrictCharField(max_length=200)


class EventTypeFilterOut(serializers.Serializer):
    in_values = serializers.ListField(child=serializers.CharField(), required=False)
    not_in_values = serializers.ListField(child=serializers.CharField(), required=False)


class PropertyFilterOut(serializers.Serializer):
    name = serializers.CharField()
    exists = serializers.BooleanField(required=False, allow_null=True)
    in_values = serializers.ListField(child=serializers.CharField(), required=False)
    not_in_values = serializers.ListField(child=serializers.CharField(), required=False)


class BillableMetricOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    sql = serializers.CharField(required=False)
    aggregation_type = serializers.ChoiceField(AGGREGATION_TYPES, required=False)
    aggregation_key = serializers.CharField(allow_null=True)
    event_type_filter = EventTypeFilterOut()
    property_filters = PropertyFilterOut(many=True)
    group_keys = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    custom_fields = StringMapField()
    archived_at = TimestampField(allow_null=True)


class CustomerBillableMetricOut(BillableMetricOut):
    group_by = serializers.ListField(child=serializers.CharField())
    aggregate = serializers.CharField()
    aggregate_keys = serializers.ListField(child=serializers.CharField())


# --- Products ------------------------------------------------------------------------------------------


class QuantityConversionIn(serializers.Serializer):
    conversion_factor = NumberField()
    operation = EnumField(["MULTIPLY", "DIVIDE"])
    name = StrictCharField(required=False, allow_blank=True, max_length=200)

    def validate_conversion_factor(self, value):
        if value <= 0:
            raise serializers.ValidationError("The conversion factor must be positive.")
        return value


class QuantityRoundingIn(serializers.Serializer):
    decimal_places = NumberField(integer=True, min_value=0, max_value=12)
    rounding_method = EnumField(["ROUND_UP", "ROUND_DOWN", "ROUND_HALF_UP"])


class ProductFieldsIn(serializers.Serializer):
    """What product create and update share (update cannot change the type)."""

    name = StrictCharField(max_length=200)
    billable_metric_id = UUIDStringField(required=False)
    composite_product_ids = serializers.ListField(child=UUIDStringField(), required=False)
    composite_tags = StringListField(required=False)
    custom_fields = StringMapField(required=False)
    exclude_free_usage = StrictBooleanField(required=False)
    include_composite_spend = StrictBooleanField(required=False)
    is_refundable = StrictBooleanField(required=False)
    netsuite_internal_item_id = StrictCharField(required=False, allow_blank=True)
    netsuite_overage_item_id = StrictCharField(required=False, allow_blank=True)
    presentation_group_key = StringListField(required=False)
    pricing_group_key = StringListField(required=False)
    quantity_conversion = QuantityConversionIn(required=False, allow_null=True)
    quantity_rounding = QuantityRoundingIn(required=False, allow_null=True)
    sql_breakdown_granularity = EnumField(["HOUR", "SERVICE_PERIOD"], required=False)
    tags = StringListField(required=False)


class ProductCreateIn(ProductFieldsIn):
    type = EnumField(PRODUCT_TYPES, aliases={"PROFESSIONAL_SERVICE": "PRO_SERVICE"})


class ProductUpdateIn(ProductFieldsIn):
    product_id = UUIDStringField()
    starting_at = TimestampField()
    name = StrictCharField(max_length=200, required=False)
    custom_fields = None


class ProductIdIn(serializers.Serializer):
    product_id = UUIDStringField()


class ArchiveFilterIn(serializers.Serializer):
    archive_filter = EnumField(ARCHIVE_FILTERS, required=False, default="NOT_ARCHIVED")


class QuantityConversionOut(serializers.Serializer):
    conversion_factor = NumberField()
    operation = serializers.ChoiceField(["MULTIPLY", "DIVIDE"])
    name = serializers.CharField(required=False)


class QuantityRoundingOut(serializers.Serializer):
    decimal_places = NumberField()
    rounding_method = serializers.ChoiceField(["ROUND_UP", "ROUND_DOWN", "ROUND_HALF_UP"])


class ProductStateOut(serializers.Serializer):
    created_at = TimestampField()
    created_by = serializers.CharField()
    name = serializers.CharField()
    billable_metric_id = serializers.UUIDField(required=False, allow_null=True)
    composite_product_ids = serializers.ListField(child=serializers.UUIDField(), required=False)
    composite_tags = serializers.ListField(child=serializers.CharField(), required=False)
    exclude_free_usage = serializers.BooleanField(required=False)
    is_refundable = serializers.BooleanField(required=False)
    presentation_group_key = serializers.ListField(child=serializers.CharField(), required=False)
    pricing_group_key = serializers.ListField(child=serializers.CharField(), required=False)
    quantity_conversion = QuantityConversionOut(required=False, allow_null=True)
    quantity_rounding = QuantityRoundingOut(required=False, allow_null=True)
    starting_at = TimestampField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)


class ProductUpdateOut(ProductStateOut):
    name = serializers.CharField(required=False)


class ProductOut(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(PRODUCT_TYPES)
    initial = ProductStateOut()
    current = ProductStateOut()
    updates = ProductUpdateOut(many=True)
    archived_at = TimestampField(allow_null=True)
    custom_fields = StringMapField()


# --- Rate cards ------------------------------------------------------------------------------------------


class AliasIn(serializers.Serializer):
    name = StrictCharField(max_length=200)
    starting_at = TimestampField(required=False)
    ending_before = TimestampField(required=False)


class ConversionIn(serializers.Serializer):
    custom_credit_type_id = UUIDStringField()
    fiat_per_custom_credit = NumberField()


class RateCardCreateIn(serializers.Serializer):
    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True)
    aliases = AliasIn(many=True, required=False)
    fiat_credit_type_id = UUIDStringField(required=False)
    credit_type_conversions = ConversionIn(many=True, required=False)
    custom_fields = StringMapField(required=False)


class RateCardUpdateIn(serializers.Serializer):
    rate_card_id = UUIDStringField()
    name = StrictCharField(max_length=200, required=False)
    description = StrictCharField(required=False, allow_blank=True)
    aliases = AliasIn(many=True, required=False)
    add_credit_type_conversions = ConversionIn(many=True, required=False)


class CreditTypeOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class AliasOut(serializers.Serializer):
    name = serializers.CharField()
    starting_at = TimestampField(required=False)
    ending_before = TimestampField(required=False)


class ConversionOut(serializers.Serializer):
    custom_credit_type = CreditTypeOut()
    fiat_per_custom_credit = DecimalStringField()


class RateCardOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    created_at = TimestampField()
    created_by = serializers.CharField()
    aliases = AliasOut(many=True)
    fiat_credit_type = CreditTypeOut()
    credit_type_conversions = ConversionOut(many=True)
    custom_fields = StringMapField()
    archived_at = TimestampField(allow_null=True)


# --- Rates -------------------------------------------------------------------------------------------------


class TierIn(serializers.Serializer):
    price = NumberField()
    size = NumberField(required=False, allow_null=True)


class CommitRateIn(serializers.Serializer):
    rate_type = EnumField(FLAT_OR_TIERED)
    price = NumberField(required=False)
    tiers = TierIn(many=True, required=False)


class RateIn(serializers.Serializer):
    product_id = UUIDStringField()
    entitled = StrictBooleanField()
    rate_type = EnumField(RATE_TYPES)
    starting_at = TimestampField()
    ending_before = TimestampField(required=False, allow_null=True)
    price = NumberField(required=False, allow_null=True)
    tiers = TierIn(many=True, required=False)
    pricing_group_values = StringMapField(required=False)
    credit_type_id = UUIDStringField(required=False)
    commit_rate = CommitRateIn(required=False)
    billing_frequency = EnumField(FREQUENCIES, required=False)
    quantity = NumberField(required=False, allow_null=True, min_value=0)
    is_prorated = StrictBooleanField(required=False)
    custom_rate = serializers.DictField(required=False)
    # Composite charges (Metronome's beta, not in the SDK's params: send them as extra fields).
    composite_minimum = NumberField(required=False, allow_null=True, min_value=0)
    composite_scope = EnumField(COMPOSITE_SCOPES, required=False)

    def validate_custom_rate(self, value):
        raise serializers.ValidationError("Custom rates are not supported.")


class AddRateIn(RateIn):
    rate_card_id = UUIDStringField()


class AddRatesIn(serializers.Serializer):
    rate_card_id = UUIDStringField()
    rates = RateIn(many=True, allow_empty=False)


class SelectorIn(serializers.Serializer):
    product_id = UUIDStringField(required=False)
    product_tags = StringListField(required=False)
    pricing_group_values = StringMapField(required=False)
    partial_pricing_group_values = StringMapField(required=False)
    billing_frequency = EnumField(FREQUENCIES, required=False)


class GetRatesIn(serializers.Serializer):
    rate_card_id = UUIDStringField()
    at = TimestampField()
    selectors = SelectorIn(many=True, required=False)


class GetRateScheduleIn(serializers.Serializer):
    rate_card_id = UUIDStringField()
    starting_at = TimestampField()
    ending_before = TimestampField(required=False)
    selectors = SelectorIn(many=True, required=False)


class TierOut(serializers.Serializer):
    price = NumberField()
    size = NumberField(required=False)


class CommitRateOut(serializers.Serializer):
    rate_type = serializers.ChoiceField(FLAT_OR_TIERED)
    price = NumberField(required=False)
    tiers = TierOut(many=True, required=False)


class RateOut(serializers.Serializer):
    rate_type = serializers.ChoiceField(RATE_TYPES)
    credit_type = CreditTypeOut()
    price = NumberField(required=False)
    tiers = TierOut(many=True, required=False)
    pricing_group_values = StringMapField(required=False)
    quantity = NumberField(required=False)
    is_prorated = serializers.BooleanField(required=False)
    commit_rate = CommitRateOut(required=False)
    composite_minimum = NumberField(required=False)
    composite_scope = serializers.ChoiceField(COMPOSITE_SCOPES, required=False)


class RateEntryOut(serializers.Serializer):
    product_id = serializers.UUIDField()
    product_name = serializers.CharField()
    product_tags = serializers.ListField(child=serializers.CharField())
    product_custom_fields = StringMapField()
    entitled = serializers.BooleanField()
    rate = RateOut()
    starting_at = TimestampField()
    ending_before = TimestampField(required=False)
    pricing_group_values = StringMapField(required=False)
    commit_rate = CommitRateOut(required=False)
    billing_frequency = serializers.ChoiceField(FREQUENCIES, required=False)


# --- Packages ----------------------------------------------------------------------------------------------


class OffsetIn(serializers.Serializer):
    unit = EnumField(DURATION_UNITS)
    value = NumberField(integer=True, min_value=0)


class PackageAccessItemIn(serializers.Serializer):
    amount = NumberField(min_value=0)
    starting_at_offset = OffsetIn()
    duration = OffsetIn()


class PackageAccessScheduleIn(serializers.Serializer):
    schedule_items = PackageAccessItemIn(many=True, allow_empty=False)
    credit_type_id = UUIDStringField(required=False)
    # A QUANTITY balance's rules are checked by the check registered as "commit_or_credit".
    access_type = EnumField(ACCESS_TYPES, required=False)


class PackageInvoiceItemIn(serializers.Serializer):
    date_offset = OffsetIn()
    quantity = NumberField()
    unit_price = NumberField()


def one_package_schedule(attrs: dict) -> dict:
    """A package's schedule lists its items or gives a recurring_schedule (an extra field,
    beyond the SDK's package shape: a contract's recurring_schedule with offsets for dates,
    checked by the check registered as "recurring_schedule"), not both."""
    if bool(attrs.get("schedule_items")) == bool(attrs.get("recurring_schedule")):
        raise serializers.ValidationError(
            {"schedule_items": "Give the dates (schedule_items) or a recurring_schedule."}
        )
    return attrs


class PackageInvoiceScheduleIn(serializers.Serializer):
    schedule_items = PackageInvoiceItemIn(many=True, required=False)
    credit_type_id = UUIDStringField(required=False)
    do_not_invoice = StrictBooleanField(required=False)
    recurring_schedule = serializers.DictField(required=False)

    def validate(self, attrs):
        return one_package_schedule(attrs)


class PackageBalanceIn(serializers.Serializer):
    product_id = UUIDStringField()
    access_schedule = PackageAccessScheduleIn()
    applicable_product_ids = serializers.ListField(child=UUIDStringField(), required=False)
    applicable_product_tags = StringListField(required=False)
    description = StrictCharField(required=False, allow_blank=True)
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    priority = NumberField(required=False)
    rate_type = EnumField(COMMIT_OR_LIST_RATE, required=False)
    custom_fields = StringMapField(required=False)
    # Checked by the check registered as "specifiers" (catalog.api.package_terms).
    specifiers = serializers.ListField(child=serializers.DictField(), required=False)


class PackageCommitIn(PackageBalanceIn):
    type = EnumField(COMMIT_TYPES)
    invoice_schedule = PackageInvoiceScheduleIn(required=False)
    rollover_fraction = NumberField(required=False, min_value=0, max_value=1)


class OverwriteRateIn(serializers.Serializer):
    rate_type = EnumField(FLAT_OR_TIERED)
    price = NumberField(required=False, min_value=0)
    tiers = TierIn(many=True, required=False)
    credit_type_id = UUIDStringField(required=False)


class OverrideTierIn(serializers.Serializer):
    multiplier = NumberField(min_value=0)
    size = NumberField(required=False, allow_null=True)


SPECIFIER_TARGETS = (
    "product_id",
    "product_tags",
    "pricing_group_values",
    "presentation_group_values",
    "billing_frequency",
)


class OverrideSpecifierIn(serializers.Serializer):
    """One override specifier: every field given must match (product_tags: all of them)."""

    product_id = UUIDStringField(required=False)
    product_tags = StringListField(required=False)
    pricing_group_values = StringMapField(required=False)
    presentation_group_values = StringMapField(required=False)
    commit_ids = serializers.ListField(child=UUIDStringField(), required=False)
    any_commit_or_credit_ids = serializers.ListField(child=UUIDStringField(), required=False)
    recurring_commit_ids = serializers.ListField(child=UUIDStringField(), required=False)
    billing_frequency = EnumField(FREQUENCIES, required=False)

    def validate_recurring_commit_ids(self, value):
        if value:
            raise serializers.ValidationError(
                "Recurring commits are not supported; name the commits in commit_ids."
            )
        return value

    def validate(self, attrs):
        if not any(attrs.get(name) for name in SPECIFIER_TARGETS):
            raise serializers.ValidationError(
                f"Name what the override applies to: {', '.join(SPECIFIER_TARGETS)}."
            )
        if attrs.get("any_commit_or_credit_ids") and attrs.get("commit_ids"):
            raise serializers.ValidationError(
                {"any_commit_or_credit_ids": "Give either commit_ids or any_commit_or_credit_ids."}
            )
        return attrs


class OverrideTermsIn(serializers.Serializer):
    """Override fields shared by contracts, edits and packages (dates differ)."""

    type = EnumField(OVERRIDE_TYPES, required=False)
    override_specifiers = OverrideSpecifierIn(many=True, required=False)
    entitled = StrictBooleanField(required=False)
    is_commit_specific = StrictBooleanField(required=False)
    multiplier = NumberField(required=False, min_value=0)
    overwrite_rate = OverwriteRateIn(required=False)
    priority = NumberField(required=False)
    target = EnumField(COMMIT_OR_LIST_RATE, required=False)
    tiers = OverrideTierIn(many=True, required=False)

    def validate_override_specifiers(self, value):
        if len(value) > 1:
            raise serializers.ValidationError("Give at most one override specifier per override.")
        return value


class PackageOverrideIn(OverrideTermsIn):
    starting_at_offset = OffsetIn()
    duration = OffsetIn(required=False)


class PackageScheduleIn(serializers.Serializer):
    schedule_items = PackageInvoiceItemIn(many=True, required=False)
    credit_type_id = UUIDStringField(required=False)
    recurring_schedule = serializers.DictField(required=False)

    def validate(self, attrs):
        return one_package_schedule(attrs)


class PackageScheduledChargeIn(serializers.Serializer):
    product_id = UUIDStringField()
    schedule = PackageScheduleIn()
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    custom_fields = StringMapField(required=False)


class ProrationIn(serializers.Serializer):
    is_prorated = StrictBooleanField(required=False, default=True)
    invoice_behavior = EnumField(
        ["BILL_IMMEDIATELY", "BILL_ON_NEXT_COLLECTION_DATE"], required=False
    )


class SubscriptionRateIn(serializers.Serializer):
    product_id = UUIDStringField()
    billing_frequency = EnumField(FREQUENCIES)


class SubscriptionTermsIn(serializers.Serializer):
    collection_schedule = EnumField(["ADVANCE", "ARREARS"])
    proration = ProrationIn()
    subscription_rate = SubscriptionRateIn()
    initial_quantity = NumberField(required=False, min_value=0)
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    description = StrictCharField(required=False, allow_blank=True)
    quantity_management_mode = EnumField(["QUANTITY_ONLY"], required=False)
    custom_fields = StringMapField(required=False)


class PackageSeatConfigIn(serializers.Serializer):
    """A package's seats: which event property names the seat, and how many seats the contract
    starts with (its seat ids are added to the contract made from it)."""

    seat_group_key = StrictCharField(max_length=200)
    initial_unassigned_seats = NumberField(required=False, min_value=0, integer=True)


class PackageSubscriptionIn(SubscriptionTermsIn):
    starting_at_offset = OffsetIn(required=False)
    duration = OffsetIn(required=False)
    # Named by a recurring commit's or credit's subscription_config.subscription_id.
    temporary_id = StrictCharField(required=False, max_length=200)
    quantity_management_mode = EnumField(["QUANTITY_ONLY", "SEAT_BASED"], required=False)
    seat_config = PackageSeatConfigIn(required=False)

    def validate(self, attrs):
        if attrs.get("quantity_management_mode") == "SEAT_BASED":
            if "seat_config" not in attrs:
                raise serializers.ValidationError(
                    {"seat_config": "A SEAT_BASED subscription needs its seat_config."}
                )
            if "initial_quantity" in attrs:
                raise serializers.ValidationError(
                    {
                        "initial_quantity": "A SEAT_BASED subscription's quantity is its seats: "
                        "give seat_config.initial_unassigned_seats."
                    }
                )
        elif "seat_config" in attrs:
            raise serializers.ValidationError(
                {"seat_config": "Only a SEAT_BASED subscription has seats."}
            )
        return attrs


class PackageUsageStatementScheduleIn(serializers.Serializer):
    frequency = EnumField(FREQUENCIES)
    # CUSTOM_DATE: each contract made from it gives its billing_anchor_date (else its start).
    day = EnumField(STATEMENT_DAYS_IN, required=False)


UNSUPPORTED_TERMS = (
    "recurring_commits",
    "recurring_credits",
    "prepaid_balance_threshold_configuration",
    "spend_threshold_configuration",
    "spend_trackers",
    "discounts",
    "professional_services",
    "reseller_royalties",
    "hierarchy_configuration",
)


# Contract terms a package takes as JSON, each checked and shown by what the app that owns the term
# registered (catalog.api.package_terms); "specifiers" is checked on each commit and credit.
REGISTERED_PACKAGE_TERMS = (
    "recurring_commits",
    "recurring_credits",
    "prepaid_balance_threshold_configuration",
    "spend_threshold_configuration",
    "spend_trackers",
    # Not in the SDK's package shape (send them as extra fields): a contract's discounts,
    # professional services and reseller royalties, with offsets for dates.
    "discounts",
    "professional_services",
    "reseller_royalties",
)


class PackageCreateIn(serializers.Serializer):
    name = StrictCharField(max_length=200)
    aliases = AliasIn(many=True, required=False)
    rate_card_id = UUIDStringField(required=False)
    rate_card_alias = StrictCharField(required=False)
    contract_name = StrictCharField(required=False, allow_blank=True, max_length=200)
    duration = OffsetIn(required=False)
    multiplier_override_prioritization = EnumField(
        ["LOWEST_MULTIPLIER", "EXPLICIT"], required=False
    )
    net_payment_terms_days = NumberField(required=False, integer=True, min_value=0)
    usage_statement_schedule = PackageUsageStatementScheduleIn(required=False)
    commits = PackageCommitIn(many=True, required=False)
    credits = PackageBalanceIn(many=True, required=False)
    overrides = PackageOverrideIn(many=True, required=False)
    scheduled_charges = PackageScheduledChargeIn(many=True, required=False)
    subscriptions = PackageSubscriptionIn(many=True, required=False)
    recurring_commits = serializers.ListField(child=serializers.DictField(), required=False)
    recurring_credits = serializers.ListField(child=serializers.DictField(), required=False)
    prepaid_balance_threshold_configuration = serializers.DictField(required=False)
    spend_threshold_configuration = serializers.DictField(required=False)
    discounts = serializers.ListField(child=serializers.DictField(), required=False)
    professional_services = serializers.ListField(child=serializers.DictField(), required=False)
    reseller_royalties = serializers.ListField(child=serializers.DictField(), required=False)
    spend_trackers = serializers.ListField(child=serializers.DictField(), required=False)
    scheduled_charges_on_usage_invoices = EnumField(["ALL"], required=False)
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)
    billing_provider = StrictCharField(required=False)
    delivery_method = StrictCharField(required=False)

    def validate(self, attrs):
        if bool(attrs.get("rate_card_id")) == bool(attrs.get("rate_card_alias")):
            raise serializers.ValidationError(
                {"rate_card_id": "Give either rate_card_id or rate_card_alias."}
            )
        unsupported = [
            k
            for k in UNSUPPORTED_TERMS
            if k in self.initial_data
            and not (k in REGISTERED_PACKAGE_TERMS and k in package_terms.registered())
        ]
        if unsupported:
            raise serializers.ValidationError({unsupported[0]: "Not supported yet."})
        return attrs


class PackageIdIn(serializers.Serializer):
    package_id = UUIDStringField()


class NamedIdOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class OffsetOut(serializers.Serializer):
    unit = serializers.ChoiceField(DURATION_UNITS)
    value = serializers.IntegerField()


class PackageAccessItemOut(serializers.Serializer):
    id = serializers.UUIDField()
    amount = NumberField()
    starting_at_offset = OffsetOut()
    duration = OffsetOut()


class PackageAccessScheduleOut(serializers.Serializer):
    credit_type = CreditTypeOut()
    schedule_items = PackageAccessItemOut(many=True)


class PackageInvoiceItemOut(serializers.Serializer):
    id = serializers.UUIDField()
    date_offset = OffsetOut()
    quantity = NumberField()
    unit_price = NumberField()


class PackageInvoiceScheduleOut(serializers.Serializer):
    credit_type = CreditTypeOut()
    do_not_invoice = serializers.BooleanField()
    schedule_items = PackageInvoiceItemOut(many=True)


class PackageBalanceOut(serializers.Serializer):
    id = serializers.UUIDField()
    product = NamedIdOut()
    access_schedule = PackageAccessScheduleOut()
    applicable_product_ids = serializers.ListField(child=serializers.UUIDField(), required=False)
    applicable_product_tags = serializers.ListField(child=serializers.CharField(), required=False)
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    priority = NumberField(required=False)
    rate_type = serializers.ChoiceField(COMMIT_OR_LIST_RATE, required=False)
    specifiers = serializers.ListField(child=serializers.DictField(), required=False)


class PackageCommitOut(PackageBalanceOut):
    type = serializers.ChoiceField(COMMIT_TYPES)
    invoice_schedule = PackageInvoiceScheduleOut(required=False)
    rollover_fraction = NumberField(required=False)


class OverwriteRateOut(serializers.Serializer):
    rate_type = serializers.ChoiceField(FLAT_OR_TIERED)
    credit_type = CreditTypeOut(required=False)
    price = NumberField(required=False)
    tiers = TierOut(many=True, required=False)


class OverrideTierOut(serializers.Serializer):
    multiplier = NumberField()
    size = NumberField(required=False)


class PackageOverrideSpecifierOut(serializers.Serializer):
    product_id = serializers.UUIDField(required=False)
    product_tags = serializers.ListField(child=serializers.CharField(), required=False)
    pricing_group_values = StringMapField(required=False)
    presentation_group_values = StringMapField(required=False)
    billing_frequency = serializers.ChoiceField(FREQUENCIES, required=False)


class PackageOverrideOut(serializers.Serializer):
    id = serializers.UUIDField()
    override_specifiers = PackageOverrideSpecifierOut(many=True)
    starting_at_offset = OffsetOut()
    duration = OffsetOut(required=False)
    type = serializers.ChoiceField(OVERRIDE_TYPES, required=False)
    entitled = serializers.BooleanField(required=False)
    is_commit_specific = serializers.BooleanField(required=False)
    multiplier = NumberField(required=False)
    overwrite_rate = OverwriteRateOut(required=False)
    override_tiers = OverrideTierOut(many=True, required=False)
    priority = NumberField(required=False)
    target = serializers.ChoiceField(COMMIT_OR_LIST_RATE, required=False)


class PackageScheduleOut(serializers.Serializer):
    credit_type = CreditTypeOut()
    schedule_items = PackageInvoiceItemOut(many=True)


class PackageScheduledChargeOut(serializers.Serializer):
    id = serializers.UUIDField()
    product = NamedIdOut()
    schedule = PackageScheduleOut()
    name = serializers.CharField(required=False)


class ProrationOut(serializers.Serializer):
    is_prorated = serializers.BooleanField()
    invoice_behavior = serializers.ChoiceField(["BILL_IMMEDIATELY", "BILL_ON_NEXT_COLLECTION_DATE"])


class SubscriptionRateOut(serializers.Serializer):
    billing_frequency = serializers.ChoiceField(FREQUENCIES)
    product = NamedIdOut()


class PackageSubscriptionRateOut(serializers.Serializer):
    billing_frequency = serializers.ChoiceField(FREQUENCIES)
    product = NamedIdOut()


class PackageSeatConfigOut(serializers.Serializer):
    seat_group_key = serializers.CharField()
    initial_unassigned_seats = NumberField(required=False)


class PackageSubscriptionOut(serializers.Serializer):
    id = serializers.UUIDField()
    quantity_management_mode = serializers.ChoiceField(["QUANTITY_ONLY", "SEAT_BASED"])
    seat_config = PackageSeatConfigOut(required=False)
    collection_schedule = serializers.ChoiceField(["ADVANCE", "ARREARS"])
    proration = ProrationOut()
    subscription_rate = PackageSubscriptionRateOut()
    initial_quantity = NumberField(required=False)
    name = serializers.CharField(required=False)
    starting_at_offset = OffsetOut(required=False)
    duration = OffsetOut(required=False)


class UsageStatementScheduleOffsetOut(serializers.Serializer):
    frequency = serializers.ChoiceField(FREQUENCIES)
    day = serializers.ChoiceField(STATEMENT_DAYS_IN)


class PackageOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    created_at = TimestampField()
    created_by = serializers.CharField()
    archived_at = TimestampField(allow_null=True)
    rate_card_id = serializers.UUIDField()
    aliases = AliasOut(many=True)
    contract_name = serializers.CharField(required=False)
    duration = OffsetOut(required=False)
    multiplier_override_prioritization = serializers.ChoiceField(["LOWEST_MULTIPLIER", "EXPLICIT"])
    net_payment_terms_days = NumberField()
    usage_statement_schedule = UsageStatementScheduleOffsetOut()
    commits = PackageCommitOut(many=True)
    credits = PackageBalanceOut(many=True)
    overrides = PackageOverrideOut(many=True)
    scheduled_charges = PackageScheduledChargeOut(many=True)
    subscriptions = PackageSubscriptionOut(many=True)
    recurring_commits = serializers.ListField(child=serializers.DictField(), required=False)
    recurring_credits = serializers.ListField(child=serializers.DictField(), required=False)
    prepaid_balance_threshold_configuration = serializers.DictField(required=False)
    spend_threshold_configuration = serializers.DictField(required=False)
    discounts = serializers.ListField(child=serializers.DictField(), required=False)
    professional_services = serializers.ListField(child=serializers.DictField(), required=False)
    reseller_royalties = serializers.ListField(child=serializers.DictField(), required=False)
    scheduled_charges_on_usage_invoices = serializers.ChoiceField(["ALL"], required=False)
    uniqueness_key = serializers.CharField(required=False)
