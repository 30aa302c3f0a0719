"""Customer-facing endpoints: an invoice's PDF (reference 3.7) and embeddable dashboard URLs."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    data_schema,
    envelope,
    error_responses,
    get_or_404,
    request_body,
    validated,
)
from customers.models import Customer
from dashboards.embed import EmbedError, embed_of, embed_token
from dashboards.pdf import document_pdf, pdf_filename
from dashboards.selectors import invoice_document_for
from dashboards.views import embed_url
from invoicing.api.views import customer_invoice_or_404


class PdfRenderer(BaseRenderer):
    """Lets `Accept: application/pdf` (the SDK's `retrieve_pdf`) through content negotiation."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class JsonErrorsMixin:
    """Errors are `{"message": ...}` JSON whatever the request accepted."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and getattr(request, "accepted_renderer", None):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class InvoicePdfView(JsonErrorsMixin, APIView):
    """GET /v1/customers/{customer_id}/invoices/{invoice_id}/pdf: the invoice document as PDF
    (a finalized invoice's from its frozen lines and parties; a draft's as of now)."""

    renderer_classes = [PdfRenderer, JSONRenderer]

    @extend_schema(
        operation_id="v1_customers_invoices_retrieve_pdf",
        tags=["Invoices"],
        responses={
            (200, "application/pdf"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="The invoice as a PDF file."
            ),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str, invoice_id: str):
        invoice = customer_invoice_or_404(customer_id, invoice_id)
        doc = invoice_document_for(invoice=invoice, now=timezone.now())
        response = HttpResponse(document_pdf(doc), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{pdf_filename(doc)}"'
        return response


class EmbeddableUrlIn(serializers.Serializer):
    customer_id = serializers.UUIDField()
    dashboard = serializers.CharField()
    color_overrides = serializers.ListField(child=serializers.DictField(), required=False)
    dashboard_options = serializers.ListField(child=serializers.DictField(), required=False)
    bm_group_key_overrides = serializers.ListField(child=serializers.DictField(), required=False)


class EmbeddableUrlView(APIView):
    """POST /v1/dashboards/getEmbeddableUrl: a URL of this server showing one customer's
    invoices, usage, or commits and credits, read-only and without a login, for 24 hours."""

    @extend_schema(
        operation_id="v1_dashboards_get_embeddable_url",
        tags=["Dashboards"],
        request=EmbeddableUrlIn,
        responses={
            200: data_schema(
                "DashboardGetEmbeddableUrlResponse",
                inline_serializer(name="EmbeddableUrl", fields={"url": serializers.URLField()}),
            ),
            **error_responses(400, 404),
        },
    )
    def post(self, request):
        data = validated(EmbeddableUrlIn, request_body(request))
        customer = get_or_404(
            Customer.objects.all(), data["customer_id"], field="customer_id", label="Customer"
        )
        try:
            embed = embed_of(
                customer_id=str(customer.pk),
                dashboard=data["dashboard"],
                color_overrides=data.get("color_overrides"),
                dashboard_options=data.get("dashboard_options"),
                bm_group_key_overrides=data.get("bm_group_key_overrides"),
            )
        except EmbedError as error:
            raise exceptions.ValidationError({error.field: str(error)}) from None
        contract_id = embed.options.get("contract_id")
        if contract_id and not customer.contracts.filter(pk=contract_id).exists():
            raise exceptions.ValidationError(
                {"dashboard_options": f"Contract {contract_id} is not a contract of this customer."}
            )
        path = reverse("dashboards:embed", args=[embed_token(embed)])
        return envelope({"url": embed_url(request, path)})
