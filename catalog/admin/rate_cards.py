"""Rate cards in the admin: rates edited on the card with their tiers as rows; a rate's own page."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin_forms import (
    DECIMAL_OVERRIDES,
    NESTED_MEDIA,
    ArchivableAdmin,
    CustomFieldsAdminMixin,
    HiddenFromIndexMixin,
    ReadOnlyNamesMixin,
    ViewerAwareAdmin,
    page_viewer_may,
)

from .. import services
from ..forms import (
    CreditTypeConversionForm,
    RateForm,
    RateInlineFormSet,
    RatePriceChangeForm,
    RateTierForm,
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
from ..selectors import rate_card_price_book
from .display import (
    money_display,
    rate_price_summary,
    tier_price_display,
    tier_size_display,
)


def _change_price_url(rate) -> str | None:
    """The one-edit price change, for those who may change rates (others are not offered it)."""
    if not page_viewer_may("catalog.change_rate"):
        return None
    try:
        return reverse("admin:catalog_rate_change_price", args=[rate.pk])
    except NoReverseMatch:
        return None


# ---------------------------------------------------------------------------------------------
# What someone who may not change rates reads: money as money, group values as key=value (the
# stored numbers are cents with twelve decimals, and the form-only fields mean nothing there).

READ_ONLY_NAMES = {
    "pricing_group_values": "group_values",
    "price": None,  # `price_summary` says it, as money
    "confirm_unusual_price": None,
    "commit_rate_price": "commit_rate_price_display",
    "composite_minimum": "composite_minimum_display",
}
READ_ONLY_DISPLAYS = [name for name in READ_ONLY_NAMES.values() if name]


class RateReadingMixin(ReadOnlyNamesMixin):
    """A rate's fields for someone who may only view them (`READ_ONLY_NAMES`)."""

    read_only_shown_as = READ_ONLY_NAMES

    @admin.display(description="price")
    def price_summary(self, obj) -> str:
        return rate_price_summary(obj) if obj.pk and not obj._state.adding else "—"

    @admin.display(description="pricing group values")
    def group_values(self, obj) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(obj.pricing_group_values.items())) or "—"

    @admin.display(description="commit rate price")
    def commit_rate_price_display(self, obj) -> str:
        return money_display(obj.commit_rate_price, obj.credit_type)

    @admin.display(description="composite minimum")
    def composite_minimum_display(self, obj) -> str:
        return money_display(obj.composite_minimum, obj.credit_type)


# ---------------------------------------------------------------------------------------------
# Rate cards and rates


class RateInline(RateReadingMixin, admin.StackedInline):
    """Rates edited on the rate card page, each with its tiers as rows under it."""

    model = Rate
    form = RateWithTiersForm
    formset = RateInlineFormSet
    template = "admin/edit_inline/stacked_nested.html"
    extra = 0
    show_change_link = True
    formfield_overrides = DECIMAL_OVERRIDES
    readonly_fields = ["price_summary", *READ_ONLY_DISPLAYS]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("product", "rate_type"),
                    "pricing_group_values",
                    ("starting_at", "ending_before"),
                    ("price", "credit_type"),
                    "confirm_unusual_price",
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


class RateCardAliasInline(admin.TabularInline):
    model = RateCardAlias
    extra = 0
    fields = ["name", "starting_at", "ending_before"]


