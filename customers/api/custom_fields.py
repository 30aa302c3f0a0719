"""Metronome's custom field values, for customers (reference 3.10: `/v1/customFields/setValues`
and `deleteValues`). The billing fields (`Customer.BILLING_FIELDS`) are custom fields over the API
and columns here; the invoice document prints them as the bill-to."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    StringListField,
    StringMapField,
    api_field_names,
    error_responses,
    get_or_404,
    request_body,
    validated,
)
from customers import services
from customers.models import Customer

# Metronome's other entities answer a clear 400 until their custom fields are built here.
ENTITIES = ("customer",)


class CustomFieldSetValuesIn(serializers.Serializer):
    entity = serializers.CharField()
    entity_id = serializers.UUIDField()
    custom_fields = StringMapField()


class CustomFieldDeleteValuesIn(serializers.Serializer):
    entity = serializers.CharField()
    entity_id = serializers.UUIDField()
    keys = StringListField()


def _customer(data: dict) -> Customer:
    if data["entity"] not in ENTITIES:
        raise exceptions.ValidationError(
            {
                "entity": f"Custom fields on '{data['entity']}' are not supported yet (customer only)."
            }
        )
    return get_or_404(
        Customer.objects.all(), data["entity_id"], field="entity_id", label="Customer"
    )


class CustomFieldSetValuesView(APIView):
    """POST /v1/customFields/setValues: set a customer's custom field values (the billing fields
    among them); keys not named keep their values."""

    @extend_schema(
        operation_id="v1_custom_fields_set_values",
        tags=["Custom fields"],
        request=CustomFieldSetValuesIn,
        responses={
            200: OpenApiResponse(description="Set (empty body)."),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(CustomFieldSetValuesIn, request_body(request))
        customer = _customer(data)
        with api_field_names():
            services.customer_custom_fields_set(customer=customer, values=data["custom_fields"])
        return Response(status=200)


class CustomFieldDeleteValuesView(APIView):
    """POST /v1/customFields/deleteValues: remove a customer's custom field values."""

    @extend_schema(
        operation_id="v1_custom_fields_delete_values",
        tags=["Custom fields"],
        request=CustomFieldDeleteValuesIn,
        responses={
            200: OpenApiResponse(description="Deleted (empty body)."),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(CustomFieldDeleteValuesIn, request_body(request))
        customer = _customer(data)
        services.customer_custom_fields_delete(customer=customer, keys=data["keys"])
        return Response(status=200)
