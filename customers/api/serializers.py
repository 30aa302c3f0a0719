"""Request serializers and schema serializers for customers and contracts (reference 3.3, 3.6)."""

from rest_framework import serializers

from catalog.api.fields import NumberField
from catalog.api.serializers import (
    COMMIT_OR_LIST_RATE,
    COMMIT_TYPES,
    FREQUENCIES,
    OVERRIDE_TYPES,
    STATEMENT_DAYS_IN,
    UNSUPPORTED_TERMS,
    CreditTypeOut,
    NamedIdOut,
    OverrideTermsIn,
    OverrideTierOut,
    OverwriteRateOut,
    ProrationOut,
    SubscriptionRateOut,
    SubscriptionTermsIn,
)
from core.api import (
    EnumField,
    LowercaseEnumField,
    StrictBooleanField,
    StrictCharField,
    StringListField,
    StringMapField,
    TimestampField,
    UUIDStringField,
)

from . import configurations as configurations_api
from . import hierarchy, more_terms
from . import specifiers as commit_specifiers
from . import spend_trackers as spend_trackers_api

# --- Customers -------------------------------------------------------------------------------------------


class CustomerCreateIn(serializers.Serializer):
    name = StrictCharField()
    ingest_aliases = StringListField(required=False)
    external_id = StrictCharField(required=False, max_length=200)
    custom_fields = StringMapField(required=False)
    billing_config = serializers.DictField(required=False)
    customer_billing_provider_configurations = serializers.ListField(required=False)
    customer_revenue_system_configurations = (
        configurations_api.CustomerRevenueSystemConfigurationIn(many=True, required=False)
    )


class CustomerSetIngestAliasesIn(serializers.Serializer):
    ingest_aliases = StringListField()


class CustomerSetNameIn(serializers.Serializer):
    name = StrictCharField()


class CustomerOut(serializers.Serializer):
    id = serializers.UUIDField()
    external_id = serializers.CharField()
    ingest_aliases = serializers.ListField(child=serializers.CharField())
    name = serializers.CharField()
    custom_fields = StringMapField()


class CustomerConfigOut(serializers.Serializer):
    salesforce_account_id = serializers.CharField(allow_null=True)


class CustomerDetailOut(CustomerOut):
    customer_config = CustomerConfigOut()
    created_at = TimestampField()
    updated_at = TimestampField()
    archived_at = TimestampField(allow_null=True)


# --- Contract terms -----------------------------------------------------------------------------------


class SegmentIn(serializers.Serializer):
    amount = NumberField(min_value=0)
    starting_at = TimestampField()
    ending_before = TimestampField()


# SPEND: usage draws its cost; QUANTITY: the units used (`Commit.AccessType`).
ACCESS_TYPES = ["SPEND", "QUANTITY"]


class AccessScheduleIn(serializers.Serializer):
    schedule_items = SegmentIn(many=True, allow_empty=False)
    credit_type_id = UUIDStringField(required=False)
    access_type = EnumField(ACCESS_TYPES, required=False)


class InvoiceItemIn(serializers.Serializer):
    timestamp = TimestampField()
    amount = NumberField(required=False, min_value=0)
    unit_price = NumberField(required=False)
    quantity = NumberField(required=False)

    def validate(self, attrs):
        if "amount" not in attrs and not ("unit_price" in attrs and "quantity" in attrs):
            raise serializers.ValidationError("Give an amount, or a unit price and a quantity.")
        return attrs


PRICE = {"unit_price", "quantity"}


class RecurringScheduleIn(serializers.Serializer):
    """Metronome's recurring_schedule: an item every `frequency` from `starting_at` until
    `ending_before`, the amount given to EACH or DIVIDED (DIVIDED_ROUNDED: to the smallest
    amount, the last item taking the remainder) among them."""

    amount_distribution = EnumField(["DIVIDED", "DIVIDED_ROUNDED", "EACH"])
    starting_at = TimestampField()
    ending_before = TimestampField()
    frequency = EnumField(["MONTHLY", "QUARTERLY", "SEMI_ANNUAL", "ANNUAL"])
    amount = NumberField(required=False, min_value=0)
    unit_price = NumberField(required=False)
    quantity = NumberField(required=False)

    def validate(self, attrs):
        priced = "unit_price" in attrs or "quantity" in attrs
        if ("amount" in attrs) == priced or (priced and len(attrs.keys() & PRICE) != 2):
            raise serializers.ValidationError(
                {"amount": "Give an amount, or a unit price and a quantity."}
            )
        if attrs["ending_before"] <= attrs["starting_at"]:
            raise serializers.ValidationError({"ending_before": "Must be after starting_at."})
        return attrs


