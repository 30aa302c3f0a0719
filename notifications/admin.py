"""The "Developers" section: webhook endpoints (secret shown once, rotation, test event),
the delivery log (payload, every attempt, resend), threshold alerts; and each customer's alerts
with their state on the customer page."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin_forms import admin_link, split_names
from customers.admin.customers import customer_panel

from . import selectors, services
from .models import Alert, DeliveryAttempt, WebhookDelivery, WebhookEndpoint

SECRET_MESSAGE = (
    "Signing secret of {endpoint} (shown once; store it where your receiver verifies "
    "webhooks): {secret}"
)


class EventTypesField(forms.CharField):
    """Event type names separated by commas or spaces; empty: every event."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            widget=forms.TextInput(attrs={"size": 80}),
            help_text="e.g. invoice.finalized, contract.*, alerts.* (empty: every event type)",
            **kwargs,
        )

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return sorted(set(split_names(value or "")))


class WebhookEndpointForm(forms.ModelForm):
    event_types = EventTypesField()

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "enabled"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "subscribed", "enabled", "health", "secret_hint"]
    list_filter = ["enabled"]
    search_fields = ["url", "description"]
    readonly_fields = ["secret_hint", "health", "disabled_reason", "created_at", "recent"]
    actions = ["send_test_event", "rotate_secret", "enable_again"]

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "event_types", "enabled"]
        if obj is None:
            return fields
        return [*fields, "secret_hint", "health", "disabled_reason", "created_at", "recent"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        endpoint, secret = services.webhook_endpoint_create(
            url=obj.url,
            description=obj.description,
            event_types=obj.event_types,
            enabled=obj.enabled,
        )
        obj.pk = endpoint.pk
        obj._state.adding = False
        obj.secret = endpoint.secret
        self.message_user(
            request, SECRET_MESSAGE.format(endpoint=endpoint, secret=secret), messages.WARNING
        )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        self._failures = None
        return queryset

    def _failures_of(self, obj):
        if getattr(self, "_failures", None) is None:
            self._failures = selectors.endpoints_failures(endpoints=WebhookEndpoint.objects.all())
        return self._failures.get(obj.pk)

    @admin.display(description="event types")
    def subscribed(self, obj) -> str:
        return ", ".join(obj.event_types) or "all"

    @admin.display(description="signing secret")
    def secret_hint(self, obj) -> str:
        return obj.secret_hint

    @admin.display(description="health")
    def health(self, obj) -> str:
        if not obj.enabled and obj.disabled_reason:
            return format_html('<span class="errornote">{}</span>', obj.disabled_reason)
        failed = self._failures_of(obj)
        if failed:
            count, last = failed
            return format_html(
                '<span class="errornote">⚠ {} deliver{} failed after 72 hours of retries '
                "(last made {} UTC)</span>",
                count,
                "y" if count == 1 else "ies",
                f"{last:%Y-%m-%d %H:%M}",
            )
        if obj.failing_since:
            return f"Failing since {obj.failing_since:%Y-%m-%d %H:%M} UTC (retrying)"
        return "OK"

    @admin.display(description="recent deliveries")
    def recent(self, obj) -> str:
        url = reverse("admin:notifications_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">Delivery log</a>', url, obj.pk)

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test_event(self, request, queryset):
        now = timezone.now()
        for endpoint in queryset:
            services.webhook_endpoint_send_test(endpoint=endpoint, now=now)
        self.message_user(
            request, f"Test event queued for {queryset.count()} endpoint(s).", messages.SUCCESS
        )

    @admin.action(
        description="Rotate the signing secret (the old one signs 24 more hours)",
        permissions=["change"],
    )
    def rotate_secret(self, request, queryset):
        now = timezone.now()
        for endpoint in queryset:
            secret = services.webhook_endpoint_rotate_secret(endpoint=endpoint, now=now)
            self.message_user(
                request, SECRET_MESSAGE.format(endpoint=endpoint, secret=secret), messages.WARNING
            )

    @admin.action(description="Enable again", permissions=["change"])
    def enable_again(self, request, queryset):
        for endpoint in queryset:
            services.webhook_endpoint_enable(endpoint=endpoint)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).", messages.SUCCESS)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["attempted_at", "status_code", "latency_ms", "error", "response"]
    readonly_fields = fields
    verbose_name_plural = "attempts"

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Attempts are part of the delivery: whoever may see the delivery sees them.
        return request.user.has_perm("notifications.view_webhookdelivery")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event_type", "endpoint", "status", "attempts", "delivered_at"]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["message_id", "event_type", "customer_id"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["resend"]
    fields = [
        "endpoint_link",
        "message_id",
        "event_type",
        "customer_id",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "give_up_at",
        "delivered_at",
        "payload",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("endpoint")

    @admin.display(description="endpoint")
    def endpoint_link(self, obj) -> str:
        return admin_link(obj.endpoint)

    @admin.display(description="payload")
    def payload(self, obj) -> str:
        return format_html(
            '<pre class="json-box">{}</pre>', json.dumps(json.loads(obj.body), indent=2)
        )

    @admin.action(description="Resend (same webhook-id)", permissions=["change"])
    def resend(self, request, queryset):
        now = timezone.now()
        for delivery in queryset:
            services.delivery_resend(delivery=delivery, now=now)
        self.message_user(request, f"Resending {queryset.count()} deliveries.", messages.SUCCESS)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "threshold", "customer", "status", "created_at"]
    list_filter = ["status", "type"]
    search_fields = ["name", "customer__name"]
    fields = [
        "name",
        "type",
        "threshold",
        "customer",
        "billable_metric",
        "credit_type",
        "access_type",
        "group_values",
        "invoice_types_filter",
        "custom_field_filters_shown",
        "alert_specifiers_shown",
        "status",
        "uniqueness_key",
        "created_at",
        "archived_at",
    ]
    readonly_fields = fields
    actions = ["archive"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="custom field filters")
    def custom_field_filters_shown(self, obj) -> str:
        return obj.custom_field_filters_label or "—"

    @admin.display(description="alert specifiers (balances counted)")
    def alert_specifiers_shown(self, obj) -> str:
        return obj.alert_specifiers_label or "—"

    @admin.action(description="Archive selected alerts", permissions=["change"])
    def archive(self, request, queryset):
        now = timezone.now()
        for alert in queryset:
            services.alert_archive(alert=alert, release_uniqueness_key=False, now=now)
        self.message_user(request, f"Archived {queryset.count()} alert(s).", messages.SUCCESS)


@customer_panel("Threshold alerts")
def customer_alerts_panel(customer) -> str:
    alerts = list(selectors.customer_alerts(customer=customer).order_by("created_at"))
    states = selectors.customer_alert_states(customer=customer, alerts=alerts)
    rows = []
    for alert in alerts:
        state = states.get(alert.pk)
        rows.append(
            {
                "alert": alert,
                "url": reverse("admin:notifications_alert_change", args=[alert.pk]),
                "scope": "this customer" if alert.customer_id else "every customer",
                "status": state.get_status_display() if state else "Evaluating",
                "in_alarm": bool(state and state.status == "in_alarm"),
                "value": state.value if state else None,
                "triggered_by": state.triggered_by if state else "",
                "evaluated_at": state.evaluated_at if state else None,
            }
        )
    return render_to_string("admin/notifications/customer_alerts.html", {"rows": rows})
