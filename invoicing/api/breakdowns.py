"""Invoices by day or hour (reference 3.7): Metronome's invoice breakdowns and the legacy daily
costs, both from `invoicing.selectors.customer_breakdowns`.

Pages are spans of time: at most `limit` windows of the requested size (35 days or 24 hours, as
Metronome pages them); `next_page` is where the next span starts (or, with `date_desc`, ends)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import PricingUnit
from catalog.money import ZERO, to_json_number
from core.api import (
    _decode_cursor,
    _encode_cursor,
    error_responses,
    format_timestamp,
    get_or_404,
    page_schema,
    parse_limit,
    parse_uuid,
)
from customers.models import Customer
from invoicing.api import schema
from invoicing.api.serializers import invoice_data
from invoicing.models import Invoice
from invoicing.selectors import WINDOW_SIZES, InvoiceView, customer_breakdowns, window_start

from .views import STATUSES, _flag, _timestamp

MAX_WINDOWS = {"DAY": 35, "HOUR": 24}


def _range(params) -> tuple[datetime, datetime]:
    found = {}
    for field in ("starting_on", "ending_before"):
        value = params.get(field)
        if not value:
            raise exceptions.ValidationError({field: "This field is required."})
        found[field] = _timestamp(value, field)
    if found["ending_before"] <= found["starting_on"]:
        raise exceptions.ValidationError({"ending_before": "Must be after starting_on."})
    return found["starting_on"], found["ending_before"]


def time_page(
    *,
    starting_on: datetime,
    ending_before: datetime,
    size: str,
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> tuple[datetime, datetime, str | None]:
    """The span [start, end) of this page (at most `limit` windows) and the next page's cursor."""
    step = WINDOW_SIZES[size]
    if cursor:
        payload = _decode_cursor(cursor, "next_page")
        try:
            moment = datetime.fromisoformat(payload["t"])
        except (KeyError, TypeError, ValueError):
            raise exceptions.ValidationError(
                {"next_page": "Not a cursor this server issued."}
            ) from None
        if not starting_on <= moment <= ending_before:
            raise exceptions.ValidationError({"next_page": "Not a cursor of this range."})
        if descending:
            ending_before = moment
        else:
            starting_on = moment
    if descending:
        end = ending_before
        last = window_start(end - timedelta(microseconds=1), size)
        start = max(starting_on, last - (limit - 1) * step)
        more = start > starting_on
        return start, end, _encode_cursor({"t": start.isoformat()}) if more else None
    end = min(ending_before, window_start(starting_on, size) + limit * step)
    more = end < ending_before
    return starting_on, end, _encode_cursor({"t": end.isoformat()}) if more else None


def _customer(customer_id: str) -> Customer:
    return get_or_404(Customer.objects.all(), customer_id, field="customer_id", label="Customer")


def _window_size(params) -> str:
    size = (params.get("window_size") or "DAY").upper()
    if size not in WINDOW_SIZES:
        raise exceptions.ValidationError({"window_size": "Must be HOUR or DAY."})
    return size


class InvoiceBreakdownDoc(schema.InvoiceDoc):
    breakdown_start_timestamp = serializers.DateTimeField()
    breakdown_end_timestamp = serializers.DateTimeField()