def one_schedule(attrs, *, listed: str = "schedule_items"):
    """A schedule lists its items or gives a recurring_schedule, not both."""
    if attrs.get(listed) and attrs.get("recurring_schedule"):
        raise serializers.ValidationError(
            {"recurring_schedule": f"Give {listed} or recurring_schedule, not both."}
        )
    return attrs


class InvoiceScheduleIn(serializers.Serializer):
    schedule_items = InvoiceItemIn(many=True, required=False)
    credit_type_id = UUIDStringField(required=False)
    do_not_invoice = StrictBooleanField(required=False)
    recurring_schedule = RecurringScheduleIn(required=False)

    def validate(self, attrs):
        return one_schedule(attrs)


class BalanceTermIn(serializers.Serializer):
    product_id = UUIDStringField()
    access_schedule = AccessScheduleIn()
    applicable_product_ids = serializers.ListField(child=UUIDStringField(), required=False)
    applicable_product_tags = StringListField(required=False)
    custom_fields = StringMapField(required=False)
    description = StrictCharField(required=False, allow_blank=True)
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    priority = NumberField(required=False)
    rate_type = EnumField(COMMIT_OR_LIST_RATE, required=False)
    rollover_fraction = NumberField(required=False, min_value=0, max_value=1)
    specifiers = commit_specifiers.specifiers_field()
    temporary_id = StrictCharField(required=False)
    hierarchy_configuration = hierarchy.CommitHierarchyIn(required=False)


class CommitIn(BalanceTermIn):
    type = EnumField(COMMIT_TYPES)
    invoice_schedule = InvoiceScheduleIn(required=False)
    amount = NumberField(required=False)
    spend_tracker_attributes = spend_trackers_api.SpendTrackerAttributesIn(required=False)

    def validate_amount(self, value):
        raise serializers.ValidationError("Give the amount in access_schedule.schedule_items.")


class CreditIn(BalanceTermIn):
    pass


class EditCommitIn(CommitIn):
    """A v2 edit's add_commits[]: the commit may be payment gated (held until paid)."""

    payment_gate_config = more_terms.PaymentGateIn(required=False)


class OverrideIn(OverrideTermsIn):
    starting_at = TimestampField()
    ending_before = TimestampField(required=False, allow_null=True)
    product_id = UUIDStringField(required=False)
    applicable_product_tags = StringListField(required=False)

    def validate(self, attrs):
        if attrs.get("override_specifiers") and (
            attrs.get("product_id") or attrs.get("applicable_product_tags")
        ):
            raise serializers.ValidationError(
                {
                    "override_specifiers": (
                        "Cannot be used with product_id or applicable_product_tags; put the "
                        "product and tags in the specifier."
                    )
                }
            )
        return attrs


class ScheduleIn(serializers.Serializer):
    schedule_items = InvoiceItemIn(many=True, required=False)
    credit_type_id = UUIDStringField(required=False)
    do_not_invoice = StrictBooleanField(required=False)
    recurring_schedule = RecurringScheduleIn(required=False)

    def validate(self, attrs):
        if not attrs.get("schedule_items") and not attrs.get("recurring_schedule"):
            raise serializers.ValidationError(
                {"schedule_items": "Give at least one date, or a recurring_schedule."}
            )
        return one_schedule(attrs)


class ScheduledChargeIn(serializers.Serializer):
    product_id = UUIDStringField()
    schedule = ScheduleIn()
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    custom_fields = StringMapField(required=False)


class SubscriptionIn(SubscriptionTermsIn):
    starting_at = TimestampField(required=False)
    ending_before = TimestampField(required=False, allow_null=True)
    temporary_id = StrictCharField(required=False)
    quantity_management_mode = EnumField(["QUANTITY_ONLY", "SEAT_BASED"], required=False)
    seat_config = more_terms.SeatConfigIn(required=False)

    def validate(self, attrs):
        seat_based = attrs.get("quantity_management_mode") == "SEAT_BASED"
        if seat_based and "seat_config" not in attrs:
            raise serializers.ValidationError(
                {"seat_config": "A SEAT_BASED subscription needs its seat_config."}
            )
        if not seat_based and "seat_config" in attrs:
            raise serializers.ValidationError(
                {"seat_config": "Only a SEAT_BASED subscription has seats."}
            )
        return attrs


