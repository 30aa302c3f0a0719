"""Threshold alerts (v1 alerts, customer-alerts; reference 3.10): validate, call one service or
selector, answer."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import BillableMetric, PricingUnit
from core.api import (
    api_field_names,
    data_schema,
    ensure_unused_uniqueness_key,
    envelope,
    error_responses,
    get_or_404,
    id_envelope,
    id_schema,
    keyset_page,
    page_schema,
    request_body,
    validated,
)
from core.exceptions import Conflict
from customers.models import Customer

from .. import selectors, services
from ..models import Alert
from . import presenters as out
from . import serializers as s

TAGS = ["Alerts and notifications"]
REFUSED = {
    "plan_id": "Plans do not exist in this product; alerts apply to contracts.",
    "seat_filter": "Seats do not exist in this product.",
    "credit_grant_type_filters": "Legacy credit grants do not exist in this product.",
}


def _bad(field: str, message: str):
    return exceptions.ValidationError({field: message})


def _existing(model, value, field: str, label: str, **filters):
    """An id that must name a row (a 400, not a 404: it is part of what is being created)."""
    found = model._default_manager.filter(pk=value, **filters).first()
    if found is None:
        raise _bad(field, f"{label} {value} not found.")
    return found


def _alert_fields(data: dict) -> dict:
    alert_type = data["alert_type"]
    if alert_type in s.UNSUPPORTED_TYPES:
        raise _bad(
            "alert_type",
            f"'{alert_type}' watches {s.UNSUPPORTED_TYPES[alert_type]}, which this product does "
            "not have.",
        )
    if alert_type not in Alert.Type.values:
        raise _bad("alert_type", f"'{alert_type}' is not one of {', '.join(Alert.Type.values)}.")
    for name, message in REFUSED.items():
        if data.get(name):
            raise _bad(name, message)
    access_type = data.get("access_type")
    if access_type and alert_type not in Alert.BALANCE_TYPES:
        raise _bad("access_type", "Only for commit and credit balance alerts.")
    if access_type == "QUANTITY":
        if alert_type not in Alert.AMOUNT_TYPES:
            raise _bad(
                "access_type",
                "QUANTITY is for the balance and percentage alerts (units left); a days-left "
                "alert watches every segment's days.",
            )
        if data.get("credit_type_id"):
            raise _bad("credit_type_id", "A QUANTITY alert counts units: leave credit_type_id out.")
    fields = {
        "name": data["name"],
        "type": alert_type,
        "access_type": access_type or "SPEND",
        "threshold": data["threshold"],
        "evaluate_on_create": data["evaluate_on_create"],
        "uniqueness_key": data.get("uniqueness_key"),
    }
    if alert_type in Alert.PERCENTAGE and data["threshold"] > 100:
        raise _bad("threshold", "A percentage threshold is from 0 to 100.")
    if data.get("customer_id"):
        fields["customer"] = _existing(
            Customer, data["customer_id"], "customer_id", "Customer", archived_at__isnull=True
        )
    if data.get("credit_type_id"):
        fields["credit_type"] = _existing(
            PricingUnit, data["credit_type_id"], "credit_type_id", "Pricing unit"
        )
    metric = None
    if alert_type == Alert.Type.USAGE:
        if not data.get("billable_metric_id"):
            raise _bad("billable_metric_id", "Required for usage_threshold_reached.")
        metric = _existing(
            BillableMetric,
            data["billable_metric_id"],
            "billable_metric_id",
            "Billable metric",
            archived_at__isnull=True,
        )
        fields["billable_metric"] = metric
    elif data.get("billable_metric_id"):
        raise _bad("billable_metric_id", "Only for usage_threshold_reached.")
    group_values = [dict(g) for g in data.get("group_values", [])]
    if group_values:
        if alert_type not in (Alert.Type.SPEND, Alert.Type.USAGE):
            raise _bad("group_values", "Only for spend_threshold_reached and usage alerts.")
        if metric is not None:
            unknown = [g["key"] for g in group_values if g["key"] not in metric.all_group_keys]
            if unknown:
                raise _bad(
                    "group_values",
                    f"'{unknown[0]}' is not a group key of billable metric {metric.name}.",
                )
        fields["group_values"] = group_values
    if data.get("invoice_types_filter"):
        if alert_type != Alert.Type.INVOICE_TOTAL:
            raise _bad("invoice_types_filter", "Only for invoice_total_reached.")
        fields["invoice_types_filter"] = sorted(set(data["invoice_types_filter"]))
    if data.get("custom_field_filters"):
        # What each entity may filter and whether the key is declared: Alert.clean().
        fields["custom_field_filters"] = [
            {"entity": f["entity"], "key": f["key"], "value": f["value"]}
            for f in data["custom_field_filters"]
        ]
    if data.get("alert_specifiers"):
        # What each entity may filter, whether the key is declared, and the alert types that
        # take specifiers: Alert.clean().
        fields["alert_specifiers"] = [_specifier(s) for s in data["alert_specifiers"]]
    return fields


def _filter(item: dict) -> dict:
    found = {"entity": item["entity"], "key": item["key"]}
    if item.get("value") is not None:
        found["value"] = item["value"]
    return found


def _specifier(specifier: dict) -> dict:
    """A specifier as stored and answered: only the lists it names."""
    found = {}
    if "custom_field_filters" in specifier:
        found["custom_field_filters"] = [_filter(f) for f in specifier["custom_field_filters"]]
    if "exclude" in specifier:
        found["exclude"] = [
            {"custom_field_filters": [_filter(f) for f in e.get("custom_field_filters", [])]}
            for e in specifier["exclude"]
        ]
    return found


class AlertCreateView(APIView):
    @extend_schema(
        operation_id="v1_alerts_create",
        tags=TAGS,
        request=s.AlertCreateIn,
        responses={200: id_schema("AlertCreateResponse"), **error_responses(400, 409)},
    )
    def post(self, request):
        data = validated(s.AlertCreateIn, request_body(request))
        fields = _alert_fields(data)
        try:
            with transaction.atomic():
                ensure_unused_uniqueness_key(
                    Alert.objects.all(), fields["uniqueness_key"], what="threshold notification"
                )
                with api_field_names({"billable_metric": "billable_metric_id"}):
                    alert = services.alert_create(now=timezone.now(), **fields)
        except IntegrityError:
            raise Conflict("uniqueness_key: was already used.") from None
        return id_envelope(alert)


class AlertArchiveView(APIView):
    @extend_schema(
        operation_id="v1_alerts_archive",
        tags=TAGS,
        request=s.AlertArchiveIn,
        responses={200: id_schema("AlertArchiveResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.AlertArchiveIn, request_body(request))
        alert = get_or_404(Alert, data["id"], field="id", label="Threshold notification")
        services.alert_archive(
            alert=alert,
            release_uniqueness_key=data["release_uniqueness_key"],
            now=timezone.now(),
        )
        return id_envelope(alert)


def _customer_and_alert(data: dict) -> tuple[Customer, Alert]:
    customer = get_or_404(Customer, data["customer_id"], field="customer_id", label="Customer")
    alert = get_or_404(Alert, data["alert_id"], field="alert_id", label="Threshold notification")
    if alert.customer_id not in (None, customer.pk):
        raise exceptions.NotFound(
            f"Threshold notification {alert.pk} does not watch customer {customer.pk}."
        )
    return customer, alert


CUSTOMER_ALERT = inline_serializer(
    name="CustomerAlert",
    fields={
        "alert": serializers.DictField(),
        "customer_status": serializers.CharField(allow_null=True),
        "triggered_by": serializers.CharField(required=False),
    },
)


class CustomerAlertGetView(APIView):
    @extend_schema(
        operation_id="v1_customers_alerts_retrieve",
        tags=TAGS,
        request=s.CustomerAlertIn,
        responses={
            200: data_schema("CustomerAlertRetrieveResponse", CUSTOMER_ALERT),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.CustomerAlertIn, request_body(request))
        customer, alert = _customer_and_alert(data)
        state = selectors.customer_alert_states(customer=customer, alerts=[alert]).get(alert.pk)
        subject = None
        if data.get("alert_specifiers"):
            if alert.type not in Alert.COMBINED_TYPES:
                raise _bad("alert_specifiers", alert.specifiers_refused())
            subject = services.specifier_subject(alert, data["alert_specifiers"])
        return envelope(out.customer_alert_json(alert, state, subject=subject))


class CustomerAlertListView(APIView):
    @extend_schema(
        operation_id="v1_customers_alerts_list",
        tags=TAGS,
        request=s.CustomerAlertListIn,
        responses={
            200: page_schema("CustomerAlertListResponse", CUSTOMER_ALERT),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(s.CustomerAlertListIn, request_body(request))
        customer = get_or_404(Customer, data["customer_id"], field="customer_id", label="Customer")
        statuses = {x.lower() for x in data.get("alert_statuses") or ["ENABLED"]}
        rows, cursor = keyset_page(
            selectors.customer_alerts(customer=customer, statuses=statuses),
            limit=100,
            cursor=request.query_params.get("next_page") or None,
        )
        states = selectors.customer_alert_states(customer=customer, alerts=rows)
        return Response(
            {
                "data": [out.customer_alert_json(a, states.get(a.pk)) for a in rows],
                "next_page": cursor,
            }
        )


class CustomerAlertResetView(APIView):
    @extend_schema(
        operation_id="v1_customers_alerts_reset",
        tags=TAGS,
        request=s.CustomerAlertIn,
        responses={200: OpenApiResponse(description="Empty"), **error_responses(400, 404)},
    )
    def post(self, request):
        data = validated(s.CustomerAlertIn, request_body(request))
        customer, alert = _customer_and_alert(data)
        if alert.status == Alert.Status.ARCHIVED:
            raise _bad("alert_id", "This threshold notification is archived.")
        services.customer_alert_reset(alert=alert, customer=customer, now=timezone.now())
        return Response(status=200)
