"""Alerts and notification configurations in Metronome's response shapes."""

from __future__ import annotations

from catalog import money
from catalog.api.presenters import credit_type_json
from core.api import format_timestamp

from ..models import Alert, CustomerAlert, OffsetNotification


def alert_json(alert: Alert, state: CustomerAlert | None) -> dict:
    data = {
        "id": str(alert.pk),
        "name": alert.name,
        "status": alert.status,
        "threshold": money.to_json_number(alert.threshold),
        "type": alert.type,
        "updated_at": format_timestamp(state.updated_at if state else alert.updated_at),
        # A QUANTITY balance alert counts units, in no pricing unit.
        "credit_type": None if alert.counts_units else credit_type_json(alert.credit_type),
        "uniqueness_key": alert.uniqueness_key,
        "customer_id": str(alert.customer_id) if alert.customer_id else None,
    }
    if alert.type in Alert.AMOUNT_TYPES:
        data["access_type"] = alert.access_type
    if alert.billable_metric_id:
        data["billable_metric_id"] = str(alert.billable_metric_id)
    if alert.group_values:
        data["group_values"] = alert.group_values
    if alert.invoice_types_filter:
        data["invoice_types_filter"] = alert.invoice_types_filter
    if alert.custom_field_filters:
        data["custom_field_filters"] = alert.custom_field_filters
    if alert.alert_specifiers:
        data["alert_specifiers"] = alert.alert_specifiers
    return {k: v for k, v in data.items() if v is not None}


def customer_alert_json(
    alert: Alert, state: CustomerAlert | None, *, subject: str | None = None
) -> dict:
    """`customer_status` is null for an archived alert; `evaluating` until first evaluated.
    With `subject` (one group of a grouped balance alert), the status is that group's:
    `in_alarm` while it is among the alarmed subjects."""
    if alert.status == Alert.Status.ARCHIVED:
        status = None
    else:
        status = state.status if state else CustomerAlert.Status.EVALUATING
    alarmed = state.alarmed if state else []
    if subject is not None and status == CustomerAlert.Status.IN_ALARM:
        status = CustomerAlert.Status.IN_ALARM if subject in alarmed else CustomerAlert.Status.OK
    data = {"alert": alert_json(alert, state), "customer_status": status}
    # The reason kept is the latest crossing's: said for a group only when it is that one.
    told = subject is None or alarmed == [subject]
    if state and state.triggered_by and status == CustomerAlert.Status.IN_ALARM and told:
        data["triggered_by"] = state.triggered_by
    return data


def offset_json(config: OffsetNotification) -> dict:
    return {
        "id": str(config.pk),
        "name": config.name,
        "created_at": format_timestamp(config.created_at),
        "created_by": config.created_by,
        "environment_type": "PRODUCTION",
        "policy": {"type": config.policy_type, "offset": config.offset},
        "type": "offset",
        "archived_at": format_timestamp(config.archived_at),
    }


def system_json(event_type: str, is_enabled: bool) -> dict:
    return {"policy": {"type": event_type}, "type": "system", "is_enabled": is_enabled}