class DiscountIn(serializers.Serializer):
    product_id = UUIDStringField()
    schedule = ScheduleIn()
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    custom_fields = StringMapField(required=False)
    netsuite_sales_order_id = StrictCharField(required=False, allow_blank=True)


class UsageStatementScheduleIn(serializers.Serializer):
    frequency = EnumField(FREQUENCIES)
    day = EnumField(STATEMENT_DAYS_IN, required=False)
    billing_anchor_date = TimestampField(required=False)
    invoice_generation_starting_at = TimestampField(required=False)

    def validate(self, attrs):
        if attrs.get("day") == "CUSTOM_DATE" and "billing_anchor_date" not in attrs:
            raise serializers.ValidationError(
                {"billing_anchor_date": "Required with the day CUSTOM_DATE."}
            )
        return attrs


# --- Contracts -----------------------------------------------------------------------------------------

# Issue 14's terms, which catalog's UNSUPPORTED_TERMS lists: contracts take them (packages too,
# through catalog.api.package_terms; a contract made from a package gets the package's).
CONTRACT_TERMS_OF_ISSUE_14 = {
    "recurring_commits",
    "recurring_credits",
    "prepaid_balance_threshold_configuration",
    "spend_threshold_configuration",
    "discounts",
    "professional_services",
    "reseller_royalties",
    "spend_trackers",
    "hierarchy_configuration",
}
PACKAGE_ALLOWED = {
    "customer_id",
    "starting_at",
    "uniqueness_key",
    "custom_fields",
    "package_id",
    "package_alias",
    "transition",
    "billing_provider_configuration",
    "revenue_system_configuration",
    # Only its billing_anchor_date, for a package whose usage statement day is CUSTOM_DATE.
    "usage_statement_schedule",
    # Where the contract sits in an account hierarchy (a package has no parent of its own).
    "hierarchy_configuration",
}
CONTRACT_UNSUPPORTED = tuple(t for t in UNSUPPORTED_TERMS if t not in CONTRACT_TERMS_OF_ISSUE_14)

BILLING_PROVIDERS = [
    "aws_marketplace",
    "stripe",
    "netsuite",
    "custom",
    "azure_marketplace",
    "quickbooks_online",
    "workday",
    "gcp_marketplace",
    "metronome",
]
DELIVERY_METHODS = ["direct_to_billing_provider", "aws_sqs", "tackle", "aws_sns"]


class BillingProviderConfigurationIn(serializers.Serializer):
    """A contract's billing provider: a configuration id, or a provider and delivery method that
    name exactly one of the customer's active configurations."""

    billing_provider = LowercaseEnumField(
        ["aws_marketplace", "azure_marketplace", "gcp_marketplace", "stripe", "netsuite"],
        required=False,
    )
    billing_provider_configuration_id = UUIDStringField(required=False)
    delivery_method = LowercaseEnumField(DELIVERY_METHODS, required=False)

    def validate(self, attrs):
        by_id = "billing_provider_configuration_id" in attrs
        by_provider = "billing_provider" in attrs or "delivery_method" in attrs
        if by_id == by_provider:
            raise serializers.ValidationError(
                "Give billing_provider_configuration_id, or billing_provider and delivery_method."
            )
        return attrs


class FutureInvoiceBehaviorIn(serializers.Serializer):
    trueup = EnumField(["REMOVE", "AS_IS"], required=False, allow_null=True)


class UsageFilterCreateIn(serializers.Serializer):
    group_key = StrictCharField(max_length=200)
    group_values = StringListField()
    starting_at = TimestampField(required=False)


class TransitionIn(serializers.Serializer):
    from_contract_id = UUIDStringField()
    type = EnumField(["RENEWAL", "SUPERSEDE"])
    future_invoice_behavior = FutureInvoiceBehaviorIn(required=False)


