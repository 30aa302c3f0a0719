"""The Offering section of the admin: pricing units, billable metrics, products, rate cards, packages.

Also the small shared pieces the customers admin reuses: `money_display`, `rate_price_summary`,
the archived filter and the archive action.
"""

import json
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from . import money, services
from .forms import (
    DECIMAL_OVERRIDES,
    BillableMetricForm,
    BillableMetricRenameForm,
    PackageForm,
    ProductForm,
    RateForm,
    RateInlineFormSet,
    RateTierInlineFormSet,
    RateWithTiersForm,
    property_filters_to_text,
)
from .models import (
    BillableMetric,
    CreditTypeConversion,
    Package,
    PricingUnit,
    Product,
    ProductUpdate,
    Rate,
    RateCard,
    RateCardAlias,
    RateTier,
)

PERIOD_NAMES = {"MONTHLY": "month", "QUARTERLY": "quarter", "ANNUAL": "year", "WEEKLY": "week"}
NESTED_MEDIA = {"js": ["admin_extra/nested_rows.js"], "css": {"all": ["admin_extra/admin.css"]}}

# ---------------------------------------------------------------------------------------------
# Shared helpers


def money_display(amount: Decimal | None, unit: PricingUnit | None) -> str:
    """An amount as finance staff read it: 150 in `USD (cents)` is `$1.50`."""
    if amount is None:
        return "—"
    if unit is None:
        return str(money.normalize(amount))
    return unit.format(amount)


def quantity_display(value: Decimal | None) -> str:
    return "—" if value is None else f"{money.normalize(value):,}"


def rate_price_summary(rate: Rate) -> str:
    """A rate's price in one line: `$1.50`, `first 1 at $1.00, next 1 at $0.80, then $0.60`, ..."""
    unit = rate.credit_type
    if rate.rate_type == Rate.RateType.TIERED:
        tiers = [tier for tier in rate.tiers.all() if not tier.for_commit_rate]
        parts = []
        for index, tier in enumerate(tiers):
            price = money_display(tier.price, unit)
            if tier.size is None:
                parts.append(f"then {price}" if index else price)
            else:
                parts.append(
                    f"{'next' if index else 'first'} {quantity_display(tier.size)} at {price}"
                )
        return ", ".join(parts) or "no tiers yet"
    if rate.price is None:
        return "—"
    if rate.rate_type == Rate.RateType.PERCENTAGE:
        return f"{money.normalize(rate.price * 100)}% of spend"
    if rate.rate_type == Rate.RateType.SUBSCRIPTION:
        period = PERIOD_NAMES.get(rate.billing_frequency, "period")
        summary = f"{money_display(rate.price, unit)} per {period}"
        if rate.quantity not in (None, Decimal(1)):
            summary += f" x {quantity_display(rate.quantity)}"
        return summary
    return money_display(rate.price, unit)


def admin_link(obj, text: str | None = None) -> str:
    if obj is None:
        return "—"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


def pretty_json(value) -> str:
    return format_html('<pre class="json-box">{}</pre>', json.dumps(value, indent=2, default=str))


class ArchivedListFilter(admin.SimpleListFilter):
    """Archived: No (the default, with no query parameter) / Yes / All."""

    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "No (default)"), ("yes", "Yes"), ("all", "All")]

    def choices(self, changelist):
        current = self.value() or "no"
        for lookup, title in self.lookup_choices:
            if lookup == "no":
                query_string = changelist.get_query_string(remove=[self.parameter_name])
            else:
                query_string = changelist.get_query_string({self.parameter_name: lookup})
            yield {"selected": current == lookup, "query_string": query_string, "display": title}

    def queryset(self, request, queryset):
        value = self.value() or "no"
        if value == "no":
            return queryset.filter(archived_at__isnull=True)
        if value == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


@admin.action(description="Archive selected %(verbose_name_plural)s")
def archive_selected(modeladmin, request, queryset):
    """Archive through the same service the API uses; refusals are reported, not raised."""
    now = timezone.now()
    archived = 0
    for obj in queryset.filter(archived_at__isnull=True):
        try:
            modeladmin.archive(obj, now=now)
        except ValidationError as error:
            modeladmin.message_user(request, f"{obj}: {' '.join(error.messages)}", messages.WARNING)
        else:
            archived += 1
    if archived:
        modeladmin.message_user(request, f"Archived {archived}.", messages.SUCCESS)


class ArchivableAdmin(admin.ModelAdmin):
    """Archived rows are hidden unless asked for; rows are archived, never deleted.

    Subclasses name their app's archive service in `archive(obj, now=...)`.
    """

    actions = [archive_selected]
    formfield_overrides = DECIMAL_OVERRIDES

    def archive(self, obj, *, now):
        raise NotImplementedError

    def get_list_filter(self, request):
        return [ArchivedListFilter, *super().get_list_filter(request)]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="archived", boolean=True, ordering="archived_at")
    def is_archived(self, obj) -> bool:
        return obj.archived_at is not None


