"""Named schedules of rate cards, contracts and customers (get, update, list), and a customer's
config (updateConfig)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import RateCard
from core.api import (
    StrictBooleanField,
    StrictCharField,
    StringMapField,
    TimestampField,
    UUIDStringField,
    api_field_names,
    data_schema,
    envelope,
    error_responses,
    get_or_404,
    offset_page,
    page_schema,
    parse_limit,
    request_body,
    validated,
)
from core.api import format_timestamp as ts
from customers import selectors, services

from .views import _contract, _customer

EMPTY = OpenApiResponse(description="Done (empty body).")


class _ScheduleIn(serializers.Serializer):
    schedule_name = StrictCharField(max_length=200)


class _ScheduleGetIn(_ScheduleIn):
    covering_date = TimestampField(required=False)


@extend_schema_field(OpenApiTypes.ANY)
class AnyJSONField(serializers.Field):
    """Any JSON value as parsed (numbers are Decimals or ints: never floats)."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class _ScheduleUpdateIn(_ScheduleIn):
    starting_at = TimestampField()
    ending_before = TimestampField(required=False, allow_null=True)
    value = AnyJSONField(allow_null=True)


class RateCardScheduleGetIn(_ScheduleGetIn):
    rate_card_id = UUIDStringField()


class RateCardScheduleUpdateIn(_ScheduleUpdateIn):
    rate_card_id = UUIDStringField()


class ContractScheduleGetIn(_ScheduleGetIn):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()
    properties = StringMapField(required=False)


class ContractScheduleUpdateIn(_ScheduleUpdateIn):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()
    properties = StringMapField(required=False)


class CustomerScheduleGetIn(_ScheduleGetIn):
    customer_id = UUIDStringField()


class CustomerScheduleUpdateIn(_ScheduleUpdateIn):
    customer_id = UUIDStringField()


class ContractSchedulesListIn(serializers.Serializer):
    customer_id = UUIDStringField()
    contract_id = UUIDStringField(required=False)
    covering_date = TimestampField(required=False)
    properties = StringMapField(required=False)
    schedule_name = StrictCharField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100)
    next_page = StrictCharField(required=False, allow_null=True)


class NamedScheduleSegmentOut(serializers.Serializer):
    starting_at = TimestampField()
    ending_before = TimestampField(required=False)
    value = serializers.JSONField()


class ContractScheduleOut(serializers.Serializer):
    contract_id = serializers.UUIDField()
    schedule_name = serializers.CharField()
    properties = StringMapField(required=False)
    segments = NamedScheduleSegmentOut(many=True)


class UpdateConfigIn(serializers.Serializer):
    salesforce_account_id = StrictCharField(required=False, allow_null=True, allow_blank=True)
    leave_stripe_invoices_in_draft = StrictBooleanField(required=False, allow_null=True)


def _segment_json(segment) -> dict:
    data = {"starting_at": ts(segment.starting_at), "value": segment.value}
    if segment.ending_before is not None:
        data["ending_before"] = ts(segment.ending_before)
    return data


def _get(owner: dict, data: dict) -> Response:
    segments = selectors.named_schedule_segments(
        owner=owner,
        name=data["schedule_name"],
        covering_date=data.get("covering_date"),
        properties=data.get("properties"),
    )
    return envelope([_segment_json(s) for s in segments])


def _update(owner: dict, data: dict) -> Response:
    with api_field_names({"name": "schedule_name"}):
        services.named_schedule_update(
            owner=owner,
            name=data["schedule_name"],
            starting_at=data["starting_at"],
            ending_before=data.get("ending_before"),
            value=data["value"],
            properties=data.get("properties"),
        )
    return Response(status=200)


def _rate_card(data) -> RateCard:
    return get_or_404(RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card")


SEGMENTS = data_schema("NamedScheduleRetrieveResponse", NamedScheduleSegmentOut(many=True))


class RateCardScheduleGetView(APIView):
    @extend_schema(
        operation_id="v1_contracts_named_schedules_retrieve",
        tags=["Named schedules"],
        request=RateCardScheduleGetIn,
        responses={200: SEGMENTS, **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(RateCardScheduleGetIn, request_body(request))
        return _get({"rate_card": _rate_card(data)}, data)


class RateCardScheduleUpdateView(APIView):
    @extend_schema(
        operation_id="v1_contracts_named_schedules_update",
        tags=["Named schedules"],
        request=RateCardScheduleUpdateIn,
        responses={200: EMPTY, **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(RateCardScheduleUpdateIn, request_body(request))
        return _update({"rate_card": _rate_card(data)}, data)


class ContractScheduleGetView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_named_schedules_retrieve",
        tags=["Named schedules"],
        request=ContractScheduleGetIn,
        responses={200: SEGMENTS, **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(ContractScheduleGetIn, request_body(request))
        return _get({"contract": _contract(data)}, data)


class ContractScheduleUpdateView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_named_schedules_update",
        tags=["Named schedules"],
        request=ContractScheduleUpdateIn,
        responses={200: EMPTY, **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(ContractScheduleUpdateIn, request_body(request))
        return _update({"contract": _contract(data)}, data)


class ContractSchedulesListView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_named_schedules_list",
        tags=["Named schedules"],
        request=ContractSchedulesListIn,
        responses={
            200: page_schema("NamedScheduleListResponse", ContractScheduleOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        body = request_body(request)
        data = validated(ContractSchedulesListIn, body)
        customer = _customer(data["customer_id"])
        contract = None
        if data.get("contract_id"):
            contract = _contract({"customer_id": data["customer_id"], **data})
        schedules = selectors.contract_named_schedules(
            customer=customer,
            contract=contract,
            name=data.get("schedule_name"),
            covering_date=data.get("covering_date"),
            properties=data.get("properties"),
        )
        page, cursor = offset_page(
            schedules,
            limit=parse_limit(data.get("limit")),
            cursor=data.get("next_page"),
        )
        return Response(
            {
                "data": [
                    {
                        "contract_id": str(s["contract_id"]),
                        "schedule_name": s["schedule_name"],
                        "properties": s["properties"],
                        "segments": [_segment_json(x) for x in s["segments"]],
                    }
                    for s in page
                ],
                "next_page": cursor,
            }
        )


class CustomerScheduleGetView(APIView):
    @extend_schema(
        operation_id="v1_customers_named_schedules_retrieve",
        tags=["Named schedules"],
        request=CustomerScheduleGetIn,
        responses={200: SEGMENTS, **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(CustomerScheduleGetIn, request_body(request))
        return _get({"customer": _customer(data["customer_id"])}, data)


class CustomerScheduleUpdateView(APIView):
    @extend_schema(
        operation_id="v1_customers_named_schedules_update",
        tags=["Named schedules"],
        request=CustomerScheduleUpdateIn,
        responses={200: EMPTY, **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(CustomerScheduleUpdateIn, request_body(request))
        return _update({"customer": _customer(data["customer_id"])}, data)


class CustomerUpdateConfigView(APIView):
    @extend_schema(
        operation_id="v1_customers_update_config",
        tags=["Customers"],
        request=UpdateConfigIn,
        responses={200: EMPTY, **error_responses(400, 404)},
    )
    def post(self, request, customer_id: str):
        customer = _customer(customer_id)
        body = request_body(request)
        data = validated(UpdateConfigIn, body)
        with api_field_names():
            services.customer_update_config(
                customer=customer,
                salesforce_account_id=data.get("salesforce_account_id"),
                leave_stripe_invoices_in_draft=data.get("leave_stripe_invoices_in_draft"),
                given=frozenset(data),
            )
        return Response(status=200)