class ContractCreateIn(serializers.Serializer):
    customer_id = UUIDStringField()
    starting_at = TimestampField()
    ending_before = TimestampField(required=False, allow_null=True)
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    rate_card_id = UUIDStringField(required=False)
    rate_card_alias = StrictCharField(required=False)
    package_id = UUIDStringField(required=False)
    package_alias = StrictCharField(required=False)
    usage_statement_schedule = UsageStatementScheduleIn(required=False)
    net_payment_terms_days = NumberField(required=False, integer=True, min_value=0)
    multiplier_override_prioritization = EnumField(
        ["LOWEST_MULTIPLIER", "EXPLICIT"], required=False
    )
    scheduled_charges_on_usage_invoices = EnumField(["ALL"], required=False)
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)
    custom_fields = StringMapField(required=False)
    commits = CommitIn(many=True, required=False)
    credits = CreditIn(many=True, required=False)
    overrides = OverrideIn(many=True, required=False)
    scheduled_charges = ScheduledChargeIn(many=True, required=False)
    subscriptions = SubscriptionIn(many=True, required=False)
    salesforce_opportunity_id = StrictCharField(required=False)
    netsuite_sales_order_id = StrictCharField(required=False)
    total_contract_value = NumberField(required=False)
    transition = TransitionIn(required=False)
    usage_filter = UsageFilterCreateIn(required=False)
    discounts = DiscountIn(many=True, required=False)
    professional_services = more_terms.ProfessionalServiceIn(many=True, required=False)
    recurring_commits = more_terms.RecurringCommitIn(many=True, required=False)
    recurring_credits = more_terms.RecurringCreditIn(many=True, required=False)
    prepaid_balance_threshold_configuration = more_terms.PrepaidThresholdIn(required=False)
    spend_threshold_configuration = more_terms.SpendThresholdIn(required=False)
    billing_provider_configuration = BillingProviderConfigurationIn(required=False)
    reseller_royalties = more_terms.ResellerRoyaltyIn(many=True, required=False)
    spend_trackers = spend_trackers_api.SpendTrackerIn(many=True, required=False)
    revenue_system_configuration = configurations_api.RevenueSystemConfigurationIn(required=False)
    hierarchy_configuration = hierarchy.HierarchyConfigurationIn(required=False)

    def validate(self, attrs):
        raw = self.initial_data
        if "package_id" in raw or "package_alias" in raw:
            extra = sorted(set(raw) - PACKAGE_ALLOWED)
            if extra:
                raise serializers.ValidationError(
                    {
                        extra[0]: "Not allowed with package_id: the package sets it "
                        "(only customer_id, starting_at, uniqueness_key, custom_fields, "
                        "transition, billing_provider_configuration, "
                        "revenue_system_configuration, hierarchy_configuration and, for a "
                        "CUSTOM_DATE package, usage_statement_schedule.billing_anchor_date)."
                    }
                )
            return attrs
        unsupported = [k for k in CONTRACT_UNSUPPORTED if k in raw]
        if unsupported:
            raise serializers.ValidationError({unsupported[0]: "Not supported yet."})
        if bool(attrs.get("rate_card_id")) == bool(attrs.get("rate_card_alias")):
            raise serializers.ValidationError(
                {"rate_card_id": "Give either rate_card_id or rate_card_alias."}
            )
        return attrs


class ContractRefIn(serializers.Serializer):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()


class ContractRetrieveIn(ContractRefIn):
    include_balance = StrictBooleanField(required=False)
    include_ledgers = StrictBooleanField(required=False)


class ContractRetrieveV2In(ContractRetrieveIn):
    as_of_date = TimestampField(required=False)


class ContractListIn(serializers.Serializer):
    customer_id = UUIDStringField()
    covering_date = TimestampField(required=False)
    starting_at = TimestampField(required=False)
    include_archived = StrictBooleanField(required=False, default=False)
    include_balance = StrictBooleanField(required=False)
    include_ledgers = StrictBooleanField(required=False)
    limit = NumberField(required=False, integer=True, min_value=1, max_value=20)
    cursor = StrictCharField(required=False)

    def validate(self, attrs):
        if attrs.get("covering_date") and attrs.get("starting_at"):
            raise serializers.ValidationError(
                {"covering_date": "Give covering_date or starting_at, not both."}
            )
        return attrs


class ContractArchiveIn(ContractRefIn):
    void_invoices = StrictBooleanField()


class ContractUpdateEndDateIn(ContractRefIn):
    ending_before = TimestampField(required=False, allow_null=True)
    allow_ending_before_finalized_invoice = StrictBooleanField(required=False)


