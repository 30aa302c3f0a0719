"""The customer-facing app in the admin: the company profile (one row) and, on the invoice page,
the invoice document as the customer receives it (page and PDF download)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from invoicing.admin import InvoiceAdmin
from invoicing.models import Invoice

from . import services
from .document import CUSTOMER, STAFF
from .models import CompanyProfile
from .pdf import TEMPLATE, document_pdf, pdf_filename
from .selectors import invoice_document_for

LOGO_MAX_BYTES = 512 * 1024


class CompanyProfileForm(forms.ModelForm):
    logo_upload = forms.FileField(
        required=False,
        label="Logo",
        help_text="PNG, JPEG, GIF or WebP, at most 512 KB; printed at the top left of invoices.",
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the logo")

    class Meta:
        model = CompanyProfile
        fields = [
            "name",
            "address",
            "tax_id",
            "email",
            "payment_instructions",
            "invoice_number_prefix",
        ]

    def clean_logo_upload(self):
        upload = self.cleaned_data.get("logo_upload")
        if not upload:
            return None
        if upload.size > LOGO_MAX_BYTES:
            raise ValidationError("The logo is larger than 512 KB.")
        data = upload.read()
        try:
            return services.logo_image(data)
        except ValueError as error:
            raise ValidationError(str(error)) from None


@admin.register(CompanyProfile)
class CompanyProfileAdmin(admin.ModelAdmin):
    """One row: it can be added while there is none, and never deleted."""

    form = CompanyProfileForm
    readonly_fields = ["logo_preview", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "address", "tax_id", "email"]}),
        ("Logo", {"fields": ["logo_preview", "logo_upload", "remove_logo"]}),
        ("On every invoice", {"fields": ["payment_instructions", "invoice_number_prefix"]}),
        (None, {"fields": ["updated_at"]}),
    ]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not CompanyProfile.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.company_profile_save(
            profile=obj,
            logo=form.cleaned_data.get("logo_upload"),
            remove_logo=form.cleaned_data.get("remove_logo", False),
        )

    @admin.display(description="Current logo")
    def logo_preview(self, obj) -> str:
        if obj is None or obj.logo_id is None:
            return "No logo."
        return format_html(
            '<img src="{}" alt="logo" style="max-height:52px">',
            reverse("admin:dashboards_companyprofile_logo", args=[obj.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/logo/",
                self.admin_site.admin_view(self.logo_view),
                name="dashboards_companyprofile_logo",
            ),
            *super().get_urls(),
        ]

    def logo_view(self, request, object_id):
        profile = get_object_or_404(CompanyProfile.objects.select_related("logo"), pk=object_id)
        if not self.has_view_permission(request, profile) or profile.logo is None:
            raise PermissionDenied
        return HttpResponse(bytes(profile.logo.data), content_type=profile.logo.content_type)


# The invoice page, with the document. Registered again over invoicing's own admin: the document
# needs the company profile, which lives here, above invoicing.
admin.site.unregister(Invoice)


@admin.register(Invoice)
class InvoiceDocumentAdmin(InvoiceAdmin):
    # "Invoice document" and "Download PDF" buttons at the top of the page.
    change_form_template = "admin/dashboards/invoice_change_form.html"

    def get_fieldsets(self, request, obj=None):
        (name, options), *rest = super().get_fieldsets(request, obj)
        return [(name, {**options, "fields": [*options["fields"], "document"]}), *rest]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "document"]

    @admin.display(description="Invoice document")
    def document(self, obj):
        if obj.pk is None:
            return ""
        return format_html(
            '<a href="{}" target="_blank">Open the invoice document</a> &middot; '
            '<a href="{}">Download the PDF</a>',
            reverse("admin:invoicing_invoice_print", args=[obj.pk]),
            reverse("admin:invoicing_invoice_pdf", args=[obj.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/document/",
                self.admin_site.admin_view(self.document_view),
                name="invoicing_invoice_print",
            ),
            path(
                "<path:object_id>/document.pdf",
                self.admin_site.admin_view(self.pdf_view),
                name="invoicing_invoice_pdf",
            ),
            *super().get_urls(),
        ]

    def _invoice(self, request, object_id) -> Invoice:
        invoice = get_object_or_404(
            Invoice.objects.select_related("customer", "contract", "credit_type"), pk=object_id
        )
        if not self.has_view_permission(request, invoice):
            raise PermissionDenied
        return invoice

    def document_view(self, request, object_id):
        """The customer's copy; `?lines=all` adds, in grey, the lines the customer's copy leaves
        out (usage without a price, zero amounts)."""
        invoice = self._invoice(request, object_id)
        staff = request.GET.get("lines") == "all"
        doc = invoice_document_for(
            invoice=invoice, now=timezone.now(), audience=STAFF if staff else CUSTOMER
        )
        here = reverse("admin:invoicing_invoice_print", args=[invoice.pk])
        actions = [
            {"label": "Print", "url": "#", "print": True},
            {
                "label": "Download PDF",
                "url": reverse("admin:invoicing_invoice_pdf", args=[invoice.pk]),
            },
            {"label": "Customer's copy", "url": here}
            if staff
            else {"label": "Show every line (staff)", "url": f"{here}?lines=all"},
        ]
        return TemplateResponse(request, TEMPLATE, {"doc": doc, "actions": actions})

    def pdf_view(self, request, object_id):
        invoice = self._invoice(request, object_id)
        doc = invoice_document_for(invoice=invoice, now=timezone.now())
        response = HttpResponse(document_pdf(doc), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{pdf_filename(doc)}"'
        return response