class HiddenFromIndexMixin:
    """Reachable from its parent's page, not listed on the admin index."""

    def get_model_perms(self, request):
        return {}


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
    ]
    change_fieldsets = [
        (None, {"fields": ["name"]}),
        (
            "Definition (fixed once created)",
            {
                "fields": [
                    "aggregation",
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

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = BillableMetricRenameForm if obj is not None else BillableMetricForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.change_fieldsets if obj is not None else self.add_fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f for _, opts in self.change_fieldsets[1:] for f in opts["fields"]]

    @admin.display(description="aggregation", ordering="aggregation_type")
    def aggregation(self, obj) -> str:
        if obj.aggregation_type == BillableMetric.AggregationType.COUNT:
            return "Count of events"
        return f"{obj.get_aggregation_type_display()} of {obj.aggregation_key}"

    @admin.display(description="event types")
    def event_types(self, obj) -> str:
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
        return pretty_json(obj.example_event())


# ---------------------------------------------------------------------------------------------
# Products


class ProductUpdateInline(admin.TabularInline):
    """Dated updates made through the API, read-only: each applies from its start."""

    model = ProductUpdate
    extra = 0
    can_delete = False
    fields = ["starting_at", "changes_display", "created_at", "created_by"]
    readonly_fields = fields
    verbose_name_plural = "dated updates (from the API; each applies from its start)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="changes")
    def changes_display(self, obj) -> str:
        return pretty_json(obj.changes)


@admin.register(Product)
class ProductAdmin(ArchivableAdmin):
    form = ProductForm
    list_display = ["name", "type", "billable_metric", "tags_display", "quantity", "created_at"]
    list_filter = ["type", "billable_metric"]
    list_select_related = ["billable_metric"]
    search_fields = ["name", "id", "tags", "billable_metric__name"]
    date_hierarchy = "created_at"
    filter_horizontal = ["composite_products"]
    readonly_fields = ["created_at", "created_by", "archived_at"]
    fieldsets = [
        (None, {"fields": ["name", "type", "billable_metric", "tags"]}),
        (
            "Group keys (usage products)",
            {"fields": ["pricing_group_key", "presentation_group_key"]},
        ),
        (
            "Quantity conversion and rounding (usage products)",
            {
                "fields": [
                    ("quantity_conversion_operation", "quantity_conversion_factor"),
                    "quantity_conversion_name",
                    ("quantity_rounding_method", "quantity_rounding_decimal_places"),
                ]
            },
        ),
        (
            "Composite products",
            {"fields": ["composite_products", "composite_tags", "exclude_free_usage"]},
        ),
        (
            "More",
            {
                "fields": [
                    "is_refundable",
                    "custom_fields",
                    "created_at",
                    "created_by",
                    "archived_at",
                ]
            },
        ),
    ]
    inlines = [ProductUpdateInline]

    def archive(self, obj, *, now):
        services.product_archive(product=obj, now=now)

    @admin.display(description="tags")
    def tags_display(self, obj) -> str:
        return ", ".join(obj.tags or []) or "—"

    @admin.display(description="quantity")
    def quantity(self, obj) -> str:
        parts = []
        if obj.quantity_conversion_operation:
            verb = "÷" if obj.quantity_conversion_operation == "DIVIDE" else "x"
            parts.append(f"{verb} {quantity_display(obj.quantity_conversion_factor)}")
        if obj.quantity_rounding_method:
            parts.append(
                f"{obj.get_quantity_rounding_method_display().lower()} to "
                f"{obj.quantity_rounding_decimal_places} places"
            )
        return ", ".join(parts) or "as measured"


# ---------------------------------------------------------------------------------------------
# Rate cards and rates


class RateInline(admin.StackedInline):
    """Rates edited on the rate card page, each with its tiers as rows under it."""

    model = Rate
    form = RateWithTiersForm
    formset = RateInlineFormSet
    template = "admin/edit_inline/stacked_nested.html"
    extra = 0
    show_change_link = True
    formfield_overrides = DECIMAL_OVERRIDES
    readonly_fields = ["price_summary"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("product", "rate_type"),
                    "pricing_group_values",
                    ("starting_at", "ending_before"),
                    ("price", "credit_type"),
                    "price_summary",
                ]
            },
        ),
        (
            "Subscription rates",
            {"fields": [("billing_frequency", "quantity", "is_prorated")], "classes": ["collapse"]},
        ),
        (
            "Entitlement and commit rate",
            {
                "fields": [("entitled", "commit_rate_type", "commit_rate_price")],
                "classes": ["collapse"],
            },
        ),
    ]

    class Media:
        js = NESTED_MEDIA["js"]
        css = NESTED_MEDIA["css"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("product", "credit_type")
            .prefetch_related("tiers")
        )

    @admin.display(description="price")
    def price_summary(self, obj) -> str:
        return rate_price_summary(obj) if obj.pk and not obj._state.adding else "—"


class RateCardAliasInline(admin.TabularInline):
    model = RateCardAlias
    extra = 0
    fields = ["name", "starting_at", "ending_before"]