class IdRefIn(serializers.Serializer):
    id = UUIDStringField()


# update_recurring_commits|credits, update_discounts and update_refund_invoices: term_edits.py.


class SegmentUpdateIn(serializers.Serializer):
    id = UUIDStringField()
    amount = NumberField(required=False, min_value=0)
    starting_at = TimestampField(required=False)
    ending_before = TimestampField(required=False)


class AccessScheduleEditIn(serializers.Serializer):
    add_schedule_items = SegmentIn(many=True, required=False)
    remove_schedule_items = IdRefIn(many=True, required=False)
    update_schedule_items = SegmentUpdateIn(many=True, required=False)


class InvoiceItemUpdateIn(serializers.Serializer):
    id = UUIDStringField()
    timestamp = TimestampField(required=False)
    amount = NumberField(required=False, min_value=0, allow_null=True)
    unit_price = NumberField(required=False, allow_null=True)
    quantity = NumberField(required=False, allow_null=True)


class InvoiceScheduleEditIn(serializers.Serializer):
    add_schedule_items = InvoiceItemIn(many=True, required=False)
    remove_schedule_items = IdRefIn(many=True, required=False)
    update_schedule_items = InvoiceItemUpdateIn(many=True, required=False)


class BalanceUpdateIn(serializers.Serializer):
    access_schedule = AccessScheduleEditIn(required=False)
    applicable_product_ids = serializers.ListField(
        child=UUIDStringField(), required=False, allow_null=True
    )
    applicable_product_tags = StringListField(required=False, allow_null=True)
    description = StrictCharField(required=False, allow_blank=True)
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    priority = NumberField(required=False, allow_null=True)
    product_id = UUIDStringField(required=False)
    rate_type = EnumField(COMMIT_OR_LIST_RATE, required=False)
    rollover_fraction = NumberField(required=False, allow_null=True, min_value=0, max_value=1)
    hierarchy_configuration = hierarchy.CommitHierarchyIn(required=False)


class CommitUpdateIn(BalanceUpdateIn):
    commit_id = UUIDStringField()
    invoice_schedule = InvoiceScheduleEditIn(required=False)


class CreditUpdateIn(BalanceUpdateIn):
    credit_id = UUIDStringField()


class ScheduledChargeUpdateIn(serializers.Serializer):
    scheduled_charge_id = UUIDStringField()
    invoice_schedule = InvoiceScheduleEditIn()


class ContractEditIn(ContractRefIn):
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)
    update_contract_name = StrictCharField(required=False, allow_null=True, allow_blank=True)
    update_contract_end_date = TimestampField(required=False, allow_null=True)
    update_net_payment_terms_days = NumberField(
        required=False, allow_null=True, integer=True, min_value=0
    )
    allow_contract_ending_before_finalized_invoice = StrictBooleanField(required=False)
    add_commits = EditCommitIn(many=True, required=False)
    add_credits = CreditIn(many=True, required=False)
    add_overrides = OverrideIn(many=True, required=False)
    add_scheduled_charges = ScheduledChargeIn(many=True, required=False)
    add_subscriptions = SubscriptionIn(many=True, required=False)
    archive_commits = IdRefIn(many=True, required=False)
    archive_credits = IdRefIn(many=True, required=False)
    archive_scheduled_charges = IdRefIn(many=True, required=False)
    remove_overrides = IdRefIn(many=True, required=False)
    update_commits = CommitUpdateIn(many=True, required=False)
    update_credits = CreditUpdateIn(many=True, required=False)
    update_scheduled_charges = ScheduledChargeUpdateIn(many=True, required=False)
    add_discounts = DiscountIn(many=True, required=False)
    add_professional_services = more_terms.ProfessionalServiceIn(many=True, required=False)
    add_recurring_commits = more_terms.RecurringCommitIn(many=True, required=False)
    add_recurring_credits = more_terms.RecurringCreditIn(many=True, required=False)
    update_subscriptions = more_terms.SubscriptionUpdateIn(many=True, required=False)
    add_prepaid_balance_threshold_configuration = more_terms.PrepaidThresholdIn(required=False)
    add_spend_threshold_configuration = more_terms.SpendThresholdIn(required=False)
    update_prepaid_balance_threshold_configuration = serializers.DictField(required=False)
    update_spend_threshold_configuration = serializers.DictField(required=False)
    add_reseller_royalties = more_terms.ResellerRoyaltyIn(many=True, required=False)
    add_spend_trackers = spend_trackers_api.SpendTrackerIn(many=True, required=False)
    archive_spend_trackers = StringListField(required=False)
    add_billing_provider_configuration_update = (
        configurations_api.BillingProviderConfigurationUpdateIn(required=False)
    )
    add_revenue_system_configuration_update = configurations_api.RevenueSystemConfigurationUpdateIn(
        required=False
    )