class CreditTypeConversionInline(admin.TabularInline):
    model = CreditTypeConversion
    form = CreditTypeConversionForm
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["custom_credit_type", "fiat_per_custom_credit"]
    verbose_name = "custom pricing unit conversion"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "custom_credit_type":
            kwargs["queryset"] = PricingUnit.objects.active().filter(is_currency=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(RateCard)
class RateCardAdmin(CustomFieldsAdminMixin, ViewerAwareAdmin, ArchivableAdmin):
    custom_fields_entity = "rate_card"
    list_display = ["name", "fiat_credit_type", "rate_count", "contract_count", "created_at"]
    ordering = ["name"]  # the counts' GROUP BY drops the model's own ordering
    list_filter = ["fiat_credit_type"]
    search_fields = ["name", "id", "description", "aliases__name"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "archived_at", "price_book"]
    main_fields = [
        "name",
        "description",
        "fiat_credit_type",
        "custom_fields",
        "created_at",
        "archived_at",
    ]
    inlines = [RateInline, RateCardAliasInline, CreditTypeConversionInline]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": self.main_fields})]
        return [
            ("Price book", {"fields": ["price_book"], "classes": ["price-book-fieldset"]}),
            (None, {"fields": self.main_fields}),
        ]

    @admin.display(description="")
    def price_book(self, obj) -> str:
        """Every rate in one compact table: product, group values, price and tiers, from, to."""
        now = timezone.now()
        may_change = page_viewer_may("catalog.change_rate")
        rows = [
            {
                "product": row.product,
                "group_values": row.group_values or "—",
                "price": rate_price_summary(row.rate),
                "type": row.rate.get_rate_type_display(),
                "starting_at": row.rate.starting_at,
                "ending_before": row.rate.ending_before,
                "state": "current"
                if row.is_current
                else ("scheduled" if row.rate.starting_at > now else "ended"),
                "url": reverse("admin:catalog_rate_change", args=[row.rate.pk]),
                "link_text": "Edit" if may_change else "View",
                "change_price_url": _change_price_url(row.rate),
            }
            for row in rate_card_price_book(rate_card=obj, at=now)
        ]
        return render_to_string(
            "admin/catalog/ratecard/price_book.html",
            {"rows": rows, "unit": obj.fiat_credit_type, "may_change": may_change},
        )

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


class RateTierInline(ReadOnlyNamesMixin, admin.TabularInline):
    model = RateTier
    form = RateTierForm
    formset = RateTierInlineFormSet
    extra = 0
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["for_commit_rate", "level", "size", "price"]
    readonly_fields = ["tier_size", "tier_price"]
    read_only_shown_as = {"size": "tier_size", "price": "tier_price"}
    verbose_name = "tier"

    @admin.display(description="size")
    def tier_size(self, tier) -> str:
        return tier_size_display(tier)

    @admin.display(description="price")
    def tier_price(self, tier) -> str:
        return tier_price_display(tier)


@admin.register(Rate)
class RateAdmin(RateReadingMixin, ViewerAwareAdmin, HiddenFromIndexMixin, admin.ModelAdmin):
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
    readonly_fields = ["price_summary", "change_price_link", "created_at", *READ_ONLY_DISPLAYS]
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
                    "confirm_unusual_price",
                    ("price_summary", "change_price_link"),
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

    # --- One edit changes a price from a date (the quickstart's "Edit the rate") --------------

    def get_urls(self):
        return [
            path(
                "<uuid:rate_id>/change-price/",
                self.admin_site.admin_view(self.change_price_view),
                name="catalog_rate_change_price",
            ),
            *super().get_urls(),
        ]

    def change_price_view(self, request, rate_id):
        """A new price and its start in one edit: the current rate ends there and the new one
        starts (`services.rate_price_change`, as the API's addRate does)."""
        rate = get_object_or_404(
            Rate.objects.select_related("rate_card", "product", "credit_type"), pk=rate_id
        )
        if not self.has_change_permission(request, rate):
            raise PermissionDenied
        form = RatePriceChangeForm(request.POST or None, rate=rate)
        if request.method == "POST" and form.is_valid():
            try:
                new = services.rate_price_change(
                    rate=rate,
                    starting_at=form.cleaned_data["starting_at"],
                    price=form.cleaned_data.get("price"),
                    tiers=form.tiers(),
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                self.log_addition(request, new, [{"added": {}}])
                self.message_user(
                    request,
                    f"{rate.product}: {rate_price_summary(new)} from "
                    f"{new.starting_at:%Y-%m-%d %H:%M} UTC; the rate before it ends then.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:catalog_ratecard_change", args=[rate.rate_card_id])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change the price of {rate.product}",
            "opts": self.opts,
            "original": rate,
            "rate": rate,
            "current_price": rate_price_summary(rate),
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/catalog/rate/change_price.html", context)

    @admin.display(description="")
    def change_price_link(self, obj) -> str:
        url = None if obj is None or obj.pk is None else _change_price_url(obj)
        if url is None or obj._state.adding:
            return ""
        return format_html('<a class="button" href="{}">Change the price from a date</a>', url)
