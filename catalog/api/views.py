"""The offering's Metronome-compatible endpoints: validate, call one service, answer."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.filters import BillableMetricFilter
from catalog.models import BillableMetric, Package, PricingUnit, Product, Rate, RateCard
from core.api import (
    api_field_names,
    data_schema,
    ensure_unused_uniqueness_key,
    envelope,
    error_responses,
    get_or_404,
    id_envelope,
    id_schema,
    page_parameters,
    page_schema,
    query_cursor_page,
    request_body,
    validated,
)

from . import package_document
from . import presenters as out
from . import serializers as s

PRODUCT_FIELDS = {
    "billable_metric": "billable_metric_id",
    "composite_products": "composite_product_ids",
    "quantity_conversion_factor": "quantity_conversion.conversion_factor",
    "quantity_conversion_operation": "quantity_conversion.operation",
    "quantity_rounding_decimal_places": "quantity_rounding.decimal_places",
    "quantity_rounding_method": "quantity_rounding.rounding_method",
}
RATE_CARD_FIELDS = {
    "fiat_credit_type": "fiat_credit_type_id",
    "custom_credit_type": "custom_credit_type_id",
}
RATE_FIELDS = {
    "rate_card": "rate_card_id",
    "product": "product_id",
    "credit_type": "credit_type_id",
    "commit_rate_type": "commit_rate.rate_type",
    "commit_rate_price": "commit_rate.price",
}
PACKAGE_FIELDS = {
    "rate_card": "rate_card_id",
    "duration_value": "duration.value",
    "duration_unit": "duration.unit",
}


def _who(request) -> str:
    return str(request.user)


# --- Pricing units ---------------------------------------------------------------------------------


class PricingUnitCreateView(APIView):
    @extend_schema(
        operation_id="v1_credit_types_create",
        tags=["Pricing units"],
        request=s.PricingUnitCreateIn,
        responses={200: id_schema("PricingUnitCreateResponse"), **error_responses(400)},
    )
    def post(self, request):
        data = validated(s.PricingUnitCreateIn, request_body(request))
        with api_field_names():
            unit = services.pricing_unit_create(name=data["name"])
        return id_envelope(unit)


class PricingUnitListView(APIView):
    @extend_schema(
        operation_id="v1_credit_types_list",
        tags=["Pricing units"],
        parameters=page_parameters(),
        responses={200: page_schema("PricingUnitListResponse", s.PricingUnitOut())},
    )
    def get(self, request):
        return query_cursor_page(
            request,
            selectors.pricing_units_list(),
            lambda rows: [out.pricing_unit_json(u) for u in rows],
        )


class PricingUnitArchiveView(APIView):
    @extend_schema(
        operation_id="v1_credit_types_archive",
        tags=["Pricing units"],
        request=s.IdIn,
        responses={200: id_schema("PricingUnitArchiveResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.IdIn, request_body(request))
        unit = get_or_404(PricingUnit, data["id"], field="id", label="Pricing unit")
        with api_field_names():
            services.pricing_unit_archive(pricing_unit=unit, now=timezone.now())
        return id_envelope(unit)


# --- Billable metrics --------------------------------------------------------------------------------


class BillableMetricCreateView(APIView):
    @extend_schema(
        operation_id="v1_billable_metrics_create",
        tags=["Billable metrics"],
        request=s.BillableMetricCreateIn,
        responses={200: id_schema("BillableMetricCreateResponse"), **error_responses(400)},
    )
    def post(self, request):
        data = validated(s.BillableMetricCreateIn, request_body(request))
        with api_field_names():
            if data.get("sql"):
                metric = services.billable_metric_create_sql(
                    name=data["name"], sql=data["sql"], custom_fields=data.get("custom_fields")
                )
                return id_envelope(metric)
            metric = services.billable_metric_create(
                name=data["name"],
                aggregation_type=data["aggregation_type"],
                aggregation_key=data.get("aggregation_key", ""),
                event_type_filter=data.get("event_type_filter"),
                property_filters=data.get("property_filters"),
                group_keys=data.get("group_keys"),
                custom_fields=data.get("custom_fields"),
            )
        return id_envelope(metric)


class BillableMetricListView(APIView):
    @extend_schema(
        operation_id="v1_billable_metrics_list",
        tags=["Billable metrics"],
        parameters=[
            OpenApiParameter("include_archived", bool, description="Also list archived metrics."),
            *page_parameters(),
        ],
        responses={
            200: page_schema("BillableMetricListResponse", s.BillableMetricOut()),
            **error_responses(400),
        },
    )
    def get(self, request):
        filterset = BillableMetricFilter(request.query_params, BillableMetric.objects.all())
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        return query_cursor_page(
            request, filterset.qs, lambda rows: [out.billable_metric_json(m) for m in rows]
        )


class BillableMetricDetailView(APIView):
    @extend_schema(
        operation_id="v1_billable_metrics_retrieve",
        tags=["Billable metrics"],
        responses={
            200: data_schema("BillableMetricRetrieveResponse", s.BillableMetricOut()),
            **error_responses(400, 404),
        },
    )
    def get(self, request, billable_metric_id: str):
        metric = get_or_404(
            BillableMetric, billable_metric_id, field="billable_metric_id", label="Billable metric"
        )
        return envelope(out.billable_metric_json(metric))

    @extend_schema(
        operation_id="v1_billable_metrics_update",
        tags=["Billable metrics"],
        request=s.BillableMetricRenameIn,
        responses={200: id_schema("BillableMetricUpdateResponse"), **error_responses(400, 404)},
    )
    def put(self, request, billable_metric_id: str):
        metric = get_or_404(
            BillableMetric, billable_metric_id, field="billable_metric_id", label="Billable metric"
        )
        data = validated(s.BillableMetricRenameIn, request_body(request))
        with api_field_names():
            services.billable_metric_rename(metric=metric, name=data["name"])
        return id_envelope(metric)


class BillableMetricArchiveView(APIView):
    @extend_schema(
        operation_id="v1_billable_metrics_archive",
        tags=["Billable metrics"],
        request=s.IdIn,
        responses={200: id_schema("BillableMetricArchiveResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.IdIn, request_body(request))
        metric = get_or_404(BillableMetric, data["id"], field="id", label="Billable metric")
        with api_field_names():
            services.billable_metric_archive(metric=metric, now=timezone.now())
        return id_envelope(metric)


# --- Products ------------------------------------------------------------------------------------------


def _conversion(data: dict):
    value = data.get("quantity_conversion")
    if not value:
        return None
    return services.QuantityConversion(
        conversion_factor=value["conversion_factor"],
        operation=value["operation"],
        name=value.get("name", ""),
    )


def _rounding(data: dict):
    value = data.get("quantity_rounding")
    if not value:
        return None
    return services.QuantityRounding(
        decimal_places=int(value["decimal_places"]), rounding_method=value["rounding_method"]
    )


class ProductCreateView(APIView):
    @extend_schema(
        operation_id="v1_contracts_products_create",
        tags=["Products"],
        request=s.ProductCreateIn,
        responses={200: id_schema("ProductCreateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.ProductCreateIn, request_body(request))
        metric = None
        if data.get("billable_metric_id"):
            metric = get_or_404(
                BillableMetric,
                data["billable_metric_id"],
                field="billable_metric_id",
                label="Billable metric",
            )
        composites = [
            get_or_404(Product, pk, field="composite_product_ids", label="Product")
            for pk in data.get("composite_product_ids", [])
        ]
        with api_field_names(PRODUCT_FIELDS):
            product = services.product_create(
                name=data["name"],
                type=data["type"],
                billable_metric=metric,
                pricing_group_key=data.get("pricing_group_key", ()),
                presentation_group_key=data.get("presentation_group_key", ()),
                quantity_conversion=_conversion(data),
                quantity_rounding=_rounding(data),
                composite_products=composites,
                composite_tags=data.get("composite_tags", ()),
                exclude_free_usage=data.get("exclude_free_usage", False),
                is_refundable=data.get("is_refundable", True),
                tags=data.get("tags", ()),
                custom_fields=data.get("custom_fields"),
                created_by=_who(request),
            )
        return id_envelope(product)


class ProductRetrieveView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_products_retrieve",
        tags=["Products"],
        request=s.IdIn,
        responses={
            200: data_schema("ProductRetrieveResponse", s.ProductOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.IdIn, request_body(request))
        product = get_or_404(Product, data["id"], field="id", label="Product")
        return envelope(out.product_json(product, now=timezone.now()))


class ProductListView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_products_list",
        tags=["Products"],
        request=s.ArchiveFilterIn,
        parameters=page_parameters(),
        responses={200: page_schema("ProductListResponse", s.ProductOut()), **error_responses(400)},
    )
    def post(self, request):
        data = validated(s.ArchiveFilterIn, request_body(request))
        now = timezone.now()
        return query_cursor_page(
            request,
            selectors.products_list(archive_filter=data["archive_filter"]),
            lambda rows: [out.product_json(p, now=now) for p in rows],
        )


UPDATE_KEYS = (
    "name",
    "billable_metric_id",
    "pricing_group_key",
    "presentation_group_key",
    "composite_product_ids",
    "composite_tags",
    "exclude_free_usage",
    "is_refundable",
    "tags",
)


class ProductUpdateView(APIView):
    @extend_schema(
        operation_id="v1_contracts_products_update",
        tags=["Products"],
        request=s.ProductUpdateIn,
        responses={200: id_schema("ProductUpdateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.ProductUpdateIn, request_body(request))
        product = get_or_404(Product, data["product_id"], field="product_id", label="Product")
        changes: dict = {}
        for key in UPDATE_KEYS:
            if key in data:
                value = data[key]
                if key == "billable_metric_id":
                    get_or_404(BillableMetric, value, field=key, label="Billable metric")
                    value = str(value)
                elif key == "composite_product_ids":
                    value = [str(v) for v in value]
                changes[key] = value
        if "quantity_conversion" in data:
            conversion = data["quantity_conversion"]
            changes["quantity_conversion"] = (
                {
                    "conversion_factor": str(conversion["conversion_factor"]),
                    "operation": conversion["operation"],
                    "name": conversion.get("name", ""),
                }
                if conversion
                else None
            )
        if "quantity_rounding" in data:
            rounding = data["quantity_rounding"]
            changes["quantity_rounding"] = (
                {
                    "decimal_places": int(rounding["decimal_places"]),
                    "rounding_method": rounding["rounding_method"],
                }
                if rounding
                else None
            )
        with api_field_names(PRODUCT_FIELDS):
            services.product_update(
                product=product,
                starting_at=data["starting_at"],
                changes=changes,
                created_by=_who(request),
            )
        return id_envelope(product)


class ProductArchiveView(APIView):
    @extend_schema(
        operation_id="v1_contracts_products_archive",
        tags=["Products"],
        request=s.ProductIdIn,
        responses={200: id_schema("ProductArchiveResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.ProductIdIn, request_body(request))
        product = get_or_404(Product, data["product_id"], field="product_id", label="Product")
        with api_field_names():
            services.product_archive(product=product, now=timezone.now())
        return id_envelope(product)


# --- Rate cards ------------------------------------------------------------------------------------------


def _aliases(data: dict, key: str = "aliases"):
    if key not in data:
        return None
    return [
        services.AliasSpec(
            name=a["name"], starting_at=a.get("starting_at"), ending_before=a.get("ending_before")
        )
        for a in data[key]
    ]


def _conversions(data: dict, key: str):
    return [
        services.ConversionSpec(
            custom_credit_type=get_or_404(
                PricingUnit,
                c["custom_credit_type_id"],
                field=f"{key}.custom_credit_type_id",
                label="Pricing unit",
            ),
            fiat_per_custom_credit=c["fiat_per_custom_credit"],
        )
        for c in data.get(key, [])
    ]


class RateCardCreateView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_create",
        tags=["Rate cards"],
        request=s.RateCardCreateIn,
        responses={200: id_schema("RateCardCreateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.RateCardCreateIn, request_body(request))
        fiat = None
        if data.get("fiat_credit_type_id"):
            fiat = get_or_404(
                PricingUnit,
                data["fiat_credit_type_id"],
                field="fiat_credit_type_id",
                label="Pricing unit",
            )
        with api_field_names(RATE_CARD_FIELDS):
            rate_card = services.rate_card_create(
                name=data["name"],
                description=data.get("description", ""),
                fiat_credit_type=fiat,
                aliases=_aliases(data) or (),
                credit_type_conversions=_conversions(data, "credit_type_conversions"),
                custom_fields=data.get("custom_fields"),
                created_by=_who(request),
            )
        return id_envelope(rate_card)


class RateCardRetrieveView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_rate_cards_retrieve",
        tags=["Rate cards"],
        request=s.IdIn,
        responses={
            200: data_schema("RateCardRetrieveResponse", s.RateCardOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.IdIn, request_body(request))
        rate_card = get_or_404(RateCard, data["id"], field="id", label="Rate card")
        return envelope(out.rate_card_json(rate_card))


class RateCardListView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_rate_cards_list",
        tags=["Rate cards"],
        request=None,
        parameters=page_parameters(),
        responses={
            200: page_schema("RateCardListResponse", s.RateCardOut()),
            **error_responses(400),
        },
    )
    def post(self, request):
        request_body(request)
        return query_cursor_page(
            request,
            selectors.rate_cards_list(),
            lambda rows: [out.rate_card_json(r) for r in rows],
        )


class RateCardUpdateView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_update",
        tags=["Rate cards"],
        request=s.RateCardUpdateIn,
        responses={200: id_schema("RateCardUpdateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.RateCardUpdateIn, request_body(request))
        rate_card = get_or_404(
            RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card"
        )
        with api_field_names(RATE_CARD_FIELDS):
            services.rate_card_update(
                rate_card=rate_card,
                name=data.get("name"),
                description=data.get("description"),
                aliases=_aliases(data),
                add_credit_type_conversions=_conversions(data, "add_credit_type_conversions"),
            )
        return id_envelope(rate_card)


class RateCardArchiveView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_archive",
        tags=["Rate cards"],
        request=s.IdIn,
        responses={200: id_schema("RateCardArchiveResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.IdIn, request_body(request))
        rate_card = get_or_404(RateCard, data["id"], field="id", label="Rate card")
        with api_field_names():
            services.rate_card_archive(rate_card=rate_card, now=timezone.now())
        return id_envelope(rate_card)


# --- Rates ------------------------------------------------------------------------------------------------


def _tiers(tiers: list[dict]) -> list[tuple]:
    return [(t.get("size"), t["price"]) for t in tiers]


def _rate_fields(data: dict, *, prefix: str = "") -> dict:
    """A validated RateIn as rate_add's keyword arguments (ids resolved, 404 when unknown)."""
    product = get_or_404(Product, data["product_id"], field=f"{prefix}product_id", label="Product")
    credit_type = None
    if data.get("credit_type_id"):
        credit_type = get_or_404(
            PricingUnit,
            data["credit_type_id"],
            field=f"{prefix}credit_type_id",
            label="Pricing unit",
        )
    commit_rate = None
    if data.get("commit_rate"):
        commit_rate = services.CommitRateSpec(
            rate_type=data["commit_rate"]["rate_type"],
            price=data["commit_rate"].get("price"),
            tiers=_tiers(data["commit_rate"].get("tiers", [])),
        )
    return {
        "product": product,
        "entitled": data["entitled"],
        "rate_type": data["rate_type"],
        "starting_at": data["starting_at"],
        "ending_before": data.get("ending_before"),
        "price": data.get("price"),
        "tiers": _tiers(data.get("tiers", [])),
        "pricing_group_values": data.get("pricing_group_values", {}),
        "credit_type": credit_type,
        "billing_frequency": data.get("billing_frequency", ""),
        "quantity": data.get("quantity"),
        "is_prorated": data.get("is_prorated", False),
        "commit_rate": commit_rate,
        "composite_minimum": data.get("composite_minimum"),
        "composite_scope": data.get("composite_scope") or Rate.CompositeScope.CONTRACT,
    }


