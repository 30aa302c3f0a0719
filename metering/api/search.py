"""POST /v1/events/search (SDK `v1.usage.search`): events received in the last 34 days under the
given transaction ids, as a bare JSON array, with the customer each resolves to now, the metrics it
matches now, and `is_duplicate` for copies that arrived under an already accepted id. The SDK sends
the ids as `transactionIds`; `transaction_ids` is accepted too. Throttled (scope `events_search`).
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from catalog.models import BillableMetric
from core.api import error_responses, format_timestamp, request_body
from metering import selectors

from .usage import _string_list

_FOUND_EVENTS = inline_serializer(
    name="EventsSearchRecord",
    fields={
        "id": serializers.CharField(),
        "transaction_id": serializers.CharField(),
        "customer_id": serializers.CharField(),
        "event_type": serializers.CharField(),
        "timestamp": serializers.DateTimeField(),
        "properties": serializers.DictField(),
        "processed_at": serializers.DateTimeField(),
        "is_duplicate": serializers.BooleanField(),
        "matched_customer": inline_serializer(
            name="EventsSearchCustomer",
            fields={"id": serializers.UUIDField(), "name": serializers.CharField()},
            required=False,
            allow_null=True,
        ),
        "matched_billable_metrics": inline_serializer(
            name="EventsSearchMetric",
            fields={"id": serializers.UUIDField(), "name": serializers.CharField()},
            many=True,
            required=False,
        ),
    },
    many=True,
)


def _metric_json(metric: BillableMetric) -> dict:
    event_type_filter = {k: v for k, v in (metric.event_type_filter or {}).items() if v}
    return {
        "id": str(metric.pk),
        "name": metric.name,
        "aggregation_type": metric.aggregation_type,
        "aggregation_key": metric.aggregation_key or None,
        "event_type_filter": event_type_filter or None,
        "property_filters": [
            {k: v for k, v in rule.items() if v is not None}
            for rule in metric.property_filters or []
        ],
        "group_keys": metric.group_keys or [],
        "custom_fields": {str(k): str(v) for k, v in (metric.custom_fields or {}).items()},
        "archived_at": format_timestamp(metric.archived_at),
    }


class EventsSearchView(APIView):
    """POST /v1/events/search: a bare JSON array of the events with these transaction ids."""

    token_scope = "read"  # a POST that only reads

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "events_search"

    @extend_schema(
        operation_id="v1_usage_search",
        request=inline_serializer(
            name="EventsSearchRequest",
            fields={"transactionIds": serializers.ListField(child=serializers.CharField())},
        ),
        responses={200: _FOUND_EVENTS} | error_responses(400, 401, 429),
    )
    def post(self, request):
        body = request_body(request)
        field = "transactionIds" if "transactionIds" in body else "transaction_ids"
        ids = body.get(field)
        if ids is None:
            raise exceptions.ValidationError({"transactionIds": "This field is required."})
        ids = _string_list(ids, field, limit=100)
        found = selectors.usage_events_search(transaction_ids=ids, now=timezone.now())
        return Response([self._event(e) for e in found])

    @staticmethod
    def _event(event: selectors.FoundEvent) -> dict:
        return {
            "id": str(event.id),
            "transaction_id": event.transaction_id,
            "customer_id": event.customer_id,
            "event_type": event.event_type,
            "timestamp": format_timestamp(event.timestamp),
            "properties": event.properties,
            "processed_at": format_timestamp(event.received_at),
            "is_duplicate": event.is_duplicate,
            "matched_customer": (
                {"id": str(event.customer.pk), "name": event.customer.name}
                if event.customer is not None
                else None
            ),
            "matched_billable_metrics": [_metric_json(m) for m in event.metrics],
        }
