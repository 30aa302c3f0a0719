"""Contract reads and writes that need the rating engine: a contract's effective rates
(getContractRateSchedule). Thin: validate, call one selector or service, answer."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from catalog.api import presenters as catalog_out
from catalog.api.serializers import RateEntryOut, RateOut, SelectorIn
from catalog.api.views import rate_selectors
from catalog.models import PricingUnit
from catalog.money import to_json_number as num
from core.api import (
    TimestampField,
    UUIDStringField,
    error_responses,
    page_schema,
    query_cursor_page,
    request_body,
    validated,
)
from customers.api.views import _contract
from invoicing.rating import Rate, RateType
from invoicing.selectors import ContractRate, contract_rates_at


class ContractRateScheduleIn(serializers.Serializer):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()
    at = TimestampField(required=False)
    selectors = SelectorIn(many=True, required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100)
    next_page = serializers.CharField(required=False, allow_null=True)


class ContractRateOut(RateEntryOut):
    rate_card_id = serializers.UUIDField()
    list_rate = RateOut()
    override_rate = RateOut(required=False)


def _engine_rate_json(rate: Rate, model) -> dict:
    """The override's rate in the SDK's `Rate` shape (its unit: the override's, else the card
    rate's)."""
    unit = catalog_out.credit_type_json(model.credit_type)
    if rate.credit_type_id and rate.credit_type_id != str(model.credit_type_id):
        unit = catalog_out.credit_type_json(PricingUnit.objects.get(pk=rate.credit_type_id))
    data = {
        "rate_type": rate.rate_type,
        "credit_type": unit,
        "pricing_group_values": dict(rate.pricing_group_values),
    }
    if rate.rate_type == RateType.TIERED:
        data["tiers"] = [
            {"price": num(t.price), **({"size": num(t.size)} if t.size is not None else {})}
            for t in rate.tiers
        ]
    else:
        data["price"] = num(rate.price)
    return data


def _entry(item: ContractRate, at) -> dict:
    entry = catalog_out.rate_entry_json(item.model, at=at)
    rate = entry.pop("rate")
    entry["list_rate"] = rate
    entry["rate_card_id"] = str(item.model.rate_card_id)
    entry["entitled"] = True
    entry["starting_at"] = catalog_out.ts(item.starting_at)
    if item.ending_before is not None:
        entry["ending_before"] = catalog_out.ts(item.ending_before)
    else:
        entry.pop("ending_before", None)
    if item.override is not None:
        entry["override_rate"] = _engine_rate_json(item.override, item.model)
    return entry


class ContractRateScheduleView(APIView):
    @extend_schema(
        operation_id="v1_contracts_retrieve_rate_schedule",
        tags=["Contracts"],
        request=ContractRateScheduleIn,
        responses={
            200: page_schema("ContractRetrieveRateScheduleResponse", ContractRateOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        body = request_body(request)
        data = validated(ContractRateScheduleIn, body)
        contract = _contract(data)
        at = data.get("at") or timezone.now()
        rates = contract_rates_at(contract=contract, at=at, selectors=rate_selectors(data))
        return query_cursor_page(request, rates, lambda rows: [_entry(r, at) for r in rows])
