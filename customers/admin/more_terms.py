"""Issue 14's contract terms in the admin: discounts (with their dates), professional services
(with their billings), recurring commits and credits, usage filters, and named schedules. Each
save makes the contract's drafts follow, as an edit through the API does."""

from django.contrib import admin
from django.utils import timezone

from core.admin_forms import DECIMAL_OVERRIDES, pretty_json

from ..models import (
    ContractUsageFilter,
    Discount,
    DiscountItem,
    NamedScheduleSegment,
    ProfessionalService,
    ProServiceItem,
    RecurringBalance,
)
from ..services import contract_drafts_refresh, recurring_balances_materialize


class _FollowsDrafts(admin.ModelAdmin):
    """A term saved here: its contract's drafts follow (`contract.edit`)."""

    formfield_overrides = DECIMAL_OVERRIDES

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        contract_drafts_refresh(contract=form.instance.contract, now=timezone.now())


class DiscountItemInline(admin.TabularInline):
    model = DiscountItem
    extra = 1
    formfield_overrides = DECIMAL_OVERRIDES
    fields = ["timestamp", "amount", "unit_price", "quantity"]


@admin.register(Discount)
class DiscountAdmin(_FollowsDrafts):
    list_display = ["__str__", "contract", "product", "created_at", "archived_at"]
    list_select_related = ["contract__customer", "product"]
    search_fields = ["name", "contract__customer__name", "contract__name"]
    autocomplete_fields = ["contract", "product"]
    fields = ["contract", "product", "name", "custom_fields", "archived_at"]
    inlines = [DiscountItemInline]


class ProServiceItemInline(admin.TabularInline):
    """Billings made through scheduleProServicesInvoice (read-only: the API caps them)."""

    model = ProServiceItem
    extra = 0
    can_delete = False
    fields = ["timestamp", "quantity", "unit_price", "metadata", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ProfessionalService)
class ProfessionalServiceAdmin(_FollowsDrafts):
    list_display = ["__str__", "contract", "unit_price", "quantity", "max_amount"]
    list_select_related = ["contract__customer", "product"]
    search_fields = ["description", "contract__customer__name"]
    autocomplete_fields = ["contract", "product"]
    fields = [
        "contract",
        "product",
        "description",
        ("unit_price", "quantity", "max_amount"),
        "custom_fields",
        "archived_at",
    ]
    inlines = [ProServiceItemInline]


@admin.register(RecurringBalance)
class RecurringBalanceAdmin(_FollowsDrafts):
    list_display = [
        "__str__",
        "kind",
        "contract",
        "access_unit_price",
        "access_quantity",
        "starting_at",
        "ending_before",
    ]
    list_filter = ["kind", "proration", "allocation"]
    list_select_related = ["contract__customer", "product"]
    search_fields = ["name", "contract__customer__name"]
    autocomplete_fields = ["contract", "product"]
    fields = [
        "contract",
        "kind",
        "product",
        "name",
        "description",
        ("priority", "rate_type"),
        ("access_unit_price", "access_quantity", "credit_type"),
        ("invoice_unit_price", "invoice_quantity"),
        ("duration_periods", "recurrence_frequency", "proration"),
        ("starting_at", "ending_before"),
        ("subscription", "allocation"),
        "applicable_products",
        "applicable_product_tags",
        "rollover_fraction",
        "custom_fields",
        "archived_at",
    ]
    filter_horizontal = ["applicable_products"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        recurring_balances_materialize(contract=form.instance.contract, now=timezone.now())


@admin.register(ContractUsageFilter)
class ContractUsageFilterAdmin(_FollowsDrafts):
    list_display = ["__str__", "contract", "starting_at", "ending_before"]
    list_select_related = ["contract__customer"]
    search_fields = ["group_key", "contract__customer__name"]
    autocomplete_fields = ["contract"]
    fields = ["contract", "group_key", "group_values", ("starting_at", "ending_before")]


@admin.register(NamedScheduleSegment)
class NamedScheduleSegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "starting_at", "ending_before", "value_display"]
    list_filter = ["name"]
    search_fields = ["name", "customer__name", "contract__customer__name", "rate_card__name"]
    autocomplete_fields = ["rate_card", "contract", "customer"]
    fields = [
        "name",
        ("rate_card", "contract", "customer"),
        "properties",
        ("starting_at", "ending_before"),
        "value",
    ]

    @admin.display(description="owner")
    def owner(self, obj) -> str:
        return str(obj.rate_card or obj.contract or obj.customer)

    @admin.display(description="value")
    def value_display(self, obj) -> str:
        return pretty_json(obj.value)
