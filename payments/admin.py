"""Getting paid in the admin: the "Billing providers" page (the Stripe connection; secrets are
write-only and shown masked), each invoice's payment status with its hand-off attempts and a
"retry now" action, the Stripe events received, and the revenue schedule download."""

from __future__ import annotations

import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django_q.tasks import async_task

from .models import BillingProviderConnection, HandoffAttempt, InvoicePayment, ProviderEvent
from .revenue import month_bounds, revenue_schedule
from .revenue.export import write_csv
from .services import invoice_payment_retry_now

SECRETS = ("secret_key", "webhook_secret")


class ConnectionForm(forms.ModelForm):
    """Secrets are entered, never shown: an empty field keeps the stored one."""

    secret_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="sk_live_... or sk_test_...; stored encrypted. Leave empty to keep the current one.",
    )
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="whsec_... of the endpoint /webhooks/stripe in Stripe's dashboard. Leave empty "
        "to keep the current one.",
    )

    class Meta:
        model = BillingProviderConnection
        fields = [
            "billing_provider",
            "secret_key",
            "webhook_secret",
            "default_collection_method",
            "handoff_delay_minutes",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored = {name: getattr(self.instance, name) for name in SECRETS}
        for name in SECRETS:
            self.initial[name] = ""

    def clean(self):
        data = super().clean()
        for name in SECRETS:
            if not data.get(name):
                data[name] = self._stored[name]
                setattr(self.instance, name, self._stored[name])
        return data


@admin.register(BillingProviderConnection)
class BillingProviderConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = [
        "__str__",
        "secret_key_hint",
        "webhook_secret_hint",
        "default_collection_method",
        "handoff_delay_minutes",
        "enabled",
    ]
    readonly_fields = ["secret_key_hint", "webhook_secret_hint", "webhook_url", "updated_at"]
    fieldsets = [
        (None, {"fields": ["billing_provider", "enabled"]}),
        (
            "Secrets (stored encrypted, shown masked)",
            {"fields": ["secret_key_hint", "secret_key", "webhook_secret_hint", "webhook_secret"]},
        ),
        (
            "Hand-off",
            {"fields": ["default_collection_method", "handoff_delay_minutes", "webhook_url"]},
        ),
        ("More", {"fields": ["updated_at"]}),
    ]

    @admin.display(description="secret key")
    def secret_key_hint(self, obj) -> str:
        return obj.secret_key_hint or "-"

    @admin.display(description="webhook signing secret")
    def webhook_secret_hint(self, obj) -> str:
        return obj.webhook_secret_hint or "-"

    @admin.display(description="webhook endpoint for Stripe")
    def webhook_url(self, obj) -> str:
        return format_html("<code>{}</code>", "https://<this host>/webhooks/stripe")


class HandoffAttemptInline(admin.TabularInline):
    model = HandoffAttempt
    extra = 0
    can_delete = False
    fields = ["action", "started_at", "provider_calls", "succeeded", "error"]
    readonly_fields = fields
    verbose_name_plural = "hand-off attempts"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HasErrorFilter(admin.SimpleListFilter):
    title = "error"
    parameter_name = "error"

    def lookups(self, request, model_admin):
        return [("yes", "With an error"), ("no", "Without")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(last_error="")
        if self.value() == "no":
            return queryset.filter(last_error="")
        return queryset


class RevenueMonthForm(forms.Form):
    month = forms.RegexField(
        regex=r"^\d{4}-\d{2}$",
        help_text="YYYY-MM (UTC days).",
        error_messages={"invalid": "YYYY-MM"},
    )

    def clean_month(self):
        month = self.cleaned_data["month"]
        try:
            month_bounds(month)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return month


@admin.register(InvoicePayment)
class InvoicePaymentAdmin(admin.ModelAdmin):
    list_display = [
        "invoice",
        "status",
        "billing_provider",
        "external_id",
        "send_after",
        "sent_at",
        "error_short",
        "next_attempt_at",
    ]
    list_filter = ["status", HasErrorFilter, "billing_provider"]
    search_fields = ["=external_id", "invoice__customer__name", "=invoice__number"]
    list_select_related = ["invoice__customer"]
    actions = ["retry_now"]
    inlines = [HandoffAttemptInline]
    readonly_fields = [
        "invoice",
        "status",
        "status_changed_at",
        "billing_provider",
        "provider_customer_id",
        "collection_method",
        "external_id",
        "external_payment_id",
        "invoiced_total",
        "currency",
        "hosted_link",
        "send_after",
        "sent_at",
        "void_requested_at",
        "attempts",
        "next_attempt_at",
        "last_error",
        "last_error_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="error")
    def error_short(self, obj) -> str:
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="in Stripe")
    def hosted_link(self, obj) -> str:
        if not obj.hosted_invoice_url:
            return "-"
        return format_html('<a href="{}">{}</a>', obj.hosted_invoice_url, obj.hosted_invoice_url)

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset):
        now = timezone.now()
        count = 0
        for payment in queryset.exclude(status=InvoicePayment.Status.VOIDED):
            invoice_payment_retry_now(payment=payment, now=now)
            async_task("payments.tasks.send_invoice_payment", str(payment.pk))
            count += 1
        self.message_user(
            request, f"{count} payment(s) handed to a worker to send now.", messages.SUCCESS
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.revenue_schedule_view)
        return [
            path("revenue-schedule/", view, name="payments_revenue_schedule"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"revenue_schedule_url": reverse("admin:payments_revenue_schedule")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def revenue_schedule_view(self, request):
        """The month's revenue schedule as CSV (needs the permission to view invoices)."""
        if not request.user.has_perm("invoicing.view_invoice"):
            raise PermissionDenied
        form = RevenueMonthForm(request.GET or None)
        if form.is_valid():
            month = form.cleaned_data["month"]
            start, end = month_bounds(month)
            out = io.StringIO()
            write_csv(revenue_schedule(starting_at=start, ending_before=end), out)
            response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="revenue-{month}.csv"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": "Revenue schedule",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/payments/revenue_schedule.html", context)


@admin.register(ProviderEvent)
class ProviderEventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "occurred_at", "received_at", "invoice", "outcome", "note"]
    list_filter = ["outcome", "type"]
    search_fields = ["=id", "=external_invoice_id"]
    readonly_fields = [
        "id",
        "billing_provider",
        "type",
        "occurred_at",
        "received_at",
        "external_invoice_id",
        "invoice",
        "outcome",
        "note",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