class RateAddView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_rates_add",
        tags=["Rate cards"],
        request=s.AddRateIn,
        responses={
            200: data_schema("RateAddResponse", s.RateOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.AddRateIn, request_body(request))
        rate_card = get_or_404(
            RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card"
        )
        with api_field_names(RATE_FIELDS):
            rate = services.rate_add(rate_card=rate_card, **_rate_fields(data))
        return envelope(out.rate_json(rate))


class RatesAddManyView(APIView):
    @extend_schema(
        operation_id="v1_contracts_rate_cards_rates_add_many",
        tags=["Rate cards"],
        request=s.AddRatesIn,
        responses={200: id_schema("RateAddManyResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.AddRatesIn, request_body(request))
        rate_card = get_or_404(
            RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card"
        )
        rates = [
            _rate_fields(rate, prefix=f"rates[{index}].")
            for index, rate in enumerate(data["rates"])
        ]
        with api_field_names(RATE_FIELDS):
            services.rates_add_many(rate_card=rate_card, rates=rates)
        return id_envelope(rate_card)


def rate_selectors(data: dict) -> list[selectors.RateSelector]:
    return [
        selectors.RateSelector(
            product_id=sel.get("product_id"),
            product_tags=tuple(sel.get("product_tags", ())),
            pricing_group_values=sel.get("pricing_group_values"),
            partial_pricing_group_values=sel.get("partial_pricing_group_values"),
            billing_frequency=sel.get("billing_frequency", ""),
        )
        for sel in data.get("selectors", [])
    ]


class RateListView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_rate_cards_rates_list",
        tags=["Rate cards"],
        request=s.GetRatesIn,
        parameters=page_parameters(),
        responses={
            200: page_schema("RateListResponse", s.RateEntryOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.GetRatesIn, request_body(request))
        rate_card = get_or_404(
            RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card"
        )
        at = data["at"]
        rates = selectors.rates_at(rate_card=rate_card, at=at, selectors=rate_selectors(data))
        return query_cursor_page(
            request, rates, lambda rows: [out.rate_entry_json(r, at=at) for r in rows]
        )


class RateScheduleView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_contracts_rate_cards_retrieve_rate_schedule",
        tags=["Rate cards"],
        request=s.GetRateScheduleIn,
        parameters=page_parameters(),
        responses={
            200: page_schema("RateCardRetrieveRateScheduleResponse", s.RateEntryOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.GetRateScheduleIn, request_body(request))
        rate_card = get_or_404(
            RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card"
        )
        starting_at = data["starting_at"]
        rates = selectors.rate_schedule(
            rate_card=rate_card,
            starting_at=starting_at,
            ending_before=data.get("ending_before"),
            selectors=rate_selectors(data),
        )
        return query_cursor_page(
            request,
            rates,
            lambda rows: [out.rate_entry_json(r, at=max(r.starting_at, starting_at)) for r in rows],
        )


# --- Packages ---------------------------------------------------------------------------------------------


class PackageCreateView(APIView):
    @extend_schema(
        operation_id="v1_packages_create",
        tags=["Packages"],
        request=s.PackageCreateIn,
        responses={200: id_schema("PackageCreateResponse"), **error_responses(400, 404, 409)},
    )
    def post(self, request):
        data = validated(s.PackageCreateIn, request_body(request))
        now = timezone.now()
        if data.get("rate_card_id"):
            rate_card = get_or_404(
                RateCard, data["rate_card_id"], field="rate_card_id", label="Rate card"
            )
        else:
            rate_card = selectors.rate_card_by_alias(alias=data["rate_card_alias"], at=now)
            if rate_card is None:
                raise exceptions.NotFound(
                    f"No rate card has the alias '{data['rate_card_alias']}'."
                )
        schedule = data.get("usage_statement_schedule") or {}
        duration = data.get("duration") or {}
        with transaction.atomic():
            ensure_unused_uniqueness_key(
                Package.objects.all(), data.get("uniqueness_key"), what="package"
            )
            with api_field_names(PACKAGE_FIELDS):
                package = services.package_create(
                    name=data["name"],
                    rate_card=rate_card,
                    aliases=data.get("aliases", ()),
                    duration_unit=duration.get("unit", ""),
                    duration_value=int(duration["value"]) if duration else None,
                    usage_statement_frequency=schedule.get("frequency", "MONTHLY"),
                    usage_statement_day=schedule.get("day", "FIRST_OF_MONTH"),
                    net_payment_terms_days=int(data.get("net_payment_terms_days", 30)),
                    multiplier_override_prioritization=data.get(
                        "multiplier_override_prioritization", "LOWEST_MULTIPLIER"
                    ),
                    contract_name=data.get("contract_name", ""),
                    terms=package_document.package_terms(data, rate_card),
                    uniqueness_key=data.get("uniqueness_key"),
                    created_by=_who(request),
                )
        return id_envelope(package)


class PackageRetrieveView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_packages_retrieve",
        tags=["Packages"],
        request=s.PackageIdIn,
        responses={
            200: data_schema("PackageRetrieveResponse", s.PackageOut()),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.PackageIdIn, request_body(request))
        package = get_or_404(Package, data["package_id"], field="package_id", label="Package")
        return envelope(out.package_json(package))


class PackageListView(APIView):
    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_packages_list",
        tags=["Packages"],
        request=s.ArchiveFilterIn,
        parameters=page_parameters(),
        responses={200: page_schema("PackageListResponse", s.PackageOut()), **error_responses(400)},
    )
    def post(self, request):
        data = validated(s.ArchiveFilterIn, request_body(request))
        return query_cursor_page(
            request,
            selectors.packages_list(archive_filter=data["archive_filter"]),
            lambda rows: [out.package_json(p) for p in rows],
            default_limit=10,
        )


class PackageArchiveView(APIView):
    @extend_schema(
        operation_id="v1_packages_archive",
        tags=["Packages"],
        request=s.PackageIdIn,
        responses={200: id_schema("PackageArchiveResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.PackageIdIn, request_body(request))
        package = get_or_404(Package, data["package_id"], field="package_id", label="Package")
        with api_field_names():
            services.package_archive(package=package, now=timezone.now())
        return id_envelope(package)