class CreditTypeConversionInline(admin.TabularInline):
    model = CreditTypeConversion
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["custom_credit_type", "fiat_per_custom_credit"]
    verbose_name = "custom pricing unit conversion"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "custom_credit_type":
            kwargs["queryset"] = PricingUnit.objects.active().filter(is_currency=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(RateCard)
class RateCardAdmin(ArchivableAdmin):
    list_display = ["name", "fiat_credit_type", "rate_count", "contract_count", "created_at"]
    list_filter = ["fiat_credit_type"]
    search_fields = ["name", "id", "description", "aliases__name"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "archived_at"]
    fields = [
        "name",
        "description",
        "fiat_credit_type",
        "custom_fields",
        "created_at",
        "archived_at",
    ]
    inlines = [RateInline, RateCardAliasInline, CreditTypeConversionInline]

    def archive(self, obj, *, now):
        services.rate_card_archive(rate_card=obj, now=now)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("fiat_credit_type")
            .annotate(
                _rates=Count("rates", distinct=True), _contracts=Count("contracts", distinct=True)
            )
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "fiat_credit_type":
            kwargs["queryset"] = PricingUnit.objects.filter(is_currency=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="rates", ordering="_rates")
    def rate_count(self, obj) -> int:
        return obj._rates

    @admin.display(description="contracts", ordering="_contracts")
    def contract_count(self, obj) -> int:
        return obj._contracts


class RateTierInline(admin.TabularInline):
    model = RateTier
    formset = RateTierInlineFormSet
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["for_commit_rate", "level", "size", "price"]
    verbose_name = "tier"


@admin.register(Rate)
class RateAdmin(HiddenFromIndexMixin, admin.ModelAdmin):
    """A rate's own page: every field, and its tiers (list rate and commit rate) by level."""

    form = RateForm
    formfield_overrides = DECIMAL_OVERRIDES
    inlines = [RateTierInline]
    list_display = [
        "product",
        "rate_card",
        "rate_type",
        "group_values",
        "price_summary",
        "starting_at",
        "ending_before",
    ]
    list_filter = ["rate_type", "entitled", "rate_card"]
    list_select_related = ["product", "rate_card", "credit_type"]
    search_fields = ["product__name", "rate_card__name", "pricing_group_values_key"]
    date_hierarchy = "starting_at"
    readonly_fields = ["price_summary", "created_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "rate_card",
                    ("product", "rate_type"),
                    "pricing_group_values",
                    ("starting_at", "ending_before"),
                    ("price", "credit_type"),
                    "price_summary",
                ]
            },
        ),
        ("Subscription rates", {"fields": [("billing_frequency", "quantity", "is_prorated")]}),
        (
            "Entitlement and commit rate",
            {"fields": [("entitled", "commit_rate_type", "commit_rate_price"), "created_at"]},
        ),
    ]

    def get_queryset(self, request):
        tiers = Prefetch("tiers", queryset=RateTier.objects.order_by("for_commit_rate", "level"))
        return super().get_queryset(request).prefetch_related(tiers)

    @admin.display(description="pricing group values")
    def group_values(self, obj) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(obj.pricing_group_values.items())) or "—"

    @admin.display(description="price")
    def price_summary(self, obj) -> str:
        return rate_price_summary(obj) if obj.pk and not obj._state.adding else "—"


# ---------------------------------------------------------------------------------------------
# Packages


@admin.register(Package)
class PackageAdmin(ArchivableAdmin):
    """Packages are created, then only read and archived: a contract copies them."""

    form = PackageForm
    list_display = [
        "name",
        "rate_card",
        "duration",
        "usage_statement_frequency",
        "contract_count",
        "created_at",
    ]
    list_filter = ["usage_statement_frequency", "rate_card"]
    list_select_related = ["rate_card"]
    search_fields = ["name", "id", "aliases", "rate_card__name"]
    date_hierarchy = "created_at"
    main_fields = [
        "name",
        "rate_card",
        "aliases",
        ("duration_unit", "duration_value"),
        ("usage_statement_frequency", "usage_statement_day"),
        "net_payment_terms_days",
        "multiplier_override_prioritization",
        "contract_name",
        "uniqueness_key",
    ]

    def archive(self, obj, *, now):
        services.package_archive(package=obj, now=now)

    class Media:
        css = NESTED_MEDIA["css"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_contracts=Count("contracts"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": [*self.main_fields, "terms"]})]
        return [
            (None, {"fields": [*self.main_fields, "created_at", "created_by", "archived_at"]}),
            ("Terms (offsets from the contract start)", {"fields": ["terms_display"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return ["terms_display"] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        # Existing packages open read-only: they are archived, never edited.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="duration")
    def duration(self, obj) -> str:
        if not obj.duration_unit:
            return "open-ended"
        return f"{obj.duration_value} {obj.get_duration_unit_display().lower()}"

    @admin.display(description="contracts", ordering="_contracts")
    def contract_count(self, obj) -> int:
        return obj._contracts

    @admin.display(description="terms")
    def terms_display(self, obj) -> str:
        return pretty_json(obj.terms)
