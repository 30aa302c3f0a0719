"""The order of a rate card's products (setRateCardProductsOrder, moveRateCardProducts): invoices
and the price book (getRates, getRateSchedule) list the card's products in it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from catalog import services
from catalog.models import RateCard
from core.api import (
    UUIDStringField,
    api_field_names,
    error_responses,
    get_or_404,
    id_envelope,
    id_schema,
    request_body,
    validated,
)

from .fields import NumberField


class ProductOrderSetIn(serializers.Serializer):
    rate_card_id = UUIDStringField()
    product_order = serializers.ListField(child=UUIDStringField(), allow_empty=False)


class ProductMoveIn(serializers.Serializer):
    product_id = UUIDStringField()
    position = NumberField(integer=True, min_value=0)


class ProductOrderUpdateIn(serializers.Serializer):
    rate_card_id = UUIDStringField()
    product_moves = ProductMoveIn(many=True, allow_empty=False)


def _card(data) -> RateCard:
    return get_or_404(RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card")


class ProductOrderSetView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_product_orders_set",
        tags=["Rate cards"],
        request=ProductOrderSetIn,
        responses={200: id_schema("ProductOrderSetResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(ProductOrderSetIn, request_body(request))
        rate_card = _card(data)
        with api_field_names():
            services.rate_card_products_order_set(
                rate_card=rate_card, product_ids=data["product_order"]
            )
        return id_envelope(rate_card)


class ProductOrderMoveView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_product_orders_update",
        tags=["Rate cards"],
        request=ProductOrderUpdateIn,
        responses={200: id_schema("ProductOrderUpdateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(ProductOrderUpdateIn, request_body(request))
        rate_card = _card(data)
        with api_field_names():
            services.rate_card_products_move(
                rate_card=rate_card,
                moves=[(m["product_id"], int(m["position"])) for m in data["product_moves"]],
            )
        return id_envelope(rate_card)
