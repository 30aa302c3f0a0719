"""Billing provider endpoints (the SDK's nine methods): customers' billing configurations, the
account's configured providers, and Stripe's webhook. Thin: validate, call one service, answer."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    api_field_names,
    data_schema,
    envelope,
    error_responses,
    get_or_404,
    page_schema,
    request_body,
    validated,
)
from customers import selectors as customers_selectors
from customers import services as customers_services
from customers.api.presenters import billing_configuration_json
from customers.api.serializers import BILLING_PROVIDERS
from customers.models import Customer
from payments import selectors, services

from . import serializers as s

TAGS = ["Billing providers"]


def _customer(value, field: str = "customer_id") -> Customer:
    return get_or_404(
        customers_selectors.customers_queryset(), value, field=field, label="Customer"
    )


def _provider_type(value: str) -> str:
    if value not in BILLING_PROVIDERS:
        raise exceptions.ValidationError(
            {"billing_provider_type": f"'{value}' is not one of {', '.join(BILLING_PROVIDERS)}."}
        )
    with api_field_names():
        services.provider_check(value, field="billing_provider_type")
    return value


class CustomerBillingConfigView(APIView):
    """`/v1/customers/{customer_id}/billing-config/{billing_provider_type}`: the customer's one
    configuration of a provider (Metronome's older, per-provider calls)."""

    @extend_schema(
        operation_id="v1_customers_billing_config_create",
        tags=TAGS,
        request=s.BillingConfigIn,
        responses={
            200: OpenApiResponse(description="Set (empty body)."),
            **error_responses(400, 404),
        },
    )
    def post(self, request, customer_id: str, billing_provider_type: str):
        customer = _customer(customer_id)
        provider = _provider_type(billing_provider_type)
        data = validated(s.BillingConfigIn, request_body(request))
        with api_field_names():
            services.customer_billing_config_put(
                customer=customer,
                billing_provider=provider,
                billing_provider_customer_id=data["billing_provider_customer_id"],
                stripe_collection_method=data.get("stripe_collection_method", ""),
                now=timezone.now(),
            )
        return Response(status=200)

    @extend_schema(
        operation_id="v1_customers_billing_config_retrieve",
        tags=TAGS,
        responses={
            200: data_schema("BillingConfigRetrieveResponse", s.BillingConfigOut()),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str, billing_provider_type: str):
        customer = _customer(customer_id)
        provider = _provider_type(billing_provider_type)
        config = (
            customers_selectors.customer_billing_configurations(customer=customer)
            .filter(billing_provider=provider)
            .first()
        )
        if config is None:
            raise exceptions.NotFound(
                f"Customer {customer.pk} has no {provider} billing configuration."
            )
        data = {"billing_provider_customer_id": config.billing_provider_customer_id}
        if config.stripe_collection_method:
            data["stripe_collection_method"] = config.stripe_collection_method
        return envelope(data)

    @extend_schema(
        operation_id="v1_customers_billing_config_delete",
        tags=TAGS,
        responses={
            200: OpenApiResponse(description="Archived (empty body)."),
            **error_responses(400, 404),
        },
    )
    def delete(self, request, customer_id: str, billing_provider_type: str):
        customer = _customer(customer_id)
        provider = _provider_type(billing_provider_type)
        archived = customers_services.billing_configurations_archive_provider(
            customer=customer, billing_provider=provider, now=timezone.now()
        )
        if not archived:
            raise exceptions.NotFound(
                f"Customer {customer.pk} has no {provider} billing configuration."
            )
        return Response(status=200)


def _stripe_configuration(item: dict, index: int) -> tuple[str, str, dict]:
    """Stripe's `configuration`: `stripe_customer_id` (required) and `stripe_collection_method`;
    any other keys are kept as given."""
    configuration = dict(item.get("configuration") or {})
    where = f"data[{index}].configuration"
    customer_id = configuration.pop("stripe_customer_id", None)
    if not isinstance(customer_id, str) or not customer_id.strip():
        raise exceptions.ValidationError(
            {f"{where}.stripe_customer_id": "Required: the Stripe customer (cus_...)."}
        )
    method = configuration.pop("stripe_collection_method", "") or ""
    if method not in ("", *s.COLLECTION_METHODS):
        raise exceptions.ValidationError(
            {
                f"{where}.stripe_collection_method": f"'{method}' is not one of "
                f"{', '.join(s.COLLECTION_METHODS)}."
            }
        )
    return customer_id, method, configuration


class SetCustomerBillingConfigurationsView(APIView):
    @extend_schema(
        operation_id="v1_customers_set_billing_configurations",
        tags=TAGS,
        request=s.SetConfigurationsIn,
        responses={
            200: data_schema(
                "CustomerSetBillingConfigurationsResponse", s.ConfigurationOut(many=True)
            ),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.SetConfigurationsIn, request_body(request))
        specs = []
        for index, item in enumerate(data["data"]):
            customer = _customer(item["customer_id"], field=f"data[{index}].customer_id")
            with api_field_names():
                services.provider_check(
                    item["billing_provider"], field=f"data[{index}].billing_provider"
                )
            customer_id, method, rest = _stripe_configuration(item, index)
            specs.append(
                services.ConfigurationSpec(
                    customer=customer,
                    billing_provider=item["billing_provider"],
                    billing_provider_customer_id=customer_id,
                    stripe_collection_method=method,
                    delivery_method=item.get("delivery_method", "direct_to_billing_provider"),
                    delivery_method_id=item.get("delivery_method_id"),
                    configuration=rest,
                    tax_provider=item.get("tax_provider", ""),
                )
            )
        with api_field_names():
            made = services.customer_billing_configurations_set(specs=specs, now=timezone.now())
        answer = []
        for config in made:
            full = billing_configuration_json(config)
            answer.append(
                {
                    "id": full["id"],
                    "billing_provider": full["billing_provider"],
                    "configuration": full["configuration"],
                    "customer_id": full["customer_id"],
                    "delivery_method_id": full["delivery_method_id"],
                    **({"tax_provider": config.tax_provider} if config.tax_provider else {}),
                }
            )
        return envelope(answer)


class GetCustomerBillingConfigurationsView(APIView):
    @extend_schema(
        operation_id="v1_customers_retrieve_billing_configurations",
        tags=TAGS,
        request=s.GetConfigurationsIn,
        responses={
            200: data_schema(
                "CustomerRetrieveBillingConfigurationsResponse", s.ConfigurationOut(many=True)
            ),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.GetConfigurationsIn, request_body(request))
        customer = _customer(data["customer_id"])
        configs = customers_selectors.customer_billing_configurations(
            customer=customer, include_archived=data["include_archived"]
        )
        return envelope([billing_configuration_json(config) for config in configs])


class ArchiveCustomerBillingConfigurationsView(APIView):
    @extend_schema(
        operation_id="v1_customers_archive_billing_configurations",
        tags=TAGS,
        request=s.ArchiveConfigurationsIn,
        responses={
            200: data_schema(
                "CustomerArchiveBillingConfigurationsResponse", s.ArchiveConfigurationsOut()
            ),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.ArchiveConfigurationsIn, request_body(request))
        customer = _customer(data["customer_id"])
        ids = data["customer_billing_provider_configuration_ids"]
        with api_field_names():
            customers_services.billing_configurations_archive(
                customer=customer, ids=ids, now=timezone.now()
            )
        return envelope(
            {
                "customer_id": str(customer.pk),
                "customer_billing_provider_configuration_ids": [str(pk) for pk in ids],
            }
        )


class SetUpBillingProviderView(APIView):
    """The SDK offers it for the cloud marketplaces, which are not built yet: a clear 400."""

    @extend_schema(
        operation_id="v1_settings_billing_providers_create",
        tags=TAGS,
        request=s.SetUpBillingProviderIn,
        responses={
            200: data_schema("BillingProviderCreateResponse", s.SetUpBillingProviderOut()),
            **error_responses(400),
        },
    )
    def post(self, request):
        data = validated(s.SetUpBillingProviderIn, request_body(request))
        with api_field_names():
            services.provider_check(data["billing_provider"])
        raise exceptions.ValidationError(
            {"billing_provider": f"{data['billing_provider']} cannot be set up here."}
        )


class ListConfiguredBillingProvidersView(APIView):
    @extend_schema(
        operation_id="v1_settings_billing_providers_list",
        tags=TAGS,
        request=s.ListProvidersIn,
        responses={
            200: page_schema("BillingProviderListResponse", s.ProviderOut()),
            **error_responses(400),
        },
    )
    def post(self, request):
        validated(s.ListProvidersIn, request_body(request))
        return Response({"data": selectors.configured_providers(), "next_page": None})


class StripeWebhookView(APIView):
    """`POST /webhooks/stripe`: Stripe's events, verified by their signature (no token)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="webhooks_stripe",
        tags=TAGS,
        request={"application/json": dict},
        responses={
            200: OpenApiResponse(description="Received (applied, or acknowledged and ignored)."),
            **error_responses(400),
        },
    )
    def post(self, request):
        try:
            event = services.stripe_webhook_receive(
                payload=request.body,
                signature=request.headers.get("Stripe-Signature"),
                now=timezone.now(),
            )
        except services.StripeEventRefused as exc:
            raise exceptions.ValidationError(str(exc)) from None
        if event is None:
            return Response({"received": True, "outcome": "replayed"})
        return Response({"received": True, "outcome": event.outcome})
