"""A subscription's quantity and seats over time (getSubscriptionQuantityHistory,
getSubscriptionSeatsHistory)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors as catalog_selectors
from catalog.money import to_json_number as num
from core.api import (
    StrictCharField,
    TimestampField,
    UUIDStringField,
    envelope,
    error_responses,
    get_or_404,
    offset_page,
    parse_limit,
    request_body,
    validated,
)
from core.api import format_timestamp as ts
from customers import selectors

from .views import _contract


class SubscriptionRefIn(serializers.Serializer):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()
    subscription_id = UUIDStringField()


class SeatsHistoryIn(SubscriptionRefIn):
    covering_date = TimestampField(required=False, allow_null=True)
    starting_at = TimestampField(required=False, allow_null=True)
    ending_before = TimestampField(required=False, allow_null=True)
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100)
    cursor = StrictCharField(required=False, allow_null=True)


def _subscription(data: dict):
    contract = _contract(data)
    return get_or_404(
        contract.subscriptions.all(),
        data["subscription_id"],
        field="subscription_id",
        label="Subscription",
    )


def _price(subscription, moment):
    """The card's SUBSCRIPTION price of the subscription's product at `moment` (None: none)."""
    rates = catalog_selectors.rates_at(
        rate_card=subscription.contract.rate_card,
        at=moment,
        selectors=[
            catalog_selectors.RateSelector(
                product_id=subscription.product_id,
                billing_frequency=subscription.billing_frequency,
            )
        ],
    )
    rates = [r for r in rates if r.rate_type == "SUBSCRIPTION"]
    return rates[-1].price if rates else None


class QuantityHistoryView(APIView):
    @extend_schema(
        operation_id="v1_contracts_retrieve_subscription_quantity_history",
        tags=["Contracts"],
        request=SubscriptionRefIn,
        responses={
            200: inline_serializer(
                "ContractRetrieveSubscriptionQuantityHistoryResponse",
                {"data": serializers.DictField()},
            ),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(SubscriptionRefIn, request_body(request))
        subscription = _subscription(data)
        history = []
        for row in selectors.subscription_quantity_history(subscription=subscription):
            price = _price(subscription, row["starting_at"])
            entry = {"quantity": num(row["quantity"])}
            if price is not None:
                entry.update(unit_price=num(price), total=num(price * row["quantity"]))
            else:
                entry.update(unit_price=0, total=0)
            history.append({"starting_at": ts(row["starting_at"]), "data": [entry]})
        return envelope(
            {
                "subscription_id": str(subscription.pk),
                "fiat_credit_type_id": str(subscription.contract.rate_card.fiat_credit_type_id),
                "history": history,
            }
        )


class SeatsHistoryView(APIView):
    @extend_schema(
        operation_id="v1_contracts_get_subscription_seats_history",
        tags=["Contracts"],
        request=SeatsHistoryIn,
        responses={
            200: inline_serializer(
                "ContractGetSubscriptionSeatsHistoryResponse",
                {
                    "data": serializers.ListField(child=serializers.DictField()),
                    "next_page": serializers.CharField(allow_null=True),
                },
            ),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(SeatsHistoryIn, request_body(request))
        subscription = _subscription(data)
        rows = selectors.subscription_quantity_history(
            subscription=subscription,
            covering_date=data.get("covering_date"),
            starting_at=data.get("starting_at"),
            ending_before=data.get("ending_before"),
        )
        page, cursor = offset_page(
            rows, limit=parse_limit(data.get("limit")), cursor=data.get("cursor")
        )
        return Response(
            {
                "data": [
                    {
                        "starting_at": ts(row["starting_at"]),
                        "ending_before": ts(row["ending_before"]),
                        "assigned_seat_ids": list(row["seat_ids"]),
                        "total_quantity": int(row["quantity"]),
                    }
                    for row in page
                ],
                "next_page": cursor,
            }
        )
