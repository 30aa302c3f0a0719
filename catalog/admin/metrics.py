"""Pricing units and billable metrics in the admin."""

import json
from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from rest_framework.response import Response

from core.admin_api import AdminJsonView
from core.admin_forms import (
    NESTED_MEDIA,
    ArchivableAdmin,
    admin_link,
    pretty_json,
)

from .. import money, services
from ..forms import (
    BillableMetricForm,
    BillableMetricRenameForm,
    property_filters_to_text,
)
from ..models import (
    BillableMetric,
    PricingUnit,
)

# ---------------------------------------------------------------------------------------------
# Pricing units


@admin.register(PricingUnit)
class PricingUnitAdmin(ArchivableAdmin):
    list_display = ["name", "is_currency", "decimal_places", "example", "created_at", "is_archived"]
    list_filter = ["is_currency"]
    search_fields = ["name", "id"]
    readonly_fields = ["created_at", "archived_at"]

    def archive(self, obj, *, now):
        services.pricing_unit_archive(pricing_unit=obj, now=now)

    @admin.display(description="150 shows as")
    def example(self, obj) -> str:
        return obj.format(Decimal(150))

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and str(obj.pk) == money.USD_CENTS_ID:
            return ["name", "is_currency", "decimal_places", "created_at", "archived_at"]
        return super().get_readonly_fields(request, obj)


# ---------------------------------------------------------------------------------------------
# Billable metrics


@admin.register(BillableMetric)
class BillableMetricAdmin(ArchivableAdmin):
    list_display = ["name", "aggregation", "event_types", "group_keys_display", "created_at"]
    list_filter = ["aggregation_type"]
    search_fields = ["name", "id", "aggregation_key"]
    date_hierarchy = "created_at"
    add_fieldsets = [
        (None, {"fields": ["name", "aggregation_type", "aggregation_key"]}),
        (
            "Which events count",
            {"fields": ["event_types_in", "event_types_not_in", "property_filters"]},
        ),
        ("Group keys", {"fields": ["group_keys"]}),
        ("Or a SQL query", {"fields": ["sql"]}),
        (
            "Example event payload (follows the fields as you type)",
            {"fields": ["example_event_payload"]},
        ),
    ]
    change_fieldsets = [
        (None, {"fields": ["name"]}),
        (
            "Definition (fixed once created)",
            {
                "fields": [
                    "aggregation",
                    "sql_display",
                    "event_types",
                    "property_filters_display",
                    "group_keys_display",
                    "products_display",
                    "created_at",
                    "archived_at",
                ]
            },
        ),
        ("Example event payload", {"fields": ["example_event_payload"]}),
    ]

    def archive(self, obj, *, now):
        services.billable_metric_archive(metric=obj, now=now)

    class Media:
        css = NESTED_MEDIA["css"]
        js = ["admin_extra/example_event.js"]

    def get_urls(self):
        return [
            path(
                "example-event/",
                ExampleEventView.as_view(model_admin=self),
                name="catalog_billablemetric_example_event",
            ),
            *super().get_urls(),
        ]

    def save_model(self, request, obj, form, change):
        """A new metric is made by the service the API calls (metering hears it and measures
        the events already stored); a rename is a plain save."""
        if change:
            return super().save_model(request, obj, form, change)
        if obj.sql:
            made = services.billable_metric_create_sql(name=obj.name, sql=obj.sql)
        else:
            made = services.billable_metric_create(
                name=obj.name,
                aggregation_type=obj.aggregation_type,
                aggregation_key=obj.aggregation_key,
                event_type_filter=obj.event_type_filter,
                property_filters=obj.property_filters,
                group_keys=obj.group_keys,
            )
        obj.pk, obj.created_at, obj.group_keys = made.pk, made.created_at, made.group_keys
        obj._state.adding = False

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = BillableMetricRenameForm if obj is not None else BillableMetricForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.change_fieldsets if obj is not None else self.add_fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["example_event_payload"]
        return [f for _, opts in self.change_fieldsets[1:] for f in opts["fields"]]

    @admin.display(description="aggregation", ordering="aggregation_type")
    def aggregation(self, obj) -> str:
        if obj.is_sql:
            return "SQL query"
        if obj.aggregation_type == BillableMetric.AggregationType.COUNT:
            return "Count of events"
        return f"{obj.get_aggregation_type_display()} of {obj.aggregation_key}"

    @admin.display(description="SQL")
    def sql_display(self, obj) -> str:
        return format_html("<pre>{}</pre>", obj.sql) if obj.is_sql else "-"

    @admin.display(description="event types")
    def event_types(self, obj) -> str:
        if obj.is_sql:
            return "in the query"
        parts = []
        if obj.event_types_in:
            parts.append("in: " + ", ".join(obj.event_types_in))
        if obj.event_types_not_in:
            parts.append("not in: " + ", ".join(obj.event_types_not_in))
        return "; ".join(parts) or "any"

    @admin.display(description="property filters")
    def property_filters_display(self, obj) -> str:
        text = property_filters_to_text(obj.property_filters)
        return format_html("<pre>{}</pre>", text) if text else "none"

    @admin.display(description="group keys")
    def group_keys_display(self, obj) -> str:
        return " | ".join(", ".join(key_set) for key_set in obj.group_keys or []) or "none"

    @admin.display(description="products")
    def products_display(self, obj) -> str:
        products = list(obj.products.all())
        if not products:
            return "none yet"
        return format_html_join(", ", "{}", ((admin_link(p),) for p in products))

    @admin.display(description="example event payload")
    def example_event_payload(self, obj) -> str:
        if obj is None or obj._state.adding:
            return format_html(
                '<pre class="json-box" id="example-event-payload" data-example-url="{}">{}</pre>',
                reverse("admin:catalog_billablemetric_example_event"),
                json.dumps(BillableMetric().example_event(), indent=2),
            )
        return pretty_json(obj.example_event())


class ExampleEventView(AdminJsonView):
    """GET with the add form's fields: the event payload a metric so defined would match
    (read-only: nothing is saved)."""

    def get(self, request):
        return Response({"example": metric_from_fields(request.query_params).example_event()})


def metric_from_fields(data) -> BillableMetric:
    """An unsaved metric from the add form's fields as typed so far (a field that does not parse
    yet is left empty), for its example event."""
    form = BillableMetricForm()
    values = {}
    for name in (
        "aggregation_key",
        "event_types_in",
        "event_types_not_in",
        "property_filters",
        "group_keys",
    ):
        try:
            values[name] = form.fields[name].clean(data.get(name, ""))
        except ValidationError:
            values[name] = form.fields[name].to_python("")
    event_type_filter = {}
    if values["event_types_in"]:
        event_type_filter["in_values"] = values["event_types_in"]
    if values["event_types_not_in"]:
        event_type_filter["not_in_values"] = values["event_types_not_in"]
    aggregation = data.get("aggregation_type", "")
    return BillableMetric(
        aggregation_type=aggregation
        if aggregation in BillableMetric.AggregationType.values
        else "",
        aggregation_key=values["aggregation_key"] or "",
        event_type_filter=event_type_filter,
        property_filters=values["property_filters"],
        group_keys=values["group_keys"],
    )
