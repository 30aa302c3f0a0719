"""Rate cards in the admin: rates edited on the card with their tiers as rows; a rate's own page."""

from django.contrib import admin
from django.db.models import Count, Prefetch

from core.admin_forms import (
    DECIMAL_OVERRIDES,
    NESTED_MEDIA,
    ArchivableAdmin,
    HiddenFromIndexMixin,
)

from .. import services
from ..forms import (
    RateForm,
    RateInlineFormSet,
    RateTierInlineFormSet,
    RateWithTiersForm,
)
from ..models import (
    CreditTypeConversion,
    PricingUnit,
    Rate,
    RateCard,
    RateCardAlias,
    RateTier,
)
from .display import rate_price_summary

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
        (
            "Composite rates",
            {"fields": [("composite_minimum", "composite_scope")], "classes": ["collapse"]},
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
        ("Composite rates", {"fields": [("composite_minimum", "composite_scope")]}),
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
