"""Request shapes of the alerts and v2 notifications endpoints (the SDK's params types)."""

from rest_framework import serializers

from catalog.api.fields import NumberField
from core.api import EnumField, StrictBooleanField, StrictCharField, UUIDStringField

from ..models import Alert

# Metronome's types this product has no object for (plans, seats, legacy credit grants).
UNSUPPORTED_TYPES = {
    "low_credit_balance_reached": "legacy credit grants",
    "low_remaining_credit_percentage_reached": "legacy credit grants",
    "low_remaining_days_in_plan_reached": "plans",
    "low_remaining_seat_balance_reached": "seats",
}


class GroupValueIn(serializers.Serializer):
    key = StrictCharField()
    value = StrictCharField(required=False)


class CustomFieldFilterIn(serializers.Serializer):
    entity = serializers.ChoiceField(
        choices=list(Alert.FILTER_ENTITIES),
        error_messages={
            "invalid_choice": "'{input}' is not one of " + ", ".join(Alert.FILTER_ENTITIES) + "."
        },
    )
    key = StrictCharField()
    value = StrictCharField()


class ClosedSerializer(serializers.Serializer):
    """Refuses a field it does not name (a specifier with `product_id`: Metronome's specifiers
    choose balances by custom fields only)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: f"Not a field here (one of: {', '.join(self.fields)})."}
                )
        return super().to_internal_value(data)


class GroupingFilterIn(CustomFieldFilterIn):
    """A specifier's filter: without a value, the balances are grouped by the key's value."""

    value = StrictCharField(required=False)


class SpecifierExcludeIn(ClosedSerializer):
    custom_field_filters = CustomFieldFilterIn(many=True, required=False)


class AlertSpecifierIn(ClosedSerializer):
    custom_field_filters = GroupingFilterIn(many=True, required=False)
    exclude = SpecifierExcludeIn(many=True, required=False)


class AlertSpecifierGetIn(AlertSpecifierIn):
    """customer-alerts/get names one group: every filter has its value."""

    custom_field_filters = CustomFieldFilterIn(many=True)


class AlertCreateIn(serializers.Serializer):
    alert_type = StrictCharField()
    name = StrictCharField(max_length=200)
    threshold = NumberField(min_value=0)
    access_type = EnumField(["SPEND", "QUANTITY"], required=False)
    alert_specifiers = AlertSpecifierIn(many=True, required=False)
    billable_metric_id = UUIDStringField(required=False)
    credit_grant_type_filters = serializers.ListField(child=StrictCharField(), required=False)
    credit_type_id = UUIDStringField(required=False)
    custom_field_filters = CustomFieldFilterIn(many=True, required=False)
    customer_id = UUIDStringField(required=False)
    evaluate_on_create = StrictBooleanField(required=False, default=True)
    group_values = GroupValueIn(many=True, required=False)
    invoice_types_filter = serializers.ListField(
        child=EnumField(["USAGE", "SCHEDULED"]), required=False
    )
    plan_id = UUIDStringField(required=False)
    seat_filter = serializers.DictField(required=False)
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)


class AlertArchiveIn(serializers.Serializer):
    id = UUIDStringField()
    release_uniqueness_key = StrictBooleanField(required=False, default=False)


class CustomerAlertIn(serializers.Serializer):
    alert_id = UUIDStringField()
    customer_id = UUIDStringField()
    alert_specifiers = AlertSpecifierGetIn(many=True, required=False)
    group_values = GroupValueIn(many=True, required=False)
    plans_or_contracts = EnumField(["PLANS", "CONTRACTS"], required=False)
    seat_filter = serializers.DictField(required=False)


class CustomerAlertListIn(serializers.Serializer):
    customer_id = UUIDStringField()
    alert_statuses = serializers.ListField(
        child=EnumField(["ENABLED", "DISABLED", "ARCHIVED"]), required=False
    )


class PolicyIn(serializers.Serializer):
    type = StrictCharField()
    offset = StrictCharField(required=False)


class OffsetCreateIn(serializers.Serializer):
    name = StrictCharField(max_length=200)
    policy = PolicyIn()
    uniqueness_key = StrictCharField(required=False, min_length=1, max_length=128)


class OffsetIdIn(serializers.Serializer):
    id = UUIDStringField()


class OffsetListIn(serializers.Serializer):
    archive_filter = EnumField(["ARCHIVED", "NOT_ARCHIVED", "ALL"], required=False)
    cursor = StrictCharField(required=False, allow_blank=True)
    limit = NumberField(required=False, integer=True)


class OffsetEditIn(serializers.Serializer):
    policy = PolicyIn()
    id = UUIDStringField(required=False)
    is_enabled = StrictBooleanField(required=False)
