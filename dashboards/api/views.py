"""Customer-facing endpoints: an invoice's PDF (reference 3.7) and embeddable dashboard URLs."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from dashboards.pdf import document_pdf, pdf_filename
from dashboards.selectors import invoice_document_for
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
            (200, "application/pdf"): OpenApiResponse(description="The invoice as a PDF file."),
            **error_responses(400, 404),
        },
    )
    def get(self, request, customer_id: str, invoice_id: str):
        invoice = customer_invoice_or_404(customer_id, invoice_id)
        doc = invoice_document_for(invoice=invoice, now=timezone.now())
        response = HttpResponse(document_pdf(doc), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{pdf_filename(doc)}"'
        return response
