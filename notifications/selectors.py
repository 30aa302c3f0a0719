"""Reads for the API and the admin: a customer's alerts with their state, endpoints' health."""

from __future__ import annotations

from django.db.models import Count, Max, Q

from customers.models import Customer

from .models import Alert, CustomerAlert, WebhookDelivery, WebhookEndpoint


def customer_alerts(*, customer: Customer, statuses=("enabled",)):
    """The alerts that watch `customer` (its own and the global ones) with these statuses."""
    return (
        Alert.objects.filter(Q(customer=customer) | Q(customer__isnull=True))
        .filter(status__in=list(statuses))
        .select_related("credit_type", "billable_metric")
    )


def customer_alert_states(*, customer: Customer, alerts) -> dict:
    """{alert id: CustomerAlert} for those alerts that have a state for the customer."""
    return {
        s.alert_id: s
        for s in CustomerAlert.objects.filter(customer=customer, alert__in=list(alerts))
    }


def endpoints_failures(*, endpoints) -> dict:
    """{endpoint id: (failed deliveries, last failure)} for the warning on the endpoint pages."""
    rows = (
        WebhookDelivery.objects.filter(
            endpoint__in=list(endpoints), status=WebhookDelivery.Status.FAILED
        )
        .values("endpoint_id")
        .annotate(count=Count("id"), last=Max("created_at"))
    )
    return {row["endpoint_id"]: (row["count"], row["last"]) for row in rows}


def endpoints_enabled() -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(enabled=True))