class CustomerInvoiceBreakdownsView(APIView):
    """GET /v1/customers/{customer_id}/invoices/breakdowns: each invoice's lines per day or hour
    window (windows starting on or after `starting_on` and ending by `ending_before`)."""

    @extend_schema(
        operation_id="v1_customers_invoices_list_breakdowns",
        tags=["Invoices"],
        parameters=[
            OpenApiParameter("starting_on", str, required=True, description="RFC 3339."),
            OpenApiParameter("ending_before", str, required=True, description="RFC 3339."),
            OpenApiParameter("window_size", str, enum=["HOUR", "DAY"]),
            OpenApiParameter("status", str, enum=["DRAFT", "FINALIZED", "VOID"]),
            OpenApiParameter("credit_type_id", str),
            OpenApiParameter("sort", str, enum=["date_asc", "date_desc"]),
            schema.SKIP_ZERO,
            OpenApiParameter(
                "limit", int, description="Windows per page: up to 35 days or 24 hours."
            ),
            OpenApiParameter("next_page", str),
        ],
        responses={
            200: page_schema("InvoiceBreakdownListResponse", InvoiceBreakdownDoc()),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str):
        customer = _customer(customer_id)
        params = request.query_params
        starting_on, ending_before = _range(params)
        size = _window_size(params)
        status = (params.get("status") or "").upper() or None
        if status is not None and status not in STATUSES:
            raise exceptions.ValidationError(
                {"status": f"'{params['status']}' is not one of {', '.join(sorted(STATUSES))}."}
            )
        credit_type_id = params.get("credit_type_id") or None
        if credit_type_id is not None:
            credit_type_id = parse_uuid(credit_type_id, "credit_type_id")
        sort = params.get("sort") or "date_asc"
        if sort not in ("date_asc", "date_desc"):
            raise exceptions.ValidationError({"sort": "Must be date_asc or date_desc."})
        skip_zero = _flag(params.get("skip_zero_qty_line_items"), "skip_zero_qty_line_items")
        limit = parse_limit(
            params.get("limit"), default=MAX_WINDOWS[size], maximum=MAX_WINDOWS[size]
        )
        start, end, next_page = time_page(
            starting_on=starting_on,
            ending_before=ending_before,
            size=size,
            limit=limit,
            cursor=params.get("next_page") or None,
            descending=sort == "date_desc",
        )
        breakdowns = customer_breakdowns(
            customer=customer,
            starting_on=start,
            ending_before=end,
            window_size=size,
            statuses=[status] if status else None,
            credit_type_id=credit_type_id,
        )
        if sort == "date_desc":
            breakdowns.reverse()
        data = [
            {
                **invoice_data(
                    InvoiceView(b.invoice, b.lines, b.subtotal, b.total),
                    skip_zero_qty_line_items=skip_zero,
                ),
                "breakdown_start_timestamp": format_timestamp(b.starting_at),
                "breakdown_end_timestamp": format_timestamp(b.ending_before),
            }
            for b in breakdowns
        ]
        return Response({"data": data, "next_page": next_page})


COSTS_DOC = inline_serializer(
    name="CustomerCosts",
    fields={
        "start_timestamp": serializers.DateTimeField(),
        "end_timestamp": serializers.DateTimeField(),
        "credit_types": serializers.DictField(
            child=inline_serializer(
                name="CustomerCostsCreditType",
                fields={
                    "name": serializers.CharField(),
                    "cost": serializers.FloatField(),
                    "line_item_breakdown": serializers.ListField(child=serializers.DictField()),
                },
            )
        ),
    },
)


def costs_by_day(breakdowns, days: list[tuple[datetime, datetime]]) -> list[dict]:
    """Metronome's legacy costs: per day and pricing unit, the cost (what the invoices' windows
    add, after commits and credits) and its lines (name, cost, the legacy group key/value)."""
    units = {str(u.pk): u.name for u in PricingUnit.objects.all()}
    by_day: dict[datetime, dict[str, dict]] = defaultdict(dict)
    for breakdown in breakdowns:
        invoice_unit = str(breakdown.invoice.credit_type_id)
        day = by_day[window_start(breakdown.starting_at, "DAY")]
        entry = day.setdefault(invoice_unit, {"cost": ZERO, "lines": []})
        entry["cost"] += breakdown.total
        for line in breakdown.lines:
            if line.total == 0:
                continue
            unit = str(line.credit_type_id)
            target = day.setdefault(unit, {"cost": ZERO, "lines": []})
            if unit != invoice_unit:
                target["cost"] += line.total
            item = {"name": line.name, "cost": to_json_number(line.total)}
            if line.group_key:
                item["group_key"] = line.group_key
                item["group_value"] = line.group_value or None
            target["lines"].append(item)
    return [
        {
            "start_timestamp": format_timestamp(start),
            "end_timestamp": format_timestamp(end),
            "credit_types": {
                unit: {
                    "name": units.get(unit, unit),
                    "cost": to_json_number(entry["cost"]),
                    "line_item_breakdown": entry["lines"],
                }
                for unit, entry in by_day.get(window_start(start, "DAY"), {}).items()
            },
        }
        for start, end in days
    ]


class CustomerCostsView(APIView):
    """GET /v1/customers/{customer_id}/costs: the legacy daily costs (Plans era), one entry a
    day of [starting_on, ending_before), from the customer's live invoices."""

    @extend_schema(
        operation_id="v1_customers_list_costs",
        tags=["Customers"],
        parameters=[
            OpenApiParameter("starting_on", str, required=True, description="RFC 3339, inclusive."),
            OpenApiParameter("ending_before", str, required=True, description="RFC 3339."),
            OpenApiParameter("limit", int, description="Days per page (up to 35)."),
            OpenApiParameter("next_page", str),
        ],
        responses={
            200: page_schema("CustomerCostsResponse", COSTS_DOC),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str):
        customer = _customer(customer_id)
        params = request.query_params
        starting_on, ending_before = _range(params)
        limit = parse_limit(params.get("limit"), default=MAX_WINDOWS["DAY"], maximum=35)
        start, end, next_page = time_page(
            starting_on=starting_on,
            ending_before=ending_before,
            size="DAY",
            limit=limit,
            cursor=params.get("next_page") or None,
        )
        days = []
        moment = start
        while moment < end:
            following = min(end, window_start(moment, "DAY") + WINDOW_SIZES["DAY"])
            days.append((moment, following))
            moment = following
        breakdowns = customer_breakdowns(
            customer=customer,
            starting_on=start,
            ending_before=end,
            statuses=[Invoice.Status.DRAFT, Invoice.Status.FINALIZED],
        )
        return Response({"data": costs_by_day(breakdowns, days), "next_page": next_page})
