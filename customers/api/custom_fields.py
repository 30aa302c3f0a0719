"""/v1/customFields/*: declare keys per entity type and set or delete values on entities.

A customer's billing fields (`Customer.BILLING_FIELDS`, the invoice document's bill-to) travel as
its custom fields but are columns: they need no key and go through the customer's services."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import custom_fields
from core.api import (
    StrictBooleanField,
    StrictCharField,
    StringListField,
    StringMapField,
    api_field_names,
    error_responses,
    page_parameters,
    page_schema,
    query_cursor_page,
    request_body,
    validated,
)
from core.exceptions import Conflict
from customers import services
from customers.models import Customer

# Metronome's entity types (the SDK's list); `core.custom_fields` says which are kept here.
ENTITIES = [
    "alert",
    "billable_metric",
    "charge",
    "commit",
    "contract_credit",
    "contract_product",
    "contract",
    "credit_grant",
    "customer_plan",
    "customer",
    "discount",
    "invoice",
    "plan",
    "professional_service",
    "product",
    "rate_card",
    "scheduled_charge",
    "subscription",
    "package_commit",
    "package_credit",
    "package_subscription",
    "package_scheduled_charge",
]


class EntityField(serializers.ChoiceField):
    """One of Metronome's (lower-case) entity types, read in any case."""

    default_error_messages = {"invalid_choice": "'{input}' is not one of {choices}."}

    def __init__(self, **kwargs):
        super().__init__(ENTITIES, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or data.strip().lower() not in ENTITIES:
            self.fail("invalid_choice", input=data, choices=", ".join(ENTITIES))
        return data.strip().lower()


class _Entity(serializers.Serializer):
    entity = EntityField()


class AddKeyIn(_Entity):
    key = StrictCharField(max_length=200)
    enforce_uniqueness = StrictBooleanField()


class RemoveKeyIn(_Entity):
    key = StrictCharField(max_length=200)


class SetValuesIn(_Entity):
    entity_id = StrictCharField()
    custom_fields = StringMapField()


class DeleteValuesIn(_Entity):
    entity_id = StrictCharField()
    keys = StringListField()


class ListKeysIn(serializers.Serializer):
    entities = serializers.ListField(child=EntityField(), required=False)


class KeyOut(serializers.Serializer):
    entity = serializers.CharField()
    key = serializers.CharField()
    enforce_uniqueness = serializers.BooleanField()


EMPTY = OpenApiResponse(description="Done (empty body).")


@contextmanager
def _conflicts():
    try:
        yield
    except custom_fields.CustomFieldConflict as exc:
        raise Conflict(next(iter(exc.message_dict.values()))[0]) from None
    except custom_fields.CustomFieldEntityNotFound as exc:
        raise exceptions.NotFound(str(exc)) from None


def _billing(entity: str, keys) -> list[str]:
    """The customer billing fields among the keys (other entities have none)."""
    return [k for k in keys if k in Customer.BILLING_FIELDS] if entity == "customer" else []


def _customer(entity_id) -> Customer:
    try:
        return Customer.objects.select_for_update().get(pk=entity_id)
    except (Customer.DoesNotExist, ValueError):
        raise exceptions.NotFound(f"Customer {entity_id} not found.") from None


class AddKeyView(APIView):
    @extend_schema(
        operation_id="v1_custom_fields_add_key",
        tags=["Custom fields"],
        request=AddKeyIn,
        responses={200: EMPTY, **error_responses(400, 409)},
    )
    def post(self, request):
        data = validated(AddKeyIn, request_body(request))
        with api_field_names(), _conflicts():
            custom_fields.custom_field_key_add(
                entity=data["entity"],
                key=data["key"],
                enforce_uniqueness=data["enforce_uniqueness"],
            )
        return Response(status=200)


class RemoveKeyView(APIView):
    @extend_schema(
        operation_id="v1_custom_fields_remove_key",
        tags=["Custom fields"],
        request=RemoveKeyIn,
        responses={200: EMPTY, **error_responses(400)},
    )
    def post(self, request):
        data = validated(RemoveKeyIn, request_body(request))
        with api_field_names():
            custom_fields.custom_field_key_remove(
                entity=data["entity"], key=data["key"], now=timezone.now()
            )
        return Response(status=200)


class ListKeysView(APIView):
    @extend_schema(
        operation_id="v1_custom_fields_list_keys",
        tags=["Custom fields"],
        request=ListKeysIn,
        parameters=page_parameters(),
        responses={
            200: page_schema("CustomFieldListKeysResponse", KeyOut()),
            **error_responses(400),
        },
    )
    def post(self, request):
        data = validated(ListKeysIn, request_body(request))
        keys = list(custom_fields.custom_field_keys(entities=data.get("entities")))
        return query_cursor_page(
            request,
            keys,
            lambda rows: [
                {"entity": k.entity, "key": k.key, "enforce_uniqueness": k.enforce_uniqueness}
                for k in rows
            ],
        )


class SetValuesView(APIView):
    @extend_schema(
        operation_id="v1_custom_fields_set_values",
        tags=["Custom fields"],
        request=SetValuesIn,
        responses={200: EMPTY, **error_responses(400, 404, 409)},
    )
    def post(self, request):
        data = validated(SetValuesIn, request_body(request))
        values = data["custom_fields"]
        billing = _billing(data["entity"], values)
        with api_field_names(), _conflicts(), transaction.atomic():
            custom_fields.custom_field_values_set(
                entity=data["entity"],
                entity_id=data["entity_id"],
                values={k: v for k, v in values.items() if k not in billing},
                now=timezone.now(),
            )
            if billing:
                services.customer_custom_fields_set(
                    customer=_customer(data["entity_id"]), values={k: values[k] for k in billing}
                )
        return Response(status=200)


class DeleteValuesView(APIView):
    @extend_schema(
        operation_id="v1_custom_fields_delete_values",
        tags=["Custom fields"],
        request=DeleteValuesIn,
        responses={200: EMPTY, **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(DeleteValuesIn, request_body(request))
        billing = _billing(data["entity"], data["keys"])
        with api_field_names(), _conflicts(), transaction.atomic():
            custom_fields.custom_field_values_delete(
                entity=data["entity"],
                entity_id=data["entity_id"],
                keys=data["keys"],
                now=timezone.now(),
            )
            if billing:
                services.customer_custom_fields_delete(
                    customer=_customer(data["entity_id"]), keys=billing
                )
        return Response(status=200)
