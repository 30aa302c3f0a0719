"""Usage in the admin: read-only events, unattributed ids, and the sandbox "send test event" form.

The event list never counts the whole table on a page load: `show_full_result_count` is off and
the paginator uses PostgreSQL's row estimate for the unfiltered table and a bounded count
(at most 10,001) for filtered lists. Search is exact (`=`) on transaction id and customer id so it
uses their indexes; the event-type filter offers the metrics' event types and those of recent
events instead of a DISTINCT over the whole table.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property

from catalog import money
from catalog.models import BillableMetric, Product
from catalog.selectors import product_quantity, product_unit_label
from customers.models import Contract, Customer

from . import selectors, services
from .definitions import CompiledMetric, numeric_value
from .models import PropertiesEncoder, UsageEvent
from .stores import event_store
from .validation import MAX_AGE, MAX_AHEAD, parse_timestamp

COUNT_LIMIT = 10_000
STORE_PAGE = 50


def _cursor(value: str) -> tuple[datetime, str] | None:
    """The (timestamp, transaction id) after which the next page of the store's list starts."""
    moment, _, transaction_id = value.partition("|")
    parsed = parse_timestamp(moment) if moment else None
    return (parsed, transaction_id) if parsed is not None else None


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs COUNT(*) over the whole events table."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if (
            connection.vendor == "postgresql"
            and query is not None
            and not query.where
            and queryset.model is UsageEvent
        ):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [UsageEvent._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > COUNT_LIMIT:
                return int(row[0])
        return queryset[: COUNT_LIMIT + 1].count()


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        types: set[str] = set()
        for metric in BillableMetric.objects.all():
            types.update(metric.event_types_in)
        recent = UsageEvent.objects.order_by("-timestamp").values_list("event_type", flat=True)
        types.update(recent[:1000])
        return [(t, t) for t in sorted(types)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(event_type=self.value())
        return queryset


class AttributionFilter(admin.SimpleListFilter):
    title = "customer"
    parameter_name = "attribution"

    def lookups(self, request, model_admin):
        return [("unattributed", "Unattributed (no customer or alias has the id)")]

    def queryset(self, request, queryset):
        if self.value() == "unattributed":
            ids = [row.customer_id for row in selectors.unattributed_customer_ids(limit=1000)]
            return queryset.filter(customer_id__in=ids)
        return queryset


@admin.register(UsageEvent)
class UsageEventAdmin(admin.ModelAdmin):
    list_display = (
        "timestamp",
        "event_type",
        "customer_id",
        "transaction_id",
        "received_at",
        "is_late",
    )
    list_filter = (EventTypeFilter, ("timestamp", admin.DateFieldListFilter), AttributionFilter)
    search_fields = ("=transaction_id", "=customer_id")
    search_help_text = "Exact transaction id or customer id (as sent: a customer id or an alias)."
    ordering = ("-timestamp",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    fields = (
        "transaction_id",
        "customer_id",
        "event_type",
        "timestamp",
        "properties",
        "received_at",
        "is_late",
    )
    readonly_fields = fields
    change_list_template = "admin/metering/usageevent/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if event_store().name == "relational":
            return super().changelist_view(request, extra_context)
        return self.store_list_view(request)

    def store_list_view(self, request):
        """The event list read from a store other than the relational tables (ClickHouse):
        exact search, event type, unattributed ids, newest first, a page at a time by cursor."""
        if not self.has_view_permission(request):
            return redirect("admin:index")
        q = request.GET.get("q", "").strip()
        event_type = request.GET.get("event_type") or None
        unattributed = request.GET.get("attribution") == "unattributed"
        customer_ids = None
        if unattributed:
            customer_ids = [row.customer_id for row in selectors.unattributed_customer_ids()]
        before = _cursor(request.GET.get("before", ""))
        filters = {"event_type": event_type, "before": before, "limit": STORE_PAGE + 1}
        events = []
        if q:
            events = selectors.recent_events(customer_ids=customer_ids, transaction_id=q, **filters)
            if not events and (customer_ids is None or q in customer_ids):
                events = selectors.recent_events(customer_ids=[q], **filters)
        else:
            events = selectors.recent_events(customer_ids=customer_ids, **filters)
        next_url = None
        if len(events) > STORE_PAGE:
            events = events[:STORE_PAGE]
            last = events[-1]
            query = request.GET.copy()
            query["before"] = f"{last.timestamp.isoformat()}|{last.transaction_id}"
            next_url = f"?{query.urlencode()}"
        types = {t for m in BillableMetric.objects.all() for t in m.event_types_in}
        types.update(e.event_type for e in selectors.recent_events(limit=1000))
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage events",
            "opts": self.model._meta,
            "store_name": "ClickHouse",
            "events": [(e, json.dumps(e.properties, cls=PropertiesEncoder)) for e in events],
            "q": q,
            "event_type": event_type or "",
            "event_types": sorted(types),
            "unattributed": unattributed,
            "next_url": next_url,
        }
        return TemplateResponse(request, "admin/metering/usageevent/store_list.html", context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "send-test-event/<uuid:contract_id>/<uuid:product_id>/",
                wrap(self.send_test_event_view),
                name="metering_send_test_event",
            ),
            path(
                "unattributed/",
                wrap(self.unattributed_view),
                name="metering_usageevent_unattributed",
            ),
            *super().get_urls(),
        ]

    def has_send_test_event_permission(self, request) -> bool:
        return request.user.has_perm("metering.send_test_event")

    def unattributed_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = selectors.unattributed_customer_ids()
        changelist = reverse("admin:metering_usageevent_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Unattributed usage events",
            "opts": self.model._meta,
            "rows": [(row, f"{changelist}?q={row.customer_id}") for row in rows],
            "customer_add_url": reverse("admin:customers_customer_add"),
        }
        return TemplateResponse(request, "admin/metering/unattributed.html", context)

    def send_test_event_view(self, request, contract_id, product_id):
        if not self.has_send_test_event_permission(request):
            raise PermissionDenied
        contract = get_object_or_404(Contract.objects.select_related("customer"), pk=contract_id)
        product = get_object_or_404(
            Product.objects.select_related("billable_metric"), pk=product_id
        )
        contract_url = reverse("admin:customers_contract_change", args=[contract.pk])
        metric = product.billable_metric
        if metric is None:
            messages.error(request, f"{product.name} is not a usage product: it has no metric.")
            return redirect(contract_url)
        now = timezone.now()
        if request.method == "POST":
            form = TestEventForm(request.POST, metric=metric, now=now)
            if form.is_valid():
                event = form.event()
                try:
                    result = services.usage_events_ingest(
                        events=[event], now=now, is_late=services.late_event_check()
                    )
                except services.IngestError as exc:
                    form.add_error(None, str(exc).removeprefix("event 0: "))
                else:
                    if result.inserted:
                        owner = form.owner
                        if owner is None:
                            messages.warning(request, _unattributed_message(event))
                        else:
                            messages.success(
                                request,
                                _accepted_message(event, metric, product, owner, form.moment),
                            )
                        return redirect(contract_url)
                    form.add_error(
                        "transaction_id",
                        "This transaction_id was accepted in the last 34 days: the event would "
                        "be dropped as a duplicate. Use a fresh one.",
                    )
        else:
            form = TestEventForm(
                initial=TestEventForm.initial_for(metric, contract, now), metric=metric, now=now
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Send a test event: {product.name}",
            "opts": self.model._meta,
            "form": form,
            "contract": contract,
            "product": product,
            "metric": metric,
            "contract_url": contract_url,
        }
        return TemplateResponse(request, "admin/metering/send_test_event.html", context)


def _unattributed_message(event: dict) -> str:
    return (
        f"Test event {event['transaction_id']} accepted, but it is unattributed: no customer has "
        f"the id '{event['customer_id']}' (neither a customer id nor an ingest alias), so it "
        "counts for nobody until that id is added to a customer as an ingest alias."
    )


def _accepted_message(
    event: dict, metric: BillableMetric, product: Product, customer: Customer, moment
) -> str:
    """What the customer's usage of the metric is now this month, in the metric's unit and in
    the product's (as the invoice shows it)."""
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    value = selectors.metric_usage_by_group(
        metric=metric,
        customer=customer,
        starting_at=start,
        ending_before=end,
        group_keys=[],
    ).get((), Decimal(0))
    unit = (
        "events"
        if metric.aggregation_type == BillableMetric.AggregationType.COUNT
        else f"{metric.get_aggregation_type_display().lower()} of {metric.aggregation_key}"
    )
    message = (
        f"Test event {event['transaction_id']} accepted for {customer.name}. {metric.name} in "
        f"{start:%B %Y}: {value.normalize():,f} ({unit})"
    )
    converted = product_quantity(product, value, at=moment)
    if converted != value:
        message += (
            f" = {money.normalize(converted):,f} {product_unit_label(product, at=moment)} "
            f"of {product.name}"
        )
    return message + "."


class TestEventForm(forms.Form):
    """One event for the sandbox; a text field per property the product's metric reads."""

    transaction_id = forms.CharField(max_length=128)
    customer_id = forms.CharField(
        max_length=255,
        help_text="The customer's id or one of its ingest aliases. An id no customer has is "
        "stored unattributed: it counts for nobody until it is added as an alias.",
    )
    event_type = forms.CharField(max_length=255)
    timestamp = forms.CharField(help_text="RFC 3339, e.g. 2026-01-01T12:00:00Z (UTC if no offset).")

    def __init__(self, *args, metric: BillableMetric, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.metric = metric
        self.compiled = CompiledMetric.from_model(metric)
        self.now = now
        self.moment: datetime | None = None
        self.owner: Customer | None = None
        for name in self.property_names(metric):
            self.fields[f"property_{name}"] = forms.CharField(
                label=f"properties.{name}", required=False
            )
        self.fields["send_unattributed"] = forms.BooleanField(
            required=False,
            label="Send it unattributed anyway",
            help_text="Only needed when no customer has the customer id above.",
        )

    @staticmethod
    def property_names(metric: BillableMetric) -> list[str]:
        names = []
        if metric.aggregation_key:
            names.append(metric.aggregation_key)
        names += metric.all_group_keys
        names += [rule["name"] for rule in metric.property_filters or [] if rule.get("name")]
        return list(dict.fromkeys(names))

    @classmethod
    def initial_for(cls, metric: BillableMetric, contract: Contract, now: datetime) -> dict:
        example = metric.example_event()
        initial = {
            "transaction_id": str(uuid.uuid4()),
            "customer_id": str(contract.customer_id),
            "event_type": example["event_type"],
            "timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for name, value in example["properties"].items():
            initial[f"property_{name}"] = value
        return initial

    def clean_customer_id(self) -> str:
        value = self.cleaned_data["customer_id"].strip()
        self.owner = selectors.customers_by_ingest_id([value]).get(value)
        return value

    def properties(self) -> dict:
        return {
            name: self.cleaned_data[f"property_{name}"]
            for name in self.property_names(self.metric)
            if self.cleaned_data.get(f"property_{name}") not in (None, "")
        }

    def event(self) -> dict:
        return {
            "transaction_id": self.cleaned_data["transaction_id"],
            "customer_id": self.cleaned_data["customer_id"],
            "event_type": self.cleaned_data["event_type"],
            "timestamp": self.cleaned_data["timestamp"],
            "properties": self.properties(),
        }

    def clean_transaction_id(self) -> str:
        value = self.cleaned_data["transaction_id"]
        seen = selectors.transaction_accepted_at(transaction_id=value, now=self.now)
        if seen is not None:
            raise forms.ValidationError(
                f"This transaction_id was already accepted on {seen:%Y-%m-%d %H:%M} "
                "UTC: the event would be dropped as a duplicate. Use a fresh one."
            )
        return value

    def clean_timestamp(self) -> str:
        value = self.cleaned_data["timestamp"].strip()
        moment = parse_timestamp(value)
        if moment is None:
            raise forms.ValidationError(
                "Not an RFC 3339 timestamp; write it like 2026-01-01T12:00:00Z."
            )
        if moment < self.now - MAX_AGE:
            raise forms.ValidationError(
                "Outside the last 34 days: usage events older than 34 days are refused."
            )
        if moment > self.now + MAX_AHEAD:
            raise forms.ValidationError("More than 24 hours in the future: it would be refused.")
        self.moment = moment
        return value

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if self.owner is None and not cleaned.get("send_unattributed"):
            self.add_error(
                "customer_id",
                f"No customer has the id '{cleaned['customer_id']}' (neither a customer id nor an "
                "ingest alias): the event would be stored unattributed and count for nobody. "
                "Use the customer's id or alias, or tick “Send it unattributed anyway”.",
            )
            return cleaned
        compiled = self.compiled
        metric = self.metric
        event_type = cleaned["event_type"]
        if not compiled.accepts_type(event_type):
            wanted = (
                f"one of: {', '.join(sorted(compiled.types_in))}"
                if compiled.types_in
                else f"not {', '.join(sorted(compiled.types_not_in))}"
            )
            self.add_error(
                "event_type",
                f"{metric.name} would not count this event: its event type must be {wanted}.",
            )
        properties = self.properties()
        problem = compiled.rule_problem(properties)
        if problem:
            raise forms.ValidationError(f"{metric.name} would not count this event: {problem}.")
        missing = [k for k in metric.all_group_keys if k not in properties]
        if missing:
            raise forms.ValidationError(
                f"{metric.name} would not count this event in a group: give "
                f"{', '.join(missing)} (group key{'s' if len(missing) > 1 else ''})."
            )
        key = metric.aggregation_key
        if metric.aggregation_type != BillableMetric.AggregationType.COUNT:
            if key not in properties:
                raise forms.ValidationError(
                    f"{metric.name} would not count this event: give {key} (what it aggregates)."
                )
            if metric.aggregation_type != "UNIQUE" and numeric_value(properties[key]) is None:
                self.add_error(f"property_{key}", f"{metric.name} needs a number here.")
        return cleaned
