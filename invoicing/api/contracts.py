"""Contract reads and writes that need the rating engine: a contract's effective rates
(getContractRateSchedule), professional services invoices, preview events, historical
invoices. Thin: validate, call one selector or service, answer."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api import presenters as catalog_out
from catalog.api.fields import NumberField
from catalog.api.serializers import RateEntryOut, RateOut, SelectorIn
from catalog.api.views import rate_selectors
from catalog.models import PricingUnit
from catalog.money import to_json_number as num
from core.api import (
    EnumField,
    StrictBooleanField,
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
    parse_timestamp,
    query_cursor_page,
    request_body,
    validated,
)
from customers.api.views import _contract
from customers.models import Customer
from customers.services import ProServiceBilling, pro_services_bill
from invoicing.api.schema import InvoiceDoc as InvoiceOut
from invoicing.api.serializers import invoice_data
from invoicing.models import Invoice
from invoicing.previews import (
    HistoricalInvoice,
    HistoricalLine,
    IngestError,
    customer_events_preview,
    historical_invoices_create,
)
from invoicing.rating import Rate, RateType
from invoicing.selectors import (
    ContractRate,
    contract_rates_at,
    invoice_view,
    seat_balances,
    seat_total_key,
)


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


# --- Professional services invoice -----------------------------------------------------------------


class ProServiceLineIn(serializers.Serializer):
    professional_service_id = UUIDStringField()
    amount = NumberField(required=False, min_value=0)
    quantity = NumberField(required=False, min_value=0)
    unit_price = NumberField(required=False, min_value=0)
    metadata = serializers.CharField(required=False, allow_blank=True)
    amendment_id = UUIDStringField(required=False)
    netsuite_invoice_billing_start = TimestampField(required=False)
    netsuite_invoice_billing_end = TimestampField(required=False)


class ProServicesInvoiceIn(serializers.Serializer):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()
    issued_at = TimestampField()
    line_items = ProServiceLineIn(many=True, allow_empty=False)
    netsuite_invoice_header_start = TimestampField(required=False)
    netsuite_invoice_header_end = TimestampField(required=False)


def _invoices_at(contract, moment) -> list[Invoice]:
    """The live invoices carrying what is due at `moment`: the SCHEDULED invoice of that date,
    or, for a contract that puts scheduled items on its usage invoices, the usage invoice."""
    invoices = Invoice.objects.filter(
        contract=contract, status__in=[Invoice.Status.DRAFT, Invoice.Status.FINALIZED]
    ).select_related("credit_type")
    if contract.scheduled_charges_on_usage_invoices:
        return list(
            invoices.filter(
                type=Invoice.Type.USAGE, start_timestamp__lte=moment, end_timestamp__gt=moment
            )
        )
    return list(invoices.filter(type=Invoice.Type.SCHEDULED, start_timestamp=moment))


class ProServicesInvoiceView(APIView):
    @extend_schema(
        operation_id="v1_contracts_schedule_pro_services_invoice",
        tags=["Contracts"],
        request=ProServicesInvoiceIn,
        responses={
            200: data_schema("ContractScheduleProServicesInvoiceResponse", InvoiceOut(many=True)),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(ProServicesInvoiceIn, request_body(request))
        contract = _contract(data)
        lines = [
            ProServiceBilling(
                professional_service_id=item["professional_service_id"],
                amount=item.get("amount"),
                quantity=item.get("quantity"),
                unit_price=item.get("unit_price"),
                metadata=item.get("metadata", ""),
            )
            for item in data["line_items"]
        ]
        with api_field_names():
            pro_services_bill(
                contract=contract, issued_at=data["issued_at"], lines=lines, now=timezone.now()
            )
        return envelope(
            [
                invoice_data(invoice_view(invoice=i))
                for i in _invoices_at(contract, data["issued_at"])
            ]
        )


# --- Preview events, historical invoices ------------------------------------------------------------


class PreviewEventIn(serializers.Serializer):
    event_type = serializers.CharField()
    properties = serializers.DictField(required=False)
    timestamp = serializers.CharField(required=False)
    transaction_id = serializers.CharField(required=False)
    customer_id = serializers.CharField(required=False)


class PreviewEventsIn(serializers.Serializer):
    events = PreviewEventIn(many=True, allow_empty=False)
    mode = EnumField(["REPLACE", "MERGE"], required=False)
    skip_zero_qty_line_items = StrictBooleanField(required=False)


class PreviewEventsView(APIView):
    @extend_schema(
        operation_id="v1_customers_preview_events",
        tags=["Customers"],
        request=PreviewEventsIn,
        responses={
            200: data_schema("CustomerPreviewEventsResponse", InvoiceOut(many=True)),
            **error_responses(400, 404),
        },
    )
    def post(self, request, customer_id: str):
        customer = get_or_404(Customer, customer_id, field="customer_id", label="Customer")
        body = request_body(request)
        data = validated(PreviewEventsIn, body)
        skip = data.get("skip_zero_qty_line_items", False)
        events = [dict(event) for event in body.get("events", [])]
        try:
            with api_field_names():
                answers = customer_events_preview(
                    customer=customer,
                    events=events,
                    now=timezone.now(),
                    mode=data.get("mode", "REPLACE").lower(),
                    present=lambda view: invoice_data(view, skip_zero_qty_line_items=skip),
                )
        except IngestError as exc:
            raise exceptions.ValidationError(str(exc)) from None
        return envelope(answers)


class HistoricalLineIn(serializers.Serializer):
    product_id = UUIDStringField()
    inclusive_start_date = TimestampField()
    exclusive_end_date = TimestampField()
    quantity = NumberField(required=False, min_value=0)
    pricing_group_values = StringMapField(required=False)
    presentation_group_values = StringMapField(required=False)
    subtotals_with_quantity = serializers.ListField(child=serializers.DictField(), required=False)

    def validate(self, attrs):
        if "quantity" not in attrs and not attrs.get("subtotals_with_quantity"):
            raise serializers.ValidationError(
                {"quantity": "Give a quantity (or subtotals_with_quantity)."}
            )
        return attrs


class HistoricalInvoiceIn(serializers.Serializer):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()
    credit_type_id = UUIDStringField()
    inclusive_start_date = TimestampField()
    exclusive_end_date = TimestampField()
    issue_date = TimestampField()
    usage_line_items = HistoricalLineIn(many=True)
    billable_status = EnumField(["BILLABLE", "UNBILLABLE"], required=False)
    breakdown_granularity = EnumField(["HOUR", "DAY"], required=False)
    custom_fields = StringMapField(required=False)


class HistoricalInvoicesIn(serializers.Serializer):
    invoices = HistoricalInvoiceIn(many=True, allow_empty=False)
    preview = StrictBooleanField()


def _historical_lines(item: dict) -> list[HistoricalLine]:
    lines = []
    for line in item["usage_line_items"]:
        parts = line.get("subtotals_with_quantity") or [
            {
                "inclusive_start_date": line["inclusive_start_date"],
                "exclusive_end_date": line["exclusive_end_date"],
                "quantity": line["quantity"],
            }
        ]
        for part in parts:
            lines.append(
                HistoricalLine(
                    product_id=str(line["product_id"]),
                    starting_at=_moment(part["inclusive_start_date"]),
                    ending_before=_moment(part["exclusive_end_date"]),
                    quantity=Decimal(str(part["quantity"])),
                    pricing_group_values=dict(line.get("pricing_group_values", {})),
                    presentation_group_values=dict(line.get("presentation_group_values", {})),
                )
            )
    return lines


def _moment(value):
    return value if not isinstance(value, str) else parse_timestamp(value, "inclusive_start_date")


class HistoricalInvoicesView(APIView):
    @extend_schema(
        operation_id="v1_contracts_create_historical_invoices",
        tags=["Contracts"],
        request=HistoricalInvoicesIn,
        responses={
            200: data_schema("ContractCreateHistoricalInvoicesResponse", InvoiceOut(many=True)),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(HistoricalInvoicesIn, request_body(request))
        invoices = []
        for index, item in enumerate(data["invoices"]):
            contract = _contract(item)
            if str(item["credit_type_id"]) != str(contract.rate_card.fiat_credit_type_id):
                raise exceptions.ValidationError(
                    {
                        f"invoices[{index}].credit_type_id": "Must be the contract's rate card's "
                        "fiat pricing unit."
                    }
                )
            invoices.append(
                HistoricalInvoice(
                    contract=contract,
                    starting_at=item["inclusive_start_date"],
                    ending_before=item["exclusive_end_date"],
                    issued_at=item["issue_date"],
                    lines=_historical_lines(item),
                )
            )
        with api_field_names():
            answers = historical_invoices_create(
                invoices=invoices,
                preview=data["preview"],
                now=timezone.now(),
                present=invoice_data,
            )
        return envelope(answers)


# --- Seat balances -----------------------------------------------------------------------------------


class SeatBalancesIn(serializers.Serializer):
    contract_id = UUIDStringField()
    customer_id = UUIDStringField()
    covering_date = TimestampField(required=False)
    starting_at = TimestampField(required=False)
    effective_before = TimestampField(required=False)
    include_credits_and_commits = StrictBooleanField(required=False)
    include_ledgers = StrictBooleanField(required=False)
    seat_ids = serializers.ListField(child=serializers.CharField(), required=False)
    subscription_ids = serializers.ListField(child=UUIDStringField(), required=False)
    skip_missing_seat_ids = StrictBooleanField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100)
    cursor = serializers.CharField(required=False, allow_null=True)


def _seat_term_json(term, balance: Decimal, ledger) -> dict:
    segments = list(term.access_schedule.all())
    data = {
        "id": str(term.pk),
        "balance": num(balance),
        "start_date": catalog_out.ts(min(s.starting_at for s in segments)),
        "end_date": catalog_out.ts(max(s.ending_before for s in segments)),
        "credit_type_id": seat_total_key(term)[0],
        "access_type": term.access_type,
    }
    if ledger is not None:
        data["ledger_entries"] = [
            {
                "amount": num(row["amount"]),
                "timestamp": catalog_out.ts(row["timestamp"]),
                "type": row["type"],
            }
            for row in ledger
            if row["type"].endswith(
                (
                    "SEGMENT_START",
                    "DEDUCTION",
                    "EXPIRATION",
                    "CANCELED",
                    "CREDITED",
                    "MANUAL",
                    "ROLLOVER",
                )
            )
        ]
    return data


class SeatBalancesView(APIView):
    @extend_schema(
        operation_id="v1_contracts_list_seat_balances",
        tags=["Contracts"],
        request=SeatBalancesIn,
        responses={
            200: inline_serializer(
                "ContractListSeatBalancesResponse",
                {
                    "data": serializers.ListField(child=serializers.DictField()),
                    "pagination": serializers.DictField(),
                },
            ),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(SeatBalancesIn, request_body(request))
        contract = _contract(data)
        now = timezone.now()
        at = data.get("covering_date") or now
        seats = seat_balances(
            contract=contract,
            at=at,
            now=now,
            seat_ids=data.get("seat_ids"),
            subscription_ids=data.get("subscription_ids"),
        )
        if data.get("seat_ids") and not data.get("skip_missing_seat_ids"):
            missing = sorted(set(data["seat_ids"]) - {seat.seat_id for seat in seats})
            if missing:
                raise exceptions.ValidationError(
                    {"seat_ids": f"No seat {missing[0]} on this contract."}
                )
        page, cursor = offset_page(
            seats,
            limit=parse_limit(data.get("limit")),
            cursor=data.get("cursor"),
            cursor_field="cursor",
        )
        ledgers = bool(data.get("include_ledgers"))
        answer = []
        for seat in page:
            entry = {
                "seat_id": seat.seat_id,
                "balances": [
                    {
                        "balance": num(total.balance),
                        "starting_balance": num(total.starting_balance),
                        "credit_type_id": total.credit_type_id,
                        "access_type": total.access_type,
                    }
                    for total in seat.totals
                ],
            }
            if data.get("include_credits_and_commits") or ledgers:
                entry["commits"] = [
                    _seat_term_json(t, b, seat.ledger(t) if ledgers else None)
                    for t, b in seat.terms
                    if t.type != "CREDIT"
                ]
                entry["credits"] = [
                    _seat_term_json(t, b, seat.ledger(t) if ledgers else None)
                    for t, b in seat.terms
                    if t.type == "CREDIT"
                ]
            answer.append(entry)
        return Response(
            {
                "data": answer,
                "pagination": {
                    "seats_included": len(page),
                    "seats_available_for_next_page": max(0, len(seats) - len(page)),
                    "next_page": cursor,
                },
            }
        )