class PackageContractsIn(serializers.Serializer):
    package_id = UUIDStringField()
    covering_date = TimestampField(required=False)
    starting_at = TimestampField(required=False)
    include_archived = StrictBooleanField(required=False, default=False)


# --- Contract answers (schema) ------------------------------------------------------------------------


class ContractIdOut(serializers.Serializer):
    id = serializers.UUIDField()


class SegmentOut(serializers.Serializer):
    id = serializers.UUIDField()
    amount = NumberField()
    starting_at = TimestampField()
    ending_before = TimestampField()


class AccessScheduleOut(serializers.Serializer):
    access_type = serializers.ChoiceField(ACCESS_TYPES)
    credit_type = CreditTypeOut()
    schedule_items = SegmentOut(many=True)


class InvoiceItemOut(serializers.Serializer):
    id = serializers.UUIDField()
    timestamp = TimestampField()
    amount = NumberField()
    unit_price = NumberField()
    quantity = NumberField()


class InvoiceScheduleOut(serializers.Serializer):
    credit_type = CreditTypeOut()
    do_not_invoice = serializers.BooleanField()
    schedule_items = InvoiceItemOut(many=True)


class LedgerEntryOut(serializers.Serializer):
    type = serializers.CharField()
    amount = NumberField()
    timestamp = TimestampField()
    segment_id = serializers.UUIDField(required=False)
    invoice_id = serializers.UUIDField(required=False)
    contract_id = serializers.UUIDField(required=False)
    reason = serializers.CharField(required=False)


class BalanceOut(serializers.Serializer):
    id = serializers.UUIDField()
    product = NamedIdOut()
    created_at = TimestampField()
    access_schedule = AccessScheduleOut()
    applicable_product_ids = serializers.ListField(child=serializers.UUIDField())
    applicable_product_tags = serializers.ListField(child=serializers.CharField())
    contract = ContractIdOut()
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    priority = NumberField()
    rate_type = serializers.ChoiceField(COMMIT_OR_LIST_RATE)
    archived_at = TimestampField(allow_null=True)
    balance = NumberField(required=False)
    ledger = LedgerEntryOut(many=True, required=False)


class CommitOut(BalanceOut):
    type = serializers.ChoiceField(COMMIT_TYPES)
    invoice_schedule = InvoiceScheduleOut(required=False)
    rollover_fraction = NumberField(required=False)


class CreditOut(BalanceOut):
    type = serializers.ChoiceField(["CREDIT"])


class OverrideSpecifierOut(serializers.Serializer):
    product_id = serializers.UUIDField(required=False)
    product_tags = serializers.ListField(child=serializers.CharField(), required=False)
    pricing_group_values = StringMapField(required=False)
    presentation_group_values = StringMapField(required=False)
    commit_ids = serializers.ListField(child=serializers.UUIDField(), required=False)
    billing_frequency = serializers.ChoiceField(FREQUENCIES, required=False)


