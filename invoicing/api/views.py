"""Invoice endpoints: list and retrieve a customer's invoices, void and regenerate (reference 3.7).

Drafts are rated on read from the current aggregates, so a draft always shows every event accepted.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    data_schema,
    error_responses,
    get_or_404,
    id_envelope,
    id_schema,
    keyset_page,
    page_schema,
    parse_limit,
    parse_uuid,
    request_body,
)
from core.gc_pause import gc_paused
from core.renderers import ExactJSONRenderer, rendered_now
from customers.models import Customer
from invoicing.api import schema
from invoicing.api.extensions import invoice_extra_fields
from invoicing.api.serializers import invoice_data
from invoicing.models import Invoice
from invoicing.selectors import (
    customer_invoices,
    invoice_views,
    invoices_with_contracts,
)
from invoicing.services import InvoiceStateError, invoice_regenerate, invoice_void

STATUSES = {choice.value for choice in Invoice.Status}
TYPES = {"USAGE", "USAGE_CONSOLIDATED", "SCHEDULED"}


def _flag(value: str | None, field: str) -> bool:
    if value in (None, ""):
        return False
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise exceptions.ValidationError({field: "Must be true or false."})
    return lowered == "true"


def _timestamp(value: str, field: str) -> datetime:
    """RFC 3339 (Z, offsets, fractions; naive means UTC). core.api.parse_timestamp would
    do, but its error path raises KeyError for unparsable text (reported to its owner)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise exceptions.ValidationError(
            {field: f"'{value}' is not an RFC 3339 timestamp."}
        ) from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def customer_invoice_or_404(customer_id: str, invoice_id: str) -> Invoice:
    """The customer's invoice: 400 for a malformed id, 404 naming what is missing."""
    customer_pk = parse_uuid(customer_id, "customer_id")
    invoice_pk = parse_uuid(invoice_id, "invoice_id")
    invoice = (
        invoices_with_contracts(Invoice.objects.select_related("credit_type", "customer"))
        .filter(pk=invoice_pk, customer_id=customer_pk)
        .first()
    )
    if invoice is None:
        if not Customer.objects.filter(pk=customer_pk).exists():
            raise exceptions.NotFound(f"Customer {customer_pk} not found.")
        raise exceptions.NotFound(f"Invoice {invoice_pk} not found for customer {customer_pk}.")
    return invoice


class CustomerInvoiceListView(APIView):
    """GET /v1/customers/{customer_id}/invoices: filters, date sort, query cursor."""

    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="v1_customers_invoices_list",
        tags=["Invoices"],
        parameters=schema.list_parameters(),
        responses={
            200: page_schema("InvoiceListResponse", schema.InvoiceDoc()),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str):
        customer = get_or_404(
            Customer.objects.all(), customer_id, field="customer_id", label="Customer"
        )
        params = request.query_params
        status = (params.get("status") or "").upper() or None
        if status is not None and status not in STATUSES:
            raise exceptions.ValidationError(
                {"status": f"'{params['status']}' is not one of {', '.join(sorted(STATUSES))}."}
            )
        kind = (params.get("type") or "").upper() or None
        if kind is not None and kind not in TYPES:
            raise exceptions.ValidationError(
                {"type": f"'{params['type']}' is not one of {', '.join(sorted(TYPES))}."}
            )
        contract_id = params.get("contract_id") or None
        if contract_id is not None:
            contract_id = parse_uuid(contract_id, "contract_id")
        credit_type_id = params.get("credit_type_id") or None
        if credit_type_id is not None:
            credit_type_id = parse_uuid(credit_type_id, "credit_type_id")
        starting_on = params.get("starting_on")
        ending_before = params.get("ending_before")
        sort = params.get("sort") or "date_asc"
        if sort not in ("date_asc", "date_desc"):
            raise exceptions.ValidationError({"sort": "Must be date_asc or date_desc."})
        descending = sort == "date_desc"
        limit = parse_limit(params.get("limit"))
        skip_zero = _flag(params.get("skip_zero_qty_line_items"), "skip_zero_qty_line_items")
        queryset = customer_invoices(
            customer=customer,
            status=status,
            contract_id=contract_id,
            starting_on=_timestamp(starting_on, "starting_on") if starting_on else None,
            ending_before=_timestamp(ending_before, "ending_before") if ending_before else None,
            descending=descending,
            invoice_type=kind,
        )
        if credit_type_id is not None:
            queryset = queryset.filter(credit_type_id=credit_type_id)
        rows, next_page = keyset_page(
            queryset,
            limit=limit,
            cursor=params.get("next_page"),
            time_field="start_timestamp",
            descending=descending,
        )
        with gc_paused():
            body = rendered_now({"data": _invoices_data(rows, skip_zero), "next_page": next_page})
        return Response(body)


class CustomerInvoiceDetailView(APIView):
    """GET /v1/customers/{customer_id}/invoices/{invoice_id}."""

    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="v1_customers_invoices_retrieve",
        tags=["Invoices"],
        parameters=[schema.SKIP_ZERO],
        responses={
            200: data_schema("InvoiceRetrieveResponse", schema.InvoiceDoc()),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str, invoice_id: uuid.UUID):
        invoice = customer_invoice_or_404(customer_id, invoice_id)
        skip_zero = _flag(
            request.query_params.get("skip_zero_qty_line_items"), "skip_zero_qty_line_items"
        )
        with gc_paused():
            body = rendered_now({"data": _invoices_data([invoice], skip_zero)[0]})
        return Response(body)


def _invoices_data(invoices: list[Invoice], skip_zero: bool) -> list[dict]:
    """The invoices on the wire, drafts rated now (the views call it inside `gc_paused()`:
    everything made here is freed once the answer is written, before the collector resumes)."""
    views = invoice_views(invoices=invoices, now=timezone.now())
    extra = invoice_extra_fields(invoices)
    return [
        invoice_data(view, skip_zero_qty_line_items=skip_zero, extra=extra.get(view.invoice.pk))
        for view in views
    ]


def _invoice_from_body(request) -> Invoice:
    body = request_body(request)
    if "id" not in body:
        raise exceptions.ValidationError({"id": "This field is required."})
    return get_or_404(Invoice.objects.all(), body["id"], field="id", label="Invoice")


class InvoiceVoidView(APIView):
    """POST /v1/invoices/void {"id"}: a FINALIZED invoice becomes VOID."""

    @extend_schema(
        operation_id="v1_invoices_void",
        tags=["Invoices"],
        request=schema.InvoiceIdIn,
        responses={200: id_schema("InvoiceVoidResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        invoice = _invoice_from_body(request)
        try:
            invoice = invoice_void(invoice=invoice, now=timezone.now())
        except InvoiceStateError as error:
            raise exceptions.ValidationError(error.messages[0]) from None
        return id_envelope(invoice)


class InvoiceRegenerateView(APIView):
    """POST /v1/invoices/regenerate {"id"}: a new DRAFT of a VOID invoice's period; its id back."""

    @extend_schema(
        operation_id="v1_invoices_regenerate",
        tags=["Invoices"],
        request=schema.InvoiceIdIn,
        responses={200: id_schema("InvoiceRegenerateResponse"), **error_responses(400, 404)},
    )
    def post(self, request):
        invoice = _invoice_from_body(request)
        try:
            new = invoice_regenerate(invoice=invoice, now=timezone.now())
        except InvoiceStateError as error:
            raise exceptions.ValidationError(error.messages[0]) from None
        return id_envelope(new)
