"""Request and schema serializers of the billing provider endpoints (Metronome's shapes)."""

from rest_framework import serializers

from core.api import LowercaseEnumField, StrictBooleanField, StrictCharField, UUIDStringField
from customers.api.serializers import BILLING_PROVIDERS, DELIVERY_METHODS

COLLECTION_METHODS = ["charge_automatically", "send_invoice"]
MARKETPLACES = ["aws_marketplace", "azure_marketplace", "gcp_marketplace"]


class BillingConfigIn(serializers.Serializer):
    billing_provider_customer_id = StrictCharField(max_length=255)
    stripe_collection_method = LowercaseEnumField(COLLECTION_METHODS, required=False)
    aws_customer_account_id = StrictCharField(required=False)
    aws_customer_id = StrictCharField(required=False)
    aws_product_code = StrictCharField(required=False)
    aws_region = StrictCharField(required=False)


class BillingConfigOut(serializers.Serializer):
    billing_provider_customer_id = serializers.CharField()
    stripe_collection_method = serializers.ChoiceField(COLLECTION_METHODS, required=False)


class ConfigurationIn(serializers.Serializer):
    billing_provider = LowercaseEnumField(BILLING_PROVIDERS)
    customer_id = UUIDStringField()
    configuration = serializers.DictField(required=False)
    delivery_method = LowercaseEnumField(DELIVERY_METHODS, required=False)
    delivery_method_id = UUIDStringField(required=False)
    tax_provider = LowercaseEnumField(["anrok", "avalara", "stripe"], required=False)

    def validate(self, attrs):
        if "delivery_method" not in attrs and "delivery_method_id" not in attrs:
            raise serializers.ValidationError(
                {"delivery_method": "Give delivery_method or delivery_method_id."}
            )
        return attrs


class SetConfigurationsIn(serializers.Serializer):
    data = ConfigurationIn(many=True, allow_empty=False)


class ConfigurationOut(serializers.Serializer):
    id = serializers.UUIDField()
    archived_at = serializers.DateTimeField(allow_null=True)
    billing_provider = serializers.ChoiceField(BILLING_PROVIDERS)
    configuration = serializers.DictField()
    customer_id = serializers.UUIDField()
    delivery_method = serializers.ChoiceField(DELIVERY_METHODS)
    delivery_method_configuration = serializers.DictField()
    delivery_method_id = serializers.CharField()


class GetConfigurationsIn(serializers.Serializer):
    customer_id = UUIDStringField()
    include_archived = StrictBooleanField(required=False, default=False)


class ArchiveConfigurationsIn(serializers.Serializer):
    customer_id = UUIDStringField()
    customer_billing_provider_configuration_ids = serializers.ListField(
        child=UUIDStringField(), allow_empty=False
    )


class ArchiveConfigurationsOut(serializers.Serializer):
    customer_id = serializers.UUIDField()
    customer_billing_provider_configuration_ids = serializers.ListField(
        child=serializers.UUIDField()
    )


class SetUpBillingProviderIn(serializers.Serializer):
    billing_provider = LowercaseEnumField(MARKETPLACES)
    configuration = serializers.DictField()
    delivery_method = LowercaseEnumField(["direct_to_billing_provider", "aws_sqs", "aws_sns"])


class SetUpBillingProviderOut(serializers.Serializer):
    delivery_method_id = serializers.UUIDField()


class ListProvidersIn(serializers.Serializer):
    next_page = serializers.CharField(required=False, allow_null=True)


class ProviderOut(serializers.Serializer):
    billing_provider = serializers.ChoiceField(BILLING_PROVIDERS)
    delivery_method = serializers.ChoiceField(DELIVERY_METHODS)
    delivery_method_configuration = serializers.DictField()
    delivery_method_id = serializers.UUIDField()