class OverrideOut(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = TimestampField()
    starting_at = TimestampField()
    ending_before = TimestampField(required=False)
    type = serializers.ChoiceField(OVERRIDE_TYPES)
    product = NamedIdOut(required=False)
    applicable_product_tags = serializers.ListField(child=serializers.CharField(), required=False)
    override_specifiers = OverrideSpecifierOut(many=True)
    multiplier = NumberField(required=False)
    overwrite_rate = OverwriteRateOut(required=False)
    override_tiers = OverrideTierOut(many=True, required=False)
    entitled = serializers.BooleanField(required=False)
    priority = NumberField(required=False)
    is_commit_specific = serializers.BooleanField()
    target = serializers.ChoiceField(COMMIT_OR_LIST_RATE, required=False)


class ScheduleOut(serializers.Serializer):
    credit_type = CreditTypeOut()
    schedule_items = InvoiceItemOut(many=True)


class ScheduledChargeOut(serializers.Serializer):
    id = serializers.UUIDField()
    product = NamedIdOut()
    schedule = ScheduleOut()
    name = serializers.CharField(required=False)
    archived_at = TimestampField(allow_null=True)


class QuantityScheduleOut(serializers.Serializer):
    quantity = NumberField()
    starting_at = TimestampField()
    ending_before = TimestampField(required=False)


class BillingPeriodsOut(serializers.Serializer):
    pass


class SubscriptionOut(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = TimestampField()
    billing_periods = BillingPeriodsOut()
    collection_schedule = serializers.ChoiceField(["ADVANCE", "ARREARS"])
    proration = ProrationOut()
    quantity_management_mode = serializers.ChoiceField(["QUANTITY_ONLY"])
    quantity_schedule = QuantityScheduleOut(many=True)
    starting_at = TimestampField()
    ending_before = TimestampField(required=False)
    subscription_rate = SubscriptionRateOut()
    name = serializers.CharField(required=False)
    fiat_credit_type_id = serializers.UUIDField()


class UsageStatementScheduleOut(serializers.Serializer):
    billing_anchor_date = TimestampField()
    frequency = serializers.ChoiceField(FREQUENCIES)


class TransitionOut(serializers.Serializer):
    type = serializers.ChoiceField(["RENEWAL", "SUPERSEDE"])
    from_contract_id = serializers.UUIDField()
    to_contract_id = serializers.UUIDField()


class ContractTermsOut(serializers.Serializer):
    created_at = TimestampField()
    created_by = serializers.CharField()
    starting_at = TimestampField()
    ending_before = TimestampField(required=False)
    name = serializers.CharField(required=False)
    rate_card_id = serializers.UUIDField()
    net_payment_terms_days = NumberField()
    multiplier_override_prioritization = serializers.ChoiceField(["LOWEST_MULTIPLIER", "EXPLICIT"])
    usage_statement_schedule = UsageStatementScheduleOut()
    transitions = TransitionOut(many=True)
    commits = CommitOut(many=True)
    credits = CreditOut(many=True)
    overrides = OverrideOut(many=True)
    scheduled_charges = ScheduledChargeOut(many=True)


class ContractV2Out(ContractTermsOut):
    id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    archived_at = TimestampField(allow_null=True)
    package_id = serializers.UUIDField(required=False)
    uniqueness_key = serializers.CharField(required=False)
    custom_fields = StringMapField()
    usage_filter = serializers.ListField(child=serializers.DictField())
    subscriptions = SubscriptionOut(many=True)
    scheduled_charges_on_usage_invoices = serializers.ChoiceField(["ALL"], required=False)


class ContractV1Out(serializers.Serializer):
    id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    amendments = serializers.ListField(child=serializers.DictField())
    initial = ContractTermsOut()
    current = ContractTermsOut()
    archived_at = TimestampField(allow_null=True)
    package_id = serializers.UUIDField(required=False)
    uniqueness_key = serializers.CharField(required=False)
    custom_fields = StringMapField()
    subscriptions = SubscriptionOut(many=True)


class EditOut(serializers.Serializer):
    id = serializers.UUIDField()
    uniqueness_key = serializers.CharField(required=False)
    timestamp = TimestampField()
    update_contract_name = serializers.CharField(required=False)
    update_contract_end_date = TimestampField(required=False)
    add_commits = CommitOut(many=True, required=False)
    add_credits = CreditOut(many=True, required=False)
    add_overrides = OverrideOut(many=True, required=False)
    add_scheduled_charges = ScheduledChargeOut(many=True, required=False)
    add_subscriptions = SubscriptionOut(many=True, required=False)
    archive_commits = ContractIdOut(many=True, required=False)
    archive_credits = ContractIdOut(many=True, required=False)
    archive_scheduled_charges = ContractIdOut(many=True, required=False)
    remove_overrides = ContractIdOut(many=True, required=False)


class ContractEditOut(serializers.Serializer):
    id = serializers.UUIDField()
    edit = EditOut()


class PackageContractOut(serializers.Serializer):
    contract_id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    starting_at = TimestampField()
    ending_before = TimestampField(required=False)
    archived_at = TimestampField(allow_null=True)


# --- Customer-level commits and credits, balances, ledger ---------------------------------------------


class CustomerCommitCreateIn(CommitIn):
    customer_id = UUIDStringField()
    priority = NumberField()
    applicable_contract_ids = serializers.ListField(child=UUIDStringField(), required=False)
    invoice_contract_id = UUIDStringField(required=False)
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)
    netsuite_sales_order_id = StrictCharField(required=False, allow_blank=True)
    salesforce_opportunity_id = StrictCharField(required=False, allow_blank=True)
    hierarchy_configuration = None  # a customer-level balance has no contract to share from


class CustomerCreditCreateIn(CreditIn):
    customer_id = UUIDStringField()
    priority = NumberField()
    applicable_contract_ids = serializers.ListField(child=UUIDStringField(), required=False)
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)
    netsuite_sales_order_id = StrictCharField(required=False, allow_blank=True)
    salesforce_opportunity_id = StrictCharField(required=False, allow_blank=True)
    hierarchy_configuration = None  # a customer-level balance has no contract to share from


