"""Usage reads in Metronome's wire format (reference section 3.1; SDK `v1.usage.list`,
`v1.usage.list_with_groups`, `v1.usage.search`).

- POST /v1/usage: per customer, metric and window (HOUR, DAY or NONE) the metric's value, and with
  `group_by` a `{group value: number|null}` map. Query-cursor pagination (`limit`, `next_page`).
- POST /v1/usage/groups: one metric and customer, per window and group of a key set of the metric
  (`group_key`, compound allowed; legacy `group_by`), optionally filtered (`group_filters`).
(POST /v1/events/search is in `metering.api.search`.)

`value` is null when no event matched in the window (Metronome: "null indicates that there were
no matches"). Windows are UTC; `starting_on` and `ending_before` must be on UTC midnight.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import BillableMetric
from catalog.money import to_json_number
from core.api import (
    _decode_cursor,
    _encode_cursor,
    error_responses,
    format_timestamp,
    get_or_404,
    parse_limit,
    parse_timestamp,
    request_body,
)
from customers.models import Customer
from customers.selectors import customer_current_period
from metering import selectors

WINDOWS = ("HOUR", "DAY", "NONE")
MAX_GROUP_VALUES = 200


def _window(body: dict) -> str:
    value = body.get("window_size")
    if value is None:
        raise exceptions.ValidationError({"window_size": "This field is required."})
    if not isinstance(value, str) or value.upper() not in WINDOWS:
        raise exceptions.ValidationError({"window_size": "Must be HOUR, DAY or NONE."})
    return value.upper()


def _midnight(body: dict, field: str) -> datetime:
    if body.get(field) is None:
        raise exceptions.ValidationError({field: "This field is required."})
    moment = parse_timestamp(body[field], field)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        raise exceptions.ValidationError(
            {field: "Must be on UTC midnight, e.g. 2024-01-01T00:00:00Z."}
        )
    return moment.astimezone(UTC)


def _range(body: dict) -> tuple[datetime, datetime]:
    start = _midnight(body, "starting_on")
    end = _midnight(body, "ending_before")
    if end < start + timedelta(days=1):
        raise exceptions.ValidationError(
            {"ending_before": "Must be at least one day after starting_on."}
        )
    return start, end


def _string_list(value, field: str, *, limit: int | None = None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise exceptions.ValidationError({field: "Must be a list of strings."})
    if limit is not None and len(value) > limit:
        raise exceptions.ValidationError({field: f"At most {limit} values."})
    return value


def _offset(request) -> int:
    cursor = request.query_params.get("next_page") or None
    if cursor is None:
        return 0
    payload = _decode_cursor(cursor, "next_page")
    start = payload.get("o") if isinstance(payload, dict) else None
    if not isinstance(start, int) or start < 0:
        raise exceptions.ValidationError({"next_page": "Not a cursor this server issued."})
    return start


def _number(value):
    return None if value is None else to_json_number(value)


_USAGE_ROW = inline_serializer(
    name="UsageRow",
    fields={
        "customer_id": serializers.CharField(),
        "billable_metric_id": serializers.CharField(),
        "billable_metric_name": serializers.CharField(),
        "start_timestamp": serializers.DateTimeField(),
        "end_timestamp": serializers.DateTimeField(),
        "value": serializers.FloatField(allow_null=True),
        "groups": serializers.DictField(allow_null=True, required=False),
    },
)


class UsageListView(APIView):
    """POST /v1/usage: usage per customer, billable metric and window."""

    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_usage_list",
        request=inline_serializer(
            name="UsageListRequest",
            fields={
                "starting_on": serializers.DateTimeField(),
                "ending_before": serializers.DateTimeField(),
                "window_size": serializers.ChoiceField(choices=WINDOWS),
                "customer_ids": serializers.ListField(
                    child=serializers.CharField(), required=False
                ),
                "billable_metrics": serializers.ListField(
                    child=serializers.DictField(), required=False
                ),
            },
        ),
        responses={
            200: inline_serializer(
                name="UsageListPage",
                fields={
                    "data": serializers.ListField(child=_USAGE_ROW),
                    "next_page": serializers.CharField(allow_null=True),
                },
            )
        }
        | error_responses(400, 401, 404),
    )
    def post(self, request):
        body = request_body(request)
        start, end = _range(body)
        window = _window(body)
        limit = parse_limit(request.query_params.get("limit"))
        offset = _offset(request)
        customers = self._customers(body)
        metrics = self._metrics(body)
        bounds = selectors.window_boundaries(start, end, window)
        per_pair = len(bounds) - 1
        pairs = [(c, m) for c in customers for m in metrics]
        total = len(pairs) * per_pair
        rows = []
        index = offset
        while index < min(offset + limit, total):
            customer, (metric, group_by) = pairs[index // per_pair]
            ids = selectors.customer_ingest_ids(customer=customer)
            overall = selectors.usage_by_segment(
                metric=metric, customer_ids=ids, boundaries=bounds, group_keys=[]
            )
            grouped = None
            if group_by is not None:
                grouped = selectors.usage_by_segment(
                    metric=metric, customer_ids=ids, boundaries=bounds, group_keys=[group_by[0]]
                )
            first = index % per_pair
            last = min(per_pair, first + (offset + limit - index))
            for w in range(first, last):
                rows.append(self._row(customer, metric, bounds, w, overall, grouped, group_by))
            index += last - first
        next_page = _encode_cursor({"o": index}) if index < total else None
        return Response({"data": rows, "next_page": next_page})

    @staticmethod
    def _row(customer, metric, bounds, w, overall, grouped, group_by) -> dict:
        row = {
            "customer_id": str(customer.pk),
            "billable_metric_id": str(metric.pk),
            "billable_metric_name": metric.name,
            "start_timestamp": format_timestamp(bounds[w]),
            "end_timestamp": format_timestamp(bounds[w + 1]),
            "value": _number(overall[w].get(())),
            "groups": None,
        }
        if grouped is not None:
            values = group_by[1]
            seen = grouped[w]
            if values is None:
                keys = sorted(g[0] for g in seen if g[0] is not None)[:MAX_GROUP_VALUES]
            else:
                keys = values
            row["groups"] = {key: _number(seen.get((key,))) for key in keys}
        return row

    @staticmethod
    def _customers(body: dict) -> list[Customer]:
        ids = body.get("customer_ids")
        if ids is None:
            return list(Customer.objects.order_by("created_at", "id"))
        ids = _string_list(ids, "customer_ids", limit=100)
        return [
            get_or_404(Customer, value, field="customer_ids", label="Customer")
            for value in dict.fromkeys(ids)
        ]

    @staticmethod
    def _metrics(body: dict) -> list[tuple[BillableMetric, tuple[str, list[str] | None] | None]]:
        items = body.get("billable_metrics")
        if items is None:
            return [(m, None) for m in BillableMetric.objects.active().order_by("name", "id")]
        if not isinstance(items, list):
            raise exceptions.ValidationError({"billable_metrics": "Must be a list."})
        result = []
        for position, item in enumerate(items):
            field = f"billable_metrics[{position}]"
            if not isinstance(item, dict):
                raise exceptions.ValidationError({field: "Must be an object with an id."})
            metric = get_or_404(
                BillableMetric, item.get("id"), field=f"{field}.id", label="Billable metric"
            )
            group_by = item.get("group_by")
            if group_by is None:
                result.append((metric, None))
                continue
            if not isinstance(group_by, dict) or not isinstance(group_by.get("key"), str):
                raise exceptions.ValidationError({f"{field}.group_by": "Needs a key."})
            key = group_by["key"]
            if key not in metric.all_group_keys:
                raise exceptions.ValidationError(
                    {f"{field}.group_by.key": f"'{key}' is not a group key of {metric.name}."}
                )
            values = group_by.get("values")
            if values is not None:
                values = _string_list(values, f"{field}.group_by.values", limit=MAX_GROUP_VALUES)
            result.append((metric, (key, values)))
        return result


_GROUP_ROW = inline_serializer(
    name="UsageGroupRow",
    fields={
        "starting_on": serializers.DateTimeField(),
        "ending_before": serializers.DateTimeField(),
        "value": serializers.FloatField(allow_null=True),
        "group_key": serializers.CharField(allow_null=True),
        "group_value": serializers.CharField(allow_null=True),
        "group": serializers.DictField(child=serializers.CharField(), allow_null=True),
    },
)


def current_period(customer: Customer, now: datetime) -> tuple[datetime, datetime]:
    """The customer's current billing period (`customers.selectors.customer_current_period`);
    400 when the customer has no contract in effect."""
    found = customer_current_period(customer=customer, now=now)
    if found is None:
        raise exceptions.ValidationError({"current_period": "The customer has no active contract."})
    starting_at, ending_before, _contract = found
    return starting_at, ending_before


class UsageGroupsView(APIView):
    """POST /v1/usage/groups: one metric for one customer, per window and group."""

    token_scope = "read"  # a POST that only reads

    @extend_schema(
        operation_id="v1_usage_list_with_groups",
        request=inline_serializer(
            name="UsageGroupsRequest",
            fields={
                "billable_metric_id": serializers.UUIDField(),
                "customer_id": serializers.UUIDField(),
                "window_size": serializers.ChoiceField(choices=WINDOWS),
                "starting_on": serializers.DateTimeField(required=False),
                "ending_before": serializers.DateTimeField(required=False),
                "current_period": serializers.BooleanField(required=False),
                "group_key": serializers.ListField(child=serializers.CharField(), required=False),
                "group_filters": serializers.DictField(required=False),
                "group_by": serializers.DictField(required=False),
            },
        ),
        responses={
            200: inline_serializer(
                name="UsageGroupsPage",
                fields={
                    "data": serializers.ListField(child=_GROUP_ROW),
                    "next_page": serializers.CharField(allow_null=True),
                },
            )
        }
        | error_responses(400, 401, 404),
    )
    def post(self, request):
        body = request_body(request)
        for field in ("billable_metric_id", "customer_id"):
            if body.get(field) is None:
                raise exceptions.ValidationError({field: "This field is required."})
        metric = get_or_404(
            BillableMetric,
            body["billable_metric_id"],
            field="billable_metric_id",
            label="Billable metric",
        )
        customer = get_or_404(Customer, body["customer_id"], field="customer_id", label="Customer")
        window = _window(body)
        start, end = self._period(body, customer)
        keys, filters = self._grouping(body, metric)
        limit = parse_limit(request.query_params.get("limit"))
        offset = _offset(request)
        bounds = selectors.window_boundaries(start, end, window)
        segments = selectors.metric_usage_by_segment(
            metric=metric, customer=customer, boundaries=bounds, group_keys=keys
        )
        rows = []
        for w, usage in enumerate(segments):
            if not keys:
                rows.append(self._row(bounds, w, usage.get(()), keys, ()))
                continue
            for group in sorted(usage, key=lambda g: tuple((v is None, v or "") for v in g)):
                if all(not wanted or group[i] in wanted for i, wanted in enumerate(filters)):
                    rows.append(self._row(bounds, w, usage[group], keys, group))
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return Response(
            {"data": page, "next_page": _encode_cursor({"o": offset + limit}) if more else None}
        )

    @staticmethod
    def _row(bounds, w, value, keys, group) -> dict:
        single = len(keys) == 1
        return {
            "starting_on": format_timestamp(bounds[w]),
            "ending_before": format_timestamp(bounds[w + 1]),
            "value": _number(value),
            "group_key": keys[0] if single else None,
            "group_value": group[0] if single else None,
            "group": {k: v for k, v in zip(keys, group, strict=True) if v is not None}
            if keys
            else None,
        }

    @staticmethod
    def _period(body: dict, customer: Customer) -> tuple[datetime, datetime]:
        flag = body.get("current_period")
        if flag is not None and not isinstance(flag, bool):
            raise exceptions.ValidationError({"current_period": "Must be true or false."})
        if flag:
            if body.get("starting_on") is not None or body.get("ending_before") is not None:
                raise exceptions.ValidationError(
                    {
                        "current_period": "Give either current_period or starting_on and "
                        "ending_before, not both."
                    }
                )
            return current_period(customer, timezone.now())
        if body.get("starting_on") is None or body.get("ending_before") is None:
            raise exceptions.ValidationError(
                {
                    "starting_on": "starting_on and ending_before are required unless "
                    "current_period is true."
                }
            )
        return _range(body)

    @staticmethod
    def _grouping(body: dict, metric: BillableMetric) -> tuple[list[str], list[set[str]]]:
        group_key = body.get("group_key")
        group_by = body.get("group_by")
        if group_key is not None and group_by is not None:
            raise exceptions.ValidationError({"group_by": "Use group_key or group_by, not both."})
        if group_by is not None:
            if not isinstance(group_by, dict) or not isinstance(group_by.get("key"), str):
                raise exceptions.ValidationError({"group_by": "Needs a key."})
            key = group_by["key"]
            if key not in metric.all_group_keys:
                raise exceptions.ValidationError(
                    {"group_by.key": f"'{key}' is not a group key of {metric.name}."}
                )
            values = group_by.get("values")
            wanted = (
                set(_string_list(values, "group_by.values", limit=MAX_GROUP_VALUES))
                if (values is not None)
                else set()
            )
            return [key], [wanted]
        if group_key is None:
            return [], []
        keys = _string_list(group_key, "group_key")
        if not keys or not metric.has_key_set(keys) or len(set(keys)) != len(keys):
            sets = "; ".join("[" + ", ".join(s) + "]" for s in metric.group_keys) or "none"
            raise exceptions.ValidationError(
                {"group_key": f"Must be one of the metric's group key sets: {sets}."}
            )
        filters = body.get("group_filters") or {}
        if not isinstance(filters, dict):
            raise exceptions.ValidationError({"group_filters": "Must be an object."})
        wanted: list[set[str]] = [set() for _ in keys]
        count = 0
        for key, values in filters.items():
            if key not in keys:
                raise exceptions.ValidationError({"group_filters": f"'{key}' is not in group_key."})
            values = _string_list(values, f"group_filters.{key}")
            count += len(values)
            wanted[keys.index(key)] = set(values)
        if count > MAX_GROUP_VALUES:
            raise exceptions.ValidationError(
                {"group_filters": f"At most {MAX_GROUP_VALUES} values in total."}
            )
        return keys, wanted