class _BalanceListIn(serializers.Serializer):
    customer_id = UUIDStringField()
    covering_date = TimestampField(required=False)
    starting_at = TimestampField(required=False)
    effective_before = TimestampField(required=False)
    include_archived = StrictBooleanField(required=False, default=False)
    include_balance = StrictBooleanField(required=False, default=False)
    include_ledgers = StrictBooleanField(required=False, default=False)
    access_type = EnumField(ACCESS_TYPES, required=False)
    limit = NumberField(required=False, integer=True, min_value=1, max_value=100)
    next_page = StrictCharField(required=False, allow_null=True)


class CustomerCommitListIn(_BalanceListIn):
    commit_id = UUIDStringField(required=False)
    include_contract_commits = StrictBooleanField(required=False, default=False)


class CustomerCreditListIn(_BalanceListIn):
    credit_id = UUIDStringField(required=False)
    include_contract_credits = StrictBooleanField(required=False, default=False)


class CustomerBalanceListIn(_BalanceListIn):
    id = UUIDStringField(required=False)
    include_contract_balances = StrictBooleanField(required=False, default=False)
    exclude_zero_balances = StrictBooleanField(required=False, default=False)


class BalanceFilterIn(serializers.Serializer):
    balance_types = serializers.ListField(
        child=EnumField(["PREPAID_COMMIT", "POSTPAID_COMMIT", "CREDIT"]), required=False
    )
    ids = serializers.ListField(child=UUIDStringField(), required=False)
    custom_fields = StringMapField(required=False)


class NetBalanceIn(serializers.Serializer):
    customer_id = UUIDStringField()
    credit_type_id = UUIDStringField(required=False)
    access_type = EnumField(ACCESS_TYPES, required=False)
    filters = BalanceFilterIn(many=True, required=False)
    invoice_inclusion_mode = EnumField(["FINALIZED", "FINALIZED_AND_DRAFT"], required=False)

    def validate(self, attrs):
        if attrs.get("access_type") == "QUANTITY" and "credit_type_id" in attrs:
            raise serializers.ValidationError(
                {"credit_type_id": "A QUANTITY net balance counts units: leave credit_type_id out."}
            )
        return attrs


class ManualBalanceEntryIn(serializers.Serializer):
    id = UUIDStringField()
    segment_id = UUIDStringField()
    customer_id = UUIDStringField()
    amount = NumberField()
    reason = StrictCharField()
    contract_id = UUIDStringField(required=False)
    timestamp = TimestampField(required=False)
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)
    # Seat id: amount, for the per-seat balances of a SEAT_BASED subscription's recurring term.
    per_group_amounts = serializers.DictField(child=NumberField(), required=False)


class CustomerCommitOut(CommitOut):
    applicable_contract_ids = serializers.ListField(child=serializers.UUIDField())
    invoice_contract = ContractIdOut(required=False)
    contract = ContractIdOut(required=False)
    uniqueness_key = serializers.CharField(required=False)


class CustomerCreditOut(CreditOut):
    applicable_contract_ids = serializers.ListField(child=serializers.UUIDField())
    contract = ContractIdOut(required=False)
    uniqueness_key = serializers.CharField(required=False)


class NetBalanceOut(serializers.Serializer):
    balance = NumberField()
    credit_type_id = serializers.UUIDField()
